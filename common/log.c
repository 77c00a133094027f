#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_prog = "ringcast";
static rc_log_level_t log_level = RC_LOG_INFO;
static bool log_prefix_priority;

/* True if stderr is the journal's stream: systemd sets JOURNAL_STREAM to "device:inode" of the
 * socket it connected to stderr. A shell redirect or a pipe that inherited the variable from a
 * service does not match, so only the journal sees "<N>" prefixes. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void rc_log_init(const char *prog, rc_log_level_t level)
{
    log_prog = prog;
    log_level = level;
    /* journald reads the "<N>" priority and strips it; anywhere else it would be noise. */
    log_prefix_priority = stderr_is_journal();
}

void rc_log_set_level(rc_log_level_t level)
{
    log_level = level;
}

bool rc_log_enabled(rc_log_level_t level)
{
    return level <= log_level;
}

int rc_log_parse_level(const char *s, rc_log_level_t *out)
{
    static const struct {
        const char *name;
        rc_log_level_t level;
    } names[] = {{"error", RC_LOG_ERROR}, {"warn", RC_LOG_WARN}, {"info", RC_LOG_INFO}, {"debug", RC_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

static const char *level_word(rc_log_level_t level)
{
    switch (level) {
    case RC_LOG_ERROR:
        return "error";
    case RC_LOG_WARN:
        return "warn";
    case RC_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void rc_log(rc_log_level_t level, const char *comp, const char *fmt, ...)
{
    if (!rc_log_enabled(level))
        return;
    char line[2048];
    int n = 0;
    if (log_prefix_priority)
        n = snprintf(line, sizeof(line), "<%d>", (int)level);
    n += snprintf(line + n, sizeof(line) - n, "%s[%d]: %s %s: ", log_prog, (int)getpid(), level_word(level), comp);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    /* A message longer than the line buffer is cut, not split: one message, one line. */
    n = (m < 0 || (size_t)(n + m) >= sizeof(line) - 1) ? (int)sizeof(line) - 2 : n + m;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* Nothing sensible to do when stderr itself is gone. */
}

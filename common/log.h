/*
 * One-line logging for ringcast's daemons, on stderr, in a form journald keeps readable:
 *
 *     <6>ringcast-bridge[1234]: info kafka: broker 127.0.0.1:9092 reachable
 *
 * The "<N>" prefix is the syslog priority that journald reads from a stream (it strips it and
 * keeps the level); rc_log_init() adds it only when stderr is the journal (JOURNAL_STREAM names
 * stderr's device and inode), so a terminal or a log file gets the plain line. Each message is written with one
 * write(2) so lines from several processes never interleave mid-line.
 */
#ifndef RC_LOG_H
#define RC_LOG_H

#include <stdbool.h>

typedef enum { RC_LOG_ERROR = 3, RC_LOG_WARN = 4, RC_LOG_INFO = 6, RC_LOG_DEBUG = 7 } rc_log_level_t;

/* Sets the program name shown on every line and the lowest level printed. */
void rc_log_init(const char *prog, rc_log_level_t level);
void rc_log_set_level(rc_log_level_t level);
/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 if the word is none of them. */
int rc_log_parse_level(const char *s, rc_log_level_t *out);
bool rc_log_enabled(rc_log_level_t level);

/* comp is a short component tag ("ring", "kafka", "http"); fmt is printf-style, no newline. */
void rc_log(rc_log_level_t level, const char *comp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define rc_error(comp, ...) rc_log(RC_LOG_ERROR, comp, __VA_ARGS__)
#define rc_warn(comp, ...)  rc_log(RC_LOG_WARN, comp, __VA_ARGS__)
#define rc_info(comp, ...)  rc_log(RC_LOG_INFO, comp, __VA_ARGS__)
#define rc_debug(comp, ...)                                                                                            \
    do {                                                                                                               \
        if (rc_log_enabled(RC_LOG_DEBUG))                                                                              \
            rc_log(RC_LOG_DEBUG, comp, __VA_ARGS__);                                                                   \
    } while (0)

#endif

/*
 * Fuzz target: the configuration loader (config/config.c, through rc_config_load_string(), the
 * in-memory twin of rc_config_load()) and the size and duration syntax it shares with queries.
 *
 * Invariants: a config is returned exactly when no error was reported; every error is one line of
 * printable text "<file>:<line>: <key>: <reason>" whose line exists in the input; an accepted
 * config holds what the schema promises (at least one stream and listener, unique stream names
 * that rc_config_stream() finds, TLS with both cert and key or neither, ring size >= 1MiB);
 * loading is deterministic; nothing leaks (LeakSanitizer runs with every target). A size or
 * duration that parses formats back to text that parses to the same value.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.yaml"

/* Upper bound of the line numbers libyaml can report: it breaks lines at CR, LF, CRLF, NEL, LS and PS. */
static long max_line(const uint8_t *d, size_t n)
{
    long lines = 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\n' || d[i] == '\r')
            lines++;
        else if (d[i] == 0xc2 && i + 1 < n && d[i + 1] == 0x85)
            lines++;
        else if (d[i] == 0xe2 && i + 2 < n && d[i + 1] == 0x80 && (d[i + 2] == 0xa8 || d[i + 2] == 0xa9))
            lines++;
    }
    return lines + 1; /* an error at the end of the input is on the line after the last break */
}

static void check_message(const char *m, long lines)
{
    size_t n = strlen(m);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((uint8_t)m[i] >= 0x20 && m[i] != 0x7f);
    FUZZ_CHECK(strncmp(m, NAME ":", sizeof(NAME)) == 0);
    char *end;
    long line = strtol(m + sizeof(NAME), &end, 10);
    FUZZ_CHECK(end > m + sizeof(NAME) && line >= 1 && line <= lines);
    FUZZ_CHECK(end[0] == ':' && end[1] == ' ');
    const char *key = end + 2, *sep = strstr(key, ": ");
    FUZZ_CHECK(sep != NULL && sep > key && sep[2] != '\0');
}

static void check_config(const rc_config_t *c)
{
    FUZZ_CHECK(strcmp(c->path, NAME) == 0);
    FUZZ_CHECK(c->kafka.brokers != NULL && c->ring.dir != NULL && c->log.level != NULL);
    FUZZ_CHECK(c->ring.size >= (1u << 20));
    FUZZ_CHECK(c->n_streams >= 1 && c->edge.n_listen >= 1);
    for (size_t i = 0; i < c->n_streams; i++) {
        const rc_stream_conf_t *s = &c->streams[i];
        FUZZ_CHECK(s->name != NULL && s->n_topics >= 1);
        FUZZ_CHECK(rc_config_stream(c, s->name) == s); /* unique: the first with the name is this one */
        for (size_t t = 0; t < s->n_topics; t++)
            FUZZ_CHECK(s->topics[t] != NULL && s->topics[t][0] != '\0');
    }
    for (size_t i = 0; i < c->edge.n_listen; i++) {
        const rc_listen_conf_t *l = &c->edge.listen[i];
        FUZZ_CHECK(l->address != NULL && (l->tls_cert == NULL) == (l->tls_key == NULL));
        FUZZ_CHECK(l->port >= 0 && l->port <= 65535);
    }
    for (size_t i = 0; i < c->kafka.n_properties; i++)
        FUZZ_CHECK(c->kafka.properties[i].key != NULL && c->kafka.properties[i].value != NULL);
}

static void check_units(const uint8_t *data, size_t size)
{
    char s[64], text[64];
    uint64_t v, back;
    if (size >= sizeof(s))
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    if (rc_parse_size(s, &v) == 0) {
        rc_format_size(v, text, sizeof(text));
        FUZZ_CHECK(rc_parse_size(text, &back) == 0 && back == v);
    }
    if (rc_parse_duration_ms(s, &v) == 0) {
        rc_format_duration_ms(v, text, sizeof(text));
        FUZZ_CHECK(rc_parse_duration_ms(text, &back) == 0 && back == v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load_string(NAME, (const char *)data, size, &errs);
    FUZZ_CHECK((c == NULL) == (errs.n > 0));
    long lines = max_line(data, size);
    for (size_t i = 0; i < errs.n; i++)
        check_message(errs.msgs[i], lines);
    if (c != NULL)
        check_config(c);

    /* The same text again: the same outcome and the same messages. */
    rc_errors_t again = {0};
    rc_config_t *c2 = rc_config_load_string(NAME, (const char *)data, size, &again);
    FUZZ_CHECK((c2 == NULL) == (c == NULL) && again.n == errs.n);
    for (size_t i = 0; i < errs.n; i++)
        FUZZ_CHECK(strcmp(errs.msgs[i], again.msgs[i]) == 0);
    rc_config_free(c2);
    rc_errors_free(&again);
    rc_config_free(c);
    rc_errors_free(&errs);

    check_units(data, size);
    return 0;
}

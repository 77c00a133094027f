/*
 * Fuzz target: the query-string parser of GET /streams/{name} (edge/query.c) and the time and
 * URL-decoding helpers it uses. The query string is the client's to choose.
 *
 * Invariants: a refused query has a one-line reason starting "bad query"; an accepted one respects
 * every limit (filter counts, value lengths, limit >= 1, 0 < timeout <= 1 day) and survives a
 * round trip: the parsed values, percent-encoded back into a query string, parse to the same values.
 */
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "query.h"

static size_t put_pct(char *out, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        out[o++] = '%';
        out[o++] = hex[(uint8_t)v[i] >> 4];
        out[o++] = hex[(uint8_t)v[i] & 15];
    }
    return o;
}

static void check_limits(const rc_query_t *q)
{
    FUZZ_CHECK(q->n_keys <= RC_QUERY_MAX_FILTERS && q->n_events <= RC_QUERY_MAX_FILTERS &&
               q->n_partitions <= RC_QUERY_MAX_FILTERS);
    for (size_t i = 0; i < q->n_keys; i++)
        FUZZ_CHECK(q->key_lens[i] <= RC_QUERY_MAX_VALUE);
    for (size_t i = 0; i < q->n_events; i++)
        FUZZ_CHECK(q->event_lens[i] <= RC_QUERY_MAX_VALUE);
    for (size_t i = 0; i < q->n_partitions; i++)
        FUZZ_CHECK(q->partitions[i] >= 0);
    FUZZ_CHECK(q->limit <= UINT32_MAX);
    FUZZ_CHECK(q->timeout_ms <= 86400000);
    FUZZ_CHECK(!q->has_last_id || q->last_id_len <= RC_QUERY_MAX_ID);
}

/* The parsed values written back as a query string; every value percent-encoded. */
static size_t rebuild(const rc_query_t *q, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < q->n_keys; i++) {
        o += (size_t)sprintf(out + o, "key=");
        o += put_pct(out + o, q->keys[i], q->key_lens[i]);
        out[o++] = '&';
    }
    for (size_t i = 0; i < q->n_events; i++) {
        o += (size_t)sprintf(out + o, "event=");
        o += put_pct(out + o, q->events[i], q->event_lens[i]);
        out[o++] = '&';
    }
    for (size_t i = 0; i < q->n_partitions; i++)
        o += (size_t)sprintf(out + o, "partition=%d&", (int)q->partitions[i]);
    if (q->limit)
        o += (size_t)sprintf(out + o, "limit=%llu&", (unsigned long long)q->limit);
    if (q->timeout_ms)
        o += (size_t)sprintf(out + o, "timeout=%llums&", (unsigned long long)q->timeout_ms);
    if (q->has_since && q->since_ms >= 0)
        o += (size_t)sprintf(out + o, "since=%lld&", (long long)q->since_ms);
    if (q->has_last_id) {
        o += (size_t)sprintf(out + o, "lastEventId=");
        o += put_pct(out + o, q->last_id, q->last_id_len);
    }
    return o;
}

static void check_same(const rc_query_t *a, const rc_query_t *b)
{
    FUZZ_CHECK(a->n_keys == b->n_keys && a->n_events == b->n_events && a->n_partitions == b->n_partitions);
    for (size_t i = 0; i < a->n_keys; i++)
        FUZZ_CHECK(a->key_lens[i] == b->key_lens[i] && memcmp(a->keys[i], b->keys[i], a->key_lens[i]) == 0);
    for (size_t i = 0; i < a->n_events; i++)
        FUZZ_CHECK(a->event_lens[i] == b->event_lens[i] && memcmp(a->events[i], b->events[i], a->event_lens[i]) == 0);
    FUZZ_CHECK(memcmp(a->partitions, b->partitions, a->n_partitions * sizeof(a->partitions[0])) == 0);
    FUZZ_CHECK(a->limit == b->limit && a->timeout_ms == b->timeout_ms);
    if (a->has_since && a->since_ms >= 0)
        FUZZ_CHECK(b->has_since && a->since_ms == b->since_ms);
    FUZZ_CHECK(a->has_last_id == b->has_last_id);
    if (a->has_last_id)
        FUZZ_CHECK(a->last_id_len == b->last_id_len && memcmp(a->last_id, b->last_id, a->last_id_len) == 0);
}

/* s is an RFC 3339 time that parsed to ms: its fields must be a real date and time. */
static void check_calendar(const char *text, size_t len, int64_t ms)
{
    char *s = malloc(len + 1); /* atoi() needs a terminator; the fuzzer's bytes have none */
    memcpy(s, text, len);
    s[len] = '\0';
    int Y = atoi(s), M = atoi(s + 5), D = atoi(s + 8), h = atoi(s + 11), m = atoi(s + 14), sec = atoi(s + 17);
    int offset_min = 0;
    if (s[len - 1] != 'Z' && s[len - 1] != 'z')
        offset_min = (s[len - 6] == '-' ? -1 : 1) * (atoi(s + len - 5) * 60 + atoi(s + len - 2));
    /* A leap second (:60) is the last second of its minute plus one. */
    time_t t = (time_t)((ms - (ms % 1000 + 1000) % 1000) / 1000) + offset_min * 60 - (sec == 60);
    struct tm tm;
    FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
    if (tm.tm_year + 1900 != Y || tm.tm_mon + 1 != M || tm.tm_mday != D || tm.tm_hour != h || tm.tm_min != m ||
        tm.tm_sec != sec - (sec == 60))
        fprintf(stderr, "%.*s is %04d-%02d-%02dT%02d:%02d:%02d\n", (int)len, s, tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    FUZZ_CHECK(tm.tm_year + 1900 == Y && tm.tm_mon + 1 == M && tm.tm_mday == D);
    FUZZ_CHECK(tm.tm_hour == h && tm.tm_min == m && tm.tm_sec == sec - (sec == 60));
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rc_query_t q, again;
    static char text[3 * 2 * RC_QUERY_MAX_FILTERS * (RC_QUERY_MAX_VALUE + 16) + 3 * RC_QUERY_MAX_ID + 4096];
    char err[128];
    const char *s = (const char *)data;

    memset(err, 'x', sizeof(err));
    if (rc_query_parse(s, size, &q, err, sizeof(err)) != 0) {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        FUZZ_CHECK(strncmp(err, "bad query", 9) == 0);
    } else {
        check_limits(&q);
        size_t n = rebuild(&q, text);
        FUZZ_CHECK(n < sizeof(text));
        memset(err, 0, sizeof(err));
        int rc = rc_query_parse(text, n, &again, err, sizeof(err));
        if (rc != 0)
            fprintf(stderr, "rebuilt query refused: %s\n", err);
        FUZZ_CHECK(rc == 0);
        check_same(&q, &again);
    }

    /* The helpers on their own: a time parses to a value that parses back from epoch ms, and an
     * RFC 3339 time names the instant it spells: the same calendar fields once its offset is undone. */
    int64_t ms;
    if (rc_parse_time_ms(s, size, &ms) == 0) {
        char num[32];
        int64_t back;
        if (ms >= 0) {
            int n = snprintf(num, sizeof(num), "%lld", (long long)ms);
            FUZZ_CHECK(rc_parse_time_ms(num, (size_t)n, &back) == 0 && back == ms);
        }
        if (size >= 20 && s[4] == '-')
            check_calendar(s, size, ms);
    }
    static char dec[8192];
    long n = rc_url_decode(s, size, dec, sizeof(dec));
    FUZZ_CHECK(n <= (long)size && n <= (long)sizeof(dec));
    if (n >= 0 && size <= sizeof(dec))
        FUZZ_CHECK(memchr(s, '%', size) != NULL || memchr(s, '+', size) != NULL || (size_t)n == size);
    return 0;
}

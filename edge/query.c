#include "query.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long rc_url_decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= len || (h = hexval(src[i + 1])) < 0 || (l = hexval(src[i + 2])) < 0) return -1;
            c = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o == cap) return -1;
        dst[o++] = c;
    }
    return (long)o;
}

/* A decimal number in [min, max]; the whole value must be digits. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 19) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *name, size_t name_len)
{
    snprintf(err, errlen, fmt, (int)(name_len > 40 ? 40 : name_len), name);
    return -1;
}

int rc_query_parse(const char *s, size_t len, rc_query_t *q, char *err, size_t errlen)
{
    q->n_keys = q->n_partitions = q->n_events = 0;
    q->limit = q->timeout_ms = 0;
    q->has_last_id = 0;
    q->last_id_len = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&') end++;
        const char *p = s + i, *eq = memchr(p, '=', end - i);
        size_t nlen = eq ? (size_t)(eq - p) : end - i;
        const char *raw = eq ? eq + 1 : p + nlen;
        size_t rlen = (size_t)(s + end - raw);
        char val[RC_QUERY_MAX_ID];
        long vlen = rc_url_decode(raw, rlen, val, sizeof(val));
        if (vlen < 0) return fail(err, errlen, "bad query: %.*s: malformed or too long value", p, nlen);
#define IS(name) (nlen == sizeof(name) - 1 && memcmp(p, name, nlen) == 0)
        if (nlen == 0) {
            /* "a&&b" or a trailing "&": nothing to read */
        } else if (IS("key")) {
            if (q->n_keys == RC_QUERY_MAX_FILTERS || (size_t)vlen > RC_QUERY_MAX_VALUE)
                return fail(err, errlen, "bad query: %.*s: too many or too long", p, nlen);
            memcpy(q->keys[q->n_keys], val, (size_t)vlen);
            q->key_lens[q->n_keys++] = (size_t)vlen;
        } else if (IS("event")) {
            if (q->n_events == RC_QUERY_MAX_FILTERS || (size_t)vlen > RC_QUERY_MAX_VALUE)
                return fail(err, errlen, "bad query: %.*s: too many or too long", p, nlen);
            memcpy(q->events[q->n_events], val, (size_t)vlen);
            q->event_lens[q->n_events++] = (size_t)vlen;
        } else if (IS("partition")) {
            uint64_t v;
            if (q->n_partitions == RC_QUERY_MAX_FILTERS || parse_uint(val, (size_t)vlen, INT32_MAX, &v) != 0)
                return fail(err, errlen, "bad query: %.*s: must be a partition number", p, nlen);
            q->partitions[q->n_partitions++] = (int32_t)v;
        } else if (IS("limit")) {
            if (parse_uint(val, (size_t)vlen, UINT32_MAX, &q->limit) != 0 || q->limit == 0)
                return fail(err, errlen, "bad query: %.*s: must be a count of events from 1", p, nlen);
        } else if (IS("timeout")) {
            /* Seconds, or a duration with a unit ("500ms", "2m"). */
            uint64_t v;
            val[vlen < (long)sizeof(val) ? vlen : (long)sizeof(val) - 1] = '\0';
            if (parse_uint(val, (size_t)vlen, 86400, &v) == 0)
                q->timeout_ms = v * 1000;
            else if (rc_parse_duration_ms(val, &v) == 0 && v <= 86400000)
                q->timeout_ms = v;
            else
                return fail(err, errlen, "bad query: %.*s: must be seconds or a duration such as 30s", p, nlen);
            if (q->timeout_ms == 0) return fail(err, errlen, "bad query: %.*s: must be more than 0", p, nlen);
        } else if (IS("lastEventId")) {
            memcpy(q->last_id, val, (size_t)vlen);
            q->last_id_len = (size_t)vlen;
            q->has_last_id = 1;
        } else if (IS("access_token")) {
            /* Taken by access control, when a stream requires it. */
        } else {
            return fail(err, errlen, "bad query: unknown parameter %.*s", p, nlen);
        }
#undef IS
        i = end + 1;
    }
    return 0;
}

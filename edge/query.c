#include "query.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"

#define STR_(x)   #x
#define RC_STR(x) STR_(x) /* a limit's value in a message: RC_STR(RC_TOKEN_MAX) is "8192" */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long rc_url_decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= len || (h = hexval(src[i + 1])) < 0 || (l = hexval(src[i + 2])) < 0)
                return -1;
            c = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o == cap)
            return -1;
        dst[o++] = c;
    }
    return (long)o;
}

/* A decimal number in [min, max]; the whole value must be digits. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* n digits at s, as a number; -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int rc_parse_time_ms(const char *s, size_t len, int64_t *out)
{
    uint64_t ms;
    if (parse_uint(s, len, (uint64_t)INT64_MAX / 2, &ms) == 0) {
        *out = (int64_t)ms;
        return 0;
    }
    /* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); "t", "z" and a space are accepted too. */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int Y = digits(s, 4), M = digits(s + 5, 2), D = digits(s + 8, 2), h = digits(s + 11, 2), m = digits(s + 14, 2),
        sec = digits(s + 17, 2);
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return -1;
    /* timegm() would move June 31 to July 1: a day the month does not have is refused instead. */
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > days[M - 1] + (M == 2 && leap))
        return -1;
    size_t i = 19;
    int frac_ms = 0, scale = 100;
    if (i < len && s[i] == '.') {
        if (++i == len || s[i] < '0' || s[i] > '9')
            return -1;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac_ms += (s[i] - '0') * scale; /* digits past milliseconds add 0 */
    }
    int offset_min;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        offset_min = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return -1;
    }
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    *out = ((int64_t)t - offset_min * 60) * 1000 + frac_ms;
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
    q->has_since = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        const char *p = s + i, *eq = memchr(p, '=', end - i);
        size_t nlen = eq ? (size_t)(eq - p) : end - i;
        const char *raw = eq ? eq + 1 : p + nlen;
        size_t rlen = (size_t)(s + end - raw);
        char val[RC_TOKEN_MAX > RC_QUERY_MAX_ID ? RC_TOKEN_MAX : RC_QUERY_MAX_ID];
        long vlen = rc_url_decode(raw, rlen, val, sizeof(val));
#define IS(name) (nlen == sizeof(name) - 1 && memcmp(p, name, nlen) == 0)
        if (vlen < 0 && rlen > sizeof(val) && IS("access_token"))
            return fail(err, errlen, "bad query: %.*s: longer than " RC_STR(RC_TOKEN_MAX) " bytes", p, nlen);
        if (vlen < 0)
            return fail(err, errlen, "bad query: %.*s: malformed or too long value", p, nlen);
        if (nlen == 0) {
            /* "a&&b" or a trailing "&": nothing to read */
        } else if (IS("key")) {
            /* A bare "key" has no value to filter on: read as an empty key it would match every
             * record without a key, so it is refused rather than guessed at. */
            if (eq == NULL)
                return fail(err, errlen, "bad query: %.*s: needs a value (key=...)", p, nlen);
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
            if (q->timeout_ms == 0)
                return fail(err, errlen, "bad query: %.*s: must be more than 0", p, nlen);
        } else if (IS("since")) {
            if (rc_parse_time_ms(val, (size_t)vlen, &q->since_ms) != 0)
                return fail(err, errlen, "bad query: %.*s: must be RFC 3339 (2026-11-25T20:00:00Z) or epoch ms", p,
                            nlen);
            q->has_since = 1;
        } else if (IS("lastEventId")) {
            if ((size_t)vlen > RC_QUERY_MAX_ID)
                return fail(err, errlen, "bad query: %.*s: longer than " RC_STR(RC_QUERY_MAX_ID) " bytes", p, nlen);
            memcpy(q->last_id, val, (size_t)vlen);
            q->last_id_len = (size_t)vlen;
            q->has_last_id = 1;
        } else if (IS("access_token")) {
            /* Taken by access control, when a stream requires it; only its length is checked here. */
            if ((size_t)vlen > RC_TOKEN_MAX)
                return fail(err, errlen, "bad query: %.*s: longer than " RC_STR(RC_TOKEN_MAX) " bytes", p, nlen);
        } else {
            return fail(err, errlen, "bad query: unknown parameter %.*s", p, nlen);
        }
#undef IS
        i = end + 1;
    }
    return 0;
}

#include "sse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DATA_PREFIX "data: "

bool rc_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Most values are ASCII: skip 8 bytes at a time while no byte has its high bit set. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, cp = c & 0x07;
        else
            return false; /* continuation byte first, overlong lead (c0, c1) or beyond f4 */
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += need + 1;
    }
    return true;
}

bool rc_sse_event_ok(const char *event, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (event[i] == '\r' || event[i] == '\n' || event[i] == '\0')
            return false;
    return rc_utf8_valid((const uint8_t *)event, len);
}

/* Lines of a value, split at CRLF, LF and CR: one more than its line breaks. */
static size_t count_lines(const uint8_t *d, size_t n)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\r') {
            lines++;
            if (i + 1 < n && d[i + 1] == '\n')
                i++;
        } else if (d[i] == '\n') {
            lines++;
        }
    }
    return lines;
}

size_t rc_sse_frame_len(size_t id_len, const char *event, size_t event_len, const uint8_t *data, size_t data_len)
{
    size_t n = 4 + id_len + 1; /* "id: " id "\n" */
    if (event_len > 0 && rc_sse_event_ok(event, event_len))
        n += 7 + event_len + 1; /* "event: " type "\n" */
    size_t lines = count_lines(data, data_len), breaks = 0;
    for (size_t i = 0; i < data_len; i++)
        if (data[i] == '\r' || data[i] == '\n')
            breaks++;
    /* Every line costs "data: " and "\n"; the line-break bytes of the value are not copied. */
    return n + lines * (sizeof(DATA_PREFIX) - 1 + 1) + (data_len - breaks) + 1;
}

long rc_sse_encode(char *out, size_t cap, const char *id, size_t id_len, const char *event, size_t event_len,
                   const uint8_t *data, size_t data_len)
{
    /* One pass: the frame is at most the value plus 7 bytes a line ("data: " and "\n") plus the id
     * and event fields, so only values with many line breaks need the exact count first. */
    size_t fixed = 4 + id_len + 1 + (event_len ? 7 + event_len + 1 : 0) + 1;
    if (fixed + data_len + 7 > cap && rc_sse_frame_len(id_len, event, event_len, data, data_len) > cap)
        return -1;
    char *p = out, *end = out + cap;
    memcpy(p, "id: ", 4), p += 4;
    memcpy(p, id, id_len), p += id_len;
    *p++ = '\n';
    if (event_len > 0 && rc_sse_event_ok(event, event_len)) {
        memcpy(p, "event: ", 7), p += 7;
        memcpy(p, event, event_len), p += event_len;
        *p++ = '\n';
    }
    size_t start = 0;
    for (size_t i = 0;; i++) {
        const uint8_t *nl = i < data_len ? memchr(data + i, '\n', data_len - i) : NULL;
        const uint8_t *cr = i < data_len ? memchr(data + i, '\r', (nl ? (size_t)(nl - data) : data_len) - i) : NULL;
        i = cr ? (size_t)(cr - data) : nl ? (size_t)(nl - data) : data_len;
        if ((size_t)(end - p) < sizeof(DATA_PREFIX) + (i - start) + 1)
            return -1;
        memcpy(p, DATA_PREFIX, sizeof(DATA_PREFIX) - 1), p += sizeof(DATA_PREFIX) - 1;
        memcpy(p, data + start, i - start), p += i - start;
        *p++ = '\n';
        if (i >= data_len)
            break;
        if (data[i] == '\r' && i + 1 < data_len && data[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    *p++ = '\n';
    return (long)(p - out);
}

/* --- JSON envelope ------------------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t json_str_len(const uint8_t *s, size_t n)
{
    size_t len = 2;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            len += 2;
        else if (c < 0x20)
            len += 6; /* \u00XX */
        else
            len += 1;
    }
    return len;
}

static char *json_str(char *p, const uint8_t *s, size_t n)
{
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"':
            *p++ = '\\', *p++ = '"';
            break;
        case '\\':
            *p++ = '\\', *p++ = '\\';
            break;
        case '\n':
            *p++ = '\\', *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\', *p++ = 'r';
            break;
        case '\t':
            *p++ = '\\', *p++ = 't';
            break;
        case '\b':
            *p++ = '\\', *p++ = 'b';
            break;
        case '\f':
            *p++ = '\\', *p++ = 'f';
            break;
        default:
            if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                memcpy(p, "\\u00", 4), p += 4;
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
            } else {
                *p++ = (char)c;
            }
        }
    }
    *p++ = '"';
    return p;
}

static size_t b64_len(size_t n)
{
    return 2 + (n + 2) / 3 * 4;
}

static char *b64_str(char *p, const uint8_t *s, size_t n)
{
    *p++ = '"';
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *p++ = b64[v >> 18], *p++ = b64[(v >> 12) & 63], *p++ = b64[(v >> 6) & 63], *p++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *p++ = b64[v >> 18], *p++ = b64[(v >> 12) & 63];
        *p++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    *p++ = '"';
    return p;
}

/* Length of `,"name":<value>` for a key or value field. */
static size_t field_len(const char *name, const uint8_t *v, size_t n, bool null)
{
    size_t base = 4 + strlen(name); /* , " name " : */
    if (null)
        return base + 4;
    if (rc_utf8_valid(v, n))
        return base + json_str_len(v, n);
    return base + 7 + b64_len(n); /* name "_base64" */
}

static char *field(char *p, const char *name, const uint8_t *v, size_t n, bool null)
{
    bool utf8 = null || rc_utf8_valid(v, n);
    p += sprintf(p, ",\"%s%s\":", name, utf8 ? "" : "_base64");
    if (null) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    return utf8 ? json_str(p, v, n) : b64_str(p, v, n);
}

/* Writes (out != NULL) or measures the part after the topic: partition, offset, timestamp. */
static int numbers_fmt(char *out, size_t cap, const rc_envelope_t *e)
{
    return snprintf(out, cap, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64, e->partition,
                    e->offset, e->timestamp);
}

size_t rc_envelope_len(const rc_envelope_t *e)
{
    size_t tlen = strlen(e->topic);
    return 9 + json_str_len((const uint8_t *)e->topic, tlen) + (size_t)numbers_fmt(NULL, 0, e) +
           field_len("key", e->key, e->key_len, e->key_null) +
           field_len("value", e->value, e->value_len, e->value_null) + 1;
}

long rc_envelope_encode(char *out, size_t cap, const rc_envelope_t *e)
{
    size_t need = rc_envelope_len(e);
    if (need + 1 > cap) /* snprintf and sprintf write a NUL after the text */
        return -1;
    char *p = out;
    memcpy(p, "{\"topic\":", 9), p += 9;
    p = json_str(p, (const uint8_t *)e->topic, strlen(e->topic));
    p += numbers_fmt(p, cap - (size_t)(p - out), e);
    p = field(p, "key", e->key, e->key_len, e->key_null);
    p = field(p, "value", e->value, e->value_len, e->value_null);
    *p++ = '}';
    return (long)(p - out);
}

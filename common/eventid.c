#include "eventid.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t rc_eventid_sort_topics(const char **dst, const char *const *src, size_t n)
{
    if (n > RC_CUT_MAX_TOPICS)
        n = RC_CUT_MAX_TOPICS;
    memmove(dst, src, n * sizeof(*dst));
    qsort(dst, n, sizeof(*dst), cmp_str);
    return n;
}

uint32_t rc_eventid_fingerprint(const char *const *topics, size_t n)
{
    const char *sorted[RC_CUT_MAX_TOPICS];
    n = rc_eventid_sort_topics(sorted, topics, n);
    uint32_t h = 2166136261u; /* FNV-1a, each name followed by a NUL so "ab","c" != "a","bc" */
    for (size_t i = 0; i < n; i++)
        for (const char *p = sorted[i];; p++) {
            h = (h ^ (uint8_t)*p) * 16777619u;
            if (*p == '\0')
                break;
        }
    return (h ^ (h >> 24)) & 0xffffff;
}

int rc_cut_index(const rc_cut_t *cut, uint32_t topic, uint32_t partition)
{
    if (topic >= cut->n_topics || partition >= cut->n_parts[topic])
        return -1;
    uint32_t base = 0;
    for (uint32_t t = 0; t < topic; t++)
        base += cut->n_parts[t];
    return base + partition < RC_CUT_MAX_LANES ? (int)(base + partition) : -1;
}

/* Appends v as a varint; returns the new position or NULL if it would pass end. */
static char *put_varint(char *p, char *end, uint64_t v)
{
    do {
        if (p == end)
            return NULL;
        unsigned d = v & 31;
        v >>= 5;
        *p++ = alphabet[d | (v ? 32 : 0)];
    } while (v);
    return p;
}

static int get_varint(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 65; shift += 5) {
        if (*p == end)
            return -1;
        int d = digit(*(*p)++);
        if (d < 0 || (shift == 60 && (d & 31) > 15))
            return -1; /* not ours, or more than 64 bits */
        v |= (uint64_t)(d & 31) << shift;
        if (!(d & 32)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static uint64_t zigzag(int64_t d)
{
    return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static int64_t unzigzag(uint64_t z)
{
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

long rc_eventid_encode(char *out, size_t cap, uint32_t fingerprint, const rc_cut_t *cut)
{
    char *p = out, *end = out + cap;
    if (cap < 4 || cut->n_topics > RC_CUT_MAX_TOPICS)
        return -1;
    for (int i = 3; i >= 0; i--)
        *p++ = alphabet[(fingerprint >> (6 * i)) & 63];
    uint32_t k = 0;
    for (uint32_t t = 0; t < cut->n_topics; t++) {
        if (k + cut->n_parts[t] > RC_CUT_MAX_LANES || (p = put_varint(p, end, cut->n_parts[t])) == NULL)
            return -1;
        int64_t prev = 0;
        for (uint32_t i = 0; i < cut->n_parts[t]; i++, k++) {
            int64_t v = cut->next[k];
            if (v < -1)
                return -1;
            /* Wrapping subtraction: offsets are at most 2^63-1 and -1, the zigzag round-trips. */
            if ((p = put_varint(p, end, zigzag((int64_t)((uint64_t)v - (uint64_t)prev)))) == NULL)
                return -1;
            prev = v;
        }
    }
    return (long)(p - out);
}

int rc_eventid_decode(const char *s, size_t len, uint32_t fingerprint, rc_cut_t *cut)
{
    if (len < 4 || len > RC_EVENTID_MAX)
        return -1;
    uint32_t fp = 0;
    for (int i = 0; i < 4; i++) {
        int d = digit(s[i]);
        if (d < 0)
            return -1;
        fp = fp << 6 | (uint32_t)d;
    }
    if (fp != fingerprint)
        return -1;
    const char *p = s + 4, *end = s + len;
    uint32_t k = 0;
    cut->n_topics = 0;
    memset(cut->n_parts, 0, sizeof(cut->n_parts));
    while (p < end) {
        uint64_t n;
        if (cut->n_topics == RC_CUT_MAX_TOPICS || get_varint(&p, end, &n) != 0 || n > RC_CUT_MAX_LANES - k)
            return -1;
        cut->n_parts[cut->n_topics++] = (uint16_t)n;
        int64_t prev = 0;
        for (uint64_t i = 0; i < n; i++, k++) {
            uint64_t z;
            if (get_varint(&p, end, &z) != 0)
                return -1;
            int64_t v = (int64_t)((uint64_t)prev + (uint64_t)unzigzag(z));
            if (v < -1)
                return -1;
            cut->next[k] = prev = v;
        }
    }
    return 0;
}

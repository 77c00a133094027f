/*
 * Fuzz target: the event-id codec (common/eventid.c). An id arrives from any client, in the
 * Last-Event-ID header or ?lastEventId=, so every byte string must be either refused or decoded
 * into a cut that respects the limits, and a decoded cut must encode back into an id that decodes
 * to the same cut.
 *
 * Input: an id as text (the fingerprint is taken from its first four characters, so real ids
 * decode). An input that starts with '!' instead describes a cut (topic count, partitions per
 * topic, offsets) that is encoded and decoded again.
 */
#include <string.h>

#include "eventid.h"
#include "fuzz.h"

static int digit(uint8_t c)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = c != 0 ? strchr(alphabet, c) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

static void check_cut(const rc_cut_t *cut)
{
    FUZZ_CHECK(cut->n_topics <= RC_CUT_MAX_TOPICS);
    uint32_t lanes = 0;
    for (uint32_t t = 0; t < cut->n_topics; t++) {
        for (uint32_t p = 0; p < cut->n_parts[t]; p++)
            FUZZ_CHECK(rc_cut_index(cut, t, p) == (int)(lanes + p));
        FUZZ_CHECK(rc_cut_index(cut, t, cut->n_parts[t]) == -1);
        lanes += cut->n_parts[t];
    }
    FUZZ_CHECK(lanes <= RC_CUT_MAX_LANES);
    FUZZ_CHECK(rc_cut_index(cut, cut->n_topics, 0) == -1);
    for (uint32_t k = 0; k < lanes; k++)
        FUZZ_CHECK(cut->next[k] >= -1);
}

static int same_cut(const rc_cut_t *a, const rc_cut_t *b)
{
    if (a->n_topics != b->n_topics)
        return 0;
    uint32_t lanes = 0;
    for (uint32_t t = 0; t < a->n_topics; t++) {
        if (a->n_parts[t] != b->n_parts[t])
            return 0;
        lanes += a->n_parts[t];
    }
    return memcmp(a->next, b->next, lanes * sizeof(a->next[0])) == 0;
}

/* Encodes cut, checks the text, decodes it again: the same cut. Returns the id's length. */
static long round_trip(uint32_t fp, const rc_cut_t *cut)
{
    static char id[RC_EVENTID_MAX + 1];
    static rc_cut_t back;
    long n = rc_eventid_encode(id, RC_EVENTID_MAX, fp, cut);
    FUZZ_CHECK(n >= 4 && n <= RC_EVENTID_MAX);
    for (long i = 0; i < n; i++)
        FUZZ_CHECK(digit((uint8_t)id[i]) >= 0); /* URL- and header-safe as it is */
    FUZZ_CHECK(rc_eventid_decode(id, (size_t)n, fp, &back) == 0);
    FUZZ_CHECK(same_cut(cut, &back));
    /* One byte short of room is refused, never truncated. */
    FUZZ_CHECK(rc_eventid_encode(id, (size_t)n - 1, fp, cut) == -1);
    /* Another stream's fingerprint does not decode it. */
    FUZZ_CHECK(rc_eventid_decode(id, (size_t)n, fp ^ 1, &back) == -1);
    return n;
}

static void decode_text(const uint8_t *data, size_t size)
{
    static rc_cut_t cut;
    uint32_t fp = 0;
    for (size_t i = 0; i < 4 && i < size; i++) {
        int d = digit(data[i]);
        fp = fp << 6 | (uint32_t)(d < 0 ? 0 : d);
    }
    if (rc_eventid_decode((const char *)data, size, fp, &cut) != 0)
        return;
    FUZZ_CHECK(size >= 4 && size <= RC_EVENTID_MAX);
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(digit(data[i]) >= 0); /* only the alphabet is ever accepted */
    check_cut(&cut);
    /* The canonical form is never longer than any text that decodes to the same cut. */
    FUZZ_CHECK((size_t)round_trip(fp, &cut) <= size);
}

static void encode_cut(const uint8_t *data, size_t size)
{
    static rc_cut_t cut;
    fuzz_in_t in = {data, size};
    uint32_t fp = (uint32_t)fuzz_take_u64(&in, 3) & 0xffffff;
    memset(&cut, 0, sizeof(cut));
    cut.n_topics = (uint32_t)fuzz_take_u64(&in, 1) % (RC_CUT_MAX_TOPICS + 2);
    uint32_t lanes = 0;
    int valid = cut.n_topics <= RC_CUT_MAX_TOPICS;
    for (uint32_t t = 0; t < cut.n_topics && t < RC_CUT_MAX_TOPICS; t++) {
        cut.n_parts[t] = (uint16_t)(fuzz_take_u64(&in, 1) % 40);
        lanes += cut.n_parts[t];
    }
    valid = valid && lanes <= RC_CUT_MAX_LANES;
    for (uint32_t k = 0; k < lanes && k < RC_CUT_MAX_LANES; k++) {
        uint8_t kind = (uint8_t)fuzz_take_u64(&in, 1);
        uint64_t v = fuzz_take_u64(&in, kind & 7);
        /* Mostly small or near-neighbour offsets, sometimes -1, extremes or (invalid) below -1. */
        cut.next[k] = kind >> 6 == 0 ? -1 : kind >> 6 == 1 ? (int64_t)(v & INT64_MAX) : (int64_t)v;
        valid = valid && cut.next[k] >= -1;
    }
    char id[RC_EVENTID_MAX];
    long n = rc_eventid_encode(id, sizeof(id), fp, &cut);
    FUZZ_CHECK((n >= 0) == valid);
    if (valid)
        round_trip(fp, &cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '!')
        encode_cut(data + 1, size - 1);
    else
        decode_text(data, size);
    return 0;
}

/*
 * Unit tests of the SSE frame encoder, the UTF-8 check, the JSON envelope and the event-id codec.
 */
#include <stdio.h>
#include <string.h>

#include "eventid.h"
#include "sse.h"
#include "tap.h"

static const char *frame(const char *id, const char *event, const char *data)
{
    static char out[4096];
    size_t dl = strlen(data), el = event ? strlen(event) : 0;
    long n = rc_sse_encode(out, sizeof(out) - 1, id, strlen(id), event, el, (const uint8_t *)data, dl);
    if (n < 0 || (size_t)n != rc_sse_frame_len(strlen(id), event, el, (const uint8_t *)data, dl))
        return "(length mismatch)";
    out[n] = '\0';
    return out;
}

TEST(sse_frame_with_id_event_and_one_line)
{
    CHECK_EQ_STR(frame("AAAB1", "price", "{\"v\":1}"), "id: AAAB1\nevent: price\ndata: {\"v\":1}\n\n");
}

TEST(sse_frame_without_event)
{
    CHECK_EQ_STR(frame("x", NULL, "hello"), "id: x\ndata: hello\n\n");
}

TEST(sse_multi_line_value_becomes_data_lines_for_every_line_ending)
{
    CHECK_EQ_STR(frame("x", NULL, "a\nb\r\nc\rd"), "id: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
}

TEST(sse_trailing_newline_keeps_an_empty_last_line)
{
    CHECK_EQ_STR(frame("x", NULL, "a\n"), "id: x\ndata: a\ndata: \n\n");
}

TEST(sse_empty_value_is_one_empty_data_line)
{
    CHECK_EQ_STR(frame("x", NULL, ""), "id: x\ndata: \n\n");
}

TEST(sse_event_type_with_newline_is_dropped)
{
    CHECK_EQ_STR(frame("x", "bad\ntype", "v"), "id: x\ndata: v\n\n");
}

TEST(sse_encode_refuses_a_short_buffer)
{
    char out[10];
    CHECK_EQ_INT(rc_sse_encode(out, sizeof(out), "id", 2, NULL, 0, (const uint8_t *)"data", 4), -1);
}

TEST(utf8_accepts_valid_and_rejects_invalid)
{
    CHECK(rc_utf8_valid((const uint8_t *)"plain ascii", 11));
    CHECK(rc_utf8_valid((const uint8_t *)"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    CHECK(!rc_utf8_valid((const uint8_t *)"\xc3", 1));             /* truncated */
    CHECK(!rc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    CHECK(!rc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!rc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!rc_utf8_valid((const uint8_t *)"\x80", 1));             /* lone continuation */
    CHECK(!rc_utf8_valid((const uint8_t *)"\xff", 1));
}

static const char *envelope(rc_envelope_t *e)
{
    static char out[1024];
    long n = rc_envelope_encode(out, sizeof(out), e);
    if (n < 0 || (size_t)n != rc_envelope_len(e))
        return "(length mismatch)";
    out[n] = '\0';
    return out;
}

TEST(json_envelope_with_utf8_key_and_value)
{
    rc_envelope_t e = {.topic = "orders",
                       .partition = 2,
                       .offset = 42,
                       .timestamp = 1700000000000,
                       .key = (const uint8_t *)"alice",
                       .key_len = 5,
                       .value = (const uint8_t *)"say \"hi\"\n",
                       .value_len = 9};
    CHECK_EQ_STR(envelope(&e), "{\"topic\":\"orders\",\"partition\":2,\"offset\":42,\"timestamp\":1700000000000,"
                               "\"key\":\"alice\",\"value\":\"say \\\"hi\\\"\\n\"}");
}

TEST(json_envelope_base64_for_binary_and_null_key)
{
    rc_envelope_t e = {.topic = "t",
                       .partition = 0,
                       .offset = 1,
                       .timestamp = -1,
                       .key_null = true,
                       .value = (const uint8_t *)"\xff\x00\x01",
                       .value_len = 3};
    CHECK_EQ_STR(envelope(&e), "{\"topic\":\"t\",\"partition\":0,\"offset\":1,\"timestamp\":-1,"
                               "\"key\":null,\"value_base64\":\"/wAB\"}");
}

TEST(json_envelope_escapes_control_characters)
{
    rc_envelope_t e = {
        .topic = "t", .key = (const uint8_t *)"\x01", .key_len = 1, .value = (const uint8_t *)"\t", .value_len = 1};
    CHECK_EQ_STR(envelope(&e), "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp\":0,"
                               "\"key\":\"\\u0001\",\"value\":\"\\t\"}");
}

static rc_cut_t cut_of(int n_topics, const int *parts, const int64_t *offs)
{
    rc_cut_t c;
    memset(&c, 0, sizeof(c));
    c.n_topics = (uint32_t)n_topics;
    int k = 0;
    for (int t = 0; t < n_topics; t++) {
        c.n_parts[t] = (uint16_t)parts[t];
        for (int i = 0; i < parts[t]; i++, k++)
            c.next[k] = offs[k];
    }
    return c;
}

TEST(eventid_single_partition_is_short_and_round_trips)
{
    const char *topics[] = {"prices"};
    uint32_t fp = rc_eventid_fingerprint(topics, 1);
    rc_cut_t c = cut_of(1, (int[]){1}, (int64_t[]){1234567}), d;
    char id[64];
    long n = rc_eventid_encode(id, sizeof(id), fp, &c);
    CHECK_EQ_INT(n, 10);
    REQUIRE(rc_eventid_decode(id, (size_t)n, fp, &d) == 0);
    CHECK_EQ_INT(d.n_topics, 1);
    CHECK_EQ_INT(d.n_parts[0], 1);
    CHECK_EQ_INT(d.next[0], 1234567);
}

TEST(eventid_many_partitions_and_topics_round_trip)
{
    int64_t offs[40];
    for (int i = 0; i < 40; i++)
        offs[i] = i == 7 ? -1 : i == 8 ? INT64_MAX : 5000000000 + i * 37 - (i % 3) * 1000;
    rc_cut_t c = cut_of(3, (int[]){32, 6, 2}, offs), d;
    char id[RC_EVENTID_MAX];
    long n = rc_eventid_encode(id, sizeof(id), 0xabcdef, &c);
    REQUIRE(n > 0);
    REQUIRE(rc_eventid_decode(id, (size_t)n, 0xabcdef, &d) == 0);
    CHECK_EQ_INT(d.n_topics, 3);
    CHECK(memcmp(d.n_parts, c.n_parts, sizeof(c.n_parts)) == 0);
    CHECK(memcmp(d.next, c.next, 40 * sizeof(int64_t)) == 0);
    CHECK_EQ_INT(rc_cut_index(&d, 1, 5), 37);
    CHECK_EQ_INT(rc_cut_index(&d, 1, 6), -1);
    CHECK_EQ_INT(rc_cut_index(&d, 3, 0), -1);
}

TEST(eventid_similar_offsets_cost_few_characters)
{
    int64_t offs[24];
    for (int i = 0; i < 24; i++)
        offs[i] = 987654321 + (i % 5);
    rc_cut_t c = cut_of(1, (int[]){24}, offs);
    char id[RC_EVENTID_MAX];
    long n = rc_eventid_encode(id, sizeof(id), 1, &c);
    CHECK(n > 0 && n <= 4 + 1 + 6 + 23 * 1 + 8); /* first offset ~6 chars, then deltas of 1 char */
}

TEST(eventid_fingerprint_ignores_order_and_separates_names)
{
    const char *a[] = {"x", "y"}, *b[] = {"y", "x"}, *c[] = {"xy"}, *d[] = {"x", "yz"};
    CHECK_EQ_INT(rc_eventid_fingerprint(a, 2), rc_eventid_fingerprint(b, 2));
    CHECK(rc_eventid_fingerprint(a, 2) != rc_eventid_fingerprint(c, 1));
    CHECK(rc_eventid_fingerprint(a, 2) != rc_eventid_fingerprint(d, 2));
    CHECK(rc_eventid_fingerprint(a, 2) <= 0xffffff);
}

TEST(eventid_rejects_foreign_and_malformed_ids)
{
    rc_cut_t c = cut_of(1, (int[]){2}, (int64_t[]){10, 20}), d;
    char id[64];
    long n = rc_eventid_encode(id, sizeof(id), 77, &c);
    REQUIRE(n > 0);
    CHECK_EQ_INT(rc_eventid_decode(id, (size_t)n, 78, &d), -1);             /* another stream */
    CHECK_EQ_INT(rc_eventid_decode(id, (size_t)n - 1, 77, &d), -1);         /* cut short mid-number */
    CHECK_EQ_INT(rc_eventid_decode("AAA", 3, 0, &d), -1);                   /* too short */
    CHECK_EQ_INT(rc_eventid_decode("AAAA!", 5, 0, &d), -1);                 /* not in the alphabet */
    CHECK_EQ_INT(rc_eventid_decode("AAAABzzzzzzzzzzzzzzA", 20, 0, &d), -1); /* more than 64 bits */
    CHECK_EQ_INT(rc_eventid_decode("AAAAB_", 6, 0, &d), -1);                /* varint never ends */
    CHECK_EQ_INT(rc_eventid_decode("AAAAD", 5, 0, &d), -1);                 /* says 3 partitions, has none */
    CHECK_EQ_INT(rc_eventid_decode("AAAABD", 6, 0, &d), -1);                /* offset -2 */
    CHECK_EQ_INT(rc_eventid_decode("AAAA", 4, 0, &d), 0);                   /* a stream with no partitions yet */
    CHECK_EQ_INT(d.n_topics, 0);
}

TEST(eventid_encode_refuses_short_buffer_and_bad_offsets)
{
    rc_cut_t c = cut_of(1, (int[]){1}, (int64_t[]){123456789});
    char id[6];
    CHECK_EQ_INT(rc_eventid_encode(id, sizeof(id), 1, &c), -1);
    c.next[0] = -5;
    char big[64];
    CHECK_EQ_INT(rc_eventid_encode(big, sizeof(big), 1, &c), -1);
}

int main(void)
{
    return tap_run();
}

/*
 * Unit tests of resume planning (edge/resume.c): rings built with the writer API in a fresh
 * directory under /dev/shm (or /tmp), ids given as cuts, and the plan read back the way a client
 * reads: from plan.start to the head, skipping what the skip table says it had. TAP output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventid.h"
#include "resume.h"
#include "ring.h"
#include "ring_fixture.h"
#include "tap.h"

/* One DATA record of (lane, offset) with a frame of frame_len bytes. */
static void put(rc_ring_t *w, int lane, int64_t offset, size_t frame_len)
{
    if (put_sized(w, lane, offset, frame_len) != 0)
        abort();
}

static void put_reset(rc_ring_t *w, int lane)
{
    rc_rec_in_t in = {.type = RC_REC_RESET, .lane = (uint16_t)lane, .partition = lane, .offset = 0};
    if (rc_ring_append(w, &in) != 0)
        abort();
}

/* Lanes 0..n-1 of topic t, partitions 0..n-1. */
static void add_lanes(rc_ring_t *w, const char *t, int n)
{
    for (int i = 0; i < n; i++)
        if (rc_ring_lane(w, t, i) < 0)
            abort();
}

/* A ring of cap bytes (a small one evicts early) in a fresh directory. */
static int fx_start(fixture_t *f, uint64_t cap)
{
    fx_dir(f);
    return fx_open(f, cap, 0, NULL, NULL, 0);
}

/* Lane 0 of topic t with offsets 0..n-1. */
static void one_lane(rc_ring_t *w, int n)
{
    add_lanes(w, "t", 1);
    for (int i = 0; i < n; i++)
        put(w, 0, i, 16);
    rc_ring_publish(w);
}

/* Lanes 0 and 1 of topic t, each with offsets 0..n-1, interleaved: seq 2i is lane 0's offset i. */
static void two_lanes(rc_ring_t *w, int n)
{
    add_lanes(w, "t", 2);
    for (int i = 0; i < n; i++) {
        put(w, 0, i, 16);
        put(w, 1, i, 16);
    }
    rc_ring_publish(w);
}

/* A compacted log in a small ring: only every third offset of lane 0 holds a record, and the first
 * ones were evicted. Returns the offset of the oldest record kept (at *old), or -1. */
static int64_t compacted(rc_ring_t *w, rc_cursor_t *old)
{
    add_lanes(w, "t", 1);
    for (int i = 0; i < 100; i++)
        put(w, 0, 3 * i, 200);
    rc_ring_publish(w);
    if (rc_ring_oldest(w, old) != 0)
        return -1;
    return 3 * (int64_t)old->seq;
}

/* A cut of one topic whose partition p is at next[p]. */
static rc_cut_t cut_of(const int64_t *next, int n)
{
    rc_cut_t c;
    memset(&c, 0, sizeof(c));
    c.n_topics = 1;
    c.n_parts[0] = (uint16_t)n;
    for (int i = 0; i < n; i++)
        c.next[i] = next[i];
    return c;
}

static const char *const one_topic[] = {"t"};

/* What a client reading the plan gets: "lane:offset" per record (R for a RESET), space-separated,
 * after the skip table's rule (the same as the worker's). */
static void delivered(const rc_ring_t *r, rc_resume_plan_t *plan, char *out, size_t cap)
{
    static uint64_t buf[1 << 13];
    rc_cursor_t c = plan->start;
    size_t k = 0;
    out[0] = '\0';
    for (;;) {
        size_t nb, off = 0;
        if (rc_ring_read(r, &c, buf, sizeof(buf), &nb) != RC_READ_OK)
            return;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec)) {
            if (rec.h.lane < plan->n_skip) {
                rc_resume_lane_t *sl = &plan->skip[rec.h.lane];
                if (rec.h.seq < sl->history_end)
                    continue;
                if (rec.h.type == RC_REC_RESET)
                    sl->below = 0;
                else if (rec.h.offset < sl->below)
                    continue;
            }
            if (rec.h.type == RC_REC_RESET)
                k += (size_t)snprintf(out + k, cap - k, "%s%u:R", k ? " " : "", rec.h.lane);
            else
                k += (size_t)snprintf(out + k, cap - k, "%s%u:%" PRId64, k ? " " : "", rec.h.lane, rec.h.offset);
        }
    }
}

TEST(exact_resume_delivers_the_rest_without_gap)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    two_lanes(f.w, 4);
    int64_t next[2] = {2, 3};
    rc_cut_t cut = cut_of(next, 2);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 4); /* lane 0's offset 2 */
    CHECK_EQ_U64(plan.n_skip, 2);
    CHECK_EQ_INT(plan.skip[0].below, 2);
    CHECK_EQ_INT(plan.skip[1].below, 3);
    CHECK_EQ_U64(plan.missed, 0);
    CHECK_EQ_U64(plan.n_ranges, 0);
    char got[256];
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "0:2 0:3 1:3");
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(id_text_is_decoded_with_the_streams_fingerprint)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    one_lane(f.w, 4);
    int64_t next[1] = {1};
    rc_cut_t cut = cut_of(next, 1);
    uint32_t fp = rc_eventid_fingerprint(one_topic, 1);
    char id[RC_EVENTID_MAX];
    long n = rc_eventid_encode(id, sizeof(id), fp, &cut);
    REQUIRE(n > 0);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan_id(f.w, one_topic, 1, fp, id, (size_t)n, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 1);
    rc_resume_plan_free(&plan);
    CHECK_EQ_INT(rc_resume_plan_id(f.w, one_topic, 1, fp ^ 1, id, (size_t)n, NULL, 0, &plan), RC_RESUME_RESET);
    CHECK_EQ_INT(plan.reset, RC_RESUME_FOREIGN);
    CHECK_EQ_STR(rc_resume_reset_str(plan.reset), "the last event id is not one of this stream");
    CHECK(plan.skip == NULL && plan.ranges == NULL);
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(holes_are_not_a_gap)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 4096) == 0);
    rc_cursor_t old;
    int64_t first = compacted(f.w, &old); /* the oldest offset kept; first - 3 was evicted */
    REQUIRE(first > 6);
    int64_t next[1] = {first - 2}; /* the client had first - 3: only holes lie between */
    rc_cut_t cut = cut_of(next, 1);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, old.seq);
    CHECK_EQ_U64(plan.missed, 0);
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(evicted_position_gives_the_exact_gap_range)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 4096) == 0);
    rc_cursor_t old;
    int64_t first = compacted(f.w, &old); /* the oldest offset kept; first - 3 was evicted */
    REQUIRE(first > 6);
    int64_t next[1] = {first - 5}; /* the record at first - 3 is gone; the holes after it are not */
    rc_cut_t cut = cut_of(next, 1);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_GAP);
    CHECK_EQ_U64(plan.start.seq, old.seq);
    CHECK_EQ_U64(plan.missed, 3);
    REQUIRE(plan.n_ranges == 1);
    CHECK_EQ_STR(plan.ranges[0].topic, "t");
    CHECK_EQ_INT(plan.ranges[0].partition, 0);
    CHECK_EQ_INT(plan.ranges[0].from, first - 5);
    CHECK_EQ_INT(plan.ranges[0].to, first - 2);
    char want[160];
    snprintf(want, sizeof(want),
             "{\"missed\":3,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"from\":%" PRId64 ",\"to\":%" PRId64
             "}]}",
             first - 5, first - 2);
    size_t len;
    char *json = rc_resume_gap_json(&plan, &len);
    CHECK_EQ_STR(json, want);
    CHECK_EQ_U64(len, strlen(want));
    free(json);
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

/* Lane 0: offsets 0..19, then a RESET (the topic was recreated), then offsets 0..4 again; lane 1:
 * one record first, so that a plan starting on lane 1 passes lane 0's old history. */
static void recreated_topic(fixture_t *f)
{
    add_lanes(f->w, "t", 2);
    put(f->w, 1, 0, 16); /* seq 0 */
    for (int i = 0; i < 20; i++)
        put(f->w, 0, i, 16); /* seqs 1..20 */
    put_reset(f->w, 0);      /* seq 21 */
    for (int i = 0; i < 5; i++)
        put(f->w, 0, i, 16); /* seqs 22..26 */
    rc_ring_publish(f->w);
}

TEST(id_after_a_reset_does_not_repeat_the_old_history)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    recreated_topic(&f);
    int64_t next[2] = {3, 0};
    rc_cut_t cut = cut_of(next, 2);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 0);
    CHECK_EQ_U64(plan.skip[0].history_end, 22); /* the RESET and all before it were had */
    char got[256];
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "1:0 0:3 0:4");
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(id_before_a_reset_gets_the_old_history_first)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    recreated_topic(&f);
    int64_t next[2] = {17, 1}; /* only the old history reached 17 */
    rc_cut_t cut = cut_of(next, 2);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.skip[0].history_end, 0);
    char got[256];
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "0:17 0:18 0:19 0:R 0:0 0:1 0:2 0:3 0:4");
    rc_resume_plan_free(&plan);
    /* All of the old history had: from the reset itself. */
    next[0] = 20;
    cut = cut_of(next, 2);
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 21);
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "0:R 0:0 0:1 0:2 0:3 0:4");
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(partitions_and_topics_the_id_does_not_name_start_from_their_start)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    add_lanes(f.w, "t", 2);
    REQUIRE(rc_ring_lane(f.w, "u", 0) == 2);
    for (int i = 0; i < 3; i++) {
        put(f.w, 0, i, 16);
        put(f.w, 1, i, 16);
        rc_rec_in_t in = {.type = RC_REC_DATA, .lane = 2, .partition = 0, .offset = i, .frame = "x", .frame_len = 1};
        REQUIRE(rc_ring_append(f.w, &in) == 0);
    }
    rc_ring_publish(f.w);
    static const char *const two_topics[] = {"t", "u"};
    int64_t next[1] = {2}; /* names t's partition 0 only: t/1 was added since, u is unknown to it */
    rc_cut_t cut = cut_of(next, 1);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, two_topics, 2, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 1);
    CHECK_EQ_INT(plan.skip[1].below, 0);
    CHECK_EQ_INT(plan.skip[2].below, 0);
    char got[256];
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "1:0 2:0 1:1 2:1 0:2 1:2 2:2");
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(id_ahead_of_the_ring_is_a_reset)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    one_lane(f.w, 10);
    int64_t next[1] = {50};
    rc_cut_t cut = cut_of(next, 1);
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_RESET);
    CHECK_EQ_INT(plan.reset, RC_RESUME_AHEAD);
    CHECK_EQ_STR(rc_resume_reset_str(plan.reset), "the last event id is ahead of this stream's Kafka position");
    CHECK(plan.skip == NULL);
    rc_resume_plan_free(&plan);
    next[0] = 10; /* exactly the head: nothing to deliver yet, not ahead */
    cut = cut_of(next, 1);
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, NULL, 0, &plan), RC_RESUME_EXACT);
    CHECK_EQ_U64(plan.start.seq, 10);
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

TEST(a_floor_raises_below)
{
    fixture_t f = {0};
    REQUIRE(fx_start(&f, 1 << 16) == 0);
    two_lanes(f.w, 10);
    int64_t next[2] = {2, 6};
    rc_cut_t cut = cut_of(next, 2);
    /* A lapped client had lane 0 up to 7 (its last id lags), and lane 1 only to 4: a floor never lowers. */
    rc_resume_lane_t floor[2] = {{.below = 7, .history_end = 3}, {.below = 4, .history_end = 0}};
    rc_resume_plan_t plan;
    CHECK_EQ_INT(rc_resume_plan(f.w, one_topic, 1, &cut, floor, 2, &plan), RC_RESUME_EXACT);
    CHECK_EQ_INT(plan.skip[0].below, 7);
    CHECK_EQ_U64(plan.skip[0].history_end, 3);
    CHECK_EQ_INT(plan.skip[1].below, 6);
    CHECK_EQ_U64(plan.start.seq, 13); /* lane 1's offset 6 */
    char got[256];
    delivered(f.w, &plan, got, sizeof(got));
    CHECK_EQ_STR(got, "1:6 0:7 1:7 0:8 1:8 0:9 1:9");
    rc_resume_plan_free(&plan);
    fx_done(&f);
}

int main(void)
{
    return tap_run();
}

/*
 * Unit tests of the ring (common/ring.c): one behaviour per test, TAP output.
 * Rings live in a fresh directory under /dev/shm (or $TMPDIR) that each test removes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "ring_fixture.h"
#include "tap.h"

/* Field offsets of the ring header, pinned by the static asserts in ring.c (lines of 64 bytes). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_CAPACITY = 24,
    OFF_FILE_SIZE = 48,
    OFF_HEAD_GEN = 64,
    OFF_HEAD_POS0 = 80, /* head[0] = {seq, pos} at 72 */
    OFF_TAIL_POS = 128,
    OFF_TAIL_SEQ = 136,
    OFF_N_LANES = 208,
    HDR = RC_RING_HDR_SIZE,
    LANE_SIZE = 192,
    LANE_ST = 64,       /* lane_state_t st[2] after the first line */
    ST_NEXT_OFFSET = 24 /* next_offset inside a lane state */
};

static int put(rc_ring_t *w, int lane, int64_t offset, const char *frame)
{
    rc_rec_in_t in = {.type = RC_REC_DATA,
                      .lane = (uint16_t)lane,
                      .partition = lane,
                      .offset = offset,
                      .timestamp = 1000 + offset,
                      .key = "k",
                      .key_len = 1,
                      .frame = frame,
                      .frame_len = (uint32_t)strlen(frame)};
    return rc_ring_append(w, &in);
}

static void add_lanes(rc_ring_t *w, int n)
{
    for (int i = 0; i < n; i++)
        if (rc_ring_lane(w, "topic", i) != i)
            abort();
}

/* Reads every record from c to the head; stores seqs (and offsets) in order. Returns the count or
 * -1 on anything but OK/EMPTY. */
static int read_all(const rc_ring_t *r, rc_cursor_t c, uint64_t *seqs, int64_t *offs, int max)
{
    static uint64_t buf[1 << 14];
    int n = 0;
    for (;;) {
        size_t nb;
        rc_read_t rr = rc_ring_read(r, &c, buf, sizeof(buf), &nb);
        if (rr == RC_READ_EMPTY)
            return n;
        if (rr != RC_READ_OK) {
            printf("# read: %s\n", rc_read_str(rr));
            return -1;
        }
        size_t off = 0;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec)) {
            if (n < max) {
                if (seqs)
                    seqs[n] = rec.h.seq;
                if (offs)
                    offs[n] = rec.h.offset;
            }
            n++;
        }
    }
}

static void validate_ok(const rc_ring_t *r)
{
    char err[256] = "";
    int rc = rc_ring_validate(r, true, err, sizeof(err));
    if (rc != 0)
        TAP_FAIL("validate: %s", err);
}

/* --- creation, reopen, restart --------------------------------------------------------------------- */

TEST(create_new_ring_is_empty_and_valid)
{
    fixture_t f = {0};
    fx_dir(&f);
    rc_ring_opened_t how;
    REQUIRE(fx_open(&f, 4096, 0, &how, NULL, 0) == 0);
    CHECK_EQ_INT(how, RC_RING_CREATED);
    rc_cursor_t head, old;
    CHECK(rc_ring_head(f.w, &head) == 0);
    CHECK_EQ_U64(head.pos, 0);
    CHECK_EQ_U64(head.seq, 0);
    CHECK(rc_ring_oldest(f.w, &old) == 0);
    CHECK_EQ_U64(old.seq, 0);
    CHECK(rc_ring_epoch(f.w) != 0);
    char name[64];
    CHECK_EQ_STR(rc_ring_stream_name(f.w, name, sizeof(name)), "s");
    validate_ok(f.w);
    fx_done(&f);
}

TEST(reader_sees_records_only_after_publish)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    rc_ring_t *r;
    REQUIRE(rc_ring_open_reader(&r, path, err, sizeof(err)) == 0);
    rc_cursor_t c = {0, 0};
    CHECK(put(f.w, 0, 0, "data: a\n\n") == 0);
    uint64_t buf[512];
    size_t nb;
    CHECK_EQ_INT(rc_ring_read(r, &c, buf, sizeof(buf), &nb), RC_READ_EMPTY);
    rc_ring_publish(f.w);
    CHECK_EQ_INT(rc_ring_read(r, &c, buf, sizeof(buf), &nb), RC_READ_OK);
    size_t off = 0;
    rc_record_t rec;
    REQUIRE(rc_ring_next_record(buf, nb, &off, &rec) == 1);
    CHECK_EQ_U64(rec.h.seq, 0);
    CHECK_EQ_INT(rec.h.offset, 0);
    CHECK_EQ_INT(rec.h.timestamp, 1000);
    CHECK(rec.h.frame_len == 9 && memcmp(rec.frame, "data: a\n\n", 9) == 0);
    CHECK(rec.h.key_len == 1 && rec.key[0] == 'k');
    CHECK_EQ_INT(rc_ring_next_record(buf, nb, &off, &rec), 0);
    CHECK_EQ_U64(c.seq, 1);
    rc_ring_close(r);
    fx_done(&f);
}

TEST(reopen_after_restart_continues_sequence_and_epoch)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 2);
    for (int i = 0; i < 10; i++)
        CHECK(put(f.w, i % 2, i / 2, "data: x\n\n") == 0);
    rc_ring_publish(f.w);
    uint64_t epoch = rc_ring_epoch(f.w);
    rc_ring_close(f.w);
    rc_ring_opened_t how;
    REQUIRE(fx_open(&f, 1 << 16, 0, &how, NULL, 0) == 0);
    CHECK_EQ_INT(how, RC_RING_REOPENED);
    CHECK_EQ_U64(rc_ring_epoch(f.w), epoch);
    CHECK_EQ_U64(rc_ring_lanes(f.w), 2);
    CHECK_EQ_INT(rc_ring_lane(f.w, "topic", 1), 1); /* the same lane, not a new one */
    CHECK(put(f.w, 0, 5, "data: y\n\n") == 0);
    rc_ring_publish(f.w);
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    CHECK_EQ_U64(head.seq, 11);
    CHECK_EQ_U64(rc_ring_counter(f.w, RC_CTR_RESTARTS), 1);
    uint64_t seqs[16];
    rc_cursor_t old;
    rc_ring_oldest(f.w, &old);
    CHECK_EQ_INT(read_all(f.w, old, seqs, NULL, 16), 11);
    CHECK_EQ_U64(seqs[10], 10);
    int64_t next;
    CHECK(rc_ring_lane_info(f.w, 0, NULL, 0, NULL, &next) == 0);
    CHECK_EQ_INT(next, 6);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(reopen_after_crash_keeps_only_published_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    pid_t pid = fork();
    if (pid == 0) {
        /* A writer that dies without closing: 5 records published, 3 not. */
        if (fx_open(&f, 1 << 16, 0, NULL, NULL, 0) != 0)
            _exit(2);
        add_lanes(f.w, 1);
        for (int i = 0; i < 5; i++)
            put(f.w, 0, i, "data: p\n\n");
        rc_ring_publish(f.w);
        for (int i = 5; i < 8; i++)
            put(f.w, 0, i, "data: u\n\n");
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    rc_ring_opened_t how;
    REQUIRE(fx_open(&f, 1 << 16, 0, &how, NULL, 0) == 0);
    CHECK_EQ_INT(how, RC_RING_REOPENED);
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    CHECK_EQ_U64(head.seq, 5);
    int64_t next;
    CHECK(rc_ring_lane_info(f.w, 0, NULL, 0, NULL, &next) == 0);
    CHECK_EQ_INT(next, 5); /* the bridge resumes Kafka at offset 5: nothing skipped, nothing twice */
    CHECK(put(f.w, 0, 5, "data: again\n\n") == 0);
    rc_ring_publish(f.w);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(reopen_with_new_geometry_recreates_with_new_epoch)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    uint64_t epoch = rc_ring_epoch(f.w);
    rc_ring_close(f.w);
    rc_ring_opened_t how;
    char why[256];
    REQUIRE(fx_open(&f, 1 << 17, 0, &how, why, sizeof(why)) == 0);
    CHECK_EQ_INT(how, RC_RING_RECREATED);
    CHECK(strstr(why, "geometry changed (capacity 65536 -> 131072") != NULL);
    CHECK(rc_ring_epoch(f.w) != epoch);
    CHECK_EQ_U64(rc_ring_capacity(f.w), 1 << 17);
    fx_done(&f);
}

TEST(second_writer_is_refused)
{
    fixture_t f = {0}, g = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    memcpy(g.dir, f.dir, sizeof(g.dir));
    rc_ring_geom_t geom = {.capacity = 4096};
    rc_ring_opened_t how;
    char why[64], err[256];
    CHECK(rc_ring_writer_open(&g.w, f.dir, "s", &geom, &how, why, sizeof(why), err, sizeof(err)) == -1);
    CHECK(strstr(err, "another writer holds this ring") != NULL);
    fx_done(&f);
}

TEST(invalid_ring_name_is_refused)
{
    rc_ring_t *w;
    rc_ring_geom_t geom = {.capacity = 4096};
    rc_ring_opened_t how;
    char why[64], err[256];
    CHECK(rc_ring_writer_open(&w, "/tmp", "../etc", &geom, &how, why, sizeof(why), err, sizeof(err)) == -1);
    CHECK_EQ_STR(err, "invalid ring name \"../etc\"");
}

/* --- wrap, PAD, eviction --------------------------------------------------------------------------- */

TEST(wrap_writes_pad_and_readers_cross_it)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    /* 48 + 300 -> 352 bytes a record: the 12th does not fit before 4096 and forces a PAD. */
    rc_cursor_t c = {0, 0};
    uint64_t seqs[64];
    int total = 0;
    for (int i = 0; i < 30; i++) {
        CHECK(put_sized(f.w, 0, i, 300) == 0);
        rc_ring_publish(f.w);
        int n = read_all(f.w, c, seqs, NULL, 64);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_U64(seqs[0], (uint64_t)i);
        rc_ring_head(f.w, &c);
        total += n;
    }
    CHECK_EQ_INT(total, 30);
    CHECK(rc_ring_counter(f.w, RC_CTR_PADS) >= 2);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(eviction_by_bytes_keeps_newest_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 100; i++)
        CHECK(put_sized(f.w, 0, i, 200) == 0); /* 248 bytes each: at most 16 fit in 4096 */
    rc_ring_publish(f.w);
    rc_cursor_t old;
    REQUIRE(rc_ring_oldest(f.w, &old) == 0);
    uint64_t seqs[32];
    int n = read_all(f.w, old, seqs, NULL, 32);
    CHECK(n >= 14 && n <= 16);
    CHECK_EQ_U64(seqs[n - 1], 99);
    CHECK_EQ_U64(old.seq, (uint64_t)(100 - n));
    CHECK_EQ_U64(rc_ring_counter(f.w, RC_CTR_EVICTED), (uint64_t)(100 - n));
    validate_ok(f.w);
    fx_done(&f);
}

TEST(eviction_by_index_slots_bounds_live_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 16, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 100; i++)
        CHECK(put(f.w, 0, i, "data: s\n\n") == 0);
    rc_ring_publish(f.w);
    rc_cursor_t old, head;
    rc_ring_oldest(f.w, &old);
    rc_ring_head(f.w, &head);
    CHECK_EQ_U64(head.seq - old.seq, 16); /* bytes would hold all 100: the index is the limit */
    CHECK_EQ_INT(read_all(f.w, old, NULL, NULL, 0), 16);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(batch_larger_than_ring_is_published_before_eviction)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    /* No explicit publish: the writer must publish before evicting its own unpublished records. */
    for (int i = 0; i < 50; i++)
        CHECK(put_sized(f.w, 0, i, 200) == 0);
    rc_cursor_t head, old;
    rc_ring_head(f.w, &head);
    CHECK(head.seq > 0);
    rc_ring_oldest(f.w, &old);
    CHECK(old.seq <= head.seq);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(record_larger_than_max_is_refused)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    CHECK_EQ_U64(rc_ring_max_record(f.w), 1024);
    CHECK_EQ_INT(put_sized(f.w, 0, 0, 1024 - RC_REC_HDR_SIZE - 1), 0);
    CHECK_EQ_INT(put_sized(f.w, 0, 1, 1024 - RC_REC_HDR_SIZE + 1), -1);
    fx_done(&f);
}

TEST(duplicate_offset_is_not_stored_twice)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    CHECK_EQ_INT(put(f.w, 0, 7, "data: a\n\n"), 0);
    CHECK_EQ_INT(put(f.w, 0, 7, "data: a\n\n"), 1);
    CHECK_EQ_INT(put(f.w, 0, 3, "data: a\n\n"), 1);
    CHECK_EQ_INT(put(f.w, 0, 9, "data: b\n\n"), 0); /* gaps are fine: compacted topics have them */
    rc_ring_publish(f.w);
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    CHECK_EQ_U64(head.seq, 2);
    validate_ok(f.w);
    fx_done(&f);
}

/* --- readers: lapping and buffers ------------------------------------------------------------------- */

TEST(lapped_reader_is_told_and_resyncs_at_oldest)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    rc_cursor_t c = {0, 0};
    for (int i = 0; i < 40; i++)
        put_sized(f.w, 0, i, 200);
    rc_ring_publish(f.w);
    uint64_t buf[1024];
    size_t nb;
    CHECK_EQ_INT(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb), RC_READ_LAPPED);
    CHECK_EQ_U64(c.seq, 0); /* unchanged */
    rc_cursor_t old;
    REQUIRE(rc_ring_oldest(f.w, &old) == 0);
    CHECK(old.seq > 0);
    CHECK_EQ_INT(rc_ring_read(f.w, &old, buf, sizeof(buf), &nb), RC_READ_OK);
    fx_done(&f);
}

TEST(read_into_small_buffer_is_toobig)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    put_sized(f.w, 0, 0, 500);
    rc_ring_publish(f.w);
    rc_cursor_t c = {0, 0};
    uint64_t buf[64];
    size_t nb;
    CHECK_EQ_INT(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb), RC_READ_TOOBIG);
    CHECK_EQ_U64(c.pos, 0);
    fx_done(&f);
}

TEST(read_returns_only_whole_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 3; i++)
        put_sized(f.w, 0, i, 100); /* 156 -> 160 bytes each */
    rc_ring_publish(f.w);
    rc_cursor_t c = {0, 0};
    uint64_t buf[42]; /* 336 bytes: two whole records */
    size_t nb;
    CHECK_EQ_INT(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb), RC_READ_OK);
    CHECK_EQ_U64(nb, 320);
    CHECK_EQ_U64(c.seq, 2);
    CHECK_EQ_INT(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb), RC_READ_OK);
    CHECK_EQ_U64(c.seq, 3);
    fx_done(&f);
}

/* --- lookups ---------------------------------------------------------------------------------------- */

TEST(find_seq_at_tail_head_evicted_and_future)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 40; i++)
        put_sized(f.w, 0, i, 200);
    rc_ring_publish(f.w);
    rc_cursor_t old, head, c;
    rc_ring_oldest(f.w, &old);
    rc_ring_head(f.w, &head);
    CHECK_EQ_INT(rc_ring_find_seq(f.w, old.seq, &c), RC_FOUND); /* the tail */
    CHECK_EQ_U64(c.pos, old.pos);
    CHECK_EQ_INT(rc_ring_find_seq(f.w, 39, &c), RC_FOUND); /* the newest */
    CHECK_EQ_U64(c.seq, 39);
    CHECK_EQ_INT(rc_ring_find_seq(f.w, 40, &c), RC_EXPECTED); /* the next to come */
    CHECK_EQ_U64(c.pos, head.pos);
    CHECK_EQ_INT(rc_ring_find_seq(f.w, 41, &c), RC_NOTFOUND);         /* never existed */
    CHECK_EQ_INT(rc_ring_find_seq(f.w, old.seq - 1, &c), RC_EXPIRED); /* just evicted */
    CHECK_EQ_U64(c.seq, old.seq);
    CHECK_EQ_INT(rc_ring_find_seq(f.w, 0, &c), RC_EXPIRED);
    fx_done(&f);
}

TEST(find_offset_is_exact_for_every_offset_of_every_lane)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 20, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 3);
    /* Lanes interleaved unevenly; lane 2 skips offsets as a compacted topic does. */
    int64_t next[3] = {0, 100, 0};
    for (int i = 0; i < 3000; i++) {
        int lane = i % 7 == 0 ? 1 : i % 3 == 0 ? 2 : 0;
        put(f.w, lane, next[lane], "data: o\n\n");
        next[lane] += lane == 2 ? 3 : 1;
        if (i % 50 == 0)
            rc_ring_publish(f.w);
    }
    rc_ring_publish(f.w);
    int bad = 0;
    for (int lane = 0; lane < 3; lane++) {
        int64_t first = lane == 1 ? 100 : 0;
        for (int64_t want = first; want < next[lane] && bad < 5; want++) {
            rc_found_t fo;
            rc_lookup_t res = rc_ring_find_offset(f.w, (uint32_t)lane, want, &fo);
            int64_t expect = lane == 2 ? (want + 2) / 3 * 3 : want; /* the first kept offset >= want */
            int64_t last = lane == 2 ? next[lane] - 3 : next[lane] - 1;
            if (expect > last) {
                if (res != RC_EXPECTED)
                    TAP_FAIL("lane %d want %lld: %s, want expected", lane, (long long)want, rc_lookup_str(res));
                continue;
            }
            if (res != RC_FOUND || fo.offset != expect) {
                TAP_FAIL("lane %d want %lld: %s offset %lld", lane, (long long)want, rc_lookup_str(res),
                         (long long)fo.offset);
                bad++;
                continue;
            }
            uint64_t b[64];
            size_t nb, off = 0;
            rc_record_t rec;
            rc_cursor_t c = fo.at;
            if (rc_ring_read(f.w, &c, b, sizeof(b), &nb) != RC_READ_OK || !rc_ring_next_record(b, nb, &off, &rec) ||
                rec.h.lane != lane || rec.h.offset != expect) {
                TAP_FAIL("lane %d want %lld: cursor does not point at the record", lane, (long long)want);
                bad++;
            }
        }
    }
    fx_done(&f);
}

TEST(find_offset_past_the_lane_is_expected_at_head)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 2);
    for (int i = 0; i < 10; i++)
        put(f.w, 0, i, "data: e\n\n");
    rc_ring_publish(f.w);
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    rc_found_t fo;
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 10, &fo), RC_EXPECTED);
    CHECK_EQ_U64(fo.at.seq, head.seq);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 1000, &fo), RC_EXPECTED);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 1, 0, &fo), RC_EXPECTED); /* a lane with no record yet */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 5, 0, &fo), RC_EXPECTED); /* a lane that does not exist */
    fx_done(&f);
}

TEST(find_offset_evicted_is_expired_with_missed_count)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 100; i++)
        put_sized(f.w, 0, 1000 + i, 200);
    rc_ring_publish(f.w);
    rc_cursor_t old;
    rc_ring_oldest(f.w, &old);
    int64_t first_kept = 1000 + (int64_t)old.seq;
    rc_found_t fo;
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 1000, &fo), RC_EXPIRED);
    CHECK_EQ_INT(fo.offset, first_kept);
    CHECK_EQ_U64(fo.missed, (uint64_t)(first_kept - 1000));
    CHECK_EQ_U64(fo.at.seq, old.seq);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first_kept, &fo), RC_FOUND); /* the oldest itself: exact */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first_kept + 1, &fo), RC_FOUND);
    fx_done(&f);
}

TEST(find_offset_all_evicted_is_expired_at_head)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 2);
    for (int i = 0; i < 5; i++)
        put_sized(f.w, 0, i, 200);
    for (int i = 0; i < 40; i++)
        put_sized(f.w, 1, i, 200); /* lane 1 pushes every record of lane 0 out */
    rc_ring_publish(f.w);
    rc_found_t fo;
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 2, &fo), RC_EXPIRED);
    CHECK_EQ_U64(fo.missed, 3);
    CHECK_EQ_U64(fo.at.seq, head.seq);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 5, &fo), RC_EXPECTED); /* nothing of lane 0 was missed */
    fx_done(&f);
}

TEST(find_offset_after_reset_searches_the_new_history)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 20; i++)
        put(f.w, 0, i, "data: r\n\n");
    /* The topic was recreated: offsets restart at 0 after a RESET marker. */
    rc_rec_in_t reset = {.type = RC_REC_RESET, .lane = 0, .partition = 0, .offset = 0};
    CHECK_EQ_INT(rc_ring_append(f.w, &reset), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(put(f.w, 0, i, "data: n\n\n"), 0);
    rc_ring_publish(f.w);
    rc_found_t fo;
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 0, &fo), RC_FOUND); /* the marker comes first */
    CHECK_EQ_U64(fo.at.seq, 20);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 3, &fo), RC_FOUND); /* offset 3 of the new history */
    CHECK_EQ_U64(fo.at.seq, 24);
    /* 15 existed only before the reset: the ring's current history has not reached it. */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 15, &fo), RC_EXPECTED);
    CHECK_EQ_U64(rc_ring_counter(f.w, RC_CTR_RESETS), 1);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(find_offset_tells_holes_from_losses)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    /* A compacted or transactional log: only every third offset holds a record. */
    for (int i = 0; i < 100; i++)
        put_sized(f.w, 0, 3 * i, 200);
    rc_ring_publish(f.w);
    rc_cursor_t old;
    rc_ring_oldest(f.w, &old);
    int64_t first = 3 * (int64_t)old.seq; /* the oldest record kept; first - 3 was evicted */
    REQUIRE(old.seq > 2);
    rc_found_t fo;
    /* A client that had first - 3 wants first - 2: only holes lie between, nothing was lost. */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first - 2, &fo), RC_FOUND);
    CHECK_EQ_U64(fo.at.seq, old.seq);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first - 1, &fo), RC_FOUND);
    /* One that wants first - 3 lost that record: the range ends after it, the holes are not counted. */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first - 3, &fo), RC_EXPIRED);
    CHECK_EQ_INT(fo.lost_to, first - 2);
    CHECK_EQ_U64(fo.missed, 1);
    CHECK_EQ_U64(fo.at.seq, old.seq);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, first - 5, &fo), RC_EXPIRED);
    CHECK_EQ_INT(fo.lost_to, first - 2);
    /* Within the ring, a want in a hole is the next record, whatever the checkpoints. */
    for (int64_t want = first; want < 300; want++) {
        CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, want, &fo), want > 297 ? RC_EXPECTED : RC_FOUND);
        if (want <= 297)
            CHECK_EQ_INT(fo.offset, (want + 2) / 3 * 3);
    }
    validate_ok(f.w);
    fx_done(&f);
}

TEST(hole_from_follows_lane_advance_and_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    CHECK_EQ_INT(rc_ring_lane_advance(f.w, 0, 10), 0); /* the lane starts at 10 */
    CHECK_EQ_INT(put(f.w, 0, 12, "data: a\n\n"), 0);
    CHECK_EQ_INT(put(f.w, 0, 13, "data: b\n\n"), 0);
    CHECK_EQ_INT(put(f.w, 0, 20, "data: c\n\n"), 0);
    rc_ring_publish(f.w);
    uint64_t buf[256];
    rc_cursor_t c = {0, 0};
    size_t nb, off = 0;
    REQUIRE(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb) == RC_READ_OK);
    rc_record_t rec;
    int64_t want[3][2] = {{12, 10}, {13, 13}, {20, 14}};
    for (int i = 0; i < 3; i++) {
        REQUIRE(rc_ring_next_record(buf, nb, &off, &rec));
        CHECK_EQ_INT(rec.h.offset, want[i][0]);
        CHECK_EQ_INT(rec.h.hole_from, want[i][1]);
    }
    validate_ok(f.w);
    fx_done(&f);
}

TEST(skip_records_are_records_of_their_lane)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    CHECK_EQ_INT(put(f.w, 0, 0, "data: a\n\n"), 0);
    rc_rec_in_t skip = {.type = RC_REC_SKIP,
                        .lane = 0,
                        .partition = 0,
                        .offset = 1,
                        .flags = RC_RECF_KEY_UNKNOWN,
                        .frame = "event: skipped\ndata: {}\n\n",
                        .frame_len = 25};
    CHECK_EQ_INT(rc_ring_append(f.w, &skip), 0);
    CHECK_EQ_INT(rc_ring_append(f.w, &skip), 1); /* the same offset again: a duplicate */
    CHECK_EQ_INT(put(f.w, 0, 1, "data: again\n\n"), 1);
    CHECK_EQ_INT(put(f.w, 0, 2, "data: b\n\n"), 0);
    rc_ring_publish(f.w);
    rc_found_t fo;
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 1, &fo), RC_FOUND);
    CHECK_EQ_U64(fo.at.seq, 1);
    uint64_t buf[256];
    rc_cursor_t c = {0, 0};
    size_t nb, off = 0;
    REQUIRE(rc_ring_read(f.w, &c, buf, sizeof(buf), &nb) == RC_READ_OK);
    rc_record_t rec;
    REQUIRE(rc_ring_next_record(buf, nb, &off, &rec));
    REQUIRE(rc_ring_next_record(buf, nb, &off, &rec));
    CHECK_EQ_INT(rec.h.type, RC_REC_SKIP);
    CHECK_EQ_INT(rec.h.flags, RC_RECF_KEY_UNKNOWN);
    CHECK_EQ_U64(c.seq, 3);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(find_offset_names_the_reset_that_began_the_history)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 2);
    for (int i = 0; i < 20; i++)
        put(f.w, 0, i, "data: r\n\n");
    put(f.w, 1, 0, "data: other\n\n");
    rc_rec_in_t reset = {.type = RC_REC_RESET, .lane = 0, .partition = 0, .offset = 0};
    CHECK_EQ_INT(rc_ring_append(f.w, &reset), 0); /* seq 21 */
    for (int i = 0; i < 5; i++)
        put(f.w, 0, i, "data: n\n\n");
    rc_ring_publish(f.w);
    rc_found_t fo;
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 3, &fo), RC_FOUND);
    CHECK_EQ_INT(fo.history_reset, 1);
    CHECK_EQ_U64(fo.history_seq, 21);
    CHECK_EQ_INT(fo.history_offset, 0);
    CHECK_EQ_INT(fo.history_prev, 20); /* the old history had reached offset 20 */
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 1, 0, &fo), RC_FOUND);
    CHECK_EQ_INT(fo.history_reset, 0); /* lane 1 never restarted */
    rc_ring_set_counter(f.w, RC_CTR_NO_LANE, 7);
    rc_ring_publish(f.w);
    CHECK_EQ_U64(rc_ring_counter(f.w, RC_CTR_NO_LANE), 7);
    validate_ok(f.w);
    fx_done(&f);
}

/* Brute force: the first record of the lane with offset >= want, over the whole live ring. */
static int64_t brute_first_ge(const rc_ring_t *r, uint32_t lane, int64_t want, uint64_t *seq)
{
    static uint64_t buf[1 << 14];
    rc_cursor_t c;
    rc_ring_oldest(r, &c);
    for (;;) {
        size_t nb, off = 0;
        if (rc_ring_read(r, &c, buf, sizeof(buf), &nb) != RC_READ_OK)
            return -1;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec))
            if (rec.h.lane == lane && rec.h.offset >= want) {
                *seq = rec.h.seq;
                return rec.h.offset;
            }
    }
}

TEST(checkpoint_search_matches_brute_force_on_a_wrapped_ring)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 18, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 4);
    /* Dense, sparse and bursty lanes over a ring that wrapped many times. */
    int64_t next[4] = {0};
    unsigned rnd = 12345;
    for (int i = 0; i < 60000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        int lane = (rnd >> 16) % 100 < 70 ? 0 : (rnd >> 16) % 100 < 72 ? 1 : (i / 500) % 2 ? 2 : 3;
        put_sized(f.w, lane, next[lane], 40 + (rnd >> 8) % 120);
        next[lane] += 1 + (lane == 3 && (rnd & 1));
        if (i % 97 == 0)
            rc_ring_publish(f.w);
    }
    rc_ring_publish(f.w);
    validate_ok(f.w);
    rc_cursor_t old;
    rc_ring_oldest(f.w, &old);
    int bad = 0;
    for (int t = 0; t < 4000 && bad < 5; t++) {
        rnd = rnd * 1103515245u + 12345u;
        uint32_t lane = (rnd >> 16) % 4;
        int64_t want = next[lane] - 1 - (int64_t)((rnd >> 4) % 3000);
        if (want < 0)
            want = 0;
        rc_found_t fo;
        rc_lookup_t res = rc_ring_find_offset(f.w, lane, want, &fo);
        uint64_t bseq = 0;
        int64_t boff = brute_first_ge(f.w, lane, want, &bseq);
        if (boff < 0) {
            if (res != RC_EXPECTED) {
                TAP_FAIL("lane %u want %lld: %s but nothing >= want is kept", lane, (long long)want,
                         rc_lookup_str(res));
                bad++;
            }
            continue;
        }
        if ((res != RC_FOUND && res != RC_EXPIRED) || fo.at.seq != bseq || fo.offset != boff) {
            TAP_FAIL("lane %u want %lld: %s seq %llu offset %lld, brute force seq %llu offset %lld", lane,
                     (long long)want, rc_lookup_str(res), (unsigned long long)fo.at.seq, (long long)fo.offset,
                     (unsigned long long)bseq, (long long)boff);
            bad++;
        }
    }
    fx_done(&f);
}

TEST(lane_advance_sets_next_offset_and_refuses_older_records)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 2);
    CHECK_EQ_INT(rc_ring_lane_advance(f.w, 0, 500), 0);
    for (int i = 0; i < 30; i++)
        put(f.w, 1, i, "data: other lane\n\n");
    rc_ring_publish(f.w);
    int64_t next;
    rc_ring_lane_info(f.w, 0, NULL, 0, NULL, &next);
    CHECK_EQ_INT(next, 500);
    rc_found_t fo;
    rc_cursor_t head;
    rc_ring_head(f.w, &head);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 500, &fo), RC_EXPECTED);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 480, &fo), RC_EXPIRED); /* before this ring's start */
    CHECK_EQ_U64(fo.missed, 20);
    CHECK_EQ_U64(fo.at.seq, head.seq);
    CHECK_EQ_INT(put(f.w, 0, 499, "data: old\n\n"), 1);
    CHECK_EQ_INT(put(f.w, 0, 500, "data: first\n\n"), 0);
    CHECK_EQ_INT(rc_ring_lane_advance(f.w, 0, 400), -1); /* never backwards */
    rc_ring_publish(f.w);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 480, &fo), RC_EXPIRED);
    CHECK_EQ_INT(fo.offset, 500);
    CHECK_EQ_U64(fo.at.seq, 30);
    /* Records 501..502 were skipped by the writer: the lane stands at 503 with no record there. */
    CHECK_EQ_INT(rc_ring_lane_advance(f.w, 0, 503), 0);
    rc_ring_publish(f.w);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 503, &fo), RC_EXPECTED);
    CHECK_EQ_INT(rc_ring_find_offset(f.w, 0, 501, &fo), RC_EXPECTED);
    CHECK_EQ_INT(put(f.w, 0, 502, "data: skipped\n\n"), 1);
    validate_ok(f.w);
    fx_done(&f);
}

TEST(find_time_finds_the_first_record_at_or_after_a_timestamp)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 40; i++)
        put_sized(f.w, 0, i, 100); /* timestamp 1000 + i; the 4 KiB ring keeps the newest ~27 */
    rc_ring_publish(f.w);
    rc_cursor_t c, old, head;
    rc_ring_oldest(f.w, &old);
    rc_ring_head(f.w, &head);
    CHECK_EQ_INT(rc_ring_find_time(f.w, 1035, &c), RC_FOUND);
    CHECK_EQ_U64(c.seq, 35);
    CHECK_EQ_INT(rc_ring_find_time(f.w, 1039, &c), RC_FOUND);
    CHECK_EQ_U64(c.seq, 39);
    CHECK_EQ_INT(rc_ring_find_time(f.w, 1040, &c), RC_EXPECTED); /* newer than everything kept */
    CHECK_EQ_U64(c.seq, head.seq);
    CHECK_EQ_INT(rc_ring_find_time(f.w, 0, &c), RC_EXPIRED); /* older than the oldest kept */
    CHECK_EQ_U64(c.seq, old.seq);
    rc_rec_hdr_t hd;
    CHECK_EQ_INT(rc_ring_peek(f.w, 36, &c, &hd), RC_FOUND);
    CHECK_EQ_INT(hd.timestamp, 1036);
    CHECK_EQ_INT(rc_ring_peek(f.w, 0, &c, &hd), RC_EXPIRED);
    fx_done(&f);
}

TEST(lane_info_reports_topic_partition_and_next_offset)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    CHECK_EQ_INT(rc_ring_lane(f.w, "orders", 0), 0);
    CHECK_EQ_INT(rc_ring_lane(f.w, "payments", 0), 1);
    CHECK_EQ_INT(rc_ring_lane(f.w, "orders", 1), 2);
    CHECK_EQ_INT(rc_ring_lane(f.w, "orders", 0), 0);
    rc_rec_in_t in = {.type = RC_REC_DATA, .lane = 1, .partition = 0, .offset = 41};
    CHECK_EQ_INT(rc_ring_append(f.w, &in), 0);
    rc_ring_publish(f.w);
    char topic[64];
    int32_t part;
    int64_t next;
    CHECK(rc_ring_lane_info(f.w, 1, topic, sizeof(topic), &part, &next) == 0);
    CHECK_EQ_STR(topic, "payments");
    CHECK_EQ_INT(part, 0);
    CHECK_EQ_INT(next, 42);
    CHECK(rc_ring_lane_info(f.w, 2, topic, sizeof(topic), &part, &next) == 0);
    CHECK_EQ_STR(topic, "orders");
    CHECK_EQ_INT(part, 1);
    CHECK_EQ_INT(next, -1);
    CHECK(rc_ring_lane_info(f.w, 3, topic, sizeof(topic), &part, &next) == -1);
    fx_done(&f);
}

TEST(status_fields_reach_readers)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 4096, 0, NULL, NULL, 0) == 0);
    rc_ring_set_state(f.w, RC_STATE_STREAMING);
    rc_ring_heartbeat(f.w);
    rc_ring_count(f.w, RC_CTR_SKIPPED, 3);
    rc_ring_publish(f.w);
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    rc_ring_t *r;
    REQUIRE(rc_ring_open_reader(&r, path, err, sizeof(err)) == 0);
    CHECK_EQ_INT(rc_ring_state(r), RC_STATE_STREAMING);
    CHECK(rc_ring_heartbeat_ns(r) > 0);
    CHECK_EQ_U64(rc_ring_counter(r, RC_CTR_SKIPPED), 3);
    CHECK_EQ_U64(rc_ring_writer_pid(r), (uint64_t)getpid());
    rc_ring_close(f.w);
    f.w = NULL;
    CHECK_EQ_INT(rc_ring_state(r), RC_STATE_STOPPED);
    rc_ring_close(r);
    fx_done(&f);
}

/* --- validate catches each kind of corruption ------------------------------------------------------ */

/* Builds a healthy ring of 3 lanes (a wrap, a PAD, evictions), returns a malloc'd copy of its file. */
static uint8_t *healthy_image(size_t *len, uint64_t *data_off)
{
    fixture_t f = {0};
    fx_dir(&f);
    if (fx_open(&f, 4096, 64, NULL, NULL, 0) != 0)
        abort();
    add_lanes(f.w, 3);
    for (int i = 0; i < 60; i++)
        put_sized(f.w, i % 3, i / 3, 60 + i);
    rc_ring_publish(f.w);
    rc_ring_close(f.w);
    f.w = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    uint8_t *img = malloc((size_t)st.st_size);
    if (read(fd, img, (size_t)st.st_size) != st.st_size)
        abort();
    close(fd);
    fx_done(&f);
    *len = (size_t)st.st_size;
    *data_off = (uint64_t)st.st_size - 4096;
    return img;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

static void set64(uint8_t *p, size_t off, uint64_t v)
{
    memcpy(p + off, &v, 8);
}

/* Position in the image of the record with this seq (through the public lookup). */
static uint64_t rec_off(uint8_t *img, size_t len, uint64_t data_off, uint64_t seq)
{
    rc_ring_t *r;
    char err[256];
    rc_cursor_t c;
    if (rc_ring_attach(&r, img, len, err, sizeof(err)) != 0 || rc_ring_find_seq(r, seq, &c) != RC_FOUND)
        abort();
    rc_ring_close(r);
    return data_off + (c.pos & 4095);
}

/* Attaches (attach_err != NULL: expects attach to fail with it) or validates deep (expects err). */
static void expect_corrupt(uint8_t *img, size_t len, const char *want)
{
    rc_ring_t *r;
    char err[256] = "";
    if (rc_ring_attach(&r, img, len, err, sizeof(err)) == 0) {
        if (rc_ring_validate(r, true, err, sizeof(err)) == 0)
            TAP_FAIL("corruption not detected (wanted \"%s\")", want);
        rc_ring_close(r);
    }
    if (strstr(err, want) == NULL)
        TAP_FAIL("error \"%s\" does not mention \"%s\"", err, want);
    free(img);
}

TEST(healthy_image_validates)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    rc_ring_t *r;
    char err[256];
    REQUIRE(rc_ring_attach(&r, img, len, err, sizeof(err)) == 0);
    validate_ok(r);
    rc_ring_close(r);
    free(img);
}

TEST(validate_catches_bad_magic)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    img[OFF_MAGIC] ^= 1;
    expect_corrupt(img, len, "not a ringcast ring");
}

TEST(validate_catches_other_layout_version)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    img[OFF_VERSION] = 9;
    expect_corrupt(img, len, "layout version 9");
}

TEST(validate_catches_damaged_identity)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    set64(img, OFF_CAPACITY, 8192); /* a plausible geometry, but not the one the ring was made with */
    expect_corrupt(img, len, "identity checksum mismatch");
}

TEST(validate_catches_size_mismatch)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    expect_corrupt(img, len - 4096, "size mismatch");
}

TEST(validate_catches_tail_past_head)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t gen = get64(img, OFF_HEAD_GEN);
    set64(img, OFF_TAIL_POS, get64(img, OFF_HEAD_POS0 + (gen & 1) * 16) + 8);
    expect_corrupt(img, len, "are not within one capacity");
}

TEST(validate_catches_tail_seq_past_next_seq)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    set64(img, OFF_TAIL_SEQ, 65); /* the next seq is 60 */
    expect_corrupt(img, len, "tail seq 65 and next seq 60 are not within 64 index slots");
}

TEST(validate_catches_bad_record_length)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t o = rec_off(img, len, d, 55);
    uint32_t bad = 3;
    memcpy(img + o, &bad, 4);
    expect_corrupt(img, len, "invalid header");
}

TEST(validate_catches_pad_away_from_the_wrap)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t o = rec_off(img, len, d, 55);
    uint16_t pad = RC_REC_PAD;
    memcpy(img + o + 4, &pad, 2);
    expect_corrupt(img, len, "invalid header");
}

TEST(validate_catches_broken_sequence)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t o = rec_off(img, len, d, 55);
    set64(img, o + 8, 99);
    expect_corrupt(img, len, "has seq 99, expected 55");
}

TEST(validate_catches_stale_index_slot)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    set64(img, HDR + (55 % 64) * 16 + 8, 0); /* slot of seq 55: wrong position */
    expect_corrupt(img, len, "index slot of seq 55");
}

TEST(validate_catches_offsets_out_of_order)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t o = rec_off(img, len, d, 57); /* lane 0, offset 19; the lane's previous record had 18 */
    set64(img, o + 16, 5);
    expect_corrupt(img, len, "does not follow");
}

TEST(validate_catches_lane_next_offset_mismatch)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint64_t gen = get64(img, OFF_HEAD_GEN);
    uint64_t lanes_off = HDR + 64 * 16;
    set64(img, lanes_off + 0 * LANE_SIZE + LANE_ST + (gen & 1) * 64 + ST_NEXT_OFFSET, 7);
    expect_corrupt(img, len, "lane 0: next offset 7 but its last record says 20");
}

TEST(validate_catches_bad_checkpoint)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    /* Geometry of healthy_image: 64 index slots, 8 lanes, interval 8 -> 16 checkpoint slots a lane. */
    uint64_t ck_off = HDR + 64 * 16 + 8 * LANE_SIZE;
    uint64_t gen = get64(img, OFF_HEAD_GEN);
    uint64_t ck_head = get64(img, HDR + 64 * 16 + LANE_ST + (gen & 1) * 64);
    set64(img, ck_off + ((ck_head - 1) % 16) * 8, 56); /* seq 56 is a record of lane 2, not lane 0 */
    expect_corrupt(img, len, "lane 0: checkpoint");
}

TEST(validate_catches_impossible_lane_count)
{
    size_t len;
    uint64_t d;
    uint8_t *img = healthy_image(&len, &d);
    uint32_t n = 9999;
    memcpy(img + OFF_N_LANES, &n, 4);
    expect_corrupt(img, len, "9999 lanes of 8");
}

/* A ring file truncated under its mappings: with the SIGBUS guard, a reader's and the writer's next
 * access fault, the guard maps zero pages there and marks the ring damaged; the process lives on. */
TEST(sigbus_guard_survives_a_ring_file_truncated_under_reader_and_writer)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 64, NULL, NULL, 0) == 0);
    add_lanes(f.w, 1);
    for (int i = 0; i < 20; i++)
        REQUIRE(put(f.w, 0, i, "data: x\n\n") == 0);
    rc_ring_publish(f.w);
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    rc_ring_t *r;
    REQUIRE(rc_ring_open_reader(&r, path, err, sizeof(err)) == 0);
    REQUIRE(rc_ring_guard_sigbus() == 0);
    CHECK(rc_ring_check_file(f.w, err, sizeof(err)) == 0);
    rc_cursor_t c;
    CHECK(rc_ring_oldest(r, &c) == 0 && c.seq == 0);
    CHECK(!rc_ring_damaged(r));

    REQUIRE(truncate(path, 0) == 0);
    static uint64_t buf[1024];
    size_t n;
    rc_read_t rr = rc_ring_read(r, &c, buf, sizeof(buf), &n); /* faults, then reads zeros */
    CHECK(rc_ring_damaged(r));
    CHECK(rr != RC_READ_OK || n == 0);
    CHECK(rc_ring_check_file(f.w, err, sizeof(err)) == -1 && strstr(err, "truncated") != NULL);
    CHECK(!rc_ring_damaged(f.w));
    CHECK(put(f.w, 0, 20, "data: y\n\n") == 0); /* the writer's access faults too */
    rc_ring_publish(f.w);
    CHECK(rc_ring_damaged(f.w));
    CHECK(rc_ring_check_file(f.w, err, sizeof(err)) == -1 && strstr(err, "SIGBUS") != NULL);
    rc_ring_close(r);
    fx_done(&f);
}

TEST(check_file_notices_a_ring_removed_or_replaced)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 64, NULL, NULL, 0) == 0);
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    REQUIRE(unlink(path) == 0);
    CHECK(rc_ring_check_file(f.w, err, sizeof(err)) == -1 && strstr(err, "No such file") != NULL);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    REQUIRE(fd >= 0);
    close(fd);
    CHECK(rc_ring_check_file(f.w, err, sizeof(err)) == -1 && strstr(err, "replaced") != NULL);
    fx_done(&f);
}

/* --- iterating a copy (an edge's cached chunk) -------------------------------------------------- */

/* Three published records of 9-byte frames read into buf; returns the bytes copied. */
static size_t copy_three(fixture_t *f, uint64_t *buf, size_t len)
{
    fx_dir(f);
    if (fx_open(f, 1 << 16, 0, NULL, NULL, 0) != 0)
        abort();
    add_lanes(f->w, 1);
    for (int i = 0; i < 3; i++)
        if (put(f->w, 0, i, "data: x\n\n") != 0)
            abort();
    rc_ring_publish(f->w);
    rc_cursor_t c = {0, 0};
    size_t nb = 0;
    if (rc_ring_read(f->w, &c, buf, len, &nb) != RC_READ_OK)
        abort();
    return nb;
}

/* Records rc_ring_next_record() returns from off, until it stops; *stop is where it stopped. */
static int count_from(const void *buf, size_t len, size_t off, size_t *stop)
{
    rc_record_t rec;
    int n = 0;
    if (stop)
        *stop = SIZE_MAX;
    while (rc_ring_next_record(buf, len, &off, &rec)) {
        const uint8_t *end = (const uint8_t *)buf + len;
        if (rec.frame + rec.h.frame_len > end || rec.key < (const uint8_t *)buf)
            return -1;
        n++;
    }
    if (stop)
        *stop = off;
    return n;
}

enum { REC3 = 72 }; /* 56 + key 1 + frame 9 = 66, padded to 72 */

TEST(next_record_walks_a_healthy_copy_from_any_record_start)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    REQUIRE(nb == 3 * REC3);
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 3);
    CHECK_EQ_U64(stop, nb);
    CHECK_EQ_INT(count_from(buf, nb, REC3, NULL), 2);
    CHECK_EQ_INT(count_from(buf, nb, 2 * REC3, NULL), 1);
    CHECK_EQ_INT(count_from(buf, nb, nb, &stop), 0);
    CHECK_EQ_U64(stop, nb);
    fx_done(&f);
}

TEST(next_record_stops_at_an_offset_beyond_the_copy)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    size_t off = nb + 8, huge = SIZE_MAX - 3;
    rc_record_t rec;
    CHECK_EQ_INT(rc_ring_next_record(buf, nb, &off, &rec), 0);
    CHECK_EQ_U64(off, nb + 8);
    CHECK_EQ_INT(rc_ring_next_record(buf, nb, &huge, &rec), 0); /* no wrap-around in the bound check */
    CHECK_EQ_INT(count_from(buf, nb, nb - 4, NULL), 0);         /* less than a length and a type left */
    fx_done(&f);
}

TEST(next_record_refuses_an_offset_inside_a_record)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    /* From inside a record the "header" is other bytes (seq, offset, frame text): none of it may
     * come back as a record that points outside the copy. */
    for (size_t off = 1; off < nb; off++) {
        if (off % REC3 == 0)
            continue;
        int n = count_from(buf, nb, off, NULL);
        if (n != 0)
            TAP_FAIL("offset %zu inside a record gave %d records", off, n);
    }
    fx_done(&f);
}

TEST(next_record_stops_at_an_unknown_type)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    uint16_t type = 9;
    memcpy((uint8_t *)buf + REC3 + 4, &type, 2);
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    CHECK_EQ_U64(stop, REC3); /* left at the bad record: stop < len says it was not the end */
    fx_done(&f);
}

TEST(next_record_stops_at_a_length_below_the_header)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    uint32_t len = 40; /* room for part of a header only: the old iterator skipped it like a PAD */
    memcpy((uint8_t *)buf + REC3, &len, 4);
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    CHECK_EQ_U64(stop, REC3);
    len = 4;
    memcpy((uint8_t *)buf + REC3, &len, 4);
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    CHECK_EQ_U64(stop, REC3);
    fx_done(&f);
}

TEST(next_record_stops_when_the_parts_do_not_add_up_to_the_length)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    uint8_t *r2 = (uint8_t *)buf + REC3;
    rc_rec_hdr_t h;
    memcpy(&h, r2, sizeof(h));
    h.frame_len = 1u << 20; /* a frame far past the copy */
    memcpy(r2, &h, sizeof(h));
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    CHECK_EQ_U64(stop, REC3);
    h.frame_len = 9;
    h.key_len = 0; /* one byte short: the frame would start inside the key */
    memcpy(r2, &h, sizeof(h));
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    h.key_len = UINT32_MAX - 8; /* the sum wraps in 32 bits, not in 64 */
    h.frame_len = 10 + 56 + 1 + 9;
    memcpy(r2, &h, sizeof(h));
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 1);
    fx_done(&f);
}

TEST(next_record_stops_at_a_record_running_past_the_copy)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb - 8, 0, &stop), 2); /* the third record's padding is cut off */
    CHECK_EQ_U64(stop, 2 * REC3);
    uint8_t *r3 = (uint8_t *)buf + 2 * REC3;
    rc_rec_hdr_t h;
    memcpy(&h, r3, sizeof(h));
    h.len += 8;
    h.frame_len += 8; /* consistent in itself, but longer than what was copied */
    memcpy(r3, &h, sizeof(h));
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 2);
    CHECK_EQ_U64(stop, 2 * REC3);
    fx_done(&f);
}

TEST(next_record_skips_a_pad_and_goes_on)
{
    fixture_t f = {0};
    uint64_t buf[64];
    size_t nb = copy_three(&f, buf, sizeof(buf));
    uint16_t pad = RC_REC_PAD;
    memcpy((uint8_t *)buf + REC3 + 4, &pad, 2); /* a PAD needs no more than its length */
    size_t stop;
    CHECK_EQ_INT(count_from(buf, nb, 0, &stop), 2);
    CHECK_EQ_U64(stop, nb);
    fx_done(&f);
}

/* --- who may read the files ---------------------------------------------------------------------- */

static int mode_of(const char *path, gid_t *gid)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (gid)
        *gid = st.st_gid;
    return (int)(st.st_mode & 07777);
}

TEST(writer_makes_dir_0750_ring_0640_lock_0600_whatever_the_umask)
{
    fixture_t f = {0};
    fx_dir(&f);
    char sub[200], path[300], lock[300];
    snprintf(sub, sizeof(sub), "%s/rings", f.dir);
    rc_ring_geom_t g = {.capacity = 1 << 16};
    rc_ring_opened_t how;
    char why[256], err[256];
    mode_t old = umask(0);
    int rc = rc_ring_writer_open(&f.w, sub, "s", &g, &how, why, sizeof(why), err, sizeof(err));
    umask(old);
    REQUIRE(rc == 0);
    snprintf(path, sizeof(path), "%s/s.ring", sub);
    snprintf(lock, sizeof(lock), "%s/s.ring.lock", sub);
    gid_t gid = 0;
    CHECK_EQ_INT(mode_of(sub, &gid), RC_RING_DIR_MODE);
    CHECK_EQ_INT(gid, getegid());
    CHECK_EQ_INT(mode_of(path, NULL), RC_RING_FILE_MODE);
    CHECK_EQ_INT(mode_of(lock, NULL), RC_RING_LOCK_MODE);
    rc_ring_close(f.w);
    f.w = NULL;
    /* A umask that would keep the group out changes nothing either. */
    unlink(path);
    old = umask(0077);
    rc = rc_ring_writer_open(&f.w, sub, "s", &g, &how, why, sizeof(why), err, sizeof(err));
    umask(old);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(mode_of(path, NULL), RC_RING_FILE_MODE);
    rc_ring_close(f.w);
    f.w = NULL;
    unlink(path);
    unlink(lock);
    rmdir(sub);
    fx_done(&f);
}

TEST(writer_gives_the_ring_group_and_fixes_a_ring_an_older_version_left_0644)
{
    if (geteuid() != 0) { /* only root may give a file any group */
        printf("# not root: the ring group is the process's own group here\n");
        return;
    }
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    rc_ring_close(f.w);
    f.w = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    REQUIRE(chmod(path, 0644) == 0 && chmod(f.dir, 0755) == 0);
    rc_ring_set_group(4242);
    rc_ring_opened_t how;
    int rc = fx_open(&f, 1 << 16, 0, &how, NULL, 0);
    rc_ring_set_group((gid_t)-1);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(how, RC_RING_REOPENED);
    gid_t gid = 0;
    CHECK_EQ_INT(mode_of(path, &gid), RC_RING_FILE_MODE);
    CHECK_EQ_INT(gid, 4242);
    CHECK_EQ_INT(mode_of(f.dir, &gid), RC_RING_DIR_MODE);
    CHECK_EQ_INT(gid, 4242);
    fx_done(&f);
}

TEST(writer_leaves_a_shared_sticky_directory_alone)
{
    fixture_t f = {0};
    fx_dir(&f);
    REQUIRE(chmod(f.dir, 01777) == 0); /* like /dev/shm or /tmp: everybody's */
    REQUIRE(fx_open(&f, 1 << 16, 0, NULL, NULL, 0) == 0);
    CHECK_EQ_INT(mode_of(f.dir, NULL), 01777);
    char path[256];
    snprintf(path, sizeof(path), "%s/s.ring", f.dir);
    CHECK_EQ_INT(mode_of(path, NULL), RC_RING_FILE_MODE); /* the ring itself is still not world-readable */
    fx_done(&f);
}

int main(void)
{
    return tap_run();
}

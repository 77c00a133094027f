/*
 * Fuzz target: the ring reader over corrupted shared memory (common/ring.c). An edge maps rings it
 * did not write; a broken or hostile writer must not make it crash, loop or read out of bounds.
 *
 * The target owns a small healthy ring image (written once by the real writer: 3 lanes, a lane
 * reset, wrapped, with a PAD record) and damages a malloc'd copy of it with the fuzzer's bytes, so
 * that ASan sees any read outside the image. Input: one mode byte, then
 *   mode bit 0 clear: patches, each <offset: 2 bytes> <length-1: low 4 bits of 1 byte> <bytes>;
 *                     with bit 1 set the identity checksum is recomputed afterwards, so damaged
 *                     geometry fields reach the checks behind the checksum;
 *   mode bit 0 set:   the rest of the input overwrites one region (picked by the next byte:
 *                     head/tail lines, index, lanes, checkpoints or data) from its start.
 * Then every reader call runs over the copy. Invariants: calls return (libFuzzer's -timeout
 * catches a loop); a read that succeeds copied whole, dense, in-bounds records and moved the
 * cursor by exactly what it returned, one that fails left the cursor alone; FOUND lookups lead to
 * the record asked for; names come back NUL-terminated; and a ring that rc_ring_validate(deep)
 * accepts reads from its oldest record to its head with no error, record by record, every one
 * found again by its seq.
 *
 * Copies are parsed again later (an edge keeps recent chunks and clients re-read them from their
 * own offsets), so rc_ring_next_record() is also run on its own: over an exact-size malloc'd copy
 * of what a read returned with a few bytes changed by the fuzzer, and over the damaged data area
 * taken as a copy, from offsets the fuzzer picks (record starts, inside records, past the end).
 * Every record it returns lies inside the copy and is whole and consistent; it stops instead.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "ring.h"

/* Offsets of the image this target builds (rc_ring_geom_t below); ring.c pins the header lines. */
#define IDENT_HASH_OFF 384 /* line 6 */
#define CAPACITY       4096u

static uint8_t *image;
static size_t image_len;
static uint64_t data_off;

static void build_image(void)
{
    char dir[] = "/dev/shm/rc-fuzz-ring-XXXXXX", path[300], why[128], err[256];
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    rc_ring_geom_t g = {.capacity = CAPACITY, .index_slots = 32, .max_lanes = 4, .ckpt_interval = 2};
    rc_ring_t *w;
    rc_ring_opened_t how;
    FUZZ_CHECK(rc_ring_writer_open(&w, dir, "fz", &g, &how, why, sizeof(why), err, sizeof(err)) == 0);
    static const char *const topics[] = {"alpha", "beta", "alpha"};
    for (int l = 0; l < 3; l++)
        FUZZ_CHECK(rc_ring_lane(w, topics[l], l) == l);
    char frame[400];
    int64_t next[3] = {0, 0, 0};
    for (int i = 0; i < 60; i++) {
        int lane = i % 3;
        int n = snprintf(frame, sizeof(frame), "id: AAAA%d\nevent: e\ndata: value %d %.*s\n\n", i, i, (i * 29) % 200,
                         "----------------------------------------------------------------------------------------"
                         "----------------------------------------------------------------------------------------"
                         "--------------------------");
        rc_rec_in_t in = {.type = (i == 40) ? RC_REC_RESET : RC_REC_DATA,
                          .lane = (uint16_t)lane,
                          .partition = lane,
                          .offset = i == 40 ? 0 : next[lane],
                          .timestamp = 1700000000000 + i * 10,
                          .key = "k",
                          .key_len = 1,
                          .event = "e",
                          .event_len = 1,
                          .frame = frame,
                          .frame_len = (uint32_t)n};
        FUZZ_CHECK(rc_ring_append(w, &in) == 0);
        next[lane] = i == 40 ? 0 : next[lane] + 1;
        if (i % 4 == 3)
            rc_ring_publish(w);
    }
    rc_ring_publish(w);
    rc_ring_close(w);
    snprintf(path, sizeof(path), "%s/fz.ring", dir);
    int fd = open(path, O_RDONLY);
    struct stat st;
    FUZZ_CHECK(fd >= 0 && fstat(fd, &st) == 0);
    image_len = (size_t)st.st_size;
    image = malloc(image_len);
    FUZZ_CHECK(read(fd, image, image_len) == (ssize_t)image_len);
    close(fd);
    unlink(path);
    snprintf(path, sizeof(path), "%s/fz.ring.lock", dir);
    unlink(path);
    rmdir(dir);
    data_off = image_len - CAPACITY;

    /* The healthy image passes every check: the target's premise. */
    rc_ring_t *r;
    FUZZ_CHECK(rc_ring_attach(&r, image, image_len, err, sizeof(err)) == 0);
    if (rc_ring_validate(r, true, err, sizeof(err)) != 0)
        fprintf(stderr, "template ring does not validate: %s\n", err);
    FUZZ_CHECK(rc_ring_validate(r, true, err, sizeof(err)) == 0);
    rc_cursor_t old, head;
    FUZZ_CHECK(rc_ring_oldest(r, &old) == 0 && rc_ring_head(r, &head) == 0);
    FUZZ_CHECK(head.seq == 60 && old.seq > 0 && head.pos > CAPACITY); /* it evicted and wrapped */
    rc_ring_close(r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    build_image();
    return 0;
}

static uint64_t ident_hash(const uint8_t *p)
{
    uint64_t x = 0xcbf29ce484222325ull;
    for (int i = 0; i < 64; i++)
        x = (x ^ p[i]) * 0x100000001b3ull;
    return x;
}

static void damage(uint8_t *b, const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    fuzz_in_t in = {data + 1, size - 1};
    uint8_t mode = data[0];
    if (mode & 1) {
        /* Regions: head/tail/bridge lines, index, lanes, checkpoints, data. */
        static const uint64_t starts[] = {64, 8192, 8192 + 32 * 16, 8192 + 32 * 16 + 4 * 192};
        uint64_t region = fuzz_take_u64(&in, 1) % 5;
        uint64_t at = region < 4 ? starts[region] : data_off;
        size_t n = in.n < image_len - at ? in.n : image_len - at;
        memcpy(b + at, in.p, n);
        if (at <= IDENT_HASH_OFF)
            memcpy(b + IDENT_HASH_OFF, image + IDENT_HASH_OFF, 8); /* damage behind the checksum only */
        return;
    }
    while (in.n >= 3) {
        size_t at = (size_t)fuzz_take_u64(&in, 2) % image_len;
        const uint8_t *bytes;
        size_t want = (fuzz_take_u64(&in, 1) & 15) + 1;
        size_t n = fuzz_take(&in, want, &bytes);
        if (n > image_len - at)
            n = image_len - at;
        memcpy(b + at, bytes, n);
    }
    if (mode & 2) {
        uint64_t h = ident_hash(b);
        memcpy(b + IDENT_HASH_OFF, &h, 8);
    }
}

static uint64_t buf[(CAPACITY + 64) / 8]; /* a whole ring's data: a record never is TOOBIG */

/* rc_ring_next_record() over len bytes at p from off until it stops: each record it gives is a
 * whole, consistent record inside p[0, len) past where the step began; a stop moves nothing but
 * PADs. Each step that gives a record moves *off by at least a header, so the loop is bounded. */
static void iterate_copy(const uint8_t *p, size_t len, size_t off)
{
    for (size_t i = 0; i <= len / 8 + 1; i++) {
        size_t before = off;
        rc_record_t rec;
        if (!rc_ring_next_record(p, len, &off, &rec)) {
            FUZZ_CHECK(off >= before && (off - before) % 8 == 0 && (before > len || off <= len));
            return;
        }
        FUZZ_CHECK(off > before && off <= len && (off - before) % 8 == 0);
        FUZZ_CHECK(rec.h.type == RC_REC_DATA || rec.h.type == RC_REC_RESET || rec.h.type == RC_REC_SKIP);
        FUZZ_CHECK(rec.h.len >= RC_REC_HDR_SIZE &&
                   (uint64_t)RC_REC_HDR_SIZE + rec.h.key_len + rec.h.event_len + rec.h.frame_len == rec.h.len);
        const uint8_t *start = p + off - RC_RING_ALIGN((uint64_t)rec.h.len);
        FUZZ_CHECK(start >= p + before && rec.key == start + RC_REC_HDR_SIZE);
        FUZZ_CHECK(rec.event == rec.key + rec.h.key_len && rec.frame == rec.event + rec.h.event_len);
        FUZZ_CHECK(rec.frame + rec.h.frame_len <= p + len);
        if (rec.h.frame_len > 0) { /* an edge sends these bytes: ASan sees them read */
            volatile uint8_t first = rec.frame[0], last = rec.frame[rec.h.frame_len - 1];
            (void)first, (void)last;
        }
    }
    FUZZ_CHECK(!"rc_ring_next_record did not stop");
}

/* A copy of nb bytes as an edge keeps it, changed by a few fuzzer bytes, iterated from the start
 * and from offsets the fuzzer picks. */
static void check_copy(const uint8_t *src, size_t nb, fuzz_in_t *in)
{
    if (nb == 0)
        return;
    uint8_t *copy = malloc(nb); /* exact size: ASan sees a byte read past the copy */
    memcpy(copy, src, nb);
    for (int k = (int)(fuzz_take_u64(in, 1) & 3); k > 0; k--) {
        size_t at = (size_t)fuzz_take_u64(in, 2) % nb;
        copy[at] = (uint8_t)fuzz_take_u64(in, 1);
    }
    iterate_copy(copy, nb, 0);
    for (int k = 0; k < 4; k++) {
        uint64_t v = fuzz_take_u64(in, 2);
        size_t off = (v & 0x8000) ? (size_t)(v & 0x7fff) : (size_t)(v % nb) & ~(size_t)7; /* anywhere, or aligned */
        iterate_copy(copy, nb, off);
    }
    size_t huge = SIZE_MAX - 7;
    rc_record_t rec;
    FUZZ_CHECK(rc_ring_next_record(copy, nb, &huge, &rec) == 0 && huge == SIZE_MAX - 7);
    free(copy);
}

/* Reads from *c once and checks what came back. Returns the result; *first is the first record. */
static rc_read_t read_checked(const rc_ring_t *r, rc_cursor_t *c, size_t buflen, rc_record_t *first, int *nrec)
{
    rc_cursor_t before = *c, head;
    size_t nb = 12345;
    rc_read_t rr = rc_ring_read(r, c, buf, buflen, &nb);
    FUZZ_CHECK(rr <= RC_READ_CORRUPT);
    *nrec = 0;
    if (rr != RC_READ_OK) {
        FUZZ_CHECK(nb == 0 && c->pos == before.pos && c->seq == before.seq);
        return rr;
    }
    FUZZ_CHECK(nb > 0 && nb <= buflen && nb % 8 == 0 && c->pos == before.pos + nb);
    FUZZ_CHECK(rc_ring_head(r, &head) == 0 && c->pos <= head.pos);
    size_t off = 0;
    rc_record_t rec;
    uint64_t seq = before.seq;
    const uint8_t *end = (const uint8_t *)buf + nb;
    while (rc_ring_next_record(buf, nb, &off, &rec)) {
        FUZZ_CHECK(rec.h.type == RC_REC_DATA || rec.h.type == RC_REC_RESET || rec.h.type == RC_REC_SKIP);
        FUZZ_CHECK(rec.key + rec.h.key_len <= end && rec.event + rec.h.event_len <= end &&
                   rec.frame + rec.h.frame_len <= end);
        FUZZ_CHECK(seq == RC_SEQ_UNKNOWN || rec.h.seq == seq);
        seq = rec.h.seq + 1;
        if ((*nrec)++ == 0)
            *first = rec;
    }
    FUZZ_CHECK(off == nb);
    FUZZ_CHECK(*nrec == 0 || c->seq == seq);
    return rr;
}

/* A ring that validates must read cleanly from its oldest record to its head. */
static void check_validated(const rc_ring_t *r)
{
    rc_cursor_t c, head, at;
    FUZZ_CHECK(rc_ring_oldest(r, &c) == 0 && rc_ring_head(r, &head) == 0);
    FUZZ_CHECK(c.seq <= head.seq && c.pos <= head.pos);
    uint64_t records = 0, first_seq = c.seq;
    for (int i = 0; i < 1000 && c.pos < head.pos; i++) {
        rc_cursor_t before = c;
        rc_record_t rec;
        int nrec;
        rc_read_t rr = read_checked(r, &c, 64 + 8 * (size_t)(i % 16), &rec, &nrec); /* small: a few at a time */
        if (rr == RC_READ_TOOBIG)
            rr = read_checked(r, &c, sizeof(buf), &rec, &nrec);
        if (rr != RC_READ_OK)
            fprintf(stderr, "validated ring: read at %llu gives %s\n", (unsigned long long)before.pos, rc_read_str(rr));
        FUZZ_CHECK(rr == RC_READ_OK);
        records += (uint64_t)nrec;
        if (nrec > 0) {
            FUZZ_CHECK(rc_ring_find_seq(r, rec.h.seq, &at) == RC_FOUND && at.seq == rec.h.seq);
        }
    }
    FUZZ_CHECK(c.pos == head.pos && c.seq == head.seq && records == head.seq - first_seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(image_len);
    memcpy(b, image, image_len);
    damage(b, data, size);

    rc_ring_t *r;
    char err[256];
    if (rc_ring_attach(&r, b, image_len, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
        FUZZ_CHECK(memcmp(b, image, 64) != 0 || memcmp(b + IDENT_HASH_OFF, image + IDENT_HASH_OFF, 8) != 0);
        free(b);
        return 0;
    }
    memset(err, 'x', sizeof(err));
    int shallow = rc_ring_validate(r, false, err, sizeof(err));
    FUZZ_CHECK(shallow == 0 || (err[0] != 'x' && memchr(err, '\0', sizeof(err)) != NULL));
    int deep = rc_ring_validate(r, true, err, sizeof(err));
    FUZZ_CHECK(deep == -1 || shallow == 0); /* deep checks everything shallow does */
    if (deep == 0)
        check_validated(r);

    /* Every reader call from a few starting points, validated or not. */
    fuzz_in_t in = {data, size};
    rc_cursor_t starts[4];
    int ns = 0;
    if (rc_ring_oldest(r, &starts[ns]) == 0)
        ns++;
    if (rc_ring_head(r, &starts[ns]) == 0)
        ns++;
    starts[ns++] = (rc_cursor_t){fuzz_take_u64(&in, 2) & ~7ull, RC_SEQ_UNKNOWN};
    starts[ns++] = (rc_cursor_t){fuzz_take_u64(&in, 8), fuzz_take_u64(&in, 1)};
    for (int s = 0; s < ns; s++) {
        rc_cursor_t c = starts[s];
        for (int i = 0; i < 200; i++) {
            rc_record_t rec;
            int nrec;
            rc_cursor_t before = c;
            if (read_checked(r, &c, sizeof(buf) - 8 * (size_t)(i % 7), &rec, &nrec) != RC_READ_OK)
                break;
            if (i == 0) /* the chunk an edge would keep: re-read later, maybe damaged */
                check_copy((const uint8_t *)buf, (size_t)(c.pos - before.pos), &in);
        }
    }
    /* The damaged data area itself, taken as a copy: the fuzzer's bytes where records should be. */
    check_copy(b + data_off, CAPACITY, &in);
    for (uint64_t i = 0; i < 70; i++) {
        rc_cursor_t c;
        rc_record_t rec;
        int nrec;
        uint64_t seq = i < 64 ? i : fuzz_take_u64(&in, 8);
        if (rc_ring_find_seq(r, seq, &c) == RC_FOUND) {
            FUZZ_CHECK(c.seq == seq);
            if (read_checked(r, &c, sizeof(buf), &rec, &nrec) == RC_READ_OK)
                FUZZ_CHECK(nrec > 0 && rec.h.seq == seq);
        }
        rc_rec_hdr_t hd;
        if (rc_ring_peek(r, seq, &c, &hd) == RC_FOUND)
            FUZZ_CHECK(c.seq == seq && hd.seq == seq);
    }
    for (uint32_t lane = 0; lane < 6; lane++) {
        char topic[RC_RING_TOPIC_MAX + 8];
        int32_t part;
        int64_t next;
        memset(topic, 'x', sizeof(topic));
        if (rc_ring_lane_info(r, lane, topic, sizeof(topic), &part, &next) == 0)
            FUZZ_CHECK(memchr(topic, '\0', sizeof(topic)) != NULL);
        for (int64_t want = -1; want < 25; want += 3) {
            rc_found_t fo;
            rc_record_t rec;
            int nrec;
            if (rc_ring_find_offset(r, lane, want, &fo) != RC_FOUND)
                continue;
            FUZZ_CHECK(fo.offset >= want);
            if (read_checked(r, &fo.at, sizeof(buf), &rec, &nrec) == RC_READ_OK && nrec > 0)
                FUZZ_CHECK(rec.h.lane == lane && rec.h.offset == fo.offset);
        }
    }
    rc_cursor_t c;
    rc_ring_find_time(r, (int64_t)fuzz_take_u64(&in, 8), &c);
    rc_ring_find_time(r, 1700000000000 + 300, &c);
    char name[RC_RING_NAME_MAX + 8];
    memset(name, 'x', sizeof(name));
    FUZZ_CHECK(memchr(rc_ring_stream_name(r, name, sizeof(name)), '\0', sizeof(name)) != NULL);
    for (int k = 0; k < RC_CTR_MAX; k++)
        rc_ring_counter(r, (rc_ring_counter_t)k);
    FUZZ_CHECK(rc_ring_state_str(rc_ring_state(r)) != NULL); /* any number the writer left there */
    FUZZ_CHECK(rc_ring_lanes(r) <= 4);
    FUZZ_CHECK(rc_ring_capacity(r) == CAPACITY && rc_ring_max_record(r) <= CAPACITY / 4);
    rc_ring_close(r);
    free(b);
    return 0;
}

/*
 * A reader must survive any bytes: an edge maps rings it did not write, and a crashed or broken
 * bridge must not take every edge down with it. These tests feed the reader random files, damaged
 * headers and randomly corrupted rings, always as malloc'd copies so that the ASan build of this
 * program catches any read outside the image. Each reader call must return; errors are expected.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring.h"
#include "tap.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint8_t *image;
static size_t image_len;

/* A healthy ring with 3 lanes that wrapped, as a malloc'd image. */
static void make_image(void)
{
    if (image)
        return;
    char dir[] = "/tmp/rc-garbage-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    rc_ring_geom_t g = {.capacity = 8192, .index_slots = 64, .max_lanes = 4, .ckpt_interval = 4};
    rc_ring_t *w;
    rc_ring_opened_t how;
    char why[128], err[256], path[256];
    if (rc_ring_writer_open(&w, dir, "g", &g, &how, why, sizeof(why), err, sizeof(err)) != 0)
        abort();
    for (int l = 0; l < 3; l++)
        rc_ring_lane(w, "garbage", l);
    char frame[600];
    memset(frame, 'f', sizeof(frame));
    for (int i = 0; i < 200; i++) {
        rc_rec_in_t in = {.type = RC_REC_DATA,
                          .lane = (uint16_t)(i % 3),
                          .partition = i % 3,
                          .offset = i / 3,
                          .key = "key",
                          .key_len = 3,
                          .event = "ev",
                          .event_len = 2,
                          .frame = frame,
                          .frame_len = (uint32_t)(20 + (i * 37) % 500)};
        rc_ring_append(w, &in);
        if (i % 5 == 0)
            rc_ring_publish(w);
    }
    rc_ring_close(w);
    snprintf(path, sizeof(path), "%s/g.ring", dir);
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    image_len = (size_t)st.st_size;
    image = malloc(image_len);
    if (read(fd, image, image_len) != (ssize_t)image_len)
        abort();
    close(fd);
    unlink(path);
    snprintf(path, sizeof(path), "%s/g.ring.lock", dir);
    unlink(path);
    rmdir(dir);
}

/* Every reader operation, bounded; touches every byte it is handed so ASan checks them. */
static unsigned exercise(const rc_ring_t *r)
{
    static uint64_t buf[1 << 12];
    char err[256], topic[300];
    unsigned sum = 0;
    rc_ring_validate(r, false, err, sizeof(err));
    rc_ring_validate(r, true, err, sizeof(err));
    rc_cursor_t starts[4];
    int ns = 0;
    if (rc_ring_oldest(r, &starts[ns]) == 0)
        ns++;
    if (rc_ring_head(r, &starts[ns]) == 0)
        ns++;
    starts[ns++] = (rc_cursor_t){rnd() & ~(uint64_t)7, rnd()};
    starts[ns++] = (rc_cursor_t){(rnd() % 20000) & ~(uint64_t)7, RC_SEQ_UNKNOWN};
    for (int s = 0; s < ns; s++) {
        rc_cursor_t c = starts[s];
        for (int i = 0; i < 64; i++) {
            size_t nb, off = 0;
            rc_read_t rr = rc_ring_read(r, &c, buf, sizeof(buf) - 8 * (rnd() % 400), &nb);
            if (rr != RC_READ_OK)
                break;
            rc_record_t rec;
            while (rc_ring_next_record(buf, nb, &off, &rec)) {
                for (uint32_t k = 0; k < rec.h.key_len; k++)
                    sum += rec.key[k];
                for (uint32_t k = 0; k < rec.h.event_len; k++)
                    sum += rec.event[k];
                for (uint32_t k = 0; k < rec.h.frame_len; k++)
                    sum += rec.frame[k];
            }
        }
    }
    for (int i = 0; i < 16; i++) {
        rc_cursor_t c;
        uint64_t seq = i < 8 ? rnd() % 300 : rnd();
        if (rc_ring_find_seq(r, seq, &c) == RC_FOUND)
            sum += (unsigned)c.pos;
        rc_found_t fo;
        uint32_t lane = (uint32_t)(rnd() % 6);
        int64_t want = i < 8 ? (int64_t)(rnd() % 100) : (int64_t)rnd();
        if (rc_ring_find_offset(r, lane, want, &fo) == RC_FOUND)
            sum += (unsigned)fo.at.pos;
        int32_t part;
        int64_t next;
        if (rc_ring_lane_info(r, lane, topic, sizeof(topic), &part, &next) == 0)
            sum += (unsigned)strlen(topic);
    }
    char name[80];
    sum += (unsigned)strlen(rc_ring_stream_name(r, name, sizeof(name)));
    return sum;
}

TEST(random_files_are_rejected)
{
    int accepted = 0;
    for (int i = 0; i < 500; i++) {
        size_t len = rnd() % 40000;
        uint8_t *b = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            b[k] = (uint8_t)rnd();
        rc_ring_t *r;
        char err[256];
        if (rc_ring_attach(&r, b, len, err, sizeof(err)) == 0) {
            accepted++;
            exercise(r);
            rc_ring_close(r);
        }
        free(b);
    }
    CHECK_EQ_INT(accepted, 0);
}

TEST(every_bit_flip_in_the_identity_is_rejected)
{
    make_image();
    int accepted = 0;
    for (int bit = 0; bit < 64 * 8; bit++) {
        uint8_t *b = malloc(image_len);
        memcpy(b, image, image_len);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rc_ring_t *r;
        char err[256];
        if (rc_ring_attach(&r, b, image_len, err, sizeof(err)) == 0) {
            printf("# bit %d flipped: accepted\n", bit);
            accepted++;
            rc_ring_close(r);
        }
        free(b);
    }
    CHECK_EQ_INT(accepted, 0);
}

TEST(truncated_files_are_rejected)
{
    make_image();
    int accepted = 0;
    size_t lens[] = {0, 1, 63, 64, 4095, 8191, 8192, 8193, image_len / 2, image_len - 8, image_len - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t *b = malloc(lens[i] + 1);
        memcpy(b, image, lens[i]);
        rc_ring_t *r;
        char err[256];
        if (rc_ring_attach(&r, b, lens[i], err, sizeof(err)) == 0) {
            accepted++;
            rc_ring_close(r);
        }
        free(b);
    }
    CHECK_EQ_INT(accepted, 0);
}

TEST(random_body_behind_a_valid_header_never_crashes)
{
    make_image();
    int corrupt_seen = 0;
    for (int round = 0; round < 300; round++) {
        uint8_t *b = malloc(image_len);
        memcpy(b, image, image_len);
        /* Keep line 0 and its checksum (so attach succeeds); randomise everything else, with head
         * and tail lines sometimes plausible, sometimes wild. */
        for (size_t k = 64; k < image_len; k++)
            if (k < 6 * 64 || k >= 7 * 64)
                b[k] = (uint8_t)rnd();
        if (round % 2) {
            uint64_t tail = (rnd() % 5000) * 8, head = tail + (rnd() % 1100) * 8, seq = rnd() % 400;
            memcpy(b + 64, &(uint64_t){rnd() % 4}, 8);
            for (int s = 0; s < 2; s++) {
                memcpy(b + 72 + 16 * s, &seq, 8);
                memcpy(b + 80 + 16 * s, &head, 8);
            }
            memcpy(b + 128, &tail, 8);
            memcpy(b + 136, &(uint64_t){seq > 50 ? seq - 50 : 0}, 8);
            memcpy(b + 208, &(uint32_t){(uint32_t)(rnd() % 6)}, 4);
        }
        rc_ring_t *r;
        char err[256];
        REQUIRE(rc_ring_attach(&r, b, image_len, err, sizeof(err)) == 0);
        exercise(r);
        if (rc_ring_validate(r, true, err, sizeof(err)) != 0)
            corrupt_seen++;
        rc_ring_close(r);
        free(b);
    }
    CHECK_EQ_INT(corrupt_seen, 300); /* random bytes never pass a deep validation */
}

TEST(random_bit_flips_in_a_used_ring_never_crash)
{
    make_image();
    rc_ring_t *r;
    char err[256];
    REQUIRE(rc_ring_attach(&r, image, image_len, err, sizeof(err)) == 0);
    int healthy = rc_ring_validate(r, true, err, sizeof(err)) == 0;
    rc_ring_close(r);
    REQUIRE(healthy);
    for (int round = 0; round < 10000; round++) {
        uint8_t *b = malloc(image_len);
        memcpy(b, image, image_len);
        int flips = 1 + (int)(rnd() % 40);
        for (int k = 0; k < flips; k++) {
            size_t at = 64 + rnd() % (image_len - 64);
            if (at >= 6 * 64 && at < 6 * 64 + 8)
                continue; /* the identity checksum: covered above */
            b[at] ^= (uint8_t)(1u << (rnd() % 8));
        }
        REQUIRE(rc_ring_attach(&r, b, image_len, err, sizeof(err)) == 0);
        exercise(r);
        rc_ring_close(r);
        free(b);
    }
}

int main(void)
{
    int rc = tap_run();
    free(image);
    return rc;
}

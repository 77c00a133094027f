/*
 * Ring benchmark: records per second written and read, on one core, for 64 B, 512 B and 4 KiB
 * frames (each record adds its 48-byte header, and 1 to 7 bytes of padding).
 *
 *   ring_bench [--seconds S] [--json]
 *
 * Writer: rc_ring_append() of pre-built frames, rc_ring_publish() every 64 records (a Kafka
 * batch), into a 256 MiB ring in /dev/shm that wraps many times. Reader: rc_ring_read() into a
 * 256 KiB buffer and rc_ring_next_record() over every record, touching each frame's first and last
 * byte, from the oldest record to the head, repeated. Both run pinned to CPU 0, one after the
 * other. A last run puts the writer on CPU 0 and a reader on CPU 1 at the same time.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

#define RING_CAP (256ull << 20)
#define BATCH    64
#define READ_BUF (256u << 10)

static double seconds = 1.0;

static double now_s(void)
{
    return (double)rc_now_mono_ns() / 1e9;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static uint64_t write_for(rc_ring_t *w, uint32_t frame_len, double secs, uint64_t *offset)
{
    static uint8_t frame[4096];
    memset(frame, 'x', sizeof(frame));
    rc_rec_in_t in = {
        .type = RC_REC_DATA, .lane = 0, .key = "sensor-7", .key_len = 8, .frame = frame, .frame_len = frame_len};
    uint64_t n = 0;
    double end = now_s() + secs;
    do {
        for (int i = 0; i < 16 * BATCH; i++) {
            in.offset = (int64_t)(*offset)++;
            rc_ring_append(w, &in);
            if (++n % BATCH == 0)
                rc_ring_publish(w);
        }
    } while (now_s() < end);
    rc_ring_publish(w);
    return n;
}

static uint64_t read_all(const rc_ring_t *r, uint8_t *buf, unsigned *sink)
{
    rc_cursor_t c;
    rc_ring_oldest(r, &c);
    uint64_t n = 0;
    for (;;) {
        size_t nb, off = 0;
        rc_read_t rr = rc_ring_read(r, &c, buf, READ_BUF, &nb);
        if (rr == RC_READ_LAPPED) {
            rc_ring_oldest(r, &c);
            continue;
        }
        if (rr != RC_READ_OK)
            return n;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec)) {
            *sink += rec.frame[0] + rec.frame[rec.h.frame_len - 1];
            n++;
        }
    }
}

typedef struct {
    rc_ring_t *w;
    uint32_t frame_len;
    volatile int done;
    uint64_t written, read;
    double secs;
} pair_t;

static void *concurrent_reader(void *p)
{
    pair_t *x = p;
    pin(1);
    uint8_t *buf = aligned_alloc(64, READ_BUF);
    unsigned sink = 0;
    rc_cursor_t c;
    rc_ring_head(x->w, &c);
    while (!x->done) {
        size_t nb, off = 0;
        rc_read_t rr = rc_ring_read(x->w, &c, buf, READ_BUF, &nb);
        if (rr == RC_READ_LAPPED) {
            rc_ring_oldest(x->w, &c);
            continue;
        }
        if (rr != RC_READ_OK)
            continue;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec)) {
            sink += rec.frame[0];
            x->read++;
        }
    }
    free(buf);
    return (void *)(uintptr_t)sink;
}

int main(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
    }
    char dir[] = "/dev/shm/rc-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    uint8_t *buf = aligned_alloc(64, READ_BUF);
    uint32_t sizes[] = {64, 512, 4096};
    unsigned sink = 0;
    if (!json)
        printf("ring benchmark: 256 MiB ring, publish every %d records, one core (CPU 0)\n", BATCH);
    else
        printf("[");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        char name[32], err[256], why[256];
        snprintf(name, sizeof(name), "bench%u", sizes[s]);
        rc_ring_geom_t g = {.capacity = RING_CAP};
        rc_ring_t *w;
        rc_ring_opened_t how;
        if (rc_ring_writer_open(&w, dir, name, &g, &how, why, sizeof(why), err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        rc_ring_lane(w, "bench", 0);
        uint64_t offset = 0;
        uint32_t rec_bytes = (uint32_t)RC_RING_ALIGN(RC_REC_HDR_SIZE + 8 + sizes[s]);

        pin(0);
        /* Warm up until the ring has wrapped: the first pass pays a page fault every 4 KiB. */
        while (rc_ring_counter(w, RC_CTR_EVICTED) == 0)
            write_for(w, sizes[s], 0.05, &offset);
        double t0 = now_s();
        uint64_t wn = write_for(w, sizes[s], seconds, &offset);
        double wt = now_s() - t0;

        uint64_t rn = 0;
        t0 = now_s();
        do
            rn += read_all(w, buf, &sink);
        while (now_s() - t0 < seconds);
        double rt = now_s() - t0;

        pair_t x = {.w = w, .frame_len = sizes[s]};
        pthread_t tid;
        pthread_create(&tid, NULL, concurrent_reader, &x);
        t0 = now_s();
        x.written = write_for(w, sizes[s], seconds, &offset);
        double ct = now_s() - t0;
        x.done = 1;
        pthread_join(tid, NULL);

        double wr = wn / wt, rr = rn / rt;
        if (json)
            printf("%s{\"frame_bytes\":%u,\"record_bytes\":%u,\"write_rps\":%.0f,\"read_rps\":%.0f,"
                   "\"concurrent_write_rps\":%.0f,\"concurrent_read_rps\":%.0f}",
                   s ? "," : "", sizes[s], rec_bytes, wr, rr, x.written / ct, x.read / ct);
        else
            printf("frame %4u B (record %4u B): write %6.2f M rec/s (%5.2f GB/s)   read %6.2f M rec/s (%5.2f GB/s)"
                   "   | concurrent, 2 cores: write %5.2f M/s, read %5.2f M/s\n",
                   sizes[s], rec_bytes, wr / 1e6, wr * rec_bytes / 1e9, rr / 1e6, rr * rec_bytes / 1e9,
                   x.written / ct / 1e6, x.read / ct / 1e6);
        rc_ring_close(w);
        char p[512];
        snprintf(p, sizeof(p), "%s/%s.ring", dir, name);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%s.ring.lock", dir, name);
        unlink(p);
    }
    if (json)
        printf("]\n");
    rmdir(dir);
    free(buf);
    return sink == 0xdeadbeef; /* keeps the reads from being optimised away */
}

/*
 * Ring stress test: one writer, N readers, millions of records of varying size through a small ring
 * that wraps thousands of times.
 *
 *   ring_stress --procs N --records M     readers are processes with PROT_READ mappings
 *   ring_stress --threads N --records M   readers are threads on the writer's mapping (for TSan)
 *
 * Every record carries its own seq and a checksum of its bytes. A reader must see, for every record
 * it is given, the right seq, lane, offset, key and checksum (never a torn record), sequence numbers
 * without a hole between two reads unless the ring said "lapped", and must reach the last record.
 * Reader 0 is made slow on purpose, once, until the writer is a whole ring ahead of it: it must be
 * told it was lapped. Output is TAP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

#define LANES        4
#define RING_CAP     (1u << 20)
#define READ_BUF     (1u << 16)
#define MAX_FRAME    4000
#define DEADLINE_SEC 300 /* a reader that has not finished by then reports failure, never hangs */

typedef struct {
    uint64_t records, laps, torn, holes, corrupt;
    int finished;
} reader_result_t;

typedef struct {
    const rc_ring_t *r;
    int id;
    uint64_t total;
    reader_result_t res;
} reader_arg_t;

static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t x = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        x = (x ^ p[i]) * 0x100000001b3ull;
    return x;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Frame of record `seq`: [seq:8][pseudo-random bytes][fnv64 of all before:8]. */
static uint32_t make_frame(uint64_t seq, uint8_t *buf)
{
    uint64_t h = mix(seq + 1);
    uint32_t len = (seq % 64 == 63) ? MAX_FRAME : 16 + (uint32_t)(h % 1000);
    memcpy(buf, &seq, 8);
    uint64_t x = h;
    for (uint32_t i = 8; i < len - 8; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    uint64_t sum = fnv64(buf, len - 8);
    memcpy(buf + len - 8, &sum, 8);
    return len;
}

static int check_record(const rc_record_t *rec)
{
    uint64_t seq = rec->h.seq, fseq, sum;
    char key[16];
    int klen = snprintf(key, sizeof(key), "k%u", (unsigned)(seq % 100));
    if (rec->h.frame_len < 16 || rec->h.lane != seq % LANES || rec->h.partition != (int32_t)(seq % LANES) ||
        rec->h.offset != (int64_t)(seq / LANES) || rec->h.timestamp != (int64_t)seq ||
        rec->h.key_len != (uint32_t)klen || memcmp(rec->key, key, (size_t)klen) != 0)
        return -1;
    memcpy(&fseq, rec->frame, 8);
    memcpy(&sum, rec->frame + rec->h.frame_len - 8, 8);
    if (fseq != seq || sum != fnv64(rec->frame, rec->h.frame_len - 8))
        return -1;
    return 0;
}

static void writer_run(rc_ring_t *w, uint64_t total)
{
    static uint8_t frame[MAX_FRAME];
    for (int l = 0; l < LANES; l++)
        rc_ring_lane(w, "stress", l);
    uint64_t batch = 0;
    for (uint64_t seq = 0; seq < total; seq++) {
        char key[16];
        int klen = snprintf(key, sizeof(key), "k%u", (unsigned)(seq % 100));
        rc_rec_in_t in = {.type = RC_REC_DATA,
                          .lane = (uint16_t)(seq % LANES),
                          .partition = (int32_t)(seq % LANES),
                          .offset = (int64_t)(seq / LANES),
                          .timestamp = (int64_t)seq,
                          .key = key,
                          .key_len = (uint32_t)klen,
                          .frame = frame,
                          .frame_len = make_frame(seq, frame)};
        if (rc_ring_append(w, &in) != 0) {
            fprintf(stderr, "# writer: append of seq %llu failed\n", (unsigned long long)seq);
            exit(1);
        }
        /* Batches of 1 to 64 records, as Kafka consume batches vary. */
        if (++batch >= 1 + mix(seq) % 64) {
            rc_ring_publish(w);
            batch = 0;
        }
    }
    rc_ring_publish(w);
}

static double now_s(void)
{
    return (double)rc_now_mono_ns() / 1e9;
}

static void *reader_run(void *p)
{
    reader_arg_t *a = p;
    reader_result_t *res = &a->res;
    uint8_t *buf = aligned_alloc(8, READ_BUF);
    rc_cursor_t c = {0, 0};
    uint64_t expect = 0;
    int slow_once = a->id == 0;
    double deadline = now_s() + DEADLINE_SEC;
    while (expect < a->total && now_s() < deadline) {
        if (slow_once && expect > 1000) {
            /* Stop reading until the writer is a whole ring ahead: the next read must be lapped. */
            rc_cursor_t head;
            while (rc_ring_head(a->r, &head) == 0 && head.pos - c.pos <= RING_CAP && head.seq < a->total &&
                   now_s() < deadline)
                usleep(100);
            slow_once = 0;
        }
        size_t nb;
        rc_read_t rr = rc_ring_read(a->r, &c, buf, READ_BUF, &nb);
        if (rr == RC_READ_EMPTY) {
            sched_yield();
            continue;
        }
        if (rr == RC_READ_LAPPED) {
            res->laps++;
            if (rc_ring_oldest(a->r, &c) != 0) {
                res->corrupt++;
                break;
            }
            if (c.seq < expect) { /* the oldest record cannot be older than one we already had */
                res->holes++;
                break;
            }
            expect = c.seq;
            continue;
        }
        if (rr != RC_READ_OK) {
            fprintf(stderr, "# reader %d: %s at seq %llu\n", a->id, rc_read_str(rr), (unsigned long long)expect);
            res->corrupt++;
            break;
        }
        size_t off = 0;
        rc_record_t rec;
        while (rc_ring_next_record(buf, nb, &off, &rec)) {
            if (rec.h.seq != expect) {
                fprintf(stderr, "# reader %d: seq %llu, expected %llu\n", a->id, (unsigned long long)rec.h.seq,
                        (unsigned long long)expect);
                res->holes++;
            }
            if (check_record(&rec) != 0) {
                fprintf(stderr, "# reader %d: torn or wrong record at seq %llu\n", a->id,
                        (unsigned long long)rec.h.seq);
                res->torn++;
            }
            expect = rec.h.seq + 1;
            res->records++;
        }
    }
    res->finished = expect == a->total;
    free(buf);
    return NULL;
}

static int report(int n, int id, const reader_result_t *r, int must_lap)
{
    int ok =
        r->finished && r->torn == 0 && r->holes == 0 && r->corrupt == 0 && r->records > 0 && (!must_lap || r->laps);
    printf("%s %d - reader %d: %llu records verified, %llu laps, %llu torn, %llu holes, %s\n", ok ? "ok" : "not ok", n,
           id, (unsigned long long)r->records, (unsigned long long)r->laps, (unsigned long long)r->torn,
           (unsigned long long)r->holes, r->finished ? "reached the last record" : "did NOT reach the last record");
    return ok;
}

int main(int argc, char **argv)
{
    int procs = 0, threads = 0;
    uint64_t total = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--procs") == 0)
            procs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--records") == 0)
            total = strtoull(argv[i + 1], NULL, 10);
    }
    int n = procs ? procs : threads;
    if (n <= 0 || n > 16 || total < 10000) {
        fprintf(stderr, "usage: ring_stress (--procs N | --threads N) --records M (M >= 10000)\n");
        return 2;
    }
    char dir[] = "/dev/shm/rc-stress-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rc_ring_geom_t g = {.capacity = RING_CAP};
    rc_ring_t *w;
    rc_ring_opened_t how;
    char why[256], err[256], path[256];
    if (rc_ring_writer_open(&w, dir, "stress", &g, &how, why, sizeof(why), err, sizeof(err)) != 0) {
        fprintf(stderr, "writer_open: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/stress.ring", dir);
    printf("1..%d\n", n + 2);
    double t0 = now_s();
    int all_ok = 1, t = 1;

    if (procs) {
        pid_t pids[16];
        reader_result_t *shared = calloc((size_t)n, sizeof(*shared));
        int fds[16][2];
        for (int i = 0; i < n; i++) {
            if (pipe(fds[i]) != 0)
                return 1;
            pids[i] = fork();
            if (pids[i] == 0) {
                rc_ring_t *r;
                if (rc_ring_open_reader(&r, path, err, sizeof(err)) != 0) {
                    fprintf(stderr, "# reader %d: %s\n", i, err);
                    _exit(1);
                }
                reader_arg_t a = {.r = r, .id = i, .total = total};
                reader_run(&a);
                ssize_t wr = write(fds[i][1], &a.res, sizeof(a.res));
                rc_ring_close(r);
                _exit(wr == sizeof(a.res) ? 0 : 1);
            }
            close(fds[i][1]);
        }
        writer_run(w, total);
        printf("ok %d - writer appended %llu records (%.1f s)\n", t++, (unsigned long long)total, now_s() - t0);
        for (int i = 0; i < n; i++) {
            int st;
            ssize_t rd = read(fds[i][0], &shared[i], sizeof(shared[i]));
            waitpid(pids[i], &st, 0);
            close(fds[i][0]);
            if (rd != sizeof(shared[i]) || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                memset(&shared[i], 0, sizeof(shared[i]));
            all_ok &= report(t++, i, &shared[i], i == 0);
        }
        free(shared);
    } else {
        pthread_t tids[16];
        reader_arg_t args[16];
        for (int i = 0; i < n; i++) {
            args[i] = (reader_arg_t){.r = w, .id = i, .total = total};
            pthread_create(&tids[i], NULL, reader_run, &args[i]);
        }
        writer_run(w, total);
        printf("ok %d - writer appended %llu records (%.1f s)\n", t++, (unsigned long long)total, now_s() - t0);
        for (int i = 0; i < n; i++) {
            pthread_join(tids[i], NULL);
            all_ok &= report(t++, i, &args[i].res, i == 0);
        }
    }
    int vr = rc_ring_validate(w, true, err, sizeof(err));
    printf("%s %d - ring validates after the run%s%s\n", vr == 0 ? "ok" : "not ok", t, vr ? ": " : "", vr ? err : "");
    rc_ring_close(w);
    unlink(path);
    snprintf(path, sizeof(path), "%s/stress.ring.lock", dir);
    unlink(path);
    rmdir(dir);
    return all_ok && vr == 0 ? 0 : 1;
}

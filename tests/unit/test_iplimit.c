/*
 * Unit tests of the per-IP table shared by edge workers (edge/iplimit.c): keys, the stream limit
 * over several workers, slot reuse, the publish bucket, and processes racing on one table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../edge/iplimit.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static void key4(const char *ip, uint8_t key[16])
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    rc_iplimit_key((struct sockaddr *)&a, key);
}

static void key6(const char *ip, uint8_t key[16])
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    rc_iplimit_key((struct sockaddr *)&a, key);
}

TEST(ipv4_is_mapped_and_ipv6_counts_by_its_64_prefix)
{
    uint8_t a[16], b[16], c[16], d[16], e[16];
    key4("192.0.2.7", a);
    key6("::ffff:192.0.2.7", b);
    CHECK(memcmp(a, b, 16) == 0); /* one client, whichever socket family it came in on */
    key6("2001:db8:1:2::1", c);
    key6("2001:db8:1:2:ffff::9", d);
    CHECK(memcmp(c, d, 16) == 0);
    key6("2001:db8:1:3::1", e);
    CHECK(memcmp(c, e, 16) != 0);
    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK_EQ_INT(rc_iplimit_key(&un, a), -1);
}

TEST(open_refuses_past_max_and_close_frees_a_place)
{
    rc_iplimit_t *t = rc_iplimit_new(1024, 1);
    uint8_t k[16], other[16];
    key4("198.51.100.1", k);
    key4("198.51.100.2", other);
    int32_t s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = rc_iplimit_open(t, k, 0, 3);
        CHECK(s[i] >= 0);
    }
    CHECK_EQ_INT(rc_iplimit_open(t, k, 0, 3), RC_IPLIMIT_REFUSED);
    CHECK_EQ_INT(rc_iplimit_count(t, k), 3);
    CHECK(rc_iplimit_open(t, other, 0, 3) >= 0); /* another address has its own places */
    rc_iplimit_close(t, s[1], 0);
    CHECK_EQ_INT(rc_iplimit_count(t, k), 2);
    CHECK(rc_iplimit_open(t, k, 0, 3) >= 0);
    CHECK_EQ_INT(rc_iplimit_open(t, k, 0, 3), RC_IPLIMIT_REFUSED);
    rc_iplimit_free(t);
}

TEST(the_limit_counts_every_worker_and_a_restarted_worker_frees_its_streams)
{
    rc_iplimit_t *t = rc_iplimit_new(1024, 2);
    uint8_t k[16];
    key6("2001:db8::5", k);
    CHECK(rc_iplimit_open(t, k, 0, 3) >= 0);
    CHECK(rc_iplimit_open(t, k, 0, 3) >= 0);
    int32_t s = rc_iplimit_open(t, k, 1, 3);
    CHECK(s >= 0);
    CHECK_EQ_INT(rc_iplimit_open(t, k, 1, 3), RC_IPLIMIT_REFUSED);
    rc_iplimit_reset_worker(t, 0); /* worker 0 died with its two streams */
    CHECK_EQ_INT(rc_iplimit_count(t, k), 1);
    CHECK(rc_iplimit_open(t, k, 1, 3) >= 0);
    rc_iplimit_close(t, s, 0); /* a close that the reset already accounted for does not go below 0 */
    CHECK_EQ_INT(rc_iplimit_count(t, k), 2);
    CHECK_EQ_INT(rc_iplimit_open(t, k, 2, 3), RC_IPLIMIT_UNTRACKED); /* no column for worker 2 */
    rc_iplimit_free(t);
}

TEST(a_full_table_serves_untracked_then_reuses_idle_slots)
{
    rc_iplimit_t *t = rc_iplimit_new(4, 1); /* one probe window: the whole table */
    uint8_t k[5][16];
    int32_t s[5];
    for (int i = 0; i < 5; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "203.0.113.%d", i + 1);
        key4(ip, k[i]);
    }
    for (int i = 0; i < 4; i++)
        CHECK((s[i] = rc_iplimit_open(t, k[i], 0, 1)) >= 0);
    CHECK_EQ_INT(rc_iplimit_open(t, k[4], 0, 1), RC_IPLIMIT_UNTRACKED);
    CHECK_EQ_U64(rc_iplimit_full_count(t), 1);
    rc_iplimit_close(t, s[2], 0); /* k[2] has nothing open now: its slot is idle */
    CHECK((s[4] = rc_iplimit_open(t, k[4], 0, 1)) >= 0);
    CHECK_EQ_INT(rc_iplimit_open(t, k[4], 0, 1), RC_IPLIMIT_REFUSED);
    CHECK_EQ_INT(rc_iplimit_count(t, k[2]), 0);
    CHECK_EQ_INT(rc_iplimit_count(t, k[0]), 1);
    rc_iplimit_free(t);
}

TEST(publish_bucket_allows_a_burst_then_one_per_interval)
{
    rc_iplimit_t *t = rc_iplimit_new(1024, 1);
    uint8_t k[16];
    key4("192.0.2.9", k);
    uint64_t now = 1000000000, retry = 0; /* µs; 60 a minute: one a second */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(rc_iplimit_take(t, k, now, 60, 3, &retry), 0);
    CHECK_EQ_INT(rc_iplimit_take(t, k, now, 60, 3, &retry), 1);
    CHECK_EQ_U64(retry, 1000);
    CHECK_EQ_INT(rc_iplimit_take(t, k, now + 400000, 60, 3, &retry), 1);
    CHECK_EQ_U64(retry, 600);
    CHECK_EQ_INT(rc_iplimit_take(t, k, now + 1000000, 60, 3, &retry), 0);
    CHECK_EQ_INT(rc_iplimit_take(t, k, now + 1000000, 60, 3, &retry), 1);
    uint8_t other[16];
    key4("192.0.2.10", other);
    CHECK_EQ_INT(rc_iplimit_take(t, other, now, 60, 3, &retry), 0);
    /* A slot with a bucket still filling is not idle: it is not given to another address. The
     * stream limit looks at the monotonic clock, so the bucket is filled at that time here, and
     * takes a minute to refill. */
    rc_iplimit_t *small = rc_iplimit_new(1, 1);
    CHECK_EQ_INT(rc_iplimit_take(small, k, rc_now_mono_ns() / 1000, 1, 1, &retry), 0);
    CHECK_EQ_INT(rc_iplimit_open(small, other, 0, 5), RC_IPLIMIT_UNTRACKED);
    rc_iplimit_free(small);
    rc_iplimit_free(t);
}

#define PROCS  4
#define ROUNDS 1000000
#define KEYS   3
#define MAX    3

/* Processes as workers on one tiny table: more addresses than slots, so slots are claimed and
 * taken over all the time. The streams each address holds (counted beside the table, which also
 * holds the start barrier at [KEYS]) never exceed MAX. */
TEST(racing_workers_never_hold_more_than_max)
{
    rc_iplimit_t *t = rc_iplimit_new(2, PROCS); /* 3 addresses in 2 slots */
    uint32_t *held = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(held != MAP_FAILED);
    uint8_t keys[KEYS][16];
    for (int i = 0; i < KEYS; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
        key4(ip, keys[i]);
    }
    pid_t pids[PROCS];
    for (int w = 0; w < PROCS; w++) {
        if ((pids[w] = fork()) != 0)
            continue;
        unsigned seed = (unsigned)w * 7919u + 1;
        __atomic_add_fetch(&held[KEYS], 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&held[KEYS], __ATOMIC_SEQ_CST) < PROCS)
            ; /* all start together, so that they race */
        int32_t mine[KEYS][MAX];
        int n_mine[KEYS] = {0};
        int bad = 0;
        for (int r = 0; r < ROUNDS; r++) {
            int k = rand_r(&seed) % KEYS;
            if (n_mine[k] > 0 && rand_r(&seed) % 2) {
                __atomic_fetch_sub(&held[k], 1, __ATOMIC_SEQ_CST);
                rc_iplimit_close(t, mine[k][--n_mine[k]], (size_t)w);
                continue;
            }
            int32_t s = rc_iplimit_open(t, keys[k], (size_t)w, MAX);
            if (s < 0)
                continue;
            if (n_mine[k] == MAX) { /* cannot happen: this worker alone holds MAX already */
                bad = 1;
                rc_iplimit_close(t, s, (size_t)w);
                continue;
            }
            if (__atomic_add_fetch(&held[k], 1, __ATOMIC_SEQ_CST) > MAX)
                bad = 1;
            mine[k][n_mine[k]++] = s;
        }
        for (int k = 0; k < KEYS; k++)
            while (n_mine[k] > 0) {
                __atomic_fetch_sub(&held[k], 1, __ATOMIC_SEQ_CST);
                rc_iplimit_close(t, mine[k][--n_mine[k]], (size_t)w);
            }
        _exit(bad);
    }
    int failed = 0;
    for (int w = 0; w < PROCS; w++) {
        int st;
        waitpid(pids[w], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    CHECK(!failed);
    for (int k = 0; k < KEYS; k++)
        CHECK_EQ_INT(rc_iplimit_count(t, keys[k]), 0);
    CHECK(rc_iplimit_full_count(t) > 0); /* the table was too small on purpose: the path ran */
    munmap(held, 4096);
    rc_iplimit_free(t);
}

int main(void)
{
    rc_log_set_level(RC_LOG_ERROR); /* the full-table warning is expected here, many times */
    return tap_run();
}

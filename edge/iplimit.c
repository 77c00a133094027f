/*
 * The per-IP table shared by the edge workers (see iplimit.h).
 *
 *   +---------------- header, 64 bytes ----------------+
 *   | magic | version | workers | mask | stride | seed | full
 *   +--------------------------------------------------+
 *   | slot 0: state | key[2] | tat_us | open[workers]  |   stride bytes each (8-aligned)
 *   | slot 1: ...                                      |
 *   +--------------------------------------------------+
 *
 * state is (version << 2) | tag with tag EMPTY, BUSY (being written) or USED. An address lives in
 * one of the PROBE slots after its hash (linear probing); a slot is taken over for another address
 * when it is idle: no stream open in any worker and a full publish bucket (tat_us in the past).
 * Taking a slot moves its state USED -> BUSY (new version) -> USED by compare-and-swap, so readers
 * can tell that a slot they matched changed under them.
 *
 * Invariants:
 *   - open[w] is written by worker w only (and zeroed by the master while w is dead).
 *   - A slot whose counts are not all zero is never taken over: the taker checks the counts
 *     after its CAS to BUSY, and a worker that counts a stream checks the state after its
 *     increment (both sequentially consistent: one of the two always sees the other, O1/O2).
 *   - Two workers may claim two slots for one new address at the same time; every count sums all
 *     slots of the address, so a duplicate costs a slot until it is idle, never a wrong limit.
 *
 * The publish limit is a token bucket kept as one number, the theoretical arrival time of GCRA:
 * each POST moves tat_us one interval (a minute / per_minute) into the future, and a POST that
 * would move it more than burst intervals ahead of now is refused.
 */
#include "iplimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "log.h"
#include "util.h"

#define MAGIC                UINT64_C(0x7063696c70697263) /* "rciplimp" */
#define VERSION              1
#define HEADER               64 /* bytes before slot 0: one cache line */
#define PROBE                32 /* slots an address may use, from its hash on: bounds every lookup */
#define ATTEMPTS             8  /* retries when a slot changes under a worker; then it is served untracked */
#define TAG_EMPTY            0u
#define TAG_BUSY             1u
#define TAG_USED             2u
#define TAG(s)               ((unsigned)((s)&3u))
#define NEXT_VERSION(s, tag) ((((s) & ~UINT64_C(3)) + 4) | (tag))

typedef struct st_slot_t {
    uint64_t state;
    uint64_t key[2];
    uint64_t tat_us;
    uint32_t open[]; /* per worker */
} slot_t;

struct st_rc_iplimit_t {
    uint64_t magic;
    uint32_t version, workers;
    uint64_t mask, stride, seed;
    uint64_t full; /* addresses that found no room */
    uint8_t _pad[HEADER - 48];
};
_Static_assert(sizeof(struct st_rc_iplimit_t) == HEADER, "the header is one cache line");

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define CAS(p, expect, desired)                                                                                        \
    __atomic_compare_exchange_n((p), (expect), (desired), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

static slot_t *slot_at(rc_iplimit_t *t, uint64_t i)
{
    return (slot_t *)((char *)t + HEADER + i * t->stride);
}

static uint64_t mix(uint64_t x)
{
    /* splitmix64's finalizer: every input bit reaches every output bit. */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t hash(const rc_iplimit_t *t, const uint64_t k[2])
{
    /* Seeded at creation, so that nobody can pick addresses that crowd one probe window. */
    return mix(k[0] ^ t->seed) ^ mix(k[1] + t->seed);
}

rc_iplimit_t *rc_iplimit_new(size_t slots, size_t workers)
{
    uint64_t n = 1;
    while (n < slots)
        n <<= 1;
    uint64_t stride = (32 + 4 * (uint64_t)workers + 7) & ~UINT64_C(7);
    size_t len = HEADER + n * stride;
    rc_iplimit_t *t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) {
        rc_error("limits", "per-IP table of %zu bytes: %s", len, strerror(errno));
        abort();
    }
    t->magic = MAGIC;
    t->version = VERSION;
    t->workers = (uint32_t)workers;
    t->mask = n - 1;
    t->stride = stride;
    if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
        t->seed = (uint64_t)(uintptr_t)t ^ UINT64_C(0x9e3779b97f4a7c15);
    return t; /* anonymous memory is zero: every slot EMPTY */
}

void rc_iplimit_free(rc_iplimit_t *t)
{
    if (t != NULL)
        munmap(t, HEADER + (t->mask + 1) * t->stride);
}

int rc_iplimit_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &a->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        /* An IPv4 client on a dual-stack socket arrives mapped: it is one address, not a /64. */
        memcpy(key, &a->sin6_addr, IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) ? 16 : 8);
        return 0;
    }
    return -1;
}

static uint32_t open_sum(rc_iplimit_t *t, slot_t *s)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < t->workers; w++)
        n += LOAD(&s->open[w]);
    return n;
}

static int idle(rc_iplimit_t *t, slot_t *s, uint64_t now_us)
{
    return open_sum(t, s) == 0 && LOAD(&s->tat_us) <= now_us;
}

/* True if s holds key k; *state is the state it was seen in. The key is re-checked against the
 * state after reading it: a slot being rewritten (BUSY, or a new version) does not match. */
static int holds(slot_t *s, const uint64_t k[2], uint64_t *state)
{
    uint64_t st = LOAD(&s->state);
    if (TAG(st) != TAG_USED || LOAD(&s->key[0]) != k[0] || LOAD(&s->key[1]) != k[1])
        return 0;
    *state = st;
    return LOAD(&s->state) == st;
}

/* Finds key k: the index of its first slot in probe order (-1 if none) with that slot's state,
 * and the streams open in all its slots. */
static int64_t find(rc_iplimit_t *t, const uint64_t k[2], uint64_t *state, uint32_t *open)
{
    uint64_t h = hash(t, k), probe = t->mask + 1 < PROBE ? t->mask + 1 : PROBE;
    int64_t first = -1;
    *open = 0;
    for (uint64_t i = 0; i < probe; i++) {
        uint64_t idx = (h + i) & t->mask, st;
        slot_t *s = slot_at(t, idx);
        if (!holds(s, k, &st))
            continue;
        *open += open_sum(t, s);
        if (first < 0) {
            first = (int64_t)idx;
            *state = st;
        }
    }
    return first;
}

/* Takes an empty or idle slot of k's probe window for k. Returns 0, or -1 when none was free. */
static int claim(rc_iplimit_t *t, const uint64_t k[2], uint64_t now_us)
{
    uint64_t h = hash(t, k), probe = t->mask + 1 < PROBE ? t->mask + 1 : PROBE;
    for (uint64_t i = 0; i < probe; i++) {
        slot_t *s = slot_at(t, (h + i) & t->mask);
        uint64_t st = LOAD(&s->state);
        if (TAG(st) == TAG_BUSY || (TAG(st) == TAG_USED && !idle(t, s, now_us)))
            continue;
        uint64_t busy = NEXT_VERSION(st, TAG_BUSY);
        if (!CAS(&s->state, &st, busy)) /* O1: pairs with O2 in rc_iplimit_open() */
            continue;
        if (TAG(st) == TAG_USED && !idle(t, s, now_us)) {
            STORE(&s->state, st); /* a stream or a POST came in between: the slot stays as it was */
            continue;
        }
        STORE(&s->key[0], k[0]);
        STORE(&s->key[1], k[1]);
        STORE(&s->tat_us, 0);
        STORE(&s->state, NEXT_VERSION(busy, TAG_USED)); /* publishes the key: pairs with holds() */
        return 0;
    }
    return -1;
}

static void words(const uint8_t key[16], uint64_t k[2])
{
    memcpy(k, key, 16);
}

static void note_full(rc_iplimit_t *t)
{
    if (__atomic_fetch_add(&t->full, 1, __ATOMIC_RELAXED) % 10000 == 0)
        rc_warn("limits", "the per-IP table is full around one address: it is served without limits "
                          "(raise edge.limits.ip_table_size)");
}

int32_t rc_iplimit_open(rc_iplimit_t *t, const uint8_t key[16], size_t worker, uint32_t max)
{
    uint64_t k[2], st;
    uint32_t open;
    if (worker >= t->workers)
        return RC_IPLIMIT_UNTRACKED; /* more workers than the table was made for: no column */
    words(key, k);
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        int64_t idx = find(t, k, &st, &open);
        if (idx < 0) {
            if (claim(t, k, rc_now_mono_ns() / 1000) != 0)
                break;
            continue; /* found next time: this slot, or the one another worker claimed first */
        }
        slot_t *s = slot_at(t, (uint64_t)idx);
        __atomic_fetch_add(&s->open[worker], 1, __ATOMIC_SEQ_CST);
        if (LOAD(&s->state) != st) { /* O2: pairs with O1 in claim() */
            __atomic_fetch_sub(&s->open[worker], 1, __ATOMIC_SEQ_CST);
            continue;
        }
        /* Counted first, checked after: two workers racing for the last place may both refuse,
         * but never both get it. */
        find(t, k, &st, &open);
        if (open > max) {
            __atomic_fetch_sub(&s->open[worker], 1, __ATOMIC_SEQ_CST);
            return RC_IPLIMIT_REFUSED;
        }
        return (int32_t)idx;
    }
    note_full(t);
    return RC_IPLIMIT_UNTRACKED;
}

void rc_iplimit_close(rc_iplimit_t *t, int32_t slot, size_t worker)
{
    if (t == NULL || slot < 0 || (uint64_t)slot > t->mask || worker >= t->workers)
        return;
    slot_t *s = slot_at(t, (uint64_t)slot);
    /* The master may have zeroed this worker's counts (it restarted it): never wrap below 0. */
    uint32_t v = LOAD(&s->open[worker]);
    while (v > 0 && !CAS(&s->open[worker], &v, v - 1))
        ;
}

uint32_t rc_iplimit_count(rc_iplimit_t *t, const uint8_t key[16])
{
    uint64_t k[2], st;
    uint32_t open;
    words(key, k);
    find(t, k, &st, &open);
    return open;
}

int rc_iplimit_take(rc_iplimit_t *t, const uint8_t key[16], uint64_t now_us, uint64_t per_minute, uint64_t burst,
                    uint64_t *retry_ms)
{
    uint64_t k[2], st;
    uint32_t open;
    words(key, k);
    uint64_t interval = 60000000 / (per_minute ? per_minute : 1), limit = burst * interval;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        int64_t idx = find(t, k, &st, &open);
        if (idx < 0) {
            if (claim(t, k, now_us) != 0)
                break;
            continue;
        }
        slot_t *s = slot_at(t, (uint64_t)idx);
        uint64_t tat = LOAD(&s->tat_us);
        uint64_t next = (tat > now_us ? tat : now_us) + interval;
        if (next - now_us > limit) {
            *retry_ms = (next - now_us - limit + 999) / 1000;
            return 1;
        }
        if (!CAS(&s->tat_us, &tat, next))
            continue;
        if (LOAD(&s->state) != st)
            continue; /* the slot went to another address meanwhile: take from the right one */
        return 0;
    }
    note_full(t);
    return 0;
}

void rc_iplimit_reset_worker(rc_iplimit_t *t, size_t worker)
{
    if (t == NULL || worker >= t->workers)
        return;
    for (uint64_t i = 0; i <= t->mask; i++)
        STORE(&slot_at(t, i)->open[worker], 0);
}

uint64_t rc_iplimit_full_count(rc_iplimit_t *t)
{
    return t != NULL ? __atomic_load_n(&t->full, __ATOMIC_RELAXED) : 0;
}

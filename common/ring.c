/*
 * The ringcast ring: layout and invariants are drawn in ring.h. This file holds the writer
 * (append, evict, publish), the reader (copy, check, validate), the lookups and validate().
 *
 * Synchronisation map. Every shared access below is labelled; partners:
 *
 *   W-T  writer: stores tail, then a release fence, then overwrites evicted bytes
 *        pairs with R-T (reader: copies bytes, acquire fence, re-loads tail)
 *   W-H1 writer: release fence before it writes the head slot that readers may be reading
 *        pairs with R-H2 (reader: acquire fence after reading the slot, then re-reads head_gen)
 *   W-H2 writer: release store of head_gen, publishing records, index, checkpoints, lane slots
 *        pairs with R-H1 (reader: acquire load of head_gen)
 *   W-N  writer: release store of n_lanes / n_topics after the lane or topic entry is written
 *        pairs with R-N (reader: acquire load of n_lanes / n_topics)
 *   W-I  writer: tail_seq store (under W-T) before an index slot is reused
 *        pairs with R-I (reader: reads the slot, acquire fence, re-loads tail_seq)
 *
 * The head and every lane's state are double-buffered: publication g writes slot g&1 of each and
 * then stores head_gen = g. A reader takes slot head_gen&1 and accepts it only if head_gen did not
 * move meanwhile, so (head, lane state) is always one consistent publication, and a writer that
 * dies mid-publish leaves the previous one intact: there is no "writer busy" state to get stuck on.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define FENCE_ACQ()     __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define FENCE_REL()     __atomic_thread_fence(__ATOMIC_RELEASE)

#define CACHE_LINE     64
#define SNAP_TRIES     1000 /* a stable snapshot needs the writer not to publish twice during 4 loads */
#define LOOKUP_TRIES   8    /* a lookup lapped by a fast writer starts over this many times */
#define DEFAULT_LANES  256  /* Kafka partitions of one stream's topics, all together */
#define BYTES_PER_SLOT 128  /* default index slots: one per 128 data bytes, a small record's size */

/* One publication of a lane's state; each lane keeps two (see the file comment). */
typedef struct {
    uint64_t ck_head;    /* checkpoints ever written for this lane (free-running) */
    uint64_t ck_base;    /* first checkpoint of the lane's current offset history */
    uint64_t base_seq;   /* seq where the current history starts (first record or last RESET) */
    int64_t next_offset; /* offset after the lane's last record; -1 before its first */
    uint64_t records;    /* records the lane ever received */
    uint64_t _reserved[3];
} lane_state_t;

typedef struct {
    int32_t partition;
    uint16_t topic;
    uint16_t _pad;
    uint32_t _reserved[14];
    lane_state_t st[2]; /* st[g & 1] belongs to publication g */
} ring_lane_t;

typedef struct {
    uint64_t seq;
    uint64_t pos;
} ring_slot_t;

typedef struct {
    /* line 0: identity, written once before the file is renamed into place */
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t epoch;
    uint64_t capacity;
    uint32_t index_slots;
    uint32_t max_lanes;
    uint32_t ckpt_slots;
    uint32_t ckpt_interval;
    uint64_t file_size;
    uint64_t created_ms;
    /* line 1: the head, double-buffered */
    alignas(CACHE_LINE) uint64_t head_gen;
    ring_slot_t head[2]; /* {pos, seq} of the next record to be written, per publication parity */
    /* line 2: the tail, moved by eviction */
    alignas(CACHE_LINE) uint64_t tail_pos;
    uint64_t tail_seq;
    /* line 3: the bridge */
    alignas(CACHE_LINE) uint64_t heartbeat_ns;
    uint32_t pid;
    uint32_t state;
    uint32_t n_lanes;
    uint32_t n_topics;
    /* lines 4-5: counters */
    alignas(CACHE_LINE) uint64_t counters[RC_CTR_MAX];
    /* line 6: a hash of line 0, so a damaged identity is caught, not misread as another geometry */
    alignas(CACHE_LINE) uint64_t ident_hash;
    uint64_t _reserved[7];
    /* names: the stream, then its topics in lane order of appearance */
    char name[RC_RING_NAME_MAX];
    char topics[RC_RING_MAX_TOPICS][RC_RING_TOPIC_MAX];
} ring_hdr_t;

_Static_assert(sizeof(rc_rec_hdr_t) == RC_REC_HDR_SIZE, "record header is 56 bytes");
_Static_assert(sizeof(lane_state_t) == 64, "a lane state is one cache line");
_Static_assert(sizeof(ring_lane_t) == 3 * CACHE_LINE, "a lane is three cache lines");
_Static_assert(offsetof(ring_hdr_t, head_gen) == 1 * CACHE_LINE, "head on line 1");
_Static_assert(offsetof(ring_hdr_t, tail_pos) == 2 * CACHE_LINE, "tail on line 2");
_Static_assert(offsetof(ring_hdr_t, heartbeat_ns) == 3 * CACHE_LINE, "bridge status on line 3");
_Static_assert(offsetof(ring_hdr_t, counters) == 4 * CACHE_LINE, "counters on lines 4-5");
_Static_assert(offsetof(ring_hdr_t, ident_hash) == 6 * CACHE_LINE, "identity hash on line 6");
_Static_assert(sizeof(ring_hdr_t) <= RC_RING_HDR_SIZE, "header fits its reserved size");

/* Writer-private lane state: what the next publication will show. */
typedef struct {
    lane_state_t st;
    uint64_t last_ckpt_seq;
    int has_ckpt;   /* a checkpoint exists in the current history */
    int dirty;      /* changed since the last publication */
    int dirty_prev; /* changed in the last publication: its other slot is stale */
} wlane_t;

struct st_rc_ring_t {
    const uint8_t *base;
    size_t len;
    ring_hdr_t *h; /* writable only through a writer's handle */
    ring_slot_t *index;
    ring_lane_t *lanes;
    uint64_t *ckpts;
    uint8_t *data;
    uint64_t cap, mask;
    uint32_t index_slots, max_lanes, ckpt_slots, ckpt_interval, max_record;
    int mapped;                    /* base is our mapping, unmapped on close */
    volatile sig_atomic_t damaged; /* set by the SIGBUS guard: the mapping is zero pages now */
    char *path;                    /* writer only: the file's name, to notice it removed or replaced */
    /* writer only */
    int writer, fd, lock_fd;
    uint64_t head_pos, next_seq;         /* next record to write */
    uint64_t pub_head_pos, pub_next_seq; /* as last published */
    uint64_t tail_pos, tail_seq;
    uint64_t head_gen;
    uint32_t n_lanes, n_topics;
    wlane_t *wl;
    uint16_t *dirty_list, *dirty_prev_list;
    uint32_t n_dirty, n_dirty_prev;
    uint64_t counters[RC_CTR_MAX];
    int counters_dirty;
    uint8_t *scratch; /* TSan builds: a record is staged here, then copied in atomic words */
};

static void fmt_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmt_err(char *err, size_t len, const char *fmt, ...)
{
    if (err == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* --- the SIGBUS guard ---------------------------------------------------------------------------------- */

/*
 * A ring file truncated under a mapping makes every access past its new end raise SIGBUS. With
 * rc_ring_guard_sigbus() installed, the handler finds the ring whose mapping holds the faulting
 * address, maps anonymous zero pages over the whole mapping (MAP_FIXED: the addresses stay valid,
 * the access is retried and reads zeros) and marks the ring damaged. Zeros fail validation like
 * any damaged ring, and the owner, told by rc_ring_damaged() or rc_ring_check_file(), closes the
 * ring and opens the file again. Mappings are registered here when they are made and removed
 * before they are unmapped; the handler only reads the table. A SIGBUS elsewhere is not a ring's:
 * the default action runs, as without the guard.
 */
#define GUARD_SLOTS 1024 /* rings one process maps at once; more are mapped unguarded */

static struct {
    uintptr_t base; /* 0: a free slot */
    size_t len;
    int prot;
    rc_ring_t *ring;
} guard_slot[GUARD_SLOTS];

static void guard_add(rc_ring_t *r, int prot)
{
    for (size_t i = 0; i < GUARD_SLOTS; i++) {
        if (LOAD_RLX(&guard_slot[i].base) == 0) {
            guard_slot[i].len = r->len;
            guard_slot[i].prot = prot;
            guard_slot[i].ring = r;
            STORE_REL(&guard_slot[i].base, (uintptr_t)r->base); /* G1: pairs with G2 */
            return;
        }
    }
}

static void guard_remove(const rc_ring_t *r)
{
    for (size_t i = 0; i < GUARD_SLOTS; i++)
        if (LOAD_RLX(&guard_slot[i].base) == (uintptr_t)r->base && guard_slot[i].ring == r)
            STORE_REL(&guard_slot[i].base, 0);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t base = LOAD_ACQ(&guard_slot[i].base); /* G2: pairs with G1 */
        if (base == 0 || a < base || a - base >= guard_slot[i].len)
            continue;
        if (mmap((void *)base, guard_slot[i].len, guard_slot[i].prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
            MAP_FAILED) {
            guard_slot[i].ring->damaged = 1;
            return;
        }
        break;
    }
    signal(sig, SIG_DFL); /* not a ring's fault: returning re-runs the access, which now kills */
}

int rc_ring_guard_sigbus(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, NULL);
}

bool rc_ring_damaged(const rc_ring_t *r)
{
    return r->damaged != 0;
}

int rc_ring_check_file(const rc_ring_t *w, char *why, size_t whylen)
{
    struct stat mine, named;
    if (w->damaged) {
        fmt_err(why, whylen, "its file was truncated under the mapping (SIGBUS)");
        return -1;
    }
    if (w->fd < 0 || w->path == NULL || fstat(w->fd, &mine) != 0)
        return 0; /* not a writer's file: nothing to compare */
    if (stat(w->path, &named) != 0) {
        fmt_err(why, whylen, "%s: %s", w->path, strerror(errno));
        return -1;
    }
    if (named.st_ino != mine.st_ino || named.st_dev != mine.st_dev) {
        fmt_err(why, whylen, "%s was replaced by another file", w->path);
        return -1;
    }
    if ((uint64_t)mine.st_size < w->len) {
        fmt_err(why, whylen, "%s was truncated to %lld bytes (the ring needs %zu)", w->path, (long long)mine.st_size,
                w->len);
        return -1;
    }
    return 0;
}

/* FNV-1a over the identity line. */
static uint64_t ident_hash(const void *hdr)
{
    const uint8_t *p = hdr;
    uint64_t x = 0xcbf29ce484222325ull;
    for (int i = 0; i < CACHE_LINE; i++)
        x = (x ^ p[i]) * 0x100000001b3ull;
    return x;
}

static int is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static uint64_t pow2_ceil(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* --- copying bytes that another process may be rewriting ----------------------------------------- */

#if defined(__SANITIZE_THREAD__)
/* TSan cannot know that a torn copy is detected afterwards (R-T), so in TSan builds the bytes move
 * as relaxed atomic words: the races the design tolerates are then not reported, and any other
 * plain access to shared memory still is. n and the shared address are multiples of 8. */
static void copy_from_shared(void *dst, const uint8_t *src, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t v = LOAD_RLX((const uint64_t *)(src + i));
        memcpy((uint8_t *)dst + i, &v, 8);
    }
}
static void copy_to_shared(uint8_t *dst, const void *src, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)src + i, 8);
        STORE_RLX((uint64_t *)(dst + i), v);
    }
}
#else
static void copy_from_shared(void *dst, const uint8_t *src, uint64_t n)
{
    memcpy(dst, src, n);
}
static void copy_to_shared(uint8_t *dst, const void *src, uint64_t n)
{
    memcpy(dst, src, n);
}
#endif

/* --- geometry --------------------------------------------------------------------------------------- */

void rc_ring_geometry_defaults(rc_ring_geom_t *g)
{
    if (g->capacity < RC_RING_MIN_CAPACITY)
        g->capacity = g->capacity == 0 ? 64u << 20 : RC_RING_MIN_CAPACITY;
    g->capacity = pow2_ceil(g->capacity);
    if (g->index_slots == 0) {
        uint64_t slots = g->capacity / BYTES_PER_SLOT;
        g->index_slots = (uint32_t)(slots < 64 ? 64 : slots > (1u << 30) ? (1u << 30) : slots);
    }
    g->index_slots = (uint32_t)pow2_ceil(g->index_slots);
    if (g->max_lanes == 0)
        g->max_lanes = DEFAULT_LANES;
    if (g->max_lanes > UINT16_MAX)
        g->max_lanes = UINT16_MAX;
    if (g->ckpt_interval == 0)
        g->ckpt_interval = RC_RING_DEFAULT_CKPT;
}

typedef struct {
    uint64_t index_off, lanes_off, ckpt_off, data_off, file_size;
    uint32_t ckpt_slots;
} layout_t;

/* Checkpoint slots per lane cover the whole index: after a lane's first checkpoint, each one is at
 * least ckpt_interval seqs after the previous, and at most index_slots seqs are live. */
static layout_t layout_of(uint64_t capacity, uint32_t index_slots, uint32_t max_lanes, uint32_t ckpt_interval)
{
    layout_t l;
    l.ckpt_slots = (uint32_t)pow2_ceil(index_slots / ckpt_interval + 2);
    l.index_off = RC_RING_HDR_SIZE;
    l.lanes_off = l.index_off + (uint64_t)index_slots * sizeof(ring_slot_t);
    l.ckpt_off = l.lanes_off + (uint64_t)max_lanes * sizeof(ring_lane_t);
    l.data_off = (l.ckpt_off + (uint64_t)max_lanes * l.ckpt_slots * 8 + 4095) & ~(uint64_t)4095;
    l.file_size = l.data_off + capacity;
    return l;
}

uint64_t rc_ring_file_size(const rc_ring_geom_t *g)
{
    return layout_of(g->capacity, g->index_slots, g->max_lanes, g->ckpt_interval).file_size;
}

/* --- attach: trust nothing in the header until it is checked ---------------------------------------- */

static int attach(rc_ring_t *r, const void *base, size_t len, char *err, size_t errlen)
{
    const ring_hdr_t *h = base;
    if (len < RC_RING_HDR_SIZE) {
        fmt_err(err, errlen, "file too small for a ring header (%zu bytes)", len);
        return -1;
    }
    if (h->magic != RC_RING_MAGIC) {
        fmt_err(err, errlen, "not a ringcast ring (bad magic)");
        return -1;
    }
    if (h->version != RC_RING_VERSION || h->hdr_size != RC_RING_HDR_SIZE) {
        fmt_err(err, errlen, "ring layout version %u (header %u bytes); this build reads version %u", h->version,
                h->hdr_size, RC_RING_VERSION);
        return -1;
    }
    if (h->ident_hash != ident_hash(h)) {
        fmt_err(err, errlen, "ring header damaged (identity checksum mismatch)");
        return -1;
    }
    if (!is_pow2(h->capacity) || h->capacity < RC_RING_MIN_CAPACITY || h->capacity > (1ull << 40) ||
        !is_pow2(h->index_slots) || h->index_slots < 2 || h->index_slots > (1u << 30) || h->max_lanes == 0 ||
        h->max_lanes > UINT16_MAX || h->ckpt_interval == 0 || h->ckpt_interval > (1u << 30)) {
        fmt_err(err, errlen, "ring geometry is invalid (capacity %" PRIu64 ", index %u, lanes %u, interval %u)",
                h->capacity, h->index_slots, h->max_lanes, h->ckpt_interval);
        return -1;
    }
    layout_t l = layout_of(h->capacity, h->index_slots, h->max_lanes, h->ckpt_interval);
    if (h->ckpt_slots != l.ckpt_slots || h->file_size != l.file_size || l.file_size != len) {
        fmt_err(err, errlen,
                "ring size mismatch: header says %" PRIu64 " bytes, layout needs %" PRIu64 ", file has %zu",
                h->file_size, l.file_size, len);
        return -1;
    }
    r->base = base;
    r->len = len;
    r->h = (ring_hdr_t *)base;
    r->index = (ring_slot_t *)((uint8_t *)base + l.index_off);
    r->lanes = (ring_lane_t *)((uint8_t *)base + l.lanes_off);
    r->ckpts = (uint64_t *)((uint8_t *)base + l.ckpt_off);
    r->data = (uint8_t *)base + l.data_off;
    r->cap = h->capacity;
    r->mask = h->capacity - 1;
    r->index_slots = h->index_slots;
    r->max_lanes = h->max_lanes;
    r->ckpt_slots = l.ckpt_slots;
    r->ckpt_interval = h->ckpt_interval;
    r->max_record = (uint32_t)(r->cap / 4 > (64u << 20) ? (64u << 20) : r->cap / 4);
    return 0;
}

int rc_ring_attach(rc_ring_t **out, const void *base, size_t len, char *err, size_t errlen)
{
    rc_ring_t *r = rc_calloc(1, sizeof(*r));
    r->fd = r->lock_fd = -1;
    if (attach(r, base, len, err, errlen) != 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int rc_ring_open_reader(rc_ring_t **out, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fmt_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < RC_RING_HDR_SIZE) {
        fmt_err(err, errlen, "%s: not a ring (size %lld)", path, (long long)st.st_size);
        close(fd);
        return -1;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the file alive */
    if (base == MAP_FAILED) {
        fmt_err(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return -1;
    }
    rc_ring_t *r = rc_calloc(1, sizeof(*r));
    r->fd = r->lock_fd = -1;
    char why[256];
    if (attach(r, base, (size_t)st.st_size, why, sizeof(why)) != 0) {
        fmt_err(err, errlen, "%s: %s", path, why);
        munmap(base, (size_t)st.st_size);
        free(r);
        return -1;
    }
    r->mapped = 1;
    guard_add(r, PROT_READ);
    *out = r;
    return 0;
}

void rc_ring_close(rc_ring_t *r)
{
    if (r == NULL)
        return;
    if (r->writer) {
        rc_ring_publish(r);
        STORE_RLX(&r->h->state, (uint32_t)RC_STATE_STOPPED);
        free(r->wl);
        free(r->dirty_list);
        free(r->dirty_prev_list);
        free(r->scratch);
    }
    if (r->mapped) {
        guard_remove(r);
        munmap((void *)r->base, r->len);
    }
    free(r->path);
    if (r->fd >= 0)
        close(r->fd);
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the writer's flock */
    free(r);
}

/* --- snapshots -------------------------------------------------------------------------------------- */

/* One consistent publication: head and, if lane >= 0, that lane's state. */
static int snapshot(const rc_ring_t *r, int64_t lane, rc_cursor_t *head, lane_state_t *ls)
{
    const ring_hdr_t *h = r->h;
    for (int i = 0; i < SNAP_TRIES; i++) {
        uint64_t g = LOAD_ACQ(&h->head_gen); /* R-H1: pairs with W-H2 */
        head->pos = LOAD_RLX(&h->head[g & 1].pos);
        head->seq = LOAD_RLX(&h->head[g & 1].seq);
        if (lane >= 0) {
            const lane_state_t *s = &r->lanes[lane].st[g & 1];
            ls->ck_head = LOAD_RLX(&s->ck_head);
            ls->ck_base = LOAD_RLX(&s->ck_base);
            ls->base_seq = LOAD_RLX(&s->base_seq);
            ls->next_offset = LOAD_RLX(&s->next_offset);
            ls->records = LOAD_RLX(&s->records);
        }
        FENCE_ACQ(); /* R-H2: pairs with W-H1; a slot write we saw makes the newer head_gen visible */
        if (LOAD_RLX(&h->head_gen) == g)
            return 0;
    }
    return -1;
}

int rc_ring_head(const rc_ring_t *r, rc_cursor_t *head)
{
    return snapshot(r, -1, head, NULL);
}

/* Copies and checks the header of the record at pos; head bounds what may be read. */
static rc_read_t read_hdr_at(const rc_ring_t *r, uint64_t pos, uint64_t head, rc_rec_hdr_t *out)
{
    if ((pos & 7) != 0 || pos >= head || head - pos > r->cap)
        return RC_READ_CORRUPT;
    if (LOAD_ACQ(&r->h->tail_pos) > pos) /* R-T0: cheap early answer; R-T below is the real check */
        return RC_READ_LAPPED;
    uint64_t off = pos & r->mask;
    uint64_t n = r->cap - off < RC_REC_HDR_SIZE ? r->cap - off : RC_REC_HDR_SIZE;
    memset(out, 0, sizeof(*out));
    copy_from_shared(out, r->data + off, n);
    FENCE_ACQ(); /* R-T: pairs with W-T */
    if (LOAD_RLX(&r->h->tail_pos) > pos)
        return RC_READ_LAPPED;
    uint64_t alen = RC_RING_ALIGN((uint64_t)out->len);
    if (out->len < 8 || alen > r->cap - off || alen > head - pos)
        return RC_READ_CORRUPT;
    if (out->type == RC_REC_PAD)
        return off + alen == r->cap ? RC_READ_OK : RC_READ_CORRUPT;
    if (out->type != RC_REC_DATA && out->type != RC_REC_RESET && out->type != RC_REC_SKIP)
        return RC_READ_CORRUPT;
    if (n < RC_REC_HDR_SIZE || out->len < RC_REC_HDR_SIZE || out->lane >= r->max_lanes ||
        (uint64_t)RC_REC_HDR_SIZE + out->key_len + out->event_len + out->frame_len != out->len)
        return RC_READ_CORRUPT;
    return RC_READ_OK;
}

int rc_ring_oldest(const rc_ring_t *r, rc_cursor_t *c)
{
    for (int i = 0; i < SNAP_TRIES; i++) {
        rc_cursor_t head;
        if (snapshot(r, -1, &head, NULL) != 0)
            return -1;
        uint64_t pos = LOAD_ACQ(&r->h->tail_pos);
        if (pos > head.pos)
            continue;                          /* the tail moved past our snapshot: take a newer one */
        for (int hops = 0; hops < 2; hops++) { /* at most one PAD before the oldest record */
            if (pos == head.pos) {
                *c = head;
                return 0;
            }
            rc_rec_hdr_t hd;
            rc_read_t rr = read_hdr_at(r, pos, head.pos, &hd);
            if (rr == RC_READ_LAPPED)
                break;
            if (rr != RC_READ_OK)
                return -1;
            if (hd.type != RC_REC_PAD) {
                c->pos = pos;
                c->seq = hd.seq;
                return 0;
            }
            pos += RC_RING_ALIGN((uint64_t)hd.len);
        }
    }
    return -1;
}

/* --- reader ----------------------------------------------------------------------------------------- */

rc_read_t rc_ring_read(const rc_ring_t *r, rc_cursor_t *c, void *buf, size_t buflen, size_t *nbytes)
{
    *nbytes = 0;
    rc_cursor_t head;
    if (snapshot(r, -1, &head, NULL) != 0)
        return RC_READ_EMPTY; /* the writer is publishing very fast; the caller simply tries again */
    uint64_t pos = c->pos;
    if (pos == head.pos)
        return RC_READ_EMPTY;
    if (LOAD_ACQ(&r->h->tail_pos) > pos) /* R-T0 */
        return RC_READ_LAPPED;
    if ((pos & 7) != 0 || pos > head.pos || head.pos - pos > r->cap || ((uintptr_t)buf & 7) != 0)
        return RC_READ_CORRUPT;

    uint64_t off = pos & r->mask;
    uint64_t n = head.pos - pos;
    if (n > r->cap - off)
        n = r->cap - off;
    if (n > (buflen & ~(size_t)7))
        n = buflen & ~(size_t)7;
    copy_from_shared(buf, r->data + off, n);
    FENCE_ACQ(); /* R-T: pairs with W-T; a byte the writer overwrote makes its newer tail visible */
    if (LOAD_RLX(&r->h->tail_pos) > pos)
        return RC_READ_LAPPED;

    /* The copy is ours now: validate it without touching shared memory again. */
    const uint8_t *b = buf;
    uint64_t used = 0, seq = c->seq;
    while (used < n) {
        rc_rec_hdr_t hd;
        uint64_t roff = off + used;
        memcpy(&hd, b + used, 8);
        uint64_t alen = RC_RING_ALIGN((uint64_t)hd.len);
        if (hd.len < 8 || alen > r->cap - roff)
            return RC_READ_CORRUPT;
        if (alen > n - used) {
            if (used > 0)
                break; /* a whole record that did not fit this time: the next read starts with it */
            if (pos + alen <= head.pos && n == (buflen & ~(size_t)7))
                return RC_READ_TOOBIG;
            return RC_READ_CORRUPT; /* the record claims to run past the head or the wrap */
        }
        if (hd.type == RC_REC_PAD) {
            if (roff + alen != r->cap)
                return RC_READ_CORRUPT;
            used += alen;
            continue;
        }
        memcpy(&hd, b + used, sizeof(hd)); /* alen >= 8 and fits: a DATA header needs 56 */
        if ((hd.type != RC_REC_DATA && hd.type != RC_REC_RESET && hd.type != RC_REC_SKIP) || hd.len < RC_REC_HDR_SIZE ||
            hd.lane >= r->max_lanes || (uint64_t)RC_REC_HDR_SIZE + hd.key_len + hd.event_len + hd.frame_len != hd.len)
            return RC_READ_CORRUPT;
        if (seq != RC_SEQ_UNKNOWN && hd.seq != seq)
            return RC_READ_CORRUPT;
        seq = hd.seq + 1;
        used += alen;
    }
    c->pos = pos + used;
    c->seq = seq;
    *nbytes = used;
    return RC_READ_OK;
}

int rc_ring_next_record(const void *buf, size_t len, size_t *off, rc_record_t *rec)
{
    /* The buffer is the caller's private copy, but a copy kept for later (an edge's cached chunk)
     * is parsed again from offsets the caller computed: every record is checked here as
     * rc_ring_read() checked it, so a wrong offset or a damaged copy ends the iteration instead of
     * sending bytes from outside the record. The header is copied once; the checks are a few
     * compares on it. */
    const uint8_t *b = buf;
    while (*off <= len && len - *off >= 8) {
        uint32_t rlen;
        uint16_t type;
        memcpy(&rlen, b + *off, 4);
        memcpy(&type, b + *off + 4, 2);
        uint64_t alen = RC_RING_ALIGN((uint64_t)rlen);
        if (rlen < 8 || alen > len - *off)
            return 0;
        if (type == RC_REC_PAD) {
            *off += alen;
            continue;
        }
        if ((type != RC_REC_DATA && type != RC_REC_RESET && type != RC_REC_SKIP) || rlen < RC_REC_HDR_SIZE)
            return 0;
        memcpy(&rec->h, b + *off, sizeof(rec->h));
        if ((uint64_t)RC_REC_HDR_SIZE + rec->h.key_len + rec->h.event_len + rec->h.frame_len != rlen)
            return 0;
        rec->key = b + *off + RC_REC_HDR_SIZE;
        rec->event = rec->key + rec->h.key_len;
        rec->frame = rec->event + rec->h.event_len;
        *off += alen;
        return 1;
    }
    return 0;
}

/* --- lookups ---------------------------------------------------------------------------------------- */

/* seq -> position, given a head snapshot. */
static rc_lookup_t find_seq_in(const rc_ring_t *r, uint64_t seq, const rc_cursor_t *head, rc_cursor_t *c)
{
    if (seq == head->seq) {
        *c = *head;
        return RC_EXPECTED;
    }
    if (seq > head->seq) {
        *c = *head;
        return RC_NOTFOUND;
    }
    if (head->seq - seq > r->index_slots || seq < LOAD_ACQ(&r->h->tail_seq))
        return RC_EXPIRED;
    const ring_slot_t *slot = &r->index[seq & (r->index_slots - 1)];
    uint64_t s = LOAD_RLX(&slot->seq);
    uint64_t p = LOAD_RLX(&slot->pos);
    FENCE_ACQ(); /* R-I: pairs with W-I; a slot reused for a newer seq shows the newer tail_seq */
    if (LOAD_RLX(&r->h->tail_seq) > seq)
        return RC_EXPIRED;
    if (s != seq)
        return RC_LOOKUP_CORRUPT;
    rc_rec_hdr_t hd;
    rc_read_t rr = read_hdr_at(r, p, head->pos, &hd);
    if (rr == RC_READ_LAPPED)
        return RC_EXPIRED;
    if (rr != RC_READ_OK || hd.type == RC_REC_PAD || hd.seq != seq)
        return LOAD_ACQ(&r->h->tail_seq) > seq ? RC_EXPIRED : RC_LOOKUP_CORRUPT;
    c->pos = p;
    c->seq = seq;
    return RC_FOUND;
}

rc_lookup_t rc_ring_find_seq(const rc_ring_t *r, uint64_t seq, rc_cursor_t *c)
{
    rc_cursor_t head;
    if (snapshot(r, -1, &head, NULL) != 0)
        return RC_LOOKUP_CORRUPT;
    rc_lookup_t res = find_seq_in(r, seq, &head, c);
    if (res == RC_EXPIRED && rc_ring_oldest(r, c) != 0)
        return RC_LOOKUP_CORRUPT;
    return res;
}

rc_lookup_t rc_ring_peek(const rc_ring_t *r, uint64_t seq, rc_cursor_t *c, rc_rec_hdr_t *hdr)
{
    rc_cursor_t head;
    if (snapshot(r, -1, &head, NULL) != 0)
        return RC_LOOKUP_CORRUPT;
    rc_lookup_t res = find_seq_in(r, seq, &head, c);
    if (res != RC_FOUND)
        return res;
    rc_read_t rr = read_hdr_at(r, c->pos, head.pos, hdr);
    if (rr == RC_READ_LAPPED)
        return RC_EXPIRED;
    return rr == RC_READ_OK && hdr->type != RC_REC_PAD && hdr->seq == seq ? RC_FOUND : RC_LOOKUP_CORRUPT;
}

rc_lookup_t rc_ring_find_time(const rc_ring_t *r, int64_t ts_ms, rc_cursor_t *c)
{
    for (int tries = 0; tries < LOOKUP_TRIES; tries++) {
        rc_cursor_t old, head, at;
        rc_rec_hdr_t hd;
        if (rc_ring_oldest(r, &old) != 0 || rc_ring_head(r, &head) != 0)
            return RC_LOOKUP_CORRUPT;
        if (old.seq >= head.seq) {
            *c = head;
            return RC_EXPECTED;
        }
        /* Invariant: records before lo are older than ts_ms; hi is the first known to be at/after. */
        uint64_t lo = old.seq, hi = head.seq;
        int lapped = 0;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            rc_lookup_t res = rc_ring_peek(r, mid, &at, &hd);
            if (res == RC_EXPIRED) {
                lapped = 1; /* the writer evicted our range meanwhile: start over */
                break;
            }
            if (res != RC_FOUND)
                return RC_LOOKUP_CORRUPT;
            if (hd.timestamp >= ts_ms)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lapped)
            continue;
        if (lo == head.seq) {
            *c = head;
            return RC_EXPECTED;
        }
        rc_lookup_t res = rc_ring_find_seq(r, lo, c);
        if (res == RC_EXPIRED)
            continue;
        if (res != RC_FOUND)
            return RC_LOOKUP_CORRUPT;
        return lo == old.seq ? RC_EXPIRED : RC_FOUND;
    }
    return RC_LOOKUP_CORRUPT;
}

typedef enum { CK_OLD, CK_LESS, CK_GE } ck_class_t;

typedef struct {
    const rc_ring_t *r;
    uint32_t lane;
    int64_t want;     /* the offset asked for */
    rc_cursor_t head; /* the publication the lookup works in */
    uint64_t floor;   /* seqs below are evicted or belong to an earlier history of the lane */
} lookup_ctx_t;

typedef struct {
    rc_cursor_t at;
    int64_t offset;
    int64_t hole_from; /* the record's: offsets in [hole_from, offset) are holes */
} ck_hit_t;

/* Classifies checkpoint i of the lane: OLD (gone), LESS (offset < want) or GE. Along a lane's
 * published checkpoints the classes run OLD* LESS* GE*, which the binary searches rely on. An entry
 * the writer already reused for an unpublished checkpoint shows a seq at or past our head: it can
 * only be one of the oldest (the writer reuses them in order), so it counts as OLD. */
static ck_class_t classify(const lookup_ctx_t *x, uint64_t i, ck_hit_t *hit)
{
    const rc_ring_t *r = x->r;
    uint64_t s = LOAD_RLX(&r->ckpts[(uint64_t)x->lane * r->ckpt_slots + (i & (r->ckpt_slots - 1))]);
    if (s >= x->head.seq || s < x->floor)
        return CK_OLD;
    rc_cursor_t c;
    if (find_seq_in(r, s, &x->head, &c) != RC_FOUND)
        return CK_OLD;
    rc_rec_hdr_t hd;
    if (read_hdr_at(r, c.pos, x->head.pos, &hd) != RC_READ_OK || hd.type == RC_REC_PAD || hd.lane != x->lane)
        return CK_OLD; /* evicted meanwhile, or a stale entry: either way not usable */
    hit->at = c;
    hit->offset = hd.offset;
    hit->hole_from = hd.type == RC_REC_RESET ? hd.offset : hd.hole_from;
    return hd.offset < x->want ? CK_LESS : CK_GE;
}

/* First index in [lo, hi) whose class is >= min (hi if none). */
static uint64_t ck_lower_bound(const lookup_ctx_t *x, uint64_t lo, uint64_t hi, ck_class_t min)
{
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ck_hit_t hit;
        if (classify(x, mid, &hit) >= min)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

typedef enum { SCAN_FOUND, SCAN_NONE, SCAN_LAPPED, SCAN_CORRUPT } scan_t;

/* Walks records with seq in [from, to) for the first of the lane with offset >= want. */
static scan_t scan_lane(const lookup_ctx_t *x, uint64_t from, uint64_t to, ck_hit_t *hit, int *seen_less)
{
    const rc_ring_t *r = x->r;
    rc_cursor_t c;
    rc_lookup_t fr = find_seq_in(r, from, &x->head, &c);
    if (fr == RC_EXPECTED)
        return SCAN_NONE;
    if (fr == RC_EXPIRED)
        return SCAN_LAPPED;
    if (fr != RC_FOUND)
        return SCAN_CORRUPT;
    uint64_t pos = c.pos;
    /* Bounded by the seq range and by the ring's capacity (a PAD adds one step). */
    for (uint64_t steps = 0; steps <= (to - from) + 1 && pos < x->head.pos; steps++) {
        rc_rec_hdr_t hd;
        rc_read_t rr = read_hdr_at(r, pos, x->head.pos, &hd);
        if (rr == RC_READ_LAPPED)
            return SCAN_LAPPED;
        if (rr != RC_READ_OK)
            return SCAN_CORRUPT;
        pos += RC_RING_ALIGN((uint64_t)hd.len);
        if (hd.type == RC_REC_PAD)
            continue;
        if (hd.seq >= to)
            break;
        if (hd.lane != x->lane)
            continue;
        if (hd.offset < x->want) {
            *seen_less = 1;
            continue;
        }
        hit->at.pos = pos - RC_RING_ALIGN((uint64_t)hd.len);
        hit->at.seq = hd.seq;
        hit->offset = hd.offset;
        hit->hole_from = hd.type == RC_REC_RESET ? hd.offset : hd.hole_from;
        return SCAN_FOUND;
    }
    return SCAN_NONE;
}

static rc_lookup_t find_offset_once(const rc_ring_t *r, uint32_t lane, int64_t want, rc_found_t *out, int *retry)
{
    lookup_ctx_t x = {.r = r, .lane = lane, .want = want};
    lane_state_t ls;
    *retry = 0;
    if (snapshot(r, lane, &x.head, &ls) != 0)
        return RC_LOOKUP_CORRUPT;
    out->at = x.head;
    out->offset = -1;
    out->lost_to = want;
    out->missed = 0;
    out->history_seq = ls.base_seq;
    out->history_offset = -1;
    out->history_prev = -1;
    out->history_reset = 0;
    uint64_t tail_seq = LOAD_ACQ(&r->h->tail_seq);
    if (ls.records > 0 && ls.base_seq >= tail_seq && ls.base_seq < x.head.seq) {
        /* Where the current history began: a reader placed after a RESET must not get it twice. */
        rc_cursor_t bc;
        rc_rec_hdr_t bh;
        if (find_seq_in(r, ls.base_seq, &x.head, &bc) == RC_FOUND &&
            read_hdr_at(r, bc.pos, x.head.pos, &bh) == RC_READ_OK && bh.type == RC_REC_RESET && bh.lane == lane) {
            out->history_reset = 1;
            out->history_offset = bh.offset;
            out->history_prev = bh.hole_from;
        }
    }
    /* Nothing of the lane at or after `want` was ever written: the next such record comes later. */
    if (ls.next_offset < 0 || want >= ls.next_offset)
        return RC_EXPECTED;
    x.floor = tail_seq > ls.base_seq ? tail_seq : ls.base_seq;
    if (ls.ck_head < ls.ck_base || ls.ck_head - ls.ck_base > (1ull << 62))
        return RC_LOOKUP_CORRUPT;
    uint64_t lo = ls.ck_head - ls.ck_base > r->ckpt_slots ? ls.ck_head - r->ckpt_slots : ls.ck_base;
    uint64_t hi = ls.ck_head;

    uint64_t first_live = ck_lower_bound(&x, lo, hi, CK_LESS);
    uint64_t first_ge = ck_lower_bound(&x, first_live, hi, CK_GE);
    ck_hit_t ge = {{0, 0}, -1, -1}, less = {{0, 0}, -1, -1};
    int have_ge = first_ge < hi && classify(&x, first_ge, &ge) == CK_GE;
    int have_less = first_ge > first_live && classify(&x, first_ge - 1, &less) == CK_LESS;

    /* Records between two checkpoints of the lane lie within ckpt_interval seqs of the first. */
    uint64_t from = have_less ? less.at.seq + 1 : x.floor;
    uint64_t to = from + r->ckpt_interval;
    if (have_ge && ge.at.seq < to)
        to = ge.at.seq;
    if (to > x.head.seq)
        to = x.head.seq;
    int seen_less = have_less;
    ck_hit_t hit = {{0, 0}, -1, -1};
    scan_t sr = from < to ? scan_lane(&x, from, to, &hit, &seen_less) : SCAN_NONE;
    if (sr == SCAN_LAPPED) {
        *retry = 1;
        return RC_LOOKUP_CORRUPT;
    }
    if (sr == SCAN_CORRUPT)
        return RC_LOOKUP_CORRUPT;
    if (sr == SCAN_NONE && have_ge)
        hit = ge, sr = SCAN_FOUND;
    if (sr == SCAN_FOUND) {
        out->at = hit.at;
        out->offset = hit.offset;
        /* Exact when an older record of the lane is still here, the record is the one asked for, or
         * every offset between the one asked for and the record is a hole (its hole_from says so). */
        if (seen_less || hit.offset == want || hit.hole_from <= want)
            return RC_FOUND;
        out->lost_to = hit.hole_from;
        out->missed = (uint64_t)hit.hole_from - (uint64_t)want; /* unsigned: offsets read may be garbage */
        return RC_EXPIRED;
    }
    /* Nothing of the lane at or after `want` is kept, yet the lane went past it (want < next_offset,
     * and head and lane state are one publication): those records were evicted, or came before the
     * lane's start. An older record still here would contradict that; answer EXPECTED then. */
    if (seen_less)
        return RC_EXPECTED;
    out->lost_to = ls.next_offset;
    out->missed = (uint64_t)ls.next_offset - (uint64_t)want;
    return RC_EXPIRED;
}

rc_lookup_t rc_ring_find_offset(const rc_ring_t *r, uint32_t lane, int64_t next_offset, rc_found_t *out)
{
    if (lane >= rc_ring_lanes(r)) {
        if (rc_ring_head(r, &out->at) != 0)
            return RC_LOOKUP_CORRUPT;
        out->offset = -1;
        out->lost_to = next_offset;
        out->missed = 0;
        out->history_seq = out->at.seq;
        out->history_offset = -1;
        out->history_prev = -1;
        out->history_reset = 0;
        return RC_EXPECTED;
    }
    for (int i = 0; i < LOOKUP_TRIES; i++) {
        int retry;
        rc_lookup_t res = find_offset_once(r, lane, next_offset, out, &retry);
        if (!retry)
            return res;
    }
    return RC_LOOKUP_CORRUPT;
}

/* --- writer ----------------------------------------------------------------------------------------- */

static void write_slot_state(rc_ring_t *w, uint32_t lane, uint64_t gen)
{
    lane_state_t *d = &w->lanes[lane].st[gen & 1];
    const lane_state_t *s = &w->wl[lane].st;
    STORE_RLX(&d->ck_head, s->ck_head); /* published by W-H2 */
    STORE_RLX(&d->ck_base, s->ck_base);
    STORE_RLX(&d->base_seq, s->base_seq);
    STORE_RLX(&d->next_offset, s->next_offset);
    STORE_RLX(&d->records, s->records);
}

static void mark_dirty(rc_ring_t *w, uint32_t lane)
{
    if (!w->wl[lane].dirty) {
        w->wl[lane].dirty = 1;
        w->dirty_list[w->n_dirty++] = (uint16_t)lane;
    }
}

void rc_ring_publish(rc_ring_t *w)
{
    if (!w->writer)
        return;
    if (w->head_pos == w->pub_head_pos && w->n_dirty == 0 && w->n_dirty_prev == 0 && !w->counters_dirty)
        return;
    ring_hdr_t *h = w->h;
    uint64_t gen = w->head_gen + 1;
    FENCE_REL(); /* W-H1: pairs with R-H2; head_gen = gen-1 is visible before slot gen&1 is rewritten */
    /* Slot gen&1 of a lane last written two publications ago is stale if the lane changed in the
     * previous publication (dirty_prev) or in this one (dirty). */
    for (uint32_t i = 0; i < w->n_dirty_prev; i++) {
        w->wl[w->dirty_prev_list[i]].dirty_prev = 0;
        write_slot_state(w, w->dirty_prev_list[i], gen);
    }
    for (uint32_t i = 0; i < w->n_dirty; i++)
        write_slot_state(w, w->dirty_list[i], gen);
    STORE_RLX(&h->head[gen & 1].pos, w->head_pos); /* published by W-H2 */
    STORE_RLX(&h->head[gen & 1].seq, w->next_seq);
    w->counters[RC_CTR_PUBLISHES]++;
    for (int i = 0; i < RC_CTR_MAX; i++)
        STORE_RLX(&h->counters[i], w->counters[i]);
    STORE_REL(&h->head_gen, gen); /* W-H2: pairs with R-H1 */
    w->head_gen = gen;
    w->pub_head_pos = w->head_pos;
    w->pub_next_seq = w->next_seq;
    w->counters_dirty = 0;
    /* This publication's dirty lanes are the next one's dirty_prev. */
    uint16_t *t = w->dirty_prev_list;
    w->dirty_prev_list = w->dirty_list;
    w->dirty_list = t;
    w->n_dirty_prev = w->n_dirty;
    w->n_dirty = 0;
    for (uint32_t i = 0; i < w->n_dirty_prev; i++) {
        w->wl[w->dirty_prev_list[i]].dirty = 0;
        w->wl[w->dirty_prev_list[i]].dirty_prev = 1;
    }
}

/* Evicts from the tail until `need` bytes (and, for a seq'd record, an index slot) are free. */
static void make_room(rc_ring_t *w, uint64_t need, int needs_slot)
{
    int moved = 0;
    while (w->head_pos + need - w->tail_pos > w->cap || (needs_slot && w->next_seq - w->tail_seq >= w->index_slots)) {
        if (w->damaged)
            return; /* the SIGBUS guard zeroed the mapping: no record length to step over any more */
        if (w->tail_pos >= w->pub_head_pos)
            rc_ring_publish(w); /* I4: a record is published before it can be evicted */
        uint32_t len;
        uint16_t type;
        const uint8_t *rec = w->data + (w->tail_pos & w->mask);
        memcpy(&len, rec, 4); /* our own record, validated when the ring was (re)opened */
        memcpy(&type, rec + 4, 2);
        w->tail_pos += RC_RING_ALIGN((uint64_t)len);
        if (type != RC_REC_PAD) {
            w->tail_seq++;
            w->counters[RC_CTR_EVICTED]++;
        }
        moved = 1;
    }
    if (moved) {
        STORE_RLX(&w->h->tail_seq, w->tail_seq); /* W-I: pairs with R-I */
        STORE_RLX(&w->h->tail_pos, w->tail_pos);
        FENCE_REL(); /* W-T: pairs with R-T; the new tail is visible before an evicted byte changes */
    }
}

static void write_record(rc_ring_t *w, uint8_t *dst, const rc_rec_hdr_t *hd, const rc_rec_in_t *in, uint64_t alen)
{
#if defined(__SANITIZE_THREAD__)
    uint8_t *p = w->scratch;
#else
    uint8_t *p = dst;
    (void)w;
#endif
    memcpy(p, hd, sizeof(*hd));
    uint64_t o = RC_REC_HDR_SIZE;
    if (in->key_len)
        memcpy(p + o, in->key, in->key_len);
    o += in->key_len;
    if (in->event_len)
        memcpy(p + o, in->event, in->event_len);
    o += in->event_len;
    if (in->frame_len)
        memcpy(p + o, in->frame, in->frame_len);
    o += in->frame_len;
    memset(p + o, 0, alen - o); /* padding: deterministic bytes for dumps and checksums */
#if defined(__SANITIZE_THREAD__)
    copy_to_shared(dst, p, alen);
#else
    (void)copy_to_shared;
#endif
}

int rc_ring_append(rc_ring_t *w, const rc_rec_in_t *in)
{
    uint64_t len = (uint64_t)RC_REC_HDR_SIZE + in->key_len + in->event_len + in->frame_len;
    if (!w->writer || len > w->max_record || in->lane >= w->n_lanes || in->offset < 0 || in->offset == INT64_MAX ||
        (in->type != RC_REC_DATA && in->type != RC_REC_RESET && in->type != RC_REC_SKIP))
        return -1;
    if (w->damaged)
        return -1;
    wlane_t *wl = &w->wl[in->lane];
    if (in->type != RC_REC_RESET && wl->st.next_offset >= 0 && in->offset < wl->st.next_offset)
        return 1;

    uint64_t alen = RC_RING_ALIGN(len);
    uint64_t room = w->cap - (w->head_pos & w->mask);
    if (room < alen) {
        /* I2: the record would straddle the end; a PAD record takes the rest of the area. */
        make_room(w, room, 0);
        rc_rec_hdr_t pad = {.len = (uint32_t)room, .type = RC_REC_PAD};
        copy_to_shared(w->data + (w->head_pos & w->mask), &pad, 8);
        w->head_pos += room;
        w->counters[RC_CTR_PADS]++;
    }
    make_room(w, alen, 1);
    if (w->damaged)
        return -1;

    uint64_t seq = w->next_seq;
    rc_rec_hdr_t hd = {
        .len = (uint32_t)len,
        .type = in->type,
        .lane = in->lane,
        .seq = seq,
        .offset = in->offset,
        /* I5: everything between the lane's last record (or start) and this one is a hole. */
        .hole_from = wl->st.next_offset < 0 ? in->offset : wl->st.next_offset,
        .timestamp = in->timestamp,
        .partition = in->partition,
        .key_len = in->key_len,
        .frame_len = in->frame_len,
        .event_len = in->event_len,
        .flags = in->flags,
    };
    write_record(w, w->data + (w->head_pos & w->mask), &hd, in, alen);
    ring_slot_t *slot = &w->index[seq & (w->index_slots - 1)];
    STORE_RLX(&slot->seq, seq); /* published by W-H2; the old occupant was evicted under W-I */
    STORE_RLX(&slot->pos, w->head_pos);

    /* Lane history and checkpoints (I5, I6). */
    if (in->type == RC_REC_RESET) {
        wl->st.ck_base = wl->st.ck_head;
        wl->has_ckpt = 0;
        w->counters[RC_CTR_RESETS]++;
    }
    if (in->type == RC_REC_RESET || wl->st.next_offset < 0)
        wl->st.base_seq = seq;
    if (!wl->has_ckpt || seq - wl->last_ckpt_seq >= w->ckpt_interval) {
        uint64_t *ck = &w->ckpts[(uint64_t)in->lane * w->ckpt_slots + (wl->st.ck_head & (w->ckpt_slots - 1))];
        STORE_RLX(ck, seq); /* published by W-H2 (with ck_head in the lane slot) */
        wl->st.ck_head++;
        wl->last_ckpt_seq = seq;
        wl->has_ckpt = 1;
    }
    wl->st.next_offset = in->type == RC_REC_RESET ? in->offset : in->offset + 1;
    wl->st.records++;
    mark_dirty(w, in->lane);

    w->head_pos += alen;
    w->next_seq++;
    w->counters[RC_CTR_RECORDS]++;
    w->counters[RC_CTR_BYTES] += alen;
    return 0;
}

int rc_ring_lane(rc_ring_t *w, const char *topic, int32_t partition)
{
    if (!w->writer)
        return -1;
    ring_hdr_t *h = w->h;
    uint32_t t;
    for (t = 0; t < w->n_topics; t++)
        if (strcmp(h->topics[t], topic) == 0)
            break;
    if (t == w->n_topics) {
        size_t n = strlen(topic);
        if (t == RC_RING_MAX_TOPICS || n == 0 || n >= RC_RING_TOPIC_MAX)
            return -1;
        memcpy(h->topics[t], topic, n + 1);
        w->n_topics++;
        STORE_REL(&h->n_topics, w->n_topics); /* W-N: pairs with R-N */
    }
    for (uint32_t l = 0; l < w->n_lanes; l++)
        if (w->lanes[l].topic == t && w->lanes[l].partition == partition)
            return (int)l;
    if (w->n_lanes == w->max_lanes)
        return -1;
    uint32_t l = w->n_lanes;
    ring_lane_t *ln = &w->lanes[l];
    ln->partition = partition;
    ln->topic = (uint16_t)t;
    memset(ln->st, 0, sizeof(ln->st));
    ln->st[0].next_offset = ln->st[1].next_offset = -1;
    memset(&w->wl[l], 0, sizeof(w->wl[l]));
    w->wl[l].st.next_offset = -1;
    w->n_lanes++;
    STORE_REL(&h->n_lanes, w->n_lanes); /* W-N: pairs with R-N */
    return (int)l;
}

int rc_ring_lane_advance(rc_ring_t *w, uint32_t lane, int64_t offset)
{
    if (!w->writer || lane >= w->n_lanes || offset < 0 || offset == INT64_MAX || offset < w->wl[lane].st.next_offset)
        return -1;
    w->wl[lane].st.next_offset = offset;
    mark_dirty(w, lane);
    return 0;
}

void rc_ring_set_state(rc_ring_t *w, rc_ring_state_t state)
{
    if (w->writer)
        STORE_RLX(&w->h->state, (uint32_t)state);
}

void rc_ring_heartbeat(rc_ring_t *w)
{
    if (w->writer)
        STORE_RLX(&w->h->heartbeat_ns, rc_now_mono_ns());
}

void rc_ring_count(rc_ring_t *w, rc_ring_counter_t c, uint64_t n)
{
    if (w->writer && c < RC_CTR_MAX) {
        w->counters[c] += n;
        w->counters_dirty = 1;
    }
}

void rc_ring_set_counter(rc_ring_t *w, rc_ring_counter_t c, uint64_t n)
{
    if (w->writer && c < RC_CTR_MAX && w->counters[c] != n) {
        w->counters[c] = n;
        w->counters_dirty = 1;
    }
}

/* --- writer open: create, or reopen and continue ----------------------------------------------------- */

bool rc_ring_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= RC_RING_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

/* --- files and their access ------------------------------------------------------------------ */

static gid_t ring_gid = (gid_t)-1; /* rc_ring_set_group() */

void rc_ring_set_group(gid_t gid)
{
    ring_gid = gid;
}

/* Gives an open file the ring group and mode (chown first: it may clear mode bits). */
static int set_access(int fd, gid_t gid, mode_t mode)
{
    if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0)
        return -1;
    return fchmod(fd, mode);
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, RC_RING_DIR_MODE) != 0 && errno != EEXIST ? -1 : 0;
}

/* Creates the ring directory if needed and gives it the ring group and RC_RING_DIR_MODE, if it is
 * ours to change: a directory another user owns, or a sticky one shared by everybody (/dev/shm,
 * /tmp), is left as it is. Returns 0, or -1 with a message in err. */
static int ring_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir_p(dir) != 0) {
        fmt_err(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fmt_err(err, errlen, "%s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    if (st.st_uid == geteuid() && (st.st_mode & S_ISVTX) == 0 &&
        ((ring_gid != (gid_t)-1 && st.st_gid != ring_gid) || (st.st_mode & 07777) != RC_RING_DIR_MODE) &&
        set_access(fd, ring_gid, RC_RING_DIR_MODE) != 0) {
        fmt_err(err, errlen, "%s: cannot give the directory group %ld and mode %o: %s", dir, (long)ring_gid,
                RC_RING_DIR_MODE, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

static int setup_writer(rc_ring_t *w)
{
    w->writer = 1;
    w->wl = rc_calloc(w->max_lanes, sizeof(*w->wl));
    w->dirty_list = rc_calloc(w->max_lanes, sizeof(*w->dirty_list));
    w->dirty_prev_list = rc_calloc(w->max_lanes, sizeof(*w->dirty_prev_list));
    w->scratch = rc_malloc(w->max_record + 8);
    return 0;
}

/* Picks the writer's state up from a ring a previous writer left; the ring validated already. */
static void recover_writer(rc_ring_t *w)
{
    ring_hdr_t *h = w->h;
    w->head_gen = LOAD_RLX(&h->head_gen);
    w->head_pos = w->pub_head_pos = LOAD_RLX(&h->head[w->head_gen & 1].pos);
    w->next_seq = w->pub_next_seq = LOAD_RLX(&h->head[w->head_gen & 1].seq);
    w->tail_pos = LOAD_RLX(&h->tail_pos);
    w->tail_seq = LOAD_RLX(&h->tail_seq);
    w->n_lanes = LOAD_RLX(&h->n_lanes);
    w->n_topics = LOAD_RLX(&h->n_topics);
    for (int i = 0; i < RC_CTR_MAX; i++)
        w->counters[i] = LOAD_RLX(&h->counters[i]);
    for (uint32_t l = 0; l < w->n_lanes; l++) {
        wlane_t *wl = &w->wl[l];
        wl->st = w->lanes[l].st[w->head_gen & 1];
        wl->has_ckpt = wl->st.ck_head > wl->st.ck_base;
        if (wl->has_ckpt)
            wl->last_ckpt_seq = w->ckpts[(uint64_t)l * w->ckpt_slots + ((wl->st.ck_head - 1) & (w->ckpt_slots - 1))];
        /* Both slots show this publication, so the next one may write either. */
        w->lanes[l].st[(w->head_gen + 1) & 1] = wl->st;
    }
    w->counters[RC_CTR_RESTARTS]++;
    w->counters_dirty = 1;
}

/* A writer killed between storing tail_seq and tail_pos leaves them one eviction apart: the record
 * at tail_pos is the truth. Returns 0, or -1 if there is no readable record there. */
static int repair_tail(rc_ring_t *w)
{
    ring_hdr_t *h = w->h;
    rc_cursor_t head;
    if (snapshot(w, -1, &head, NULL) != 0)
        return -1;
    uint64_t pos = h->tail_pos;
    if (pos > head.pos || head.pos - pos > w->cap || (pos & 7) != 0)
        return -1;
    for (int hops = 0; hops < 2; hops++) {
        if (pos == head.pos) {
            h->tail_pos = pos;
            h->tail_seq = head.seq;
            return 0;
        }
        rc_rec_hdr_t hd;
        if (read_hdr_at(w, pos, head.pos, &hd) != RC_READ_OK)
            return -1;
        if (hd.type != RC_REC_PAD) {
            h->tail_pos = pos;
            h->tail_seq = hd.seq;
            return 0;
        }
        pos += RC_RING_ALIGN((uint64_t)hd.len);
    }
    return -1;
}

static int try_reopen(rc_ring_t *w, const char *path, const rc_ring_geom_t *g, char *why, size_t whylen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fmt_err(why, whylen, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < RC_RING_HDR_SIZE) {
        fmt_err(why, whylen, "file too small for a ring");
        close(fd);
        return -1;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        fmt_err(why, whylen, "mmap: %s", strerror(errno));
        close(fd);
        return -1;
    }
    char e[256];
    if (attach(w, base, (size_t)st.st_size, e, sizeof(e)) != 0) {
        fmt_err(why, whylen, "%s", e);
        goto fail;
    }
    if (w->cap != g->capacity || w->index_slots != g->index_slots || w->max_lanes != g->max_lanes ||
        w->ckpt_interval != g->ckpt_interval) {
        fmt_err(why, whylen,
                "geometry changed (capacity %" PRIu64 " -> %" PRIu64
                ", index %u -> %u, lanes %u -> %u, interval %u -> %u)",
                w->cap, g->capacity, w->index_slots, g->index_slots, w->max_lanes, g->max_lanes, w->ckpt_interval,
                g->ckpt_interval);
        goto fail;
    }
    if (repair_tail(w) != 0 || rc_ring_validate(w, true, e, sizeof(e)) != 0) {
        fmt_err(why, whylen, "damaged: %s", e);
        goto fail;
    }
    w->fd = fd;
    w->mapped = 1;
    return 0;
fail:
    munmap(base, (size_t)st.st_size);
    close(fd);
    w->base = NULL;
    return -1;
}

static int create_ring(rc_ring_t *w, const char *dir, const char *name, const char *path, const rc_ring_geom_t *g,
                       char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/.%s.ring.%d.tmp", dir, name, (int)getpid());
    layout_t l = layout_of(g->capacity, g->index_slots, g->max_lanes, g->ckpt_interval);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, RC_RING_FILE_MODE);
    if (fd < 0) {
        fmt_err(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    /* Before the rename: the file never shows under its name with the umask's mode or group. */
    if (set_access(fd, ring_gid, RC_RING_FILE_MODE) != 0) {
        fmt_err(err, errlen, "%s: cannot give the ring group %ld and mode %o: %s", tmp, (long)ring_gid,
                RC_RING_FILE_MODE, strerror(errno));
        goto fail;
    }
    /* posix_fallocate reserves the pages now: a full tmpfs is an error here, not a SIGBUS later.
     * The writer maps with MAP_POPULATE so its first pass over the ring does not take a page fault
     * (and a page clear) every 4 KiB: the memory is the ring's from the start anyway. */
    int rc = posix_fallocate(fd, 0, (off_t)l.file_size);
    if (rc != 0) {
        fmt_err(err, errlen, "%s: cannot reserve %" PRIu64 " bytes: %s", tmp, l.file_size, strerror(rc));
        goto fail;
    }
    void *base = mmap(NULL, l.file_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        fmt_err(err, errlen, "%s: mmap: %s", tmp, strerror(errno));
        goto fail;
    }
    ring_hdr_t *h = base;
    h->version = RC_RING_VERSION;
    h->hdr_size = RC_RING_HDR_SIZE;
    if (getrandom(&h->epoch, sizeof(h->epoch), 0) != sizeof(h->epoch))
        h->epoch = rc_now_mono_ns() ^ ((uint64_t)getpid() << 32);
    h->capacity = g->capacity;
    h->index_slots = g->index_slots;
    h->max_lanes = g->max_lanes;
    h->ckpt_slots = l.ckpt_slots;
    h->ckpt_interval = g->ckpt_interval;
    h->file_size = l.file_size;
    h->created_ms = rc_now_real_ms();
    h->magic = RC_RING_MAGIC;
    h->ident_hash = ident_hash(h); /* last: a half-initialised file is never taken for a ring */
    char e[256];
    if (attach(w, base, l.file_size, e, sizeof(e)) != 0) {
        fmt_err(err, errlen, "%s: %s", tmp, e); /* cannot happen: layout_of made it */
        munmap(base, l.file_size);
        goto fail;
    }
    snprintf(h->name, sizeof(h->name), "%s", name);
    if (rename(tmp, path) != 0) {
        fmt_err(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
        munmap(base, l.file_size);
        w->base = NULL;
        goto fail;
    }
    w->fd = fd;
    w->mapped = 1;
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return -1;
}

int rc_ring_writer_open(rc_ring_t **out, const char *dir, const char *name, const rc_ring_geom_t *geom,
                        rc_ring_opened_t *how, char *why, size_t whylen, char *err, size_t errlen)
{
    if (!rc_ring_name_ok(name)) {
        fmt_err(err, errlen, "invalid ring name \"%s\"", name);
        return -1;
    }
    rc_ring_geom_t g = *geom;
    rc_ring_geometry_defaults(&g);
    if (ring_dir(dir, err, errlen) != 0)
        return -1;
    char path[4096], lock[4096];
    if (snprintf(path, sizeof(path), "%s/%s.ring", dir, name) >= (int)sizeof(path) ||
        snprintf(lock, sizeof(lock), "%s/%s.ring.lock", dir, name) >= (int)sizeof(lock)) {
        fmt_err(err, errlen, "%s: path too long", dir);
        return -1;
    }
    /* One writer per ring, ever: two bridges writing one ring would corrupt it. The lock file, not
     * the ring, carries the lock, because a ring may be replaced by rename. */
    int lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, RC_RING_LOCK_MODE);
    if (lock_fd < 0) {
        fmt_err(err, errlen, "%s: %s", lock, strerror(errno));
        return -1;
    }
    fchmod(lock_fd, RC_RING_LOCK_MODE); /* one an older version left 0644 */
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fmt_err(err, errlen, "%s: another writer holds this ring", path);
        close(lock_fd);
        return -1;
    }
    rc_ring_t *w = rc_calloc(1, sizeof(*w));
    w->fd = -1;
    w->lock_fd = lock_fd;
    if (why && whylen)
        why[0] = '\0';
    *how = RC_RING_CREATED;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (try_reopen(w, path, &g, why, whylen) == 0) {
            /* A ring an older version made 0644, or under another ring group: the same access as a new one. */
            if (set_access(w->fd, ring_gid, RC_RING_FILE_MODE) != 0) {
                fmt_err(err, errlen, "%s: cannot give the ring group %ld and mode %o: %s", path, (long)ring_gid,
                        RC_RING_FILE_MODE, strerror(errno));
                rc_ring_close(w); /* not a writer yet: unmaps, closes the file and the lock */
                return -1;
            }
            *how = RC_RING_REOPENED;
            setup_writer(w);
            recover_writer(w);
            goto done;
        }
        *how = RC_RING_RECREATED;
    }
    if (create_ring(w, dir, name, path, &g, err, errlen) != 0) {
        close(lock_fd);
        free(w);
        return -1;
    }
    setup_writer(w);
done:
    w->path = rc_strdup(path);
    guard_add(w, PROT_READ | PROT_WRITE);
    STORE_RLX(&w->h->pid, (uint32_t)getpid());
    STORE_RLX(&w->h->state, (uint32_t)RC_STATE_STARTING);
    rc_ring_heartbeat(w);
    rc_ring_publish(w);
    *out = w;
    return 0;
}

/* --- accessors -------------------------------------------------------------------------------------- */

uint32_t rc_ring_lanes(const rc_ring_t *r)
{
    uint32_t n = LOAD_ACQ(&r->h->n_lanes); /* R-N: pairs with W-N */
    return n > r->max_lanes ? r->max_lanes : n;
}

int rc_ring_lane_info(const rc_ring_t *r, uint32_t lane, char *topic, size_t topiclen, int32_t *partition,
                      int64_t *next_offset)
{
    if (lane >= rc_ring_lanes(r))
        return -1;
    uint32_t n_topics = LOAD_ACQ(&r->h->n_topics); /* R-N: pairs with W-N */
    uint16_t t = r->lanes[lane].topic;
    if (t >= n_topics || t >= RC_RING_MAX_TOPICS)
        return -1;
    if (topic != NULL && topiclen > 0) {
        char name[RC_RING_TOPIC_MAX];
        memcpy(name, r->h->topics[t], sizeof(name));
        name[sizeof(name) - 1] = '\0'; /* shared bytes: never trust a terminator */
        snprintf(topic, topiclen, "%s", name);
    }
    if (partition != NULL)
        *partition = r->lanes[lane].partition;
    if (next_offset != NULL) {
        rc_cursor_t head;
        lane_state_t ls;
        if (snapshot(r, lane, &head, &ls) != 0)
            return -1;
        *next_offset = ls.next_offset;
    }
    return 0;
}

uint64_t rc_ring_epoch(const rc_ring_t *r)
{
    return r->h->epoch;
}

uint64_t rc_ring_capacity(const rc_ring_t *r)
{
    return r->cap;
}

uint32_t rc_ring_index_slots(const rc_ring_t *r)
{
    return r->index_slots;
}

uint32_t rc_ring_max_record(const rc_ring_t *r)
{
    return r->max_record;
}

uint64_t rc_ring_counter(const rc_ring_t *r, rc_ring_counter_t c)
{
    return c < RC_CTR_MAX ? LOAD_RLX(&r->h->counters[c]) : 0;
}

rc_ring_state_t rc_ring_state(const rc_ring_t *r)
{
    return (rc_ring_state_t)LOAD_RLX(&r->h->state);
}

uint64_t rc_ring_heartbeat_ns(const rc_ring_t *r)
{
    return LOAD_RLX(&r->h->heartbeat_ns);
}

uint32_t rc_ring_writer_pid(const rc_ring_t *r)
{
    return LOAD_RLX(&r->h->pid);
}

const char *rc_ring_stream_name(const rc_ring_t *r, char *buf, size_t len)
{
    char name[RC_RING_NAME_MAX];
    memcpy(name, r->h->name, sizeof(name));
    name[sizeof(name) - 1] = '\0';
    snprintf(buf, len, "%s", name);
    return buf;
}

/* --- validate --------------------------------------------------------------------------------------- */

static int validate_lanes_deep(const rc_ring_t *r, uint32_t n_lanes, const rc_cursor_t *head, uint64_t tail_seq,
                               const int64_t *last_next, char *err, size_t errlen)
{
    for (uint32_t l = 0; l < n_lanes; l++) {
        rc_cursor_t h2;
        lane_state_t ls;
        if (snapshot(r, l, &h2, &ls) != 0 || h2.seq != head->seq) {
            fmt_err(err, errlen, "ring changed during validation");
            return -1;
        }
        /* The lane may stand past its last record: the writer skipped records it will never store. */
        if (last_next[l] != INT64_MIN && ls.next_offset < last_next[l]) {
            fmt_err(err, errlen, "lane %u: next offset %" PRId64 " but its last record says %" PRId64, l,
                    ls.next_offset, last_next[l]);
            return -1;
        }
        if (ls.ck_head < ls.ck_base || ls.base_seq > head->seq) {
            fmt_err(err, errlen,
                    "lane %u: checkpoint window [%" PRIu64 ", %" PRIu64 ") or base seq %" PRIu64 " invalid", l,
                    ls.ck_base, ls.ck_head, ls.base_seq);
            return -1;
        }
        uint64_t lo = ls.ck_head - ls.ck_base > r->ckpt_slots ? ls.ck_head - r->ckpt_slots : ls.ck_base;
        uint64_t prev = 0;
        int live = 0;
        for (uint64_t i = lo; i < ls.ck_head; i++) {
            uint64_t s = LOAD_RLX(&r->ckpts[(uint64_t)l * r->ckpt_slots + (i & (r->ckpt_slots - 1))]);
            if (s < tail_seq || s < ls.base_seq) {
                if (live) {
                    fmt_err(err, errlen, "lane %u: checkpoint %" PRIu64 " (seq %" PRIu64 ") older than the one before",
                            l, i, s);
                    return -1;
                }
                continue;
            }
            if (s >= head->seq || (live && s <= prev)) {
                fmt_err(err, errlen, "lane %u: checkpoint %" PRIu64 " has seq %" PRIu64 " out of order", l, i, s);
                return -1;
            }
            rc_cursor_t c;
            rc_rec_hdr_t hd;
            if (find_seq_in(r, s, head, &c) != RC_FOUND || read_hdr_at(r, c.pos, head->pos, &hd) != RC_READ_OK ||
                hd.lane != l) {
                fmt_err(err, errlen,
                        "lane %u: checkpoint %" PRIu64 " points at seq %" PRIu64 ", not a record of the lane", l, i, s);
                return -1;
            }
            prev = s;
            live = 1;
        }
    }
    return 0;
}

int rc_ring_validate(const rc_ring_t *r, bool deep, char *err, size_t errlen)
{
    const ring_hdr_t *h = r->h;
    if (LOAD_RLX(&h->magic) != RC_RING_MAGIC) {
        fmt_err(err, errlen, "bad magic");
        return -1;
    }
    rc_cursor_t head;
    if (snapshot(r, -1, &head, NULL) != 0) {
        fmt_err(err, errlen, "no stable head");
        return -1;
    }
    uint64_t tail = LOAD_ACQ(&h->tail_pos), tail_seq = LOAD_ACQ(&h->tail_seq);
    if (((head.pos | tail) & 7) != 0) {
        fmt_err(err, errlen, "head %" PRIu64 " or tail %" PRIu64 " not 8-byte aligned", head.pos, tail);
        return -1;
    }
    if (tail > head.pos || head.pos - tail > r->cap) {
        fmt_err(err, errlen, "tail %" PRIu64 " and head %" PRIu64 " are not within one capacity (%" PRIu64 ")", tail,
                head.pos, r->cap);
        return -1;
    }
    if (tail_seq > head.seq || head.seq - tail_seq > r->index_slots) {
        fmt_err(err, errlen, "tail seq %" PRIu64 " and next seq %" PRIu64 " are not within %u index slots", tail_seq,
                head.seq, r->index_slots);
        return -1;
    }
    uint32_t n_lanes = LOAD_ACQ(&h->n_lanes), n_topics = LOAD_ACQ(&h->n_topics);
    if (n_lanes > r->max_lanes || n_topics > RC_RING_MAX_TOPICS) {
        fmt_err(err, errlen, "%u lanes of %u, %u topics of %u", n_lanes, r->max_lanes, n_topics, RC_RING_MAX_TOPICS);
        return -1;
    }
    for (uint32_t l = 0; l < n_lanes; l++) {
        if (r->lanes[l].topic >= n_topics) {
            fmt_err(err, errlen, "lane %u names topic %u of %u", l, r->lanes[l].topic, n_topics);
            return -1;
        }
    }
    if (!deep)
        return 0;

    int64_t *last = rc_malloc((n_lanes ? n_lanes : 1) * sizeof(*last));      /* last offset seen per lane */
    int64_t *last_next = rc_malloc((n_lanes ? n_lanes : 1) * sizeof(*last)); /* next offset it implies */
    for (uint32_t l = 0; l < n_lanes; l++)
        last[l] = last_next[l] = INT64_MIN;
    int rc = -1;
    uint64_t pos = tail, seq = tail_seq;
    while (pos < head.pos) {
        rc_rec_hdr_t hd;
        rc_read_t rr = read_hdr_at(r, pos, head.pos, &hd);
        if (rr != RC_READ_OK) {
            fmt_err(err, errlen, "record at position %" PRIu64 ": %s", pos,
                    rr == RC_READ_LAPPED ? "ring changed during validation" : "invalid header");
            goto out;
        }
        uint64_t alen = RC_RING_ALIGN((uint64_t)hd.len);
        if (hd.type == RC_REC_PAD) {
            pos += alen;
            continue;
        }
        if (hd.seq != seq) {
            fmt_err(err, errlen, "record at position %" PRIu64 " has seq %" PRIu64 ", expected %" PRIu64, pos, hd.seq,
                    seq);
            goto out;
        }
        if (hd.lane >= n_lanes || r->lanes[hd.lane].partition != hd.partition) {
            fmt_err(err, errlen, "record seq %" PRIu64 " names lane %u (partition %d) of %u lanes", seq, hd.lane,
                    hd.partition, n_lanes);
            goto out;
        }
        const ring_slot_t *slot = &r->index[seq & (r->index_slots - 1)];
        if (LOAD_RLX(&slot->seq) != seq || LOAD_RLX(&slot->pos) != pos) {
            fmt_err(err, errlen,
                    "index slot of seq %" PRIu64 " says seq %" PRIu64 " at %" PRIu64 ", record is at %" PRIu64, seq,
                    LOAD_RLX(&slot->seq), LOAD_RLX(&slot->pos), pos);
            goto out;
        }
        if (hd.offset < 0 || hd.offset == INT64_MAX) {
            fmt_err(err, errlen, "record seq %" PRIu64 " has offset %" PRId64, seq, hd.offset);
            goto out;
        }
        if (hd.type == RC_REC_RESET) {
            last[hd.lane] = hd.offset - 1;
            last_next[hd.lane] = hd.offset;
        } else {
            if (last[hd.lane] != INT64_MIN && hd.offset <= last[hd.lane]) {
                fmt_err(err, errlen, "lane %u: offset %" PRId64 " at seq %" PRIu64 " does not follow %" PRId64, hd.lane,
                        hd.offset, seq, last[hd.lane]);
                goto out;
            }
            if (hd.hole_from > hd.offset || (last_next[hd.lane] != INT64_MIN && hd.hole_from < last_next[hd.lane])) {
                fmt_err(err, errlen,
                        "lane %u: record at offset %" PRId64 " (seq %" PRIu64 ") says its hole starts at %" PRId64,
                        hd.lane, hd.offset, seq, hd.hole_from);
                goto out;
            }
            last[hd.lane] = hd.offset;
            last_next[hd.lane] = hd.offset + 1;
        }
        seq++;
        pos += alen;
    }
    if (pos != head.pos || seq != head.seq) {
        fmt_err(err, errlen, "records end at position %" PRIu64 " seq %" PRIu64 "; head says %" PRIu64 " seq %" PRIu64,
                pos, seq, head.pos, head.seq);
        goto out;
    }
    rc = validate_lanes_deep(r, n_lanes, &head, tail_seq, last_next, err, errlen);
out:
    free(last);
    free(last_next);
    return rc;
}

const char *rc_read_str(rc_read_t r)
{
    static const char *const names[] = {"ok", "empty", "lapped", "record too big", "corrupt"};
    return (unsigned)r < RC_ARRAY_SIZE(names) ? names[r] : "?";
}

const char *rc_lookup_str(rc_lookup_t r)
{
    static const char *const names[] = {"found", "expected", "expired", "not found", "corrupt"};
    return (unsigned)r < RC_ARRAY_SIZE(names) ? names[r] : "?";
}

const char *rc_ring_state_str(rc_ring_state_t s)
{
    static const char *const names[] = {"starting", "connecting", "streaming", "kafka unreachable", "stopped"};
    return (unsigned)s < RC_ARRAY_SIZE(names) ? names[s] : "unknown";
}

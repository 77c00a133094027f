/*
 * The ringcast ring: one writer (the bridge), many read-only readers (the edges), one file in shared
 * memory per stream. The writer never looks at readers and never waits for them; a reader that is
 * too slow is told it was lapped and resynchronises. Nothing a reader sees is trusted before it is
 * validated, so a crashed or broken writer cannot make a reader crash or read out of bounds.
 *
 * File layout (all offsets derive from the identity fields, which readers re-derive and check):
 *
 *   0        +--------------------------------------------------------------+
 *            | header (RC_RING_HDR_SIZE bytes)                              |
 *            |   line 0  identity: magic version epoch capacity geometry   |  written once, at creation
 *            |   line 1  head: head_gen, head[2] = {pos, seq} x 2           |  double-buffered snapshot
 *            |   line 2  tail: tail_pos, tail_seq                           |  moved by eviction
 *            |   line 3  bridge: pid, state, heartbeat, n_lanes, n_topics   |
 *            |   line 4  counters                                           |
 *            |   line 6  hash of line 0; then stream name, topic names      |
 *   index    +--------------------------------------------------------------+
 *            | index_slots x {seq, pos}: seq -> byte position, O(1)         |  slot = seq & (slots-1)
 *   lanes    +--------------------------------------------------------------+
 *            | max_lanes x 64 B: per (topic, partition) state               |
 *   ckpts    +--------------------------------------------------------------+
 *            | max_lanes x ckpt_slots x u64 seq: sampled records per lane   |  (partition, offset) -> seq
 *   data     +--------------------------------------------------------------+  page aligned
 *            | capacity bytes (a power of two) of records:                  |
 *            |                                                              |
 *            |   ... | rec seq=41 | rec seq=42 | PAD | (wrap to 0)          |
 *            |         ^tail_pos                 ^head_pos                  |
 *            +--------------------------------------------------------------+
 *
 * A record is a 56-byte header (rc_rec_hdr_t) followed by key, event type and the SSE frame, padded
 * to 8 bytes. The frame is already encoded by the writer ("id: ...\nevent: ...\ndata: ...\n\n"):
 * an edge selects and copies bytes, it formats nothing per client.
 *
 * Invariants (rc_ring_validate() checks each one):
 *   I1  Positions are free-running 64-bit byte counts; the byte of position p is data[p & (cap-1)].
 *   I2  tail_pos <= head_pos <= tail_pos + capacity, both multiples of 8; records never straddle
 *       the end of the data area: where the next record would not fit, a PAD record fills the rest.
 *   I3  Records between tail and head carry dense sequence numbers tail_seq .. next_seq-1 (PAD
 *       records carry none); next_seq - tail_seq <= index_slots, so every live seq has its index slot.
 *   I4  The writer evicts (moves the tail) BEFORE it overwrites bytes, and publishes the head once
 *       per batch; it never evicts a record that is not yet published, so tail <= published head.
 *   I5  Within one lane's history (since its last reset) offsets strictly increase with seq, and each
 *       DATA or SKIP record's hole_from is at least the offset after the lane's previous record:
 *       offsets in [hole_from, offset) held nothing the ring stores (a compacted key, a transaction
 *       marker, an aborted record), so a lookup tells a hole from a loss.
 *   I6  A lane's checkpoints hold increasing seqs of that lane's records; a record is checkpointed
 *       when it is the lane's first, or when ckpt_interval seqs passed since the lane's last one.
 *
 * Concurrency: shared fields are plain fixed-width integers accessed only through __atomic builtins.
 * Every access and fence in ring.c carries a label (W* writer, R* reader) that names its partner.
 * The record bytes themselves are copied with plain memcpy and validated after a re-check of the
 * tail ("copy, then check": Aeron's broadcast receiver does the same); TSan builds copy them with
 * relaxed atomic words instead, so the race the design tolerates is not reported as a bug.
 */
#ifndef RC_RING_H
#define RC_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

#define RC_RING_MAGIC        0x31474e4952435223ull /* "#RCRING1" little-endian */
#define RC_RING_VERSION      2                     /* 2: records carry hole_from; SKIP records */
#define RC_RING_HDR_SIZE     8192u                 /* identity, head, tail, status lines plus the topic table */
#define RC_RING_MAX_TOPICS   ((uint32_t)RC_STREAM_MAX_TOPICS) /* topics one stream may merge (bounds.h) */
#define RC_RING_TOPIC_MAX    256u /* Kafka topic names are at most 249 bytes; room for the NUL */
#define RC_RING_NAME_MAX     ((uint32_t)RC_STREAM_NAME_MAX) /* stream names, as the config allows them (bounds.h) */
#define RC_RING_MIN_CAPACITY 4096u                          /* below this a record of useful size would not fit twice */
#define RC_RING_DEFAULT_CKPT 64u /* seqs between checkpoints of one lane: bounds a lookup's scan */
#define RC_REC_HDR_SIZE      56u
#define RC_REC_EVENT_MAX     65535u     /* event_len is 16 bits: a longer event type is not stored */
#define RC_SEQ_UNKNOWN       UINT64_MAX /* a cursor whose next record's seq is not known yet */
#define RC_RING_ALIGN(n)     (((n) + 7u) & ~(uint64_t)7u)
_Static_assert(RC_EVENT_TYPE_MAX <= RC_REC_EVENT_MAX, "an event type the config allows is stored in a record");

/* Record types. PAD fills the space before the wrap; RESET marks a lane whose offsets restarted
 * (the edge turns it into `event: reset`); DATA is a Kafka record; SKIP stands for a Kafka record the
 * ring does not store (too large, not UTF-8, an event type too long): its frame is `event: skipped`
 * naming it, and its key and event (when they fit) let filters pick who is told. */
enum { RC_REC_DATA = 1, RC_REC_PAD = 2, RC_REC_RESET = 3, RC_REC_SKIP = 4 };

/* Bridge state, shown by edges in /healthz and /streams. */
typedef enum {
    RC_STATE_STARTING = 0,
    RC_STATE_CONNECTING = 1,
    RC_STATE_STREAMING = 2,
    RC_STATE_KAFKA_UNREACHABLE = 3,
    RC_STATE_STOPPED = 4,
} rc_ring_state_t;

/* Counters the writer keeps in the header; readers see them with rc_ring_counter(). */
typedef enum {
    RC_CTR_RECORDS = 0,   /* records appended (DATA and RESET) */
    RC_CTR_BYTES = 1,     /* record bytes appended, headers and padding included */
    RC_CTR_EVICTED = 2,   /* records evicted from the tail */
    RC_CTR_PUBLISHES = 3, /* head publications (batches) */
    RC_CTR_PADS = 4,      /* PAD records written at the wrap */
    RC_CTR_SKIPPED = 5,   /* Kafka records the bridge did not store (e.g. invalid UTF-8 in raw format) */
    RC_CTR_RESETS = 6,    /* lane resets (offset out of range, recreated topic) */
    RC_CTR_RESTARTS = 7,  /* times a writer reopened this ring */
    /* RC_CTR_SKIPPED by reason (the three add up to it) */
    RC_CTR_SKIP_TOO_LARGE = 8, /* record larger than rc_ring_max_record() */
    RC_CTR_SKIP_NOT_UTF8 = 9,  /* value not UTF-8 in format: raw (or a raw tombstone's key) */
    RC_CTR_SKIP_EVENT = 10,    /* event header longer than RC_REC_EVENT_MAX */
    RC_CTR_NO_LANE = 11,       /* gauge: partitions the bridge sees but cannot give a lane (ring full) */
    RC_CTR_MAX = 16,
} rc_ring_counter_t;

/* Record header, as stored. Readers only ever see a validated private copy of it. */
typedef struct st_rc_rec_hdr_t {
    uint32_t len;       /* header + key + event + frame, before padding to 8 */
    uint16_t type;      /* RC_REC_* */
    uint16_t lane;      /* index into the lane table */
    uint64_t seq;       /* dense record sequence (0 in PAD records) */
    int64_t offset;     /* Kafka offset (RESET: the offset the lane restarts from) */
    int64_t hole_from;  /* DATA, SKIP: the lane's next offset before this record; [hole_from, offset) are holes.
                         * RESET: the offset the lane's previous history ended at (its next offset then) */
    int64_t timestamp;  /* Kafka timestamp, ms since the epoch, -1 if none */
    int32_t partition;  /* Kafka partition */
    uint32_t key_len;   /* bytes of key right after the header */
    uint32_t frame_len; /* bytes of SSE frame after key and event */
    uint16_t event_len; /* bytes of event type after the key */
    uint16_t flags;     /* RC_RECF_* */
} rc_rec_hdr_t;

#define RC_RECF_NULL_KEY      0x1 /* the Kafka record had no key (as opposed to an empty one) */
#define RC_RECF_TOMBSTONE     0x2 /* the Kafka record had no value (a tombstone) */
#define RC_RECF_KEY_UNKNOWN   0x4 /* SKIP: the key did not fit; it matches every key filter */
#define RC_RECF_EVENT_UNKNOWN 0x8 /* SKIP: the event type did not fit; it matches every event filter */

/* A record as a reader sees it: a validated header and pointers into the reader's own buffer. */
typedef struct st_rc_record_t {
    rc_rec_hdr_t h;
    const uint8_t *key, *event, *frame;
} rc_record_t;

/* What a writer appends. The pointed-to bytes are copied; the caller keeps ownership. */
typedef struct st_rc_rec_in_t {
    uint16_t type; /* RC_REC_DATA, RC_REC_SKIP or RC_REC_RESET */
    uint16_t lane;
    uint16_t flags;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    const void *key;
    uint32_t key_len;
    const void *event;
    uint16_t event_len;
    const void *frame;
    uint32_t frame_len;
} rc_rec_in_t;

/* Geometry of a new ring. Zero fields take defaults (rc_ring_geometry_defaults). */
typedef struct st_rc_ring_geom_t {
    uint64_t capacity;      /* data bytes; rounded up to a power of two */
    uint32_t index_slots;   /* 0 = capacity / 128, rounded up to a power of two */
    uint32_t max_lanes;     /* 0 = 256 */
    uint32_t ckpt_interval; /* 0 = RC_RING_DEFAULT_CKPT */
} rc_ring_geom_t;

/* A reader's position: the byte position of the next record and its seq (or RC_SEQ_UNKNOWN). */
typedef struct st_rc_cursor_t {
    uint64_t pos;
    uint64_t seq;
} rc_cursor_t;

typedef enum {
    RC_READ_OK = 0,      /* records copied */
    RC_READ_EMPTY = 1,   /* the cursor is at the head: nothing new yet */
    RC_READ_LAPPED = 2,  /* the writer evicted the cursor's position: resync with rc_ring_oldest() */
    RC_READ_TOOBIG = 3,  /* the next record does not fit the caller's buffer */
    RC_READ_CORRUPT = 4, /* the ring contradicts its own invariants; the reader must not trust it */
} rc_read_t;

/* Lookup answers (nchan's vocabulary): the record exists, is the next to come, or is gone. */
typedef enum {
    RC_FOUND = 0,    /* the cursor is at the record asked for */
    RC_EXPECTED = 1, /* not written yet: the cursor is at the head, the record will be the next */
    RC_EXPIRED = 2,  /* evicted: the cursor is at the oldest record that still answers the question */
    RC_NOTFOUND = 3, /* a seq this ring never had (beyond its head) */
    RC_LOOKUP_CORRUPT = 4,
} rc_lookup_t;

/* The answer of rc_ring_find_offset(). */
typedef struct st_rc_found_t {
    rc_cursor_t at;         /* where to start reading */
    int64_t offset;         /* FOUND / EXPIRED: the offset of the record at `at` (-1 when `at` is the head) */
    int64_t lost_to;        /* EXPIRED: records of the lane with offsets in [asked, lost_to) are gone; lost_to-1
                             * held a record (the kept record's predecessor), holes after it are not counted */
    uint64_t missed;        /* EXPIRED: lost_to - asked */
    uint64_t history_seq;   /* seq of the record that began the lane's current history (first or RESET) */
    int64_t history_offset; /* the offset that history began at, if history_reset */
    int64_t history_prev;   /* the next offset of the history before that RESET, if history_reset */
    int history_reset;      /* the current history began with a RESET record still in the ring */
} rc_found_t;

typedef struct st_rc_ring_t rc_ring_t;

/* How rc_ring_writer_open() found the file. */
typedef enum { RC_RING_CREATED = 0, RC_RING_REOPENED = 1, RC_RING_RECREATED = 2 } rc_ring_opened_t;

/* True if name can name a ring (and so a stream): 1 to RC_RING_NAME_MAX-1 characters of A-Z a-z
 * 0-9 _ . -, not starting with a dot. The config checks stream names with it. */
bool rc_ring_name_ok(const char *name);

/*
 * Who may read what a writer creates. The ring files are the streams' data: whoever can read them
 * can read every stream, so they are not world-readable. rc_ring_writer_open() makes the ring
 * directory RC_RING_DIR_MODE (when it creates it, or owns it and it is not a shared sticky
 * directory such as /dev/shm itself), ring files RC_RING_FILE_MODE and lock files RC_RING_LOCK_MODE,
 * whatever the umask, and gives the directory and ring files the ring group. The modes are set
 * before a file appears under its name, and again on a ring reopened (one made by an older
 * version, or under another group).
 */
#define RC_RING_DIR_MODE  0750 /* the writer creates files; the group (edges) lists and opens them */
#define RC_RING_FILE_MODE 0640 /* the writer writes; the group maps read-only */
#define RC_RING_LOCK_MODE 0600 /* only writers flock it: a reader that could would stall a bridge start */

/* Sets the ring group for every writer opened afterwards in this process ((gid_t)-1, the default:
 * the process's own group, nothing is chowned). Process-wide, like the umask. */
void rc_ring_set_group(gid_t gid);

/* Fills zero fields of g with defaults and rounds sizes to powers of two. */
void rc_ring_geometry_defaults(rc_ring_geom_t *g);
/* Total file size of a ring with this (defaulted) geometry. */
uint64_t rc_ring_file_size(const rc_ring_geom_t *g);

/*
 * Opens <dir>/<name>.ring for writing, creating dir if needed. An existing ring with the same
 * geometry that validates is reopened and continues its sequence and epoch; otherwise a new ring
 * (new epoch) replaces it atomically by rename, and *why says what was wrong with the old one.
 * Returns 0 and sets *out (close with rc_ring_close), or -1 with a message in err.
 */
int rc_ring_writer_open(rc_ring_t **out, const char *dir, const char *name, const rc_ring_geom_t *g,
                        rc_ring_opened_t *how, char *why, size_t whylen, char *err, size_t errlen);

/* Maps a ring file read-only and checks its header. Returns 0, or -1 with a message in err. */
int rc_ring_open_reader(rc_ring_t **out, const char *path, char *err, size_t errlen);

/*
 * Uses len bytes at base (a mapping or a copy the caller owns and keeps alive) as a ring, read-only.
 * Tests and fuzzers use it on malloc'd copies so a sanitizer sees every out-of-bounds read.
 */
int rc_ring_attach(rc_ring_t **out, const void *base, size_t len, char *err, size_t errlen);

void rc_ring_close(rc_ring_t *r);

/* --- writer ----------------------------------------------------------------------------------- */

/*
 * Returns the lane for (topic, partition), adding the topic and the lane if new, or -1 when the
 * lane or topic table is full. Lanes and topics are published with the next rc_ring_publish().
 */
int rc_ring_lane(rc_ring_t *w, const char *topic, int32_t partition);

/*
 * Appends one record (not visible until rc_ring_publish). Evicts old records first when space or
 * index slots run out. A RESET record starts a new offset history for its lane: lookups never cross
 * it backwards. Returns 0; 1 if a DATA record's offset is below its lane's next offset (a
 * duplicate, not stored: the ring holds each Kafka record once); -1 if the record is larger than
 * rc_ring_max_record() or names an unknown lane or type, or the ring is damaged (rc_ring_damaged).
 */
int rc_ring_append(rc_ring_t *w, const rc_rec_in_t *in);

/*
 * Moves a lane's next offset forward without a record: where a new lane starts in Kafka, or past
 * records the writer skipped (never to be stored). Records below it are then refused as covered,
 * and a lookup of an older offset that no record answers is EXPIRED. Published with the next
 * rc_ring_publish(). Returns 0, or -1 if offset is below the lane's next offset.
 */
int rc_ring_lane_advance(rc_ring_t *w, uint32_t lane, int64_t offset);

/* Sets a gauge counter (RC_CTR_NO_LANE) to n; published with the next rc_ring_publish(). */
void rc_ring_set_counter(rc_ring_t *w, rc_ring_counter_t c, uint64_t n);

/* Makes every appended record, lane and counter visible to readers: once per Kafka batch. */
void rc_ring_publish(rc_ring_t *w);

void rc_ring_set_state(rc_ring_t *w, rc_ring_state_t state);
void rc_ring_heartbeat(rc_ring_t *w);
void rc_ring_count(rc_ring_t *w, rc_ring_counter_t c, uint64_t n);

/* --- reader (also valid on a writer's handle) --------------------------------------------------- */

/*
 * Copies whole published records starting at *c into buf (at most buflen bytes, never past the
 * wrap), validates them and advances *c past them. Iterate the copy with rc_ring_next_record().
 * On anything but RC_READ_OK, *c is unchanged and *nbytes is 0.
 */
rc_read_t rc_ring_read(const rc_ring_t *r, rc_cursor_t *c, void *buf, size_t buflen, size_t *nbytes);

/*
 * Iterates records in a buffer filled by rc_ring_read (PAD records are skipped). *off starts at 0,
 * or at the start of a record of the buffer (a reader coming back to a copy it keeps). Every record
 * is validated again as rc_ring_read() validates it: a known type, len >= RC_REC_HDR_SIZE (8 for a
 * PAD), RC_REC_HDR_SIZE + key_len + event_len + frame_len == len, and the record padded to 8 bytes
 * inside buf[*off, len); the lane and seq are left to the caller. Returns 1 with *rec set (its
 * pointers are inside buf) and *off moved past the record, or 0 at the end of the buffer or at the
 * first record that is not valid: *off then stays at that record, so *off < len tells the two
 * apart. An *off beyond len returns 0.
 */
int rc_ring_next_record(const void *buf, size_t len, size_t *off, rc_record_t *rec);

/* A consistent snapshot of the head: the position and seq of the next record to be written. */
int rc_ring_head(const rc_ring_t *r, rc_cursor_t *head);
/* A cursor at the oldest record still in the ring (its seq known), or at the head if empty. */
int rc_ring_oldest(const rc_ring_t *r, rc_cursor_t *c);

/* seq -> cursor. EXPIRED and NOTFOUND leave *c at the oldest record and the head respectively. */
rc_lookup_t rc_ring_find_seq(const rc_ring_t *r, uint64_t seq, rc_cursor_t *c);

/* seq -> cursor and a validated copy of the record's header (no payload). */
rc_lookup_t rc_ring_peek(const rc_ring_t *r, uint64_t seq, rc_cursor_t *c, rc_rec_hdr_t *hdr);

/*
 * The first record whose Kafka timestamp is >= ts_ms, by binary search over the ring's order
 * (Kafka timestamps grow with it when they are the producer's or the broker's clock; where they
 * do not, the answer is a record near that time). FOUND: *c is at it; EXPECTED: every record kept
 * is older, *c is the head; EXPIRED: even the oldest record kept is newer, *c is the oldest.
 */
rc_lookup_t rc_ring_find_time(const rc_ring_t *r, int64_t ts_ms, rc_cursor_t *c);

/*
 * (lane, next offset wanted) -> where the first record of that lane with offset >= next_offset is.
 * FOUND: it is at out->at (offsets between next_offset and it are holes, or it is the one asked
 * for). EXPECTED: no such record yet; out->at is the head. EXPIRED: records of the lane in
 * [next_offset, out->lost_to) were evicted; out->at is the first record kept (or the head). O(log n) over the lane's
 * checkpoints plus a scan of at most ckpt_interval records.
 */
rc_lookup_t rc_ring_find_offset(const rc_ring_t *r, uint32_t lane, int64_t next_offset, rc_found_t *out);

/* Lane and topic tables, as published. rc_ring_lane_info copies the topic name into topic (NUL
 * terminated) and returns 0, or -1 if the lane does not exist or its entry is damaged. */
uint32_t rc_ring_lanes(const rc_ring_t *r);
int rc_ring_lane_info(const rc_ring_t *r, uint32_t lane, char *topic, size_t topiclen, int32_t *partition,
                      int64_t *next_offset);

/* Identity and status, as published. */
uint64_t rc_ring_epoch(const rc_ring_t *r);
uint64_t rc_ring_capacity(const rc_ring_t *r);
uint32_t rc_ring_index_slots(const rc_ring_t *r);
uint32_t rc_ring_max_record(const rc_ring_t *r);
uint64_t rc_ring_counter(const rc_ring_t *r, rc_ring_counter_t c);
rc_ring_state_t rc_ring_state(const rc_ring_t *r);
uint64_t rc_ring_heartbeat_ns(const rc_ring_t *r); /* CLOCK_MONOTONIC of the last heartbeat */
uint32_t rc_ring_writer_pid(const rc_ring_t *r);
const char *rc_ring_stream_name(const rc_ring_t *r, char *buf, size_t len);

/*
 * Survives ring files truncated under their mappings (SIGBUS on access): installs a SIGBUS handler
 * that maps zero pages over the mapping of the ring that faulted and marks it damaged, so its reads
 * fail validation instead of killing the process. A SIGBUS outside every ring's mapping still
 * kills. Returns 0, or -1 (sigaction failed).
 */
int rc_ring_guard_sigbus(void);

/* True once the SIGBUS guard replaced this ring's mapping: close it and open the file again. */
bool rc_ring_damaged(const rc_ring_t *r);

/*
 * For a writer: is the ring's file still whole and in place under its name? Returns 0, or -1 with
 * what happened in why (removed, replaced by another file, truncated, damaged): the writer then
 * closes the ring and opens a new one, as edges map the file by its name.
 */
int rc_ring_check_file(const rc_ring_t *w, char *why, size_t whylen);

/*
 * Checks the invariants. Shallow: header identity, geometry, head/tail. Deep: also every record from
 * tail to head, every live index slot, every lane's offsets and checkpoints. Meant for a ring whose
 * writer is quiet (tests, ringtool, a writer reopening); on a live ring it may report a race as an
 * error but never crashes. Returns 0, or -1 with the first problem in err.
 */
int rc_ring_validate(const rc_ring_t *r, bool deep, char *err, size_t errlen);

const char *rc_read_str(rc_read_t r);
const char *rc_lookup_str(rc_lookup_t r);
const char *rc_ring_state_str(rc_ring_state_t s);

#endif

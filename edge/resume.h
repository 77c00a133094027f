/*
 * Resume planning: where a client that names an event id starts reading a ring, and what it must
 * be told on the way. A pure function of the ring as published and of the id: no HTTP, no client,
 * no allocation the caller does not free through rc_resume_plan_free().
 *
 * An event id is a cut of the Kafka log (eventid.h): per partition, the next offset not yet
 * delivered. The plan maps it to
 *   - a start cursor: the earliest ring position any lane needs (the other lanes' records before
 *     their own positions are skipped by the reader, using the skip table);
 *   - a skip table, one entry per lane of the ring: offsets below `below` were delivered already,
 *     and so was every record of the lane with a seq below `history_end`;
 *   - the gap: per partition, the offset ranges evicted from the ring before the client could read
 *     them (holes of a compacted or transactional log are not counted);
 *   - or a reset reason when the id cannot be placed (foreign, ahead of the ring, unreadable ring).
 * Results are an explicit enum, as nchan's store does: never a magic number.
 */
#ifndef RC_RESUME_H
#define RC_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "eventid.h"
#include "ring.h"

/* Per lane of a resumed client: offsets below `below` were delivered already, and so was every
 * record of the lane with a seq below `history_end` (an older history, and the RESET that ended it,
 * when the client's id placed the partition after that reset). */
typedef struct st_rc_resume_lane_t {
    int64_t below;
    uint64_t history_end;
} rc_resume_lane_t;

typedef enum {
    RC_RESUME_EXACT = 0, /* every record after the cut is still in the ring: no loss */
    RC_RESUME_GAP = 1,   /* some records after the cut were evicted: ranges says which */
    RC_RESUME_RESET = 2, /* the id cannot be placed: reset says why, nothing else is set */
} rc_resume_result_t;

typedef enum {
    RC_RESUME_FOREIGN = 0, /* not a well-formed id of this stream (another fingerprint) */
    RC_RESUME_UNREADABLE,  /* the ring's lane table or index did not answer */
    RC_RESUME_UNPLACED,    /* a lookup found no position for a lane's offset */
    RC_RESUME_AHEAD,       /* an offset beyond what the ring's partition has reached */
} rc_resume_reset_t;

/* One partition's evicted range: offsets [from, to) had records the client will not get. */
typedef struct st_rc_resume_range_t {
    char topic[RC_RING_TOPIC_MAX];
    int32_t partition;
    int64_t from, to;
} rc_resume_range_t;

typedef struct st_rc_resume_plan_t {
    rc_resume_result_t result;
    rc_resume_reset_t reset; /* RC_RESUME_RESET: why */
    rc_cursor_t start;       /* where the client reads from */
    rc_resume_lane_t *skip;  /* n_skip entries (one per lane of the ring), malloc'd: a caller that keeps
                              * it sets this to NULL before rc_resume_plan_free() */
    uint32_t n_skip;
    uint64_t missed;           /* records gone, over all ranges */
    rc_resume_range_t *ranges; /* n_ranges entries, malloc'd, owned by the plan */
    size_t n_ranges;
} rc_resume_plan_t;

/*
 * Plans a resume from a decoded cut. topics are the stream's topics in the order of its ids
 * (rc_eventid_sort_topics). floor (n_floor entries, may be NULL) is what the client had before, per
 * lane: a lapped client's last id can lag what it skipped over after an earlier resume, so a floor
 * only ever raises `below` and `history_end`. Fills *plan (free with rc_resume_plan_free) and
 * returns plan->result.
 */
rc_resume_result_t rc_resume_plan(const rc_ring_t *ring, const char *const *topics, uint32_t n_topics,
                                  const rc_cut_t *cut, const rc_resume_lane_t *floor, uint32_t n_floor,
                                  rc_resume_plan_t *plan);

/* The same from the id's text: an id that does not decode with fingerprint fp is RC_RESUME_RESET
 * (RC_RESUME_FOREIGN). */
rc_resume_result_t rc_resume_plan_id(const rc_ring_t *ring, const char *const *topics, uint32_t n_topics, uint32_t fp,
                                     const char *id, size_t id_len, const rc_resume_lane_t *floor, uint32_t n_floor,
                                     rc_resume_plan_t *plan);

/* Frees what the plan still owns (skip, unless taken, and ranges). */
void rc_resume_plan_free(rc_resume_plan_t *plan);

/* The reason of a reset, as the data of `event: reset` says it. */
const char *rc_resume_reset_str(rc_resume_reset_t why);

/* The data of `event: gap` for a plan with ranges: {"missed":N,"partitions":[{"topic",...}]}.
 * Returns a malloc'd NUL-terminated string (the caller frees it) and its length in *len. */
char *rc_resume_gap_json(const rc_resume_plan_t *plan, size_t *len);

#endif

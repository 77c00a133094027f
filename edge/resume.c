/*
 * Resume planning (resume.h): an event id's cut mapped to a ring position, lane by lane.
 *
 * Each lane of the ring is looked up at the offset the client wants next (from its cut, raised by
 * its floor); the plan starts at the earliest position any lane needs. A lane the cut does not name
 * (a partition added since the id was made, or a topic the id does not know) is read from its
 * start. A RESET record in a lane splits its history: the id may place the partition after the
 * reset (what came before is had: history_end) or before it (what is left of the old history comes
 * first, then the reset). The plan owns its skip table and ranges until the caller takes them.
 */
#include "resume.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int topic_index(const char *const *topics, uint32_t n_topics, const char *topic)
{
    for (uint32_t t = 0; t < n_topics; t++)
        if (strcmp(topics[t], topic) == 0)
            return (int)t;
    return -1;
}

static rc_resume_result_t reset(rc_resume_plan_t *plan, rc_resume_reset_t why)
{
    rc_resume_plan_free(plan);
    plan->result = RC_RESUME_RESET;
    plan->reset = why;
    return RC_RESUME_RESET;
}

static void add_range(rc_resume_plan_t *plan, const char *topic, int32_t partition, int64_t from, int64_t to)
{
    plan->ranges = rc_realloc(plan->ranges, (plan->n_ranges + 1) * sizeof(*plan->ranges));
    rc_resume_range_t *g = &plan->ranges[plan->n_ranges++];
    snprintf(g->topic, sizeof(g->topic), "%s", topic);
    g->partition = partition;
    g->from = from;
    g->to = to;
}

/* Plans one lane: sets skip's entry and where the lane starts in *at; adds its gap, if any. */
static rc_resume_result_t plan_lane(const rc_ring_t *ring, const char *const *topics, uint32_t n_topics,
                                    const rc_cut_t *cut, const rc_resume_lane_t *floor, uint32_t l,
                                    rc_resume_plan_t *plan, rc_cursor_t *at)
{
    char topic[RC_RING_TOPIC_MAX];
    int32_t part;
    int64_t next;
    if (rc_ring_lane_info(ring, l, topic, sizeof(topic), &part, &next) != 0)
        return reset(plan, RC_RESUME_UNREADABLE);
    int t = topic_index(topics, n_topics, topic), idx = t < 0 ? -1 : rc_cut_index(cut, (uint32_t)t, (uint32_t)part);
    int known = idx >= 0 && cut->next[idx] >= 0;
    int64_t want = known ? cut->next[idx] : 0; /* unknown: from its start */
    rc_resume_lane_t *sl = &plan->skip[l];
    if (floor != NULL && floor->below > want)
        want = floor->below;
    sl->below = want;
    sl->history_end = floor != NULL ? floor->history_end : 0;
    rc_found_t fo;
    rc_lookup_t res = rc_ring_find_offset(ring, l, want, &fo);
    if (res == RC_LOOKUP_CORRUPT || res == RC_NOTFOUND)
        return reset(plan, RC_RESUME_UNPLACED);
    /* Placed before the partition's last reset: the id names an offset the history before it had
     * reached, beyond the current history or below where it began. (An offset both histories have,
     * as after a topic was recreated, is read as one of the current history.) */
    int before = known && fo.history_reset && want <= fo.history_prev && (want > next || want < fo.history_offset);
    if (!before && next >= 0 && want > next)
        return reset(plan, RC_RESUME_AHEAD);
    if (before) {
        /* What is left of that history comes first (all of it, if the client had it all: from the
         * reset), then the reset, whose data names what Kafka no longer had, then the rest. */
        int at_reset = want == fo.history_prev && rc_ring_find_seq(ring, fo.history_seq, &fo.at) == RC_FOUND;
        if (!at_reset && rc_ring_oldest(ring, &fo.at) != 0)
            return reset(plan, RC_RESUME_UNREADABLE);
        res = RC_FOUND;
    } else if (known && fo.history_reset && fo.history_seq + 1 > sl->history_end) {
        sl->history_end = fo.history_seq + 1; /* after the reset: it and what came before are had */
    }
    if (res == RC_EXPIRED && fo.missed > 0) {
        /* Only records really gone: [want, lost_to) ends at the last record evicted, holes after it
         * (compaction, transaction markers) are not counted. */
        plan->missed += fo.missed;
        add_range(plan, topic, part, want, fo.lost_to);
    }
    *at = fo.at;
    return RC_RESUME_EXACT;
}

rc_resume_result_t rc_resume_plan(const rc_ring_t *ring, const char *const *topics, uint32_t n_topics,
                                  const rc_cut_t *cut, const rc_resume_lane_t *floor, uint32_t n_floor,
                                  rc_resume_plan_t *plan)
{
    memset(plan, 0, sizeof(*plan));
    if (rc_ring_head(ring, &plan->start) != 0)
        return reset(plan, RC_RESUME_UNREADABLE);
    uint32_t n = rc_ring_lanes(ring);
    plan->skip = rc_malloc((n ? n : 1) * sizeof(*plan->skip));
    plan->n_skip = n;
    for (uint32_t l = 0; l < n; l++) {
        rc_cursor_t at;
        if (plan_lane(ring, topics, n_topics, cut, l < n_floor ? &floor[l] : NULL, l, plan, &at) != RC_RESUME_EXACT)
            return RC_RESUME_RESET;
        if (at.seq < plan->start.seq)
            plan->start = at;
    }
    plan->result = plan->missed ? RC_RESUME_GAP : RC_RESUME_EXACT;
    return plan->result;
}

rc_resume_result_t rc_resume_plan_id(const rc_ring_t *ring, const char *const *topics, uint32_t n_topics, uint32_t fp,
                                     const char *id, size_t id_len, const rc_resume_lane_t *floor, uint32_t n_floor,
                                     rc_resume_plan_t *plan)
{
    rc_cut_t cut;
    if (rc_eventid_decode(id, id_len, fp, &cut) != 0) {
        memset(plan, 0, sizeof(*plan));
        return reset(plan, RC_RESUME_FOREIGN);
    }
    return rc_resume_plan(ring, topics, n_topics, &cut, floor, n_floor, plan);
}

void rc_resume_plan_free(rc_resume_plan_t *plan)
{
    free(plan->skip);
    free(plan->ranges);
    plan->skip = NULL;
    plan->ranges = NULL;
    plan->n_skip = 0;
    plan->n_ranges = 0;
}

const char *rc_resume_reset_str(rc_resume_reset_t why)
{
    switch (why) {
    case RC_RESUME_FOREIGN:
        return "the last event id is not one of this stream";
    case RC_RESUME_UNREADABLE:
        return "the ring is not readable";
    case RC_RESUME_UNPLACED:
        return "the ring could not place the last event id";
    case RC_RESUME_AHEAD:
        return "the last event id is ahead of this stream's Kafka position";
    }
    return "the last event id cannot be resumed";
}

char *rc_resume_gap_json(const rc_resume_plan_t *plan, size_t *len)
{
    /* Each range is at most a topic name (RC_RING_TOPIC_MAX) and four numbers. */
    size_t cap = 64 + plan->n_ranges * (RC_RING_TOPIC_MAX + 128);
    char *out = rc_malloc(cap);
    size_t k = (size_t)snprintf(out, cap, "{\"missed\":%" PRIu64 ",\"partitions\":[", plan->missed);
    for (size_t i = 0; i < plan->n_ranges; i++) {
        const rc_resume_range_t *g = &plan->ranges[i];
        k += (size_t)snprintf(out + k, cap - k,
                              "%s{\"topic\":\"%s\",\"partition\":%d,\"from\":%" PRId64 ",\"to\":%" PRId64 "}",
                              i ? "," : "", g->topic, g->partition, g->from, g->to);
    }
    k += (size_t)snprintf(out + k, cap - k, "]}");
    *len = k;
    return out;
}

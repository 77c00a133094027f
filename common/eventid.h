/*
 * Event ids: a cut of the Kafka log.
 *
 * The id of an event names, for every partition of every topic of its stream, the next offset not
 * yet delivered once that event is. It is derived from Kafka positions, not from the ring, so it
 * stays valid across edges, bridge restarts, rebuilt rings and other hosts reading the same cluster.
 *
 * Text form (URL- and header-safe, base64url alphabet "A-Za-z0-9-_"):
 *
 *     <fingerprint: 4 chars> { <partition count> <offset delta> ... } per topic
 *
 * The fingerprint is 24 bits of a hash of the stream's sorted topic list: an id from another
 * stream does not decode as one of this stream's. Numbers are varints of 5 bits a character (a
 * character >= 32 in the alphabet means "more follows"); offsets are zigzag deltas from the previous
 * partition's offset (from 0 for a topic's first), so partitions at similar offsets cost 1-2
 * characters each. A one-partition stream at offset 1234567 has a 10-character id.
 * An offset of -1 means "nothing known of this partition yet".
 */
#ifndef RC_EVENTID_H
#define RC_EVENTID_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

#define RC_CUT_MAX_TOPICS RC_STREAM_MAX_TOPICS     /* topics of a cut: the ring's topic table holds as many */
#define RC_CUT_MAX_LANES  RC_STREAM_MAX_PARTITIONS /* partitions of a stream, all topics together */
#define RC_EVENTID_MAX    3600                     /* room for the longest id a valid cut encodes to */
_Static_assert(RC_EVENTID_MAX >= 4 + RC_CUT_MAX_TOPICS * 2 + RC_CUT_MAX_LANES * 13,
               "the longest id fits: a fingerprint, two characters a topic and 13 a partition");

typedef struct st_rc_cut_t {
    uint32_t n_topics;
    uint16_t n_parts[RC_CUT_MAX_TOPICS]; /* partitions of each topic, numbered 0..n-1 */
    int64_t next[RC_CUT_MAX_LANES];      /* topic-major: topic 0's partitions, then topic 1's, ... */
} rc_cut_t;

/* The order of a stream's topics in its event ids (a cut lists topic 0's partitions first): by name,
 * bytewise. Copies the first n names of src (at most RC_CUT_MAX_TOPICS) into dst, sorted, and
 * returns how many. The bridge and the edges both order a stream's topics with it. */
size_t rc_eventid_sort_topics(const char **dst, const char *const *src, size_t n);

/* 24-bit fingerprint of a topic list (order does not matter). */
uint32_t rc_eventid_fingerprint(const char *const *topics, size_t n);

/* Index into cut->next of (topic, partition), or -1 if the cut has no such partition. */
int rc_cut_index(const rc_cut_t *cut, uint32_t topic, uint32_t partition);

/* Writes the id (no NUL); returns its length, or -1 if cap is too small or the cut is invalid. */
long rc_eventid_encode(char *out, size_t cap, uint32_t fingerprint, const rc_cut_t *cut);

/* Parses an id; returns 0, or -1 if it is not a well-formed id with this fingerprint. */
int rc_eventid_decode(const char *s, size_t len, uint32_t fingerprint, rc_cut_t *cut);

#endif

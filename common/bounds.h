/*
 * Bounds that several processes and modules must agree on, defined once: the config accepts only
 * what the bridge's ring can hold, what an event id can name and what an edge can select or count.
 * The ring (RC_RING_*), the event-id codec (RC_CUT_*), the config schema and the edge name these
 * values; where a second constant must agree with one of them, a _Static_assert says so beside it.
 * (The bridge's unix socket name is the wake protocol's: RC_WAKE_SOCK_NAME in wake.h.)
 */
#ifndef RC_BOUNDS_H
#define RC_BOUNDS_H

#define RC_STREAM_MAX_TOPICS     16  /* topics one stream merges: the ring's topic table, an event id's cut */
#define RC_STREAM_MAX_PARTITIONS 256 /* partitions of one stream, all topics together: the lanes an id names */
#define RC_STREAM_NAME_MAX       64  /* bytes of a stream name with its NUL: ring file names, counter slots */
#define RC_EVENT_TYPE_MAX        256 /* bytes of an event type a client can select (the config and event=) */

#endif

/*
 * The ingest engine of ringcast-bridge: Kafka partitions in, one ring per stream out.
 *
 * One librdkafka consumer, with every partition of every configured topic assigned by hand (no
 * consumer group, no commits: the rings remember where each partition stands). Each Kafka record
 * is written once into the ring of every stream that names its topic, with its SSE frame already
 * encoded; the head of each ring is published once per consume batch and the edges are woken.
 */
#ifndef RC_BRIDGE_H
#define RC_BRIDGE_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

typedef struct st_rc_bridge_t rc_bridge_t;

/* Opens the rings, starts the mock cluster when kafka.brokers is "mock", creates the consumer.
 * cfg must outlive the bridge. Returns NULL with a message in err. */
rc_bridge_t *rc_bridge_new(const rc_config_t *cfg, char *err, size_t errlen);

/* Consumes until *stop is set (by a signal that ppoll lets in). Returns 0. */
int rc_bridge_run(rc_bridge_t *b, volatile sig_atomic_t *stop);

/* Publishes what is pending, marks the rings stopped and releases everything. */
void rc_bridge_free(rc_bridge_t *b);

#endif

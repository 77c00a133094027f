/*
 * POST /streams/{name} into Kafka (see publish.c). One publisher per worker.
 */
#ifndef RC_PUBLISH_H
#define RC_PUBLISH_H

#include <h2o.h>

#include "config.h"
#include "edge.h"

typedef struct st_rc_publisher_t rc_publisher_t;

/* Creates the publisher; its producer comes when a bootstrap address is known (mock: the file the
 * bridge writes). */
rc_publisher_t *rc_publisher_new(const rc_config_t *cfg, h2o_loop_t *loop);
/* Once a second: makes the producer, or a new one if the mock cluster's address changed. */
void rc_publisher_check(rc_publisher_t *p);
/* Handles a POST to a stream that allows publishing; always answers (now or on delivery). */
int rc_publisher_post(rc_publisher_t *p, h2o_req_t *req, const rc_stream_conf_t *conf, rc_edge_counters_t *ctr);
void rc_publisher_free(rc_publisher_t *p);

#endif

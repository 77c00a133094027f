/*
 * ringcast-edge: a master process forks edge.workers workers; each worker is one h2o event loop
 * that maps the rings read-only and serves Server-Sent Events over HTTP/1.1 and h2c.
 */
#ifndef RC_EDGE_H
#define RC_EDGE_H

#include <signal.h>

#include "config.h"

/* Runs one worker until *stop is set, then drains its streams (each ends with a retry hint).
 * Returns the process exit status. */
int rc_edge_worker_run(const rc_config_t *cfg, int id, volatile sig_atomic_t *stop);

/* Binds and listens on one configured address with SO_REUSEPORT, non-blocking. Returns the fd,
 * or -1 with a message in err. */
int rc_edge_listen(const rc_listen_conf_t *l, char *err, size_t errlen);

#endif

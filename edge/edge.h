/*
 * ringcast-edge: a master process forks edge.workers workers; each worker is one h2o event loop
 * that maps the rings read-only and serves Server-Sent Events over HTTP/1.1, h2c, and HTTP/2 or
 * HTTP/1.1 over TLS (ALPN).
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

/* The TLS context of a listener with tls: (certificate chain and key, ALPN h2 and http/1.1).
 * Returns NULL with a message in err. */
struct ssl_ctx_st *rc_edge_tls_context(const rc_listen_conf_t *l, char *err, size_t errlen);

#endif

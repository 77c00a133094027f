/*
 * ringcast-edge: a master process forks edge.workers workers; each worker is one h2o event loop
 * that maps the rings read-only and serves Server-Sent Events over HTTP/1.1, h2c, and HTTP/2 or
 * HTTP/1.1 over TLS (ALPN).
 */
#ifndef RC_EDGE_H
#define RC_EDGE_H

#include <signal.h>

#include "config.h"

struct st_rc_edge_shared_t;

/*
 * Counters of one worker for one stream, in memory shared by the master and all workers (each
 * slot has one writer, its worker; /metrics in any worker sums every slot). Counters only grow;
 * the master zeroes the gauges (open_*) of a worker it restarts. They are laid out
 * [worker * slots + slot], a stream's slot coming from rc_edge_slot_of() (stable across reloads).
 */
typedef struct st_rc_edge_counters_t {
    uint64_t open_h1, open_h2;                 /* gauges: streams open now, by protocol */
    uint64_t events, bytes;                    /* events and bytes sent */
    uint64_t gaps_evicted;                     /* event: gap because the resume position was evicted */
    uint64_t gaps_lapped;                      /* event: gap because the client was too slow for the ring */
    uint64_t resets;                           /* event: reset sent (bad or future id, or a partition restarted) */
    uint64_t pub_ok, pub_failed, pub_rejected; /* POST: acknowledged, Kafka failed (503), refused (4xx) */
    uint64_t auth_401, auth_403;               /* refused by access control: no or bad token, outside its claims */
    uint64_t limited_streams, limited_publish; /* 429: streams per IP, publish rate per IP */
    uint64_t stalled_h1, stalled_h2;           /* streams closed by edge.send_timeout, by protocol */
} rc_edge_counters_t;

/* The shared counters of `workers` workers x `slots` stream slots. */
rc_edge_counters_t *rc_edge_counters_new(size_t workers, size_t slots);
#define RC_EDGE_COUNT(ctr, field, n) __atomic_fetch_add(&(ctr)->field, (n), __ATOMIC_RELAXED)

/* Runs one worker until *stop is set, then drains its streams (each ends with a retry hint).
 * shared carries reloads and the worker's liveness (reload.h). Returns the process exit status. */
int rc_edge_worker_run(const rc_config_t *cfg, int id, rc_edge_counters_t *counters, struct st_rc_edge_shared_t *shared,
                       volatile sig_atomic_t *stop);

/* A client TCP connection's bytes acknowledged so far and bytes still waiting for the client (in the
 * kernel: not sent, or not acknowledged). Returns 0, or -1 if the kernel would not say. */
int rc_tcp_progress(int fd, uint64_t *acked, uint64_t *outstanding);

/* Resets the HTTP/2 stream of req (RST_STREAM), even while a send of it is pending. */
struct st_h2o_req_t;
void rc_h2_stream_reset(struct st_h2o_req_t *req);

/* Answers req with status and a short text/plain body (a static or pool string). Returns 0, what an
 * h2o handler returns once it answered. */
struct st_h2o_req_t;
int rc_edge_reply(struct st_h2o_req_t *req, int status, const char *reason, const char *body);

#endif

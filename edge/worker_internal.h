/*
 * The state an edge worker's modules share; private to edge/worker.c, stream.c, client.c, status.c
 * and listen.c. Everything else sees edge.h.
 *
 *   worker.c   request routing (on_req, serve_stream), timers, reload, the run loop; owns W
 *   stream.c   streams: ring (re)mapping, the chunk cache, wake-ups, streams across a reload
 *   client.c   clients: fan-out (pump), preamble, filters, both transports, stalls, heartbeats
 *   status.c   /streams, /healthz, /metrics and the shared counters
 *   listen.c   listening sockets and TLS contexts
 *   resume.c   resume planning, a pure function over a ring (resume.h; no state of its own)
 *
 * One process runs one worker: W is its only instance and the modules reach it directly, as h2o's
 * HTTP/2 files reach their connection.
 *
 * Ownership. W owns streams[] (never moved: clients point at their stream_t; a stream removed by a
 * reload is retired, and its entry is reused only once no client points at it) and each stream owns
 * its ring mapping and its recent chunks. A chunk is reference counted: the stream holds one
 * reference while it is among the recent copies, and a client holds one while a send of it is in
 * flight or it reads on in it; the last rc_chunk_release() frees it.
 *
 * A client's lifetime. On HTTP/2, the client lives in its request's memory pool: h2o calls
 * on_proceed when a send is done and on_stop when the peer went away (the client is then taken off
 * every list), and the pool's disposal (on_req_dispose, through c->hook) frees what the client
 * allocated (its preamble, skip table) once the stream ends, whichever way. On HTTP/1.x the client
 * is malloc'd: until h2o has written the response headers the request's disposal frees it (the
 * hook); once h2o hands over the socket (on_h1_upgraded) the hook is cleared and the client owns
 * its socket, writing the chunked body itself; it is freed by h1_close (EOF, write error, a stall,
 * the end of an endless stream) or, when a finite stream ends on a keep-alive connection, by
 * client_destroy just before the socket goes back to h2o for the next request.
 */
#ifndef RC_EDGE_WORKER_INTERNAL_H
#define RC_EDGE_WORKER_INTERNAL_H

#include <h2o.h>

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "edge.h"
#include "eventid.h"
#include "publish.h"
#include "query.h"
#include "reload.h"
#include "resume.h"
#include "ring.h"

#define CHUNK_BYTES   (64u << 10) /* records copied from a ring at once: what a worker holds for one client */
#define RECENT_CHUNKS 4           /* chunks a stream keeps for clients at other positions */
#define LAST_ID_MAX   46          /* ids a client keeps to resume from when lapped: ~20 partitions */

typedef struct st_chunk_t {
    uint32_t refs;
    rc_cursor_t start, end;
    size_t len;
    uint64_t data[]; /* 8-aligned, as rc_ring_read wants */
} chunk_t;

typedef struct st_stream_t {
    const rc_stream_conf_t *conf;
    char path[4200];
    rc_ring_t *ring;
    dev_t dev;
    ino_t ino;
    off_t size;      /* of the file when it was mapped: a truncated file is noticed by its size */
    int open_failed; /* the last attempt to map the ring failed (logged once) */
    uint32_t fp;
    uint32_t n_topics;
    const char *topics[RC_CUT_MAX_TOPICS]; /* sorted, as the bridge orders ids */
    chunk_t *recent[RECENT_CHUNKS];        /* the last chunks copied, newest first */
    h2o_linklist_t clients;
    h2o_linklist_t waiting; /* clients at the head, woken when the bridge publishes */
    uint64_t n_clients;
    rc_edge_counters_t *ctr; /* this worker's slot for this stream */
    size_t slot;             /* its index, rc_edge_slot_of() */
    int retired;             /* left the config by a reload: open streams go on, new requests get 404 */
} stream_t;

/* A client's filters, copied from its query string at their own sizes (client_new). */
typedef struct st_filter_t {
    h2o_iovec_t *keys, *events;
    int32_t *partitions;
    size_t n_keys, n_events, n_partitions;
    uint64_t limit; /* 0: none */
    int keys_only;  /* the token has a keys claim: a record without a known key never passes */
} filter_t;

typedef struct st_client_t {
    h2o_generator_t super; /* HTTP/2: h2o calls proceed when a send is done, stop when the client left */
    h2o_req_t *req;        /* HTTP/2; HTTP/1.x only until the headers are written */
    h2o_socket_t *sock;    /* HTTP/1.x: the connection, the client's own after the headers */
    struct timeval connected_at;
    stream_t *st;
    rc_cursor_t cur;
    rc_resume_lane_t *skip; /* per lane, when resuming: what the client had already (resume.h) */
    uint32_t n_skip;
    uint8_t last_id_len;       /* 0: none, or longer than last_id */
    char last_id[LAST_ID_MAX]; /* the id of the last record read: where a lapped client resumes */
    filter_t f;
    uint64_t sent, deadline_ms, last_send_ms;
    uint64_t progress_ms, acked, next_check_ms; /* edge.send_timeout: when the client last took bytes */
    chunk_t *chunk; /* held while a send is in flight, and after it while the client reads on in it */
    char *pre;      /* retry hint, gap or reset events, sent before the next frames */
    size_t pre_len;
    char *pre_sent;      /* the preamble in flight, freed when its send is done */
    char chunk_head[24]; /* HTTP/1.1: the chunk-size line of the write in flight */
    int inflight, finished, final_sent, waiting, deferred, h2, chunked, keepalive;
    struct st_client_t **hook; /* in the request's pool: frees the client when the request goes */
    int32_t ip_slot;           /* counted in the per-IP stream limit; see rc_access_stream_begin() */
    int64_t expires_ms;        /* wall clock (ms) at which the token that opened the stream expires; 0: none */
    h2o_linklist_t link_all, link_wait, link_defer;
} client_t;

typedef struct st_worker_t {
    const rc_config_t *cfg;
    int id;
    rc_edge_counters_t *counters; /* all workers' slots: [worker * n_streams + stream] */
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;  /* plain listeners: HTTP/1.1 and h2c */
    h2o_accept_ctx_t *tls_accept; /* one per listener: its own certificate */
    h2o_evloop_t *loop;
    stream_t *streams;
    size_t n_streams;
    h2o_socket_t **listeners;
    size_t n_listeners;
    int efd;
    h2o_socket_t *efd_sock;
    int bridge_fd;
    h2o_socket_t *bridge_sock;
    char bridge_path[4200];
    h2o_timeout_t zero_timeout, hk_timeout, hb_timeout;
    h2o_timeout_entry_t defer_entry, hk_entry, hb_entry;
    h2o_linklist_t deferred;
    char retry_line[64];
    size_t retry_len;
    rc_publisher_t *publisher;
    int draining;
    uint64_t trim_high;       /* most streams open since memory was last returned */
    rc_edge_shared_t *shared; /* reloads and liveness, shared with the master */
    uint64_t gen;             /* the config generation applied */
    size_t cap;               /* room in streams[]: stream_t never move, clients point at them */
    int hup_pipe[2];          /* SIGHUP's handler writes, the loop reads: a reload runs in the loop */
    h2o_socket_t *hup_sock;
} worker_t;

extern worker_t W; /* the worker of this process (worker.c) */

static inline uint64_t now_ms(void)
{
    return h2o_now(W.ctx.loop);
}

/* --- stream.c ---------------------------------------------------------------------------------- */

/* Drops a reference to ch (NULL: nothing); the last one frees it. */
void rc_chunk_release(chunk_t *ch);
/* True if cur is inside ch (the client's next record is one of its copies). */
int rc_chunk_covers(const chunk_t *ch, rc_cursor_t cur);
/* A chunk holding cl's next record, with a reference for the caller; *off is where the record is.
 * Anything but RC_READ_OK leaves *out unset. */
rc_read_t rc_stream_chunk_at(stream_t *st, client_t *cl, chunk_t **out, size_t *off);
/* Drops the stream's copies (its ring went away or was replaced). */
void rc_stream_chunks_forget(stream_t *st);
/* The stream of that name still configured, or NULL. */
stream_t *rc_stream_named(const char *name, size_t len);
/* Makes W.streams from W.cfg (at start). */
void rc_streams_setup(void);
/* Kept streams take their new settings, removed ones retire, new ones get an entry. */
void rc_streams_reload(const rc_config_t *next);
/* Maps rings that appeared, ends the streams of rings that were replaced, removed or truncated. */
void rc_streams_check_rings(void);
/* Pumps every client waiting at a ring's head (the bridge published). */
void rc_streams_wake_all(void);
/* Clients open on this worker, all streams together. */
uint64_t rc_streams_clients(void);

/* --- client.c ---------------------------------------------------------------------------------- */

/* A client for req on st with the filters of q, freed with its request until its stream starts
 * (rc_client_start). */
client_t *rc_client_new(const rc_query_t *q, h2o_req_t *req, stream_t *st);
/* Sets the client's start from an event id: returns 0 (exact), 1 (with a gap event in its
 * preamble), or -1 with *why (a reset: the client is unchanged). */
int rc_client_resume(client_t *c, const char *id, size_t id_len, const char **why);
/* Counts the client in its stream, writes the response headers and starts sending; the stream
 * ends after timeout_ms (timeout=; 0: never). */
void rc_client_start(client_t *c, h2o_req_t *req, uint64_t timeout_ms);
/* Sends what the client should get next, if nothing of it is in flight. */
void rc_client_pump(client_t *c);
/* Pumps the client on the next loop turn. */
void rc_client_defer(client_t *c);
/* W.defer_entry's callback: the pumps deferred during the last turn. */
void rc_client_on_defer(h2o_timeout_entry_t *entry);
/* Appends bytes, or an SSE event without id (gap, reset), to what the client gets next. */
void rc_client_add_pre(client_t *c, const char *p, size_t len);
void rc_client_add_event(client_t *c, const char *event, const char *json);
/* Ends every stream of st after what is in flight, with a last retry hint. */
void rc_stream_end_clients(stream_t *st);
/* Every second: timeout= deadlines, expired tokens, edge.send_timeout (may close clients). */
void rc_clients_housekeep(void);
/* A heartbeat comment to every client that sent nothing for edge.heartbeat. */
void rc_clients_heartbeat(void);

/* --- status.c ---------------------------------------------------------------------------------- */

int rc_status_list(h2o_req_t *req);
int rc_status_health(h2o_req_t *req);
int rc_status_metrics(h2o_req_t *req);

/* --- listen.c ---------------------------------------------------------------------------------- */

/* Opens every configured listener into W.listeners (TLS ones with their own accept context).
 * Returns 0, or -1 after logging why. */
int rc_listeners_open(const rc_config_t *cfg);
/* Closes them: no new connections (draining). */
void rc_listeners_close(void);
/* New certificates for new connections of the TLS listeners. */
void rc_listeners_reload_tls(const rc_config_t *next);

#endif

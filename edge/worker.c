/*
 * One ringcast-edge worker: an h2o event loop serving the streams of the rings it maps read-only.
 *
 * This file routes requests (on_req, serve_stream), runs the worker's timers (housekeeping,
 * heartbeats), applies reloads, and runs the loop from start to drain. What it routes to lives
 * beside it, sharing W through worker_internal.h: streams and their rings (stream.c), clients and
 * their transports (client.c), status endpoints (status.c), listeners and TLS (listen.c); resume
 * planning is a pure function (resume.c).
 *
 * Owns W for the life of the process. The configs it is given are never freed while it runs: a
 * reload keeps the previous one, which removed streams and the publisher still point into.
 */

#include <h2o.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth.h"
#include "guard.h"
#include "log.h"
#include "util.h"
#include "wake.h"
#include "worker_internal.h"

#define HOUSEKEEP_MS 1000 /* ring (re)opening, bridge reconnection, timeout= deadlines */
#define DRAIN_MS     5000 /* longest a stopping worker waits for its streams to end */
#define TRIM_STREAMS 1000 /* streams closed since the peak that make a worker return freed memory */

worker_t W;

/* --- GET /streams/<name>: from the request to a running stream ------------------------------------ */

static int accepts_event_stream(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i < 0)
        return 1;
    h2o_iovec_t v = req->headers.entries[i].value;
    return memmem(v.base, v.len, H2O_STRLIT("text/event-stream")) != NULL ||
           memmem(v.base, v.len, H2O_STRLIT("*/*")) != NULL || memmem(v.base, v.len, H2O_STRLIT("text/*")) != NULL;
}

/* Answers a method the stream does not take: 405 with the methods it does. */
static int refuse_method(h2o_req_t *req, const stream_t *st)
{
    if (st->conf->publish) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, POST"));
        return rc_edge_reply(req, 405, "Method Not Allowed", "this stream takes GET and POST\n");
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET"));
    return rc_edge_reply(req, 405, "Method Not Allowed",
                         "only GET is allowed on this stream (it does not take POST)\n");
}

/* The request's query, parsed into one scratch query of the worker (a request is handled start to
 * end here; the client keeps only what it uses, so an idle stream costs bytes, not the query's
 * 12 KiB). NULL once answered 400. */
static const rc_query_t *parse_query(h2o_req_t *req)
{
    static rc_query_t scratch;
    char err[128];
    const char *qs = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    if (rc_query_parse(qs, qlen, &scratch, err, sizeof(err)) != 0) {
        strcat(err, "\n");
        rc_edge_reply(req, 400, "Bad Request", err);
        return NULL;
    }
    return &scratch;
}

/* Resumes from the client's last event id, if it sent one: Last-Event-ID (what EventSource sends on
 * reconnect) wins over ?lastEventId=. An id that cannot be placed gives event: reset. Returns 1 if
 * the client resumed. */
static int resume_from_id(client_t *c, const rc_query_t *q, h2o_req_t *req)
{
    const char *id = q->has_last_id ? q->last_id : NULL;
    size_t id_len = q->last_id_len;
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
    if (h >= 0)
        id = req->headers.entries[h].value.base, id_len = req->headers.entries[h].value.len;
    if (id == NULL || id_len == 0)
        return 0;
    const char *why = NULL;
    int r = rc_client_resume(c, id, id_len, &why);
    if (r >= 0) {
        if (r == 1)
            RC_EDGE_COUNT(c->st->ctr, gaps_evicted, 1);
        return 1;
    }
    char json[200];
    snprintf(json, sizeof(json), "{\"reason\":\"%s\"}", why);
    rc_client_add_event(c, "reset", json);
    RC_EDGE_COUNT(c->st->ctr, resets, 1);
    free(c->skip);
    c->skip = NULL;
    return 0;
}

/* Where the client starts: its last event id, else since=, else the stream's start. Returns 0, or
 * -1 if the ring cannot say (the caller answers 503). */
static int place_start(client_t *c, const rc_query_t *q, h2o_req_t *req)
{
    stream_t *st = c->st;
    if (resume_from_id(c, q, req))
        return 0;
    if (q->has_since) {
        /* since=: the first record at or after that time; when older records were evicted the
         * stream simply starts with the oldest kept (there is no cut to count a gap from). */
        return rc_ring_find_time(st->ring, q->since_ms, &c->cur) == RC_LOOKUP_CORRUPT ? -1 : 0;
    }
    return st->conf->start == RC_START_OLDEST ? rc_ring_oldest(st->ring, &c->cur) : rc_ring_head(st->ring, &c->cur);
}

static int serve_stream(h2o_req_t *req, stream_t *st)
{
    rc_grant_t grant;
    if (rc_access_check(req, st->conf, st->ctr, &grant))
        return 0; /* answered: 401, 403 or 429 */
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) && st->conf->publish)
        return rc_publisher_post(W.publisher, req, st->conf, st->ctr);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return refuse_method(req, st);
    if (!accepts_event_stream(req))
        return rc_edge_reply(req, 406, "Not Acceptable", "this resource is text/event-stream\n");
    const rc_query_t *q = parse_query(req);
    if (q == NULL)
        return 0; /* answered 400 */
    if (st->ring == NULL || rc_ring_damaged(st->ring))
        return rc_edge_reply(req, 503, "Service Unavailable",
                             "stream not available: its ring is missing (is the bridge running?)\n");
    int32_t ip_slot;
    if (rc_access_stream_begin(req, (size_t)W.id, st->ctr, &ip_slot))
        return 0; /* answered 429 */
    client_t *c = rc_client_new(q, req, st);
    c->ip_slot = ip_slot; /* given back when the client is freed */
    c->f.keys_only = grant.keys_only;
    c->expires_ms = grant.expires_ms;
    rc_client_add_pre(c, W.retry_line, W.retry_len);
    if (place_start(c, q, req) != 0)
        return rc_edge_reply(req, 503, "Service Unavailable", "stream not available: its ring is not readable\n");
    rc_client_start(c, req, q->timeout_ms);
    return 0;
}

/* --- routing -------------------------------------------------------------------------------------- */

static char *static_root; /* realpath() of edge.static_dir; NULL: no static files */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    /* Ambiguous body framing (guard.h), on any method: 400, and the connection closes with the
     * bytes that may hide a second request. */
    const char *ambiguous = rc_guard_h1_framing(req);
    if (ambiguous != NULL) {
        req->http1_is_persistent = 0;
        return rc_edge_reply(req, 400, "Bad Request", ambiguous);
    }
    if (rc_access_cors(W.cfg, req))
        return 0; /* a preflight request, answered */
    h2o_iovec_t p = req->path_normalized;
    /* Only a publish (POST) has a body. h2o 2.2.5 frames an HTTP/1.1 body by the first of several
     * Content-Length headers, where a proxy in front may use another: the bytes after the body
     * would become a request the proxy never saw (request smuggling). Refusing any other request
     * that has a body, and closing its connection, drops those bytes. */
    if (req->entity.base != NULL && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        req->http1_is_persistent = 0;
        return rc_edge_reply(req, 400, "Bad Request", "a request body is only accepted with POST\n");
    }
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/streams")) || h2o_memis(p.base, p.len, H2O_STRLIT("/streams/")))
        return rc_status_list(req);
    if (p.len > 9 && memcmp(p.base, "/streams/", 9) == 0) {
        stream_t *st = rc_stream_named(p.base + 9, p.len - 9);
        if (st == NULL)
            return rc_edge_reply(req, 404, "Not Found", "no such stream\n");
        return serve_stream(req, st);
    }
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/healthz")))
        return rc_status_health(req);
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/metrics")))
        return rc_status_metrics(req);
    /* h2o's file handler follows symbolic links and serves dotfiles: only a file whose real path is
     * inside static_dir, and no dotfile, reaches it. */
    if (W.cfg->edge.static_dir != NULL && W.cfg->edge.static_dir[0] != '\0' && rc_guard_static_refused(static_root, p))
        return rc_edge_reply(req, 404, "Not Found", "not found\n");
    return -1; /* static files, if configured, or h2o's 404 */
}

/* --- the bridge's wake-ups and the timers --------------------------------------------------------- */

static void on_wake(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_buffer_consume(&sock->input, sock->input->size); /* the eventfd counter: its value is not needed */
    rc_streams_wake_all();
}

static void on_bridge_eof(h2o_socket_t *sock, const char *err)
{
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err != NULL) {
        rc_info("wake", "bridge connection closed; reconnecting");
        h2o_socket_close(sock);
        W.bridge_sock = NULL;
    }
}

static void connect_bridge(void)
{
    if (W.bridge_sock != NULL)
        return;
    int fd = rc_wake_connect(W.bridge_path, W.efd);
    if (fd < 0)
        return;
    W.bridge_sock = h2o_evloop_socket_create(W.loop, fd, 0);
    h2o_socket_read_start(W.bridge_sock, on_bridge_eof);
    rc_debug("wake", "registered with the bridge");
}

static void on_housekeep(h2o_timeout_entry_t *entry)
{
    (void)entry;
    /* The master's watchdog looks at this: a loop that stops running stops it. */
    __atomic_store_n(&W.shared->workers[W.id].heartbeat_ns, rc_now_mono_ns(), __ATOMIC_RELAXED);
    rc_streams_check_rings();
    connect_bridge();
    if (W.publisher != NULL)
        rc_publisher_check(W.publisher);
    rc_clients_housekeep();
    rc_streams_wake_all(); /* a wake-up lost while the bridge restarted costs at most this tick */
    /* malloc keeps what thousands of closed streams freed (their buffers and pools, spread over the
     * heap) unless asked: give it back, so a wave of clients does not leave the worker at its peak. */
    uint64_t open = rc_streams_clients();
    if (open > W.trim_high) {
        W.trim_high = open;
    } else if (W.trim_high - open >= TRIM_STREAMS) {
        malloc_trim(0);
        W.trim_high = open;
    }
    h2o_timeout_link(W.ctx.loop, &W.hk_timeout, &W.hk_entry);
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    (void)entry;
    rc_clients_heartbeat();
    h2o_timeout_link(W.ctx.loop, &W.hb_timeout, &W.hb_entry);
}

/* --- settings and reload (SIGHUP from the master) ------------------------------------------------ */

/* The settings the worker itself holds (not its streams'), by this one function at start and at
 * each reload: the retry hint that opens every stream, the heartbeat period, the largest request
 * body h2o buffers (twice the largest max_publish_bytes: each stream answers 413 above its own, with
 * the limit in the body; the limit only grows, as bodies in flight were accepted under it), and the
 * Kafka producer once a stream publishes. */
static void apply_settings(const rc_config_t *cfg)
{
    W.retry_len = (size_t)snprintf(W.retry_line, sizeof(W.retry_line), "retry: %" PRIu64 "\n\n", cfg->edge.retry_ms);
    W.hb_timeout.timeout = cfg->edge.heartbeat_ms; /* the next heartbeat round uses it */
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (cfg->streams[i].publish && cfg->streams[i].max_publish_bytes * 2 > W.globalconf.max_request_entity_size)
            W.globalconf.max_request_entity_size = cfg->streams[i].max_publish_bytes * 2;
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (cfg->streams[i].publish && W.publisher == NULL)
            W.publisher = rc_publisher_new(cfg, W.loop);
}

static int hup_write_fd = -1;

static void on_sighup(int sig)
{
    (void)sig;
    ssize_t w = write(hup_write_fd, "h", 1); /* a full pipe already holds a pending reload */
    (void)w;
}

static void apply_reload(void)
{
    uint64_t gen;
    rc_config_t *next = rc_edge_reload_fetch(W.shared, W.cfg, W.gen, &gen);
    if (next == NULL) {
        if (__atomic_load_n(&W.shared->gen, __ATOMIC_ACQUIRE) != W.gen) {
            rc_error("reload", "worker %d: generation %" PRIu64 " does not load; keeping the running config", W.id,
                     gen);
            W.gen = gen;
            __atomic_store_n(&W.shared->workers[W.id].applied_gen, gen, __ATOMIC_RELEASE);
        }
        return;
    }
    char aerr[512];
    if (rc_access_reload(next, aerr, sizeof(aerr)) != 0) /* the master loaded them: unexpected */
        rc_error("reload", "worker %d: %s; access control keeps its running keys", W.id, aerr);
    rc_streams_reload(next);
    rc_listeners_reload_tls(next);
    apply_settings(next);
    rc_log_level_t level;
    if (rc_log_parse_level(next->log.level, &level) == 0)
        rc_log_set_level(level);
    /* The previous config stays allocated: removed streams and the publisher still point into it. */
    W.cfg = next;
    rc_streams_check_rings();
    W.gen = gen;
    __atomic_store_n(&W.shared->workers[W.id].applied_gen, gen, __ATOMIC_RELEASE);
    rc_info("reload", "worker %d: generation %" PRIu64 " applied", W.id, gen);
}

static void on_hup(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_buffer_consume(&sock->input, sock->input->size);
    apply_reload();
}

/* Called once the listeners are open: SIGHUP now reloads, and the master learns the worker serves. */
static void ops_start(void)
{
    W.gen = __atomic_load_n(&W.shared->workers[W.id].applied_gen, __ATOMIC_RELAXED);
    if (pipe2(W.hup_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        rc_error("reload", "pipe: %s", strerror(errno));
        abort();
    }
    hup_write_fd = W.hup_pipe[1];
    W.hup_sock = h2o_evloop_socket_create(W.loop, W.hup_pipe[0], 0);
    h2o_socket_read_start(W.hup_sock, on_hup);
    struct sigaction sa = {.sa_handler = on_sighup, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    /* A reload published while this worker was starting (SIGHUP was ignored until now). */
    if (__atomic_load_n(&W.shared->gen, __ATOMIC_ACQUIRE) != W.gen)
        on_sighup(SIGHUP);
    __atomic_store_n(&W.shared->workers[W.id].heartbeat_ns, rc_now_mono_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&W.shared->workers[W.id].ready, 1, __ATOMIC_RELEASE);
}

/* --- the worker from start to drain --------------------------------------------------------------- */

/* h2o's configuration, loop and context, with on_req as the handler of every path. */
static void init_http(const rc_config_t *cfg)
{
    /* A worker holds one descriptor per connection: take the hard limit it is allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Each connection keeps its input buffer for life; an event stream reads one request and then
     * only writes. h2o starts these buffers at 8 KiB; 4 KiB (what one read asks for) still holds a
     * request, and it grows for larger ones and for HTTP/2. */
    h2o_socket_buffer_prototype._initial_buf.capacity = H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE;
    h2o_config_init(&W.globalconf);
    W.globalconf.max_request_entity_size = 64 << 10; /* raised by apply_settings for publishing streams */
    h2o_hostconf_t *host = h2o_config_register_host(&W.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(root, sizeof(*handler));
    handler->on_req = on_req;
    if (cfg->edge.static_dir != NULL && cfg->edge.static_dir[0] != '\0') {
        h2o_file_register(root, cfg->edge.static_dir, NULL, NULL, 0);
        free(static_root);
        if ((static_root = realpath(cfg->edge.static_dir, NULL)) == NULL)
            rc_warn("http", "static_dir %s: %s; no static file is served", cfg->edge.static_dir, strerror(errno));
    }
    W.loop = h2o_evloop_create();
    h2o_context_init(&W.ctx, W.loop, &W.globalconf);
    W.accept_ctx.ctx = &W.ctx;
    W.accept_ctx.hosts = W.globalconf.hosts;
}

/* The bridge's wake-ups (an eventfd the bridge is given over its socket) and the rings. */
static void init_rings(const rc_config_t *cfg)
{
    srand((unsigned)(getpid() ^ rc_now_mono_ns()));
    /* A ring file truncated under the mapping must not kill the worker (see rc_streams_check_rings). */
    rc_ring_guard_sigbus();
    W.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    W.efd_sock = h2o_evloop_socket_create(W.loop, W.efd, 0);
    h2o_socket_read_start(W.efd_sock, on_wake);
    snprintf(W.bridge_path, sizeof(W.bridge_path), "%s/%s", cfg->ring.dir, RC_WAKE_SOCK_NAME);
    rc_streams_check_rings();
    connect_bridge();
}

static void init_timers(const rc_config_t *cfg)
{
    h2o_timeout_init(W.ctx.loop, &W.zero_timeout, 0);
    h2o_timeout_init(W.ctx.loop, &W.hk_timeout, HOUSEKEEP_MS);
    h2o_timeout_init(W.ctx.loop, &W.hb_timeout, cfg->edge.heartbeat_ms);
    W.defer_entry.cb = rc_client_on_defer;
    W.hk_entry.cb = on_housekeep;
    W.hb_entry.cb = on_heartbeat;
    h2o_timeout_link(W.ctx.loop, &W.hk_timeout, &W.hk_entry);
    h2o_timeout_link(W.ctx.loop, &W.hb_timeout, &W.hb_entry);
}

/* No new connections; every open stream ends after a last retry hint, so browsers come back (to
 * another worker or host) with their Last-Event-ID. */
static void drain(void)
{
    rc_info("http", "worker %d draining", W.id);
    W.draining = 1;
    rc_listeners_close();
    for (size_t i = 0; i < W.n_streams; i++)
        rc_stream_end_clients(&W.streams[i]);
    uint64_t until = now_ms() + DRAIN_MS;
    while (rc_streams_clients() > 0 && now_ms() < until)
        h2o_evloop_run(W.loop, 100);
}

int rc_edge_worker_run(const rc_config_t *cfg, int id, rc_edge_counters_t *counters, rc_edge_shared_t *shared,
                       volatile sig_atomic_t *stop)
{
    memset(&W, 0, sizeof(W));
    W.cfg = cfg;
    W.id = id;
    W.counters = counters;
    W.shared = shared;
    W.efd = -1;
    init_http(cfg);
    rc_streams_setup();
    h2o_linklist_init_anchor(&W.deferred);
    if (rc_listeners_open(cfg) != 0)
        return 1;
    init_rings(cfg);
    init_timers(cfg);
    apply_settings(cfg);
    rc_info("http", "worker %d serving %zu streams", id, W.n_streams);
    ops_start();

    while (!*stop) {
        h2o_evloop_run(W.loop, INT32_MAX);
        rc_guard_h2_bodies(&W.ctx); /* HTTP/2 connections made in that turn */
    }
    drain();
    rc_info("http", "worker %d stopped", id);
    return 0;
}

/*
 * What an edge worker tells about itself (worker_internal.h): GET /streams (JSON), /healthz (text,
 * 200 or 503) and /metrics (Prometheus), and the counters every worker adds to.
 *
 * Owns nothing per request: bodies are built in the request's pool and freed with it. The shared
 * counters (rc_edge_counters_new) are one anonymous mapping made by the master before it forks,
 * never freed: they live as long as the edge. Streams with auth: required are named only on an
 * admin listener (rc_access_admin).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "auth.h"
#include "log.h"
#include "util.h"
#include "worker_internal.h"

#define HEALTHY_HB_NS (5000000000ull) /* a bridge heartbeat older than this makes /healthz fail */

/* What /healthz and /metrics say of a stream's ring. */
typedef struct st_ring_health_t {
    rc_ring_state_t state;
    int fresh;       /* the bridge's heartbeat is younger than HEALTHY_HB_NS */
    int up;          /* fresh, and the bridge streams: ringcast_bridge_up */
    uint64_t unread; /* partitions of the stream's topics without a lane (ring.max_partitions) */
} ring_health_t;

/* The one judgement of a ring's health: returns 1 if the bridge streams with a fresh heartbeat and
 * reads every partition, else 0 (a stream without a ring is not healthy). */
static int ring_health(const stream_t *st, uint64_t now_ns, ring_health_t *h)
{
    memset(h, 0, sizeof(*h));
    if (st->ring == NULL)
        return 0;
    uint64_t hb = rc_ring_heartbeat_ns(st->ring);
    h->state = rc_ring_state(st->ring);
    h->fresh = hb != 0 && now_ns >= hb && now_ns - hb < HEALTHY_HB_NS;
    h->up = h->fresh && h->state == RC_STATE_STREAMING;
    h->unread = rc_ring_counter(st->ring, RC_CTR_NO_LANE);
    return h->up && h->unread == 0;
}

static h2o_iovec_t json_escape(h2o_mem_pool_t *pool, const char *s)
{
    size_t n = strlen(s);
    char *o = h2o_mem_alloc_pool(pool, n * 6 + 1), *p = o;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            *p++ = '\\', *p++ = (char)ch;
        else if (ch < 0x20)
            p += sprintf(p, "\\u%04x", ch);
        else
            *p++ = (char)ch;
    }
    return h2o_iovec_init(o, (size_t)(p - o));
}

/* Whether /streams, /metrics and /healthz name st on this request's listener (see rc_access_admin). */
static int shown(const stream_t *st, int admin)
{
    return !st->retired && (admin || rc_access_public(st->conf));
}

int rc_status_list(h2o_req_t *req)
{
    h2o_iovec_t body = h2o_iovec_init(H2O_STRLIT("{\"streams\":["));
    uint64_t now = rc_now_mono_ns();
    int listed = 0, admin = rc_access_admin(req);
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (!shown(st, admin))
            continue;
        const char *sep = listed++ ? "," : "";
        h2o_iovec_t name = json_escape(&req->pool, st->conf->name);
        char buf[512];
        int k;
        if (st->ring == NULL) {
            k = snprintf(buf, sizeof(buf), "%s{\"name\":\"%.*s\",\"available\":false", sep, (int)name.len, name.base);
        } else {
            rc_cursor_t head, old;
            rc_ring_head(st->ring, &head);
            if (rc_ring_oldest(st->ring, &old) != 0)
                old = head;
            uint64_t hb = rc_ring_heartbeat_ns(st->ring);
            k = snprintf(buf, sizeof(buf),
                         "%s{\"name\":\"%.*s\",\"available\":true,\"records\":%" PRIu64 ",\"first_seq\":%" PRIu64
                         ",\"next_seq\":%" PRIu64 ",\"ring_bytes\":%" PRIu64 ",\"bridge\":\"%s\","
                         "\"heartbeat_age_ms\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"resets\":%" PRIu64
                         ",\"clients_this_worker\":%" PRIu64,
                         sep, (int)name.len, name.base, head.seq - old.seq, old.seq, head.seq,
                         rc_ring_capacity(st->ring), rc_ring_state_str(rc_ring_state(st->ring)),
                         hb && now > hb ? (now - hb) / 1000000 : 0, rc_ring_counter(st->ring, RC_CTR_SKIPPED),
                         rc_ring_counter(st->ring, RC_CTR_RESETS), st->n_clients);
        }
        body =
            h2o_concat(&req->pool, body, h2o_iovec_init(buf, (size_t)k), h2o_iovec_init(H2O_STRLIT(",\"topics\":[")));
        for (size_t t = 0; t < st->conf->n_topics; t++) {
            h2o_iovec_t tn = json_escape(&req->pool, st->conf->topics[t]);
            body = h2o_concat(&req->pool, body, h2o_iovec_init(t ? ",\"" : "\"", t ? 2 : 1), tn,
                              h2o_iovec_init(H2O_STRLIT("\"")));
        }
        body = h2o_concat(&req->pool, body, h2o_iovec_init(H2O_STRLIT("]}")));
    }
    body = h2o_concat(&req->pool, body, h2o_iovec_init(H2O_STRLIT("]}\n")));
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body.base, body.len);
    return 0;
}

int rc_status_health(h2o_req_t *req)
{
    h2o_iovec_t body = h2o_iovec_init(NULL, 0);
    int healthy = 1, admin = rc_access_admin(req), hidden_bad = 0;
    uint64_t now = rc_now_mono_ns();
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        char line[300];
        int k, before = healthy;
        if (st->retired)
            continue;
        ring_health_t h;
        healthy = ring_health(st, now, &h); /* this stream's, for now */
        if (st->ring == NULL) {
            k = snprintf(line, sizeof(line), "%s: ring missing\n", st->conf->name);
        } else {
            k = snprintf(line, sizeof(line), "%s: bridge %s, heartbeat %s", st->conf->name, rc_ring_state_str(h.state),
                         h.fresh ? "fresh" : "stale");
            if (h.unread > 0 && k > 0 && (size_t)k < sizeof(line))
                k += snprintf(line + k, sizeof(line) - (size_t)k,
                              "; %" PRIu64 " partitions NOT read: no lane left in the ring (ring.max_partitions)",
                              h.unread);
            if (k > 0 && (size_t)k < sizeof(line) - 1)
                line[k++] = '\n';
        }
        hidden_bad += !healthy && !shown(st, admin); /* counted, without its name */
        healthy = healthy && before;
        if (shown(st, admin))
            body = h2o_concat(&req->pool, body, h2o_iovec_init(line, (size_t)k));
    }
    if (hidden_bad) {
        char line[160];
        int k = snprintf(line, sizeof(line),
                         "%d streams with auth: required: not healthy (named on an admin listener)\n", hidden_bad);
        body = h2o_concat(&req->pool, body, h2o_iovec_init(line, (size_t)k));
    }
    req->res.status = healthy ? 200 : 503;
    req->res.reason = healthy ? "OK" : "Service Unavailable";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body.base, body.len);
    return 0;
}

rc_edge_counters_t *rc_edge_counters_new(size_t workers, size_t streams)
{
    size_t len = (workers ? workers : 1) * (streams ? streams : 1) * sizeof(rc_edge_counters_t);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        rc_error("edge", "shared counters: %s", strerror(errno));
        abort();
    }
    return p;
}

static uint64_t sum(size_t s, size_t field)
{
    uint64_t v = 0;
    for (int64_t w = 0; w < W.cfg->edge.workers; w++) {
        const uint64_t *f =
            (const uint64_t *)((const char *)&W.counters[(size_t)w * W.shared->slots + W.streams[s].slot] + field);
        v += __atomic_load_n(f, __ATOMIC_RELAXED);
    }
    return v;
}

/* Prometheus text format: every worker's counters summed, and the rings' own figures. */
int rc_status_metrics(h2o_req_t *req)
{
    static const struct {
        const char *name, *type, *help, *labels;
        size_t field;
    } rows[] = {
        {"ringcast_streams_open", "gauge", "SSE streams open now", "protocol=\"http1\"",
         offsetof(rc_edge_counters_t, open_h1)},
        {NULL, NULL, NULL, "protocol=\"h2\"", offsetof(rc_edge_counters_t, open_h2)},
        {"ringcast_events_sent_total", "counter", "SSE events sent", "", offsetof(rc_edge_counters_t, events)},
        {"ringcast_bytes_sent_total", "counter", "bytes of SSE events sent", "", offsetof(rc_edge_counters_t, bytes)},
        {"ringcast_gaps_total", "counter", "event: gap sent", "reason=\"evicted\"",
         offsetof(rc_edge_counters_t, gaps_evicted)},
        {NULL, NULL, NULL, "reason=\"lapped\"", offsetof(rc_edge_counters_t, gaps_lapped)},
        {"ringcast_resets_total", "counter", "event: reset sent", "", offsetof(rc_edge_counters_t, resets)},
        {"ringcast_publish_total", "counter", "POST requests by result", "result=\"ok\"",
         offsetof(rc_edge_counters_t, pub_ok)},
        {NULL, NULL, NULL, "result=\"kafka_failed\"", offsetof(rc_edge_counters_t, pub_failed)},
        {NULL, NULL, NULL, "result=\"rejected\"", offsetof(rc_edge_counters_t, pub_rejected)},
        {"ringcast_auth_refused_total", "counter", "requests refused by access control", "status=\"401\"",
         offsetof(rc_edge_counters_t, auth_401)},
        {NULL, NULL, NULL, "status=\"403\"", offsetof(rc_edge_counters_t, auth_403)},
        {"ringcast_limited_total", "counter", "requests answered 429 by a per-IP limit", "limit=\"streams_per_ip\"",
         offsetof(rc_edge_counters_t, limited_streams)},
        {NULL, NULL, NULL, "limit=\"publish_rate\"", offsetof(rc_edge_counters_t, limited_publish)},
        {"ringcast_stalled_closed_total", "counter", "streams closed by edge.send_timeout", "protocol=\"http1\"",
         offsetof(rc_edge_counters_t, stalled_h1)},
        {NULL, NULL, NULL, "protocol=\"h2\"", offsetof(rc_edge_counters_t, stalled_h2)},
    };
    h2o_iovec_t body = h2o_iovec_init(NULL, 0);
    char line[512];
    int k, admin = rc_access_admin(req);
    for (size_t r = 0; r < RC_ARRAY_SIZE(rows); r++) {
        const char *name = rows[r].name;
        for (size_t b = r; name == NULL; b--)
            name = rows[b].name;
        if (rows[r].name != NULL) {
            k = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, rows[r].help, name, rows[r].type);
            body = h2o_concat(&req->pool, body, h2o_iovec_init(line, (size_t)k));
        }
        for (size_t s = 0; s < W.n_streams; s++) {
            if (!shown(&W.streams[s], admin))
                continue;
            k = snprintf(line, sizeof(line), "%s{stream=\"%s\"%s%s} %" PRIu64 "\n", name, W.streams[s].conf->name,
                         rows[r].labels[0] ? "," : "", rows[r].labels, sum(s, rows[r].field));
            body = h2o_concat(&req->pool, body, h2o_iovec_init(line, (size_t)k));
        }
    }
    /* The rings' own figures, as this worker sees them. */
    uint64_t now = rc_now_mono_ns();
    h2o_iovec_t rec = h2o_iovec_init(H2O_STRLIT("# HELP ringcast_ring_records records kept in the stream's ring\n"
                                                "# TYPE ringcast_ring_records gauge\n"));
    h2o_iovec_t up = h2o_iovec_init(H2O_STRLIT("# HELP ringcast_bridge_up 1 if the stream's bridge streams with a "
                                               "fresh heartbeat\n# TYPE ringcast_bridge_up gauge\n"));
    h2o_iovec_t skip = h2o_iovec_init(
        H2O_STRLIT("# HELP ringcast_ring_skipped_total Kafka records the bridge did not store, each announced as "
                   "event: skipped\n# TYPE ringcast_ring_skipped_total counter\n"));
    h2o_iovec_t nolane = h2o_iovec_init(
        H2O_STRLIT("# HELP ringcast_partitions_unread partitions of the stream's topics without a lane in its ring "
                   "(ring.max_partitions reached)\n# TYPE ringcast_partitions_unread gauge\n"));
    for (size_t s = 0; s < W.n_streams; s++) {
        stream_t *st = &W.streams[s];
        if (!shown(st, admin))
            continue;
        rc_cursor_t head = {0, 0}, old = {0, 0};
        int is_up;
        uint64_t skipped[3] = {0, 0, 0}, unread = 0;
        static const rc_ring_counter_t skip_ctr[3] = {RC_CTR_SKIP_TOO_LARGE, RC_CTR_SKIP_NOT_UTF8, RC_CTR_SKIP_EVENT};
        static const char *const skip_reason[3] = {"too_large", "not_utf8", "event_too_long"};
        if (st->ring != NULL) {
            rc_ring_head(st->ring, &head);
            if (rc_ring_oldest(st->ring, &old) != 0)
                old = head;
            for (int i = 0; i < 3; i++)
                skipped[i] = rc_ring_counter(st->ring, skip_ctr[i]);
        }
        ring_health_t h;
        ring_health(st, now, &h);
        is_up = h.up;
        unread = h.unread;
        const char *nm = st->conf->name;
        k = snprintf(line, sizeof(line), "ringcast_ring_records{stream=\"%s\"} %" PRIu64 "\n", nm, head.seq - old.seq);
        rec = h2o_concat(&req->pool, rec, h2o_iovec_init(line, (size_t)k));
        k = snprintf(line, sizeof(line), "ringcast_bridge_up{stream=\"%s\"} %d\n", nm, is_up);
        up = h2o_concat(&req->pool, up, h2o_iovec_init(line, (size_t)k));
        for (int i = 0; i < 3; i++) {
            k = snprintf(line, sizeof(line), "ringcast_ring_skipped_total{stream=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                         nm, skip_reason[i], skipped[i]);
            skip = h2o_concat(&req->pool, skip, h2o_iovec_init(line, (size_t)k));
        }
        k = snprintf(line, sizeof(line), "ringcast_partitions_unread{stream=\"%s\"} %" PRIu64 "\n", nm, unread);
        nolane = h2o_concat(&req->pool, nolane, h2o_iovec_init(line, (size_t)k));
    }
    body = h2o_concat(&req->pool, body, rec, up, skip, nolane, rc_access_metrics(&req->pool));
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4"));
    h2o_send_inline(req, body.base, body.len);
    return 0;
}

/*
 * POST /streams/{name}: publishing into Kafka from HTTP.
 *
 * Each worker has one librdkafka producer (acks=all). A POST becomes one Kafka record on the
 * stream's first topic: the body is the value, ?key= the key, ?event= the header the stream's
 * event_header names. The answer waits for Kafka's acknowledgement: 201 with
 * {"topic","partition","offset"}, or 503 when Kafka could not take it within
 * edge.publish_timeout. The event then reaches every subscriber through the bridge, in Kafka's
 * order, like any other record.
 *
 * The producer's delivery reports are served in the worker's event loop: librdkafka signals an
 * eventfd the loop watches. A client that hangs up before the report only loses its answer.
 */
#include "publish.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "query.h"
#include "sse.h"
#include "util.h"

typedef struct st_pending_t {
    h2o_req_t *req;                 /* NULL once the client went away */
    struct st_pending_t **req_slot; /* in req's pool: cleared when the report comes first */
    const char *topic;
    rc_edge_counters_t *ctr;
} pending_t;

struct st_rc_publisher_t {
    const rc_config_t *cfg;
    h2o_loop_t *loop;
    rd_kafka_t *rk;
    int efd;
    h2o_socket_t *efd_sock;
    char bootstrap[1024]; /* what rk was made with */
};

static void answer(h2o_req_t *req, int status, const char *reason, const char *type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_send_inline(req, body, len);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    pending_t *pd = m->_private;
    if (m->err)
        RC_EDGE_COUNT(pd->ctr, pub_failed, 1);
    else
        RC_EDGE_COUNT(pd->ctr, pub_ok, 1);
    if (pd->req != NULL) {
        h2o_req_t *req = pd->req;
        *pd->req_slot = NULL; /* the request's dispose callback must not touch pd once it is freed */
        char body[512];
        int n;
        if (m->err) {
            n = snprintf(body, sizeof(body), "Kafka did not take the event: %s\n", rd_kafka_err2str(m->err));
            answer(req, 503, "Service Unavailable", "text/plain; charset=utf-8", body, (size_t)n);
        } else {
            n = snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}\n",
                         pd->topic, m->partition, m->offset);
            answer(req, 201, "Created", "application/json", body, (size_t)n);
        }
        pd->req = NULL;
    }
    free(pd);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    rc_log_level_t l = level <= 3 ? RC_LOG_ERROR : level == 4 ? RC_LOG_WARN : level <= 6 ? RC_LOG_INFO : RC_LOG_DEBUG;
    if (rc_log_enabled(l))
        rc_log(l, "rdkafka", "%s: %s", fac, buf);
}

/* Broker trouble is logged by librdkafka already (once per change, with repeats suppressed);
 * requests in flight fail with 503 after edge.publish_timeout. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)opaque;
    rc_debug("publish", "%s: %s", rd_kafka_err2name(err), reason);
}

static void on_req_dispose(void *arg)
{
    pending_t **slot = arg;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static void on_kafka_event(h2o_socket_t *sock, const char *err)
{
    rc_publisher_t *p = sock->data;
    (void)err;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (p->rk != NULL)
        rd_kafka_poll(p->rk, 0); /* delivery reports and errors, here in the loop */
}

/* The bootstrap list: the configured brokers, or the mock cluster's that the bridge wrote. */
static int bootstrap_of(const rc_config_t *cfg, char *out, size_t len)
{
    if (strcmp(cfg->kafka.brokers, "mock") != 0) {
        snprintf(out, len, "%s", cfg->kafka.brokers);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/kafka-bootstrap", cfg->ring.dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0] ? 0 : -1;
}

static void drop_producer(rc_publisher_t *p)
{
    if (p->rk == NULL)
        return;
    /* Whatever is still queued fails now, with a 503, instead of blocking the loop in destroy. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

static int make_producer(rc_publisher_t *p, const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512], timeout[32];
    snprintf(timeout, sizeof(timeout), "%" PRIu64, p->cfg->edge.publish_timeout_ms);
    const char *props[][2] = {
        {"bootstrap.servers", bootstrap}, {"acks", "all"},   {"linger.ms", "1"}, {"message.timeout.ms", timeout},
        {"client.id", "ringcast-edge"},   {"log_level", "4"}};
    for (size_t i = 0; i < RC_ARRAY_SIZE(props); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            goto fail;
    for (size_t i = 0; i < p->cfg->kafka.n_properties; i++) {
        const rc_kv_t *kv = &p->cfg->kafka.properties[i];
        /* Shared with the bridge's consumer: consumer-only settings do not apply here. */
        if (rd_kafka_conf_set(conf, kv->key, kv->value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
            rc_debug("publish", "kafka property %s not used by the producer: %s", kv->key, err);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (p->rk == NULL)
        goto fail;
    static const uint64_t one = 1;
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, p->efd, &one, sizeof(one));
    rd_kafka_queue_destroy(q);
    snprintf(p->bootstrap, sizeof(p->bootstrap), "%s", bootstrap);
    return 0;
fail:
    rc_error("publish", "producer: %s", err);
    if (p->rk == NULL)
        rd_kafka_conf_destroy(conf);
    return -1;
}

void rc_publisher_check(rc_publisher_t *p)
{
    char boot[1024];
    if (bootstrap_of(p->cfg, boot, sizeof(boot)) != 0)
        return;
    if (p->rk != NULL && strcmp(boot, p->bootstrap) == 0)
        return;
    if (p->rk != NULL)
        rc_info("publish", "Kafka bootstrap changed to %s; new producer", boot);
    drop_producer(p);
    make_producer(p, boot);
}

rc_publisher_t *rc_publisher_new(const rc_config_t *cfg, h2o_loop_t *loop)
{
    rc_publisher_t *p = rc_calloc(1, sizeof(*p));
    p->cfg = cfg;
    p->loop = loop;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->efd_sock = h2o_evloop_socket_create(loop, p->efd, 0);
    p->efd_sock->data = p;
    h2o_socket_read_start(p->efd_sock, on_kafka_event);
    rc_publisher_check(p);
    return p;
}

void rc_publisher_free(rc_publisher_t *p)
{
    if (p == NULL)
        return;
    drop_producer(p);
    h2o_socket_close(p->efd_sock);
    free(p);
}

/* A POST refused before Kafka sees it: 4xx with the reason, counted as rejected. */
static int refuse(h2o_req_t *req, rc_edge_counters_t *ctr, int status, const char *reason, const char *msg)
{
    RC_EDGE_COUNT(ctr, pub_rejected, 1);
    answer(req, status, reason, "text/plain; charset=utf-8", msg, strlen(msg));
    return 0;
}

int rc_publisher_post(rc_publisher_t *p, h2o_req_t *req, const rc_stream_conf_t *conf, rc_edge_counters_t *ctr)
{
    if (req->entity.len > conf->max_publish_bytes) {
        char body[128];
        snprintf(body, sizeof(body), "event too large: at most %" PRIu64 " bytes\n", conf->max_publish_bytes);
        return refuse(req, ctr, 413, "Payload Too Large", body);
    }
    static rc_query_t q; /* scratch: the worker handles one request at a time, start to end */
    char err[128];
    const char *qs = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    if (rc_query_parse(qs, qlen, &q, err, sizeof(err) - 1) != 0)
        return refuse(req, ctr, 400, "Bad Request", strcat(err, "\n"));
    if (q.n_keys > 1 || q.n_events > 1 || q.n_partitions || q.limit || q.timeout_ms || q.has_last_id || q.has_since)
        return refuse(req, ctr, 400, "Bad Request", "bad query: a POST takes at most one key= and one event=\n");
    if (q.n_events && conf->event_header[0] == '\0')
        return refuse(req, ctr, 400, "Bad Request", "bad query: this stream has no event_header for event=\n");
    if (q.n_events && !rc_sse_event_ok(q.events[0], q.event_lens[0]))
        return refuse(req, ctr, 400, "Bad Request", "bad query: event must be UTF-8 without line breaks\n");
    if (conf->format == RC_FORMAT_RAW && !rc_utf8_valid((const uint8_t *)req->entity.base, req->entity.len))
        return refuse(req, ctr, 400, "Bad Request",
                      "the body must be UTF-8: this stream sends values as they are (format: raw)\n");
    if (p->rk == NULL) {
        static const char msg[] = "Kafka is not reachable (no bootstrap address yet: is the bridge running?)\n";
        RC_EDGE_COUNT(ctr, pub_failed, 1);
        answer(req, 503, "Service Unavailable", "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
        return 0;
    }
    pending_t *pd = rc_malloc(sizeof(*pd));
    pd->req = req;
    pd->ctr = ctr;
    pd->topic = conf->topics[0];
    pending_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_dispose);
    *slot = pd;
    pd->req_slot = slot;
    rd_kafka_headers_t *hdrs = NULL;
    if (q.n_events) {
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, conf->event_header, -1, q.events[0], (ssize_t)q.event_lens[0]);
    }
    rd_kafka_resp_err_t r = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(conf->topics[0]), RD_KAFKA_V_VALUE(req->entity.base, req->entity.len),
        RD_KAFKA_V_KEY(q.n_keys ? q.keys[0] : NULL, q.n_keys ? q.key_lens[0] : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(pd), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (hdrs != NULL)
            rd_kafka_headers_destroy(hdrs); /* producev owns them only on success */
        *slot = NULL;
        free(pd);
        RC_EDGE_COUNT(ctr, pub_failed, 1);
        char body[256];
        int n = snprintf(body, sizeof(body), "Kafka did not take the event: %s\n", rd_kafka_err2str(r));
        answer(req, 503, "Service Unavailable", "text/plain; charset=utf-8", body, (size_t)n);
    }
    return 0;
}

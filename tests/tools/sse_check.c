/*
 * sse_check: many SSE clients that prove exactness. It holds N event streams of ringcast-edge open
 * (HTTP/1.1, one process, epoll), produces numbered records into Kafka itself, and checks, per
 * stream, that every record arrived exactly once.
 *
 *   sse_check --url http://IP:PORT/streams/NAME[?QUERY] --conns N
 *             (--produce BOOTSTRAP | --bootstrap-file PATH) --topic T [--partitions P]
 *             [--rate R] [--count C] [--size BYTES] [--drain S] [--ready-file PATH]
 *             [--slow K --slow-bps B] [--csv FILE] [--max-reconnects N] [--split 1]
 *   sse_check --url ... --conns N --churn WAVES       open N streams, see them start, close them; repeat
 *
 * Records: record i goes to partition i % P and carries "p<partition> <seq> <ns> " (seq counts that
 * partition's records from 1, ns is the producer's CLOCK_MONOTONIC) padded with 'x' to --size
 * bytes. A stream must see, per partition, 1, 2, 3, ... with nothing missing or twice: a number
 * below the one expected is a repeat; one above it skips records, which is a loss unless the edge
 * announced exactly as many with `event: gap`. At the end (--drain seconds after the last record
 * was acknowledged by Kafka) every stream must have reached the last record of every partition.
 *
 * Clients behave like browsers: a stream that ends or breaks is reopened after the last `retry:`
 * the server sent (1 s before any), with `Last-Event-ID` set to the last id received. The producer
 * starts only once every stream answered; --ready-file is written once every stream has received
 * at least one record (every client then has an id to resume from), so a test injects its fault
 * after that. --slow K: the first K streams read only B bytes per second (with a small receive
 * buffer) while records are produced, then at full speed. --csv: one line per second (time, events,
 * latency percentiles of that second, streams open, reconnections). --split 1: stream k asks only
 * for partition k % P (?partition=) and is checked on that partition alone.
 *
 * The last line of stdout is the result, as key=value pairs a test reads:
 *   result clients=N produced=P delivered=D lost=L repeated=R incomplete=I reconnects=C gaps=G
 *          gap_missed=M resets=X non200=Y produce_failed=F p50_us=.. p99_us=.. max_us=..
 *          slow_gaps=.. slow_lost=.. slow_p50_us=.. ends=.. clean_ends=.. retry_ends=.. cut_ends=..
 * (ends: streams that ended or broke after they had started; clean_ends: ended by the server's last
 * chunk; retry_ends: whose last field was a retry: hint; cut_ends: ended inside an event)
 * and the exit status is 0 only if nothing was lost, repeated, incomplete or reset, and no stream
 * reconnected more often than --max-reconnects (default: any number).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define MAX_PARTS      64   /* partitions a checked topic may have */
#define LINE_MAX_BYTES 1024 /* SSE lines kept whole: ids of a few dozen partitions, the data's head */
#define HIST_BUCKETS   1024 /* log-linear latency histogram: 16 buckets per power of two */
#define DEFAULT_RETRY  1000 /* ms before reopening a stream when the server gave no retry: */

enum { C_IDLE, C_CONNECTING, C_HEADERS, C_BODY };

typedef struct {
    int fd, state, slow;
    int part;              /* --split: the one partition this stream asks for (partition=); -1: all of them */
    uint64_t reopen_at_ms; /* C_IDLE: when to open the stream again */
    /* HTTP/1.1 response parsing */
    int chunked;
    int64_t chunk_left; /* bytes of the current chunk still to come; -1 while reading a size line */
    char hdr[2048];
    size_t hdr_len;
    /* SSE parsing: the current line and the fields of the event being built */
    char line[LINE_MAX_BYTES];
    size_t line_len;
    char ev_type[32], ev_id[LINE_MAX_BYTES], ev_data[128];
    int has_id, has_data;
    /* what the client knows */
    char last_id[LINE_MAX_BYTES];
    uint64_t retry_ms;
    uint32_t next[MAX_PARTS]; /* per partition: the seq expected next */
    uint64_t events, repeated, skipped, gap_missed, gaps, resets, reconnects, non200;
    int got_one;
    int retry_last; /* the last field seen was a retry: (what a draining edge ends a stream with) */
} conn_t;

typedef struct {
    uint64_t n[HIST_BUCKETS], count;
} hist_t;

static conn_t *cs;
static long n_conns;
static int ep;
static struct sockaddr_in addr;
static char req_path[1024], host[64];
static int parts = 1;
static int split;
static uint64_t slow_bps;
static int slow_phase; /* slow clients read slowly while records are produced */
static hist_t h_all, h_slow, h_sec;
static uint64_t produced[MAX_PARTS], produce_failed, delivered_ok;
static uint64_t events_sec, reconnects_total;
/* How streams that had started ended: by the server's last chunk, after a final retry: hint, or
 * in the middle of an event (a line or an event not finished: a frame cut). */
static uint64_t ends, clean_ends, retry_ends, cut_ends;

static uint64_t now_ms(void)
{
    return rc_now_mono_ns() / 1000000u;
}

/* --- latency histogram ----------------------------------------------------------------------- */

static void hist_add(hist_t *h, uint64_t us)
{
    size_t i;
    if (us < 16) {
        i = (size_t)us;
    } else {
        int e = 63 - __builtin_clzll(us); /* >= 4 */
        i = 16 + (size_t)(e - 4) * 16 + ((us >> (e - 4)) & 15);
    }
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    h->n[i]++;
    h->count++;
}

/* The value at quantile q (0..1): the lower bound of its bucket, in microseconds. */
static uint64_t hist_q(const hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)((double)(h->count - 1) * q) + 1, seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want) {
            if (i < 16)
                return i;
            size_t e = (i - 16) / 16 + 4, m = (i - 16) % 16;
            return ((uint64_t)(16 + m)) << (e - 4);
        }
    }
    return 0;
}

/* --- one stream ------------------------------------------------------------------------------ */

static void conn_close(conn_t *c, int reopen);

static void on_event(conn_t *c)
{
    if (c->has_id || c->has_data || c->ev_type[0])
        c->retry_last = 0;
    if (c->has_id) /* the SSE "last event ID buffer" */
        memcpy(c->last_id, c->ev_id, sizeof(c->last_id));
    if (strcmp(c->ev_type, "gap") == 0) {
        const char *m = strstr(c->ev_data, "\"missed\":");
        c->gaps++;
        if (m != NULL)
            c->gap_missed += strtoull(m + 9, NULL, 10);
    } else if (strcmp(c->ev_type, "reset") == 0) {
        c->resets++;
    } else if (c->has_data && c->ev_data[0] == 'p') {
        char *end;
        long p = strtol(c->ev_data + 1, &end, 10);
        uint32_t seq = (uint32_t)strtoul(end, &end, 10);
        uint64_t ns = strtoull(end, NULL, 10), now = rc_now_mono_ns();
        if (p >= 0 && p < parts) {
            c->events++;
            events_sec++;
            c->got_one = 1;
            if (seq < c->next[p]) {
                c->repeated++;
            } else {
                c->skipped += seq - c->next[p];
                c->next[p] = seq + 1;
            }
            uint64_t us = now > ns ? (now - ns) / 1000 : 0;
            hist_add(c->slow ? &h_slow : &h_all, us);
            if (!c->slow)
                hist_add(&h_sec, us);
        }
    }
    c->ev_type[0] = c->ev_data[0] = '\0';
    c->has_id = c->has_data = 0;
}

static void on_line(conn_t *c)
{
    char *l = c->line;
    l[c->line_len] = '\0';
    if (c->line_len == 0) {
        on_event(c);
        return;
    }
    if (l[0] == ':')
        return; /* a heartbeat comment */
    char *v = strchr(l, ':');
    if (v == NULL)
        return;
    *v++ = '\0';
    if (*v == ' ')
        v++;
    if (strcmp(l, "data") == 0) {
        if (!c->has_data)
            snprintf(c->ev_data, sizeof(c->ev_data), "%s", v);
        c->has_data = 1;
    } else if (strcmp(l, "event") == 0) {
        snprintf(c->ev_type, sizeof(c->ev_type), "%s", v);
    } else if (strcmp(l, "id") == 0) {
        snprintf(c->ev_id, sizeof(c->ev_id), "%s", v);
        c->has_id = 1;
    } else if (strcmp(l, "retry") == 0) {
        c->retry_ms = strtoull(v, NULL, 10);
        c->retry_last = 1;
    }
}

static void feed_sse(conn_t *c, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n, room = sizeof(c->line) - 1 - c->line_len;
        /* Only the head of a long line matters (the data's numbers); ids are shorter. */
        memcpy(c->line + c->line_len, p, take < room ? take : room);
        c->line_len += take < room ? take : room;
        if (nl == NULL)
            return;
        on_line(c);
        c->line_len = 0;
        p = nl + 1;
        n -= take + 1;
    }
}

/* Body bytes: undoes chunked transfer encoding (h2o uses it for event streams over HTTP/1.1).
 * Returns 1 when the last chunk came (the server ended the stream). */
static int feed_body(conn_t *c, const char *p, size_t n)
{
    if (!c->chunked) {
        feed_sse(c, p, n);
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        if (c->chunk_left < 0) { /* a size line, hex, up to LF; also the CRLF after each chunk */
            char ch = p[i++];
            if (ch == '\n') {
                c->hdr[c->hdr_len] = '\0';
                if (c->hdr_len > 0 && c->hdr[0] != '\r') {
                    c->chunk_left = strtoll(c->hdr, NULL, 16);
                    if (c->chunk_left == 0) {
                        clean_ends++;
                        return 1;
                    }
                }
                c->hdr_len = 0;
            } else if (c->hdr_len < sizeof(c->hdr) - 1) {
                c->hdr[c->hdr_len++] = ch;
            }
            continue;
        }
        size_t take = n - i < (size_t)c->chunk_left ? n - i : (size_t)c->chunk_left;
        feed_sse(c, p + i, take);
        i += take;
        c->chunk_left -= (int64_t)take;
        if (c->chunk_left == 0)
            c->chunk_left = -1;
    }
    return 0;
}

/* Returns 1 when the stream ended or must be dropped (a status other than 200). */
static int feed(conn_t *c, const char *p, size_t n)
{
    if (c->state == C_BODY)
        return feed_body(c, p, n);
    size_t take = n < sizeof(c->hdr) - 1 - c->hdr_len ? n : sizeof(c->hdr) - 1 - c->hdr_len;
    memcpy(c->hdr + c->hdr_len, p, take);
    c->hdr_len += take;
    c->hdr[c->hdr_len] = '\0';
    char *end = strstr(c->hdr, "\r\n\r\n");
    if (end == NULL)
        return c->hdr_len >= sizeof(c->hdr) - 1;
    if (strncmp(c->hdr, "HTTP/1.1 200", 12) != 0) {
        c->non200++;
        return 1;
    }
    c->chunked = strcasestr(c->hdr, "transfer-encoding: chunked") != NULL;
    c->state = C_BODY;
    size_t used = (size_t)(end + 4 - c->hdr) - (c->hdr_len - take);
    c->hdr_len = 0;
    c->chunk_left = -1;
    return used < n ? feed_body(c, p + used, n - used) : 0;
}

static void conn_open(conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "sse_check: socket: %s\n", strerror(errno));
        exit(1);
    }
    if (c->slow && slow_phase) {
        int small = 2048; /* so that the edge, not this socket, holds what the client has not read */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    c->state = C_CONNECTING;
    c->hdr_len = 0;
    c->line_len = 0;
    c->ev_type[0] = c->ev_data[0] = '\0';
    c->has_id = c->has_data = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
        conn_close(c, 1);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_close(conn_t *c, int reopen)
{
    if (c->state == C_BODY && reopen) {
        ends++;
        retry_ends += c->retry_last;
        cut_ends += c->line_len > 0 || c->has_id || c->has_data || c->ev_type[0];
    }
    c->retry_last = 0;
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_IDLE;
    if (reopen) {
        c->reconnects++;
        reconnects_total++;
        c->reopen_at_ms = now_ms() + (c->retry_ms ? c->retry_ms : DEFAULT_RETRY);
    } else {
        c->reopen_at_ms = UINT64_MAX;
    }
}

/* Connected: sends the request, with Last-Event-ID when the stream had one. */
static void on_connected(conn_t *c)
{
    int e = 0;
    socklen_t el = sizeof(e);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
    char req[2048], filter[32] = "";
    if (c->part >= 0)
        snprintf(filter, sizeof(filter), "%spartition=%d", strchr(req_path, '?') ? "&" : "?", c->part);
    int n =
        snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s%s%s\r\n", req_path,
                 filter, host, c->last_id[0] ? "Last-Event-ID: " : "", c->last_id, c->last_id[0] ? "\r\n" : "");
    if (e != 0 || write(c->fd, req, (size_t)n) != n) {
        conn_close(c, 1);
        return;
    }
    c->state = C_HEADERS;
    /* A slow client is read by the clock (read_slow), not when data is there. */
    struct epoll_event ev = {.events = c->slow && slow_phase ? 0 : EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads what the socket has, at most max bytes; handles the end of the stream. */
static void conn_read(conn_t *c, size_t max)
{
    static char buf[1 << 16];
    while (max > 0) {
        ssize_t r = read(c->fd, buf, max < sizeof(buf) ? max : sizeof(buf));
        if (r > 0) {
            max -= (size_t)r;
            if (feed(c, buf, (size_t)r)) {
                conn_close(c, 1);
                return;
            }
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c, 1); /* EOF or a reset: reopen like a browser */
        return;
    }
}

static void poll_once(int ms)
{
    struct epoll_event evs[1024];
    int n = epoll_wait(ep, evs, 1024, ms);
    for (int k = 0; k < n; k++) {
        conn_t *c = evs[k].data.ptr;
        if (c->state == C_CONNECTING)
            on_connected(c);
        else if (c->fd >= 0)
            conn_read(c, SIZE_MAX);
    }
}

/* Reopens streams whose retry time came, and feeds the slow clients their ration. */
static void tick(uint64_t *last_slow)
{
    uint64_t now = now_ms();
    for (long i = 0; i < n_conns; i++)
        if (cs[i].state == C_IDLE && cs[i].reopen_at_ms <= now)
            conn_open(&cs[i]);
    if (slow_phase && now - *last_slow >= 100) {
        size_t ration = (size_t)(slow_bps * (now - *last_slow) / 1000);
        *last_slow = now;
        for (long i = 0; i < n_conns; i++)
            if (cs[i].slow && cs[i].fd >= 0 && cs[i].state != C_CONNECTING)
                conn_read(&cs[i], ration ? ration : 1);
    }
}

static void end_slow_phase(void)
{
    slow_phase = 0;
    for (long i = 0; i < n_conns; i++) {
        conn_t *c = &cs[i];
        if (c->slow && c->fd >= 0 && c->state != C_CONNECTING) {
            /* Full speed means a full-size window: through the 2 KiB buffer, what the edge holds
             * would trickle in a few KiB per delayed ACK, and how long that takes would depend on
             * the kernel's TCP settings rather than on the edge. */
            int big = 1 << 20;
            setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
}

/* --- the producer ------------------------------------------------------------------------------ */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        produce_failed++;
        fprintf(stderr, "sse_check: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered_ok++;
    }
}

static rd_kafka_t *producer_new(const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Idempotent, never timing out: a broker that goes away and comes back must not make the
     * producer lose or duplicate a record, or the check would blame the stream for it. */
    static const char *const kv[][2] = {{"linger.ms", "1"},
                                        {"log_level", "3"},
                                        {"enable.idempotence", "true"},
                                        {"message.timeout.ms", "0"},
                                        {"queue.buffering.max.messages", "1000000"}};
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "sse_check: %s\n", err);
        exit(2);
    }
    for (size_t i = 0; i < RC_ARRAY_SIZE(kv); i++)
        rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "sse_check: producer: %s\n", err);
        exit(2);
    }
    return rk;
}

static void produce_one(rd_kafka_t *rk, const char *topic, uint64_t i, size_t size)
{
    static char v[1 << 16];
    int p = (int)(i % (uint64_t)parts);
    int n = snprintf(v, sizeof(v), "p%d %" PRIu64 " %" PRIu64 " ", p, produced[p] + 1, rc_now_mono_ns());
    size_t len = size > (size_t)n ? size : (size_t)n;
    if (len > sizeof(v))
        len = sizeof(v);
    memset(v + n, 'x', len - (size_t)n);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE(v, len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 10);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "sse_check: produce: %s\n", rd_kafka_err2str(e));
        exit(2);
    }
    produced[p]++;
}

/* --- churn: open many streams, see each start, close them all; again ------------------------ */

static int churn(int waves)
{
    uint64_t ok_total = 0, failed_total = 0;
    for (int w = 1; w <= waves; w++) {
        uint64_t t0 = now_ms();
        for (long i = 0; i < n_conns; i++) {
            memset(&cs[i], 0, sizeof(cs[i]));
            cs[i].part = -1;
            conn_open(&cs[i]);
            if (i % 256 == 255)
                poll_once(0); /* let the edge's accept queue drain */
        }
        /* Started: the status line and the first body bytes (the retry hint) arrived. */
        long started = 0, gone = 0;
        while (started + gone < n_conns && now_ms() - t0 < 60000) {
            poll_once(10);
            started = gone = 0;
            for (long i = 0; i < n_conns; i++) {
                started += cs[i].state == C_BODY;
                gone += cs[i].state == C_IDLE;
            }
        }
        /* Half leave with a FIN, half with a RST (as a killed browser or a NAT timeout would). */
        for (long i = 0; i < n_conns; i++) {
            if (cs[i].fd < 0)
                continue;
            if (i % 2) {
                struct linger lg = {1, 0};
                setsockopt(cs[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            conn_close(&cs[i], 0);
        }
        printf("wave %d: %ld streams started, %ld failed, in %" PRIu64 " ms\n", w, started, n_conns - started,
               now_ms() - t0);
        fflush(stdout);
        ok_total += (uint64_t)started;
        failed_total += (uint64_t)(n_conns - started);
    }
    printf("result churn_waves=%d conns_per_wave=%ld started=%" PRIu64 " failed=%" PRIu64 "\n", waves, n_conns,
           ok_total, failed_total);
    return failed_total == 0 ? 0 : 1;
}

/* --- main -------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *url = NULL, *bootstrap = NULL, *bootstrap_file = NULL, *topic = NULL, *ready_file = NULL,
               *csv_path = NULL;
    long rate = 1000, count = 0, size = 0, slow = 0, waves = 0, max_reconnects = -1;
    double drain = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0)
            url = v;
        else if (strcmp(k, "--conns") == 0)
            n_conns = atol(v);
        else if (strcmp(k, "--produce") == 0)
            bootstrap = v;
        else if (strcmp(k, "--bootstrap-file") == 0)
            bootstrap_file = v;
        else if (strcmp(k, "--topic") == 0)
            topic = v;
        else if (strcmp(k, "--partitions") == 0)
            parts = atoi(v);
        else if (strcmp(k, "--rate") == 0)
            rate = atol(v);
        else if (strcmp(k, "--count") == 0)
            count = atol(v);
        else if (strcmp(k, "--size") == 0)
            size = atol(v);
        else if (strcmp(k, "--drain") == 0)
            drain = atof(v);
        else if (strcmp(k, "--ready-file") == 0)
            ready_file = v;
        else if (strcmp(k, "--slow") == 0)
            slow = atol(v);
        else if (strcmp(k, "--slow-bps") == 0)
            slow_bps = strtoull(v, NULL, 10);
        else if (strcmp(k, "--csv") == 0)
            csv_path = v;
        else if (strcmp(k, "--churn") == 0)
            waves = atol(v);
        else if (strcmp(k, "--max-reconnects") == 0)
            max_reconnects = atol(v);
        else if (strcmp(k, "--split") == 0)
            split = atoi(v);
        else {
            fprintf(stderr, "sse_check: unknown option %s\n", k);
            return 2;
        }
    }
    int port;
    if (url == NULL || sscanf(url, "http://%63[0-9.]:%d%1023s", host, &port, req_path) != 3 || n_conns <= 0 ||
        parts < 1 || parts > MAX_PARTS || (waves == 0 && (topic == NULL || (!bootstrap == !bootstrap_file)))) {
        fprintf(stderr, "usage: sse_check --url http://IP:PORT/streams/NAME --conns N (--produce BOOTSTRAP | "
                        "--bootstrap-file PATH) --topic T [--partitions P] [--rate R] [--count C] ...\n"
                        "       sse_check --url ... --conns N --churn WAVES\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    ep = epoll_create1(EPOLL_CLOEXEC);
    cs = rc_calloc((size_t)n_conns, sizeof(*cs));
    if (waves > 0)
        return churn((int)waves);

    char boot[1024];
    if (bootstrap_file != NULL) {
        FILE *f = fopen(bootstrap_file, "r");
        if (f == NULL || fgets(boot, sizeof(boot), f) == NULL) {
            fprintf(stderr, "sse_check: %s: cannot read\n", bootstrap_file);
            return 2;
        }
        fclose(f);
        boot[strcspn(boot, "\r\n")] = '\0';
        bootstrap = boot;
    }
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv != NULL)
        fprintf(csv, "epoch,seconds,events,p50_us,p99_us,max_us,streams_open,reconnects\n");

    slow_phase = slow > 0;
    for (long i = 0; i < n_conns; i++) {
        cs[i].fd = -1;
        cs[i].slow = i < slow;
        cs[i].part = split ? (int)(i % parts) : -1;
        for (int p = 0; p < MAX_PARTS; p++)
            cs[i].next[p] = 1;
        conn_open(&cs[i]);
        if (i % 256 == 255)
            poll_once(0);
    }
    uint64_t t_start = now_ms(), last_slow = t_start;
    long answered = 0;
    while (answered < n_conns && now_ms() - t_start < 60000) {
        poll_once(10);
        tick(&last_slow);
        answered = 0;
        for (long i = 0; i < n_conns; i++)
            answered += cs[i].state == C_BODY;
    }
    printf("streams open: %ld of %ld in %" PRIu64 " ms\n", answered, n_conns, now_ms() - t_start);
    fflush(stdout);

    rd_kafka_t *rk = producer_new(bootstrap);
    /* The producer's first record would wait for its metadata: fetch it before the clock starts. */
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    uint64_t t0 = now_ms(), last_sec = t0, i = 0;
    int ready = 0;
    if (count == 0)
        count = rate * 10;
    /* Produce count records at rate per second, reading the streams meanwhile. */
    while (i < (uint64_t)count) {
        uint64_t due = (now_ms() - t0) * (uint64_t)rate / 1000;
        for (; i < due && i < (uint64_t)count; i++)
            produce_one(rk, topic, i, (size_t)size);
        rd_kafka_poll(rk, 0);
        poll_once(1);
        tick(&last_slow);
        if (!ready && ready_file != NULL) {
            long have = 0;
            for (long k = 0; k < n_conns; k++)
                have += cs[k].got_one;
            if (have == n_conns) {
                FILE *f = fopen(ready_file, "w");
                if (f)
                    fclose(f);
                ready = 1;
                printf("every stream has records after %" PRIu64 " ms\n", now_ms() - t0);
                fflush(stdout);
            }
        }
        uint64_t now = now_ms();
        if (now - last_sec >= 1000) {
            if (csv != NULL) {
                long open = 0;
                for (long k = 0; k < n_conns; k++)
                    open += cs[k].state == C_BODY;
                fprintf(csv, "%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%ld,%" PRIu64 "\n",
                        rc_now_real_ms() / 1000, (double)(now - t0) / 1000, events_sec, hist_q(&h_sec, 0.5),
                        hist_q(&h_sec, 0.99), hist_q(&h_sec, 1.0), open, reconnects_total);
                fflush(csv);
            }
            memset(&h_sec, 0, sizeof(h_sec));
            events_sec = 0;
            last_sec = now;
        }
    }
    printf("produced %" PRIu64 " records in %" PRIu64 " ms\n", i, now_ms() - t0);
    fflush(stdout);
    /* Every record acknowledged by Kafka (a broker that is down is waited for), then the streams
     * have --drain seconds to deliver the last of them. */
    uint64_t t_flush = now_ms();
    while (delivered_ok + produce_failed < i && rd_kafka_outq_len(rk) > 0) {
        rd_kafka_poll(rk, 0);
        poll_once(5);
        tick(&last_slow);
    }
    end_slow_phase();
    uint64_t deadline = now_ms() + (uint64_t)(drain * 1000), complete = 0;
    printf("Kafka acknowledged every record after %" PRIu64 " ms more; draining\n", now_ms() - t_flush);
    fflush(stdout);
    while (now_ms() < deadline) {
        poll_once(10);
        tick(&last_slow);
        complete = 0;
        for (long k = 0; k < n_conns; k++) {
            int done = 1;
            for (int p = 0; p < parts; p++)
                done &= cs[k].next[p] > produced[p] || (cs[k].part >= 0 && cs[k].part != p);
            complete += done;
        }
        if (complete == (uint64_t)n_conns)
            break;
    }

    uint64_t delivered = 0, lost = 0, repeated = 0, gaps = 0, gap_missed = 0, resets = 0, reconnects = 0, non200 = 0,
             incomplete = 0, slow_gaps = 0, slow_lost = 0, most_reconnects = 0;
    for (long k = 0; k < n_conns; k++) {
        conn_t *c = &cs[k];
        uint64_t tail = 0;
        for (int p = 0; p < parts; p++)
            if (c->part < 0 || c->part == p)
                tail += c->next[p] > produced[p] ? 0 : produced[p] + 1 - c->next[p];
        uint64_t unannounced = (c->skipped > c->gap_missed ? c->skipped - c->gap_missed : 0) + tail;
        if (c->gap_missed > c->skipped)
            fprintf(stderr, "sse_check: stream %ld: a gap announced %" PRIu64 " records, %" PRIu64 " were skipped\n", k,
                    c->gap_missed, c->skipped);
        delivered += c->events;
        lost += unannounced;
        repeated += c->repeated;
        gaps += c->gaps;
        gap_missed += c->gap_missed;
        resets += c->resets;
        reconnects += c->reconnects;
        non200 += c->non200;
        incomplete += tail > 0;
        if (c->reconnects > most_reconnects)
            most_reconnects = c->reconnects;
        if (c->slow) {
            slow_gaps += c->gaps > 0;
            slow_lost += unannounced;
        }
        if ((unannounced || c->repeated) && lost + repeated < 20)
            fprintf(stderr, "sse_check: stream %ld: %" PRIu64 " lost, %" PRIu64 " repeated, %" PRIu64 " events\n", k,
                    unannounced, c->repeated, c->events);
    }
    printf("result clients=%ld produced=%" PRIu64 " delivered=%" PRIu64 " lost=%" PRIu64 " repeated=%" PRIu64
           " incomplete=%" PRIu64 " reconnects=%" PRIu64 " gaps=%" PRIu64 " gap_missed=%" PRIu64 " resets=%" PRIu64
           " non200=%" PRIu64 " produce_failed=%" PRIu64 " p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
           " slow_clients=%ld slow_gaps=%" PRIu64 " slow_lost=%" PRIu64 " slow_p50_us=%" PRIu64 " ends=%" PRIu64
           " clean_ends=%" PRIu64 " retry_ends=%" PRIu64 " cut_ends=%" PRIu64 "\n",
           n_conns, i, delivered, lost, repeated, incomplete, reconnects, gaps, gap_missed, resets, non200,
           produce_failed, hist_q(&h_all, 0.5), hist_q(&h_all, 0.99), hist_q(&h_all, 1.0), slow, slow_gaps, slow_lost,
           hist_q(&h_slow, 0.5), ends, clean_ends, retry_ends, cut_ends);
    if (csv != NULL)
        fclose(csv);
    rd_kafka_destroy(rk);
    return lost || repeated || incomplete || resets || produce_failed ||
                   (max_reconnects >= 0 && most_reconnects > (uint64_t)max_reconnects)
               ? 1
               : 0;
}

/*
 * SSE fan-out benchmark client (HTTP/1.1): opens N event streams on ringcast-edge, optionally
 * produces timestamped records into Kafka at a fixed rate, and reports what the clients received.
 *
 *   sse_bench --url http://127.0.0.1:PORT/streams/NAME --conns N [--duration S]
 *             [--produce BOOTSTRAP --topic T --rate R] [--edge-pid PID]
 *
 * Each produced value starts with the producer's CLOCK_MONOTONIC in ns and its sequence number; a
 * client's latency is its receive time minus that (Kafka, bridge, ring, edge and socket: the whole
 * way). With --ring RING_FILE a watcher thread maps the ring read-only and registers with the
 * bridge's wake-up socket as an edge worker does: the time it sees each record appear is where
 * "bridge to client" latency starts (a watcher wakes within microseconds). With --edge-pid
 * (the edge master) it also reports the workers' CPU time over the measured span and their RSS
 * per open stream. One process, epoll; the connections are opened 500 at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"
#include "wake.h"

#define MAX_SAMPLES (20u << 20) /* latency samples kept; beyond, one in N */

typedef struct {
    int fd;
    int headers_done, chunked;
    int64_t chunk_left; /* bytes of the current chunk still to come; -1 while reading a size line */
    char line[96];      /* the start of the current SSE line: enough for "data: <ns>" */
    size_t line_len;
    int line_skip; /* the rest of a long line is not needed */
    char hdr[2048];
    size_t hdr_len;
} conn_t;

static uint64_t events, bad_status;
static uint32_t *samples, *ring_samples;
static uint64_t n_samples, n_ring_samples, sample_every = 1, sample_tick;
static int measuring;
static uint64_t *seen_ns; /* [produced seq] when the watcher saw the record in the ring */
static uint64_t max_seq;
static volatile int watcher_stop;

static uint64_t mono_ns(void)
{
    return rc_now_mono_ns();
}

static void on_line(conn_t *c)
{
    (void)c;
    if (c->line_len >= 6 && memcmp(c->line, "data: ", 6) == 0) {
        events += measuring;
        char *end;
        uint64_t sent = strtoull(c->line + 6, &end, 10);
        if (measuring && end != c->line + 6 && sent > 0 && ++sample_tick % sample_every == 0) {
            uint64_t now = mono_ns();
            uint64_t us = now > sent ? (now - sent) / 1000 : 0;
            if (n_samples < MAX_SAMPLES)
                samples[n_samples++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
            uint64_t seq = strtoull(end, NULL, 10);
            if (seen_ns != NULL && seq < max_seq) {
                uint64_t seen = __atomic_load_n(&seen_ns[seq], __ATOMIC_ACQUIRE);
                if (seen && n_ring_samples < MAX_SAMPLES)
                    ring_samples[n_ring_samples++] = (uint32_t)(now > seen ? (now - seen) / 1000 : 0);
            }
        }
    }
}

/* SSE bytes after transfer decoding. */
static void feed_sse(conn_t *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            on_line(c);
            c->line_len = 0;
            c->line_skip = 0;
        } else if (!c->line_skip) {
            if (c->line_len < sizeof(c->line) - 1)
                c->line[c->line_len++] = p[i];
            else
                c->line_skip = 1;
        }
    }
}

/* Body bytes: undo chunked transfer encoding (h2o uses it for event streams over HTTP/1.1). */
static void feed_body(conn_t *c, const char *p, size_t n)
{
    if (!c->chunked) {
        feed_sse(c, p, n);
        return;
    }
    size_t i = 0;
    while (i < n) {
        if (c->chunk_left < 0) { /* a size line, hex, up to CRLF; also the CRLF after each chunk */
            char ch = p[i++];
            if (ch == '\n') {
                c->hdr[c->hdr_len] = '\0';
                if (c->hdr_len > 0 && c->hdr[0] != '\r') {
                    c->chunk_left = strtoll(c->hdr, NULL, 16);
                    if (c->chunk_left == 0)
                        c->chunk_left = -1; /* the last chunk: the stream ended */
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
}

static void feed(conn_t *c, const char *p, size_t n)
{
    if (c->headers_done) {
        feed_body(c, p, n);
        return;
    }
    size_t take = n < sizeof(c->hdr) - 1 - c->hdr_len ? n : sizeof(c->hdr) - 1 - c->hdr_len;
    memcpy(c->hdr + c->hdr_len, p, take);
    c->hdr_len += take;
    c->hdr[c->hdr_len] = '\0';
    char *end = strstr(c->hdr, "\r\n\r\n");
    if (end == NULL)
        return;
    if (strncmp(c->hdr, "HTTP/1.1 200", 12) != 0)
        bad_status++;
    c->chunked = strcasestr(c->hdr, "transfer-encoding: chunked") != NULL;
    c->headers_done = 1;
    size_t used = (size_t)(end + 4 - c->hdr) - (c->hdr_len - take);
    c->hdr_len = 0;
    c->chunk_left = -1;
    if (used < n)
        feed_body(c, p + used, n - used);
}

/* Waits up to ms for readable streams and feeds what they have. */
static void poll_streams(int ep, int ms)
{
    static char buf[1 << 16];
    struct epoll_event evs[1024];
    int n = epoll_wait(ep, evs, 1024, ms);
    for (int k = 0; k < n; k++) {
        conn_t *c = evs[k].data.ptr;
        ssize_t r;
        while ((r = read(c->fd, buf, sizeof(buf))) > 0)
            feed(c, buf, (size_t)r);
    }
}

/* Watches the ring as an edge worker would: woken by the bridge through its eventfd, notes when
 * each produced record (by its sequence number) appears. */
static void *watch_ring(void *arg)
{
    const char *ring_path = arg;
    char sock_path[1100], err[256];
    snprintf(sock_path, sizeof(sock_path), "%.*s/bridge.sock", (int)(strrchr(ring_path, '/') - ring_path), ring_path);
    rc_ring_t *r;
    if (rc_ring_open_reader(&r, ring_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "sse_bench: %s\n", err);
        return NULL;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int sock = rc_wake_connect(sock_path, efd);
    if (sock < 0)
        fprintf(stderr, "sse_bench: %s: %s (the watcher polls instead)\n", sock_path, strerror(errno));
    rc_cursor_t cur;
    rc_ring_head(r, &cur);
    size_t cap = rc_ring_max_record(r) + (1u << 16);
    uint64_t *buf = rc_malloc(cap);
    while (!watcher_stop) {
        struct pollfd p = {.fd = efd, .events = POLLIN};
        poll(&p, 1, sock < 0 ? 1 : 100);
        uint64_t v;
        ssize_t rd = read(efd, &v, sizeof(v));
        (void)rd;
        for (;;) {
            size_t nb, off = 0;
            rc_read_t rr = rc_ring_read(r, &cur, buf, cap, &nb);
            if (rr == RC_READ_LAPPED) {
                rc_ring_oldest(r, &cur);
                continue;
            }
            if (rr != RC_READ_OK)
                break;
            uint64_t now = mono_ns();
            rc_record_t rec;
            while (rc_ring_next_record(buf, nb, &off, &rec)) {
                const char *d = memmem(rec.frame, rec.h.frame_len, "\ndata: ", 7);
                if (d == NULL)
                    continue;
                char *end;
                strtoull(d + 7, &end, 10);
                uint64_t seq = strtoull(end, NULL, 10);
                if (seq < max_seq)
                    __atomic_store_n(&seen_ns[seq], now, __ATOMIC_RELEASE);
            }
        }
    }
    free(buf);
    if (sock >= 0)
        close(sock);
    close(efd);
    rc_ring_close(r);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* CPU seconds and RSS bytes of the children of pid (the edge workers). */
static void workers_of(int pid, double *cpu, uint64_t *rss)
{
    *cpu = 0;
    *rss = 0;
    char path[128], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    int child;
    while (fscanf(f, "%d", &child) == 1) {
        snprintf(path, sizeof(path), "/proc/%d/stat", child);
        FILE *s = fopen(path, "r");
        if (s != NULL) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, s);
            buf[n] = '\0';
            fclose(s);
            char *p = strrchr(buf, ')');
            unsigned long ut = 0, st = 0;
            long rss_pages = 0;
            if (p &&
                sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
                       &ut, &st, &rss_pages) == 3) {
                *cpu += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
                *rss += (uint64_t)rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
            }
        }
    }
    fclose(f);
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *bootstrap = NULL, *topic = NULL, *ring_path = NULL;
    long conns = 100, rate = 0, edge_pid = 0;
    double duration = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--conns") == 0)
            conns = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--duration") == 0)
            duration = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--produce") == 0)
            bootstrap = argv[i + 1];
        else if (strcmp(argv[i], "--topic") == 0)
            topic = argv[i + 1];
        else if (strcmp(argv[i], "--rate") == 0)
            rate = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--edge-pid") == 0)
            edge_pid = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--ring") == 0)
            ring_path = argv[i + 1];
    }
    char host[64], path[1024];
    int port;
    if (url == NULL || sscanf(url, "http://%63[0-9.]:%d%1023s", host, &port, path) != 3 || conns <= 0) {
        fprintf(stderr, "usage: sse_bench --url http://IP:PORT/streams/NAME --conns N [--duration S] "
                        "[--produce BOOTSTRAP --topic T --rate R] [--edge-pid PID]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    samples = rc_malloc(MAX_SAMPLES * sizeof(*samples));
    ring_samples = rc_malloc(MAX_SAMPLES * sizeof(*ring_samples));
    pthread_t watcher;
    if (ring_path != NULL && rate > 0) {
        max_seq = (uint64_t)((double)rate * (duration + 5)) + 1000;
        seen_ns = rc_calloc(max_seq, sizeof(*seen_ns));
        pthread_create(&watcher, NULL, watch_ring, (void *)ring_path);
    }

    double cpu0;
    uint64_t rss0;
    if (edge_pid)
        workers_of((int)edge_pid, &cpu0, &rss0);
    int ep = epoll_create1(0);
    conn_t *cs = rc_calloc((size_t)conns, sizeof(*cs));
    char req[1200];
    int rlen =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, host);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    long opened = 0;
    for (long i = 0; i < conns; i++) {
        conn_t *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            write(c->fd, req, (size_t)rlen) != rlen) {
            fprintf(stderr, "sse_bench: connection %ld: %s\n", i, strerror(errno));
            return 1;
        }
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        opened++;
        if (i % 500 == 499) { /* let the edge's accept queue drain */
            poll_streams(ep, 20);
        }
    }
    /* Wait until every stream answered its headers. */
    uint64_t t_conn = mono_ns();
    long ready = 0;
    while (ready < opened && mono_ns() - t_conn < 30000000000ull) {
        poll_streams(ep, 100);
        ready = 0;
        for (long i = 0; i < opened; i++)
            ready += cs[i].headers_done;
    }
    sleep(1); /* let the workers settle before the idle memory is read */
    double cpu1;
    uint64_t rss1;
    if (edge_pid)
        workers_of((int)edge_pid, &cpu1, &rss1);

    rd_kafka_t *rk = NULL;
    if (bootstrap != NULL && topic != NULL && rate > 0) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        /* A producer's first record waits for its connection and metadata: send one and let it
         * reach the clients before measuring, so start-up is not counted as latency. */
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE("0 warm-up", 9),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_flush(rk, 10000);
        uint64_t until = mono_ns() + 1000000000ull;
        while (mono_ns() < until)
            poll_streams(ep, 10);
    }
    measuring = 1;
    double cpu_client0 = cpu_self();
    uint64_t t0 = mono_ns(), end = t0 + (uint64_t)(duration * 1e9), produced = 0;
    while (mono_ns() < end) {
        if (rk != NULL) {
            uint64_t due = (uint64_t)((double)(mono_ns() - t0) / 1e9 * (double)rate);
            for (; produced < due; produced++) {
                char v[100];
                int n = snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64 " ", mono_ns(), produced);
                memset(v + n, 'x', sizeof(v) - (size_t)n);
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, sizeof(v)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            }
            rd_kafka_poll(rk, 0);
        }
        poll_streams(ep, 1);
    }
    double secs = (double)(mono_ns() - t0) / 1e9, cpu_client = cpu_self() - cpu_client0;
    measuring = 0;
    double cpu2;
    uint64_t rss2;
    if (edge_pid)
        workers_of((int)edge_pid, &cpu2, &rss2);
    qsort(samples, n_samples, sizeof(*samples), cmp_u32);
    printf("streams %ld (ready %ld, non-200 %" PRIu64 "), produced %" PRIu64 " at %ld/s, delivered %" PRIu64
           " events in %.1f s = %.0f events/s\n",
           opened, ready, bad_status, produced, rate, events, secs, (double)events / secs);
    if (n_samples)
        printf("latency produce->client: p50 %u us, p99 %u us, max %u us (%" PRIu64 " samples)\n",
               samples[n_samples / 2], samples[n_samples * 99 / 100], samples[n_samples - 1], n_samples);
    if (n_ring_samples) {
        qsort(ring_samples, n_ring_samples, sizeof(*ring_samples), cmp_u32);
        printf("latency ring->client (bridge published, edge sent, client read): p50 %u us, p99 %u us, max %u us\n",
               ring_samples[n_ring_samples / 2], ring_samples[n_ring_samples * 99 / 100],
               ring_samples[n_ring_samples - 1]);
    }
    if (seen_ns != NULL) {
        watcher_stop = 1;
        pthread_join(watcher, NULL);
    }
    printf("bench client CPU: %.2f s (%.2f s per million events)\n", cpu_client,
           events ? cpu_client / ((double)events / 1e6) : 0);
    if (edge_pid) {
        printf("edge workers: RSS %.1f MiB idle before, %.1f MiB with %ld streams open = %.2f KiB per stream\n",
               (double)rss0 / 1048576, (double)rss1 / 1048576, ready, ready ? (double)(rss1 - rss0) / 1024 / ready : 0);
        printf("edge workers CPU while measuring: %.2f s = %.2f CPU-s per million delivered events\n", cpu2 - cpu1,
               events ? (cpu2 - cpu1) / ((double)events / 1e6) : 0);
    }
    if (rk != NULL)
        rd_kafka_destroy(rk);
    return 0;
}

/*
 * ringcast-bench: a load generator for Server-Sent Events servers (ringcast-edge, nginx + nchan, any
 * text/event-stream endpoint). One epoll loop per client process holds N streams over M connections:
 *
 *   HTTP/1.1   one stream per connection (response bodies chunked or until close);
 *   HTTP/2     N/M streams per connection through libnghttp2: h2c with prior knowledge on http://,
 *              h2 by ALPN on https://.
 *
 * Connections open at a ramp (connections per second). Events are parsed by the WHATWG rules (fields,
 * several data lines, CR / LF / CRLF line ends, comments, id / event / retry, a leading BOM). The
 * publisher (Kafka through librdkafka, or HTTP POST as nchan's publisher location wants) sends R
 * events/s of S bytes whose data starts with "<CLOCK_MONOTONIC ns> <seq> <publisher>"; a JSON
 * payload {"t":ns,"s":seq,"p":pub} or ringcast's JSON envelope around a text value is read too. Each
 * delivered event gives a latency sample (same host, same clock) into a log-bucket histogram of
 * 1/128 precision (HdrHistogram's idea), and its sequence number is checked per stream and
 * publisher: a jump is a gap, a repeat or step back a duplicate.
 *
 * A run goes through phases, the same in every client process: connect (ramp) -> settle (the servers'
 * idle memory per stream is read once every request was sent and answered, or 2 s later) -> warm-up (a few events wake
 * every path and bring the answers of servers that answer with a stream's first bytes; not counted) -> measure
 * (--duration) -> done. --server-pid PID (repeatable; each PID with its children, e.g. an edge or nginx master and its
 * workers, or the bridge) reads /proc for the servers' CPU over the measured span and their memory (PSS: shared pages
 * split between the processes that map them). --procs K forks K client processes (each under the 20k open-files cap)
 * that share their counters and histograms through one shared mapping; the parent publishes and sums.
 * --ring FILE adds ring->client latency: a watcher thread maps the ring read-only and is woken by the
 * bridge like an edge worker, noting when each sequence number appears in the ring.
 *
 * Output: a text summary on stdout and, with --json FILE, one JSON object; --dump FILE writes every
 * event parsed (for tests). Run with --help for the options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"
#include "wake.h"

#define MAX_PROCS   64
#define MAX_PUB     8         /* publishers whose sequences are checked per stream */
#define MAX_SERVERS 8         /* --server-pid groups */
#define READ_BUF    (1 << 16) /* one read() */
#define READ_BUDGET (1 << 18) /* bytes read from one plain connection per wake-up, for fairness */
#define KEEP_SMALL  192       /* bytes of a line / data kept when not dumping: enough for the stamp */
#define KEEP_DUMP   (1 << 20) /* ... and when dumping every event whole */
/* Seconds to wait, once every request was sent, for the answers before the idle memory is read: a
 * server that answers at once (nchan) has then taken every connection off its accept queue; one
 * that answers with a stream's first bytes (ringcast's edge) is read after this wait. */
#define ANSWER_WAIT_S 2.0

/* --- histogram ---------------------------------------------------------------------------------
 * Values (ns) below 128 have a bucket each; above, every power of two [2^e, 2^(e+1)) is split into
 * 128 buckets: the bucket width is at most 1/128 (0.8%) of the value. 58 groups cover 2^64. */
#define HIST_SUB     128
#define HIST_BUCKETS (HIST_SUB * 58)
typedef struct {
    uint64_t count, max, b[HIST_BUCKETS];
} hist_t;

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    int e = 63 - __builtin_clzll(v); /* >= 7 */
    return (unsigned)(HIST_SUB * (e - 6) + (int)((v >> (e - 7)) - HIST_SUB));
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned e = i / HIST_SUB + 6, m = i % HIST_SUB + HIST_SUB;
    uint64_t w = 1ull << (e - 7);
    return ((uint64_t)m << (e - 7)) + w / 2;
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(hist_t *into, const hist_t *h)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->count += h->count;
    if (h->max > into->max)
        into->max = h->max;
}

/* The value at quantile q (0..1): the smallest bucket whose cumulative count reaches q of all. */
static uint64_t hist_quantile(const hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t v = hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

/* --- what every client process reports, in a shared mapping ------------------------------------- */
enum { PH_CONNECT = 0, PH_WARMUP = 1, PH_MEASURE = 2, PH_DONE = 3 };

/* The counters every client process keeps, summed over processes at the end. */
/* clang-format reflows this list differently on every run: it is left as written. */
/* clang-format off */
#define COUNTERS(X)                                                                                                    \
    X(conns)                                                                                                           \
    X(conns_open)                                                                                                      \
    X(conns_done)                                                                                                      \
    X(streams_asked)                                                                                                   \
    X(connect_errors)                                                                                                  \
    X(streams)                                                                                                         \
    X(streams_ready) X(streams_failed) X(unanswered) X(http_errors) X(ended) X(parse_errors) X(events) X(bytes)        \
        X(comments) X(gaps) X(missing) X(dups) X(untimed) X(warmup_events)
/* clang-format on */
#define DECLARE(name) uint64_t name;
typedef struct {
    COUNTERS(DECLARE)
    double cpu_s; /* the client loop's own CPU over the measured span */
    hist_t lat, ring_lat;
} proc_result_t;

typedef struct {
    _Atomic int phase;
    proc_result_t r[MAX_PROCS];
} shared_t;

/* --- options ------------------------------------------------------------------------------------ */
static struct {
    const char *url, *kafka, *topic, *publish_url, *ring, *json, *dump, *label;
    int h2, procs, pub_id, src_ips, publish_conns;
    long streams, conns;
    double ramp, duration, rate, settle, warmup, connect_timeout;
    long size;
    int nservers;
    int server_pid[MAX_SERVERS];
    const char *kprops[32];
    int nkprops;
} opt = {.streams = 1,
         .ramp = 5000,
         .duration = 10,
         .settle = 1,
         .warmup = 1,
         .connect_timeout = 60,
         .size = 100,
         .procs = 0,
         .src_ips = 1,
         .publish_conns = 1};

/* The URL, parsed. */
static struct {
    int tls, port;
    char host[256], path[2048], authority[300];
    struct sockaddr_in sa;
} target;

static shared_t *shm;
static uint64_t *seen_ns; /* [seq] when the ring watcher saw publisher 0's record (shared) */
static uint64_t max_seq;
static FILE *dump;
static size_t keep = KEEP_SMALL;

static uint64_t now_ns(void)
{
    return rc_now_mono_ns();
}

static double thread_cpu(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "ringcast-bench: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

/* --- SSE parsing (WHATWG "Parsing an event stream") --------------------------------------------- */

/* A growable byte buffer that keeps at most `keep` bytes; len counts everything appended. */
typedef struct {
    char *p;
    uint32_t len, cap;
} sbuf_t;

static void sbuf_append(sbuf_t *b, const char *s, size_t n)
{
    size_t room = b->len < keep ? keep - b->len : 0, take = n < room ? n : room;
    if (take > 0) {
        if (b->len + take > b->cap) {
            size_t cap = b->cap ? b->cap : 64;
            while (cap < b->len + take)
                cap *= 2;
            b->p = rc_realloc(b->p, cap);
            b->cap = (uint32_t)cap;
        }
        memcpy(b->p + b->len, s, take);
    }
    b->len += (uint32_t)n;
}

static size_t sbuf_kept(const sbuf_t *b)
{
    return b->len < keep ? b->len : keep;
}

static void sbuf_free(sbuf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

typedef struct st_conn_t conn_t;

typedef struct {
    conn_t *conn;
    proc_result_t *res;
    uint32_t index;   /* global stream number, for the dump */
    int32_t h2_id;    /* HTTP/2 stream id */
    uint8_t state;    /* ST_* */
    uint8_t after_cr; /* the last byte fed was CR: a following LF belongs to it */
    uint8_t bom;      /* bytes of a leading BOM matched so far; BOM_DONE once past the start */
    sbuf_t line;      /* the current line, when it spans reads */
    sbuf_t data, id, type;
    uint64_t next_seq[MAX_PUB]; /* per publisher: the sequence number expected next, plus one (0: none yet) */
} stream_t;

enum { ST_PENDING = 0, ST_READY = 1, ST_ENDED = 2, ST_FAILED = 3 };
#define BOM_DONE 3

static void stream_ready(stream_t *s)
{
    s->state = ST_READY;
    s->res->streams_ready++;
}

/* A stream that never got its answer (connect error, refused, non-200, closed before the head). */
static void stream_fail(stream_t *s)
{
    s->state = ST_FAILED;
    s->res->streams_failed++;
}

/* A stream that was answered and has now ended (the server closed it, or limit= was reached). */
static void stream_end(stream_t *s)
{
    s->state = ST_ENDED;
    s->res->ended++;
}

static uint64_t batch_now; /* the clock read once per read(): every event in it arrived then */
static int measuring, warming;

static int parse_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    while (s < end && *s >= '0' && *s <= '9')
        x = x * 10 + (uint64_t)(*s++ - '0');
    if (s == *p)
        return -1;
    *p = s;
    *v = x;
    return 0;
}

/* Reads the stamp: "<ns> <seq> [<pub>]", {"t":ns,"s":seq,"p":pub}, or a JSON envelope whose "value"
 * is the text form. Returns 0 with the fields set, -1 if the data carries no stamp. */
static int read_stamp(const char *d, size_t n, uint64_t *ns, uint64_t *seq, uint64_t *pub)
{
    const char *end = d + n;
    *pub = 0;
    if (n > 0 && d[0] == '{') {
        const char *t = memmem(d, n, "\"t\":", 4);
        if (t != NULL) {
            const char *p = t + 4, *s = memmem(d, n, "\"s\":", 4), *q = memmem(d, n, "\"p\":", 4);
            if (s == NULL || parse_u64(&p, end, ns) != 0)
                return -1;
            p = s + 4;
            if (parse_u64(&p, end, seq) != 0)
                return -1;
            if (q != NULL) {
                p = q + 4;
                parse_u64(&p, end, pub);
            }
            return *ns > 0 ? 0 : -1;
        }
        const char *v = memmem(d, n, "\"value\":\"", 9);
        if (v == NULL)
            return -1;
        d = v + 9;
    }
    const char *p = d;
    if (parse_u64(&p, end, ns) != 0 || p >= end || *p != ' ')
        return -1;
    p++;
    if (parse_u64(&p, end, seq) != 0)
        return -1;
    if (p < end && *p == ' ') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            parse_u64(&p, end, pub);
    }
    return *ns > 0 ? 0 : -1;
}

static void dump_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            fputs("\\n", dump);
        else if (ch == '\r')
            fputs("\\r", dump);
        else if (ch == '\\')
            fputs("\\\\", dump);
        else if (ch < 0x20)
            fprintf(dump, "\\x%02x", ch);
        else
            fputc(ch, dump);
    }
}

/* An event is complete (a blank line with data): count it, time it, check its sequence. */
static void on_event(stream_t *s)
{
    proc_result_t *r = s->res;
    size_t n = sbuf_kept(&s->data);
    if (n > 0 && s->data.len <= keep)
        n--; /* the data buffer's last LF is not part of the data */
    if (dump != NULL) {
        fprintf(dump, "S%u event ", s->index);
        if (s->type.len)
            dump_escaped(s->type.p, sbuf_kept(&s->type));
        else
            fputs("message", dump);
        fputs(" id ", dump);
        dump_escaped(s->id.p, sbuf_kept(&s->id));
        fputs(" data ", dump);
        dump_escaped(s->data.p, n);
        fputc('\n', dump);
    }
    if (measuring) {
        r->events++;
    } else if (warming) {
        r->warmup_events++;
    }
    uint64_t ns, seq, pub;
    if (read_stamp(s->data.p, n, &ns, &seq, &pub) != 0) {
        r->untimed += measuring;
        return;
    }
    if (measuring) {
        hist_add(&r->lat, batch_now > ns ? batch_now - ns : 0);
        if (seen_ns != NULL && pub == 0 && seq < max_seq) {
            uint64_t seen = __atomic_load_n(&seen_ns[seq], __ATOMIC_ACQUIRE);
            if (seen)
                hist_add(&r->ring_lat, batch_now > seen ? batch_now - seen : 0);
        }
    }
    if (pub >= MAX_PUB) {
        r->parse_errors++;
        return;
    }
    uint64_t want = s->next_seq[pub];
    if (want != 0 && seq + 1 != want) {
        if (seq + 1 > want) {
            r->gaps++;
            r->missing += seq + 1 - want;
        } else {
            r->dups++;
        }
    }
    if (want == 0 || seq + 1 >= want)
        s->next_seq[pub] = seq + 2;
}

static void on_line(stream_t *s, const char *l, size_t n)
{
    if (n == 0) { /* dispatch */
        if (s->data.len > 0)
            on_event(s);
        s->data.len = 0;
        s->type.len = 0;
        return;
    }
    if (l[0] == ':') {
        s->res->comments++;
        return;
    }
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vlen = (size_t)(l + n - v);
    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(l, "data", 4) == 0) {
        sbuf_append(&s->data, v, vlen);
        sbuf_append(&s->data, "\n", 1);
    } else if (flen == 5 && memcmp(l, "event", 5) == 0) {
        s->type.len = 0;
        sbuf_append(&s->type, v, vlen);
    } else if (flen == 2 && memcmp(l, "id", 2) == 0) {
        if (memchr(v, '\0', vlen) == NULL) {
            s->id.len = 0;
            sbuf_append(&s->id, v, vlen);
        }
    } else if (flen == 5 && memcmp(l, "retry", 5) == 0) {
        size_t i = 0;
        while (i < vlen && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == vlen && vlen > 0 && dump != NULL) {
            fprintf(dump, "S%u retry ", s->index);
            dump_escaped(v, vlen);
            fputc('\n', dump);
        }
    }
    /* Any other field is ignored, as the specification says. */
}

/* Body bytes of one stream (after HTTP framing). Lines end at CR, LF or CRLF. */
static void sse_feed(stream_t *s, const char *p, size_t n)
{
    const char *end = p + n;
    if (measuring)
        s->res->bytes += n;
    /* One leading U+FEFF is ignored; it may arrive split over reads. */
    static const char bom[3] = "\xEF\xBB\xBF";
    while (s->bom != BOM_DONE && p < end) {
        if (*p == bom[s->bom]) {
            p++;
            s->bom = s->bom == 2 ? BOM_DONE : s->bom + 1;
        } else {
            if (s->bom > 0) /* a partial BOM was line bytes after all */
                sbuf_append(&s->line, bom, s->bom);
            s->bom = BOM_DONE;
        }
    }
    if (s->after_cr && p < end && *p == '\n')
        p++;
    s->after_cr = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const char *cr = memchr(p, '\r', (size_t)(stop - p));
        const char *eol = cr ? cr : nl;
        if (eol == NULL) { /* an unfinished line: keep it for the next read */
            sbuf_append(&s->line, p, (size_t)(end - p));
            return;
        }
        if (s->line.len == 0) {
            on_line(s, p, (size_t)(eol - p));
        } else {
            sbuf_append(&s->line, p, (size_t)(eol - p));
            on_line(s, s->line.p, sbuf_kept(&s->line));
            s->line.len = 0;
        }
        p = eol + 1;
        if (*eol == '\r') {
            if (p < end && *p == '\n')
                p++;
            else if (p == end)
                s->after_cr = 1;
        }
    }
}

/* --- connections -------------------------------------------------------------------------------- */
enum { CS_IDLE = 0, CS_CONNECTING, CS_TLS, CS_OPEN, CS_CLOSED };

struct st_conn_t {
    int fd;
    uint8_t state;
    uint8_t h1_headers_done, h1_chunked;
    uint8_t ch_state; /* chunked decoding: CH_* */
    uint32_t epoll_mask;
    SSL *ssl;
    nghttp2_session *h2;
    stream_t *streams;
    uint32_t nstreams;
    proc_result_t *res;
    uint64_t chunk_left;
    char *hdr; /* HTTP/1.1 response head, until its blank line */
    size_t hdr_len;
    char *out; /* bytes waiting for the socket */
    size_t out_len, out_off, out_cap;
};

enum { CH_SIZE = 0, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER };

static int ep;
static SSL_CTX *ssl_ctx;

static int handshaking; /* connections started and not yet established or failed */

/* Closes a connection: its answered streams end, the others fail (a connect error when the
 * connection never opened, counted by the caller; no answer otherwise). */
static void conn_close(conn_t *c)
{
    if (c->state == CS_CLOSED)
        return;
    if (c->state == CS_CONNECTING || c->state == CS_TLS)
        handshaking--;
    for (uint32_t i = 0; i < c->nstreams; i++) {
        stream_t *s = &c->streams[i];
        if (s->state == ST_READY) {
            stream_end(s);
        } else if (s->state == ST_PENDING) {
            if (c->state == CS_OPEN)
                c->res->http_errors++;
            stream_fail(s);
        }
    }
    if (c->h2 != NULL) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CS_OPEN)
        c->res->conns_open--;
    c->state = CS_CLOSED;
    free(c->out);
    c->out = NULL;
    free(c->hdr);
    c->hdr = NULL;
}

static void conn_failed(conn_t *c)
{
    c->res->connect_errors++;
    c->res->conns_done++;
    conn_close(c);
}

/* Reads; returns bytes, 0 at EOF, -1 with errno (EAGAIN when nothing is there). */
static ssize_t io_read(conn_t *c, char *buf, size_t n)
{
    if (c->ssl == NULL)
        return read(c->fd, buf, n);
    int r = SSL_read(c->ssl, buf, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = EPROTO;
    return -1;
}

static ssize_t io_write(conn_t *c, const char *buf, size_t n)
{
    if (c->ssl == NULL)
        return send(c->fd, buf, n, MSG_NOSIGNAL);
    int r = SSL_write(c->ssl, buf, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    errno = EPROTO;
    return -1;
}

static void out_append(conn_t *c, const void *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = rc_realloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void set_mask(conn_t *c, uint32_t mask)
{
    if (c->epoll_mask == mask)
        return;
    struct epoll_event ev = {.events = mask, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_mask = mask;
}

/* Writes what is pending (and what nghttp2 wants to send). Returns 0, or -1 if the connection broke. */
static int conn_flush(conn_t *c)
{
    for (;;) {
        if (c->out_off < c->out_len) {
            ssize_t w = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    set_mask(c, EPOLLIN | EPOLLOUT);
                    return 0;
                }
                return -1;
            }
            c->out_off += (size_t)w;
            continue;
        }
        c->out_len = c->out_off = 0;
        if (c->h2 == NULL)
            break;
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->h2, &d);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        out_append(c, d, (size_t)n);
    }
    set_mask(c, EPOLLIN);
    return 0;
}

/* --- HTTP/1.1 ---------------------------------------------------------------------------------- */

/* The value of header name (lower case, with the colon) in a NUL-terminated head, or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
    const char *h = strcasestr(head, name);
    if (h == NULL)
        return NULL;
    h += strlen(name);
    h += strspn(h, " \t");
    *len = strcspn(h, "\r\n");
    return h;
}

/* The response head is complete: check the status and how the body is framed. Returns -2 when the
 * answer is not a stream (the connection is then closed). */
static int h1_head(conn_t *c)
{
    stream_t *s = &c->streams[0];
    int status = c->hdr_len > 12 && memcmp(c->hdr, "HTTP/1.", 7) == 0 ? atoi(c->hdr + 9) : 0;
    c->h1_headers_done = 1;
    if (status != 200) {
        c->res->http_errors++;
        stream_fail(s);
        return -2;
    }
    stream_ready(s);
    size_t len;
    const char *te = header(c->hdr, "\ntransfer-encoding:", &len);
    c->h1_chunked = te != NULL && len >= 7 && strncasecmp(te + len - 7, "chunked", 7) == 0;
    c->ch_state = CH_SIZE;
    c->chunk_left = 0;
    return 0;
}

/* Undoes chunked transfer coding; returns -1 on a malformed chunk, -2 after the last chunk. */
static int h1_chunked(conn_t *c, const char *p, size_t n)
{
    stream_t *s = &c->streams[0];
    const char *end = p + n;
    while (p < end) {
        switch (c->ch_state) {
        case CH_SIZE: {
            char ch = *p++;
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d >= 0) {
                if (c->chunk_left >> 56)
                    return -1;
                c->chunk_left = c->chunk_left * 16 + (uint64_t)d;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->ch_state = CH_EXT;
            } else if (ch == '\r') {
                c->ch_state = CH_SIZE_LF;
            } else if (ch == '\n') {
                c->ch_state = c->chunk_left ? CH_DATA : CH_TRAILER;
            } else {
                return -1;
            }
            break;
        }
        case CH_EXT:
            if (*p == '\r')
                c->ch_state = CH_SIZE_LF;
            else if (*p == '\n')
                c->ch_state = c->chunk_left ? CH_DATA : CH_TRAILER;
            p++;
            break;
        case CH_SIZE_LF:
            if (*p++ != '\n')
                return -1;
            c->ch_state = c->chunk_left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t take = (size_t)(end - p) < c->chunk_left ? (size_t)(end - p) : (size_t)c->chunk_left;
            sse_feed(s, p, take);
            p += take;
            c->chunk_left -= take;
            if (c->chunk_left == 0)
                c->ch_state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (*p == '\r') {
                p++;
                c->ch_state = CH_DATA_LF;
                break;
            }
            __attribute__((fallthrough)); /* a bare LF ends the chunk too */
        case CH_DATA_LF:
            if (*p++ != '\n')
                return -1;
            c->ch_state = CH_SIZE;
            break;
        case CH_TRAILER: /* the body is complete (limit= or timeout=): the stream ended */
            stream_end(s);
            return -2;
        }
    }
    return 0;
}

/* Response bytes of an HTTP/1.1 connection. Returns 0, -1 on malformed framing, -2 when the
 * connection is done (not a stream, or the stream ended). */
static int h1_input(conn_t *c, const char *p, size_t n)
{
    if (!c->h1_headers_done) {
        enum { HEAD_MAX = 16384 };
        if (c->hdr == NULL)
            c->hdr = rc_malloc(HEAD_MAX + 1);
        size_t before = c->hdr_len, take = n < HEAD_MAX - before ? n : HEAD_MAX - before;
        memcpy(c->hdr + before, p, take);
        c->hdr_len += take;
        c->hdr[c->hdr_len] = '\0';
        char *e = strstr(c->hdr, "\r\n\r\n");
        size_t hlen = e ? (size_t)(e - c->hdr) + 4 : 0;
        if (e == NULL && (e = strstr(c->hdr, "\n\n")) != NULL)
            hlen = (size_t)(e - c->hdr) + 2;
        if (e == NULL)
            return c->hdr_len == HEAD_MAX ? -1 : 0;
        *e = '\0';
        int rc = h1_head(c);
        free(c->hdr);
        c->hdr = NULL;
        if (rc != 0)
            return rc;
        p += hlen - before;
        n -= hlen - before;
    }
    if (n == 0)
        return 0;
    if (c->h1_chunked)
        return h1_chunked(c, p, n);
    sse_feed(&c->streams[0], p, n);
    return 0;
}

/* --- HTTP/2 through libnghttp2 ------------------------------------------------------------------ */

static int h2_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || s->state != ST_PENDING)
        return 0;
    if (valuelen == 3 && memcmp(value, "200", 3) == 0) {
        stream_ready(s);
    } else {
        s->res->http_errors++;
        stream_fail(s);
    }
    return 0;
}

static int h2_on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                      void *user)
{
    (void)flags;
    (void)user;
    stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s != NULL && s->state == ST_READY)
        sse_feed(s, (const char *)data, len);
    return 0;
}

static int h2_on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user)
{
    (void)error_code;
    (void)user;
    stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL)
        return 0;
    if (s->state == ST_READY) {
        stream_end(s);
    } else if (s->state == ST_PENDING) {
        s->res->http_errors++; /* refused or reset before any response */
        stream_fail(s);
    }
    return 0;
}

static nghttp2_session_callbacks *h2_callbacks;

static int h2_start(conn_t *c)
{
    if (h2_callbacks == NULL) {
        nghttp2_session_callbacks_new(&h2_callbacks);
        nghttp2_session_callbacks_set_on_header_callback(h2_callbacks, h2_on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks, h2_on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks, h2_on_close);
    }
    if (nghttp2_session_client_new(&c->h2, h2_callbacks, c) != 0)
        return -1;
    /* Big windows: flow control must never be what limits an event stream here. */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1},
                                   {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, RC_ARRAY_SIZE(iv));
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (1u << 31) - 1);
    const char *scheme = target.tls ? "https" : "http";
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hdrs[] = {NV(":method", "GET"),
                         NV(":scheme", scheme),
                         NV(":authority", target.authority),
                         NV(":path", target.path),
                         NV("accept", "text/event-stream"),
                         NV("cache-control", "no-cache")};
#undef NV
    for (uint32_t i = 0; i < c->nstreams; i++) {
        int32_t id = nghttp2_submit_request(c->h2, NULL, hdrs, RC_ARRAY_SIZE(hdrs), NULL, &c->streams[i]);
        if (id < 0)
            return -1;
        c->streams[i].h2_id = id;
    }
    return 0;
}

/* --- connection life ---------------------------------------------------------------------------- */

static int conn_established(conn_t *c)
{
    handshaking--;
    c->state = CS_OPEN;
    c->res->conns_open++;
    c->res->conns_done++;
    c->res->streams_asked += c->nstreams;
    if (opt.h2)
        return h2_start(c) == 0 ? conn_flush(c) : -1;
    char req[2600];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
                     target.path, target.authority);
    out_append(c, req, (size_t)n);
    return conn_flush(c);
}

static int tls_step(conn_t *c)
{
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        const unsigned char *alpn;
        unsigned len;
        SSL_get0_alpn_selected(c->ssl, &alpn, &len);
        if (opt.h2 && !(len == 2 && memcmp(alpn, "h2", 2) == 0))
            return -1; /* the server would not speak HTTP/2 */
        return conn_established(c);
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        set_mask(c, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE)
        set_mask(c, EPOLLOUT);
    else
        return -1;
    return 0;
}

static void conn_start(conn_t *c, int src)
{
    c->state = CS_CONNECTING;
    handshaking++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_failed(c);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (opt.src_ips > 1 && (ntohl(target.sa.sin_addr.s_addr) >> 24) == 127) {
        /* More loopback source addresses than one: each has its own ~28k ephemeral ports. */
        struct sockaddr_in me = {.sin_family = AF_INET};
        me.sin_addr.s_addr = htonl((127u << 24) + 1 + (uint32_t)(src % opt.src_ips));
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        bind(c->fd, (struct sockaddr *)&me, sizeof(me));
    }
    c->epoll_mask = EPOLLOUT;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&target.sa, sizeof(target.sa)) != 0 && errno != EINPROGRESS)
        conn_failed(c);
}

static void conn_event(conn_t *c, uint32_t events)
{
    static char buf[READ_BUF];
    if (c->state == CS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            conn_failed(c);
            return;
        }
        if (target.tls) {
            c->ssl = SSL_new(ssl_ctx);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_tlsext_host_name(c->ssl, target.host);
            c->state = CS_TLS;
            if (tls_step(c) != 0)
                conn_failed(c);
            return;
        }
        if (conn_established(c) != 0)
            conn_close(c);
        return;
    }
    if (c->state == CS_TLS) {
        if (tls_step(c) != 0)
            conn_failed(c);
        return;
    }
    if (c->state != CS_OPEN)
        return;
    if (events & EPOLLOUT) {
        if (conn_flush(c) != 0) {
            conn_close(c);
            return;
        }
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    size_t total = 0;
    for (;;) {
        ssize_t r = io_read(c, buf, sizeof(buf));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(c);
            return;
        }
        if (r < 0)
            break;
        batch_now = now_ns();
        int rc;
        if (c->h2 != NULL)
            rc = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf, (size_t)r) < 0 ? -1 : 0;
        else
            rc = h1_input(c, buf, (size_t)r);
        if (rc != 0) {
            if (rc == -1)
                c->res->parse_errors++;
            conn_close(c);
            return;
        }
        total += (size_t)r;
        if (c->ssl == NULL && total >= READ_BUDGET)
            break; /* level-triggered: the rest is read on the next round */
    }
    if (c->h2 != NULL) {
        if (conn_flush(c) != 0 || (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))
            conn_close(c);
    }
}

/* --- one client process ------------------------------------------------------------------------- */

/* Holds connections [c0, c1) of the run; stream counts per connection are spread evenly. */
static void run_client(int idx, long c0, long c1)
{
    proc_result_t *r = &shm->r[idx];
    ep = epoll_create1(EPOLL_CLOEXEC);
    long nconns = c1 - c0;
    conn_t *cs = rc_calloc((size_t)(nconns > 0 ? nconns : 1), sizeof(*cs));
    long base = opt.conns ? opt.streams / opt.conns : 0, extra = opt.conns ? opt.streams % opt.conns : 0;
    for (long i = 0; i < nconns; i++) {
        long g = c0 + i;
        long first = g * base + (g < extra ? g : extra);
        cs[i].fd = -1;
        cs[i].res = r;
        cs[i].nstreams = (uint32_t)(base + (g < extra));
        cs[i].streams = rc_calloc(cs[i].nstreams ? cs[i].nstreams : 1, sizeof(stream_t));
        for (uint32_t k = 0; k < cs[i].nstreams; k++) {
            cs[i].streams[k].conn = &cs[i];
            cs[i].streams[k].res = r;
            cs[i].streams[k].index = (uint32_t)(first + k);
        }
        r->streams += cs[i].nstreams;
    }
    r->conns = (uint64_t)nconns;
    double ramp = opt.ramp / (opt.procs > 0 ? opt.procs : 1);
    uint64_t t_start = now_ns();
    long opened = 0;
    double cpu0 = 0;
    int phase_seen = PH_CONNECT;
    struct epoll_event evs[512];
    for (;;) {
        int phase = atomic_load(&shm->phase);
        if (phase != phase_seen) {
            warming = phase == PH_WARMUP;
            if (phase == PH_MEASURE) {
                cpu0 = thread_cpu(RUSAGE_THREAD);
                measuring = 1;
            }
            if (phase == PH_DONE) {
                if (measuring)
                    r->cpu_s = thread_cpu(RUSAGE_THREAD) - cpu0;
                measuring = 0;
                break;
            }
            phase_seen = phase;
        }
        /* The ramp: open what is due, never more than 1000 handshakes at once. */
        uint64_t due = (uint64_t)((double)(now_ns() - t_start) / 1e9 * ramp) + 1;
        while (opened < nconns && (uint64_t)opened < due && handshaking < 1000) {
            conn_start(&cs[opened], (int)(c0 + opened));
            opened++;
        }
        int n = epoll_wait(ep, evs, RC_ARRAY_SIZE(evs), opened < nconns ? 1 : 5);
        for (int k = 0; k < n; k++)
            conn_event(evs[k].data.ptr, evs[k].events);
    }
    /* Closing what is left at the end is ours, not the server's doing: streams still waiting for
     * their answer are counted as unanswered, not as failed or ended. */
    uint64_t ended = r->ended, failed = r->streams_failed, http_errors = r->http_errors;
    for (long i = 0; i < nconns; i++) {
        for (uint32_t k = 0; k < cs[i].nstreams; k++)
            r->unanswered += cs[i].streams[k].state == ST_PENDING;
        if (cs[i].state != CS_CLOSED && cs[i].state != CS_IDLE)
            conn_close(&cs[i]);
        for (uint32_t k = 0; k < cs[i].nstreams; k++) {
            stream_t *s = &cs[i].streams[k];
            sbuf_free(&s->line);
            sbuf_free(&s->data);
            sbuf_free(&s->id);
            sbuf_free(&s->type);
        }
        free(cs[i].streams);
    }
    r->ended = ended;
    r->streams_failed = failed;
    r->http_errors = http_errors;
    free(cs);
    close(ep);
    if (dump != NULL)
        fflush(dump);
}

/* --- servers' CPU and memory from /proc ----------------------------------------------------------- */

static int proc_stat(int pid, double *cpu, uint64_t *rss)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    long pages = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld", &ut,
               &st, &pages) != 3)
        return -1;
    *cpu += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    /* Memory as PSS: a page shared by a master and its workers (a mapped ring, nchan's shared
     * memory zone) counts once over them all, where RSS would count it in every process. */
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    f = fopen(path, "r");
    unsigned long long pss_kb = 0;
    int found = 0;
    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
        if (sscanf(buf, "Pss: %llu kB", &pss_kb) == 1) {
            found = 1;
            break;
        }
    if (f != NULL)
        fclose(f);
    *rss += found ? (uint64_t)pss_kb * 1024 : (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

/* CPU seconds and memory (PSS) bytes of pid and its children (a master and its workers). */
static void server_stat(int pid, double *cpu, uint64_t *rss)
{
    *cpu = 0;
    *rss = 0;
    proc_stat(pid, cpu, rss);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    int child;
    while (fscanf(f, "%d", &child) == 1)
        proc_stat(child, cpu, rss);
    fclose(f);
}

/* --- ring watcher (ring->client latency) ---------------------------------------------------------- */
static atomic_int watcher_stop;

static void *watch_ring(void *arg)
{
    const char *ring_path = arg;
    char sock_path[1100], err[256];
    const char *slash = strrchr(ring_path, '/');
    snprintf(sock_path, sizeof(sock_path), "%.*s/" RC_WAKE_SOCK_NAME, slash ? (int)(slash - ring_path) : 1,
             slash ? ring_path : ".");
    rc_ring_t *ring;
    if (rc_ring_open_reader(&ring, ring_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "ringcast-bench: %s\n", err);
        return NULL;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int sock = rc_wake_connect(sock_path, efd);
    if (sock < 0)
        fprintf(stderr, "ringcast-bench: %s: %s (the watcher polls instead)\n", sock_path, strerror(errno));
    rc_cursor_t cur;
    rc_ring_head(ring, &cur);
    size_t cap = rc_ring_max_record(ring) + (1u << 16);
    uint64_t *buf = rc_malloc(cap);
    while (!atomic_load(&watcher_stop)) {
        struct pollfd p = {.fd = efd, .events = POLLIN};
        poll(&p, 1, sock < 0 ? 1 : 100);
        uint64_t v;
        if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            break;
        for (;;) {
            size_t nb, off = 0;
            rc_read_t rr = rc_ring_read(ring, &cur, buf, cap, &nb);
            if (rr == RC_READ_LAPPED) {
                rc_ring_oldest(ring, &cur);
                continue;
            }
            if (rr != RC_READ_OK)
                break;
            uint64_t t = now_ns();
            rc_record_t rec;
            while (rc_ring_next_record(buf, nb, &off, &rec)) {
                const char *d = memmem(rec.frame, rec.h.frame_len, "\ndata: ", 7);
                uint64_t ns, seq, pub;
                if (d == NULL)
                    continue;
                d += 7;
                const char *e = memchr(d, '\n', (size_t)((const char *)rec.frame + rec.h.frame_len - d));
                if (e != NULL && read_stamp(d, (size_t)(e - d), &ns, &seq, &pub) == 0 && pub == 0 && seq < max_seq)
                    __atomic_store_n(&seen_ns[seq], t, __ATOMIC_RELEASE);
            }
        }
    }
    free(buf);
    if (sock >= 0)
        close(sock);
    close(efd);
    rc_ring_close(ring);
    return NULL;
}

/* --- publishers ------------------------------------------------------------------------------- */

typedef struct {
    int fd;
    char *out;
    size_t out_len, out_off, out_cap;
    char in[1 << 16];
    size_t in_len;
    uint64_t outstanding;
    uint64_t seq; /* each connection is a publisher of its own: its order is kept, not theirs */
} http_pub_t;

static struct {
    rd_kafka_t *rk;
    http_pub_t *hp;
    int nhp;
    char host[256], path[2048], authority[300];
    struct sockaddr_in sa;
    uint64_t seq, sent, acked, errors;
} pub;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        pub.errors++;
    else
        pub.acked++;
}

static int parse_url(const char *url, int *tls, char *host, size_t hostlen, int *port, char *path, size_t pathlen)
{
    const char *p;
    if (strncmp(url, "http://", 7) == 0) {
        *tls = 0;
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        *tls = 1;
        p = url + 8;
    } else {
        return -1;
    }
    const char *slash = strchr(p, '/');
    const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
    const char *hend = colon ? colon : slash ? slash : p + strlen(p);
    if ((size_t)(hend - p) >= hostlen || hend == p)
        return -1;
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = '\0';
    *port = colon ? atoi(colon + 1) : *tls ? 443 : 80;
    snprintf(path, pathlen, "%s", slash ? slash : "/");
    return 0;
}

static int resolve(const char *host, int port, struct sockaddr_in *sa)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return -1;
    *sa = *(struct sockaddr_in *)ai->ai_addr;
    sa->sin_port = htons((uint16_t)port);
    freeaddrinfo(ai);
    return 0;
}

static void http_pub_connect(http_pub_t *h)
{
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&pub.sa, sizeof(pub.sa)) != 0)
        die("cannot connect to the publisher at %s", opt.publish_url);
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(h->fd, F_SETFL, O_NONBLOCK);
}

static int pub_open(void)
{
    if (opt.kafka != NULL) {
        char err[512], boot[4096];
        const char *b = opt.kafka;
        if (b[0] == '@') {
            FILE *f = fopen(b + 1, "r");
            if (f == NULL || fgets(boot, sizeof(boot), f) == NULL)
                die("cannot read the bootstrap file %s", b + 1);
            fclose(f);
            boot[strcspn(boot, "\r\n")] = '\0';
            b = boot;
        }
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", b, err, sizeof(err));
        rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
        for (int i = 0; i < opt.nkprops; i++) {
            char kv[512];
            snprintf(kv, sizeof(kv), "%s", opt.kprops[i]);
            char *eq = strchr(kv, '=');
            if (eq == NULL)
                die("-X %s: want key=value", kv);
            *eq = '\0';
            if (rd_kafka_conf_set(conf, kv, eq + 1, err, sizeof(err)) != RD_KAFKA_CONF_OK)
                die("%s", err);
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        pub.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (pub.rk == NULL)
            die("%s", err);
        return 0;
    }
    int tls, port;
    if (parse_url(opt.publish_url, &tls, pub.host, sizeof(pub.host), &port, pub.path, sizeof(pub.path)) != 0 || tls)
        die("--publish-url %s: want http://HOST:PORT/PATH", opt.publish_url);
    snprintf(pub.authority, sizeof(pub.authority), "%s:%d", pub.host, port);
    if (resolve(pub.host, port, &pub.sa) != 0)
        die("cannot resolve %s", pub.host);
    pub.nhp = opt.publish_conns;
    pub.hp = rc_calloc((size_t)pub.nhp, sizeof(*pub.hp));
    for (int i = 0; i < pub.nhp; i++)
        http_pub_connect(&pub.hp[i]);
    return 0;
}

/* Reads the publisher's answers (pipelined HTTP/1.1 responses) and counts them. */
static void http_pub_service(http_pub_t *h)
{
    if (h->out_off < h->out_len) {
        ssize_t w = send(h->fd, h->out + h->out_off, h->out_len - h->out_off, MSG_NOSIGNAL);
        if (w > 0)
            h->out_off += (size_t)w;
        if (h->out_off == h->out_len)
            h->out_off = h->out_len = 0;
    }
    for (;;) {
        ssize_t r = read(h->fd, h->in + h->in_len, sizeof(h->in) - h->in_len);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            /* The server closed (e.g. nginx after keepalive_requests): what it did not answer is
             * counted as failed, and the publisher goes on over a new connection. */
            pub.errors += h->outstanding;
            h->outstanding = 0;
            h->in_len = h->out_len = h->out_off = 0;
            close(h->fd);
            http_pub_connect(h);
            break;
        }
        if (r < 0)
            break;
        h->in_len += (size_t)r;
        for (;;) {
            char *e = memmem(h->in, h->in_len, "\r\n\r\n", 4);
            if (e == NULL)
                break;
            size_t hl = (size_t)(e - h->in) + 4, body = 0;
            *e = '\0';
            const char *cl = strcasestr(h->in, "\ncontent-length:");
            if (cl != NULL)
                body = strtoul(cl + 16, NULL, 10);
            else if (strcasestr(h->in, "\ntransfer-encoding: chunked") != NULL) {
                char *t = memmem(e + 4, h->in_len - hl, "\r\n0\r\n\r\n", 7);
                if (t == NULL) {
                    *e = '\r';
                    break;
                }
                body = (size_t)(t + 7 - (e + 4));
            }
            if (h->in_len < hl + body) {
                *e = '\r';
                break;
            }
            if (h->in_len > 12 && h->in[9] == '2')
                pub.acked++;
            else
                pub.errors++;
            if (h->outstanding)
                h->outstanding--;
            memmove(h->in, h->in + hl + body, h->in_len - hl - body);
            h->in_len -= hl + body;
        }
        if (h->in_len == sizeof(h->in)) { /* one answer larger than the buffer: drop what we have */
            h->in_len = 0;
            pub.errors++;
        }
    }
}

/* Sends one event stamped now with its publisher's next sequence number. Over HTTP the
 * connections take turns, and connection i stamps publisher --pub-id + i. */
static void pub_send(void)
{
    char v[1 << 16];
    size_t size = (size_t)opt.size < sizeof(v) ? (size_t)opt.size : sizeof(v);
    http_pub_t *h = pub.rk != NULL ? NULL : &pub.hp[pub.sent % (uint64_t)pub.nhp];
    uint64_t seq = h != NULL ? h->seq++ : pub.seq++;
    int who = opt.pub_id + (h != NULL ? (int)(h - pub.hp) : 0);
    int n = snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64 " %d ", now_ns(), seq, who);
    size_t len = (size_t)n < size ? size : (size_t)n;
    if ((size_t)n < len)
        memset(v + n, 'x', len - (size_t)n);
    pub.sent++;
    if (pub.rk != NULL) {
        if (rd_kafka_producev(pub.rk, RD_KAFKA_V_TOPIC(opt.topic), RD_KAFKA_V_VALUE(v, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0)
            pub.errors++;
        return;
    }
    char head[2600];
    int hn = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                      pub.path, pub.authority, len);
    if (h->out_len + (size_t)hn + len > h->out_cap) {
        h->out_cap = (h->out_len + (size_t)hn + len) * 2;
        h->out = rc_realloc(h->out, h->out_cap);
    }
    memcpy(h->out + h->out_len, head, (size_t)hn);
    memcpy(h->out + h->out_len + hn, v, len);
    h->out_len += (size_t)hn + len;
    h->outstanding++;
    http_pub_service(h);
}

static void pub_poll(void)
{
    if (pub.rk != NULL)
        rd_kafka_poll(pub.rk, 0);
    for (int i = 0; i < pub.nhp; i++)
        http_pub_service(&pub.hp[i]);
}

/* Publishes at opt.rate for secs (or only waits when there is no publisher). */
static void pub_run(double secs, double rate, int (*stop)(void))
{
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), done = 0;
    while (now_ns() < end) {
        if (stop != NULL && stop())
            return;
        if (pub.rk != NULL || pub.nhp > 0) {
            uint64_t due = (uint64_t)((double)(now_ns() - t0) / 1e9 * rate);
            for (; done < due; done++)
                pub_send();
            pub_poll();
        }
        usleep(500);
    }
}

static void pub_close(void)
{
    if (pub.rk != NULL) {
        rd_kafka_flush(pub.rk, 5000);
        rd_kafka_destroy(pub.rk);
    }
    uint64_t until = now_ns() + 3000000000ull;
    for (int i = 0; i < pub.nhp; i++) {
        while (pub.hp[i].outstanding > 0 && now_ns() < until) {
            http_pub_service(&pub.hp[i]);
            usleep(1000);
        }
        close(pub.hp[i].fd);
        free(pub.hp[i].out);
    }
    free(pub.hp);
}

/* --- the coordinator: phases, publisher, servers' figures --------------------------------------- */
static struct {
    double server_cpu0[MAX_SERVERS], server_cpu1[MAX_SERVERS];
    uint64_t rss_before[MAX_SERVERS], rss_idle[MAX_SERVERS], rss_end[MAX_SERVERS];
    double measured_s, pub_cpu;
    int nprocs;
} run;

/* Every stream answered or failed (which 0), or ended or failed: nothing more can arrive (1). */
static int all_flag(int which)
{
    for (int i = 0; i < run.nprocs; i++) {
        const proc_result_t *r = &shm->r[i];
        uint64_t settled = __atomic_load_n(&r->streams_failed, __ATOMIC_RELAXED) +
                           __atomic_load_n(which ? &r->ended : &r->streams_ready, __ATOMIC_RELAXED);
        if (__atomic_load_n(&r->streams, __ATOMIC_RELAXED) == 0 && opt.streams > 0)
            return 0; /* not started yet */
        if (settled < r->streams)
            return 0;
    }
    return 1;
}

static int all_finished(void)
{
    return all_flag(1);
}

static int all_ready(void)
{
    return all_flag(0);
}

/* Every connection was established (its requests sent) or failed. A server holds a stream from its
 * request on, though it may answer only with the stream's first bytes (an event or a heartbeat):
 * this, not the answers, is when a server's idle memory per stream is read. */
static int all_asked(void)
{
    for (int i = 0; i < run.nprocs; i++) {
        const proc_result_t *r = &shm->r[i];
        if (__atomic_load_n(&r->streams, __ATOMIC_RELAXED) == 0 && opt.streams > 0)
            return 0;
        if (__atomic_load_n(&r->conns_done, __ATOMIC_RELAXED) < r->conns)
            return 0;
    }
    return 1;
}

/* Waits until cond() holds or timeout_s passed; says so on stderr if it did not. */
static int wait_until(int (*cond)(void), double timeout_s, const char *what)
{
    uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
    while (!cond() && now_ns() < deadline)
        usleep(5000);
    if (cond())
        return 1;
    fprintf(stderr, "ringcast-bench: %s within %.0f s\n", what, timeout_s);
    return 0;
}

static void servers(double *cpu, uint64_t *rss)
{
    for (int i = 0; i < opt.nservers; i++) {
        double c;
        uint64_t m;
        server_stat(opt.server_pid[i], &c, &m);
        if (cpu)
            cpu[i] = c;
        if (rss)
            rss[i] = m;
    }
}

/* Without a publisher every event from the first connection on is measured. The idle memory is read
 * --settle after every request was sent; the run lasts --duration and ends early when every stream
 * ended. */
static void coordinate_passive(void)
{
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(opt.duration * 1e9), asked_at = 0, answered_at = 0;
    int idle_read = 0;
    while (!all_finished()) {
        uint64_t t = now_ns();
        if (asked_at == 0 && all_asked())
            asked_at = t;
        if (asked_at && !answered_at && (all_ready() || t >= asked_at + (uint64_t)(ANSWER_WAIT_S * 1e9)))
            answered_at = t;
        if (answered_at && !idle_read && t >= answered_at + (uint64_t)(opt.settle * 1e9)) {
            servers(NULL, run.rss_idle);
            idle_read = 1;
        }
        if (t >= end && (idle_read || t >= t0 + (uint64_t)(opt.connect_timeout * 1e9)))
            break;
        usleep(2000);
    }
    if (!idle_read)
        servers(NULL, run.rss_idle);
    atomic_store(&shm->phase, PH_DONE);
    run.measured_s = (double)(now_ns() - t0) / 1e9;
    servers(run.server_cpu1, run.rss_end);
}

static void coordinate(void)
{
    if (opt.kafka == NULL && opt.publish_url == NULL) {
        coordinate_passive();
        return;
    }
    wait_until(all_asked, opt.connect_timeout, "not every connection was established");
    uint64_t answers_by = now_ns() + (uint64_t)(ANSWER_WAIT_S * 1e9);
    while (!all_ready() && now_ns() < answers_by)
        usleep(5000);
    usleep((useconds_t)(opt.settle * 1e6)); /* let the servers settle before their idle memory is read */
    servers(NULL, run.rss_idle);
    pthread_t watcher;
    int watching = 0;
    if (opt.ring != NULL && seen_ns != NULL)
        watching = pthread_create(&watcher, NULL, watch_ring, (void *)opt.ring) == 0;
    double cpu_pub0 = thread_cpu(RUSAGE_THREAD);
    pub_open();
    atomic_store(&shm->phase, PH_WARMUP);
    if (opt.warmup > 0) {
        /* A producer's first records wait for connections and metadata, and the servers' first
         * deliveries touch cold paths: a second of events before measuring keeps that out. */
        pub_send();
        if (pub.rk != NULL)
            rd_kafka_flush(pub.rk, 10000);
        double r = opt.rate < 100 ? opt.rate : 100;
        pub_run(opt.warmup, r, NULL);
    }
    /* Servers that answer a stream only with its first bytes have answered them all by now. */
    wait_until(all_ready, opt.connect_timeout, "not every stream answered");
    pub_run(0.3, 0, NULL);
    servers(run.server_cpu0, NULL);
    uint64_t t0 = now_ns();
    atomic_store(&shm->phase, PH_MEASURE);
    pub_run(opt.duration, opt.rate, opt.streams > 0 ? all_finished : NULL); /* --streams 0: publish only */
    atomic_store(&shm->phase, PH_DONE);
    run.measured_s = (double)(now_ns() - t0) / 1e9;
    servers(run.server_cpu1, run.rss_end);
    pub_close();
    run.pub_cpu = thread_cpu(RUSAGE_THREAD) - cpu_pub0;
    if (watching) {
        atomic_store(&watcher_stop, 1);
        pthread_join(watcher, NULL);
    }
}

static void *coordinate_thread(void *arg)
{
    (void)arg;
    coordinate();
    return NULL;
}

/* --- report --------------------------------------------------------------------------------------- */

static void report(const proc_result_t *t, double client_cpu)
{
    double secs = run.measured_s > 0 ? run.measured_s : 1;
    double evs = (double)t->events / secs, mev = (double)t->events / 1e6;
    double server_cpu = 0;
    uint64_t rss_before = 0, rss_idle = 0, rss_end = 0;
    for (int i = 0; i < opt.nservers; i++) {
        server_cpu += run.server_cpu1[i] - run.server_cpu0[i];
        rss_before += run.rss_before[i];
        rss_idle += run.rss_idle[i];
        rss_end += run.rss_end[i];
    }
    double per_stream = t->streams_asked ? ((double)rss_idle - (double)rss_before) / (double)t->streams_asked : 0;
    const char *proto = opt.h2 ? (target.tls ? "h2" : "h2c") : (target.tls ? "http/1.1+tls" : "http/1.1");
    const char *via = opt.kafka ? "kafka" : opt.publish_url ? "http" : "none";
    printf("ringcast-bench%s%s: %" PRIu64 " streams over %" PRIu64 " connections (%s), %d client process%s\n",
           opt.label ? " " : "", opt.label ? opt.label : "", t->streams, t->conns, proto, run.nprocs,
           run.nprocs > 1 ? "es" : "");
    printf("  streams ready %" PRIu64 " (unanswered at the end %" PRIu64 "), connect errors %" PRIu64
           ", HTTP errors %" PRIu64 ", ended by the server %" PRIu64 ", parse errors %" PRIu64 "\n",
           t->streams_ready, t->unanswered, t->connect_errors, t->http_errors, t->ended, t->parse_errors);
    printf("  published %" PRIu64 " events (%.0f/s of %ld B via %s; %" PRIu64 " acknowledged, %" PRIu64 " errors)\n",
           pub.sent, opt.rate, opt.size, via, pub.acked, pub.errors);
    printf("  delivered %" PRIu64 " events in %.2f s = %.0f events/s", t->events, secs, evs);
    if (opt.rate > 0 && t->streams_ready)
        printf(" (%.1f%% of %.0f/s published x streams)", 100 * evs / (opt.rate * (double)t->streams_ready),
               opt.rate * (double)t->streams_ready);
    printf("; %" PRIu64 " comments\n", t->comments);
    if (t->lat.count)
        printf("  latency publish->client: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us (%" PRIu64
               " samples)\n",
               hist_quantile(&t->lat, 0.5) / 1e3, hist_quantile(&t->lat, 0.99) / 1e3,
               hist_quantile(&t->lat, 0.999) / 1e3, (double)t->lat.max / 1e3, t->lat.count);
    if (t->ring_lat.count)
        printf("  latency ring->client: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
               hist_quantile(&t->ring_lat, 0.5) / 1e3, hist_quantile(&t->ring_lat, 0.99) / 1e3,
               hist_quantile(&t->ring_lat, 0.999) / 1e3, (double)t->ring_lat.max / 1e3);
    printf("  sequence: gaps %" PRIu64 " (events missing %" PRIu64 "), duplicates or out of order %" PRIu64
           ", events without a stamp %" PRIu64 "\n",
           t->gaps, t->missing, t->dups, t->untimed);
    printf("  client CPU: %.2f s receiving (%.0f%% of one core, %.2f CPU-s per million events), %.2f s publishing\n",
           client_cpu, 100 * client_cpu / secs, mev > 0 ? client_cpu / mev : 0, run.pub_cpu);
    if (opt.nservers)
        printf("  server CPU: %.2f s (%.0f%% of one core) = %.2f CPU-s per million delivered events; memory (PSS) "
               "%.1f MiB before, %.1f MiB idle with the streams = %.2f KiB per stream, %.1f MiB at the end\n",
               server_cpu, 100 * server_cpu / secs, mev > 0 ? server_cpu / mev : 0, (double)rss_before / 1048576,
               (double)rss_idle / 1048576, per_stream / 1024, (double)rss_end / 1048576);
    if (opt.json == NULL)
        return;
    FILE *f = fopen(opt.json, "w");
    if (f == NULL)
        die("cannot write %s", opt.json);
    fprintf(f, "{\"label\":\"%s\",\"protocol\":\"%s\",\"procs\":%d,\"streams\":%" PRIu64 ",\"connections\":%" PRIu64,
            opt.label ? opt.label : "", proto, run.nprocs, t->streams, t->conns);
    fprintf(f,
            ",\"streams_asked\":%" PRIu64 ",\"streams_ready\":%" PRIu64 ",\"unanswered\":%" PRIu64
            ",\"connect_errors\":%" PRIu64 ",\"http_errors\":%" PRIu64 ",\"ended\":%" PRIu64
            ",\"parse_errors\":%" PRIu64,
            t->streams_asked, t->streams_ready, t->unanswered, t->connect_errors, t->http_errors, t->ended,
            t->parse_errors);
    fprintf(f,
            ",\"publisher\":\"%s\",\"rate\":%.0f,\"size\":%ld,\"published\":%" PRIu64 ",\"acked\":%" PRIu64
            ",\"publish_errors\":%" PRIu64,
            via, opt.rate, opt.size, pub.sent, pub.acked, pub.errors);
    fprintf(f, ",\"seconds\":%.3f,\"events\":%" PRIu64 ",\"events_per_s\":%.1f,\"bytes\":%" PRIu64, secs, t->events,
            evs, t->bytes);
    fprintf(f,
            ",\"comments\":%" PRIu64 ",\"gaps\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dups\":%" PRIu64
            ",\"untimed\":%" PRIu64,
            t->comments, t->gaps, t->missing, t->dups, t->untimed);
    fprintf(f, ",\"latency_us\":{\"samples\":%" PRIu64 ",\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            t->lat.count, hist_quantile(&t->lat, 0.5) / 1e3, hist_quantile(&t->lat, 0.99) / 1e3,
            hist_quantile(&t->lat, 0.999) / 1e3, (double)t->lat.max / 1e3);
    fprintf(f, ",\"ring_latency_us\":{\"samples\":%" PRIu64 ",\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            t->ring_lat.count, hist_quantile(&t->ring_lat, 0.5) / 1e3, hist_quantile(&t->ring_lat, 0.99) / 1e3,
            hist_quantile(&t->ring_lat, 0.999) / 1e3, (double)t->ring_lat.max / 1e3);
    fprintf(f, ",\"client_cpu_s\":%.3f,\"client_cpu_per_mevent\":%.3f,\"publisher_cpu_s\":%.3f", client_cpu,
            mev > 0 ? client_cpu / mev : 0, run.pub_cpu);
    fprintf(f,
            ",\"server_cpu_s\":%.3f,\"server_cpu_per_mevent\":%.3f,\"server_pss_before\":%" PRIu64
            ",\"server_pss_idle\":%" PRIu64 ",\"server_pss_end\":%" PRIu64 ",\"pss_per_stream\":%.0f",
            server_cpu, mev > 0 ? server_cpu / mev : 0, rss_before, rss_idle, rss_end, per_stream);
    /* Each --server-pid group on its own, so a reader can tell e.g. the edge from the bridge. */
    fprintf(f, ",\"servers\":[");
    for (int i = 0; i < opt.nservers; i++)
        fprintf(f,
                "%s{\"pid\":%d,\"cpu_s\":%.3f,\"cpu_per_mevent\":%.3f,\"pss_before\":%" PRIu64 ",\"pss_idle\":%" PRIu64
                ",\"pss_end\":%" PRIu64 "}",
                i ? "," : "", opt.server_pid[i], run.server_cpu1[i] - run.server_cpu0[i],
                mev > 0 ? (run.server_cpu1[i] - run.server_cpu0[i]) / mev : 0, run.rss_before[i], run.rss_idle[i],
                run.rss_end[i]);
    fprintf(f, "]}\n");
    fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ringcast-bench --url http[s]://HOST:PORT/PATH [options]\n"
            "  --streams N          event streams to hold (default 1)\n"
            "  --conns M            connections (default N over HTTP/1.1, N/100 rounded up over HTTP/2)\n"
            "  --h2                 HTTP/2: h2c with prior knowledge on http://, h2 by ALPN on https://\n"
            "  --ramp CPS           connections opened per second (default 5000)\n"
            "  --procs K            client processes (default: enough to stay under the open-files cap)\n"
            "  --src-ips K          loopback source addresses 127.0.0.1..K (more than ~28k connections)\n"
            "  --duration S         measured seconds (default 10); the run ends early when every stream ended\n"
            "  --rate R             events published per second (default 0)\n"
            "  --size B             event payload bytes (default 100)\n"
            "  --kafka BOOTSTRAP    publish into Kafka (or @FILE, e.g. <ring.dir>/kafka-bootstrap)\n"
            "  --topic T            ... into this topic\n"
            "  -X KEY=VALUE         a librdkafka producer property\n"
            "  --publish-url URL    publish with HTTP POST (e.g. nchan's publisher location)\n"
            "  --publish-conns C    HTTP publisher connections, requests pipelined; each is a publisher\n"
            "                       of its own (ids --pub-id.. --pub-id + C - 1) in the stamps (default 1)\n"
            "  --pub-id P           this publisher's number in the stamp, 0..%d (default 0)\n"
            "  --ring FILE          also ring->client latency (a watcher on ringcast's ring)\n"
            "  --server-pid PID     a server process (with its children) to read CPU and memory (PSS) of; repeatable\n"
            "  --warmup S           seconds of events before measuring (default 1)\n"
            "  --settle S           seconds between the last stream answering and the idle memory (default 1)\n"
            "  --connect-timeout S  how long every stream may take to answer (default 60)\n"
            "  --json FILE          the figures as one JSON object\n"
            "  --dump FILE          every event parsed, one line each (S<stream> event <type> id <id> data <data>)\n"
            "  --label TEXT         names the run in the output\n",
            MAX_PUB - 1);
}

/* The long options: each writes one field of opt, by the kind of its value. */
enum { K_STR, K_LONG, K_INT, K_DBL, K_FLAG, K_PID };
static const struct {
    const char *name;
    int kind;
    void *to;
} options[] = {
    {"url", K_STR, &opt.url},
    {"streams", K_LONG, &opt.streams},
    {"conns", K_LONG, &opt.conns},
    {"h2", K_FLAG, &opt.h2},
    {"ramp", K_DBL, &opt.ramp},
    {"procs", K_INT, &opt.procs},
    {"src-ips", K_INT, &opt.src_ips},
    {"duration", K_DBL, &opt.duration},
    {"rate", K_DBL, &opt.rate},
    {"size", K_LONG, &opt.size},
    {"kafka", K_STR, &opt.kafka},
    {"topic", K_STR, &opt.topic},
    {"publish-url", K_STR, &opt.publish_url},
    {"publish-conns", K_INT, &opt.publish_conns},
    {"pub-id", K_INT, &opt.pub_id},
    {"ring", K_STR, &opt.ring},
    {"server-pid", K_PID, NULL},
    {"warmup", K_DBL, &opt.warmup},
    {"settle", K_DBL, &opt.settle},
    {"connect-timeout", K_DBL, &opt.connect_timeout},
    {"json", K_STR, &opt.json},
    {"dump", K_STR, &opt.dump},
    {"label", K_STR, &opt.label},
};

int main(int argc, char **argv)
{
    struct option longs[RC_ARRAY_SIZE(options) + 2];
    for (size_t i = 0; i < RC_ARRAY_SIZE(options); i++)
        longs[i] = (struct option){options[i].name, options[i].kind != K_FLAG, NULL, 256 + (int)i};
    longs[RC_ARRAY_SIZE(options)] = (struct option){"help", 0, NULL, 'h'};
    longs[RC_ARRAY_SIZE(options) + 1] = (struct option){NULL, 0, NULL, 0};
    int ch;
    while ((ch = getopt_long(argc, argv, "X:h", longs, NULL)) != -1) {
        if (ch >= 256 && ch < 256 + (int)RC_ARRAY_SIZE(options)) {
            void *to = options[ch - 256].to;
            switch (options[ch - 256].kind) {
            case K_STR:
                *(const char **)to = optarg;
                break;
            case K_LONG:
                *(long *)to = atol(optarg);
                break;
            case K_INT:
                *(int *)to = atoi(optarg);
                break;
            case K_DBL:
                *(double *)to = atof(optarg);
                break;
            case K_FLAG:
                *(int *)to = 1;
                break;
            case K_PID:
                if (opt.nservers == MAX_SERVERS)
                    die("at most %s --server-pid", "8");
                opt.server_pid[opt.nservers++] = atoi(optarg);
                break;
            }
        } else if (ch == 'X') {
            if (opt.nkprops == (int)RC_ARRAY_SIZE(opt.kprops))
                die("too many -X (%s)", optarg);
            opt.kprops[opt.nkprops++] = optarg;
        } else if (ch == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (opt.url == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (parse_url(opt.url, &target.tls, target.host, sizeof(target.host), &target.port, target.path,
                  sizeof(target.path)) != 0)
        die("--url %s: want http[s]://HOST:PORT/PATH", opt.url);
    if (resolve(target.host, target.port, &target.sa) != 0)
        die("cannot resolve %s", target.host);
    snprintf(target.authority, sizeof(target.authority), "%s:%d", target.host, target.port);
    if (opt.streams < 0 || opt.duration <= 0 || opt.ramp <= 0 || opt.rate < 0 || opt.pub_id < 0 || opt.size < 0 ||
        opt.pub_id + opt.publish_conns > MAX_PUB || opt.publish_conns < 1 || opt.src_ips < 1)
        die("%s", "a numeric option is out of range (see --help)");
    if (opt.kafka != NULL && opt.topic == NULL)
        die("%s", "--kafka needs --topic");
    if (opt.kafka != NULL && opt.publish_url != NULL)
        die("%s", "--kafka and --publish-url: choose one");
    if (opt.conns <= 0)
        opt.conns = opt.h2 ? (opt.streams + 99) / 100 : opt.streams;
    if (!opt.h2 && opt.conns != opt.streams)
        die("%s", "HTTP/1.1 holds one stream per connection: --conns must equal --streams");
    if (opt.conns > opt.streams)
        opt.conns = opt.streams;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    long per_proc_cap = (long)rl.rlim_cur - 200;
    if (opt.procs <= 0)
        opt.procs = (int)((opt.conns + per_proc_cap - 1) / per_proc_cap);
    if (opt.procs < 1)
        opt.procs = 1;
    if (opt.procs > MAX_PROCS)
        die("at most %s client processes", "64");
    if ((opt.conns + opt.procs - 1) / opt.procs > per_proc_cap)
        die("%s", "more connections per process than open files allow: raise --procs");
    if (opt.dump != NULL) {
        if (opt.procs > 1)
            die("%s", "--dump needs one client process");
        dump = fopen(opt.dump, "w");
        if (dump == NULL)
            die("cannot write %s", opt.dump);
        keep = KEEP_DUMP;
    }
    if (target.tls) {
        ssl_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL); /* a benchmark of self-signed test servers */
        SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        static const unsigned char h2[] = "\x02h2", h1[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ssl_ctx, opt.h2 ? h2 : h1, opt.h2 ? 3 : 9);
    }
    signal(SIGPIPE, SIG_IGN);

    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    if (opt.ring != NULL && opt.rate > 0) {
        max_seq = (uint64_t)(opt.rate * (opt.duration + opt.warmup + 5)) + 1000;
        seen_ns = mmap(NULL, max_seq * sizeof(*seen_ns), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (seen_ns == MAP_FAILED)
            die("mmap: %s", strerror(errno));
    }
    run.nprocs = opt.procs;
    servers(run.server_cpu0, run.rss_before);
    if (opt.kafka == NULL && opt.publish_url == NULL)
        atomic_store(&shm->phase, PH_MEASURE); /* passive: measured from the first connection on */

    double client_cpu = 0;
    if (opt.procs == 1) {
        pthread_t co;
        pthread_create(&co, NULL, coordinate_thread, NULL);
        run_client(0, 0, opt.conns);
        pthread_join(co, NULL);
    } else {
        pid_t kids[MAX_PROCS];
        for (int i = 0; i < opt.procs; i++) {
            kids[i] = fork();
            if (kids[i] < 0)
                die("fork: %s", strerror(errno));
            if (kids[i] == 0) {
                run_client(i, opt.conns * i / opt.procs, opt.conns * (i + 1) / opt.procs);
                _exit(0);
            }
        }
        coordinate();
        for (int i = 0; i < opt.procs; i++) {
            int st;
            waitpid(kids[i], &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "ringcast-bench: client process %d failed\n", i);
        }
    }
    proc_result_t *total = rc_calloc(1, sizeof(*total));
    for (int i = 0; i < opt.procs; i++) {
        const proc_result_t *r = &shm->r[i];
#define SUM(name) total->name += r->name;
        COUNTERS(SUM)
#undef SUM
        hist_merge(&total->lat, &r->lat);
        hist_merge(&total->ring_lat, &r->ring_lat);
        client_cpu += r->cpu_s;
    }
    report(total, client_cpu);
    if (dump != NULL)
        fclose(dump);
    /* Every stream refused or failed: nothing was measured, a failed run. */
    int rc = total->streams > 0 && total->streams_ready == 0 && total->unanswered == 0;
    free(total);
    return rc;
}

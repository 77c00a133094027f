/*
 * One ringcast-edge worker: an h2o event loop serving the streams of the rings it maps read-only.
 *
 * Fan-out: a client is a cursor into its stream's ring, a filter and at most one chunk of records
 * in flight; there is no per-client queue. A chunk is a copy of contiguous ring records made once
 * and shared by every client at the same position: clients that are caught up all wait at the head
 * and, when the bridge wakes the worker, the first of them copies the new records and the others
 * send the same bytes. The frames come encoded from the bridge: sending is choosing records and
 * pointing iovecs at them.
 *
 * Two transports carry a stream. HTTP/2 streams are h2o responses (a generator: h2o_send, then
 * proceed). An HTTP/1.x stream owns its socket once h2o has written the response headers
 * (h2o_http1_upgrade with status 200): h2o frees the connection and the request with its 4 KiB
 * memory pool and 4 KiB input buffer, which an endless response would otherwise hold for life, and
 * the worker writes the chunked body itself. An idle HTTP/1.1 stream then costs its socket and its
 * client, well under a kilobyte. A finite HTTP/1.1 stream (limit=, timeout=) ends with the last
 * chunk and its connection goes back to h2o for the next request (keep-alive).
 */

#include <h2o.h>
#include <h2o/http1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "edge.h"
#include "eventid.h"
#include "guard.h"
#include "log.h"
#include "publish.h"
#include "query.h"
#include "reload.h"
#include "ring.h"
#include "util.h"
#include "wake.h"

#define CHUNK_BYTES   (64u << 10)     /* records copied from a ring at once: what a worker holds for one client */
#define UNSENT_MAX    (64 << 10)      /* TCP_NOTSENT_LOWAT: bytes the kernel queues unsent for one connection */
#define SEND_IOV      512             /* frames per h2o_send */
#define RECENT_CHUNKS 4               /* chunks a stream keeps for clients at other positions */
#define PUMP_ROUNDS   8               /* chunks a client may skip over (all filtered out) before yielding */
#define HOUSEKEEP_MS  1000            /* ring (re)opening, bridge reconnection, timeout= deadlines */
#define DRAIN_MS      5000            /* longest a stopping worker waits for its streams to end */
#define HEALTHY_HB_NS (5000000000ull) /* a bridge heartbeat older than this makes /healthz fail */
#define TRIM_STREAMS  1000            /* streams closed since the peak that make a worker return freed memory */
#define LAST_ID_MAX   46              /* ids a client keeps to resume from when lapped: ~20 partitions */

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

/* Per lane of a resumed client: offsets below `below` were delivered already, and so was every
 * record of the lane with a seq below `history_end` (an older history, and the RESET that ended it,
 * when the client's id placed the partition after that reset). */
typedef struct st_resume_lane_t {
    int64_t below;
    uint64_t history_end;
} resume_lane_t;

typedef struct st_client_t {
    h2o_generator_t super; /* HTTP/2: h2o calls proceed when a send is done, stop when the client left */
    h2o_req_t *req;        /* HTTP/2; HTTP/1.x only until the headers are written */
    h2o_socket_t *sock;    /* HTTP/1.x: the connection, the client's own after the headers */
    struct timeval connected_at;
    stream_t *st;
    rc_cursor_t cur;
    struct st_resume_lane_t *skip; /* per lane, when resuming: what the client had already */
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

static worker_t W;

static uint64_t now_ms(void)
{
    return h2o_now(W.ctx.loop);
}

/* --- chunks ------------------------------------------------------------------------------------- */

static void chunk_release(chunk_t *ch)
{
    if (ch != NULL && --ch->refs == 0)
        free(ch);
}

static int chunk_covers(const chunk_t *ch, rc_cursor_t cur)
{
    return ch->start.pos <= cur.pos && cur.pos < ch->end.pos && ch->start.seq <= cur.seq;
}

/* A chunk holding the client's next record: the one it holds if it reads on in it, else one of the
 * stream's recent copies if one covers it (clients at the head share the newest, clients a little
 * behind an older one), else a new copy from there of at most CHUNK_BYTES (or of the one record, if
 * larger): a client far behind costs its worker one such chunk, whatever the ring's size. The
 * client parses it from its cursor: *off is where. */
static rc_read_t chunk_at(stream_t *st, client_t *cl, chunk_t **out, size_t *off)
{
    chunk_t *held = cl->chunk;
    cl->chunk = NULL;
    if (held != NULL && chunk_covers(held, cl->cur)) {
        *out = held; /* the client's reference goes with it */
        *off = (size_t)(cl->cur.pos - held->start.pos);
        return RC_READ_OK;
    }
    chunk_release(held);
    rc_cursor_t cur = cl->cur;
    for (int i = 0; i < RECENT_CHUNKS && st->recent[i] != NULL; i++) {
        chunk_t *ch = st->recent[i];
        if (chunk_covers(ch, cur)) {
            ch->refs++;
            *out = ch;
            *off = (size_t)(cur.pos - ch->start.pos);
            return RC_READ_OK;
        }
    }
    rc_cursor_t head;
    if (rc_ring_head(st->ring, &head) != 0)
        return RC_READ_EMPTY;
    if (head.pos == cur.pos)
        return RC_READ_EMPTY;
    size_t cap = CHUNK_BYTES;
    if (head.pos > cur.pos && head.pos - cur.pos < cap)
        cap = (size_t)(head.pos - cur.pos); /* what there is: a 100-byte batch is not a 64 KiB copy */
    chunk_t *ch = rc_malloc(sizeof(*ch) + cap);
    rc_cursor_t c = cur;
    rc_read_t r = rc_ring_read(st->ring, &c, ch->data, cap, &ch->len);
    if (r == RC_READ_TOOBIG && cur.seq != RC_SEQ_UNKNOWN) {
        /* One record larger than a chunk (or the wrap's padding before it): a chunk of just that. */
        rc_cursor_t at;
        rc_rec_hdr_t hd;
        if (rc_ring_peek(st->ring, cur.seq, &at, &hd) == RC_FOUND && at.pos >= cur.pos &&
            at.pos - cur.pos <= rc_ring_max_record(st->ring)) {
            cl->cur = cur = at; /* past the padding, if any: the same record */
            cap = RC_RING_ALIGN((size_t)hd.len);
            ch = rc_realloc(ch, sizeof(*ch) + cap);
            c = cur;
            r = rc_ring_read(st->ring, &c, ch->data, cap, &ch->len);
        }
    }
    if (r != RC_READ_OK) {
        free(ch);
        return r;
    }
    ch->refs = 2; /* the caller's and the stream's */
    ch->start = cur;
    ch->end = c;
    chunk_release(st->recent[RECENT_CHUNKS - 1]);
    memmove(st->recent + 1, st->recent, (RECENT_CHUNKS - 1) * sizeof(st->recent[0]));
    st->recent[0] = ch;
    *out = ch;
    *off = 0;
    return RC_READ_OK;
}

/* Drops the stream's copies (its ring went away or was replaced). */
static void chunks_forget(stream_t *st)
{
    for (int i = 0; i < RECENT_CHUNKS; i++) {
        chunk_release(st->recent[i]);
        st->recent[i] = NULL;
    }
}

/* --- clients ---------------------------------------------------------------------------------- */

static void defer_pump(client_t *c);

/* If the client has had everything up to the ring's head, it waits there for the bridge's next
 * wake-up: returns 1. Else 0 (it has more to read). */
static int wait_at_head(client_t *c)
{
    rc_cursor_t head;
    if (rc_ring_head(c->st->ring, &head) != 0 || head.pos != c->cur.pos)
        return 0;
    if (!c->waiting) {
        h2o_linklist_insert(&c->st->waiting, &c->link_wait);
        c->waiting = 1;
    }
    return 1;
}

static void unwait(client_t *c)
{
    if (c->waiting) {
        h2o_linklist_unlink(&c->link_wait);
        c->waiting = 0;
    }
}

static void on_h1_written(h2o_socket_t *sock, const char *err);

/* "<len in hex>\r\n" into dst (20 bytes); its length. (snprintf cost more than the rest of a send.) */
static size_t chunk_size_line(char *dst, size_t len)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[len & 15];
        len >>= 4;
    } while (len != 0);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    dst[n] = '\r';
    dst[n + 1] = '\n';
    return n + 2;
}

/* Sends iov[0..n) (n < SEND_IOV) and, if final, ends the stream. iov has room for two more entries:
 * an HTTP/1.1 write is one chunk, its size line in front and its CRLF (and the last chunk) behind. */
static void send_frames(client_t *c, h2o_iovec_t *iov, size_t n, int final)
{
    c->inflight = 1;
    c->last_send_ms = now_ms();
    if (final)
        c->final_sent = 1;
    if (c->sock == NULL) {
        h2o_send(c->req, iov, n, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
        return;
    }
    if (c->chunked) {
        static const h2o_iovec_t crlf = {(char *)"\r\n", 2}, crlf_last = {(char *)"\r\n0\r\n\r\n", 7},
                                 last = {(char *)"0\r\n\r\n", 5};
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += iov[i].len;
        if (len == 0) {
            n = 0;
            if (final)
                iov[n++] = last;
        } else {
            memmove(iov + 1, iov, n * sizeof(*iov));
            iov[0] = h2o_iovec_init(c->chunk_head, chunk_size_line(c->chunk_head, len));
            iov[++n] = final ? crlf_last : crlf;
            n++;
        }
    }
    if (n == 0) {
        on_h1_written(c->sock, NULL); /* a final write of nothing (HTTP/1.0: the close ends it) */
        return;
    }
    h2o_socket_write(c->sock, iov, n, on_h1_written);
}

/* Appends bytes to the client's preamble (sent before its next frames). */
static void add_pre(client_t *c, const char *p, size_t len)
{
    c->pre = rc_realloc(c->pre, c->pre_len + len);
    memcpy(c->pre + c->pre_len, p, len);
    c->pre_len += len;
}

/* Moves the preamble into iov: it stays allocated until the send is done. */
static void take_pre(client_t *c, h2o_iovec_t *iov, size_t *n)
{
    if (c->pre_len == 0)
        return;
    iov[(*n)++] = h2o_iovec_init(c->pre, c->pre_len);
    free(c->pre_sent);
    c->pre_sent = c->pre;
    c->pre = NULL;
    c->pre_len = 0;
}

/* Appends an SSE event without id (gap, reset) to the client's preamble. */
static void add_event(client_t *c, const char *event, const char *json)
{
    add_pre(c, H2O_STRLIT("event: "));
    add_pre(c, event, strlen(event));
    add_pre(c, H2O_STRLIT("\ndata: "));
    add_pre(c, json, strlen(json));
    add_pre(c, H2O_STRLIT("\n\n"));
}

/* True if bytes p[0..len) equal one of the n values. */
static int matches_any(const h2o_iovec_t *vals, size_t n, const void *p, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (vals[i].len == len && memcmp(vals[i].base, p, len) == 0)
            return 1;
    return 0;
}

/* A record passes if it matches one value of each filter given. */
static int wants(const client_t *c, const rc_record_t *r)
{
    const filter_t *q = &c->f;
    if (q->n_partitions) {
        size_t i;
        for (i = 0; i < q->n_partitions && q->partitions[i] != r->h.partition; i++)
            ;
        if (i == q->n_partitions)
            return 0;
    }
    if (r->h.type == RC_REC_RESET)
        return 1; /* a partition's history restarted: every reader of it must know */
    if (q->keys_only && (r->h.flags & (RC_RECF_NULL_KEY | RC_RECF_KEY_UNKNOWN)))
        return 0; /* a key-limited token: a record whose key is not one of its keys is not its to see */
    /* A SKIP record whose key or event type did not fit is told to every client it might concern. */
    return (q->n_keys == 0 || (r->h.flags & RC_RECF_KEY_UNKNOWN) ||
            matches_any(q->keys, q->n_keys, r->key, r->h.key_len)) &&
           (q->n_events == 0 || (r->h.flags & RC_RECF_EVENT_UNKNOWN) ||
            matches_any(q->events, q->n_events, r->event, r->h.event_len));
}

static int resume(client_t *c, const char *id, size_t id_len, const char **why);

/* Keeps the id of a frame ("id: <id>\n..."), the client's position once it read that record. */
static void keep_last_id(client_t *c, const uint8_t *frame, uint32_t len)
{
    c->last_id_len = 0;
    if (len < 5 || memcmp(frame, "id: ", 4) != 0)
        return;
    const uint8_t *nl = memchr(frame + 4, '\n', len - 4 < LAST_ID_MAX + 1 ? len - 4 : LAST_ID_MAX + 1);
    if (nl == NULL)
        return; /* longer than last_id: the client goes without */
    c->last_id_len = (uint8_t)(nl - frame - 4);
    memcpy(c->last_id, frame + 4, c->last_id_len);
}

/* Sends what the client should get next, if nothing of it is in flight. */
static void pump(client_t *c)
{
    if (c->inflight || c->final_sent)
        return;
    stream_t *st = c->st;
    h2o_iovec_t iov[SEND_IOV + 2];
    size_t n = 0;
    if (c->finished || st->ring == NULL || rc_ring_damaged(st->ring)) {
        take_pre(c, iov, &n);
        if (c->finished) {
            unwait(c);
            send_frames(c, iov, n, 1);
        } else if (n) {
            send_frames(c, iov, n, 0);
        }
        return; /* no ring at the moment: the stream stays open until it is back */
    }
    for (int round = 0; round < PUMP_ROUNDS && n == 0; round++) {
        chunk_t *ch;
        size_t off;
        rc_read_t r = chunk_at(st, c, &ch, &off);
        if (r == RC_READ_EMPTY)
            break;
        if (r == RC_READ_LAPPED) {
            /* Too slow for the ring: the client resumes from the last id it read, as it would on a
             * reconnect. The gap then names the offset ranges really gone, partition by partition. */
            const char *why;
            int rr = c->last_id_len ? resume(c, c->last_id, c->last_id_len, &why) : -1;
            if (rr >= 0) {
                if (rr == 1)
                    RC_EDGE_COUNT(st->ctr, gaps_lapped, 1);
                continue;
            }
            /* No id to resume from (nothing read yet, or an id too long to keep): count the records. */
            rc_cursor_t old;
            if (rc_ring_oldest(st->ring, &old) != 0)
                break;
            char json[160];
            snprintf(json, sizeof(json), "{\"missed\":%" PRIu64 ",\"reason\":\"client too slow for the ring\"}",
                     old.seq > c->cur.seq ? old.seq - c->cur.seq : 0);
            add_event(c, "gap", json);
            RC_EDGE_COUNT(st->ctr, gaps_lapped, 1);
            c->cur = old;
            continue;
        }
        if (r != RC_READ_OK && rc_ring_damaged(st->ring))
            break; /* truncated under the mapping: check_rings ends the stream with a retry hint */
        if (r != RC_READ_OK) {
            rc_warn("sse", "%s: ring read at seq %" PRIu64 ": %s; ending the stream", st->conf->name, c->cur.seq,
                    rc_read_str(r));
            c->finished = 1;
            break;
        }
        take_pre(c, iov, &n);
        size_t frames = 0, bytes = 0;
        rc_record_t rec;
        int first = 1;
        const uint8_t *last_frame = NULL; /* of the last record read past the resume's skips */
        uint32_t last_frame_len = 0;
        int bad = 0; /* a record of the copy that does not validate: never parsed past, never looped on */
        while (n < SEND_IOV) {
            if (!rc_ring_next_record(ch->data, ch->len, &off, &rec)) {
                bad = off < ch->len;
                break;
            }
            if (first && rec.h.seq != c->cur.seq) {
                rc_warn("sse", "%s: no record %" PRIu64 " where the stream expected it; ending the stream",
                        st->conf->name, c->cur.seq);
                c->finished = 1;
                break;
            }
            first = 0;
            c->cur.seq = rec.h.seq + 1;
            if (c->skip && rec.h.lane < c->n_skip) {
                resume_lane_t *sl = &c->skip[rec.h.lane];
                if (rec.h.seq < sl->history_end)
                    continue; /* before the history the client's id is in, or the RESET it has seen */
                if (rec.h.type == RC_REC_RESET)
                    sl->below = 0; /* a new history: all of it is new to the client */
                else if (rec.h.offset < sl->below)
                    continue;
            }
            last_frame = rec.frame;
            last_frame_len = rec.h.frame_len;
            if (!wants(c, &rec))
                continue;
            iov[n++] = h2o_iovec_init(rec.frame, rec.h.frame_len);
            frames++;
            bytes += rec.h.frame_len;
            if (rec.h.type == RC_REC_RESET)
                RC_EDGE_COUNT(st->ctr, resets, 1);
            if (rec.h.type == RC_REC_DATA && c->f.limit && ++c->sent >= c->f.limit) {
                c->finished = 1;
                break;
            }
        }
        if (bad) {
            rc_warn("sse", "%s: a record copied from the ring at seq %" PRIu64 " does not validate; ending the stream",
                    st->conf->name, c->cur.seq);
            c->finished = 1;
        }
        if (last_frame != NULL)
            keep_last_id(c, last_frame, last_frame_len);
        /* Whole chunk consumed, or stopped early (limit, iov full): the cursor follows what was taken. */
        if (off >= ch->len)
            c->cur = ch->end;
        else
            c->cur.pos = ch->start.pos + off;
        if (frames) {
            RC_EDGE_COUNT(st->ctr, events, frames);
            RC_EDGE_COUNT(st->ctr, bytes, bytes);
            c->chunk = ch;
        } else {
            chunk_release(ch);
        }
        if (c->finished)
            break;
    }
    if (n == 0)
        take_pre(c, iov, &n); /* the retry hint opens a stream at once, a gap or reset is said at once */
    if (n == 0 && !c->finished) {
        if (!wait_at_head(c))
            defer_pump(c); /* more records, all filtered out so far: continue on the next loop turn */
        return;
    }
    unwait(c);
    send_frames(c, iov, n, c->finished);
}

static void on_defer(h2o_timeout_entry_t *entry)
{
    (void)entry;
    /* Pumps queued from proceed callbacks and long skips run here, one loop turn later: a client
     * whose socket always takes more cannot keep the loop to itself. */
    h2o_linklist_t list;
    h2o_linklist_init_anchor(&list);
    h2o_linklist_insert_list(&list, &W.deferred);
    while (!h2o_linklist_is_empty(&list)) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_defer, list.next);
        h2o_linklist_unlink(&c->link_defer);
        c->deferred = 0;
        pump(c);
    }
}

static void defer_pump(client_t *c)
{
    if (!c->deferred) {
        c->deferred = 1;
        h2o_linklist_insert(&W.deferred, &c->link_defer);
    }
    if (!h2o_timeout_is_linked(&W.defer_entry))
        h2o_timeout_link(W.ctx.loop, &W.zero_timeout, &W.defer_entry);
}

/* A send is done: its preamble can go, and its chunk unless the client reads on in it. */
static void sent(client_t *c)
{
    c->inflight = 0;
    c->progress_ms = h2o_now(W.loop);
    if (c->chunk != NULL && !chunk_covers(c->chunk, c->cur)) {
        chunk_release(c->chunk);
        c->chunk = NULL;
    }
    free(c->pre_sent);
    c->pre_sent = NULL;
}

/* A send is done and the stream goes on: a client that has sent everything up to the head waits
 * there for the bridge's next wake-up (most of them, most of the time); one that has more to send
 * is pumped on the next loop turn, so that no client keeps the loop to itself. */
static void next_send(client_t *c)
{
    stream_t *st = c->st;
    if (c->pre_len == 0 && !c->finished && st->ring != NULL && !rc_ring_damaged(st->ring) && wait_at_head(c))
        return;
    defer_pump(c);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    client_t *c = (client_t *)g;
    sent(c);
    if (!c->final_sent)
        next_send(c);
}

/* Takes the client off every list of the worker; its memory goes with client_destroy. */
static void client_detach(client_t *c)
{
    if (c->link_all.next == NULL)
        return; /* h2o stopped the response, then disposed of the request: once is enough */
    unwait(c);
    if (c->deferred)
        h2o_linklist_unlink(&c->link_defer);
    c->deferred = 0;
    h2o_linklist_unlink(&c->link_all);
    c->link_all.next = NULL;
    c->st->n_clients--;
    if (c->h2)
        RC_EDGE_COUNT(c->st->ctr, open_h2, (uint64_t)-1);
    else
        RC_EDGE_COUNT(c->st->ctr, open_h1, (uint64_t)-1);
    chunk_release(c->chunk);
    c->chunk = NULL;
}

static void client_destroy(client_t *c)
{
    client_detach(c);
    rc_access_stream_end((size_t)W.id, c->ip_slot);
    free(c->pre);
    free(c->pre_sent);
    free(c->skip);
    if (!c->h2)
        free(c); /* an HTTP/2 client lives in its request's pool */
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    client_detach((client_t *)g); /* h2o sends nothing more; the request's disposal frees the client */
}

/* Runs when the request's pool goes: an HTTP/2 stream's end, or an answer other than a stream. An
 * HTTP/1.x stream unhooks itself before h2o frees the request, its socket then holds it. */
static void on_req_dispose(void *p)
{
    client_t *c = *(client_t **)p;
    if (c != NULL)
        client_destroy(c);
}

/* --- HTTP/1.x streams on their own socket ----------------------------------------------------- */

#define H1_MAX_INPUT 16384 /* bytes a client may send after its request (a pipelined next one) */

static void h1_close(client_t *c)
{
    h2o_socket_t *sock = c->sock;
    sock->data = NULL;
    h2o_socket_close(sock);
    client_destroy(c);
}

/* The client's socket is read only to notice when it goes away (EOF or error). */
static void on_h1_read(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL || sock->input->size > H1_MAX_INPUT)
        h1_close(c);
    /* Else: a pipelined request, kept for h2o when a finite stream hands the connection back. */
}

static void on_h1_written(h2o_socket_t *sock, const char *err)
{
    client_t *c = sock->data;
    if (err != NULL) {
        h1_close(c);
        return;
    }
    sent(c);
    if (!c->final_sent) {
        next_send(c);
        return;
    }
    if (!c->keepalive || W.draining) {
        h1_close(c);
        return;
    }
    /* A finite stream ended with its last chunk: the connection goes back to h2o (keep-alive). */
    struct timeval at = c->connected_at;
    c->sock = NULL;
    client_destroy(c);
    h2o_socket_read_stop(sock);
    h2o_http1_accept(&W.accept_ctx, sock, at);
}

/* h2o wrote the response headers and let go of the connection (sock NULL: the client was gone). */
static void on_h1_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    client_t *c = data;
    c->req = NULL; /* freed by h2o with its pool */
    if (sock == NULL) {
        client_destroy(c);
        return;
    }
    c->sock = sock;
    sock->data = c;
    h2o_buffer_consume(&sock->input, reqsize); /* the request; an empty buffer is freed */
    h2o_socket_read_start(sock, on_h1_read);
    c->inflight = 0;
    pump(c);
}

/* --- resuming from an event id ------------------------------------------------------------------ */

static int topic_index(const stream_t *st, const char *topic)
{
    for (uint32_t t = 0; t < st->n_topics; t++)
        if (strcmp(st->topics[t], topic) == 0)
            return (int)t;
    return -1;
}

/* Sets the client's start from its last event id; returns 0, or -1 (with *why) for a reset. */
static int resume(client_t *c, const char *id, size_t id_len, const char **why)
{
    /* A lapped client's own last id can lag its position on a partition it skips over after a
     * resume (it had those records): what it had before is the floor. */
    const resume_lane_t *floor = c->skip;
    uint32_t n_floor = c->n_skip;
    stream_t *st = c->st;
    rc_cut_t cut;
    if (rc_eventid_decode(id, id_len, st->fp, &cut) != 0) {
        *why = "the last event id is not one of this stream";
        return -1;
    }
    uint32_t n = rc_ring_lanes(st->ring);
    rc_cursor_t start;
    if (rc_ring_head(st->ring, &start) != 0) {
        *why = "the ring is not readable";
        return -1;
    }
    resume_lane_t *skip = rc_malloc((n ? n : 1) * sizeof(*skip));
    uint64_t missed = 0;
    char *parts = NULL; /* the gap's partition ranges, JSON objects joined by commas */
    size_t parts_len = 0;
    for (uint32_t l = 0; l < n; l++) {
        char topic[RC_RING_TOPIC_MAX];
        int32_t part;
        int64_t next;
        if (rc_ring_lane_info(st->ring, l, topic, sizeof(topic), &part, &next) != 0) {
            *why = "the ring is not readable";
            goto fail;
        }
        int t = topic_index(st, topic), idx = t < 0 ? -1 : rc_cut_index(&cut, (uint32_t)t, (uint32_t)part);
        int64_t want = idx >= 0 && cut.next[idx] >= 0 ? cut.next[idx] : 0; /* unknown: from its start */
        if (l < n_floor && floor[l].below > want)
            want = floor[l].below;
        skip[l].below = want;
        skip[l].history_end = l < n_floor ? floor[l].history_end : 0;
        rc_found_t fo;
        rc_lookup_t res = rc_ring_find_offset(st->ring, l, want, &fo);
        if (res == RC_LOOKUP_CORRUPT || res == RC_NOTFOUND) {
            *why = "the ring could not place the last event id";
            goto fail;
        }
        /* Placed before the partition's last reset: the id names an offset the history before it had
         * reached, beyond the current history or below where it began. (An offset both histories
         * have, as after a topic was recreated, is read as one of the current history.) */
        int known = idx >= 0 && cut.next[idx] >= 0;
        int before = known && fo.history_reset && want <= fo.history_prev && (want > next || want < fo.history_offset);
        if (!before && next >= 0 && want > next) {
            *why = "the last event id is ahead of this stream's Kafka position";
            goto fail;
        }
        if (before) {
            /* What is left of that history comes first (all of it, if the client had it all: from the
             * reset), then the reset, whose data names what Kafka no longer had, then the rest. */
            int at_reset = want == fo.history_prev && rc_ring_find_seq(st->ring, fo.history_seq, &fo.at) == RC_FOUND;
            if (!at_reset && rc_ring_oldest(st->ring, &fo.at) != 0) {
                *why = "the ring is not readable";
                return -1;
            }
            res = RC_FOUND;
        } else if (known && fo.history_reset) {
            if (fo.history_seq + 1 > skip[l].history_end)
                skip[l].history_end = fo.history_seq + 1; /* after the reset: it and what came before are had */
        }
        if (res == RC_EXPIRED && fo.missed > 0) {
            /* Only records really gone: [want, lost_to) ends at the last record evicted, holes after
             * it (compaction, transaction markers) are not counted. */
            missed += fo.missed;
            char buf[400];
            int k = snprintf(buf, sizeof(buf),
                             "%s{\"topic\":\"%s\",\"partition\":%d,\"from\":%" PRId64 ",\"to\":%" PRId64 "}",
                             parts_len ? "," : "", topic, part, want, fo.lost_to);
            parts = rc_realloc(parts, parts_len + (size_t)k + 1);
            memcpy(parts + parts_len, buf, (size_t)k + 1);
            parts_len += (size_t)k;
        }
        if (fo.at.seq < start.seq)
            start = fo.at;
    }
    c->cur = start;
    free(c->skip);
    c->skip = skip;
    c->n_skip = n;
    if (missed) {
        char head[64];
        int k = snprintf(head, sizeof(head), "{\"missed\":%" PRIu64 ",\"partitions\":[", missed);
        add_pre(c, H2O_STRLIT("event: gap\ndata: "));
        add_pre(c, head, (size_t)k);
        add_pre(c, parts, parts_len);
        add_pre(c, H2O_STRLIT("]}\n\n"));
    }
    free(parts);
    return missed ? 1 : 0;
fail:
    free(skip);
    free(parts);
    return -1;
}

/* --- HTTP handlers ------------------------------------------------------------------------------- */

static stream_t *stream_named(const char *name, size_t len)
{
    for (size_t i = 0; i < W.n_streams; i++)
        if (!W.streams[i].retired && strlen(W.streams[i].conf->name) == len &&
            memcmp(W.streams[i].conf->name, name, len) == 0)
            return &W.streams[i];
    return NULL;
}

static int accepts_event_stream(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i < 0)
        return 1;
    h2o_iovec_t v = req->headers.entries[i].value;
    return memmem(v.base, v.len, H2O_STRLIT("text/event-stream")) != NULL ||
           memmem(v.base, v.len, H2O_STRLIT("*/*")) != NULL || memmem(v.base, v.len, H2O_STRLIT("text/*")) != NULL;
}

/* A client with room for its filters, copied from the worker's scratch query at their own sizes.
 * An HTTP/2 client goes in its request's pool (already paid for: h2o gives every request 4 KiB); an
 * HTTP/1.x client outlives its request, so it is allocated on its own. */
static client_t *client_new(const rc_query_t *q, h2o_req_t *req)
{
    size_t strings = 0;
    for (size_t i = 0; i < q->n_keys; i++)
        strings += q->key_lens[i];
    for (size_t i = 0; i < q->n_events; i++)
        strings += q->event_lens[i];
    size_t vecs = (q->n_keys + q->n_events) * sizeof(h2o_iovec_t), parts = q->n_partitions * sizeof(int32_t);
    size_t size = sizeof(client_t) + vecs + parts + strings;
    int h2 = req->version >= 0x200;
    client_t *c = h2 ? h2o_mem_alloc_pool(&req->pool, size) : rc_malloc(size);
    memset(c, 0, size);
    c->h2 = h2;
    char *p = (char *)(c + 1), *str = p + vecs + parts;
    c->f.keys = (h2o_iovec_t *)p;
    c->f.events = c->f.keys + q->n_keys;
    c->f.partitions = (int32_t *)(p + vecs);
    for (size_t i = 0; i < q->n_keys; i++) {
        memcpy(str, q->keys[i], q->key_lens[i]);
        c->f.keys[i] = h2o_iovec_init(str, q->key_lens[i]);
        str += q->key_lens[i];
    }
    for (size_t i = 0; i < q->n_events; i++) {
        memcpy(str, q->events[i], q->event_lens[i]);
        c->f.events[i] = h2o_iovec_init(str, q->event_lens[i]);
        str += q->event_lens[i];
    }
    memcpy(c->f.partitions, q->partitions, parts);
    c->f.n_keys = q->n_keys;
    c->f.n_events = q->n_events;
    c->f.n_partitions = q->n_partitions;
    c->f.limit = q->limit;
    return c;
}

static int serve_stream(h2o_req_t *req, stream_t *st)
{
    rc_grant_t grant;
    if (rc_access_check(req, st->conf, st->ctr, &grant))
        return 0; /* answered: 401, 403 or 429 */
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) && st->conf->publish)
        return rc_publisher_post(W.publisher, req, st->conf, st->ctr);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        if (st->conf->publish) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, POST"));
            return rc_edge_reply(req, 405, "Method Not Allowed", "this stream takes GET and POST\n");
        }
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET"));
        return rc_edge_reply(req, 405, "Method Not Allowed",
                             "only GET is allowed on this stream (it does not take POST)\n");
    }
    if (!accepts_event_stream(req))
        return rc_edge_reply(req, 406, "Not Acceptable", "this resource is text/event-stream\n");
    /* Parsed into one scratch query of the worker (a request is handled start to end here); the
     * client keeps only what it uses, so an idle stream costs bytes, not the query's 12 KiB. */
    static rc_query_t scratch;
    rc_query_t *q = &scratch;
    char err[128];
    const char *qs = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    if (rc_query_parse(qs, qlen, q, err, sizeof(err)) != 0) {
        strcat(err, "\n");
        return rc_edge_reply(req, 400, "Bad Request", err);
    }
    if (st->ring == NULL || rc_ring_damaged(st->ring))
        return rc_edge_reply(req, 503, "Service Unavailable",
                             "stream not available: its ring is missing (is the bridge running?)\n");
    int32_t ip_slot;
    if (rc_access_stream_begin(req, (size_t)W.id, st->ctr, &ip_slot))
        return 0; /* answered 429 */

    client_t *c = client_new(q, req);
    c->ip_slot = ip_slot; /* given back by client_destroy */
    c->f.keys_only = grant.keys_only;
    c->expires_ms = grant.expires_ms;
    c->hook = h2o_mem_alloc_shared(&req->pool, sizeof(c), on_req_dispose);
    *c->hook = c; /* until the client is the socket's (HTTP/1.x), the request's end frees it */
    c->super.proceed = on_proceed;
    c->super.stop = on_stop;
    c->req = req;
    c->st = st;
    add_pre(c, W.retry_line, W.retry_len);
    /* Last-Event-ID (what EventSource sends on reconnect) wins over ?lastEventId=. */
    const char *id = q->has_last_id ? q->last_id : NULL;
    size_t id_len = q->last_id_len;
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
    if (h >= 0)
        id = req->headers.entries[h].value.base, id_len = req->headers.entries[h].value.len;
    const char *why = NULL;
    int resumed = 0;
    if (id != NULL && id_len > 0) {
        int r = resume(c, id, id_len, &why);
        if (r >= 0) {
            resumed = 1;
            if (r == 1)
                RC_EDGE_COUNT(st->ctr, gaps_evicted, 1);
        } else {
            char json[200];
            snprintf(json, sizeof(json), "{\"reason\":\"%s\"}", why);
            add_event(c, "reset", json);
            RC_EDGE_COUNT(st->ctr, resets, 1);
            free(c->skip);
            c->skip = NULL;
        }
    }
    if (!resumed && q->has_since) {
        /* since=: the first record at or after that time; when older records were evicted the
         * stream simply starts with the oldest kept (there is no cut to count a gap from). */
        if (rc_ring_find_time(st->ring, q->since_ms, &c->cur) == RC_LOOKUP_CORRUPT)
            return rc_edge_reply(req, 503, "Service Unavailable", "stream not available: its ring is not readable\n");
    } else if (!resumed) {
        int ok =
            st->conf->start == RC_START_OLDEST ? rc_ring_oldest(st->ring, &c->cur) : rc_ring_head(st->ring, &c->cur);
        if (ok != 0)
            return rc_edge_reply(req, 503, "Service Unavailable", "stream not available: its ring is not readable\n");
    }
    if (q->timeout_ms)
        c->deadline_ms = now_ms() + q->timeout_ms;
    h2o_linklist_insert(&st->clients, &c->link_all);
    st->n_clients++;
    if (c->h2)
        RC_EDGE_COUNT(st->ctr, open_h2, 1);
    else
        RC_EDGE_COUNT(st->ctr, open_h1, 1);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    if (c->h2) {
        h2o_start_response(req, &c->super);
        pump(c);
        return 0;
    }
    /* HTTP/1.x: h2o writes the headers, then hands over the socket (on_h1_upgraded); h2o adds
     * "Connection: upgrade", which clients ignore without an Upgrade header. */
    c->chunked = req->version >= 0x101;
    c->keepalive = c->chunked && req->http1_is_persistent;
    if (c->chunked)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL, H2O_STRLIT("chunked"));
    c->connected_at = req->conn->connected_at;
    c->inflight = 1; /* nothing is sent before the socket is the client's */
    *c->hook = NULL;
    c->hook = NULL;
    h2o_http1_upgrade(req, NULL, 0, on_h1_upgraded, c);
    return 0;
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

static int serve_list(h2o_req_t *req)
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

static int serve_health(h2o_req_t *req)
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
        healthy = 1; /* this stream's, for now */
        if (st->ring == NULL) {
            healthy = 0;
            k = snprintf(line, sizeof(line), "%s: ring missing\n", st->conf->name);
        } else {
            uint64_t hb = rc_ring_heartbeat_ns(st->ring);
            rc_ring_state_t s = rc_ring_state(st->ring);
            int fresh = hb != 0 && now >= hb && now - hb < HEALTHY_HB_NS;
            uint64_t unread = rc_ring_counter(st->ring, RC_CTR_NO_LANE);
            if (!fresh || s != RC_STATE_STREAMING || unread > 0)
                healthy = 0;
            k = snprintf(line, sizeof(line), "%s: bridge %s, heartbeat %s", st->conf->name, rc_ring_state_str(s),
                         fresh ? "fresh" : "stale");
            if (unread > 0 && k > 0 && (size_t)k < sizeof(line))
                k += snprintf(line + k, sizeof(line) - (size_t)k,
                              "; %" PRIu64 " partitions NOT read: no lane left in the ring (ring.max_partitions)",
                              unread);
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
static int serve_metrics(h2o_req_t *req)
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
        int is_up = 0;
        uint64_t skipped[3] = {0, 0, 0}, unread = 0;
        static const rc_ring_counter_t skip_ctr[3] = {RC_CTR_SKIP_TOO_LARGE, RC_CTR_SKIP_NOT_UTF8, RC_CTR_SKIP_EVENT};
        static const char *const skip_reason[3] = {"too_large", "not_utf8", "event_too_long"};
        if (st->ring != NULL) {
            rc_ring_head(st->ring, &head);
            if (rc_ring_oldest(st->ring, &old) != 0)
                old = head;
            uint64_t hb = rc_ring_heartbeat_ns(st->ring);
            is_up = rc_ring_state(st->ring) == RC_STATE_STREAMING && hb && now >= hb && now - hb < HEALTHY_HB_NS;
            for (int i = 0; i < 3; i++)
                skipped[i] = rc_ring_counter(st->ring, skip_ctr[i]);
            unread = rc_ring_counter(st->ring, RC_CTR_NO_LANE);
        }
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
        return serve_list(req);
    if (p.len > 9 && memcmp(p.base, "/streams/", 9) == 0) {
        stream_t *st = stream_named(p.base + 9, p.len - 9);
        if (st == NULL)
            return rc_edge_reply(req, 404, "Not Found", "no such stream\n");
        return serve_stream(req, st);
    }
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/healthz")))
        return serve_health(req);
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/metrics")))
        return serve_metrics(req);
    /* h2o's file handler follows symbolic links and serves dotfiles: only a file whose real path is
     * inside static_dir, and no dotfile, reaches it. */
    if (W.cfg->edge.static_dir != NULL && W.cfg->edge.static_dir[0] != '\0' && rc_guard_static_refused(static_root, p))
        return rc_edge_reply(req, 404, "Not Found", "not found\n");
    return -1; /* static files, if configured, or h2o's 404 */
}

/* --- rings and the bridge --------------------------------------------------------------------- */

/* Ends every stream of st after what is in flight. A last `retry:` with a random part spreads
 * the reconnections of many clients ended at once (a deploy, a replaced ring). */
static void end_clients(stream_t *st)
{
    for (h2o_linklist_t *l = st->clients.next; l != &st->clients; l = l->next) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_all, l);
        if (c->finished)
            continue;
        char line[64];
        uint64_t ms = W.cfg->edge.retry_ms + (uint64_t)rand() % (W.cfg->edge.retry_ms + 1);
        int k = snprintf(line, sizeof(line), "retry: %" PRIu64 "\n\n", ms);
        add_pre(c, line, (size_t)k);
        c->finished = 1;
        defer_pump(c);
    }
}

/* Maps rings that appeared, notices rings that were replaced (a bridge that made a new one). */
static void check_rings(void)
{
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (st->retired && st->n_clients == 0) { /* removed by a reload, and nobody reads it any more */
            if (st->ring != NULL) {
                chunks_forget(st);
                rc_ring_close(st->ring);
                st->ring = NULL;
            }
            continue;
        }
        struct stat s;
        int exists = stat(st->path, &s) == 0;
        int damaged = st->ring != NULL && rc_ring_damaged(st->ring);
        if (st->ring != NULL && exists && s.st_ino == st->ino && s.st_dev == st->dev && s.st_size == st->size &&
            !damaged)
            continue;
        if (st->ring != NULL) {
            /* Replaced, removed or truncated: positions in the old ring mean nothing in a new one.
             * Streams end and browsers reconnect with Last-Event-ID, which names Kafka positions. */
            rc_warn("ring", "%s: ring %s; ending its streams", st->conf->name,
                    !exists                                      ? "removed"
                    : damaged                                    ? "truncated under its mapping (SIGBUS)"
                    : s.st_ino == st->ino && s.st_dev == st->dev ? "truncated"
                                                                 : "replaced");
            end_clients(st);
            chunks_forget(st);
            rc_ring_close(st->ring);
            st->ring = NULL;
        }
        if (!exists)
            continue;
        char err[512];
        if (rc_ring_open_reader(&st->ring, st->path, err, sizeof(err)) != 0) {
            st->ring = NULL;
            if (!st->open_failed)
                rc_warn("ring", "%s: %s; serving 503 until the bridge makes it again", st->conf->name, err);
            st->open_failed = 1;
            continue;
        }
        st->open_failed = 0;
        st->dev = s.st_dev;
        st->ino = s.st_ino;
        st->size = s.st_size;
        rc_info("ring", "%s: mapped %s", st->conf->name, st->path);
    }
}

static void wake_all(void)
{
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (st->ring == NULL)
            continue;
        h2o_linklist_t list;
        h2o_linklist_init_anchor(&list);
        h2o_linklist_insert_list(&list, &st->waiting);
        while (!h2o_linklist_is_empty(&list)) {
            client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_wait, list.next);
            h2o_linklist_unlink(&c->link_wait);
            c->waiting = 0;
            pump(c);
        }
    }
}

static void on_wake(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_buffer_consume(&sock->input, sock->input->size); /* the eventfd counter: its value is not needed */
    wake_all();
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

static void check_stalled(client_t *c);

static void on_housekeep(h2o_timeout_entry_t *entry)
{
    (void)entry;
    /* The master's watchdog looks at this: a loop that stops running stops it. */
    __atomic_store_n(&W.shared->workers[W.id].heartbeat_ns, rc_now_mono_ns(), __ATOMIC_RELAXED);
    check_rings();
    connect_bridge();
    if (W.publisher != NULL)
        rc_publisher_check(W.publisher);
    uint64_t now = now_ms();
    int64_t real = (int64_t)rc_now_real_ms(); /* tokens expire by the wall clock */
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        for (h2o_linklist_t *l = st->clients.next, *next; l != &st->clients; l = next) {
            next = l->next; /* a stalled client goes from the list */
            client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_all, l);
            if (c->deadline_ms && now >= c->deadline_ms && !c->finished) {
                c->finished = 1;
                defer_pump(c);
            }
            if (c->expires_ms && real >= c->expires_ms && !c->finished) {
                /* The token ran out: say so, and end the response (EventSource reconnects). */
                add_event(c, RC_ACCESS_EXPIRED_EVENT, RC_ACCESS_EXPIRED_DATA);
                c->finished = 1;
                defer_pump(c);
            }
            check_stalled(c);
        }
    }
    wake_all(); /* a wake-up lost while the bridge restarted costs at most this tick */
    /* malloc keeps what thousands of closed streams freed (their buffers and pools, spread over the
     * heap) unless asked: give it back, so a wave of clients does not leave the worker at its peak. */
    uint64_t open = 0;
    for (size_t i = 0; i < W.n_streams; i++)
        open += W.streams[i].n_clients;
    if (open > W.trim_high) {
        W.trim_high = open;
    } else if (W.trim_high - open >= TRIM_STREAMS) {
        malloc_trim(0);
        W.trim_high = open;
    }
    h2o_timeout_link(W.ctx.loop, &W.hk_timeout, &W.hk_entry);
}

/*
 * edge.send_timeout. An HTTP/1.x stream is stalled when bytes wait for its client in the kernel and
 * it acknowledges none of them for that long (asked of the kernel every quarter of the timeout, at
 * most every 5 s); an HTTP/2 stream, when a send of it is not taken (h2o does not call proceed: flow
 * control) for that long. Heartbeats are bytes like any other: they keep nothing alive. The stream
 * is closed (HTTP/2: RST_STREAM) and counted in /metrics.
 */
static void check_stalled(client_t *c)
{
    uint64_t now = h2o_now(W.loop), timeout = W.cfg->edge.send_timeout_ms;
    if (c->progress_ms == 0 || c->final_sent)
        c->progress_ms = now;
    if (c->sock != NULL) {
        if (now < c->next_check_ms)
            return;
        uint64_t every = timeout / 4 < 5000 ? timeout / 4 : 5000;
        c->next_check_ms = now + every;
        uint64_t acked, outstanding;
        if (rc_tcp_progress(h2o_socket_get_fd(c->sock), &acked, &outstanding) != 0)
            return;
        if (outstanding == 0 || acked != c->acked) {
            c->acked = acked;
            c->progress_ms = now;
            return;
        }
    } else if (!c->h2 || !c->inflight) {
        return; /* an HTTP/1.x stream before its socket is its own, or an HTTP/2 one with nothing pending */
    }
    if (now - c->progress_ms < timeout)
        return;
    rc_info("sse", "%s: a stream took no byte for %" PRIu64 " ms (edge.send_timeout): closed", c->st->conf->name,
            now - c->progress_ms);
    if (c->h2) {
        RC_EDGE_COUNT(c->st->ctr, stalled_h2, 1);
        rc_h2_stream_reset(c->req);
    } else {
        RC_EDGE_COUNT(c->st->ctr, stalled_h1, 1);
        h1_close(c);
    }
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    (void)entry;
    static h2o_iovec_t beat = {(char *)":\n\n", 3};
    uint64_t now = now_ms(), every = W.cfg->edge.heartbeat_ms;
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        for (h2o_linklist_t *l = st->clients.next; l != &st->clients; l = l->next) {
            client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_all, l);
            if (!c->inflight && !c->final_sent && now - c->last_send_ms + 50 >= every) {
                h2o_iovec_t iov[3] = {beat}; /* room for an HTTP/1.1 chunk's framing */
                send_frames(c, iov, 1, 0);   /* waiting stays set: records still wake it */
            }
        }
    }
    h2o_timeout_link(W.ctx.loop, &W.hb_timeout, &W.hb_entry);
}

/* --- setup and the loop ---------------------------------------------------------------------- */

int rc_edge_listen(const rc_listen_conf_t *l, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, l->address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)l->port);
        sl = sizeof(*a4);
    } else if (inet_pton(AF_INET6, l->address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)l->port);
        sl = sizeof(*a6);
    } else {
        snprintf(err, errlen, "%s: not an IP address", l->address);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        listen(fd, 1024) != 0) {
        snprintf(err, errlen, "%s:%" PRId64 ": %s", l->address, l->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

SSL_CTX *rc_edge_tls_context(const rc_listen_conf_t *l, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        snprintf(err, errlen, "%s:%" PRId64 ": TLS certificate %s / key %s: %s", l->address, l->port, l->tls_cert,
                 l->tls_key, e);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* h2 first, http/1.1 too: a client without HTTP/2 must still get its stream. */
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    return ctx;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *actx = listener->data;
    for (int i = 0; i < 64; i++) { /* a burst at a time: other listeners and clients get their turn */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        /* The kernel queues at most this much unsent for the client: a reader that stops falls off
         * the ring's tail (event: gap) at the ring's pace, whatever the machine's tcp_wmem. */
        int lowat = UNSENT_MAX;
        setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
        h2o_accept(actx, sock);
    }
}

/* Points st at its configuration (at start, or again after a reload). */
static void stream_configure(stream_t *st, const rc_stream_conf_t *conf)
{
    st->conf = conf;
    snprintf(st->path, sizeof(st->path), "%s/%s.ring", W.cfg->ring.dir, st->conf->name);
    st->n_topics = (uint32_t)(st->conf->n_topics < RC_CUT_MAX_TOPICS ? st->conf->n_topics : RC_CUT_MAX_TOPICS);
    for (uint32_t t = 0; t < st->n_topics; t++)
        st->topics[t] = st->conf->topics[t];
    for (uint32_t a = 1; a < st->n_topics; a++) /* insertion sort: a handful of names */
        for (uint32_t b = a; b > 0 && strcmp(st->topics[b - 1], st->topics[b]) > 0; b--) {
            const char *x = st->topics[b];
            st->topics[b] = st->topics[b - 1];
            st->topics[b - 1] = x;
        }
    st->fp = rc_eventid_fingerprint(st->topics, st->n_topics);
    long slot = rc_edge_slot_of(W.shared, conf->name); /* the master gave every configured stream one */
    st->slot = slot >= 0 ? (size_t)slot : 0;
    st->ctr = &W.counters[(size_t)W.id * W.shared->slots + st->slot];
}

static void setup_streams(void)
{
    W.n_streams = W.cfg->n_streams;
    W.cap = W.shared->slots;
    W.streams = rc_calloc(W.cap, sizeof(*W.streams));
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        stream_configure(st, &W.cfg->streams[i]);
        h2o_linklist_init_anchor(&st->clients);
        h2o_linklist_init_anchor(&st->waiting);
    }
}

/* --- reload (SIGHUP from the master) and liveness --------------------------------------------- */

static int hup_write_fd = -1;

static void on_sighup(int sig)
{
    (void)sig;
    ssize_t w = write(hup_write_fd, "h", 1); /* a full pipe already holds a pending reload */
    (void)w;
}

/* The entry of streams[] for a stream the reload adds: a new one, or one that was removed and
 * has no open streams left (nothing points at it). */
static stream_t *stream_entry(void)
{
    if (W.n_streams < W.cap)
        return &W.streams[W.n_streams++];
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (st->retired && st->n_clients == 0) {
            chunks_forget(st);
            if (st->ring != NULL)
                rc_ring_close(st->ring);
            memset(st, 0, sizeof(*st));
            return st;
        }
    }
    return NULL; /* the master refuses a reload with more streams than slots: not reached */
}

/* Streams: kept ones take their new settings, removed ones are retired (their open streams go on,
 * new requests get 404), new ones get an entry and their rings are mapped. */
static void reload_streams(const rc_config_t *next)
{
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (!st->retired && rc_config_stream(next, st->conf->name) == NULL) {
            st->retired = 1;
            rc_info("reload", "%s: removed; %" PRIu64 " open streams go on", st->conf->name, st->n_clients);
        }
    }
    for (size_t c = 0; c < next->n_streams; c++) {
        const rc_stream_conf_t *conf = &next->streams[c];
        stream_t *st = NULL;
        for (size_t i = 0; i < W.n_streams && st == NULL; i++)
            if (W.streams[i].conf != NULL && strcmp(W.streams[i].conf->name, conf->name) == 0)
                st = &W.streams[i];
        if (st == NULL) {
            if ((st = stream_entry()) == NULL) {
                rc_error("reload", "%s: no room for another stream", conf->name);
                continue;
            }
            h2o_linklist_init_anchor(&st->clients);
            h2o_linklist_init_anchor(&st->waiting);
            rc_info("reload", "%s: added", conf->name);
        }
        st->retired = 0;
        stream_configure(st, conf);
    }
}

/* New certificates and keys for new connections; open ones keep theirs (each SSL holds a reference
 * to the SSL_CTX it was made from, so the old context lives as long as they do). */
static void reload_tls(const rc_config_t *next)
{
    for (size_t i = 0; i < next->edge.n_listen && i < W.cfg->edge.n_listen; i++) {
        const rc_listen_conf_t *l = &next->edge.listen[i];
        if (l->tls_cert == NULL || W.tls_accept[i].ssl_ctx == NULL)
            continue;
        char err[512];
        SSL_CTX *ctx = rc_edge_tls_context(l, err, sizeof(err));
        if (ctx == NULL) {
            rc_error("reload", "%s; keeping the certificate in use", err);
            continue;
        }
        SSL_CTX_free(W.tls_accept[i].ssl_ctx);
        W.tls_accept[i].ssl_ctx = ctx;
    }
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
    reload_streams(next);
    reload_tls(next);
    W.retry_len = (size_t)snprintf(W.retry_line, sizeof(W.retry_line), "retry: %" PRIu64 "\n\n", next->edge.retry_ms);
    W.hb_timeout.timeout = next->edge.heartbeat_ms; /* the next heartbeat round uses it */
    for (size_t i = 0; i < next->n_streams; i++)
        if (next->streams[i].publish && next->streams[i].max_publish_bytes * 2 > W.globalconf.max_request_entity_size)
            W.globalconf.max_request_entity_size = next->streams[i].max_publish_bytes * 2;
    rc_log_level_t level;
    if (rc_log_parse_level(next->log.level, &level) == 0)
        rc_log_set_level(level);
    /* The previous config stays allocated: removed streams and the publisher still point into it. */
    W.cfg = next;
    for (size_t i = 0; i < next->n_streams; i++)
        if (next->streams[i].publish && W.publisher == NULL)
            W.publisher = rc_publisher_new(next, W.loop);
    check_rings();
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

static int streams_open(void)
{
    size_t n = 0;
    for (size_t i = 0; i < W.n_streams; i++)
        n += W.streams[i].n_clients;
    return n > 0;
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
    /* Each stream answers 413 above its own max_publish_bytes, with the limit in the body; h2o
     * refuses to even buffer a body far above the largest of them. */
    W.globalconf.max_request_entity_size = 64 << 10;
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (cfg->streams[i].publish && cfg->streams[i].max_publish_bytes * 2 > W.globalconf.max_request_entity_size)
            W.globalconf.max_request_entity_size = cfg->streams[i].max_publish_bytes * 2;
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
    W.retry_len = (size_t)snprintf(W.retry_line, sizeof(W.retry_line), "retry: %" PRIu64 "\n\n", cfg->edge.retry_ms);
    setup_streams();
    h2o_linklist_init_anchor(&W.deferred);

    W.listeners = rc_calloc(cfg->edge.n_listen, sizeof(*W.listeners));
    W.tls_accept = rc_calloc(cfg->edge.n_listen, sizeof(*W.tls_accept));
    for (size_t i = 0; i < cfg->edge.n_listen; i++) {
        const rc_listen_conf_t *l = &cfg->edge.listen[i];
        char err[512];
        h2o_accept_ctx_t *actx = &W.accept_ctx;
        if (l->tls_cert != NULL) {
            actx = &W.tls_accept[i];
            *actx = W.accept_ctx;
            if ((actx->ssl_ctx = rc_edge_tls_context(l, err, sizeof(err))) == NULL) {
                rc_error("http", "%s", err);
                return 1;
            }
        }
        int fd = rc_edge_listen(l, err, sizeof(err));
        if (fd < 0) {
            rc_error("http", "%s", err);
            return 1;
        }
        W.listeners[W.n_listeners] = h2o_evloop_socket_create(W.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        W.listeners[W.n_listeners]->data = actx;
        h2o_socket_read_start(W.listeners[W.n_listeners++], on_accept);
    }

    srand((unsigned)(getpid() ^ rc_now_mono_ns()));
    /* A ring file truncated under the mapping must not kill the worker (see check_rings). */
    rc_ring_guard_sigbus();
    W.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    W.efd_sock = h2o_evloop_socket_create(W.loop, W.efd, 0);
    h2o_socket_read_start(W.efd_sock, on_wake);
    snprintf(W.bridge_path, sizeof(W.bridge_path), "%s/bridge.sock", cfg->ring.dir);
    check_rings();
    connect_bridge();
    for (size_t i = 0; i < cfg->n_streams; i++)
        if (cfg->streams[i].publish && W.publisher == NULL)
            W.publisher = rc_publisher_new(cfg, W.loop);

    h2o_timeout_init(W.ctx.loop, &W.zero_timeout, 0);
    h2o_timeout_init(W.ctx.loop, &W.hk_timeout, HOUSEKEEP_MS);
    h2o_timeout_init(W.ctx.loop, &W.hb_timeout, cfg->edge.heartbeat_ms);
    W.defer_entry.cb = on_defer;
    W.hk_entry.cb = on_housekeep;
    W.hb_entry.cb = on_heartbeat;
    h2o_timeout_link(W.ctx.loop, &W.hk_timeout, &W.hk_entry);
    h2o_timeout_link(W.ctx.loop, &W.hb_timeout, &W.hb_entry);
    rc_info("http", "worker %d serving %zu streams", id, W.n_streams);
    ops_start();

    while (!*stop) {
        h2o_evloop_run(W.loop, INT32_MAX);
        rc_guard_h2_bodies(&W.ctx); /* HTTP/2 connections made in that turn */
    }

    /* Draining: no new connections; every open stream ends after a last retry hint, so browsers
     * come back (to another worker or host) with their Last-Event-ID. */
    rc_info("http", "worker %d draining", id);
    W.draining = 1;
    for (size_t i = 0; i < W.n_listeners; i++)
        h2o_socket_close(W.listeners[i]);
    W.n_listeners = 0;
    for (size_t i = 0; i < W.n_streams; i++)
        end_clients(&W.streams[i]);
    uint64_t until = now_ms() + DRAIN_MS;
    while (streams_open() && now_ms() < until)
        h2o_evloop_run(W.loop, 100);
    rc_info("http", "worker %d stopped", id);
    return 0;
}

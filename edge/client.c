/*
 * The clients of an edge worker (worker_internal.h): fan-out from the stream's chunks, the
 * preamble (retry hint, gap and reset events), filters, and the two transports.
 *
 * Fan-out: a client is a cursor into its stream's ring, a filter and at most one chunk of records
 * in flight; there is no per-client queue. The frames come encoded from the bridge: sending is
 * choosing records and pointing iovecs at them. A client caught up waits at the head (stream.c
 * wakes it); one with more to send is pumped on the next loop turn, so none keeps the loop.
 *
 * Two transports carry a stream. HTTP/2 streams are h2o responses (a generator: h2o_send, then
 * proceed). An HTTP/1.x stream owns its socket once h2o has written the response headers
 * (h2o_http1_upgrade with status 200): h2o frees the connection and the request with its 4 KiB
 * memory pool and 4 KiB input buffer, which an endless response would otherwise hold for life, and
 * the worker writes the chunked body itself. An idle HTTP/1.1 stream then costs its socket and its
 * client, well under a kilobyte. A finite HTTP/1.1 stream (limit=, timeout=) ends with the last
 * chunk and its connection goes back to h2o for the next request (keep-alive).
 *
 * Owns each client and what it allocates: the preamble being built and the one in flight, its skip
 * table, its chunk reference. Who frees the client itself is told in worker_internal.h.
 */
#include <h2o.h>
#include <h2o/http1.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "util.h"
#include "worker_internal.h"

#define SEND_IOV    512 /* frames per h2o_send */
#define PUMP_ROUNDS 8   /* chunks a client may skip over (all filtered out) before yielding */

/* --- waiting at the head, sending ------------------------------------------------------------ */

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

void rc_client_add_pre(client_t *c, const char *p, size_t len)
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

void rc_client_add_event(client_t *c, const char *event, const char *json)
{
    rc_client_add_pre(c, H2O_STRLIT("event: "));
    rc_client_add_pre(c, event, strlen(event));
    rc_client_add_pre(c, H2O_STRLIT("\ndata: "));
    rc_client_add_pre(c, json, strlen(json));
    rc_client_add_pre(c, H2O_STRLIT("\n\n"));
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

/* The records a resume told the client it had already: before the history its id is in (or the
 * RESET it has seen), or below its offset in the lane. A RESET begins a history all new to it. */
static int had_already(client_t *c, const rc_record_t *rec)
{
    if (c->skip == NULL || rec->h.lane >= c->n_skip)
        return 0;
    rc_resume_lane_t *sl = &c->skip[rec->h.lane];
    if (rec->h.seq < sl->history_end)
        return 1;
    if (rec->h.type == RC_REC_RESET) {
        sl->below = 0;
        return 0;
    }
    return rec->h.offset < sl->below;
}

/* Too slow for the ring: the client resumes from the last id it read, as it would on a reconnect,
 * and the gap names the offset ranges really gone, partition by partition. Returns 0 to read on,
 * -1 if the ring cannot say where. */
static int on_lapped(client_t *c)
{
    stream_t *st = c->st;
    const char *why;
    int rr = c->last_id_len ? rc_client_resume(c, c->last_id, c->last_id_len, &why) : -1;
    if (rr >= 0) {
        if (rr == 1)
            RC_EDGE_COUNT(st->ctr, gaps_lapped, 1);
        return 0;
    }
    /* No id to resume from (nothing read yet, or an id too long to keep): count the records. */
    rc_cursor_t old;
    if (rc_ring_oldest(st->ring, &old) != 0)
        return -1;
    char json[160];
    snprintf(json, sizeof(json), "{\"missed\":%" PRIu64 ",\"reason\":\"client too slow for the ring\"}",
             old.seq > c->cur.seq ? old.seq - c->cur.seq : 0);
    rc_client_add_event(c, "gap", json);
    RC_EDGE_COUNT(st->ctr, gaps_lapped, 1);
    c->cur = old;
    return 0;
}

/* Points iov at the frames of ch from off that the client wants (until iov is full, its limit is
 * reached or the chunk ends), and moves its cursor past what it took. The client keeps ch if a
 * frame of it is to be sent, else ch is released. */
static void take_records(client_t *c, chunk_t *ch, size_t off, h2o_iovec_t *iov, size_t *n)
{
    stream_t *st = c->st;
    size_t frames = 0, bytes = 0;
    rc_record_t rec;
    int first = 1;
    const uint8_t *last_frame = NULL; /* of the last record read past the resume's skips */
    uint32_t last_frame_len = 0;
    int bad = 0; /* a record of the copy that does not validate: never parsed past, never looped on */
    while (*n < SEND_IOV) {
        if (!rc_ring_next_record(ch->data, ch->len, &off, &rec)) {
            bad = off < ch->len;
            break;
        }
        if (first && rec.h.seq != c->cur.seq) {
            rc_warn("sse", "%s: no record %" PRIu64 " where the stream expected it; ending the stream", st->conf->name,
                    c->cur.seq);
            c->finished = 1;
            break;
        }
        first = 0;
        c->cur.seq = rec.h.seq + 1;
        if (had_already(c, &rec))
            continue;
        last_frame = rec.frame;
        last_frame_len = rec.h.frame_len;
        if (!wants(c, &rec))
            continue;
        iov[(*n)++] = h2o_iovec_init(rec.frame, rec.h.frame_len);
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
        rc_chunk_release(ch);
    }
}

/* Fills iov from the ring: up to PUMP_ROUNDS chunks while all they hold is filtered out. */
static void read_frames(client_t *c, h2o_iovec_t *iov, size_t *n)
{
    stream_t *st = c->st;
    for (int round = 0; round < PUMP_ROUNDS && *n == 0; round++) {
        chunk_t *ch;
        size_t off;
        rc_read_t r = rc_stream_chunk_at(st, c, &ch, &off);
        if (r == RC_READ_EMPTY)
            break;
        if (r == RC_READ_LAPPED) {
            if (on_lapped(c) != 0)
                break;
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
        take_pre(c, iov, n);
        take_records(c, ch, off, iov, n);
        if (c->finished)
            break;
    }
}

void rc_client_pump(client_t *c)
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
    read_frames(c, iov, &n);
    if (n == 0)
        take_pre(c, iov, &n); /* the retry hint opens a stream at once, a gap or reset is said at once */
    if (n == 0 && !c->finished) {
        if (!wait_at_head(c))
            rc_client_defer(c); /* more records, all filtered out so far: continue on the next loop turn */
        return;
    }
    unwait(c);
    send_frames(c, iov, n, c->finished);
}

void rc_client_on_defer(h2o_timeout_entry_t *entry)
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
        rc_client_pump(c);
    }
}

void rc_client_defer(client_t *c)
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
    if (c->chunk != NULL && !rc_chunk_covers(c->chunk, c->cur)) {
        rc_chunk_release(c->chunk);
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
    rc_client_defer(c);
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
    rc_chunk_release(c->chunk);
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
    rc_client_pump(c);
}

/* --- the start of a stream ----------------------------------------------------------------------- */

/* A client with room for its filters, copied from the worker's scratch query at their own sizes.
 * An HTTP/2 client goes in its request's pool (already paid for: h2o gives every request 4 KiB); an
 * HTTP/1.x client outlives its request, so it is allocated on its own. */
client_t *rc_client_new(const rc_query_t *q, h2o_req_t *req, stream_t *st)
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
    c->hook = h2o_mem_alloc_shared(&req->pool, sizeof(c), on_req_dispose);
    *c->hook = c; /* until the client is the socket's (HTTP/1.x), the request's end frees it */
    c->super.proceed = on_proceed;
    c->super.stop = on_stop;
    c->req = req;
    c->st = st;
    return c;
}

int rc_client_resume(client_t *c, const char *id, size_t id_len, const char **why)
{
    /* A lapped client's own last id can lag its position on a partition it skips over after a
     * resume (it had those records): what it had before is the floor. */
    stream_t *st = c->st;
    rc_resume_plan_t plan;
    if (rc_resume_plan_id(st->ring, st->topics, st->n_topics, st->fp, id, id_len, c->skip, c->n_skip, &plan) ==
        RC_RESUME_RESET) {
        *why = rc_resume_reset_str(plan.reset);
        return -1;
    }
    c->cur = plan.start;
    free(c->skip);
    c->skip = plan.skip;
    c->n_skip = plan.n_skip;
    plan.skip = NULL;
    if (plan.result == RC_RESUME_GAP) {
        size_t len;
        char *json = rc_resume_gap_json(&plan, &len);
        rc_client_add_pre(c, H2O_STRLIT("event: gap\ndata: "));
        rc_client_add_pre(c, json, len);
        rc_client_add_pre(c, H2O_STRLIT("\n\n"));
        free(json);
    }
    rc_resume_plan_free(&plan);
    return plan.result == RC_RESUME_GAP ? 1 : 0;
}

void rc_client_start(client_t *c, h2o_req_t *req, uint64_t timeout_ms)
{
    stream_t *st = c->st;
    if (timeout_ms)
        c->deadline_ms = now_ms() + timeout_ms;
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
        rc_client_pump(c);
        return;
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
}

/* --- the worker's rounds: ends, deadlines, stalls, heartbeats ---------------------------------- */

/* Ends every stream of st after what is in flight. A last `retry:` with a random part spreads
 * the reconnections of many clients ended at once (a deploy, a replaced ring). */
void rc_stream_end_clients(stream_t *st)
{
    for (h2o_linklist_t *l = st->clients.next; l != &st->clients; l = l->next) {
        client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_all, l);
        if (c->finished)
            continue;
        char line[64];
        uint64_t ms = W.cfg->edge.retry_ms + (uint64_t)rand() % (W.cfg->edge.retry_ms + 1);
        int k = snprintf(line, sizeof(line), "retry: %" PRIu64 "\n\n", ms);
        rc_client_add_pre(c, line, (size_t)k);
        c->finished = 1;
        rc_client_defer(c);
    }
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

void rc_clients_housekeep(void)
{
    uint64_t now = now_ms();
    int64_t real = (int64_t)rc_now_real_ms(); /* tokens expire by the wall clock */
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        for (h2o_linklist_t *l = st->clients.next, *next; l != &st->clients; l = next) {
            next = l->next; /* a stalled client goes from the list */
            client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, link_all, l);
            if (c->deadline_ms && now >= c->deadline_ms && !c->finished) {
                c->finished = 1;
                rc_client_defer(c);
            }
            if (c->expires_ms && real >= c->expires_ms && !c->finished) {
                /* The token ran out: say so, and end the response (EventSource reconnects). */
                rc_client_add_event(c, RC_ACCESS_EXPIRED_EVENT, RC_ACCESS_EXPIRED_DATA);
                c->finished = 1;
                rc_client_defer(c);
            }
            check_stalled(c);
        }
    }
}

void rc_clients_heartbeat(void)
{
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
}

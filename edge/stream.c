/*
 * The streams of an edge worker (worker_internal.h): each one's ring mapping, its chunk cache and
 * the clients waiting at its head.
 *
 * Owns W.streams[] and, per stream, the ring mapping (rc_ring_close when the file is replaced,
 * removed or truncated, or once a retired stream has no client left) and the RECENT_CHUNKS newest
 * chunks (one reference each; rc_stream_chunks_forget drops them). Clients hold their own chunk
 * references (client.c) and are ended, not freed, here: their transports free them.
 *
 * Chunks. A chunk is a copy of contiguous ring records made once and shared by every client at the
 * same position: clients that are caught up all wait at the head and, when the bridge wakes the
 * worker, the first of them copies the new records and the others send the same bytes (nchan's
 * "spool"). A client far behind costs its worker one chunk, whatever the ring's size.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"
#include "worker_internal.h"

/* --- chunks ------------------------------------------------------------------------------------- */

void rc_chunk_release(chunk_t *ch)
{
    if (ch != NULL && --ch->refs == 0)
        free(ch);
}

int rc_chunk_covers(const chunk_t *ch, rc_cursor_t cur)
{
    return ch->start.pos <= cur.pos && cur.pos < ch->end.pos && ch->start.seq <= cur.seq;
}

/* A chunk holding the client's next record: the one it holds if it reads on in it, else one of the
 * stream's recent copies if one covers it (clients at the head share the newest, clients a little
 * behind an older one), else a new copy from there of at most CHUNK_BYTES (or of the one record, if
 * larger): a client far behind costs its worker one such chunk, whatever the ring's size. The
 * client parses it from its cursor: *off is where. */
rc_read_t rc_stream_chunk_at(stream_t *st, client_t *cl, chunk_t **out, size_t *off)
{
    chunk_t *held = cl->chunk;
    cl->chunk = NULL;
    if (held != NULL && rc_chunk_covers(held, cl->cur)) {
        *out = held; /* the client's reference goes with it */
        *off = (size_t)(cl->cur.pos - held->start.pos);
        return RC_READ_OK;
    }
    rc_chunk_release(held);
    rc_cursor_t cur = cl->cur;
    for (int i = 0; i < RECENT_CHUNKS && st->recent[i] != NULL; i++) {
        chunk_t *ch = st->recent[i];
        if (rc_chunk_covers(ch, cur)) {
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
    rc_chunk_release(st->recent[RECENT_CHUNKS - 1]);
    memmove(st->recent + 1, st->recent, (RECENT_CHUNKS - 1) * sizeof(st->recent[0]));
    st->recent[0] = ch;
    *out = ch;
    *off = 0;
    return RC_READ_OK;
}

void rc_stream_chunks_forget(stream_t *st)
{
    for (int i = 0; i < RECENT_CHUNKS; i++) {
        rc_chunk_release(st->recent[i]);
        st->recent[i] = NULL;
    }
}

/* --- rings ------------------------------------------------------------------------------------- */

/* Maps rings that appeared, notices rings that were replaced (a bridge that made a new one). */
void rc_streams_check_rings(void)
{
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (st->retired && st->n_clients == 0) { /* removed by a reload, and nobody reads it any more */
            if (st->ring != NULL) {
                rc_stream_chunks_forget(st);
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
            rc_stream_end_clients(st);
            rc_stream_chunks_forget(st);
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

void rc_streams_wake_all(void)
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
            rc_client_pump(c);
        }
    }
}

uint64_t rc_streams_clients(void)
{
    uint64_t n = 0;
    for (size_t i = 0; i < W.n_streams; i++)
        n += W.streams[i].n_clients;
    return n;
}

/* --- configuration: at start and at a reload ---------------------------------------------------- */

/* Points st at its configuration (at start, or again after a reload). */
static void stream_configure(stream_t *st, const rc_stream_conf_t *conf)
{
    st->conf = conf;
    snprintf(st->path, sizeof(st->path), "%s/%s.ring", W.cfg->ring.dir, st->conf->name);
    st->n_topics = (uint32_t)rc_eventid_sort_topics(st->topics, (const char *const *)conf->topics, conf->n_topics);
    st->fp = rc_eventid_fingerprint(st->topics, st->n_topics);
    long slot = rc_edge_slot_of(W.shared, conf->name); /* the master gave every configured stream one */
    st->slot = slot >= 0 ? (size_t)slot : 0;
    st->ctr = &W.counters[(size_t)W.id * W.shared->slots + st->slot];
}

void rc_streams_setup(void)
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

/* The entry of streams[] for a stream the reload adds: a new one, or one that was removed and
 * has no open streams left (nothing points at it). */
static stream_t *stream_entry(void)
{
    if (W.n_streams < W.cap)
        return &W.streams[W.n_streams++];
    for (size_t i = 0; i < W.n_streams; i++) {
        stream_t *st = &W.streams[i];
        if (st->retired && st->n_clients == 0) {
            rc_stream_chunks_forget(st);
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
void rc_streams_reload(const rc_config_t *next)
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

stream_t *rc_stream_named(const char *name, size_t len)
{
    for (size_t i = 0; i < W.n_streams; i++)
        if (!W.streams[i].retired && strlen(W.streams[i].conf->name) == len &&
            memcmp(W.streams[i].conf->name, name, len) == 0)
            return &W.streams[i];
    return NULL;
}

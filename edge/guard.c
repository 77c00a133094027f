/*
 * Guards in front of h2o 2.2.5 (see guard.h). Each one works around a behaviour of that version
 * that the edge cannot change through h2o's public API; the build stops on another version, whose
 * internals these guards would have to be checked against again.
 *
 * HTTP/1.1 body framing. h2o frames a body by the first of several Content-Length headers, or by
 * Transfer-Encoding when both are present, and keeps both headers out of req->headers. A proxy in
 * front that reads the framing the other way would see the bytes after the body as part of it, and
 * the edge would answer them as a second request the proxy never sent (request smuggling). The
 * request's header block is still at the start of the connection's input buffer when the handler
 * runs (h2o consumes it only when the response is done), so the guard reads those headers there.
 *
 * HTTP/2 request bodies. h2o buffers a body whole and calls the handler at END_STREAM; a DATA frame
 * that takes the body over globalconf->max_request_entity_size gets RST_STREAM(REFUSED_STREAM),
 * and 2.2.5 has no streaming-body API (proceed_req came later). The guard sits in front of h2o's
 * frame reader of each connection (h2o_http2_conn_t::_read_expect, from http2_internal.h): past
 * that size it drops the payload, credits flow control as h2o would, and at END_STREAM hands h2o
 * an empty DATA frame that ends the body, so the request reaches the handler with what was kept
 * (more than any stream's max_publish_bytes: the worker keeps the global limit at twice the
 * largest) and the client gets a 413 with its reason, as over HTTP/1.1. h2o's readers are static
 * functions: expect_default is recognised by a probe that has no effect (below), and
 * expect_continuation_of_headers when h2o switches to it. New connections get the guard after the
 * event loop's turn that made them; until then the connection-level flow control window (65535
 * bytes before h2o's first WINDOW_UPDATE) keeps their bodies below the limit (at least 64 KiB).
 */
#include "guard.h"

#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include <h2o/version.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2 || H2O_VERSION_PATCH != 5
#error "edge/guard.c reads h2o 2.2.5's internals: check them against this version"
#endif

/* --- HTTP/1.1 body framing --------------------------------------------------------------------- */

/* p[0..n) with spaces and tabs around it removed. */
static h2o_iovec_t trimmed(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return h2o_iovec_init(p, n);
}

const char *rc_guard_h1_framing(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL)
        return NULL;
    const char *p = sock->input->bytes, *end = p + sock->input->size;
    /* With a body, the header block ends where h2o put the body (right after it, decoded in place
     * when chunked); without one, at the first empty line. */
    uintptr_t body = (uintptr_t)req->entity.base;
    if (req->entity.base != NULL && body >= (uintptr_t)p && body <= (uintptr_t)end)
        end = req->entity.base;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return NULL;
    h2o_iovec_t length = {NULL, 0};
    int lengths = 0, encodings = 0, differ = 0, space = 0;
    for (p = nl + 1; p < end; p = nl + 1) { /* the request line skipped, one header line a turn */
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl != NULL ? nl : end) - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0)
            break;
        const char *colon = memchr(p, ':', len);
        if (colon != NULL) {
            h2o_iovec_t name = trimmed(p, (size_t)(colon - p)),
                        value = trimmed(colon + 1, len - (size_t)(colon + 1 - p));
            int cl = h2o_lcstris(name.base, name.len, H2O_STRLIT("content-length")),
                te = h2o_lcstris(name.base, name.len, H2O_STRLIT("transfer-encoding"));
            if ((cl || te) && (name.base != p || name.base + name.len != colon))
                space = 1;
            if (cl && lengths++ == 0)
                length = value;
            else if (cl && !h2o_memis(value.base, value.len, length.base, length.len))
                differ = 1;
            encodings += te;
        }
        if (nl == NULL)
            break;
    }
    if (space)
        return "ambiguous request body: whitespace around a Content-Length or Transfer-Encoding name\n";
    if (differ)
        return "ambiguous request body: Content-Length headers with different values\n";
    if (lengths && encodings)
        return "ambiguous request body: Content-Length together with Transfer-Encoding\n";
    if (encodings > 1)
        return "ambiguous request body: more than one Transfer-Encoding header\n";
    return NULL;
}

/* --- HTTP/2 request bodies --------------------------------------------------------------------- */

typedef ssize_t (*read_fn)(h2o_http2_conn_t *conn, const uint8_t *src, size_t len, const char **err_desc);

static read_fn h2o_default, h2o_continuation; /* h2o's frame readers, once recognised */

static ssize_t guarded_read(h2o_http2_conn_t *conn, const uint8_t *src, size_t len, const char **err_desc);

/* Runs h2o's reader fn; if it switched the connection to another reader of h2o (CONTINUATION
 * frames expected, or no longer), the guard goes back in front of it. */
static ssize_t pass(h2o_http2_conn_t *conn, read_fn fn, const uint8_t *src, size_t len, const char **err_desc)
{
    ssize_t r = fn(conn, src, len, err_desc);
    read_fn now = conn->_read_expect;
    if (now != guarded_read) {
        if (h2o_continuation == NULL && now != h2o_default && conn->_headers_unparsed != NULL)
            h2o_continuation = now;
        if (now == h2o_default || now == h2o_continuation)
            conn->_read_expect = guarded_read;
    }
    return r;
}

/* h2o's update_input_window(): consumed bytes of a window, and a WINDOW_UPDATE once it is half
 * used, topping it up to h2o's initial window. */
static void credit(h2o_http2_conn_t *conn, uint32_t stream_id, h2o_http2_window_t *window, size_t consumed)
{
    h2o_http2_window_consume_window(window, consumed);
    if (h2o_http2_window_get_window(window) * 2 < H2O_HTTP2_SETTINGS_HOST.initial_window_size) {
        int32_t delta = (int32_t)(H2O_HTTP2_SETTINGS_HOST.initial_window_size - h2o_http2_window_get_window(window));
        h2o_http2_encode_window_update_frame(&conn->_write.buf, stream_id, delta);
        h2o_http2_conn_request_write(conn);
        h2o_http2_window_update(window, delta);
    }
}

/* The open stream with this id, found through the priority tree every open stream is in (each
 * stream's scheduler ref hangs under its parent's): h2o's own lookup, h2o_http2_conn_get_stream(),
 * needs the hash table whose header h2o does not install. A connection has at most 100 streams. */
static h2o_http2_stream_t *find_stream(h2o_http2_scheduler_node_t *node, uint32_t id, int depth)
{
    for (h2o_linklist_t *l = node->_all_refs.next; l != &node->_all_refs; l = l->next) {
        h2o_http2_scheduler_openref_t *ref = H2O_STRUCT_FROM_MEMBER(h2o_http2_scheduler_openref_t, _all_link, l);
        h2o_http2_stream_t *stream = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, _refs.scheduler, ref);
        if (stream->stream_id == id)
            return stream;
        h2o_http2_stream_t *found = depth < 256 ? find_stream(&ref->node, id, depth + 1) : NULL;
        if (found != NULL)
            return found;
    }
    return NULL;
}

static ssize_t guarded_read(h2o_http2_conn_t *conn, const uint8_t *src, size_t len, const char **err_desc)
{
    if (conn->_headers_unparsed != NULL) /* only ever set while h2o waits for CONTINUATION frames */
        return pass(conn, h2o_continuation, src, len, err_desc);
    h2o_http2_frame_t frame;
    h2o_http2_data_payload_t payload;
    h2o_http2_stream_t *stream;
    const char *ignored;
    ssize_t n = h2o_http2_decode_frame(&frame, src, len, &H2O_HTTP2_SETTINGS_HOST, &ignored);
    if (n < 0 || frame.type != H2O_HTTP2_FRAME_TYPE_DATA || conn->state != H2O_HTTP2_CONN_STATE_OPEN ||
        (stream = find_stream(&conn->scheduler, frame.stream_id, 0)) == NULL ||
        stream->state != H2O_HTTP2_STREAM_STATE_RECV_BODY || stream->_req_body == NULL ||
        h2o_http2_decode_data_payload(&payload, &frame, &ignored) != 0 ||
        stream->_req_body->size + payload.length <= conn->super.ctx->globalconf->max_request_entity_size)
        return pass(conn, h2o_default, src, len, err_desc); /* h2o reads it, and reports any error */
    /* Over the limit: the payload is dropped; what was kept is shorter than a content-length the
     * client announced, which h2o would otherwise take for a protocol error. */
    stream->_expected_content_length = SIZE_MAX;
    credit(conn, 0, &conn->_input_window, frame.length);
    if ((frame.flags & H2O_HTTP2_FRAME_FLAG_END_STREAM) == 0) {
        credit(conn, frame.stream_id, &stream->input_window, frame.length);
        return n;
    }
    /* The body ends here: an empty DATA frame with END_STREAM makes h2o run the request. */
    uint8_t end[H2O_HTTP2_FRAME_HEADER_SIZE] = {0, 0, 0, H2O_HTTP2_FRAME_TYPE_DATA, H2O_HTTP2_FRAME_FLAG_END_STREAM};
    end[5] = (uint8_t)(frame.stream_id >> 24), end[6] = (uint8_t)(frame.stream_id >> 16);
    end[7] = (uint8_t)(frame.stream_id >> 8), end[8] = (uint8_t)frame.stream_id;
    ssize_t r = pass(conn, h2o_default, end, sizeof(end), err_desc);
    return r < 0 ? r : n;
}

/* True if fn is h2o's expect_default rather than expect_preface: given the first 24 bytes of a
 * frame longer than that, expect_default answers "incomplete" and expect_preface "not a preface";
 * neither changes anything. */
static int is_default_reader(h2o_http2_conn_t *conn, read_fn fn)
{
    static const uint8_t probe[24] = {0, 1, 0, H2O_HTTP2_FRAME_TYPE_DATA, 0, 0, 0, 0, 1};
    const char *ignored;
    return fn(conn, probe, sizeof(probe), &ignored) == H2O_HTTP2_ERROR_INCOMPLETE;
}

void rc_guard_h2_bodies(h2o_context_t *ctx)
{
    for (h2o_linklist_t *l = ctx->http2._conns.next; l != &ctx->http2._conns; l = l->next) {
        h2o_http2_conn_t *conn = H2O_STRUCT_FROM_MEMBER(h2o_http2_conn_t, _conns, l);
        read_fn fn = conn->_read_expect;
        if (fn == guarded_read || fn == NULL || conn->_headers_unparsed != NULL)
            continue; /* guarded, or waiting for CONTINUATION frames: the guard comes after them */
        if (h2o_default == NULL && is_default_reader(conn, fn))
            h2o_default = fn;
        if (fn == h2o_default)
            conn->_read_expect = guarded_read;
    }
}

/* --- static files ------------------------------------------------------------------------------ */

/* True if the real path p is root or inside it. */
static int inside(const char *root, const char *p)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int rc_guard_static_refused(const char *root, h2o_iovec_t path)
{
    if (root == NULL || path.len == 0 || path.base[0] != '/' || memchr(path.base, '\0', path.len) != NULL)
        return 1;
    for (size_t i = 0; i + 1 < path.len; i++)
        if (path.base[i] == '/' && path.base[i + 1] == '.')
            return 1; /* a dotfile or dot-directory (.env, .git/): never content for browsers */
    char mapped[PATH_MAX], real[PATH_MAX];
    int n = snprintf(mapped, sizeof(mapped), "%s%.*s", root, (int)path.len, path.base);
    struct stat s;
    if (n < 0 || (size_t)n >= sizeof(mapped) || realpath(mapped, real) == NULL || !inside(root, real) ||
        stat(real, &s) != 0)
        return 1;
    if (!S_ISDIR(s.st_mode))
        return 0;
    /* A directory: h2o serves the first index file it can open. */
    for (const char **f = h2o_file_default_index_files; *f != NULL; f++) {
        char index[PATH_MAX];
        n = snprintf(mapped, sizeof(mapped), "%s/%s", real, *f);
        if (n > 0 && (size_t)n < sizeof(mapped) && realpath(mapped, index) != NULL)
            return !inside(root, index);
    }
    return 0; /* no index file: h2o answers 403 or 404 itself (no directory listing) */
}

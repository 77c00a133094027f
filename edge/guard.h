/*
 * Guards in front of h2o 2.2.5 for what it lets through on its own (see guard.c): request bodies
 * framed ambiguously on HTTP/1.1 (smuggling), HTTP/2 bodies over the size limit (h2o resets the
 * stream instead of letting the edge answer 413), and static paths that leave edge.static_dir or
 * name dotfiles.
 */
#ifndef RC_GUARD_H
#define RC_GUARD_H

#include <h2o.h>

/* HTTP/1.x: the reason to refuse a request whose body framing is ambiguous (Content-Length twice
 * with different values, Content-Length with Transfer-Encoding, Transfer-Encoding twice, or one of
 * them with whitespace before the colon), as a short text line; NULL if the framing is clear or the
 * request is not HTTP/1.x. The caller answers 400 and closes the connection. */
const char *rc_guard_h1_framing(h2o_req_t *req);

/* HTTP/2: called after every turn of the event loop; puts the body guard on connections that do
 * not have it yet. With it, a request body over globalconf->max_request_entity_size is read and
 * dropped past that size and the request reaches the handler with what was kept (more than any
 * stream's max_publish_bytes), which answers 413, where h2o alone would reset the stream. */
void rc_guard_h2_bodies(h2o_context_t *ctx);

/* Static files: 1 if path (req->path_normalized: decoded, without dot segments) must not be served
 * from the directory whose real path is root (NULL: none): a segment starting with '.', a NUL, a
 * file that does not exist, or one whose real path (symbolic links resolved) is outside root. For a
 * directory, the index file h2o would serve is checked. 0 if h2o's file handler may serve it. */
int rc_guard_static_refused(const char *root, h2o_iovec_t path);

#endif

/*
 * The edge's listening sockets and TLS contexts: what the master binds at start and what a reload
 * checks before it publishes a config. Each worker binds its own sockets (SO_REUSEPORT).
 */
#ifndef RC_EDGE_LISTEN_H
#define RC_EDGE_LISTEN_H

#include <stddef.h>

#include "config.h"

/* Binds and listens on one configured address with SO_REUSEPORT, non-blocking. Returns the fd (the
 * caller closes it), or -1 with a message in err. */
int rc_edge_listen(const rc_listen_conf_t *l, char *err, size_t errlen);

/* The TLS context of a listener with tls: (certificate chain and key, ALPN h2 and http/1.1).
 * Returns a context the caller frees with SSL_CTX_free, or NULL with a message in err. */
struct ssl_ctx_st *rc_edge_tls_context(const rc_listen_conf_t *l, char *err, size_t errlen);

#endif

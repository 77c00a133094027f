/*
 * Listening sockets and TLS (listen.h, and the worker's side in worker_internal.h).
 *
 * rc_edge_listen and rc_edge_tls_context are used by the master (which binds once at start to
 * fail early), the reload (which checks certificates before publishing a config) and the workers.
 * A worker's listeners and per-listener accept contexts live in W for the worker's life; it closes
 * the listeners when it drains. An SSL_CTX is reference counted by OpenSSL: the accept context holds
 * one, each TLS connection another, so a reload can replace the context under open connections.
 */
#include "listen.h"

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "worker_internal.h"

#define UNSENT_MAX (64 << 10) /* TCP_NOTSENT_LOWAT: bytes the kernel queues unsent for one connection */

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

int rc_listeners_open(const rc_config_t *cfg)
{
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
                return -1;
            }
        }
        int fd = rc_edge_listen(l, err, sizeof(err));
        if (fd < 0) {
            rc_error("http", "%s", err);
            return -1;
        }
        W.listeners[W.n_listeners] = h2o_evloop_socket_create(W.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        W.listeners[W.n_listeners]->data = actx;
        h2o_socket_read_start(W.listeners[W.n_listeners++], on_accept);
    }
    return 0;
}

void rc_listeners_close(void)
{
    for (size_t i = 0; i < W.n_listeners; i++)
        h2o_socket_close(W.listeners[i]);
    W.n_listeners = 0;
}

/* New certificates and keys for new connections; open ones keep theirs (each SSL holds a reference
 * to the SSL_CTX it was made from, so the old context lives as long as they do). */
void rc_listeners_reload_tls(const rc_config_t *next)
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

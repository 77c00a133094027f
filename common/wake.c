#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define RECV_FDS    8 /* descriptors one message may carry; an edge sends 1. More is a protocol error */
#define RECV_MSGS   8 /* messages read from one connection per service call: a chatty peer waits its turn */
#define EVENTFD_TAG "anon_inode:[eventfd]" /* what /proc/self/fd/N of an eventfd links to */
#define WARN_GAP_NS 1000000000ull          /* at most one refusal warning a second; the rest are counted */

typedef struct {
    int sock;                      /* connection from one edge worker */
    pid_t pid;                     /* the peer, for logs (SO_PEERCRED; 0 if unknown) */
    uint32_t n_efd;                /* eventfds it registered */
    int efd[RC_WAKE_MAX_PER_PEER]; /* each one a checked, non-blocking eventfd */
} peer_t;

struct st_rc_wake_server_t {
    int listen_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    peer_t *peers; /* RC_WAKE_MAX_PEERS of them */
    size_t n;
    size_t n_efd; /* eventfds of every peer together, <= RC_WAKE_MAX_TOTAL */
    rc_wake_refused_t refused;
    uint64_t last_warn_ns;
    uint64_t unwarned; /* refusals not logged since the last warning */
};

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* A refusal is worth a line in the log, but a peer must not be able to flood it: one a second,
 * with the number of those not shown. */
static void warn_refusal(rc_wake_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_refusal(rc_wake_server_t *s, const char *fmt, ...)
{
    uint64_t now = rc_now_mono_ns();
    if (s->last_warn_ns != 0 && now - s->last_warn_ns < WARN_GAP_NS) {
        s->unwarned++;
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->unwarned > 0)
        rc_warn("wake", "%s (and %" PRIu64 " refusals not shown since the last warning)", msg, s->unwarned);
    else
        rc_warn("wake", "%s", msg);
    s->last_warn_ns = now;
    s->unwarned = 0;
}

rc_wake_server_t *rc_wake_server_open(const char *path, gid_t gid, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path) != 0) {
        snprintf(err, errlen, "%s: path too long for a unix socket", path);
        return NULL;
    }
    /* The socket is bound under a temporary name no longer than the real one (so it fits too),
     * given its mode and group, and renamed into place: no edge, and nobody else, ever finds it
     * with the mode the umask would have given it. */
    char tmp[sizeof(sa.sun_path)];
    const char *slash = strrchr(path, '/');
    int dirlen = slash != NULL ? (int)(slash - path) : 1;
    snprintf(tmp, sizeof(tmp), "%.*s/.wk%06x", dirlen, slash != NULL ? path : ".", (unsigned)getpid() & 0xffffffu);
    struct sockaddr_un ta;
    if (fill_addr(&ta, tmp) != 0) {
        snprintf(err, errlen, "%s: path too long for a unix socket", tmp);
        return NULL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    unlink(tmp); /* left by a bridge of the same pid that died: pids are reused */
    if (bind(fd, (struct sockaddr *)&ta, sizeof(ta)) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        return NULL;
    }
    if ((gid != (gid_t)-1 && chown(tmp, (uid_t)-1, gid) != 0) || chmod(tmp, RC_WAKE_SOCK_MODE) != 0) {
        snprintf(err, errlen, "%s: cannot set group %ld and mode %o: %s", path, gid == (gid_t)-1 ? -1L : (long)gid,
                 RC_WAKE_SOCK_MODE, strerror(errno));
        goto fail;
    }
    /* A socket file left by a bridge that died is replaced: only one bridge holds the rings. */
    if (listen(fd, 64) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    rc_wake_server_t *s = rc_calloc(1, sizeof(*s));
    s->peers = rc_calloc(RC_WAKE_MAX_PEERS, sizeof(*s->peers));
    s->listen_fd = fd;
    snprintf(s->path, sizeof(s->path), "%s", path);
    return s;
fail:
    close(fd);
    unlink(tmp);
    return NULL;
}

int rc_wake_server_fd(const rc_wake_server_t *s)
{
    return s->listen_fd;
}

size_t rc_wake_server_count(const rc_wake_server_t *s)
{
    return s->n_efd;
}

size_t rc_wake_server_peers(const rc_wake_server_t *s)
{
    return s->n;
}

rc_wake_refused_t rc_wake_server_refused(const rc_wake_server_t *s)
{
    return s->refused;
}

static void drop(rc_wake_server_t *s, size_t i)
{
    peer_t *p = &s->peers[i];
    close(p->sock);
    for (uint32_t k = 0; k < p->n_efd; k++)
        close(p->efd[k]);
    s->n_efd -= p->n_efd;
    s->peers[i] = s->peers[--s->n];
}

/* Is fd an eventfd? Puts what it is into kind (the /proc link text) for the log. An eventfd is an
 * anonymous inode with no file type; its /proc/self/fd link names it. Without /proc nothing can be
 * told apart, and nothing is taken. */
static int is_eventfd(int fd, char *kind, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(kind, len, "a descriptor fstat refuses (%s)", strerror(errno));
        return 0;
    }
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, kind, len - 1);
    if (n < 0) {
        snprintf(kind, len, "a descriptor that cannot be checked (%s: %s)", link, strerror(errno));
        return 0;
    }
    kind[n] = '\0';
    mode_t type = st.st_mode & S_IFMT;
    return (type == 0 || type == S_IFREG) && strcmp(kind, EVENTFD_TAG) == 0;
}

/* Takes one descriptor a peer passed: registers it, or closes it. Returns -1 if the peer broke the
 * protocol (the connection is then ended), 0 otherwise. */
static int take(rc_wake_server_t *s, peer_t *p, int fd)
{
    char kind[128];
    if (!is_eventfd(fd, kind, sizeof(kind))) {
        close(fd);
        s->refused.not_eventfd++;
        warn_refusal(s, "%s: peer pid %d passed %s, not an eventfd: refused, connection closed", s->path, (int)p->pid,
                     kind);
        return -1;
    }
    if (p->n_efd >= RC_WAKE_MAX_PER_PEER || s->n_efd >= RC_WAKE_MAX_TOTAL) {
        close(fd);
        s->refused.over_limit++;
        warn_refusal(s, "%s: peer pid %d: eventfd refused, %s", s->path, (int)p->pid,
                     p->n_efd >= RC_WAKE_MAX_PER_PEER ? "64 already registered on its connection"
                                                      : "1024 already registered in all");
        return 0;
    }
    /* The bridge writes to it after every publication, in its only thread: a write that could
     * block (an eventfd whose counter the peer filled) must fail instead. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
        close(fd);
        s->refused.not_eventfd++;
        warn_refusal(s, "%s: peer pid %d passed an eventfd that cannot be made non-blocking: refused", s->path,
                     (int)p->pid);
        return -1;
    }
    p->efd[p->n_efd++] = fd;
    s->n_efd++;
    return 0;
}

_Static_assert(RC_WAKE_MAX_PER_PEER == 64 && RC_WAKE_MAX_TOTAL == 1024, "take()'s warnings spell the limits out");

/* Reads what the peer sent: eventfds, or EOF. Returns -1 if the connection is to be ended. */
static int receive(rc_wake_server_t *s, peer_t *p)
{
    for (int m = 0; m < RECV_MSGS; m++) {
        char byte;
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(RECV_FDS * sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(p->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return -1;
        if (n < 0)
            return 0;
        int bad = 0;
        /* Every descriptor that arrived is either kept or closed, even after a bad one. */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
                continue;
            size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t k = 0; k < nfd; k++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(fd));
                if (take(s, p, fd) != 0)
                    bad = 1;
            }
        }
        if (msg.msg_flags & MSG_CTRUNC) {
            /* The kernel closed what did not fit: more than RECV_FDS in one message. */
            s->refused.over_limit++;
            warn_refusal(s, "%s: peer pid %d passed more than %d descriptors at once: connection closed", s->path,
                         (int)p->pid, RECV_FDS);
            bad = 1;
        }
        if (bad)
            return -1;
    }
    return 0;
}

void rc_wake_server_service(rc_wake_server_t *s)
{
    for (;;) {
        int c = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            break;
        if (s->n == RC_WAKE_MAX_PEERS) {
            close(c);
            s->refused.peers++;
            warn_refusal(s, "%s: %d connections open: a new one refused", s->path, RC_WAKE_MAX_PEERS);
            continue;
        }
        peer_t *p = &s->peers[s->n++];
        p->sock = c;
        p->n_efd = 0;
        p->pid = 0;
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
            p->pid = cred.pid;
    }
    for (size_t i = 0; i < s->n;) {
        if (receive(s, &s->peers[i]) != 0)
            drop(s, i);
        else
            i++;
    }
}

void rc_wake_server_notify(rc_wake_server_t *s)
{
    uint64_t one = 1;
    for (size_t i = 0; i < s->n; i++) {
        peer_t *p = &s->peers[i];
        for (uint32_t k = 0; k < p->n_efd;) {
            /* The peer shares the eventfd's file description and could clear O_NONBLOCK on it after
             * it registered; a registration that is blocking again is dropped, never written. */
            int fl = fcntl(p->efd[k], F_GETFL);
            if (fl < 0 || (fl & O_NONBLOCK) == 0) {
                close(p->efd[k]);
                p->efd[k] = p->efd[--p->n_efd];
                s->n_efd--;
                s->refused.blocking++;
                warn_refusal(s, "%s: peer pid %d made its eventfd blocking: registration dropped", s->path,
                             (int)p->pid);
                continue;
            }
            /* An eventfd only refuses a write when its counter would overflow (EAGAIN): the edge
             * then has a wake-up pending anyway. */
            ssize_t w = write(p->efd[k], &one, sizeof(one));
            (void)w;
            k++;
        }
    }
}

void rc_wake_server_close(rc_wake_server_t *s)
{
    if (s == NULL)
        return;
    while (s->n > 0)
        drop(s, s->n - 1);
    close(s->listen_fd);
    unlink(s->path);
    free(s->peers);
    free(s);
}

int rc_wake_connect(const char *path, int efd)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto fail;
    char byte = 'w';
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &efd, sizeof(efd));
    if (sendmsg(fd, &msg, MSG_NOSIGNAL) != 1)
        goto fail;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

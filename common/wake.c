#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define MAX_EDGES 256 /* edge workers of one host; each costs a socket and an eventfd */

typedef struct {
    int sock; /* connection from one edge worker */
    int efd;  /* its eventfd, -1 until received */
} edge_t;

struct st_rc_wake_server_t {
    int listen_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    edge_t edges[MAX_EDGES];
    size_t n;
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

rc_wake_server_t *rc_wake_server_open(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path) != 0) {
        snprintf(err, errlen, "%s: path too long for a unix socket", path);
        return NULL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    unlink(path); /* a socket file left by a bridge that died: only one bridge holds the rings */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    chmod(path, 0666); /* edges may run as another user; they only ever get woken */
    rc_wake_server_t *s = rc_calloc(1, sizeof(*s));
    s->listen_fd = fd;
    snprintf(s->path, sizeof(s->path), "%s", path);
    return s;
}

int rc_wake_server_fd(const rc_wake_server_t *s)
{
    return s->listen_fd;
}

size_t rc_wake_server_count(const rc_wake_server_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->edges[i].efd >= 0;
    return n;
}

static void drop(rc_wake_server_t *s, size_t i)
{
    close(s->edges[i].sock);
    if (s->edges[i].efd >= 0)
        close(s->edges[i].efd);
    s->edges[i] = s->edges[--s->n];
}

/* Reads what the edge sent: its eventfd (once), or EOF. Returns -1 if the edge is gone. */
static int receive(edge_t *e)
{
    char byte;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(e->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        if (e->efd >= 0)
            close(e->efd); /* one eventfd per connection: a second one replaces the first */
        e->efd = fd;
    }
    return 0;
}

void rc_wake_server_service(rc_wake_server_t *s)
{
    for (;;) {
        int c = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            break;
        if (s->n == MAX_EDGES) {
            close(c);
            continue;
        }
        s->edges[s->n++] = (edge_t){.sock = c, .efd = -1};
    }
    for (size_t i = 0; i < s->n;) {
        if (receive(&s->edges[i]) != 0)
            drop(s, i);
        else
            i++;
    }
}

void rc_wake_server_notify(rc_wake_server_t *s)
{
    uint64_t one = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (s->edges[i].efd < 0)
            continue;
        /* An eventfd only refuses a write when its counter would overflow: the edge then has a
         * wake-up pending anyway. */
        ssize_t w = write(s->edges[i].efd, &one, sizeof(one));
        (void)w;
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

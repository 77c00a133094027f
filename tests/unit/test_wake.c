/*
 * Unit tests of the bridge -> edge wake-up channel (common/wake.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "wake.h"

static int readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void sock_path(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/rc-wake-test-%d.sock", (int)getpid());
}

TEST(registered_eventfd_is_woken_by_notify)
{
    char path[128], err[256];
    sock_path(path, sizeof(path));
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    REQUIRE(s != NULL);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int c = rc_wake_connect(path, efd);
    REQUIRE(c >= 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 1);
    CHECK(!readable(efd, 0));
    rc_wake_server_notify(s);
    rc_wake_server_notify(s);
    CHECK(readable(efd, 1000));
    uint64_t v = 0;
    CHECK(read(efd, &v, sizeof(v)) == sizeof(v));
    CHECK_EQ_U64(v, 2); /* two publications, one wake-up */
    close(c);
    close(efd);
    rc_wake_server_close(s);
    CHECK(access(path, F_OK) != 0);
}

TEST(edge_that_goes_away_is_dropped)
{
    char path[128], err[256];
    sock_path(path, sizeof(path));
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    REQUIRE(s != NULL);
    int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK);
    int c1 = rc_wake_connect(path, e1), c2 = rc_wake_connect(path, e2);
    REQUIRE(c1 >= 0 && c2 >= 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 2);
    close(c1);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 1);
    rc_wake_server_notify(s);
    CHECK(readable(e2, 1000));
    CHECK(!readable(e1, 0));
    close(c2);
    close(e1);
    close(e2);
    rc_wake_server_close(s);
}

TEST(edge_sees_eof_when_the_bridge_goes_away)
{
    char path[128], err[256];
    sock_path(path, sizeof(path));
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    REQUIRE(s != NULL);
    int efd = eventfd(0, EFD_NONBLOCK);
    int c = rc_wake_connect(path, efd);
    REQUIRE(c >= 0);
    rc_wake_server_service(s);
    rc_wake_server_close(s);
    CHECK(readable(c, 1000));
    char b;
    CHECK_EQ_INT(read(c, &b, 1), 0);
    CHECK_EQ_INT(rc_wake_connect(path, efd), -1); /* nobody listens any more */
    close(c);
    close(efd);
}

TEST(stale_socket_file_is_replaced)
{
    char path[128], err[256];
    sock_path(path, sizeof(path));
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fclose(f);
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    CHECK(s != NULL);
    rc_wake_server_close(s);
}

/* --- the socket as a trust boundary ----------------------------------------------------------- */

/* A peer as a hostile local process would be: connects and passes whatever descriptors it likes. */
static int peer_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    return fd;
}

static int send_fds(int sock, const int *fds, int n)
{
    char byte = 'w';
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(64 * sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        abort();
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A notify that blocked would hang the test: SIGALRM (default action) ends it instead, loudly. */
static double timed_notify(rc_wake_server_t *s)
{
    alarm(10);
    double t0 = now_s();
    rc_wake_server_notify(s);
    double dt = now_s() - t0;
    alarm(0);
    return dt;
}

static int peer_closed(int sock)
{
    char b;
    return readable(sock, 1000) && read(sock, &b, 1) == 0;
}

static rc_wake_server_t *open_server(char *path, size_t len)
{
    char err[256];
    sock_path(path, len);
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    if (s == NULL)
        printf("# %s\n", err);
    return s;
}

TEST(a_pipe_is_refused_and_a_full_one_never_blocks_notify)
{
    char path[128];
    int before = open_fds();
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int pf[2];
    REQUIRE(pipe(pf) == 0);
    /* Fill the pipe, then make it blocking again: a write to it would wait forever. */
    fcntl(pf[1], F_SETFL, O_NONBLOCK);
    char junk[4096] = {0};
    while (write(pf[1], junk, sizeof(junk)) > 0)
        ;
    fcntl(pf[1], F_SETFL, 0);
    int c = peer_connect(path);
    REQUIRE(send_fds(c, &pf[1], 1) == 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 0);
    CHECK_EQ_INT(rc_wake_server_peers(s), 0);
    CHECK_EQ_U64(rc_wake_server_refused(s).not_eventfd, 1);
    CHECK(peer_closed(c)); /* the connection that passed it was ended */
    CHECK(timed_notify(s) < 0.5);
    /* The bridge kept no copy of the pipe: with ours closed, the reader sees EOF after the data. */
    close(pf[1]);
    fcntl(pf[0], F_SETFL, O_NONBLOCK);
    ssize_t r;
    while ((r = read(pf[0], junk, sizeof(junk))) > 0)
        ;
    CHECK_EQ_INT(r, 0);
    close(pf[0]);
    close(c);
    rc_wake_server_close(s);
    CHECK_EQ_INT(open_fds(), before);
}

TEST(descriptors_that_are_not_eventfds_are_refused)
{
    char path[128];
    int before = open_fds();
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int sp[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    int others[] = {
        open("/dev/null", O_WRONLY),          /* a character device */
        open("/proc/self/status", O_RDONLY),  /* a regular file */
        sp[0],                                /* a socket */
        timerfd_create(CLOCK_MONOTONIC, 0),   /* an anonymous inode, like an eventfd, but not one */
        open("/tmp", O_RDONLY | O_DIRECTORY), /* a directory */
    };
    int n = (int)(sizeof(others) / sizeof(others[0]));
    for (int i = 0; i < n; i++) {
        REQUIRE(others[i] >= 0);
        int c = peer_connect(path);
        REQUIRE(send_fds(c, &others[i], 1) == 0);
        rc_wake_server_service(s);
        CHECK_EQ_INT(rc_wake_server_count(s), 0);
        CHECK(peer_closed(c));
        close(c);
    }
    CHECK_EQ_U64(rc_wake_server_refused(s).not_eventfd, (uint64_t)n);
    /* An eventfd passed together with a pipe: both closed, the connection ended. */
    int pf[2], efd = eventfd(0, EFD_NONBLOCK);
    REQUIRE(pipe(pf) == 0);
    int mixed[] = {efd, pf[1]};
    int c = peer_connect(path);
    REQUIRE(send_fds(c, mixed, 2) == 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 0);
    CHECK(peer_closed(c));
    close(c);
    for (int i = 0; i < n; i++)
        close(others[i]);
    close(sp[1]);
    close(pf[0]);
    close(pf[1]);
    close(efd);
    rc_wake_server_close(s);
    CHECK_EQ_INT(open_fds(), before);
}

TEST(a_blocking_eventfd_is_made_non_blocking_and_a_full_one_never_blocks_notify)
{
    char path[128];
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int efd = eventfd(0, 0); /* blocking */
    int c = peer_connect(path);
    REQUIRE(send_fds(c, &efd, 1) == 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 1);
    CHECK(fcntl(efd, F_GETFL) & O_NONBLOCK); /* the file description is shared: we see it too */
    uint64_t full = UINT64_MAX - 1;          /* the counter at its maximum: a write of 1 would wait */
    fcntl(efd, F_SETFL, O_NONBLOCK);
    REQUIRE(write(efd, &full, sizeof(full)) == sizeof(full));
    CHECK(timed_notify(s) < 0.5);
    CHECK_EQ_INT(rc_wake_server_count(s), 1); /* a full counter is a pending wake-up, not an offence */
    close(c);
    close(efd);
    rc_wake_server_close(s);
}

TEST(an_eventfd_made_blocking_again_is_dropped_not_written)
{
    char path[128];
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int efd = eventfd(0, EFD_NONBLOCK);
    int c = peer_connect(path);
    REQUIRE(send_fds(c, &efd, 1) == 0);
    rc_wake_server_service(s);
    REQUIRE(rc_wake_server_count(s) == 1);
    uint64_t full = UINT64_MAX - 1;
    REQUIRE(write(efd, &full, sizeof(full)) == sizeof(full));
    fcntl(efd, F_SETFL, 0); /* after registering: the next write of the bridge would block */
    CHECK(timed_notify(s) < 0.5);
    CHECK_EQ_INT(rc_wake_server_count(s), 0);
    CHECK_EQ_U64(rc_wake_server_refused(s).blocking, 1);
    close(c);
    close(efd);
    rc_wake_server_close(s);
}

TEST(registrations_are_bounded_per_connection)
{
    char path[128];
    int before = open_fds();
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int efds[RC_WAKE_MAX_PER_PEER + 1];
    for (int i = 0; i <= RC_WAKE_MAX_PER_PEER; i++)
        efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int c = peer_connect(path);
    for (int i = 0; i <= RC_WAKE_MAX_PER_PEER; i++) /* one at a time: more than 8 in a message is refused */
        REQUIRE(send_fds(c, &efds[i], 1) == 0);
    for (int i = 0; i < 10 && rc_wake_server_count(s) + rc_wake_server_refused(s).over_limit < RC_WAKE_MAX_PER_PEER + 1;
         i++)
        rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), RC_WAKE_MAX_PER_PEER);
    CHECK_EQ_U64(rc_wake_server_refused(s).over_limit, 1);
    CHECK_EQ_INT(rc_wake_server_peers(s), 1); /* the connection stays: it only asked for too much */
    rc_wake_server_notify(s);
    CHECK(readable(efds[0], 1000) && readable(efds[RC_WAKE_MAX_PER_PEER - 1], 0));
    CHECK(!readable(efds[RC_WAKE_MAX_PER_PEER], 0));
    close(c);
    for (int i = 0; i <= RC_WAKE_MAX_PER_PEER; i++)
        close(efds[i]);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 0);
    rc_wake_server_close(s);
    CHECK_EQ_INT(open_fds(), before);
}

TEST(too_many_descriptors_in_one_message_end_the_connection)
{
    char path[128];
    int before = open_fds();
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    int efds[20];
    for (int i = 0; i < 20; i++)
        efds[i] = eventfd(0, EFD_NONBLOCK);
    int c = peer_connect(path);
    REQUIRE(send_fds(c, efds, 20) == 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 0);
    CHECK(peer_closed(c));
    close(c);
    for (int i = 0; i < 20; i++)
        close(efds[i]);
    rc_wake_server_close(s);
    CHECK_EQ_INT(open_fds(), before); /* the ones the kernel handed over were closed too */
}

TEST(registrations_are_bounded_in_total)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * RC_WAKE_MAX_TOTAL + 200) {
        TAP_FAIL("RLIMIT_NOFILE %llu is too low for this test", (unsigned long long)rl.rlim_cur);
        return;
    }
    char path[128];
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    enum { PEERS = RC_WAKE_MAX_TOTAL / RC_WAKE_MAX_PER_PEER + 1 };
    static int efds[PEERS][RC_WAKE_MAX_PER_PEER], socks[PEERS];
    for (int p = 0; p < PEERS; p++) {
        socks[p] = peer_connect(path);
        for (int i = 0; i < RC_WAKE_MAX_PER_PEER; i++) {
            efds[p][i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            REQUIRE(send_fds(socks[p], &efds[p][i], 1) == 0);
        }
        for (int k = 0; k < 10; k++)
            rc_wake_server_service(s);
    }
    CHECK_EQ_INT(rc_wake_server_count(s), RC_WAKE_MAX_TOTAL);
    CHECK_EQ_U64(rc_wake_server_refused(s).over_limit, RC_WAKE_MAX_PER_PEER);
    CHECK_EQ_INT(rc_wake_server_peers(s), PEERS);
    /* One registration gone makes room for one more. */
    close(socks[0]);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), RC_WAKE_MAX_TOTAL - RC_WAKE_MAX_PER_PEER);
    int e = eventfd(0, EFD_NONBLOCK);
    REQUIRE(send_fds(socks[PEERS - 1], &e, 1) == 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), RC_WAKE_MAX_TOTAL - RC_WAKE_MAX_PER_PEER + 1);
    close(e);
    for (int p = 0; p < PEERS; p++) {
        if (p > 0)
            close(socks[p]);
        for (int i = 0; i < RC_WAKE_MAX_PER_PEER; i++)
            close(efds[p][i]);
    }
    rc_wake_server_close(s);
}

TEST(connections_are_bounded)
{
    char path[128];
    rc_wake_server_t *s = open_server(path, sizeof(path));
    REQUIRE(s != NULL);
    static int socks[RC_WAKE_MAX_PEERS + 1];
    for (int i = 0; i <= RC_WAKE_MAX_PEERS; i++) {
        socks[i] = peer_connect(path);
        rc_wake_server_service(s);
    }
    CHECK_EQ_INT(rc_wake_server_peers(s), RC_WAKE_MAX_PEERS);
    CHECK_EQ_U64(rc_wake_server_refused(s).peers, 1);
    CHECK(peer_closed(socks[RC_WAKE_MAX_PEERS]));
    for (int i = 0; i <= RC_WAKE_MAX_PEERS; i++)
        close(socks[i]);
    rc_wake_server_close(s);
}

TEST(socket_file_is_0660_whatever_the_umask_with_the_group_asked_for)
{
    char path[128], err[256];
    sock_path(path, sizeof(path));
    mode_t old = umask(0);
    rc_wake_server_t *s = rc_wake_server_open(path, (gid_t)-1, err, sizeof(err));
    umask(old);
    REQUIRE(s != NULL);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 07777, 0660);
    CHECK_EQ_INT(st.st_gid, getegid());
    rc_wake_server_close(s);

    /* root may give it any group; others one of their own. */
    gid_t want = geteuid() == 0 ? 4242 : getegid();
    old = umask(0077);
    s = rc_wake_server_open(path, want, err, sizeof(err));
    umask(old);
    REQUIRE(s != NULL);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0660);
    CHECK_EQ_INT(st.st_gid, want);
    int efd = eventfd(0, EFD_NONBLOCK);
    int c = rc_wake_connect(path, efd); /* renamed into place, it still takes edges */
    CHECK(c >= 0);
    rc_wake_server_service(s);
    CHECK_EQ_INT(rc_wake_server_count(s), 1);
    close(c);
    close(efd);
    rc_wake_server_close(s);
    /* Nothing left behind in the directory: no temporary name. */
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "/tmp/.wk%06x", (unsigned)getpid() & 0xffffffu);
    CHECK(access(tmp, F_OK) != 0);
}

int main(void)
{
    return tap_run();
}

/*
 * Unit tests of the bridge -> edge wake-up channel (common/wake.c).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
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
    rc_wake_server_t *s = rc_wake_server_open(path, err, sizeof(err));
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
    rc_wake_server_t *s = rc_wake_server_open(path, err, sizeof(err));
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
    rc_wake_server_t *s = rc_wake_server_open(path, err, sizeof(err));
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
    rc_wake_server_t *s = rc_wake_server_open(path, err, sizeof(err));
    CHECK(s != NULL);
    rc_wake_server_close(s);
}

int main(void)
{
    return tap_run();
}

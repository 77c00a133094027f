/*
 * The kernel's floor under fan-out latency: how long one process takes to write one small event to
 * each of N loopback TCP connections, with nothing else in the way (no ring, no HTTP, no h2o).
 * A forked reader drains every connection with epoll, as SSE clients would. An edge worker cannot
 * deliver an event to its N-th subscriber sooner than this, whatever it does in user space.
 *
 *   write_floor [--conns N] [--rounds R] [--bytes B]
 *
 * Prints, per round, the time from the first write to the last one returning (median and worst over
 * the rounds) and the mean cost of one write.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads everything from every connection until they close. */
static void drain(int *fds, int n)
{
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    char buf[65536];
    struct epoll_event evs[256];
    for (int open = n; open > 0;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++)
            if (read(evs[i].data.fd, buf, sizeof(buf)) <= 0) {
                close(evs[i].data.fd);
                open--;
            }
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    int conns = 1000, rounds = 200, bytes = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conns") == 0)
            conns = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--bytes") == 0)
            bytes = atoi(argv[i + 1]);
    }
    if (conns < 1 || conns > 9000 || rounds < 1 || bytes < 1 || bytes > 4096) {
        fprintf(stderr, "usage: write_floor [--conns 1..9000] [--rounds R] [--bytes 1..4096]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("listen");
        return 1;
    }
    int *cli = calloc((size_t)conns, sizeof(int)), *srv = calloc((size_t)conns, sizeof(int)), one = 1;
    for (int i = 0; i < conns; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&a, sizeof(a)) != 0 ||
            (srv[i] = accept(lfd, NULL, NULL)) < 0) {
            perror("connect");
            return 1;
        }
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    pid_t reader = fork();
    if (reader == 0) {
        for (int i = 0; i < conns; i++)
            close(srv[i]);
        drain(cli, conns);
    }
    for (int i = 0; i < conns; i++)
        close(cli[i]);

    char *msg = malloc((size_t)bytes);
    memset(msg, 'x', (size_t)bytes);
    double *spans = calloc((size_t)rounds, sizeof(double)), total = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        for (int i = 0; i < conns; i++)
            if (write(srv[i], msg, (size_t)bytes) != bytes) {
                perror("write");
                return 1;
            }
        spans[r] = now_us() - t0;
        total += spans[r];
        usleep(2000); /* the reader catches up: every round starts with empty sockets */
    }
    for (int i = 0; i < conns; i++)
        close(srv[i]);
    waitpid(reader, NULL, 0);
    qsort(spans, (size_t)rounds, sizeof(double), cmp_double);
    printf("write floor: %d loopback TCP connections, %d B each, %d rounds: first to last write %.0f us median, "
           "%.0f us worst; %.2f us per write\n",
           conns, bytes, rounds, spans[rounds / 2], spans[rounds - 1], total / rounds / conns);
    return 0;
}

/*
 * ringcast-edge: serves the rings of ringcast-bridge as Server-Sent Events.
 *
 *   ringcast-edge -c FILE           run: a master forks edge.workers workers and restarts any that dies
 *   ringcast-edge -c FILE --check   validate the config, print every error, exit 1 or 0
 *
 * Each worker listens on every configured address itself (SO_REUSEPORT): the kernel spreads the
 * connections, and a worker that dies takes only its own connections with it.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "edge.h"
#include "log.h"

#define MAX_WORKERS 64 /* edge.workers' upper bound in the schema */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* What the program does, for --help; rc_config_cli() adds the usage line and the options. */
static const char about[] = "Serves each stream's ring (<ring.dir>/<stream>.ring, written by ringcast-bridge)\n"
                            "as Server-Sent Events at /streams/<name>, over HTTP/1.1, h2c and TLS (h2).\n";

static rc_edge_counters_t *counters;

static pid_t spawn(const rc_config_t *cfg, int id)
{
    /* The gauges of a worker that died counted streams that are gone with it. */
    for (size_t s = 0; s < cfg->n_streams; s++) {
        counters[(size_t)id * cfg->n_streams + s].open_h1 = 0;
        counters[(size_t)id * cfg->n_streams + s].open_h2 = 0;
    }
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    _exit(rc_edge_worker_run(cfg, id, counters, &stop));
}

int main(int argc, char **argv)
{
    rc_config_t *cfg;
    int status = rc_config_cli(argc, argv, "ringcast-edge", about, &cfg);
    if (status >= 0)
        return status;
    signal(SIGPIPE, SIG_IGN);

    /* Every address must be usable before any worker starts: a typo fails here, once. */
    for (size_t i = 0; i < cfg->edge.n_listen; i++) {
        char err[256];
        if (cfg->edge.listen[i].tls_cert != NULL)
            continue;
        int fd = rc_edge_listen(&cfg->edge.listen[i], err, sizeof(err));
        if (fd < 0) {
            rc_error("http", "%s", err);
            return 1;
        }
        close(fd);
    }

    /* Key files are read once, here: a bad one stops the edge now, not every worker later. */
    char aerr[512];
    if (rc_access_init(cfg, aerr, sizeof(aerr)) != 0) {
        rc_error("auth", "%s", aerr);
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int n = (int)cfg->edge.workers;
    counters = rc_edge_counters_new((size_t)n, cfg->n_streams);
    pid_t pids[MAX_WORKERS] = {0};
    time_t last_start[MAX_WORKERS] = {0};
    for (int i = 0; i < n; i++) {
        pids[i] = spawn(cfg, i);
        last_start[i] = time(NULL);
    }
    rc_info("edge", "master %d: %d workers", (int)getpid(), n);
    while (!stop) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid)
                continue;
            if (WIFSIGNALED(st))
                rc_error("edge", "worker %d (pid %d) killed by signal %d; restarting it", i, (int)pid, WTERMSIG(st));
            else
                rc_error("edge", "worker %d (pid %d) exited with %d; restarting it", i, (int)pid, WEXITSTATUS(st));
            if (stop)
                break;
            if (time(NULL) - last_start[i] < 1)
                sleep(1); /* a worker that dies at once would otherwise be restarted in a tight loop */
            rc_access_worker_restarted((size_t)i); /* its streams per IP are gone with it */
            pids[i] = spawn(cfg, i);
            last_start[i] = time(NULL);
        }
    }
    rc_info("edge", "stopping %d workers", n);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    rc_info("edge", "stopped");
    rc_config_free(cfg);
    return 0;
}

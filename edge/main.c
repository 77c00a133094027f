/*
 * ringcast-edge: serves the rings of ringcast-bridge as Server-Sent Events.
 *
 *   ringcast-edge -c FILE           run: a master forks edge.workers workers and restarts any that dies
 *   ringcast-edge -c FILE --check   validate the config, print every error, exit 1 or 0
 *
 * Each worker listens on every configured address itself (SO_REUSEPORT): the kernel spreads the
 * connections, and a worker that dies takes only its own connections with it.
 *
 * The master talks to systemd (READY=1 once every worker serves, STATUS=, WATCHDOG=1 while every
 * worker's loop runs, RELOADING=1 and STOPPING=1) and handles the signals: SIGHUP reloads the
 * config (reload.h), SIGTERM and SIGINT drain and stop. It waits for them with sigtimedwait(), so
 * no signal arrives between a check and a wait.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "edge.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "util.h"

#define TICK_MS     200           /* the master's period: restarts, readiness, watchdog */
#define STATUS_MS   2000          /* how often systemd's STATUS= line is refreshed */
#define RESTART_NS  1000000000ull /* a worker that died within this of its start waits as long */
#define ACK_WAIT_MS 5000          /* longest the master waits for workers to apply a reload */
#define STALE_NS    5000000000ull /* a worker whose loop has not run for this long is not healthy */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* What the program does, for --help; rc_config_cli() adds the usage line and the options. */
static const char about[] = "Serves each stream's ring (<ring.dir>/<stream>.ring, written by ringcast-bridge)\n"
                            "as Server-Sent Events at /streams/<name>, over HTTP/1.1, h2c and TLS (h2).\n"
                            "SIGHUP reloads the configuration without ending open streams; SIGTERM drains.\n";

/* The master's state, one per process. */
static struct {
    rc_config_t *cfg;
    rc_edge_counters_t *counters;
    rc_edge_shared_t *shared;
    int n;
    pid_t pids[RC_EDGE_MAX_WORKERS];
    uint64_t started_ns[RC_EDGE_MAX_WORKERS];
    uint64_t restart_at_ns[RC_EDGE_MAX_WORKERS]; /* 0: running or not due */
    uint64_t healthy_ns[RC_EDGE_MAX_WORKERS];    /* last time the worker was seen serving */
    int ready;
    uint64_t next_status_ns;
} M;

static pid_t spawn(int id)
{
    /* The gauges of a worker that died counted streams that are gone with it. */
    for (size_t s = 0; s < M.shared->slots; s++) {
        M.counters[(size_t)id * M.shared->slots + s].open_h1 = 0;
        M.counters[(size_t)id * M.shared->slots + s].open_h2 = 0;
    }
    rc_edge_worker_state_t *ws = &M.shared->workers[id];
    __atomic_store_n(&ws->ready, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ws->applied_gen, M.shared->gen, __ATOMIC_RELAXED); /* it starts with M.cfg */
    pid_t master = getpid(), pid = fork();
    if (pid != 0) {
        if (pid < 0)
            rc_error("edge", "fork: %s", strerror(errno));
        return pid;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* A master killed outright (kill -9, OOM) must not leave its workers serving on their own: they
     * get SIGTERM and drain. The check covers a master gone before the request was made. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        stop = 1;
    sigaction(SIGINT, &sa, NULL);
    /* Until the worker's loop can take a reload (it installs its own handler and then looks at the
     * generation, so nothing is missed), a SIGHUP must not kill it. */
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    _exit(rc_edge_worker_run(M.cfg, id, M.counters, M.shared, &stop));
}

static uint64_t open_streams(void)
{
    uint64_t n = 0;
    for (size_t i = 0; i < (size_t)M.n * M.shared->slots; i++)
        n += __atomic_load_n(&M.counters[i].open_h1, __ATOMIC_RELAXED) +
             __atomic_load_n(&M.counters[i].open_h2, __ATOMIC_RELAXED);
    return n;
}

static int serving(int i, uint64_t now)
{
    const rc_edge_worker_state_t *ws = &M.shared->workers[i];
    uint64_t hb = __atomic_load_n(&ws->heartbeat_ns, __ATOMIC_RELAXED);
    return M.pids[i] > 0 && __atomic_load_n(&ws->ready, __ATOMIC_ACQUIRE) && now >= hb && now - hb < STALE_NS;
}

static void reap(void)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < M.n; i++) {
            if (M.pids[i] != pid)
                continue;
            M.pids[i] = 0;
            if (stop)
                break;
            if (WIFSIGNALED(st))
                rc_error("edge", "worker %d (pid %d) killed by signal %d; restarting it", i, (int)pid, WTERMSIG(st));
            else
                rc_error("edge", "worker %d (pid %d) exited with %d; restarting it", i, (int)pid, WEXITSTATUS(st));
            /* A worker that dies at once would otherwise be restarted in a tight loop. */
            uint64_t now = rc_now_mono_ns();
            M.restart_at_ns[i] = now - M.started_ns[i] < RESTART_NS ? M.started_ns[i] + RESTART_NS : now;
        }
    }
}

/* Once a tick: restarts due, READY=1 once every worker serves, WATCHDOG=1 while each worker served
 * recently (a worker that died and came back within the interval is fine, one stuck or dying
 * over and over is not: systemd then restarts the service), STATUS= every few seconds. */
static void tick(void)
{
    uint64_t now = rc_now_mono_ns();
    int all_serving = 1, n_serving = 0;
    for (int i = 0; i < M.n; i++) {
        if (M.pids[i] == 0 && M.restart_at_ns[i] != 0 && now >= M.restart_at_ns[i]) {
            M.restart_at_ns[i] = 0;
            M.started_ns[i] = now;
            rc_access_worker_restarted((size_t)i); /* its streams per IP are gone with it */
            M.pids[i] = spawn(i);
            if (M.pids[i] < 0) {
                M.pids[i] = 0;
                M.restart_at_ns[i] = now + RESTART_NS;
            }
        }
        if (serving(i, now)) {
            M.healthy_ns[i] = now;
            n_serving++;
        } else {
            all_serving = 0;
        }
    }
    uint64_t wd_usec;
    if (rc_notify_watchdog_enabled(&wd_usec)) {
        int alive = 1;
        for (int i = 0; i < M.n; i++)
            if (now - M.healthy_ns[i] >= wd_usec * 1000)
                alive = 0;
        if (alive)
            rc_notify_watchdog_tick(now);
    }
    int becomes_ready = !M.ready && all_serving;
    if (becomes_ready || (M.ready && now >= M.next_status_ns)) {
        M.next_status_ns = now + STATUS_MS * 1000000ull;
        rc_notify("%sSTATUS=%d/%d workers serving, %" PRIu64 " streams open, %zu configured",
                  becomes_ready ? "READY=1\n" : "", n_serving, M.n, open_streams(), M.cfg->n_streams);
    }
    if (becomes_ready) {
        M.ready = 1;
        rc_info("edge", "ready: %d workers serving", M.n);
    }
}

/* SIGHUP: the master validates the file and tells the workers; systemd sees RELOADING=1 until
 * the workers applied it (or ACK_WAIT_MS passed), then READY=1. */
static void reload(void)
{
    rc_notify("RELOADING=1\nSTATUS=reloading %s", M.cfg->path);
    rc_info("reload", "reloading %s", M.cfg->path);
    rc_config_t *next = rc_edge_reload_read(M.shared, M.cfg);
    if (next != NULL) {
        uint64_t gen = M.shared->gen;
        for (int i = 0; i < M.n; i++)
            if (M.pids[i] > 0)
                kill(M.pids[i], SIGHUP);
        rc_log_level_t level;
        if (rc_log_parse_level(next->log.level, &level) == 0)
            rc_log_set_level(level);
        rc_config_free(M.cfg);
        M.cfg = next;
        int waiting = 1;
        for (int waited = 0; waiting && waited < ACK_WAIT_MS; waited += 10) {
            reap(); /* a worker that died meanwhile will not answer; its successor starts with next */
            waiting = 0;
            for (int i = 0; i < M.n; i++)
                if (M.pids[i] > 0 && __atomic_load_n(&M.shared->workers[i].applied_gen, __ATOMIC_ACQUIRE) < gen)
                    waiting = 1;
            if (waiting)
                nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (waiting)
            rc_warn("reload", "some workers did not confirm generation %" PRIu64 " within %d ms", gen, ACK_WAIT_MS);
        rc_info("reload", "generation %" PRIu64 " applied: %zu streams", gen, M.cfg->n_streams);
    }
    M.next_status_ns = 0;
    rc_notify("READY=1\nSTATUS=%s; %zu streams configured",
              next != NULL ? "reloaded" : "reload rejected, running config kept", M.cfg->n_streams);
}

int main(int argc, char **argv)
{
    int status = rc_config_cli(argc, argv, "ringcast-edge", about, &M.cfg);
    if (status >= 0)
        return status;
    signal(SIGPIPE, SIG_IGN);
    rc_notify_init();

    /* Every address must be usable before any worker starts: a typo fails here, once. */
    for (size_t i = 0; i < M.cfg->edge.n_listen; i++) {
        char err[256];
        if (M.cfg->edge.listen[i].tls_cert != NULL)
            continue;
        int fd = rc_edge_listen(&M.cfg->edge.listen[i], err, sizeof(err));
        if (fd < 0) {
            rc_error("http", "%s", err);
            return 1;
        }
        close(fd);
    }

    /* Key files are read once, here: a bad one stops the edge now, not every worker later. */
    char aerr[512];
    if (rc_access_init(M.cfg, aerr, sizeof(aerr)) != 0) {
        rc_error("auth", "%s", aerr);
        return 1;
    }

    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGHUP);
    sigaddset(&waited, SIGCHLD);
    sigprocmask(SIG_BLOCK, &waited, NULL);
    M.n = (int)M.cfg->edge.workers;
    M.shared = rc_edge_shared_new(M.cfg);
    M.counters = rc_edge_counters_new((size_t)M.n, M.shared->slots);
    uint64_t now = rc_now_mono_ns();
    for (int i = 0; i < M.n; i++) {
        M.started_ns[i] = M.healthy_ns[i] = now;
        M.pids[i] = spawn(i);
        if (M.pids[i] < 0)
            return 1;
    }
    rc_info("edge", "master %d: %d workers", (int)getpid(), M.n);
    while (!stop) {
        siginfo_t si;
        struct timespec ts = {0, TICK_MS * 1000000L};
        int sig = sigtimedwait(&waited, &si, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            stop = 1;
        else if (sig == SIGHUP)
            reload();
        reap();
        if (!stop)
            tick();
    }
    rc_notify("STOPPING=1\nSTATUS=draining %" PRIu64 " streams", open_streams());
    rc_info("edge", "stopping %d workers", M.n);
    for (int i = 0; i < M.n; i++)
        if (M.pids[i] > 0)
            kill(M.pids[i], SIGTERM);
    for (int i = 0; i < M.n; i++)
        if (M.pids[i] > 0)
            waitpid(M.pids[i], NULL, 0);
    rc_info("edge", "stopped");
    rc_config_free(M.cfg);
    return 0;
}

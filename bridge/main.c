/*
 * ringcast-bridge: consumes the Kafka topics of every configured stream into its shared-memory
 * ring. One bridge per host; the edges read the rings.
 *
 *   ringcast-bridge -c FILE           run
 *   ringcast-bridge -c FILE --check   validate the config, print every error, exit 1 or 0
 *   ringcast-bridge --help
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "ring.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* What the program does, for --help; rc_config_cli() adds the usage line and the options. */
static const char about[] = "Consumes every partition of each stream's Kafka topics into the stream's ring\n"
                            "(<ring.dir>/<stream>.ring), which ringcast-edge serves as Server-Sent Events.\n";

int main(int argc, char **argv)
{
    rc_config_t *cfg;
    int status = rc_config_cli(argc, argv, "ringcast-bridge", about, &cfg);
    if (status >= 0)
        return status;

    /* SIGTERM and SIGINT are blocked outside the bridge's ppoll(), which lets them in: a stop
     * request is seen at once and never between a check and a wait. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The bridge has nothing to reload (a restart is lossless: it continues from its rings); a
     * stray SIGHUP, or a hangup of the terminal it was started from, must not kill it. */
    signal(SIGHUP, SIG_IGN);
    rc_notify_init();
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, NULL);

    char err[1024];
    rc_bridge_t *b = rc_bridge_new(cfg, err, sizeof(err));
    if (b == NULL) {
        rc_error("bridge", "%s", err);
        rc_config_free(cfg);
        return 1;
    }
    /* A ring file truncated under the bridge must not kill it: the loop notices and makes a new one. */
    rc_ring_guard_sigbus();
    rc_info("bridge", "running with %s", cfg->path);
    rc_bridge_run(b, &stop);
    rc_bridge_free(b);
    rc_info("bridge", "stopped");
    rc_config_free(cfg);
    return 0;
}

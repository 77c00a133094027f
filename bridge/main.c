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
#include <string.h>

#include "bridge.h"
#include "config.h"
#include "log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ringcast-bridge -c FILE [--check]\n"
                 "\n"
                 "Consumes every partition of each stream's Kafka topics into the stream's ring\n"
                 "(<ring.dir>/<stream>.ring), which ringcast-edge serves as Server-Sent Events.\n"
                 "\n"
                 "  -c, --config FILE   the YAML configuration (see config/ringcast.example.yaml)\n"
                 "  --check             validate the configuration, print every error, exit 1 or 0\n"
                 "  -h, --help          this text\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ringcast-bridge: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    rc_errors_t errs = {0};
    rc_config_t *cfg = rc_config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    rc_errors_free(&errs);
    if (cfg == NULL)
        return 1;
    if (check) {
        printf("%s: ok\n", path);
        rc_config_free(cfg);
        return 0;
    }
    rc_log_level_t level = RC_LOG_INFO;
    rc_log_parse_level(cfg->log.level, &level);
    rc_log_init("ringcast-bridge", level);

    /* SIGTERM and SIGINT are blocked outside the bridge's ppoll(), which lets them in: a stop
     * request is seen at once and never between a check and a wait. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
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
    rc_info("bridge", "running with %s", path);
    rc_bridge_run(b, &stop);
    rc_bridge_free(b);
    rc_info("bridge", "stopped");
    rc_config_free(cfg);
    return 0;
}

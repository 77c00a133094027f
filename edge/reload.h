/*
 * What the edge master shares with its workers beyond the counters, and the configuration reload
 * (SIGHUP) built on it.
 *
 *   rc_edge_shared_t (one anonymous MAP_SHARED mapping, made by the master before any fork)
 *   +--------------------------------------------------------------+
 *   | gen                  config generation (master writes, release)
 *   | conf_len[2]          \  the validated YAML of generation g lives in conf[g % 2]:
 *   | conf[2][CONF_MAX]    /  a worker copies it while the master may already write g + 1
 *   | workers[64]          per worker: ready, loop heartbeat, generation applied (worker writes)
 *   | slot_names[slots]    stream name -> counter slot, stable across reloads (master writes)
 *   +--------------------------------------------------------------+
 *
 * A reload: the master reads and validates the file (a bad one is logged as file:line: key:
 * reason and changes nothing), keeps the settings that only a restart can change (listeners,
 * workers, ring.dir, static_dir), gives new streams a counter slot, publishes the YAML as the
 * next generation and sends SIGHUP to every worker. Each worker parses the same bytes, merges
 * them the same way and applies them without touching open streams.
 */
#ifndef RC_EDGE_RELOAD_H
#define RC_EDGE_RELOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "config.h"

#define RC_EDGE_MAX_WORKERS 64         /* edge.workers' upper bound in the schema */
#define RC_EDGE_CONF_MAX    (1u << 20) /* largest config file a reload takes; real ones are a few KiB */

typedef struct st_rc_edge_worker_state_t {
    uint32_t ready; /* the worker listens and runs its loop */
    uint32_t _pad;
    uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, written by the worker's loop every second */
    uint64_t applied_gen;  /* the last config generation the worker applied */
} rc_edge_worker_state_t;

typedef struct st_rc_edge_shared_t {
    uint64_t gen; /* A1: stored with release after conf[gen % 2]; pairs with A2 in rc_edge_reload_fetch() */
    uint64_t conf_len[2];
    size_t slots; /* counter slots per worker, fixed at start: the most streams the edge can name */
    rc_edge_worker_state_t workers[RC_EDGE_MAX_WORKERS];
    char conf[2][RC_EDGE_CONF_MAX];
    /* followed by slots names of RC_STREAM_NAME_MAX bytes each (bounds.h, NUL included); "" is a free slot */
} rc_edge_shared_t;

/* Made by the master before it forks: slots for the streams of cfg and room for as many more. */
rc_edge_shared_t *rc_edge_shared_new(const rc_config_t *cfg);

/* The counter slot of the stream called name, or -1. */
long rc_edge_slot_of(const rc_edge_shared_t *sh, const char *name);

/*
 * Master: re-reads cfg->path. A file that does not load, or whose TLS files do not, is logged
 * error by error and NULL is returned: the running config stays. Otherwise logs the changes that
 * need a restart, publishes the next generation and returns the new config (the caller frees the
 * old one once the workers were told).
 */
rc_config_t *rc_edge_reload_read(rc_edge_shared_t *sh, const rc_config_t *cur);

/* Worker: the config of a generation newer than have, parsed and merged against cur; NULL when
 * there is none (or, which the master's check makes unexpected, it does not load). */
rc_config_t *rc_edge_reload_fetch(rc_edge_shared_t *sh, const rc_config_t *cur, uint64_t have, uint64_t *gen);

/* Keeps in next what only a restart can change (listeners, workers, ring.dir, static_dir), taken
 * from cur; with log, says so for each such change. */
void rc_edge_reload_merge(rc_config_t *next, const rc_config_t *cur, bool log);

#endif

/*
 * The edge's configuration reload and the state its master shares with the workers (reload.h).
 */
#include "reload.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "auth.h"
#include "listen.h"
#include "log.h"
#include "util.h"

static char *slot_name(const rc_edge_shared_t *sh, size_t i)
{
    return (char *)(sh + 1) + i * (RC_STREAM_NAME_MAX);
}

rc_edge_shared_t *rc_edge_shared_new(const rc_config_t *cfg)
{
    /* Room for as many new streams as there are now, and at least 256: a reload that adds more
     * than that is refused with a message (the edge must be restarted to make more room). */
    size_t slots = cfg->n_streams * 2 < 256 ? 256 : cfg->n_streams * 2;
    size_t len = sizeof(rc_edge_shared_t) + slots * (RC_STREAM_NAME_MAX);
    /* Anonymous shared memory is zero-filled and only the pages touched take memory: the two
     * config buffers cost what the configs are long. */
    rc_edge_shared_t *sh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        rc_error("edge", "shared state: %s", strerror(errno));
        abort();
    }
    sh->slots = slots;
    for (size_t i = 0; i < cfg->n_streams; i++)
        snprintf(slot_name(sh, i), RC_STREAM_NAME_MAX, "%s", cfg->streams[i].name);
    return sh;
}

long rc_edge_slot_of(const rc_edge_shared_t *sh, const char *name)
{
    for (size_t i = 0; i < sh->slots; i++)
        if (strcmp(slot_name(sh, i), name) == 0)
            return (long)i;
    return -1;
}

/* --- merging: what a reload may change --------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Same addresses, ports and TLS or not, in the same order: certificates may differ. */
static bool same_listeners(const rc_config_t *a, const rc_config_t *b)
{
    if (a->edge.n_listen != b->edge.n_listen)
        return false;
    for (size_t i = 0; i < a->edge.n_listen; i++) {
        const rc_listen_conf_t *x = &a->edge.listen[i], *y = &b->edge.listen[i];
        if (!same_str(x->address, y->address) || x->port != y->port || (x->tls_cert == NULL) != (y->tls_cert == NULL))
            return false;
    }
    return true;
}

static bool same_kafka(const rc_config_t *a, const rc_config_t *b)
{
    if (!same_str(a->kafka.brokers, b->kafka.brokers) || a->kafka.n_properties != b->kafka.n_properties)
        return false;
    for (size_t i = 0; i < a->kafka.n_properties; i++)
        if (!same_str(a->kafka.properties[i].key, b->kafka.properties[i].key) ||
            !same_str(a->kafka.properties[i].value, b->kafka.properties[i].value))
            return false;
    return true;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? rc_strdup(s) : NULL;
}

/* Replaces next's string with a copy of cur's (each config owns its strings). */
static void keep_str(char **next, const char *cur)
{
    free(*next);
    *next = dup_or_null(cur);
}

void rc_edge_reload_merge(rc_config_t *next, const rc_config_t *cur, bool log)
{
    if (next->edge.workers != cur->edge.workers) {
        if (log)
            rc_warn("reload",
                    "edge.workers: %" PRId64 " -> %" PRId64 " needs a restart of ringcast-edge; keeping %" PRId64,
                    cur->edge.workers, next->edge.workers, cur->edge.workers);
        next->edge.workers = cur->edge.workers;
    }
    if (!same_listeners(next, cur)) {
        if (log)
            rc_warn("reload", "edge.listen: changed addresses, ports or TLS on/off need a restart of ringcast-edge; "
                              "keeping the listeners (and certificates) as they are");
        for (size_t i = 0; i < next->edge.n_listen; i++) {
            free(next->edge.listen[i].address);
            free(next->edge.listen[i].tls_cert);
            free(next->edge.listen[i].tls_key);
        }
        free(next->edge.listen);
        next->edge.n_listen = cur->edge.n_listen;
        next->edge.listen = rc_calloc(cur->edge.n_listen, sizeof(*next->edge.listen));
        for (size_t i = 0; i < cur->edge.n_listen; i++) {
            const rc_listen_conf_t *c = &cur->edge.listen[i];
            rc_listen_conf_t *n = &next->edge.listen[i];
            *n = *c;
            n->address = dup_or_null(c->address);
            n->tls_cert = dup_or_null(c->tls_cert);
            n->tls_key = dup_or_null(c->tls_key);
        }
    }
    if (!same_str(next->ring.dir, cur->ring.dir)) {
        if (log)
            rc_warn("reload", "ring.dir: %s -> %s needs a restart of ringcast-edge and ringcast-bridge; keeping %s",
                    cur->ring.dir, next->ring.dir, cur->ring.dir);
        keep_str(&next->ring.dir, cur->ring.dir);
    }
    if (!same_str(next->edge.static_dir, cur->edge.static_dir)) {
        if (log)
            rc_warn("reload", "edge.static_dir needs a restart of ringcast-edge; keeping \"%s\"", cur->edge.static_dir);
        keep_str(&next->edge.static_dir, cur->edge.static_dir);
    }
    if (!log)
        return;
    /* Applied by a worker's publisher when it is made: a running one keeps what it had. */
    if (!same_kafka(next, cur))
        rc_warn("reload", "kafka: changes apply to publishing after a restart of ringcast-edge, and to the "
                          "streams after a restart of ringcast-bridge");
    if (next->edge.publish_timeout_ms != cur->edge.publish_timeout_ms)
        rc_warn("reload", "edge.publish_timeout needs a restart of ringcast-edge");
    if (next->ring.size != cur->ring.size || next->ring.index_slots != cur->ring.index_slots ||
        next->ring.max_partitions != cur->ring.max_partitions)
        rc_info("reload", "ring.size, ring.index_slots, ring.max_partitions: the bridge applies them to rings it "
                          "creates");
}

/* --- master: read, validate, publish ------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        rc_error("reload", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = rc_malloc(RC_EDGE_CONF_MAX + 1);
    *len = fread(buf, 1, RC_EDGE_CONF_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || *len > RC_EDGE_CONF_MAX) {
        rc_error("reload", "%s: %s", path, bad ? "cannot read" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    return buf;
}

/* Every TLS listener's certificate and key load: a worker would otherwise keep its old ones
 * silently. Logs each failure as file:line: key: reason. */
static bool tls_files_load(const rc_config_t *next)
{
    bool ok = true;
    for (size_t i = 0; i < next->edge.n_listen; i++) {
        const rc_listen_conf_t *l = &next->edge.listen[i];
        if (l->tls_cert == NULL)
            continue;
        char err[512];
        SSL_CTX *ctx = rc_edge_tls_context(l, err, sizeof(err));
        if (ctx == NULL) {
            rc_error("reload", "%s:%d: edge.listen[%zu].tls: %s", next->path, l->line, i, err);
            ok = false;
        }
        SSL_CTX_free(ctx);
    }
    return ok;
}

/* Gives every stream of next a counter slot: its old one if it had one, else a free one. Slots are
 * never given back: the open streams of a removed stream still count into its slot, and a stream
 * removed and added again continues its counters, as Prometheus expects of a counter. */
static bool assign_slots(rc_edge_shared_t *sh, const rc_config_t *next)
{
    size_t missing = 0;
    for (size_t i = 0; i < next->n_streams; i++)
        if (rc_edge_slot_of(sh, next->streams[i].name) < 0)
            missing++;
    size_t free_slots = 0;
    for (size_t s = 0; s < sh->slots; s++)
        if (slot_name(sh, s)[0] == '\0')
            free_slots++;
    if (missing > free_slots) {
        rc_error("reload", "%s: %zu new streams, room for %zu more without a restart of ringcast-edge", next->path,
                 missing, free_slots);
        return false;
    }
    for (size_t i = 0; i < next->n_streams; i++) {
        if (rc_edge_slot_of(sh, next->streams[i].name) >= 0)
            continue;
        size_t s = 0;
        while (slot_name(sh, s)[0] != '\0')
            s++;
        snprintf(slot_name(sh, s), RC_STREAM_NAME_MAX, "%s", next->streams[i].name);
    }
    return true;
}

/* The access-control keys of next (JWT secret, public key) replace the running ones if they load. */
static bool access_keys_load(const rc_config_t *next)
{
    char err[512];
    if (rc_access_reload(next, err, sizeof(err)) == 0)
        return true;
    rc_error("config", "%s", err);
    return false;
}

rc_config_t *rc_edge_reload_read(rc_edge_shared_t *sh, const rc_config_t *cur)
{
    size_t len;
    char *yaml = read_file(cur->path, &len);
    if (yaml == NULL) {
        rc_error("reload", "rejected; the running config stays");
        return NULL;
    }
    rc_errors_t errs = {0};
    rc_config_t *next = rc_config_load_string(cur->path, yaml, len, &errs);
    for (size_t i = 0; i < errs.n; i++)
        rc_error("config", "%s", errs.msgs[i]);
    rc_errors_free(&errs);
    if (next != NULL)
        rc_edge_reload_merge(next, cur, true);
    /* Last: once they are loaded, the master's access control uses next's keys (and next). */
    if (next == NULL || !tls_files_load(next) || !assign_slots(sh, next) || !access_keys_load(next)) {
        rc_error("reload", "%s rejected; the running config stays", cur->path);
        rc_config_free(next);
        free(yaml);
        return NULL;
    }
    uint64_t gen = sh->gen + 1;
    memcpy(sh->conf[gen % 2], yaml, len);
    sh->conf_len[gen % 2] = len;
    free(yaml);
    __atomic_store_n(&sh->gen, gen, __ATOMIC_RELEASE); /* A1: pairs with A2 in rc_edge_reload_fetch() */
    return next;
}

/* --- worker: fetch ------------------------------------------------------------------------------- */

rc_config_t *rc_edge_reload_fetch(rc_edge_shared_t *sh, const rc_config_t *cur, uint64_t have, uint64_t *gen)
{
    for (;;) {
        uint64_t g = __atomic_load_n(&sh->gen, __ATOMIC_ACQUIRE); /* A2: pairs with A1 in rc_edge_reload_read() */
        if (g == have)
            return NULL;
        size_t len = sh->conf_len[g % 2];
        char *yaml = rc_malloc(len + 1);
        memcpy(yaml, sh->conf[g % 2], len);
        /* A3: the copy is done before gen is read again; pairs with A1. The master writes conf[g % 2]
         * again only for generation g + 2: while gen < g + 2 the copy is whole. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sh->gen, __ATOMIC_RELAXED) >= g + 2) {
            free(yaml);
            continue;
        }
        rc_errors_t errs = {0};
        rc_config_t *next = rc_config_load_string(cur->path, yaml, len, &errs);
        free(yaml);
        for (size_t i = 0; i < errs.n; i++)
            rc_error("config", "%s", errs.msgs[i]);
        rc_errors_free(&errs);
        *gen = g;
        if (next != NULL)
            rc_edge_reload_merge(next, cur, false);
        return next;
    }
}

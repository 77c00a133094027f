/*
 * ringcast-bridge's ingest engine (see bridge.h). Reads top to bottom: the state, setting up
 * (rings, mock cluster, consumer), partition discovery and start positions, the record path, the
 * out-of-range reset, the loop.
 */
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventid.h"
#include "log.h"
#include "notify.h"
#include "ring.h"
#include "sse.h"
#include "util.h"
#include "wake.h"

#define BATCH_MAX       4096  /* messages taken from librdkafka per consume call */
#define TICK_MS         200   /* heartbeat period; also bounds how late a signal is noticed */
#define REFRESH_MS      5000  /* metadata refresh: new partitions, missing topics, broker health */
#define REFRESH_FAST_MS 1000  /* ... while some topic or partition is still waiting */
#define KAFKA_WAIT_MS   2000  /* longest a metadata or watermark request may block the loop */
#define STATUS_MS       2000  /* how often systemd's STATUS= line is refreshed */
#define SKIP_LOG_MS     10000 /* records the ring does not store are logged at most this often per stream */

/* Why a Kafka record is not stored: each has its ring counter and the word clients see. */
typedef enum { SKIP_TOO_LARGE, SKIP_NOT_UTF8, SKIP_EVENT_TOO_LONG, SKIP_REASONS } skip_reason_t;
static const struct {
    const char *word; /* in `event: skipped` data and in the log */
    rc_ring_counter_t ctr;
} skip_reasons[SKIP_REASONS] = {
    [SKIP_TOO_LARGE] = {"too_large", RC_CTR_SKIP_TOO_LARGE},
    [SKIP_NOT_UTF8] = {"not_utf8", RC_CTR_SKIP_NOT_UTF8},
    [SKIP_EVENT_TOO_LONG] = {"event_too_long", RC_CTR_SKIP_EVENT},
};

typedef struct {
    uint32_t stream; /* index into b->streams */
    uint32_t topic;  /* index of the topic in that stream's sorted topic list */
} topic_use_t;

/* A Kafka topic, once, whatever the number of streams reading it. */
typedef struct {
    char *name;
    rd_kafka_topic_t *rkt; /* for metadata requests */
    topic_use_t *uses;
    size_t n_uses;
    int32_t n_parts;    /* partitions assigned so far */
    int missing_logged; /* "topic does not exist" said once */
} topic_t;

typedef struct {
    const rc_stream_conf_t *conf;
    rc_ring_t *ring;
    uint32_t fp;
    uint32_t n_topics;
    const char *topics[RC_CUT_MAX_TOPICS]; /* sorted: the order of the cut in event ids */
    int *lane_of[RC_CUT_MAX_TOPICS];       /* [topic][partition] -> ring lane */
    int32_t n_parts[RC_CUT_MAX_TOPICS];
    int64_t lane_next[RC_CUT_MAX_LANES]; /* per lane: the next offset the ring expects */
    uint16_t cut_at[RC_CUT_MAX_LANES];   /* per lane: its index in cut.next */
    rc_cut_t cut;                        /* where the stream stands after its last record */
    int touched;                         /* records appended since the last publish */
    int lost_logged;                     /* a ring that cannot be made again was reported */
    int fresh;                           /* its ring was made by this process: `initial:` applies */
    /* Per topic: Kafka's answer seen once, and how many of its partitions then existed. On a fresh
     * ring those start per `initial:`; every partition found later (a topic that grows, a topic
     * created later) starts at its earliest offset, so nothing produced into it is skipped. */
    uint8_t seen[RC_CUT_MAX_TOPICS];
    int32_t initial_parts[RC_CUT_MAX_TOPICS];
    int32_t no_lane_from[RC_CUT_MAX_TOPICS], no_lane_to[RC_CUT_MAX_TOPICS]; /* partitions without a lane */
    uint64_t skips[SKIP_REASONS]; /* records not stored since the last log line */
    uint64_t skip_log_ms;         /* when the last such line was written */
    char last_skip[320];          /* "topic[p]@offset: reason" of the last one */
} stream_t;

struct st_rc_bridge_t {
    const rc_config_t *cfg;
    stream_t *streams;
    size_t n_streams;
    topic_t *topics;
    size_t n_topics;
    rd_kafka_t *rk;      /* the consumer */
    rd_kafka_t *mock_rk; /* hosts the mock cluster when kafka.brokers is "mock" */
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_queue_t *queue;
    int queue_fd; /* eventfd librdkafka signals when the queue becomes non-empty */
    rc_wake_server_t *wake;
    gid_t gid; /* ring.group, or (gid_t)-1 for the bridge's own group */
    char bootstrap_file[4096];
    rc_ring_state_t state;
    int complete; /* every topic found and every partition assigned */
    uint64_t next_refresh_ms;
    char *frame; /* scratch for one encoded frame */
    size_t frame_cap;
    char *json; /* scratch for a JSON envelope */
    size_t json_cap;
    topic_t *last_topic; /* the topic of the previous message: usually the same */
    const rd_kafka_topic_t *last_rkt;
    uint64_t records; /* Kafka records consumed, for systemd's STATUS= */
    int ready;        /* READY=1 sent */
    uint64_t next_status_ms;
};

static uint64_t now_ms(void)
{
    return rc_now_mono_ns() / 1000000u;
}

static void set_state(rc_bridge_t *b, rc_ring_state_t st, const char *why)
{
    if (b->state == st)
        return;
    b->state = st;
    if (st == RC_STATE_KAFKA_UNREACHABLE)
        rc_warn("kafka", "state: %s (%s)", rc_ring_state_str(st), why);
    else
        rc_info("kafka", "state: %s%s%s", rc_ring_state_str(st), why ? " " : "", why ? why : "");
    for (size_t i = 0; i < b->n_streams; i++)
        if (b->streams[i].ring != NULL)
            rc_ring_set_state(b->streams[i].ring, st);
}

/* --- librdkafka callbacks ---------------------------------------------------------------------- */

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    rc_log_level_t l = level <= 3 ? RC_LOG_ERROR : level == 4 ? RC_LOG_WARN : level <= 6 ? RC_LOG_INFO : RC_LOG_DEBUG;
    /* Brokers too old for allow.auto.create.topics (the mock cluster among them) say so on every
     * metadata request; the bridge never asks for a topic to be created anyway. */
    if (strcmp(fac, "AUTOCREATE") == 0)
        l = RC_LOG_DEBUG;
    if (rc_log_enabled(l))
        rc_log(l, "rdkafka", "%s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    rc_bridge_t *b = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE)
        set_state(b, RC_STATE_KAFKA_UNREACHABLE, reason);
    else if (err != RD_KAFKA_RESP_ERR__TRANSPORT) /* one broker connection lost: librdkafka retries */
        rc_warn("kafka", "%s: %s", rd_kafka_err2name(err), reason);
}

/* --- setup ------------------------------------------------------------------------------------- */

static topic_t *topic_named(rc_bridge_t *b, const char *name)
{
    for (size_t i = 0; i < b->n_topics; i++)
        if (strcmp(b->topics[i].name, name) == 0)
            return &b->topics[i];
    return NULL;
}

static int open_rings(rc_bridge_t *b, char *err, size_t errlen)
{
    const rc_config_t *cfg = b->cfg;
    b->streams = rc_calloc(cfg->n_streams, sizeof(*b->streams));
    b->n_streams = cfg->n_streams;
    for (size_t i = 0; i < cfg->n_streams; i++) {
        stream_t *s = &b->streams[i];
        s->conf = &cfg->streams[i];
        if (s->conf->n_topics > RC_CUT_MAX_TOPICS) {
            snprintf(err, errlen, "stream %s: more than %d topics", s->conf->name, RC_CUT_MAX_TOPICS);
            return -1;
        }
        s->n_topics =
            (uint32_t)rc_eventid_sort_topics(s->topics, (const char *const *)s->conf->topics, s->conf->n_topics);
        s->fp = rc_eventid_fingerprint(s->topics, s->n_topics);
        s->cut.n_topics = s->n_topics;
        rc_ring_geom_t g = {.capacity = cfg->ring.size,
                            .index_slots = (uint32_t)cfg->ring.index_slots,
                            .max_lanes = cfg->ring.max_partitions};
        rc_ring_opened_t how;
        char why[256], e[512];
        if (rc_ring_writer_open(&s->ring, cfg->ring.dir, s->conf->name, &g, &how, why, sizeof(why), e, sizeof(e)) !=
            0) {
            snprintf(err, errlen, "stream %s: %s", s->conf->name, e);
            return -1;
        }
        rc_cursor_t head;
        rc_ring_head(s->ring, &head);
        s->fresh = how != RC_RING_REOPENED;
        if (how == RC_RING_REOPENED)
            rc_info("ring", "%s: reopened, continues at seq %" PRIu64, s->conf->name, head.seq);
        else if (how == RC_RING_RECREATED)
            rc_warn("ring", "%s: replaced by a new ring (%s)", s->conf->name, why);
        else
            rc_info("ring", "%s: created (%" PRIu64 " bytes)", s->conf->name, rc_ring_capacity(s->ring));
        size_t need = rc_ring_max_record(s->ring);
        if (need > b->frame_cap)
            b->frame_cap = need;
        /* Every topic once in b->topics, with the streams that read it. */
        for (uint32_t t = 0; t < s->n_topics; t++) {
            topic_t *tp = topic_named(b, s->topics[t]);
            if (tp == NULL) {
                b->topics = rc_realloc(b->topics, (b->n_topics + 1) * sizeof(*b->topics));
                tp = &b->topics[b->n_topics++];
                memset(tp, 0, sizeof(*tp));
                tp->name = rc_strdup(s->topics[t]);
            }
            tp->uses = rc_realloc(tp->uses, (tp->n_uses + 1) * sizeof(*tp->uses));
            tp->uses[tp->n_uses++] = (topic_use_t){(uint32_t)i, t};
        }
    }
    b->frame = rc_malloc(b->frame_cap);
    return 0;
}

/* Writes s to path through a temporary file and a rename: readers never see half of it. Like the
 * rings, the file is RC_RING_FILE_MODE with the ring group, set before it has its name. */
static int write_file_atomic(const char *path, const char *s, gid_t gid)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, RC_RING_FILE_MODE);
    if (fd < 0)
        return -1;
    int ok = (gid == (gid_t)-1 || fchown(fd, (uid_t)-1, gid) == 0) && fchmod(fd, RC_RING_FILE_MODE) == 0;
    FILE *f = ok ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ring.group -> b->gid. The config checked that the group exists; the bridge must also be allowed
 * to give its files that group: root, or a member of it. */
static int resolve_group(rc_bridge_t *b, char *err, size_t errlen)
{
    const char *name = b->cfg->ring.group;
    b->gid = (gid_t)-1;
    if (name == NULL || *name == '\0')
        return 0;
    struct group *g = getgrnam(name);
    if (g == NULL) {
        snprintf(err, errlen, "%s: ring.group: no group named %s on this host", b->cfg->path, name);
        return -1;
    }
    b->gid = g->gr_gid;
    if (geteuid() == 0 || getegid() == b->gid)
        return 0;
    gid_t groups[256];
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == b->gid)
            return 0;
    snprintf(err, errlen,
             "%s: ring.group: the bridge (uid %u) is not a member of group %s and cannot give it the rings; add "
             "the user to it (or SupplementaryGroups= in the unit)",
             b->cfg->path, (unsigned)geteuid(), name);
    return -1;
}

static int start_mock(rc_bridge_t *b, char *bootstrap, size_t len, char *err, size_t errlen)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    /* This handle only hosts the mock cluster and never connects: its "no bootstrap.servers"
     * notice is noise. */
    rd_kafka_conf_set(conf, "log_level", "4", e, sizeof(e));
    b->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (b->mock_rk == NULL) {
        snprintf(err, errlen, "mock cluster: %s", e);
        return -1;
    }
    b->mock = rd_kafka_mock_cluster_new(b->mock_rk, 1);
    if (b->mock == NULL) {
        snprintf(err, errlen, "mock cluster: cannot start");
        return -1;
    }
    for (size_t i = 0; i < b->n_topics; i++) {
        int parts = 1;
        for (size_t u = 0; u < b->topics[i].n_uses; u++) {
            int p = (int)b->streams[b->topics[i].uses[u].stream].conf->partitions;
            parts = p > parts ? p : parts;
        }
        rd_kafka_resp_err_t r = rd_kafka_mock_topic_create(b->mock, b->topics[i].name, parts, 1);
        if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "mock cluster: topic %s: %s", b->topics[i].name, rd_kafka_err2str(r));
            return -1;
        }
    }
    snprintf(bootstrap, len, "%s", rd_kafka_mock_cluster_bootstraps(b->mock));
    snprintf(b->bootstrap_file, sizeof(b->bootstrap_file), "%s/kafka-bootstrap", b->cfg->ring.dir);
    if (write_file_atomic(b->bootstrap_file, bootstrap, b->gid) != 0) {
        snprintf(err, errlen, "%s: %s", b->bootstrap_file, strerror(errno));
        b->bootstrap_file[0] = '\0';
        return -1;
    }
    rc_info("kafka", "mock cluster at %s (written to %s)", bootstrap, b->bootstrap_file);
    return 0;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s=%s: %s", k, v, e);
        return -1;
    }
    return 0;
}

static int start_consumer(rc_bridge_t *b, const char *bootstrap, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Positions live in the rings, so there is no group to join and nothing to commit; librdkafka
     * still wants a group.id for assign(). An out-of-range offset must be reported, not silently
     * reset: the bridge writes a reset marker for the edges. */
    static const char *const defaults[][2] = {
        {"group.id", "ringcast-bridge"},  {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "error"},   {"enable.partition.eof", "false"}, {"fetch.wait.max.ms", "100"},
        {"client.id", "ringcast-bridge"},
    };
    for (size_t i = 0; i < RC_ARRAY_SIZE(defaults); i++)
        if (conf_set(conf, defaults[i][0], defaults[i][1], err, errlen) != 0)
            goto fail;
    /* A real broker must not create a topic because the bridge asked for its metadata; the mock
     * cluster does not know this setting (and has every topic already). */
    if (b->mock == NULL && conf_set(conf, "allow.auto.create.topics", "false", err, errlen) != 0)
        goto fail;
    if (conf_set(conf, "bootstrap.servers", bootstrap, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < b->cfg->kafka.n_properties; i++)
        if (conf_set(conf, b->cfg->kafka.properties[i].key, b->cfg->kafka.properties[i].value, err, errlen) != 0)
            goto fail;
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, b);
    char e[512];
    b->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    if (b->rk == NULL) {
        snprintf(err, errlen, "kafka consumer: %s", e);
        return -1; /* rd_kafka_new took the conf only on success */
    }
    rd_kafka_poll_set_consumer(b->rk); /* errors and logs come through the consumer queue */
    b->queue = rd_kafka_queue_get_consumer(b->rk);
    b->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    static const uint64_t one = 1;
    rd_kafka_queue_io_event_enable(b->queue, b->queue_fd, &one, sizeof(one));
    for (size_t i = 0; i < b->n_topics; i++)
        b->topics[i].rkt = rd_kafka_topic_new(b->rk, b->topics[i].name, NULL);
    return 0;
fail:
    rd_kafka_conf_destroy(conf);
    return -1;
}

rc_bridge_t *rc_bridge_new(const rc_config_t *cfg, char *err, size_t errlen)
{
    rc_bridge_t *b = rc_calloc(1, sizeof(*b));
    b->cfg = cfg;
    b->queue_fd = -1;
    b->state = RC_STATE_STARTING;
    if (resolve_group(b, err, errlen) != 0)
        goto fail;
    rc_ring_set_group(b->gid);
    if (open_rings(b, err, errlen) != 0)
        goto fail;
    char path[4096], e[512];
    snprintf(path, sizeof(path), "%s/" RC_WAKE_SOCK_NAME, cfg->ring.dir);
    if ((b->wake = rc_wake_server_open(path, b->gid, e, sizeof(e))) == NULL) {
        snprintf(err, errlen, "%s", e);
        goto fail;
    }
    char bootstrap[1024];
    if (strcmp(cfg->kafka.brokers, "mock") == 0) {
        if (start_mock(b, bootstrap, sizeof(bootstrap), err, errlen) != 0)
            goto fail;
    } else {
        snprintf(bootstrap, sizeof(bootstrap), "%s", cfg->kafka.brokers);
    }
    if (start_consumer(b, bootstrap, err, errlen) != 0)
        goto fail;
    set_state(b, RC_STATE_CONNECTING, NULL);
    return b;
fail:
    rc_bridge_free(b);
    return NULL;
}

/* --- partitions and where each one starts ------------------------------------------------------- */

/* Rebuilds a stream's cut layout after partitions were added: cut.next is topic-major. */
static void relayout_cut(stream_t *s)
{
    uint32_t k = 0;
    for (uint32_t t = 0; t < s->n_topics; t++) {
        s->cut.n_parts[t] = (uint16_t)s->n_parts[t];
        for (int32_t p = 0; p < s->n_parts[t]; p++, k++) {
            int lane = s->lane_of[t][p];
            s->cut_at[lane] = (uint16_t)k;
            s->cut.next[k] = s->lane_next[lane];
        }
    }
}

/* The offset a new ring starts a partition at, per the stream's `initial:`. */
static int64_t initial_offset(const stream_t *s, int64_t lo, int64_t hi)
{
    const char *init = s->conf->initial;
    if (strcmp(init, "earliest") == 0)
        return lo;
    if (strcmp(init, "latest") == 0)
        return hi;
    uint64_t back = strtoull(init, NULL, 10); /* the config checked: digits only */
    return (uint64_t)(hi - lo) > back ? hi - (int64_t)back : lo;
}

/* Counts a partition stream s cannot read (its ring has no lane left): said once per topic in the
 * log, and shown to edges as the RC_CTR_NO_LANE gauge that turns /healthz to 503. */
static void no_lane(const rc_bridge_t *b, stream_t *s, uint32_t t, const char *topic, int32_t p)
{
    /* Lanes are handed out in partition order and a full ring stays full, so the partitions
     * refused are one run: from the first refused to the highest seen. */
    if (s->no_lane_to[t] == 0) {
        s->no_lane_from[t] = p;
        rc_error("ring",
                 "%s: %s[%d] and any later partitions of it are NOT read: the ring has no lane left "
                 "(ring.max_partitions is %u)",
                 s->conf->name, topic, p, b->cfg->ring.max_partitions);
    }
    if (p + 1 > s->no_lane_to[t])
        s->no_lane_to[t] = p + 1;
    uint64_t n = 0;
    for (uint32_t k = 0; k < s->n_topics; k++)
        n += (uint64_t)(s->no_lane_to[k] - s->no_lane_from[k]);
    rc_ring_set_counter(s->ring, RC_CTR_NO_LANE, n);
}

/* Creates the lanes of partition p of topic tp in every stream reading it and returns where the
 * consumer must start: the lowest next offset among those streams (each ring refuses what it
 * already has). Returns -1 when Kafka could not tell the partition's watermarks (try later), -2
 * when no stream has a lane for it (it is not read; see no_lane()). */
static int64_t prepare_partition(rc_bridge_t *b, topic_t *tp, int32_t p)
{
    int64_t lo = -1, hi = -1, start = INT64_MAX;
    for (size_t u = 0; u < tp->n_uses; u++) {
        stream_t *s = &b->streams[tp->uses[u].stream];
        uint32_t t = tp->uses[u].topic;
        int lane = rc_ring_lane(s->ring, tp->name, p);
        if (lane < 0) {
            no_lane(b, s, t, tp->name, p);
            continue;
        }
        int64_t next;
        rc_ring_lane_info(s->ring, (uint32_t)lane, NULL, 0, NULL, &next);
        if (next < 0) {
            if (lo < 0) {
                rd_kafka_resp_err_t r = rd_kafka_query_watermark_offsets(b->rk, tp->name, p, &lo, &hi, KAFKA_WAIT_MS);
                if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    rc_debug("kafka", "%s[%d]: watermarks: %s", tp->name, p, rd_kafka_err2str(r));
                    return -1;
                }
            }
            /* `initial:` is for a ring's first start only; a partition found later starts at its
             * earliest offset: whatever was produced into it before the bridge saw it is read. */
            int initial = s->fresh && p < s->initial_parts[t];
            next = initial ? initial_offset(s, lo, hi) : lo;
            rc_ring_lane_advance(s->ring, (uint32_t)lane, next);
            rc_info("ring", "%s: %s[%d] starts at offset %" PRId64 " (%s%s; Kafka has %" PRId64 "..%" PRId64 ")",
                    s->conf->name, tp->name, p, next,
                    initial ? "initial: " : "a partition found after the ring began: ",
                    initial ? s->conf->initial : "earliest", lo, hi);
        } else {
            rc_info("ring", "%s: %s[%d] continues at offset %" PRId64, s->conf->name, tp->name, p, next);
        }
        if (p >= s->n_parts[t]) {
            s->lane_of[t] = rc_realloc(s->lane_of[t], (size_t)(p + 1) * sizeof(int));
            for (int32_t q = s->n_parts[t]; q <= p; q++)
                s->lane_of[t][q] = -1;
            s->n_parts[t] = p + 1;
        }
        s->lane_of[t][p] = lane;
        s->lane_next[lane] = next;
        start = next < start ? next : start;
    }
    return start == INT64_MAX ? -2 : start;
}

/* Looks up every topic; assigns partitions not assigned yet. Doubles as the health probe. */
static void refresh(rc_bridge_t *b)
{
    int complete = 1, reachable = 0;
    for (size_t i = 0; i < b->n_topics; i++) {
        topic_t *tp = &b->topics[i];
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t r = rd_kafka_metadata(b->rk, 0, tp->rkt, &md, KAFKA_WAIT_MS);
        if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
            set_state(b, RC_STATE_KAFKA_UNREACHABLE, rd_kafka_err2str(r));
            b->complete = 0;
            return;
        }
        reachable = 1;
        const rd_kafka_metadata_topic_t *mt = md->topic_cnt == 1 ? &md->topics[0] : NULL;
        int found = mt != NULL && mt->err == RD_KAFKA_RESP_ERR_NO_ERROR && mt->partition_cnt > 0;
        for (size_t u = 0; u < tp->n_uses; u++) {
            /* Kafka's first answer about the topic: the partitions it has now are the ones
             * `initial:` applies to (none if the topic does not exist yet). */
            stream_t *s = &b->streams[tp->uses[u].stream];
            uint32_t t = tp->uses[u].topic;
            if (!s->seen[t]) {
                s->seen[t] = 1;
                s->initial_parts[t] = found ? mt->partition_cnt : 0;
            }
        }
        if (!found) {
            if (!tp->missing_logged)
                rc_warn("kafka", "topic %s: %s; waiting for it", tp->name,
                        mt ? rd_kafka_err2str(mt->err) : "not in metadata");
            tp->missing_logged = 1;
            complete = 0;
            rd_kafka_metadata_destroy(md);
            continue;
        }
        if (tp->missing_logged)
            rc_info("kafka", "topic %s: found, %d partitions", tp->name, mt->partition_cnt);
        tp->missing_logged = 0;
        int32_t n = mt->partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (n <= tp->n_parts)
            continue;
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n - tp->n_parts);
        int32_t p;
        for (p = tp->n_parts; p < n; p++) {
            int64_t start = prepare_partition(b, tp, p);
            if (start == -2)
                continue; /* no stream can read it: counted, reported, never retried */
            if (start < 0)
                break; /* partitions are assigned in order; the rest waits for the next refresh */
            rd_kafka_topic_partition_list_add(list, tp->name, p)->offset = start;
        }
        if (list->cnt > 0) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(b->rk, list);
            if (e != NULL) {
                rc_error("kafka", "assign %s: %s", tp->name, rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                p = tp->n_parts; /* try again next time */
            } else {
                if (tp->n_parts > 0)
                    rc_info("kafka", "topic %s: %d new partitions", tp->name, p - tp->n_parts);
                tp->n_parts = p;
            }
        } else {
            tp->n_parts = p; /* nothing to assign: partitions no stream has a lane for */
        }
        rd_kafka_topic_partition_list_destroy(list);
        if (tp->n_parts < n)
            complete = 0;
        for (size_t u = 0; u < tp->n_uses; u++) {
            stream_t *s = &b->streams[tp->uses[u].stream];
            relayout_cut(s);
            rc_ring_publish(s->ring); /* lane starts are visible to edges before any record */
        }
    }
    if (reachable)
        set_state(b, RC_STATE_STREAMING, NULL);
    b->complete = complete;
}

/* --- the record path ------------------------------------------------------------------------------ */

static topic_t *topic_of(rc_bridge_t *b, const rd_kafka_topic_t *rkt)
{
    if (rkt != b->last_rkt) {
        b->last_topic = topic_named(b, rd_kafka_topic_name(rkt));
        b->last_rkt = rkt;
    }
    return b->last_topic;
}

/* Encodes the frame of one record or marker into b->frame; returns its length or -1 if too big. */
static long encode_frame(rc_bridge_t *b, stream_t *s, const char *event, size_t event_len, const uint8_t *data,
                         size_t data_len)
{
    char id[RC_EVENTID_MAX];
    long id_len = rc_eventid_encode(id, sizeof(id), s->fp, &s->cut);
    if (id_len < 0)
        return -1;
    return rc_sse_encode(b->frame, b->frame_cap, id, (size_t)id_len, event, event_len, data, data_len);
}

/* Stores a SKIP record for a Kafka record the ring does not store: clients whose filters would have
 * taken the record get `event: skipped` naming it and why, the counters say how many by reason, and
 * the log says so once per SKIP_LOG_MS (report_skips). The key and event type go with it when they
 * fit, for the filters; when they do not, the record matches every key or event filter. */
static void skip_record(rc_bridge_t *b, stream_t *s, int lane, const rd_kafka_message_t *m, const char *topic,
                        const char *event, size_t event_len, skip_reason_t why)
{
    char data[512];
    int n = snprintf(data, sizeof(data),
                     "{\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64 ",\"reason\":\"%s\",\"bytes\":%zu}",
                     topic, m->partition, m->offset, skip_reasons[why].word, m->len);
    s->cut.next[s->cut_at[lane]] = m->offset + 1; /* its id names the cut after the record */
    long flen = encode_frame(b, s, "skipped", 7, (const uint8_t *)data, (size_t)n);
    uint16_t flags = (m->key == NULL ? RC_RECF_NULL_KEY : 0) | (m->payload == NULL ? RC_RECF_TOMBSTONE : 0);
    size_t key_len = m->key_len;
    if (event_len > RC_REC_EVENT_MAX)
        event_len = 0, event = NULL, flags |= RC_RECF_EVENT_UNKNOWN;
    uint32_t max = rc_ring_max_record(s->ring);
    if (flen > 0 && RC_REC_HDR_SIZE + key_len + event_len + (size_t)flen > max)
        key_len = 0, flags |= RC_RECF_KEY_UNKNOWN;
    if (flen > 0 && RC_REC_HDR_SIZE + key_len + event_len + (size_t)flen > max)
        event_len = 0, event = NULL, flags |= RC_RECF_EVENT_UNKNOWN;
    rc_rec_in_t in = {.type = RC_REC_SKIP,
                      .lane = (uint16_t)lane,
                      .flags = flags,
                      .partition = m->partition,
                      .offset = m->offset,
                      .timestamp = rd_kafka_message_timestamp(m, NULL),
                      .key = key_len ? m->key : NULL,
                      .key_len = (uint32_t)key_len,
                      .event = event,
                      .event_len = (uint16_t)event_len,
                      .frame = b->frame,
                      .frame_len = (uint32_t)flen};
    if (flen < 0 || rc_ring_append(s->ring, &in) < 0) {
        /* Not even the notice fits (a ring far too small for its ids): the lane moves past the
         * record, so a resume across it finds the loss and says `event: gap`. */
        if (rc_ring_damaged(s->ring))
            return;
        rc_ring_lane_advance(s->ring, (uint32_t)lane, m->offset + 1);
    }
    rc_ring_count(s->ring, RC_CTR_SKIPPED, 1);
    rc_ring_count(s->ring, skip_reasons[why].ctr, 1);
    s->lane_next[lane] = m->offset + 1;
    s->touched = 1;
    s->skips[why]++;
    snprintf(s->last_skip, sizeof(s->last_skip), "%s[%d]@%" PRId64 ": %s", topic, m->partition, m->offset,
             skip_reasons[why].word);
}

/* Logs the records each stream did not store, at most once per SKIP_LOG_MS, with their count. */
static void report_skips(rc_bridge_t *b, uint64_t now)
{
    for (size_t i = 0; i < b->n_streams; i++) {
        stream_t *s = &b->streams[i];
        uint64_t n = s->skips[SKIP_TOO_LARGE] + s->skips[SKIP_NOT_UTF8] + s->skips[SKIP_EVENT_TOO_LONG];
        if (n == 0 || now < s->skip_log_ms + SKIP_LOG_MS)
            continue;
        rc_warn("bridge",
                "%s: %" PRIu64 " records not stored, announced to clients as `event: skipped` (too_large %" PRIu64
                ", not_utf8 %" PRIu64 ", event_too_long %" PRIu64 "); the last: %s",
                s->conf->name, n, s->skips[SKIP_TOO_LARGE], s->skips[SKIP_NOT_UTF8], s->skips[SKIP_EVENT_TOO_LONG],
                s->last_skip);
        memset(s->skips, 0, sizeof(s->skips));
        s->skip_log_ms = now;
    }
}

static void ingest(rc_bridge_t *b, stream_t *s, int lane, const rd_kafka_message_t *m, const char *topic)
{
    if (m->offset < s->lane_next[lane])
        return; /* this ring has it already: the consumer started lower for another stream */
    const char *event = NULL;
    size_t event_len = 0;
    rd_kafka_headers_t *hdrs;
    if (s->conf->event_header[0] != '\0' && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void *v;
        size_t vlen;
        if (rd_kafka_header_get_last(hdrs, s->conf->event_header, &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR && v) {
            if (vlen > RC_REC_EVENT_MAX) {
                /* Stored cut short it would match `event=` filters it does not name. */
                skip_record(b, s, lane, m, topic, v, vlen, SKIP_EVENT_TOO_LONG);
                return;
            }
            if (rc_sse_event_ok(v, vlen))
                event = v, event_len = vlen;
        }
    }
    int tombstone = m->payload == NULL;
    uint16_t flags = (m->key == NULL ? RC_RECF_NULL_KEY : 0) | (tombstone ? RC_RECF_TOMBSTONE : 0);
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    const uint8_t *value = m->payload ? m->payload : (const uint8_t *)"";
    size_t value_len = m->payload ? m->len : 0;
    if (s->conf->format == RC_FORMAT_JSON) {
        rc_envelope_t e = {.topic = topic,
                           .partition = m->partition,
                           .offset = m->offset,
                           .timestamp = ts,
                           .key = m->key,
                           .key_len = m->key_len,
                           .key_null = m->key == NULL,
                           .value = m->payload,
                           .value_len = m->len,
                           .value_null = tombstone};
        size_t need = rc_envelope_len(&e) + 1;
        if (need > b->json_cap) {
            b->json_cap = need * 2;
            b->json = rc_realloc(b->json, b->json_cap);
        }
        value_len = (size_t)rc_envelope_encode(b->json, b->json_cap, &e);
        value = (const uint8_t *)b->json;
    } else if (tombstone) {
        /* A raw tombstone is its own event type, and its data is the key: a client tells "this key
         * was deleted" from an empty value. */
        event = s->conf->tombstone_event ? s->conf->tombstone_event : "tombstone";
        event_len = strlen(event);
        value = m->key ? m->key : (const uint8_t *)"";
        value_len = m->key ? m->key_len : 0;
        if (!rc_utf8_valid(value, value_len)) {
            skip_record(b, s, lane, m, topic, event, event_len, SKIP_NOT_UTF8);
            return;
        }
    } else if (!rc_utf8_valid(value, value_len)) {
        skip_record(b, s, lane, m, topic, event, event_len, SKIP_NOT_UTF8); /* an SSE stream is UTF-8 */
        return;
    }
    int64_t prev = s->cut.next[s->cut_at[lane]];
    s->cut.next[s->cut_at[lane]] = m->offset + 1; /* the id names the cut after this record */
    long flen = encode_frame(b, s, event, event_len, value, value_len);
    if (flen < 0 || RC_REC_HDR_SIZE + m->key_len + event_len + (size_t)flen > rc_ring_max_record(s->ring)) {
        skip_record(b, s, lane, m, topic, event, event_len, SKIP_TOO_LARGE);
        return;
    }
    rc_rec_in_t in = {.type = RC_REC_DATA,
                      .lane = (uint16_t)lane,
                      .flags = flags,
                      .partition = m->partition,
                      .offset = m->offset,
                      .timestamp = ts,
                      .key = m->key,
                      .key_len = (uint32_t)m->key_len,
                      .event = event,
                      .event_len = (uint16_t)event_len,
                      .frame = b->frame,
                      .frame_len = (uint32_t)flen};
    int r = rc_ring_append(s->ring, &in);
    if (r != 0) {
        s->cut.next[s->cut_at[lane]] = prev;
        if (!rc_ring_damaged(s->ring)) /* a damaged ring is replaced at the next tick, and read again */
            rc_error("ring", "%s: %s[%d]@%" PRId64 ": append refused (%d)", s->conf->name, topic, m->partition,
                     m->offset, r);
        return;
    }
    s->lane_next[lane] = m->offset + 1;
    s->touched = 1;
}

/* --- offset out of range: restart the partition at the earliest offset Kafka has ------------------ */

static void reset_partition(rc_bridge_t *b, const rd_kafka_message_t *m)
{
    const char *name = rd_kafka_topic_name(m->rkt);
    topic_t *tp = topic_named(b, name);
    int64_t lo, hi;
    rd_kafka_resp_err_t r = rd_kafka_query_watermark_offsets(b->rk, name, m->partition, &lo, &hi, KAFKA_WAIT_MS);
    if (tp == NULL || r != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Kafka will report the partition again once the consumer retries it. */
        rc_warn("kafka", "%s[%d]: offset out of range, and watermarks unknown: %s", name, m->partition,
                rd_kafka_err2str(r));
        return;
    }
    rc_warn("kafka",
            "%s[%d]: offset %" PRId64 " out of range (Kafka has %" PRId64 "..%" PRId64 "); restarting at %" PRId64
            " with a reset marker",
            name, m->partition, m->offset, lo, hi, lo);
    for (size_t u = 0; u < tp->n_uses; u++) {
        stream_t *s = &b->streams[tp->uses[u].stream];
        uint32_t t = tp->uses[u].topic;
        if (m->partition >= s->n_parts[t] || s->lane_of[t][m->partition] < 0)
            continue;
        int lane = s->lane_of[t][m->partition];
        char data[512];
        int n = snprintf(data, sizeof(data),
                         "{\"topic\":\"%s\",\"partition\":%d,\"from\":%" PRId64 ",\"to\":%" PRId64
                         ",\"reason\":\"offset out of range\"}",
                         name, m->partition, s->lane_next[lane], lo);
        s->cut.next[s->cut_at[lane]] = lo;
        long flen = encode_frame(b, s, "reset", 5, (const uint8_t *)data, (size_t)n);
        rc_rec_in_t in = {.type = RC_REC_RESET,
                          .lane = (uint16_t)lane,
                          .partition = m->partition,
                          .offset = lo,
                          .timestamp = -1,
                          .event = "reset",
                          .event_len = 5,
                          .frame = b->frame,
                          .frame_len = (uint32_t)flen};
        if (flen > 0 && rc_ring_append(s->ring, &in) == 0) {
            s->lane_next[lane] = lo;
            s->touched = 1;
        }
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, name, m->partition)->offset = lo;
    rd_kafka_error_t *e = rd_kafka_incremental_unassign(b->rk, list);
    if (e == NULL)
        e = rd_kafka_incremental_assign(b->rk, list);
    if (e != NULL) {
        rc_error("kafka", "%s[%d]: reassign at %" PRId64 ": %s", name, m->partition, lo, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* --- a ring file removed, replaced or truncated under the bridge --------------------------------- */

/*
 * Reads the partitions of topic tp that s reads again from the lowest next offset a stream reading
 * them expects: records the consumer passed but a damaged ring refused come again (every ring
 * refuses what it has already).
 */
static void rewind_topic(rc_bridge_t *b, const stream_t *s, uint32_t t)
{
    topic_t *tp = topic_named(b, s->topics[t]);
    if (tp == NULL || s->n_parts[t] == 0)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(s->n_parts[t]);
    for (int32_t p = 0; p < s->n_parts[t]; p++) {
        int64_t low = INT64_MAX;
        for (size_t u = 0; u < tp->n_uses; u++) {
            const stream_t *o = &b->streams[tp->uses[u].stream];
            uint32_t ot = tp->uses[u].topic;
            if (o->ring != NULL && p < o->n_parts[ot] && o->lane_of[ot][p] >= 0 &&
                o->lane_next[o->lane_of[ot][p]] < low)
                low = o->lane_next[o->lane_of[ot][p]];
        }
        if (low != INT64_MAX)
            rd_kafka_topic_partition_list_add(list, tp->name, p)->offset = low;
    }
    rd_kafka_error_t *e = list->cnt ? rd_kafka_incremental_unassign(b->rk, list) : NULL;
    if (e == NULL && list->cnt)
        e = rd_kafka_incremental_assign(b->rk, list);
    if (e != NULL) {
        rc_error("kafka", "%s: reassign after a lost ring: %s", tp->name, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Opens a new ring for s whose lanes start where the lost one's stood, and reads from there again:
 * a client that had everything resumes exactly with its Last-Event-ID, one that had not is told of
 * a gap. Returns 0, or -1 with s->ring NULL (no space left, say): tried again at the next tick.
 */
static int remake_ring(rc_bridge_t *b, stream_t *s)
{
    const rc_config_t *cfg = b->cfg;
    rc_ring_geom_t g = {.capacity = cfg->ring.size,
                        .index_slots = (uint32_t)cfg->ring.index_slots,
                        .max_lanes = cfg->ring.max_partitions};
    char path[4200], why[256], e[512];
    rc_ring_opened_t how;
    /* The name is this bridge's (it holds the lock): whatever file is there now is not its ring. */
    snprintf(path, sizeof(path), "%s/%s.ring", cfg->ring.dir, s->conf->name);
    unlink(path);
    if (rc_ring_writer_open(&s->ring, cfg->ring.dir, s->conf->name, &g, &how, why, sizeof(why), e, sizeof(e)) != 0) {
        s->ring = NULL;
        if (!s->lost_logged)
            rc_error("ring", "%s: cannot make the ring again: %s; Kafka is not read until it can", s->conf->name, e);
        s->lost_logged = 1;
        return -1;
    }
    int64_t next[RC_CUT_MAX_LANES];
    memcpy(next, s->lane_next, sizeof(next));
    for (uint32_t t = 0; t < s->n_topics; t++) {
        for (int32_t p = 0; p < s->n_parts[t]; p++) {
            int old = s->lane_of[t][p];
            if (old < 0)
                continue;
            int lane = rc_ring_lane(s->ring, s->topics[t], p); /* the old ring had room: so has this one */
            rc_ring_lane_advance(s->ring, (uint32_t)lane, next[old]);
            s->lane_of[t][p] = lane;
            s->lane_next[lane] = next[old];
        }
    }
    relayout_cut(s);
    for (uint32_t t = 0; t < s->n_topics; t++)
        rewind_topic(b, s, t);
    rc_ring_set_state(s->ring, b->state);
    rc_ring_heartbeat(s->ring);
    rc_ring_publish(s->ring);
    rc_info("ring", "%s: made a new ring; its partitions continue where the lost one stopped", s->conf->name);
    s->lost_logged = 0;
    return 0;
}

/* Checks every ring's file; replaces the lost ones. Returns how many rings are still missing. */
static int check_rings(rc_bridge_t *b)
{
    int missing = 0;
    for (size_t i = 0; i < b->n_streams; i++) {
        stream_t *s = &b->streams[i];
        char why[512];
        if (s->ring != NULL && rc_ring_check_file(s->ring, why, sizeof(why)) != 0) {
            rc_error("ring", "%s: ring lost: %s; making a new one", s->conf->name, why);
            rc_ring_close(s->ring);
            s->ring = NULL;
            s->touched = 0;
        }
        if (s->ring == NULL && remake_ring(b, s) != 0)
            missing++;
    }
    return missing;
}

/* --- the loop ----------------------------------------------------------------------------------- */

static void handle_error(rc_bridge_t *b, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        if (m->rkt != NULL)
            reset_partition(b, m);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    rc_warn("kafka", "%s%s%s", m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? ": " : "",
            rd_kafka_message_errstr(m));
}

/* Publishes every ring that changed and wakes the edges once. */
static void publish(rc_bridge_t *b)
{
    int any = 0;
    for (size_t i = 0; i < b->n_streams; i++) {
        if (b->streams[i].touched) {
            rc_ring_publish(b->streams[i].ring);
            b->streams[i].touched = 0;
            any = 1;
        }
    }
    if (any)
        rc_wake_server_notify(b->wake);
}

/* Consumes what librdkafka has queued, batch by batch, without waiting. */
static void consume(rc_bridge_t *b)
{
    static rd_kafka_message_t *msgs[BATCH_MAX];
    ssize_t n;
    do {
        n = rd_kafka_consume_batch_queue(b->queue, 0, msgs, BATCH_MAX);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                handle_error(b, m);
            } else if (m->rkt != NULL) {
                b->records++;
                topic_t *tp = topic_of(b, m->rkt);
                if (tp != NULL) {
                    for (size_t u = 0; u < tp->n_uses; u++) {
                        stream_t *s = &b->streams[tp->uses[u].stream];
                        uint32_t t = tp->uses[u].topic;
                        if (m->partition >= 0 && m->partition < s->n_parts[t] && s->lane_of[t][m->partition] >= 0)
                            ingest(b, s, s->lane_of[t][m->partition], m, tp->name);
                    }
                }
                if (b->state != RC_STATE_STREAMING)
                    set_state(b, RC_STATE_STREAMING, NULL);
            }
            rd_kafka_message_destroy(m);
        }
        publish(b); /* once per batch: one release store per ring, one wake per edge */
    } while (n == BATCH_MAX);
}

/* Tells systemd how the bridge is doing. READY=1 comes once the rings are open and Kafka answered
 * the first refresh, which assigned every partition it found; the watchdog is fed from this loop
 * (every TICK_MS), so a loop stuck anywhere misses it and systemd restarts the bridge. */
static void notify_systemd(rc_bridge_t *b, uint64_t now)
{
    rc_notify_watchdog_tick(now * 1000000u);
    int becomes_ready = !b->ready && b->state == RC_STATE_STREAMING;
    if (!becomes_ready && now < b->next_status_ms)
        return;
    b->next_status_ms = now + STATUS_MS;
    rc_notify("%sSTATUS=kafka %s, %zu streams, %" PRIu64 " records ingested", becomes_ready ? "READY=1\n" : "",
              rc_ring_state_str(b->state), b->n_streams, b->records);
    if (becomes_ready) {
        b->ready = 1;
        rc_info("bridge", "ready: %zu rings open, partitions assigned", b->n_streams);
    }
}

int rc_bridge_run(rc_bridge_t *b, volatile sig_atomic_t *stop)
{
    sigset_t open_mask;
    sigemptyset(&open_mask);
    uint64_t next_tick = 0;
    int missing = 0;
    while (!*stop) {
        uint64_t now = now_ms();
        if (now >= next_tick) {
            /* A ring that is missing holds every stream back: records stay in Kafka (and in
             * librdkafka's queue) rather than be read past and lost for that stream. */
            missing = check_rings(b);
            for (size_t i = 0; i < b->n_streams; i++)
                if (b->streams[i].ring != NULL)
                    rc_ring_heartbeat(b->streams[i].ring);
            report_skips(b, now);
            rc_wake_server_service(b->wake);
            next_tick = now + TICK_MS;
        }
        if (now >= b->next_refresh_ms && !missing) {
            refresh(b);
            now = now_ms();
            b->next_refresh_ms = now + (b->complete ? REFRESH_MS : REFRESH_FAST_MS);
        }
        notify_systemd(b, now);
        if (!missing)
            consume(b);
        uint64_t wait = (next_tick < b->next_refresh_ms ? next_tick : b->next_refresh_ms) - now;
        if (wait > TICK_MS)
            wait = TICK_MS;
        struct pollfd fds[2] = {{.fd = b->queue_fd, .events = POLLIN},
                                {.fd = rc_wake_server_fd(b->wake), .events = POLLIN}};
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait * 1000000L};
        /* Signals are blocked except inside ppoll, so a SIGTERM is never lost between the check of
         * *stop and the wait. */
        int r = ppoll(fds, 2, &ts, &open_mask);
        if (r > 0 && (fds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t rd = read(b->queue_fd, &v, sizeof(v));
            (void)rd;
        }
        if (r > 0 && (fds[1].revents & POLLIN))
            rc_wake_server_service(b->wake);
    }
    rc_info("bridge", "stopping");
    rc_notify("STOPPING=1\nSTATUS=stopping: publishing what is pending");
    if (!missing)
        consume(b);
    return 0;
}

void rc_bridge_free(rc_bridge_t *b)
{
    if (b == NULL)
        return;
    if (b->rk != NULL) {
        rd_kafka_queue_io_event_enable(b->queue, -1, NULL, 0);
        for (size_t i = 0; i < b->n_topics; i++)
            if (b->topics[i].rkt)
                rd_kafka_topic_destroy(b->topics[i].rkt);
        rd_kafka_queue_destroy(b->queue);
        rd_kafka_consumer_close(b->rk);
        rd_kafka_destroy(b->rk);
    }
    if (b->queue_fd >= 0)
        close(b->queue_fd);
    for (size_t i = 0; i < b->n_streams; i++) {
        stream_t *s = &b->streams[i];
        if (s->ring != NULL)
            rc_ring_close(s->ring); /* publishes, marks the ring stopped */
        for (uint32_t t = 0; t < s->n_topics; t++)
            free(s->lane_of[t]);
    }
    if (b->mock != NULL)
        rd_kafka_mock_cluster_destroy(b->mock);
    if (b->mock_rk != NULL)
        rd_kafka_destroy(b->mock_rk);
    if (b->bootstrap_file[0] != '\0')
        unlink(b->bootstrap_file); /* the mock cluster it named is gone */
    rc_wake_server_close(b->wake);
    for (size_t i = 0; i < b->n_topics; i++) {
        free(b->topics[i].name);
        free(b->topics[i].uses);
    }
    free(b->topics);
    free(b->streams);
    free(b->frame);
    free(b->json);
    free(b);
}

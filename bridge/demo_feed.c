/*
 * ringcast-demo-feed: produces the live data of the demo page into Kafka with librdkafka.
 *
 *   ringcast-demo-feed --bootstrap HOST:PORT[,...]    a real cluster (its topics must exist)
 *   ringcast-demo-feed --bootstrap-file PATH          the bridge's mock cluster: waits for the file
 *                                                     the bridge writes to <ring.dir>/kafka-bootstrap
 *
 * Three topics, one per panel of the page:
 *
 *   sensors  12 temperature sensors, keyed sensor-1 .. sensor-12, --rate readings per second each:
 *            {"sensor":"sensor-3","n":42,"celsius":21.43,"ts":1764100000000}
 *            n counts each sensor's readings from 1 without a hole, so a client can prove that a
 *            reconnect lost nothing. Header event=reading.
 *   ranking  every second, the five warmest sensors: {"ts":...,"top":[{"sensor":...,"celsius":...}]}.
 *            Header event=ranking.
 *   chat     now and then a line from a bot, keyed by its user name: {"user":"ada","text":...,"ts":...}.
 *            Header event=message, as the page sends its own with POST.
 *
 * SIGTERM or SIGINT: waits for Kafka to acknowledge what is queued (up to 5 s) and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "log.h"
#include "util.h"

#define N_SENSORS   12   /* the page has one tile per sensor */
#define TOP_N       5    /* rows of the ranking table */
#define FLUSH_MS    5000 /* how long a stop waits for Kafka to acknowledge queued records */
#define MAX_RATE    1000 /* readings per second per sensor; the page's charts need far fewer */
#define MAX_PROPS   32   /* -X settings accepted on the command line */
#define CHAT_MIN_MS 2000 /* a bot speaks every 2-5 s: lively, without drowning the people */
#define CHAT_MAX_MS 5000

typedef struct {
    const char *bootstrap;      /* --bootstrap, or NULL */
    const char *bootstrap_file; /* --bootstrap-file, or NULL */
    const char *topic_sensors, *topic_ranking, *topic_chat;
    int rate; /* readings per second per sensor */
    const char *props[MAX_PROPS][2];
    size_t n_props;
} options_t;

typedef struct {
    double base;    /* the room's own temperature */
    double phase;   /* where its slow daily-like swing starts */
    double drift;   /* a random walk around base */
    double celsius; /* the last reading */
    uint64_t n;     /* readings produced so far */
} sensor_t;

static volatile sig_atomic_t stop;
static uint64_t rng_state;
static uint64_t delivery_failures;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* xorshift64*: the feed needs plausible noise, not good randomness, and no shared libc state. */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* A uniform double in [0, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ringcast-demo-feed (--bootstrap HOST:PORT | --bootstrap-file PATH) [options]\n"
                 "\n"
                 "Produces the demo's data into Kafka: readings of 12 temperature sensors (topic sensors,\n"
                 "keys sensor-1 .. sensor-12), a top-5 ranking every second (topic ranking) and chat lines\n"
                 "from bots keyed by user name (topic chat).\n"
                 "\n"
                 "  --bootstrap LIST       Kafka bootstrap servers\n"
                 "  --bootstrap-file PATH  read them from PATH, waiting until it exists (the bridge's\n"
                 "                         <ring.dir>/kafka-bootstrap with kafka.brokers: mock)\n"
                 "  --rate N               readings per second per sensor (default 5)\n"
                 "  --topics S,R,C         topic names for sensors, ranking and chat (default\n"
                 "                         sensors,ranking,chat)\n"
                 "  -X KEY=VALUE           a librdkafka property (security.protocol, sasl.*, ...); repeatable\n"
                 "  -h, --help             this text\n");
}

/* Splits "a,b,c" into three names; the strings point into s, which the caller keeps. */
static int parse_topics(char *s, options_t *o)
{
    char *c1 = strchr(s, ',');
    char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ',') != NULL)
        return -1;
    *c1 = *c2 = '\0';
    o->topic_sensors = s;
    o->topic_ranking = c1 + 1;
    o->topic_chat = c2 + 1;
    return *o->topic_sensors && *o->topic_ranking && *o->topic_chat ? 0 : -1;
}

static int parse_args(int argc, char **argv, options_t *o)
{
    *o = (options_t){.topic_sensors = "sensors", .topic_ranking = "ranking", .topic_chat = "chat", .rate = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (v == NULL) {
            fprintf(stderr, "ringcast-demo-feed: %s needs a value or is unknown\n", a);
            return -1;
        } else if (strcmp(a, "--bootstrap") == 0) {
            o->bootstrap = v;
        } else if (strcmp(a, "--bootstrap-file") == 0) {
            o->bootstrap_file = v;
        } else if (strcmp(a, "--rate") == 0) {
            char *end;
            long r = strtol(v, &end, 10);
            if (*end != '\0' || r < 1 || r > MAX_RATE) {
                fprintf(stderr, "ringcast-demo-feed: --rate must be 1..%d\n", MAX_RATE);
                return -1;
            }
            o->rate = (int)r;
        } else if (strcmp(a, "--topics") == 0) {
            if (parse_topics(argv[i + 1], o) != 0) {
                fprintf(stderr, "ringcast-demo-feed: --topics wants three names: SENSORS,RANKING,CHAT\n");
                return -1;
            }
        } else if (strcmp(a, "-X") == 0) {
            char *eq = strchr(argv[i + 1], '=');
            if (eq == NULL || o->n_props == MAX_PROPS) {
                fprintf(stderr, "ringcast-demo-feed: -X wants KEY=VALUE (at most %d)\n", MAX_PROPS);
                return -1;
            }
            *eq = '\0';
            o->props[o->n_props][0] = argv[i + 1];
            o->props[o->n_props][1] = eq + 1;
            o->n_props++;
        } else {
            fprintf(stderr, "ringcast-demo-feed: unknown argument %s\n", a);
            return -1;
        }
        i++;
    }
    if ((o->bootstrap == NULL) == (o->bootstrap_file == NULL)) {
        fprintf(stderr, "ringcast-demo-feed: give one of --bootstrap and --bootstrap-file\n");
        return -1;
    }
    return 0;
}

/* Reads the bootstrap list the bridge writes once its mock cluster listens; 0, or -1 on a stop. */
static int wait_bootstrap_file(const char *path, char *out, size_t len)
{
    int waited_ms = 0;
    while (!stop) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            size_t n = fread(out, 1, len - 1, f);
            fclose(f);
            out[n] = '\0';
            out[strcspn(out, "\r\n")] = '\0';
            /* The bridge may be between creating the file and writing it: wait for a whole line. */
            if (out[0] != '\0')
                return 0;
        }
        if (waited_ms == 5000)
            rc_info("feed", "waiting for %s (is the bridge running with kafka.brokers: mock?)", path);
        usleep(100 * 1000);
        waited_ms += 100;
    }
    return -1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    /* One line per failure would flood the terminal while a broker is away: log the first and then
     * every thousandth. */
    if (delivery_failures++ % 1000 == 0)
        rc_warn("kafka", "%s: not delivered: %s (%" PRIu64 " so far)", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err), delivery_failures);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    rc_log(level <= 3 ? RC_LOG_ERROR : level == 4 ? RC_LOG_WARN : RC_LOG_INFO, "kafka", "%s: %s", fac, buf);
}

static rd_kafka_t *make_producer(const options_t *o, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* linger.ms 5 keeps a reading's way to the browser short; the volume is tiny either way. */
    const char *props[][2] = {{"bootstrap.servers", bootstrap},
                              {"client.id", "ringcast-demo-feed"},
                              {"linger.ms", "5"},
                              {"acks", "all"},
                              {"log_level", "4"}};
    for (size_t i = 0; i < RC_ARRAY_SIZE(props); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            goto fail;
    for (size_t i = 0; i < o->n_props; i++)
        if (rd_kafka_conf_set(conf, o->props[i][0], o->props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk != NULL)
        return rk;
    rd_kafka_conf_destroy(conf); /* rd_kafka_new() takes it only on success */
    rc_error("kafka", "producer: %s", err);
    return NULL;
fail:
    rd_kafka_conf_destroy(conf);
    rc_error("kafka", "producer: %s", err);
    return NULL;
}

/* Queues one record; a full local queue (the broker is away) drops it rather than block the feed. The
 * value is copied (RD_KAFKA_MSG_F_COPY), so dropping its const for librdkafka's void * is safe. */
static void produce(rd_kafka_t *rk, const char *topic, const char *key, const char *event, const char *value,
                    size_t len)
{
    rd_kafka_resp_err_t r = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
        RD_KAFKA_V_HEADER("event", event, -1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR && delivery_failures++ % 1000 == 0)
        rc_warn("kafka", "%s: not queued: %s", topic, rd_kafka_err2str(r));
}

static void init_sensors(sensor_t *s)
{
    for (int i = 0; i < N_SENSORS; i++) {
        s[i] = (sensor_t){.base = 18.0 + 8.0 * rng_unit(), .phase = 6.283 * rng_unit()};
        s[i].celsius = s[i].base;
    }
}

/* One reading: a slow swing (a minute long) plus a bounded random walk, so the charts move. */
static void read_sensor(sensor_t *s, double t_s)
{
    s->drift += (rng_unit() - 0.5) * 0.2;
    if (s->drift > 2.0 || s->drift < -2.0)
        s->drift *= 0.9;
    s->celsius = s->base + 1.5 * sin(s->phase + t_s * 6.283 / 60.0) + s->drift;
    s->n++;
}

static void produce_readings(rd_kafka_t *rk, const options_t *o, sensor_t *sensors, uint64_t now_ms)
{
    for (int i = 0; i < N_SENSORS; i++) {
        char key[24], value[160]; /* key: room for any int, which keeps -Wformat-truncation quiet */
        read_sensor(&sensors[i], (double)now_ms / 1000.0);
        snprintf(key, sizeof(key), "sensor-%d", i + 1);
        int n =
            snprintf(value, sizeof(value), "{\"sensor\":\"%s\",\"n\":%" PRIu64 ",\"celsius\":%.2f,\"ts\":%" PRIu64 "}",
                     key, sensors[i].n, sensors[i].celsius, now_ms);
        produce(rk, o->topic_sensors, key, "reading", value, (size_t)n);
    }
}

static void produce_ranking(rd_kafka_t *rk, const options_t *o, const sensor_t *sensors, uint64_t now_ms)
{
    int order[N_SENSORS];
    for (int i = 0; i < N_SENSORS; i++)
        order[i] = i;
    /* Twelve entries: an insertion sort by temperature, warmest first, is all this needs. */
    for (int i = 1; i < N_SENSORS; i++) {
        int v = order[i], j = i;
        for (; j > 0 && sensors[order[j - 1]].celsius < sensors[v].celsius; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
    char value[512];
    size_t n = (size_t)snprintf(value, sizeof(value), "{\"ts\":%" PRIu64 ",\"top\":[", now_ms);
    for (int r = 0; r < TOP_N; r++)
        n += (size_t)snprintf(value + n, sizeof(value) - n, "%s{\"rank\":%d,\"sensor\":\"sensor-%d\",\"celsius\":%.2f}",
                              r ? "," : "", r + 1, order[r] + 1, sensors[order[r]].celsius);
    n += (size_t)snprintf(value + n, sizeof(value) - n, "]}");
    produce(rk, o->topic_ranking, "top", "ranking", value, n);
}

static void produce_chat(rd_kafka_t *rk, const options_t *o, uint64_t now_ms)
{
    static const char *const users[] = {"ada", "linus", "grace", "ken", "margaret"};
    /* Plain ASCII without quotes or backslashes: they go into the JSON as they are. */
    static const char *const lines[] = {"sensor-7 runs warm again",
                                        "who moved the thermostat?",
                                        "the ranking changed, did you see it?",
                                        "HTTP/2: one connection, all the tiles",
                                        "try the drop-connection button",
                                        "nothing lost on reconnect",
                                        "coffee break in five",
                                        "it is getting chilly in here",
                                        "publishing from the page works",
                                        "Kafka says hello"};
    const char *user = users[rng_next() % RC_ARRAY_SIZE(users)];
    const char *line = lines[rng_next() % RC_ARRAY_SIZE(lines)];
    char value[256];
    int n = snprintf(value, sizeof(value), "{\"user\":\"%s\",\"text\":\"%s\",\"ts\":%" PRIu64 "}", user, line, now_ms);
    produce(rk, o->topic_chat, user, "message", value, (size_t)n);
}

static uint64_t add_ns(struct timespec *t, uint64_t ns)
{
    uint64_t v = (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec + ns;
    t->tv_sec = (time_t)(v / 1000000000ULL);
    t->tv_nsec = (long)(v % 1000000000ULL);
    return v;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    rc_log_init("ringcast-demo-feed", RC_LOG_INFO);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char boot[1024];
    if (o.bootstrap_file != NULL) {
        if (wait_bootstrap_file(o.bootstrap_file, boot, sizeof(boot)) != 0)
            return 0; /* stopped before the bridge was up: nothing was produced */
    } else {
        snprintf(boot, sizeof(boot), "%s", o.bootstrap);
    }
    rd_kafka_t *rk = make_producer(&o, boot);
    if (rk == NULL)
        return 1;
    rc_info("feed", "producing to %s: %d sensors at %d/s, a ranking every second, chat from bots", boot, N_SENSORS,
            o.rate);

    rng_state = rc_now_real_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    sensor_t sensors[N_SENSORS];
    init_sensors(sensors);

    /* Absolute deadlines on the monotonic clock: the rate stays exact however long a tick took. */
    const uint64_t tick_ns = 1000000000ULL / (uint64_t)o.rate;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t now_ns = add_ns(&next, 0);
    uint64_t next_ranking_ns = now_ns + 1000000000ULL;
    uint64_t next_chat_ns = now_ns + 1000000000ULL;
    while (!stop) {
        uint64_t now_ms = rc_now_real_ms();
        produce_readings(rk, &o, sensors, now_ms);
        if (now_ns >= next_ranking_ns) {
            produce_ranking(rk, &o, sensors, now_ms);
            next_ranking_ns += 1000000000ULL;
        }
        if (now_ns >= next_chat_ns) {
            produce_chat(rk, &o, now_ms);
            next_chat_ns = now_ns + (CHAT_MIN_MS + rng_next() % (CHAT_MAX_MS - CHAT_MIN_MS)) * 1000000ULL;
        }
        rd_kafka_poll(rk, 0); /* serves delivery reports */
        now_ns = add_ns(&next, tick_ns);
        /* A signal interrupts the sleep (EINTR) and the loop sees stop at once. */
        while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }

    rd_kafka_resp_err_t r = rd_kafka_flush(rk, FLUSH_MS);
    if (r != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc_warn("kafka", "stopping with %d records not acknowledged: %s", rd_kafka_outq_len(rk), rd_kafka_err2str(r));
    rd_kafka_destroy(rk);
    rc_info("feed", "stopped; %" PRIu64 " readings per sensor", sensors[0].n);
    return 0;
}

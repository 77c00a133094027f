/*
 * Bridge ingest benchmark: how fast ringcast-bridge moves records that are already in Kafka into
 * a ring.
 *
 *   ingest_bench --bridge PATH (--mock | --brokers HOST:PORT --topic NAME) [--records N]
 *                [--partitions P] [--size BYTES]
 *
 * It produces N records of BYTES bytes over P partitions first (into a librdkafka mock cluster that
 * this program hosts, or into the given real topic, which must exist with P partitions), then
 * (the mock cluster keeps only about 5 MiB a partition: 2M records of 100 B need 64 partitions)
 * starts the real bridge binary with `initial: earliest` and watches the ring as an edge would.
 * The rate is measured from the first record seen in the ring to the last, so bridge start-up and
 * Kafka metadata are not counted; the bridge's CPU time over the same span comes from /proc.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

static double now_s(void)
{
    return (double)rc_now_mono_ns() / 1e9;
}

/* utime + stime of a process, in seconds. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what)
{
    fprintf(stderr, "ingest_bench: %s\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *bridge = NULL, *brokers = NULL, *topic = "bench";
    int mock = 0, parts = 64;
    long records = 2000000, size = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mock") == 0)
            mock = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--bridge") == 0)
            bridge = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--brokers") == 0)
            brokers = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--topic") == 0)
            topic = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--records") == 0)
            records = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--partitions") == 0)
            parts = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
            size = atol(argv[++i]);
        else
            die("usage: ingest_bench --bridge PATH (--mock | --brokers HOST:PORT --topic NAME) [--records N] "
                "[--partitions P] [--size BYTES]");
    }
    if (bridge == NULL || (!mock && brokers == NULL) || records <= 0 || parts <= 0 || size < 16)
        die("need --bridge and --mock or --brokers");

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const props[][2] = {{"linger.ms", "20"},
                                           {"batch.num.messages", "10000"},
                                           {"queue.buffering.max.messages", "2000000"},
                                           {"queue.buffering.max.kbytes", "1048576"},
                                           {"compression.type", "none"},
                                           {"log_level", "4"}};
    for (size_t i = 0; i < RC_ARRAY_SIZE(props); i++)
        rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = NULL;
    char boot[512];
    if (mock) {
        /* The producer hosts the mock cluster; it must live until the bridge has read everything. */
        rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_dup(conf), err, sizeof(err));
        if (host == NULL || (mc = rd_kafka_mock_cluster_new(host, 1)) == NULL)
            die("cannot start the mock cluster");
        rd_kafka_mock_topic_create(mc, topic, parts, 1);
        snprintf(boot, sizeof(boot), "%s", rd_kafka_mock_cluster_bootstraps(mc));
    } else {
        snprintf(boot, sizeof(boot), "%s", brokers);
    }
    rd_kafka_conf_set(conf, "bootstrap.servers", boot, err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL)
        die(err);
    char *value = rc_malloc((size_t)size);
    memset(value, 'v', (size_t)size);
    double t0 = now_s();
    for (long i = 0; i < records; i++) {
        int n = snprintf(value, (size_t)size, "%ld ", i);
        value[n] = 'v';
        for (;;) {
            rd_kafka_resp_err_t r = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                RD_KAFKA_V_VALUE(value, (size_t)size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die(rd_kafka_err2str(r));
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    fprintf(stderr, "produced %ld records of %ld bytes over %d partitions in %.1f s\n", records, size, parts,
            now_s() - t0);

    char dir[] = "/dev/shm/rc-ingest-XXXXXX", cfg[512], ring[600];
    if (mkdtemp(dir) == NULL)
        die(strerror(errno));
    snprintf(cfg, sizeof(cfg), "%s/ringcast.yaml", dir);
    snprintf(ring, sizeof(ring), "%s/rings/bench.ring", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "kafka: {brokers: \"%s\"}\nring: {dir: %s/rings, size: 64MiB}\n"
            "streams:\n  - {name: bench, topics: [%s], initial: earliest}\nlog: {level: warn}\n",
            boot, dir, topic);
    fclose(f);

    pid_t pid = fork();
    if (pid == 0) {
        execl(bridge, bridge, "-c", cfg, (char *)NULL);
        _exit(127);
    }
    rc_ring_t *r = NULL;
    double deadline = now_s() + 300, first = 0, last = 0, cpu_first = 0, cpu_last = 0, moved = now_s();
    uint64_t first_count = 0, count = 0, prev = 0;
    while (now_s() < deadline && now_s() - moved < 10) { /* 10 s without progress: it is stuck */
        if (r == NULL && rc_ring_open_reader(&r, ring, err, sizeof(err)) != 0) {
            r = NULL;
            usleep(10000);
            continue;
        }
        count = rc_ring_counter(r, RC_CTR_RECORDS) + rc_ring_counter(r, RC_CTR_SKIPPED);
        if (count != prev)
            prev = count, moved = now_s();
        if (count > 0 && first == 0) {
            first = now_s();
            cpu_first = cpu_of(pid);
            first_count = count;
        }
        if (count >= (uint64_t)records) {
            last = now_s();
            cpu_last = cpu_of(pid);
            break;
        }
        usleep(1000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (last == 0) {
        fprintf(stderr, "ingest_bench: only %llu of %ld records reached the ring\n", (unsigned long long)count,
                records);
        return 1;
    }
    double secs = last - first, n = (double)(count - first_count);
    printf("bridge ingest (%s, %d partitions, %ld B values): %.2f M records/s, %.2f bridge CPU-s per million records "
           "(%llu records in %.2f s after the first)\n",
           mock ? "mock cluster" : "Apache Kafka", parts, size, n / secs / 1e6, (cpu_last - cpu_first) / (n / 1e6),
           (unsigned long long)(count - first_count), secs);
    rc_ring_close(r);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ingest_bench: could not remove %s\n", dir);
    free(value);
    rd_kafka_destroy(rk);
    return 0;
}

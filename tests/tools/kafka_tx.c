/*
 * kafka_tx: writes a transactional log into a Kafka topic, so that ringcast's real-Kafka tests can
 * check what a read_committed reader delivers. A transactional topic is not a dense sequence of
 * records: aborted records stay in the log, and every commit or abort writes a control marker that
 * takes an offset of its own in each partition the transaction touched. Neither kind ever reaches
 * a read_committed consumer, so the offsets it sees have holes. kcat cannot produce inside a
 * transaction, hence this tool (librdkafka's transactional producer API).
 *
 *   kafka_tx -b BOOTSTRAP -t TOPIC [-p PARTITION] [-k KEYPREFIX [-K NKEYS]] [-x TXID]
 *            [-X PROP=VALUE ...] PLAN
 *
 * PLAN is a comma-separated list of steps, run in order, each a letter and a record count:
 *   cN  a transaction of N records, committed
 *   aN  a transaction of N records, aborted (the records are written to the log first: the
 *       producer is flushed before the abort, so they are really there, with offsets)
 *   nN  N records without a transaction (a second, idempotent producer), between transactions
 *   oN  a transaction of N records left open: only as the last step; the tool exits without
 *       ending it, and the broker aborts it after transaction.timeout.ms (-X to shorten). Until
 *       then a read_committed consumer stops at the first of its records (the last stable offset).
 * e.g. c5,a3,n2,c2,a1,c4. Steps are counted from 1 and records from 1 over the whole plan; the
 * value of record j of step i is "tx<i>-<c|a|o>-<j>", or "nt<i>-n-<j>" outside a transaction, so
 * a test knows exactly which values a read_committed consumer must see, in order: the c and n ones.
 *
 * -p: every record goes to PARTITION (else librdkafka's partitioner picks). -k: record j gets the
 * key KEYPREFIX<j>, or with -K, KEYPREFIX<j % NKEYS> (keys that repeat, for compacted topics).
 * -x: the transactional.id (default kafka_tx-<pid>). -X: any librdkafka property, for both
 * producers.
 *
 * Output: once a step has ended (committed, aborted, flushed), one line per record on stdout, in
 * the order produced:   <c|a|n|o> <partition> <offset> <value>
 * with the offset from the record's delivery report. The marker of a transaction on one partition
 * is the first offset after its last record there (nothing else writes to the topic meanwhile: the
 * steps run one after the other). Exit status: 0 when the whole plan ran, 1 on any Kafka error
 * (the message on stderr says which step), 2 on a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS           4096     /* plan steps: far more than a test writes */
#define MAX_RECORDS         10000000 /* records over the whole plan: a bound on the allocation */
#define TXN_TIMEOUT_MS      30000    /* init/commit/abort with their retries, a flush: > a cold coordinator */
#define METADATA_TIMEOUT_MS 10000    /* the broker answers in milliseconds when it is up */
#define VALUE_MAX           64       /* "tx<step>-<kind>-<record>" with two 10-digit numbers fits */

typedef struct {
    char kind; /* 'c', 'a', 'n' or 'o' */
    long count;
} step_t;

typedef struct {
    char value[VALUE_MAX];
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int reported; /* the delivery report came */
} record_t;

static const char *topic, *key_prefix;
static int32_t partition = RD_KAFKA_PARTITION_UA;
static long n_keys;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kafka_tx: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* A whole decimal number in [min, max], or the usage message. */
static long number(const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "kafka_tx: bad number \"%s\"\n", s);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: kafka_tx -b BOOTSTRAP -t TOPIC [-p PARTITION] [-k KEYPREFIX [-K NKEYS]] [-x TXID]\n"
                    "                [-X PROP=VALUE ...] PLAN\n"
                    "       PLAN: comma-separated steps cN (commit N records), aN (abort), nN (no transaction),\n"
                    "             oN (left open; last step only), e.g. c5,a3,n2,c2,a1,c4\n");
    exit(2);
}

/* Parses PLAN into steps; returns the number of steps, or -1 with a message on stderr. */
static int parse_plan(const char *plan, step_t *steps, long *total)
{
    int n = 0;
    const char *p = plan;
    *total = 0;
    for (;;) {
        if (n == MAX_STEPS || strchr("cano", *p) == NULL || *p == '\0') {
            fprintf(stderr, "kafka_tx: bad plan step at \"%s\" (want c, a, n or o and a count)\n", p);
            return -1;
        }
        char *end;
        errno = 0;
        long count = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno != 0 || count < 0 || count > MAX_RECORDS - *total || (*end != ',' && *end)) {
            fprintf(stderr, "kafka_tx: bad record count in plan step \"%s\"\n", p);
            return -1;
        }
        steps[n].kind = *p;
        steps[n].count = count;
        *total += count;
        n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    for (int i = 0; i + 1 < n; i++) {
        if (steps[i].kind == 'o') {
            fprintf(stderr, "kafka_tx: an open transaction (o) can only be the last step\n");
            return -1;
        }
    }
    return n;
}

/* Runs on the thread that serves the producer's queue (rd_kafka_flush, rd_kafka_poll): records
 * where Kafka put the record, or why it did not. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *conf_opaque)
{
    (void)rk;
    (void)conf_opaque;
    record_t *r = m->_private;
    r->partition = m->partition;
    r->offset = m->offset;
    r->err = m->err;
    r->reported = 1;
}

static rd_kafka_t *new_producer(const char *bootstrap, const char *txid, char **props, int n_props)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* acks=all and idempotence: the transactional producer requires both; the plain one gets them
     * too, so its records cannot be duplicated or reordered by a retry. */
    const char *base[][2] = {
        {"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"acks", "all"}, {"transactional.id", txid}};
    int n_base = txid != NULL ? 4 : 3;
    for (int i = 0; i < n_base; i++) {
        if (rd_kafka_conf_set(conf, base[i][0], base[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            die("%s", err);
    }
    for (int i = 0; i < n_props; i++) {
        char *eq = strchr(props[i], '=');
        if (eq == NULL)
            die("-X %s: want PROP=VALUE", props[i]);
        *eq = '\0';
        rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, props[i], eq + 1, err, sizeof(err));
        *eq = '=';
        if (res != RD_KAFKA_CONF_OK)
            die("-X %s: %s", props[i], err);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL)
        die("cannot create a producer: %s", err);
    return rk;
}

/* Fails at once, and says why, when the broker cannot be reached or has no such topic or
 * partition (it creates no topic): producing would only time out. */
static void check_topic(rd_kafka_t *rk, const char *bootstrap)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("no metadata from %s: %s", bootstrap, rd_kafka_err2str(err));
    int parts = 0;
    err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (md->topic_cnt == 1) {
        err = md->topics[0].err;
        parts = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("topic %s: %s", topic, rd_kafka_err2str(err));
    if (partition >= parts)
        die("topic %s has %d partition(s): there is no partition %" PRId32, topic, parts, partition);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* init_transactions, commit_transaction and abort_transaction share this signature. */
typedef rd_kafka_error_t *(*txn_fn_t)(rd_kafka_t *rk, int timeout_ms);

/* Runs a transactional call until it succeeds; ends the tool when it fails for good or after
 * TXN_TIMEOUT_MS in all. A retriable error (a coordinator still loading, a timeout) asks for the
 * same call again, which resumes the operation in progress. */
static void txn_call(rd_kafka_t *rk, txn_fn_t fn, const char *what, int step)
{
    int64_t deadline = now_ms() + TXN_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        rd_kafka_error_t *e = fn(rk, left > 0 ? (int)left : 0);
        if (e == NULL)
            return;
        int again = rd_kafka_error_is_retriable(e) && now_ms() < deadline;
        fprintf(stderr, "kafka_tx: step %d (0: before the plan): %s: %s%s%s\n", step, what, rd_kafka_error_string(e),
                rd_kafka_error_is_fatal(e) ? " (fatal)" : "", again ? "; retrying" : "");
        rd_kafka_error_destroy(e);
        if (!again)
            exit(1);
        usleep(100 * 1000); /* a retriable error can come back at once: do not spin */
    }
}

static void produce(rd_kafka_t *rk, record_t *r, long j)
{
    char key[VALUE_MAX];
    size_t key_len = 0;
    if (key_prefix != NULL) {
        int n = snprintf(key, sizeof(key), "%s%ld", key_prefix, n_keys > 0 ? j % n_keys : j);
        if (n < 0 || (size_t)n >= sizeof(key))
            die("-k %s: key prefix too long", key_prefix);
        key_len = (size_t)n;
    }
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_VALUE(r->value, strlen(r->value)),
            RD_KAFKA_V_KEY(key_prefix != NULL ? key : NULL, key_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("producing %s: %s", r->value, rd_kafka_err2str(err));
        rd_kafka_poll(rk, 100); /* the local queue is full: let deliveries drain it */
    }
}

/* Waits for every delivery report of the step's records and checks them. */
static void flush_step(rd_kafka_t *rk, record_t *r, long count, int step)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, TXN_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("step %d: flush: %s", step, rd_kafka_err2str(err));
    for (long i = 0; i < count; i++) {
        if (!r[i].reported)
            die("step %d: no delivery report for %s", step, r[i].value);
        if (r[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            die("step %d: %s not delivered: %s", step, r[i].value, rd_kafka_err2str(r[i].err));
    }
}

static void print_step(const record_t *r, long count, char kind)
{
    for (long i = 0; i < count; i++)
        printf("%c %" PRId32 " %" PRId64 " %s\n", kind, r[i].partition, r[i].offset, r[i].value);
    if (fflush(stdout) != 0)
        die("writing stdout: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    const char *bootstrap = NULL, *txid = NULL;
    char *props[64];
    int n_props = 0, opt;
    while ((opt = getopt(argc, argv, "b:t:p:k:K:x:X:h")) != -1) {
        switch (opt) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            partition = (int32_t)number(optarg, 0, INT32_MAX);
            break;
        case 'k':
            key_prefix = optarg;
            break;
        case 'K':
            n_keys = number(optarg, 1, MAX_RECORDS);
            break;
        case 'x':
            txid = optarg;
            break;
        case 'X':
            if (n_props == (int)(sizeof(props) / sizeof(props[0])))
                die("too many -X options");
            props[n_props++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (bootstrap == NULL || topic == NULL || optind != argc - 1 || (n_keys > 0 && key_prefix == NULL))
        usage();
    static step_t steps[MAX_STEPS];
    long total;
    int n_steps = parse_plan(argv[optind], steps, &total);
    if (n_steps < 0)
        usage();
    record_t *recs = calloc((size_t)total + 1, sizeof(*recs));
    if (recs == NULL)
        abort();

    char txid_buf[64];
    if (txid == NULL) {
        snprintf(txid_buf, sizeof(txid_buf), "kafka_tx-%ld", (long)getpid());
        txid = txid_buf;
    }
    rd_kafka_t *tx = new_producer(bootstrap, txid, props, n_props);
    rd_kafka_t *plain = NULL; /* made on the first n step */
    check_topic(tx, bootstrap);
    /* Registers the transactional.id with its coordinator and fences any older producer of it. */
    txn_call(tx, rd_kafka_init_transactions, "init_transactions", 0);

    long j = 0; /* records produced so far */
    for (int s = 0; s < n_steps; s++) {
        int step = s + 1;
        char kind = steps[s].kind;
        record_t *r = recs + j;
        for (long i = 0; i < steps[s].count; i++)
            snprintf(r[i].value, VALUE_MAX, "%s%d-%c-%ld", kind == 'n' ? "nt" : "tx", step, kind, j + i + 1);
        if (kind == 'n') {
            if (plain == NULL)
                plain = new_producer(bootstrap, NULL, props, n_props);
            for (long i = 0; i < steps[s].count; i++)
                produce(plain, &r[i], j + i + 1);
            flush_step(plain, r, steps[s].count, step);
        } else {
            rd_kafka_error_t *e = rd_kafka_begin_transaction(tx);
            if (e != NULL)
                die("step %d: begin_transaction: %s", step, rd_kafka_error_string(e));
            for (long i = 0; i < steps[s].count; i++)
                produce(tx, &r[i], j + i + 1);
            /* Flushed before the end in every case: an abort would otherwise purge records still
             * queued here, and the point of an aborted step is records that are in the log. */
            flush_step(tx, r, steps[s].count, step);
            if (kind == 'c')
                txn_call(tx, rd_kafka_commit_transaction, "commit_transaction", step);
            else if (kind == 'a')
                txn_call(tx, rd_kafka_abort_transaction, "abort_transaction", step);
        }
        print_step(r, steps[s].count, kind);
        j += steps[s].count;
    }
    if (plain != NULL)
        rd_kafka_destroy(plain);
    rd_kafka_destroy(tx);
    free(recs);
    return 0;
}

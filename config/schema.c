/*
 * The one table of configuration keys. The loader (config.c), the example config and the README's
 * reference (confdoc.c) are all generated from these rows, so a key is added, changed or
 * documented here and nowhere else; `make docs` then refreshes the committed copies.
 *
 * Rules the loader and rc-confdoc rely on: a row comes after its parent (the MAP or LIST row
 * named by its key without the last component) and rows of one list item come together; item
 * rows are relative to the item struct. Defaults are YAML text parsed by the same code as user
 * input, so a default can never be something a user could not write.
 */
#include "config.h"
#include "eventid.h"
#include "ring.h"
#include "sse.h"
#include "wake.h"

#include <grp.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

/*
 * The limits below are the ring's and the event ids' own constants, so that a config --check
 * accepts is one the bridge can open. Where a reason spells a number out, a static assertion
 * keeps the text equal to the constant.
 */

/* Stream names are ring file names: the ring's own rule (rc_ring_name_ok) decides. */
#define NAME_MAX_LEN (RC_RING_NAME_MAX - 1)
_Static_assert(NAME_MAX_LEN == 63, "check_stream_name's reason and the streams[].name doc say 63");
/* Kafka's own limit on topic names; the ring's topic table has room for the longest. */
#define TOPIC_MAX_LEN 249
_Static_assert(TOPIC_MAX_LEN < RC_RING_TOPIC_MAX, "a Kafka topic name fits the ring's topic table");
/* Topics of one stream: the ring's topic table and the cut an event id encodes hold as many. */
_Static_assert(RC_RING_MAX_TOPICS == RC_CUT_MAX_TOPICS, "a stream's topics fit the ring and the event id alike");
/* Partitions of one stream: an event id names at most RC_CUT_MAX_LANES, and a record's lane is 16 bits. */
_Static_assert(RC_CUT_MAX_LANES <= UINT16_MAX, "ring.max_partitions fits a record's lane");
/* The bridge listens on <ring.dir>/bridge.sock (bridge.c; edges connect to it, worker.c), a unix
 * socket path: the directory leaves room for the file name and the NUL in sun_path. */
#define BRIDGE_SOCK  "/" RC_WAKE_SOCK_NAME
#define RING_DIR_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - sizeof(BRIDGE_SOCK))
_Static_assert(RING_DIR_MAX == 95, "check_ring_dir's reason says 95");
/* An event type a client can select (bounds.h); edge/query.h's ?event= values hold as long a one. */
#define EVENT_TYPE_MAX RC_EVENT_TYPE_MAX

#define MiB    (INT64_C(1) << 20)
#define GiB    (INT64_C(1) << 30)
#define TiB    (INT64_C(1) << 40)
#define SECOND INT64_C(1000)
#define HOUR   (3600 * SECOND)

/* ring.size: its least is above the smallest ring the ring accepts; its most, 1TiB, is the ring's
 * own limit (a power of two, so rounding up never passes it). */
_Static_assert(MiB >= RC_RING_MIN_CAPACITY, "ring.size's minimum is a valid ring capacity");

/* Where a field is: in rc_config_t, in a stream item or in a listener item. */
#define FIELD(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define CONF(member)        FIELD(rc_config_t, member)
#define STREAM(member)      FIELD(rc_stream_conf_t, member)
#define LISTEN(member)      FIELD(rc_listen_conf_t, member)

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

static bool is_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i]))
            return false;
    return true;
}

static bool is_decimal(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static const char *check_nonempty(const char *s)
{
    return *s != '\0' ? NULL : "must not be empty";
}

/* The bridge gives ring.dir, the rings and its socket this group (chown), so it must exist here. */
static const char *check_group(const char *s)
{
    if (*s == '\0' || getgrnam(s) != NULL)
        return NULL;
    return "must name a group of this host";
}

static const char *check_ring_dir(const char *s)
{
    if (*s == '\0')
        return "must not be empty";
    if (strlen(s) > RING_DIR_MAX)
        return "must be at most 95 bytes long, so that <ring.dir>/bridge.sock fits a unix socket address";
    return NULL;
}

/* The ring's rule (see NAME_MAX_LEN); its own temporary files are the ones that start with a dot. */
static const char *check_stream_name(const char *s)
{
    if (rc_ring_name_ok(s))
        return NULL;
    return "must be 1-63 characters of A-Z a-z 0-9 _ . - not starting with a dot";
}

/* Kafka's rule (its Topic.validate): legal characters, at most 249 of them, and not "." or "..". */
static const char *check_topic(const char *s)
{
    if (is_name(s, TOPIC_MAX_LEN) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0)
        return NULL;
    return "must be a Kafka topic name: 1-249 characters of A-Z a-z 0-9 _ . - other than . and ..";
}

/* What the bridge can put after "event: " and a client can ask for with ?event=. */
static const char *check_event_type(const char *s)
{
    size_t n = strlen(s);
    if (n >= 1 && n <= EVENT_TYPE_MAX && rc_sse_event_ok(s, n))
        return NULL;
    return "must be an SSE event type: 1-256 bytes of UTF-8 without CR or LF";
}

/* The ring rounds index_slots up to a power of two and needs at least 2 of them; 0 is its
 * automatic choice, and 1 would round to 1. */
static const char *check_index_slots(int64_t v)
{
    return v == 1 ? "must be 0 (automatic) or at least 2" : NULL;
}

static const char *check_initial(const char *s)
{
    /* 19 digits always fit in a uint64_t, so the bridge's strtoull cannot overflow. */
    size_t n = strlen(s);
    if (strcmp(s, "latest") == 0 || strcmp(s, "earliest") == 0 || (is_decimal(s, n) && n <= 19))
        return NULL;
    return "must be latest, earliest or a record count";
}

/* Each element must be host:port with a port in 1..65535; the host is split at the last colon so
 * that [::1]:9092 works. librdkafka would accept more, but only after a confusing delay. */
static const char *check_brokers(const char *s)
{
    static const char reason[] = "must be \"mock\" or host:port[,host:port...]";
    if (strcmp(s, "mock") == 0)
        return NULL;
    for (;;) {
        size_t n = strcspn(s, ",");
        const char *colon = NULL;
        for (const char *p = s; p < s + n; p++) {
            if (*p == ':')
                colon = p;
            else if ((unsigned char)*p <= ' ')
                return reason;
        }
        if (colon == NULL || colon == s)
            return reason;
        const char *port = colon + 1;
        size_t port_len = (size_t)(s + n - port);
        if (!is_decimal(port, port_len) || port_len > 5)
            return reason;
        long v = 0;
        for (size_t i = 0; i < port_len; i++)
            v = v * 10 + (port[i] - '0');
        if (v < 1 || v > 65535)
            return reason;
        if (s[n] == '\0')
            return NULL;
        s += n + 1;
    }
}

/* An origin is scheme://host[:port] without a path, as browsers send it in Origin, or "*". */
static const char *check_origin(const char *s)
{
    static const char reason[] = "must be \"*\" or scheme://host[:port] without a path (https://app.example.com)";
    if (strcmp(s, "*") == 0)
        return NULL;
    const char *p = strstr(s, "://");
    if (p == NULL || p == s || p[3] == '\0' || strchr(p + 3, '/') != NULL)
        return reason;
    for (const char *q = s; *q != '\0'; q++)
        if ((unsigned char)*q <= ' ' || *q == ',')
            return reason;
    return NULL;
}

/* The order of the words is the order of the enum values in config.h. */
static const char *const start_words[] = {"live", "oldest", NULL};
static const char *const format_words[] = {"raw", "json", NULL};
static const char *const auth_words[] = {"off", "required", NULL};
/* The words rc_log_parse_level() knows. */
static const char *const level_words[] = {"error", "warn", "info", "debug", NULL};

const rc_conf_key_t rc_config_schema[] = {
    {.key = "kafka", .type = RC_CONF_MAP, .doc = "Where the records come from."},
    {.key = "kafka.brokers",
     .type = RC_CONF_STRING,
     CONF(kafka.brokers),
     .def = "mock",
     .check = check_brokers,
     .doc = "`mock` starts librdkafka's mock cluster inside the bridge (its bootstrap list is written to "
            "`<ring.dir>/kafka-bootstrap`); anything else is the host:port list of a real cluster."},
    {.key = "kafka.properties",
     .type = RC_CONF_STRING_MAP,
     CONF(kafka.properties),
     .count_offset = offsetof(rc_config_t, kafka.n_properties),
     .def = "{}",
     .doc = "librdkafka properties passed on as they are (`security.protocol`, `sasl.*`, `ssl.*` ...); "
            "values are strings."},

    {.key = "ring", .type = RC_CONF_MAP, .doc = "The shared-memory rings, one file per stream."},
    {.key = "ring.dir",
     .type = RC_CONF_STRING,
     CONF(ring.dir),
     .def = "/dev/shm/ringcast",
     .check = check_ring_dir,
     .doc = "Directory of the ring files; on a tmpfs they stay in memory and outlive bridge restarts. At most "
            "95 bytes: the bridge's unix socket `<ring.dir>/bridge.sock` lives there too."},
    {.key = "ring.group",
     .type = RC_CONF_STRING,
     CONF(ring.group),
     .def = "\"\"",
     .check = check_group,
     .doc = "Group that may read the streams: the bridge gives it `ring.dir` (mode 0750), the ring files (0640) "
            "and `bridge.sock` (0660); nobody else but root can read them. Run the edges as members of it. \"\" "
            "keeps the bridge's own group."},
    {.key = "ring.size",
     .type = RC_CONF_SIZE,
     CONF(ring.size),
     .def = "64MiB",
     .min = MiB,
     .max = TiB,
     .doc = "Bytes of history kept per stream; the ring rounds it up to a power of two."},
    {.key = "ring.index_slots",
     .type = RC_CONF_INT,
     CONF(ring.index_slots),
     .def = "0",
     .min = 0,
     .max = INT64_C(1) << 30, /* the ring's own limit */
     .check_int = check_index_slots,
     .doc = "Entries of the index that finds a record by sequence number; 0 picks `ring.size` / 128, else at "
            "least 2. It is rounded up to a power of two and bounds how many records a ring keeps."},
    {.key = "ring.max_partitions",
     .type = RC_CONF_INT,
     CONF(ring.max_partitions),
     .def = "256",
     .min = 1,
     .max = RC_CUT_MAX_LANES, /* an event id names every partition of its stream */
     .doc = "Most Kafka partitions one stream can read, all its topics together (at most 256: an event "
            "id names the position in every one of them)."},

    {.key = "streams",
     .type = RC_CONF_LIST,
     CONF(streams),
     .count_offset = offsetof(rc_config_t, n_streams),
     .item_size = sizeof(rc_stream_conf_t),
     .line_offset = offsetof(rc_stream_conf_t, line),
     .required = true,
     .min = 1,
     .doc = "The streams served, each at `/streams/<name>`."},
    {.key = "streams[].name",
     .type = RC_CONF_STRING,
     STREAM(name),
     .required = true,
     .example = "demo",
     .check = check_stream_name,
     .doc = "Name in URLs and ring file names: 1-63 characters of A-Z a-z 0-9 _ . - not starting with a dot, "
            "unique."},
    {.key = "streams[].topics",
     .type = RC_CONF_STRINGS,
     STREAM(topics),
     .count_offset = offsetof(rc_stream_conf_t, n_topics),
     .required = true,
     .min = 1,
     .max = RC_RING_MAX_TOPICS, /* the ring's topic table; an event id's cut holds as many */
     .unique = true,
     .example = "[demo]",
     .check = check_topic,
     .doc = "Kafka topics merged into this stream, each once."},
    {.key = "streams[].start",
     .type = RC_CONF_ENUM,
     STREAM(start),
     .values = start_words,
     .def = "live",
     .doc = "Where a client without `Last-Event-ID` starts: `live` (new events only) or `oldest` (all the "
            "ring holds)."},
    {.key = "streams[].initial",
     .type = RC_CONF_STRING,
     STREAM(initial),
     .def = "latest",
     .check = check_initial,
     .doc = "Where the bridge starts reading Kafka when it creates the ring: `latest`, `earliest`, or a "
            "number of records back from the end of each partition. Only the partitions Kafka has then; "
            "partitions found later start at their earliest offset."},
    {.key = "streams[].event_header",
     .type = RC_CONF_STRING,
     STREAM(event_header),
     .def = "event",
     .doc = "Kafka header whose value becomes the SSE `event:` field; \"\" for none."},
    {.key = "streams[].publish",
     .type = RC_CONF_BOOL,
     STREAM(publish),
     .def = "false",
     .example = "true",
     .doc = "Allow `POST /streams/<name>` to publish events into Kafka."},
    {.key = "streams[].partitions",
     .type = RC_CONF_INT,
     STREAM(partitions),
     .def = "1",
     .example = "3",
     .min = 1,
     .max = RC_CUT_MAX_LANES,
     .doc = "Partitions of each topic the mock cluster creates; only used with `kafka.brokers: mock`. A topic "
            "of several streams gets the largest of their values, and a stream's topics together may have at "
            "most `ring.max_partitions`."},
    {.key = "streams[].format",
     .type = RC_CONF_ENUM,
     STREAM(format),
     .values = format_words,
     .def = "raw",
     .doc = "SSE data: `raw` is the Kafka value (a value that is not UTF-8 is skipped and counted), `json` "
            "an envelope with topic, partition, offset, key, timestamp and value."},
    {.key = "streams[].tombstone_event",
     .type = RC_CONF_STRING,
     STREAM(tombstone_event),
     .def = "tombstone",
     .check = check_event_type,
     .doc = "Event type of a tombstone (a record with a null value) in `format: raw`; its data is the record's "
            "key."},
    {.key = "streams[].max_publish_bytes",
     .type = RC_CONF_SIZE,
     STREAM(max_publish_bytes),
     .def = "64KiB",
     .min = 1,
     .max = GiB,
     .doc = "Largest body a POST may have; a larger one gets 413."},
    {.key = "streams[].auth",
     .type = RC_CONF_ENUM,
     STREAM(auth),
     .values = auth_words,
     .def = "off",
     .doc = "`required`: reading and publishing need a valid JWT (see `edge.auth`) whose claims allow this "
            "stream; `off`: open to anyone."},

    {.key = "edge", .type = RC_CONF_MAP, .doc = "The HTTP servers (`ringcast-edge`)."},
    {.key = "edge.listen",
     .type = RC_CONF_LIST,
     CONF(edge.listen),
     .count_offset = offsetof(rc_config_t, edge.n_listen),
     .item_size = sizeof(rc_listen_conf_t),
     .line_offset = offsetof(rc_listen_conf_t, line),
     .def = "[{address: 127.0.0.1, port: 8080}]",
     .min = 1,
     .doc = "Addresses served; every worker accepts on all of them."},
    {.key = "edge.listen[].address",
     .type = RC_CONF_STRING,
     LISTEN(address),
     .def = "127.0.0.1",
     .check = check_nonempty,
     .doc = "IP address to bind; `0.0.0.0` or `::` for every interface."},
    {.key = "edge.listen[].port",
     .type = RC_CONF_INT,
     LISTEN(port),
     .required = true,
     .example = "8080",
     .min = 1,
     .max = 65535,
     .doc = "TCP port."},
    {.key = "edge.listen[].admin",
     .type = RC_CONF_BOOL,
     LISTEN(admin),
     .def = "false",
     .doc = "Serve the operator's view here: `/streams`, `/metrics` and `/healthz` name every stream. Elsewhere "
            "they leave out the streams with `auth: required` (their names, topics and traffic). Mark an "
            "internal listener (loopback, or a port only the monitoring reaches)."},
    {.key = "edge.listen[].tls",
     .type = RC_CONF_MAP,
     .doc = "TLS for this port, with HTTP/2 and HTTP/1.1 by ALPN; without it the port serves HTTP/1.1 and h2c. "
            "Give both cert and key."},
    {.key = "edge.listen[].tls.cert",
     .type = RC_CONF_STRING,
     LISTEN(tls_cert),
     .example = "/etc/ringcast/cert.pem",
     .check = check_nonempty,
     .doc = "PEM file with the certificate chain."},
    {.key = "edge.listen[].tls.key",
     .type = RC_CONF_STRING,
     LISTEN(tls_key),
     .example = "/etc/ringcast/key.pem",
     .check = check_nonempty,
     .doc = "PEM file with the private key."},
    {.key = "edge.workers",
     .type = RC_CONF_INT,
     CONF(edge.workers),
     .def = "2",
     .min = 1,
     .max = 64,
     .doc = "Worker processes; a crashed worker is restarted."},
    {.key = "edge.heartbeat",
     .type = RC_CONF_DURATION,
     CONF(edge.heartbeat_ms),
     .def = "15s",
     .min = 100,
     .max = HOUR,
     .doc = "Idle time after which a stream gets a comment line, so that proxies keep it open."},
    {.key = "edge.retry",
     .type = RC_CONF_DURATION,
     CONF(edge.retry_ms),
     .def = "2s",
     .min = 100,
     .max = HOUR,
     .doc = "Reconnection delay suggested to browsers in the SSE `retry:` field."},
    {.key = "edge.publish_timeout",
     .type = RC_CONF_DURATION,
     CONF(edge.publish_timeout_ms),
     .def = "10s",
     .min = 100,
     .max = 5 * 60 * 1000,
     .doc = "How long a POST waits for Kafka to acknowledge the event (acks=all) before it answers 503."},
    {.key = "edge.send_timeout",
     .type = RC_CONF_DURATION,
     CONF(edge.send_timeout_ms),
     .def = "60s",
     .min = 1000,
     .max = HOUR,
     .doc = "A stream whose client takes no byte of what it was sent for this long (a stalled reader, an "
            "HTTP/2 stream stuck on flow control) is closed and counted; heartbeats do not keep it open."},
    {.key = "edge.static_dir",
     .type = RC_CONF_STRING,
     CONF(edge.static_dir),
     .def = "\"\"",
     .doc = "Directory of the files served at `/` (the demo page); \"\" for none. Nothing outside it is "
            "ever served."},

    {.key = "edge.auth",
     .type = RC_CONF_MAP,
     .doc = "How tokens are checked on streams with `auth: required`: JWTs signed with HS256 or RS256, taken from "
            "`Authorization: Bearer`, `?access_token=` or a cookie."},
    {.key = "edge.auth.hs256_secret_file",
     .type = RC_CONF_STRING,
     CONF(edge.auth.hs256_secret_file),
     .def = "\"\"",
     .doc = "File holding the HMAC secret of HS256 tokens (at least 32 bytes; one final newline is ignored); "
            "\"\" refuses HS256 tokens."},
    {.key = "edge.auth.rs256_public_key",
     .type = RC_CONF_STRING,
     CONF(edge.auth.rs256_public_key),
     .def = "\"\"",
     .doc = "PEM file with the RSA public key of RS256 tokens; \"\" refuses RS256 tokens. A token is only ever "
            "checked with the key of its own algorithm."},
    {.key = "edge.auth.cookie",
     .type = RC_CONF_STRING,
     CONF(edge.auth.cookie),
     .def = "ringcast_token",
     .check = check_nonempty,
     .doc = "Name of the cookie that may carry the token (for pages on the same site)."},
    {.key = "edge.auth.issuer",
     .type = RC_CONF_STRING,
     CONF(edge.auth.issuer),
     .def = "\"\"",
     .doc = "Required `iss` claim; \"\" does not check it."},
    {.key = "edge.auth.audience",
     .type = RC_CONF_STRING,
     CONF(edge.auth.audience),
     .def = "\"\"",
     .doc = "Required `aud` claim (a string, or one entry of a list); \"\" does not check it."},
    {.key = "edge.auth.leeway",
     .type = RC_CONF_DURATION,
     CONF(edge.auth.leeway_ms),
     .def = "30s",
     .min = 0,
     .max = HOUR,
     .doc = "Clock skew allowed when checking `exp` and `nbf`."},
    {.key = "edge.cors",
     .type = RC_CONF_MAP,
     .doc = "Cross-origin access for pages served from other origins (EventSource and fetch)."},
    {.key = "edge.cors.origins",
     .type = RC_CONF_STRINGS,
     CONF(edge.cors.origins),
     .count_offset = offsetof(rc_config_t, edge.cors.n_origins),
     .def = "[]",
     .example = "[\"https://app.example.com\"]",
     .check = check_origin,
     .doc = "Origins allowed to read and publish (`https://app.example.com`, exactly as browsers send them) or "
            "`*` for any; an empty list sends no CORS headers."},
    {.key = "edge.cors.credentials",
     .type = RC_CONF_BOOL,
     CONF(edge.cors.credentials),
     .def = "false",
     .doc = "Send `Access-Control-Allow-Credentials: true`, so that pages may send cookies "
            "(`withCredentials`)."},
    {.key = "edge.cors.max_age",
     .type = RC_CONF_DURATION,
     CONF(edge.cors.max_age_ms),
     .def = "10m",
     .min = 0,
     .max = 24 * HOUR,
     .doc = "How long browsers may cache a preflight answer (`Access-Control-Max-Age`, whole seconds)."},
    {.key = "edge.limits",
     .type = RC_CONF_MAP,
     .doc = "Limits per client IP address, shared by all workers (an IPv6 client counts by its /64 prefix)."},
    {.key = "edge.limits.streams_per_ip",
     .type = RC_CONF_INT,
     CONF(edge.limits.streams_per_ip),
     .def = "0",
     .example = "200",
     .min = 0,
     .max = 1000000,
     .doc = "Most event streams one address may have open; past it GET answers 429. 0: no limit."},
    {.key = "edge.limits.publish_per_minute",
     .type = RC_CONF_INT,
     CONF(edge.limits.publish_per_minute),
     .def = "0",
     .example = "120",
     .min = 0,
     .max = 60000000,
     .doc = "POSTs one address may make per minute on average (a token bucket); past it POST answers 429 "
            "with Retry-After. 0: no limit."},
    {.key = "edge.limits.publish_burst",
     .type = RC_CONF_INT,
     CONF(edge.limits.publish_burst),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .doc = "POSTs one address may make at once before `publish_per_minute` paces it (the bucket's size)."},
    {.key = "edge.limits.ip_table_size",
     .type = RC_CONF_INT,
     CONF(edge.limits.ip_table_size),
     .def = "65536",
     .min = 1024,
     .max = INT64_C(1) << 22,
     .doc = "Addresses the shared table can track at once (rounded up to a power of two); an address that "
            "finds no room is served without limits and counted in /metrics."},

    {.key = "log", .type = RC_CONF_MAP, .doc = "Logging, one line per message on stderr."},
    {.key = "log.level",
     .type = RC_CONF_STRING,
     CONF(log.level),
     .values = level_words,
     .def = "info",
     .doc = "Lowest level logged."},
};

const size_t rc_config_schema_len = sizeof(rc_config_schema) / sizeof(rc_config_schema[0]);

/*
 * The ringcast configuration: one YAML file read by the bridge and the edges.
 *
 * Every key is one row of a single schema table (config/schema.c) that holds its type, default,
 * range and documentation. The same table drives the loader (config/config.c), the documented
 * example config and the README's key reference (config/confdoc.c, `rc-confdoc`), so the three
 * cannot drift apart: scripts/check-docs.sh fails when the committed copies differ.
 *
 * Value syntax, shared with query strings through rc_parse_size() and rc_parse_duration_ms():
 *   size      a whole number with a binary unit: 512KiB, 64MiB, 1GiB, 1TiB; B or no unit is bytes.
 *             Decimal units (MB) and fractions are rejected: 64MB vs 64MiB is a 5% surprise.
 *   duration  a whole number with a unit: 500ms, 15s, 2m, 1h. A bare number is rejected because
 *             nobody can tell whether "15" means seconds or milliseconds.
 *   bool      true/false, yes/no or on/off, in any case (what YAML 1.1 calls booleans).
 *   integer   decimal, range-checked per key.
 * YAML tags are ignored (the key decides the type); anchors are allowed, aliases are rejected.
 */
#ifndef RC_CONFIG_H
#define RC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key, *value;
} rc_kv_t;

typedef enum { RC_START_LIVE, RC_START_OLDEST } rc_start_t; /* same order as the words in schema.c */
typedef enum { RC_FORMAT_RAW, RC_FORMAT_JSON } rc_format_t;
typedef enum { RC_AUTH_OFF, RC_AUTH_REQUIRED } rc_auth_mode_t;

typedef struct {
    char *name;
    int line; /* of the list item, for messages of later cross-checks */
    char **topics;
    size_t n_topics;
    rc_start_t start;           /* where a new client without Last-Event-ID starts */
    char *initial;              /* where the bridge starts on a new ring: "latest", "earliest" or a record count */
    char *event_header;         /* Kafka header whose value becomes `event:`; "" for none */
    bool publish;               /* POST allowed */
    int64_t partitions;         /* per topic, only used with kafka.brokers: mock */
    rc_format_t format;         /* SSE data: the raw value or a JSON envelope */
    char *tombstone_event;      /* event type of a record with a null value in format: raw (data: its key) */
    uint64_t max_publish_bytes; /* largest POST body */
    rc_auth_mode_t auth;        /* required: every GET and POST needs a valid token (edge.auth) */
} rc_stream_conf_t;

typedef struct {
    char *address;
    int64_t port;
    char *tls_cert, *tls_key; /* both NULL (plain HTTP/1.1 and h2c) or both set */
    bool admin;               /* /streams, /metrics and /healthz name streams with auth: required here */
    int line;                 /* of the list item */
} rc_listen_conf_t;

typedef struct {
    char *path; /* the file loaded, or the name given to rc_config_load_string() */
    struct {
        char *brokers; /* "mock" or host:port[,host:port...] */
        rc_kv_t *properties;
        size_t n_properties;
    } kafka;
    struct {
        char *dir;
        char *group;          /* group of ring.dir, its rings and bridge.sock; "" for the bridge's own */
        uint64_t size;        /* bytes, >= 1MiB; the ring rounds it up to a power of two */
        uint64_t index_slots; /* 0: automatic (size / 128) */
        uint32_t max_partitions;
    } ring;
    rc_stream_conf_t *streams; /* at least one, names unique */
    size_t n_streams;
    struct {
        rc_listen_conf_t *listen; /* at least one */
        size_t n_listen;
        int64_t workers;
        uint64_t heartbeat_ms;
        uint64_t retry_ms;
        uint64_t publish_timeout_ms;
        uint64_t send_timeout_ms; /* a stream that takes no byte for this long is closed */
        char *static_dir;         /* "" for no static files */
        struct {
            char *hs256_secret_file; /* "" for none: HS256 tokens are refused */
            char *rs256_public_key;  /* PEM file; "" for none: RS256 tokens are refused */
            char *cookie;            /* cookie that may carry the token */
            char *issuer, *audience; /* "" for not checked */
            uint64_t leeway_ms;      /* clock skew allowed on exp and nbf */
        } auth;
        struct {
            char **origins; /* allowed Origin values; none: no CORS headers at all */
            size_t n_origins;
            bool credentials;
            uint64_t max_age_ms;
        } cors;
        struct {
            int64_t streams_per_ip;     /* 0: no limit */
            int64_t publish_per_minute; /* 0: no limit */
            int64_t publish_burst;
            int64_t ip_table_size; /* slots of the shared per-IP table */
        } limits;
    } edge;
    struct {
        char *level; /* error, warn, info or debug: see rc_log_parse_level() */
    } log;
} rc_config_t;

/* A list of error messages, each one line "file:line: key: reason" without a newline. Start from
 * `rc_errors_t errs = {0};`; the list owns the messages. */
typedef struct st_rc_errors_t {
    char **msgs;
    size_t n;
    size_t _cap;
} rc_errors_t;

/* Frees every message and leaves an empty list that can be used again. */
void rc_errors_free(rc_errors_t *errs);

/*
 * Loads and validates the YAML file at path. Returns a config the caller frees with
 * rc_config_free(), or NULL when anything is wrong; then every problem found has been appended to
 * errs (all of them, not only the first).
 */
rc_config_t *rc_config_load(const char *path, rc_errors_t *errs);
/* The same for YAML text in memory (need not be NUL-terminated); name stands for the file name. */
rc_config_t *rc_config_load_string(const char *name, const char *yaml, size_t len, rc_errors_t *errs);
/* Frees c and everything it points to; NULL is fine. */
void rc_config_free(rc_config_t *c);
/* The stream called name, or NULL. The pointer lives as long as c. */
const rc_stream_conf_t *rc_config_stream(const rc_config_t *c, const char *name);

/*
 * The command line every ringcast daemon takes: `-c FILE`, `--check`, `--help`. Loads the config
 * and prints every error on stderr; the log level is set from log.level. Returns -1 with *out set
 * when the program should run; otherwise the exit status to return at once: 0 after --help or a
 * good --check, 1 for a bad config, 2 for bad arguments. about says what the program does (for
 * --help, between the usage line and the options).
 */
int rc_config_cli(int argc, char **argv, const char *prog, const char *about, rc_config_t **out);

/* Value parsers shared with other parts (query strings...), syntax above. Return 0, or -1 when s
 * is not a size / duration or does not fit in 64 bits; *out is untouched on error. */
int rc_parse_size(const char *s, uint64_t *out);
int rc_parse_duration_ms(const char *s, uint64_t *out);
/* The shortest exact text for a value, in the syntax the parsers accept ("64MiB", "1500ms"). */
void rc_format_size(uint64_t bytes, char *buf, size_t len);
void rc_format_duration_ms(uint64_t ms, char *buf, size_t len);

/* --- the schema table, for the loader and rc-confdoc ------------------------------------------ */

typedef enum {
    RC_CONF_MAP,        /* a mapping whose keys are the rows below it; no value of its own */
    RC_CONF_STRING,     /* char *; with .values, it must be one of them */
    RC_CONF_ENUM,       /* an enum field set to the index of the word in .values */
    RC_CONF_BOOL,       /* bool */
    RC_CONF_INT,        /* integer in [min, max], stored in a field of .size bytes (signed or not) */
    RC_CONF_SIZE,       /* uint64_t bytes in [min, max] */
    RC_CONF_DURATION,   /* uint64_t milliseconds in [min, max] */
    RC_CONF_STRINGS,    /* list of strings: char ** at .offset, size_t count at .count_offset */
    RC_CONF_STRING_MAP, /* mapping of string to string: rc_kv_t * at .offset, count at .count_offset */
    RC_CONF_LIST,       /* list of mappings: item array at .offset, count at .count_offset */
} rc_conf_type_t;

/* Checks a string value beyond its type: returns NULL, or the reason it is wrong ("must be ..."). */
typedef const char *(*rc_conf_check_t)(const char *value);
/* The same for an integer already within the row's range. */
typedef const char *(*rc_conf_check_int_t)(int64_t value);

typedef struct st_rc_conf_key_t {
    /* Dotted path; "[]" marks the items of a list: "streams[].name". A row follows its parent. */
    const char *key;
    rc_conf_type_t type;
    const char *def;     /* default as YAML text, parsed like user input; NULL: none (field stays 0) */
    const char *example; /* shown in the example config instead of the default */
    const char *doc;     /* one or two sentences for the example config and the README */
    /* Where the value goes: in rc_config_t, or in the item struct of the nearest enclosing list. */
    size_t offset, size;
    size_t count_offset;           /* STRINGS, STRING_MAP, LIST: the size_t item count */
    size_t item_size, line_offset; /* LIST: the item struct and its `int line` field */
    const char *const *values;     /* STRING, ENUM: the allowed words, NULL-terminated */
    int64_t min, max; /* INT, SIZE, DURATION: range; STRINGS, LIST: least and most items (max 0: no limit) */
    bool required;
    bool unique;                   /* STRINGS: an item given twice is an error */
    rc_conf_check_t check;         /* STRING, STRINGS: extra validation of each value */
    rc_conf_check_int_t check_int; /* INT: extra validation of the value */
} rc_conf_key_t;

extern const rc_conf_key_t rc_config_schema[];
extern const size_t rc_config_schema_len;

#endif

/*
 * Unit tests of the config loader (config/config.c) and its schema (config/schema.c): the value
 * parsers, defaults, every key, and every error path with its exact message. Run from the
 * repository root (the example config is loaded by its relative path).
 */
#include "config.h"
#include "eventid.h"
#include "ring.h"
#include "tap.h"
#include "util.h"
#include "wake.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest valid config: the only required key is streams. */
#define MINIMAL "streams: [{name: a, topics: [t]}]\n"

static rc_config_t *load(const char *yaml, rc_errors_t *errs)
{
    return rc_config_load_string("t.yaml", yaml, strlen(yaml), errs);
}

/* Loads yaml, which must load without any error. */
static rc_config_t *load_ok(const char *yaml)
{
    rc_errors_t errs = {0};
    rc_config_t *c = load(yaml, &errs);
    for (size_t i = 0; i < errs.n; i++)
        printf("#   unexpected error: %s\n", errs.msgs[i]);
    CHECK(c != NULL);
    rc_errors_free(&errs);
    return c;
}

/* Checks that the load failed with exactly the messages in want, in this order. */
static void check_errors(int line, rc_config_t *c, rc_errors_t *errs, const char *const *want, size_t n_want)
{
    int failed_before = tap_cur_failed;
    tap_cur_failed = 0;
    CHECK(c == NULL);
    CHECK_EQ_INT(errs->n, n_want);
    for (size_t i = 0; i < errs->n || i < n_want; i++)
        CHECK_EQ_STR(i < errs->n ? errs->msgs[i] : NULL, i < n_want ? want[i] : NULL);
    if (tap_cur_failed)
        printf("#   (checked at line %d)\n", line);
    tap_cur_failed |= failed_before;
    rc_config_free(c);
    rc_errors_free(errs);
}

static void expect_errors(int line, const char *yaml, const char *const *want, size_t n_want)
{
    rc_errors_t errs = {0};
    rc_config_t *c = load(yaml, &errs);
    check_errors(line, c, &errs, want, n_want);
}

#define WANT(...) (const char *const[]){__VA_ARGS__}, RC_ARRAY_SIZE(((const char *const[]){__VA_ARGS__}))
/* EXPECT_ERRORS(yaml, "t.yaml:1: key: reason", ...) */
#define EXPECT_ERRORS(yaml, ...) expect_errors(__LINE__, yaml, WANT(__VA_ARGS__))

/* --- value parsers ----------------------------------------------------------------------------- */

TEST(size_accepts_binary_units_and_bare_bytes)
{
    uint64_t v = 0;
    CHECK(rc_parse_size("64MiB", &v) == 0 && v == 64u << 20);
    CHECK(rc_parse_size("512KiB", &v) == 0 && v == 512u << 10);
    CHECK(rc_parse_size("1GiB", &v) == 0 && v == 1u << 30);
    CHECK(rc_parse_size("2TiB", &v) == 0 && v == UINT64_C(2) << 40);
    CHECK(rc_parse_size("10B", &v) == 0 && v == 10);
    CHECK(rc_parse_size("4096", &v) == 0 && v == 4096);
    CHECK(rc_parse_size("0", &v) == 0 && v == 0);
    CHECK(rc_parse_size("18446744073709551615", &v) == 0 && v == UINT64_MAX);
}

TEST(size_rejects_decimal_units_fractions_signs_and_overflow)
{
    static const char *const bad[] = {"64MB",       "64M", "64k", "64mib", "64 MiB", " 64MiB", "64MiB ",
                                      "1.5MiB",     "-1",  "+1",  "",      "MiB",    "0x10",   "18446744073709551616",
                                      "16777216TiB"};
    uint64_t v = 7;
    for (size_t i = 0; i < RC_ARRAY_SIZE(bad); i++) {
        if (rc_parse_size(bad[i], &v) != -1)
            TAP_FAIL("accepted \"%s\"", bad[i]);
    }
    CHECK_EQ_U64(v, 7);
}

TEST(duration_accepts_ms_s_m_h)
{
    uint64_t v = 0;
    CHECK(rc_parse_duration_ms("500ms", &v) == 0 && v == 500);
    CHECK(rc_parse_duration_ms("15s", &v) == 0 && v == 15000);
    CHECK(rc_parse_duration_ms("2m", &v) == 0 && v == 120000);
    CHECK(rc_parse_duration_ms("1h", &v) == 0 && v == 3600000);
    CHECK(rc_parse_duration_ms("0s", &v) == 0 && v == 0);
}

TEST(duration_rejects_bare_numbers_other_units_and_overflow)
{
    static const char *const bad[] = {
        "15", "0", "", "s", "1d", "1.5s", "15S", "15 s", "-1s", "1h30m", "5124095576030432h"};
    uint64_t v = 7;
    for (size_t i = 0; i < RC_ARRAY_SIZE(bad); i++) {
        if (rc_parse_duration_ms(bad[i], &v) != -1)
            TAP_FAIL("accepted \"%s\"", bad[i]);
    }
    CHECK_EQ_U64(v, 7);
}

TEST(format_picks_the_largest_exact_unit)
{
    char buf[32];
    rc_format_size(64u << 20, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "64MiB");
    rc_format_size((64u << 20) + 1, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "67108865B");
    rc_format_size(0, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "0B");
    rc_format_duration_ms(1500, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "1500ms");
    rc_format_duration_ms(7200000, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "2h");
    rc_format_duration_ms(90000, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "90s");
}

/* --- valid configs ----------------------------------------------------------------------------- */

TEST(minimal_config_gets_every_default)
{
    rc_config_t *c = load_ok(MINIMAL);
    REQUIRE(c != NULL);
    CHECK_EQ_STR(c->path, "t.yaml");
    CHECK_EQ_STR(c->kafka.brokers, "mock");
    CHECK_EQ_U64(c->kafka.n_properties, 0);
    CHECK_EQ_STR(c->ring.dir, "/dev/shm/ringcast");
    CHECK_EQ_STR(c->ring.group, "");
    CHECK_EQ_U64(c->ring.size, 64u << 20);
    CHECK_EQ_U64(c->ring.index_slots, 0);
    CHECK_EQ_U64(c->ring.max_partitions, 256);
    REQUIRE(c->n_streams == 1);
    const rc_stream_conf_t *s = &c->streams[0];
    CHECK_EQ_STR(s->name, "a");
    CHECK_EQ_INT(s->line, 1);
    REQUIRE(s->n_topics == 1);
    CHECK_EQ_STR(s->topics[0], "t");
    CHECK(s->start == RC_START_LIVE);
    CHECK_EQ_STR(s->initial, "latest");
    CHECK_EQ_STR(s->event_header, "event");
    CHECK(!s->publish);
    CHECK_EQ_INT(s->partitions, 1);
    CHECK(s->format == RC_FORMAT_RAW);
    CHECK_EQ_STR(s->tombstone_event, "tombstone");
    CHECK_EQ_U64(s->max_publish_bytes, 64u << 10);
    REQUIRE(c->edge.n_listen == 1);
    CHECK_EQ_STR(c->edge.listen[0].address, "127.0.0.1");
    CHECK_EQ_INT(c->edge.listen[0].port, 8080);
    CHECK(c->edge.listen[0].tls_cert == NULL && c->edge.listen[0].tls_key == NULL);
    CHECK(!c->edge.listen[0].admin);
    CHECK_EQ_INT(c->edge.workers, 2);
    CHECK_EQ_U64(c->edge.heartbeat_ms, 15000);
    CHECK_EQ_U64(c->edge.retry_ms, 2000);
    CHECK_EQ_STR(c->edge.static_dir, "");
    CHECK_EQ_STR(c->log.level, "info");
    rc_config_free(c);
}

TEST(every_key_can_be_set)
{
    rc_config_t *c = load_ok("kafka:\n"
                             "  brokers: k1:9092,[::1]:9093\n"
                             "  properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN, acks: 1}\n"
                             "ring: {dir: /run/rc, size: 1GiB, index_slots: 4096, max_partitions: 64}\n"
                             "streams:\n"
                             "  - name: orders.v2\n"
                             "    topics: [orders, refunds]\n"
                             "    start: oldest\n"
                             "    initial: \"1000\"\n"
                             "    event_header: type\n"
                             "    publish: yes\n"
                             "    partitions: 8\n"
                             "    format: json\n"
                             "    tombstone_event: deleted\n"
                             "    max_publish_bytes: 1MiB\n"
                             "  - {name: b-2, topics: [x], initial: earliest}\n"
                             "edge:\n"
                             "  listen:\n"
                             "    - {address: 0.0.0.0, port: 80}\n"
                             "    - {address: '::', port: 443, tls: {cert: c.pem, key: k.pem}, admin: true}\n"
                             "  workers: 64\n"
                             "  heartbeat: 500ms\n"
                             "  retry: 1m\n"
                             "  static_dir: web\n"
                             "log: {level: debug}\n");
    REQUIRE(c != NULL);
    CHECK_EQ_STR(c->kafka.brokers, "k1:9092,[::1]:9093");
    REQUIRE(c->kafka.n_properties == 3);
    CHECK_EQ_STR(c->kafka.properties[0].key, "security.protocol");
    CHECK_EQ_STR(c->kafka.properties[0].value, "SASL_SSL");
    CHECK_EQ_STR(c->kafka.properties[2].key, "acks");
    CHECK_EQ_STR(c->kafka.properties[2].value, "1");
    CHECK_EQ_STR(c->ring.dir, "/run/rc");
    CHECK_EQ_U64(c->ring.size, 1u << 30);
    CHECK_EQ_U64(c->ring.index_slots, 4096);
    CHECK_EQ_U64(c->ring.max_partitions, 64);
    REQUIRE(c->n_streams == 2);
    const rc_stream_conf_t *s = &c->streams[0];
    CHECK_EQ_STR(s->name, "orders.v2");
    CHECK_EQ_INT(s->line, 6);
    REQUIRE(s->n_topics == 2);
    CHECK_EQ_STR(s->topics[0], "orders");
    CHECK_EQ_STR(s->topics[1], "refunds");
    CHECK(s->start == RC_START_OLDEST);
    CHECK_EQ_STR(s->initial, "1000");
    CHECK_EQ_STR(s->event_header, "type");
    CHECK(s->publish);
    CHECK_EQ_INT(s->partitions, 8);
    CHECK(s->format == RC_FORMAT_JSON);
    CHECK_EQ_STR(s->tombstone_event, "deleted");
    CHECK_EQ_U64(s->max_publish_bytes, 1u << 20);
    CHECK_EQ_STR(c->streams[1].name, "b-2");
    CHECK_EQ_INT(c->streams[1].line, 16);
    CHECK_EQ_STR(c->streams[1].initial, "earliest");
    CHECK(c->streams[1].start == RC_START_LIVE);
    REQUIRE(c->edge.n_listen == 2);
    CHECK_EQ_STR(c->edge.listen[0].address, "0.0.0.0");
    CHECK_EQ_INT(c->edge.listen[0].port, 80);
    CHECK_EQ_INT(c->edge.listen[0].line, 19);
    CHECK_EQ_STR(c->edge.listen[1].address, "::");
    CHECK_EQ_INT(c->edge.listen[1].port, 443);
    CHECK_EQ_STR(c->edge.listen[1].tls_cert, "c.pem");
    CHECK_EQ_STR(c->edge.listen[1].tls_key, "k.pem");
    CHECK(!c->edge.listen[0].admin); /* the default: auth: required streams are named on no listener */
    CHECK(c->edge.listen[1].admin);
    CHECK_EQ_INT(c->edge.workers, 64);
    CHECK_EQ_U64(c->edge.heartbeat_ms, 500);
    CHECK_EQ_U64(c->edge.retry_ms, 60000);
    CHECK_EQ_STR(c->edge.static_dir, "web");
    CHECK_EQ_STR(c->log.level, "debug");
    rc_config_free(c);
}

TEST(example_config_loads_with_the_documented_values)
{
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load("config/ringcast.example.yaml", &errs);
    for (size_t i = 0; i < errs.n; i++)
        printf("#   unexpected error: %s\n", errs.msgs[i]);
    REQUIRE(c != NULL);
    CHECK_EQ_STR(c->path, "config/ringcast.example.yaml");
    CHECK_EQ_STR(c->kafka.brokers, "mock");
    REQUIRE(c->n_streams == 1);
    CHECK_EQ_STR(c->streams[0].name, "demo");
    REQUIRE(c->streams[0].n_topics == 1);
    CHECK_EQ_STR(c->streams[0].topics[0], "demo");
    CHECK(c->streams[0].publish);
    CHECK_EQ_INT(c->streams[0].partitions, 3);
    REQUIRE(c->edge.n_listen == 1);
    CHECK_EQ_STR(c->edge.listen[0].address, "127.0.0.1");
    CHECK_EQ_INT(c->edge.listen[0].port, 8080);
    CHECK(c->edge.listen[0].tls_cert == NULL);
    rc_config_free(c);
    rc_errors_free(&errs);
}

TEST(stream_lookup_by_name)
{
    rc_config_t *c = load_ok("streams: [{name: a, topics: [t]}, {name: b, topics: [u]}]\n");
    REQUIRE(c != NULL);
    CHECK(rc_config_stream(c, "b") == &c->streams[1]);
    CHECK(rc_config_stream(c, "a") == &c->streams[0]);
    CHECK(rc_config_stream(c, "c") == NULL);
    rc_config_free(c);
}

TEST(booleans_accept_true_yes_on_and_their_opposites_in_any_case)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "True", "FALSE", "Yes", "NO"};
    char yaml[128];
    for (size_t i = 0; i < RC_ARRAY_SIZE(words); i++) {
        snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [t], publish: %s}]\n", words[i]);
        rc_config_t *c = load_ok(yaml);
        CHECK(c != NULL && c->streams[0].publish == (i % 2 == 0));
        rc_config_free(c);
    }
}

TEST(quoting_and_tags_do_not_change_how_a_value_is_read)
{
    rc_config_t *c = load_ok(MINIMAL "edge: {workers: \"4\", listen: [{port: !!str 81}], static_dir: !!int 5}\n");
    REQUIRE(c != NULL);
    CHECK_EQ_INT(c->edge.workers, 4);
    CHECK_EQ_INT(c->edge.listen[0].port, 81);
    CHECK_EQ_STR(c->edge.static_dir, "5");
    rc_config_free(c);
}

TEST(anchors_without_aliases_are_fine)
{
    rc_config_t *c = load_ok("streams: &s [{name: a, topics: &t [t]}]\n");
    CHECK(c != NULL);
    rc_config_free(c);
}

TEST(brokers_accept_mock_and_host_port_lists)
{
    static const char *const ok[] = {"mock", "k:9092", "a:1,b.example.com:65535", "[::1]:9092,10.0.0.1:9092"};
    char yaml[128];
    for (size_t i = 0; i < RC_ARRAY_SIZE(ok); i++) {
        snprintf(yaml, sizeof(yaml), MINIMAL "kafka: {brokers: '%s'}\n", ok[i]);
        rc_config_t *c = load_ok(yaml);
        CHECK(c != NULL && strcmp(c->kafka.brokers, ok[i]) == 0);
        rc_config_free(c);
    }
}

TEST(initial_accepts_latest_earliest_and_a_record_count)
{
    static const char *const ok[] = {"latest", "earliest", "0", "1000", "9999999999999999999"};
    char yaml[128];
    for (size_t i = 0; i < RC_ARRAY_SIZE(ok); i++) {
        snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [t], initial: '%s'}]\n", ok[i]);
        rc_config_t *c = load_ok(yaml);
        CHECK(c != NULL && strcmp(c->streams[0].initial, ok[i]) == 0);
        rc_config_free(c);
    }
}

TEST(ring_group_must_name_a_group_of_this_host)
{
    rc_config_t *c = load_ok(MINIMAL "ring: {group: root}\n"); /* gid 0 is on every host */
    CHECK(c != NULL && strcmp(c->ring.group, "root") == 0);
    rc_config_free(c);
    EXPECT_ERRORS(MINIMAL "ring:\n  group: no-such-group-rc\n",
                  "t.yaml:3: ring.group: must name a group of this host (got \"no-such-group-rc\")");
}

TEST(yaml_text_need_not_be_nul_terminated)
{
    static const char text[] = MINIMAL "log: {level: nonsense}\n";
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load_string("t.yaml", text, strlen(MINIMAL), &errs);
    CHECK(c != NULL);
    CHECK_EQ_U64(errs.n, 0);
    rc_config_free(c);
}

/* --- file and syntax errors -------------------------------------------------------------------- */

TEST(missing_file_is_reported_without_a_line)
{
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load("tests/unit/no-such-config.yaml", &errs);
    check_errors(__LINE__, c, &errs, WANT("tests/unit/no-such-config.yaml: cannot open: No such file or directory"));
}

TEST(unreadable_file_is_reported_without_a_line)
{
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load("tests", &errs);
    check_errors(__LINE__, c, &errs, WANT("tests: cannot read: Is a directory"));
}

TEST(empty_file_is_not_a_mapping)
{
    EXPECT_ERRORS("", "t.yaml:1: (root): expected a mapping");
    EXPECT_ERRORS("# only a comment\n\n", "t.yaml:1: (root): expected a mapping");
}

TEST(root_must_be_a_mapping)
{
    EXPECT_ERRORS("\n- a\n", "t.yaml:2: (root): expected a mapping");
    EXPECT_ERRORS("hello\n", "t.yaml:1: (root): expected a mapping");
}

TEST(syntax_error_gives_libyaml_problem_and_line)
{
    EXPECT_ERRORS(
        "streams:\n  - name: a\n   topics: [t]\n",
        "t.yaml:3: (syntax): did not find expected '-' indicator (while parsing a block collection at line 2)");
    EXPECT_ERRORS("a: b: c\n", "t.yaml:1: (syntax): mapping values are not allowed in this context");
}

TEST(invalid_utf8_is_a_syntax_error_at_its_line)
{
    EXPECT_ERRORS(MINIMAL "log: {level: \xc3\x28}\n", "t.yaml:2: (syntax): invalid trailing UTF-8 octet");
}

TEST(only_one_document_is_allowed)
{
    EXPECT_ERRORS(MINIMAL "---\nlog: {level: info}\n", "t.yaml:2: (root): expected a single YAML document");
}

/* --- keys ---------------------------------------------------------------------------------------- */

TEST(unknown_key_is_an_error)
{
    EXPECT_ERRORS(MINIMAL "kafka:\n  brokrs: k:9092\n", "t.yaml:3: kafka.brokrs: unknown key");
    EXPECT_ERRORS(MINIMAL "loglevel: info\n", "t.yaml:2: loglevel: unknown key");
}

TEST(unknown_key_in_a_list_item_names_its_index)
{
    EXPECT_ERRORS("streams:\n  - {name: a, topics: [t]}\n  - {name: b, topics: [t], strat: oldest}\n",
                  "t.yaml:3: streams[1].strat: unknown key");
}

TEST(dotted_key_is_not_a_shortcut_for_nesting)
{
    EXPECT_ERRORS(MINIMAL "ring.size: 1GiB\n", "t.yaml:2: ring.size: unknown key");
}

TEST(duplicate_key_is_an_error)
{
    EXPECT_ERRORS(MINIMAL "ring:\n  size: 1GiB\n  size: 2GiB\n",
                  "t.yaml:4: ring.size: duplicate key (first at line 3)");
}

TEST(keys_must_be_strings)
{
    EXPECT_ERRORS(MINIMAL "ring: {[a]: 1}\n", "t.yaml:2: ring: keys must be strings");
}

/* --- wrong types --------------------------------------------------------------------------------- */

TEST(mapping_where_a_scalar_is_expected)
{
    EXPECT_ERRORS(MINIMAL "kafka:\n  brokers: {host: k}\n", "t.yaml:3: kafka.brokers: expected a scalar");
}

TEST(scalar_where_a_list_is_expected)
{
    EXPECT_ERRORS("streams: demo\n", "t.yaml:1: streams: expected a list");
    EXPECT_ERRORS("streams: [{name: a, topics: t}]\n", "t.yaml:1: streams[0].topics: expected a list");
}

TEST(scalar_where_a_mapping_is_expected)
{
    EXPECT_ERRORS(MINIMAL "ring: 64MiB\n", "t.yaml:2: ring: expected a mapping");
    EXPECT_ERRORS(MINIMAL "kafka: {properties: [a]}\n", "t.yaml:2: kafka.properties: expected a mapping");
}

TEST(list_items_must_be_mappings)
{
    EXPECT_ERRORS("streams:\n  - {name: a, topics: [t]}\n  - b\n", "t.yaml:3: streams[1]: expected a mapping");
}

TEST(topics_must_be_scalars)
{
    EXPECT_ERRORS("streams: [{name: a, topics: [t, [u]]}]\n", "t.yaml:1: streams[0].topics[1]: expected a scalar");
}

TEST(kafka_property_values_must_be_scalars)
{
    EXPECT_ERRORS(MINIMAL "kafka:\n  properties:\n    ssl: {ca: x}\n",
                  "t.yaml:4: kafka.properties.ssl: expected a scalar");
}

TEST(duplicate_kafka_property_is_an_error)
{
    EXPECT_ERRORS(MINIMAL "kafka:\n  properties:\n    acks: all\n    acks: 1\n",
                  "t.yaml:5: kafka.properties.acks: duplicate key (first at line 4)");
}

/* --- bad values ---------------------------------------------------------------------------------- */

TEST(enum_value_must_be_one_of_its_words)
{
    EXPECT_ERRORS("# the example of the issue\n"
                  "log:\n"
                  "  level: info\n"
                  "streams:\n"
                  "  - name: a\n"
                  "    topics: [t]\n"
                  "    start: lve\n",
                  "t.yaml:7: streams[0].start: must be one of live, oldest (got \"lve\")");
    EXPECT_ERRORS("streams: [{name: a, topics: [t], format: JSON}]\n",
                  "t.yaml:1: streams[0].format: must be one of raw, json (got \"JSON\")");
}

TEST(string_with_allowed_words_must_be_one_of_them)
{
    EXPECT_ERRORS(MINIMAL "log: {level: verbose}\n",
                  "t.yaml:2: log.level: must be one of error, warn, info, debug (got \"verbose\")");
}

TEST(bool_must_be_a_yaml_boolean_word)
{
    EXPECT_ERRORS("streams: [{name: a, topics: [t], publish: 1}]\n",
                  "t.yaml:1: streams[0].publish: must be true or false (got \"1\")");
}

TEST(integer_must_be_decimal)
{
    EXPECT_ERRORS(MINIMAL "edge: {workers: 0x10}\n",
                  "t.yaml:2: edge.workers: must be an integer from 1 to 64 (got \"0x10\")");
    EXPECT_ERRORS(MINIMAL "edge: {workers: 2.0}\n",
                  "t.yaml:2: edge.workers: must be an integer from 1 to 64 (got \"2.0\")");
    EXPECT_ERRORS(MINIMAL "edge: {workers: }\n", "t.yaml:2: edge.workers: must be an integer from 1 to 64 (got \"\")");
}

TEST(integer_must_be_in_range)
{
    EXPECT_ERRORS(MINIMAL "edge: {workers: 65}\n",
                  "t.yaml:2: edge.workers: must be an integer from 1 to 64 (got \"65\")");
    EXPECT_ERRORS(MINIMAL "edge: {listen: [{port: 0}]}\n",
                  "t.yaml:2: edge.listen[0].port: must be an integer from 1 to 65535 (got \"0\")");
    EXPECT_ERRORS(MINIMAL "ring: {index_slots: -1}\n",
                  "t.yaml:2: ring.index_slots: must be an integer from 0 to 1073741824 (got \"-1\")");
}

TEST(integer_overflow_is_out_of_range_not_wrapped)
{
    EXPECT_ERRORS(MINIMAL "ring: {max_partitions: 18446744073709551617}\n",
                  "t.yaml:2: ring.max_partitions: must be an integer from 1 to 256 (got \"18446744073709551617\")");
    EXPECT_ERRORS(MINIMAL "ring: {max_partitions: -9223372036854775809}\n",
                  "t.yaml:2: ring.max_partitions: must be an integer from 1 to 256 (got \"-9223372036854775809\")");
}

TEST(size_must_use_binary_units)
{
    EXPECT_ERRORS(MINIMAL "ring:\n  size: 64MB\n",
                  "t.yaml:3: ring.size: must be a size in B, KiB, MiB, GiB or TiB, such as 64MiB (got \"64MB\")");
}

TEST(size_must_be_in_range)
{
    EXPECT_ERRORS(MINIMAL "ring: {size: 512KiB}\n", "t.yaml:2: ring.size: must be from 1MiB to 1TiB (got \"512KiB\")");
    EXPECT_ERRORS("streams: [{name: a, topics: [t], max_publish_bytes: 0}]\n",
                  "t.yaml:1: streams[0].max_publish_bytes: must be from 1B to 1GiB (got \"0\")");
}

TEST(size_overflow_is_not_a_size)
{
    EXPECT_ERRORS(
        MINIMAL "ring: {size: 99999999999TiB}\n",
        "t.yaml:2: ring.size: must be a size in B, KiB, MiB, GiB or TiB, such as 64MiB (got \"99999999999TiB\")");
}

TEST(duration_needs_a_unit)
{
    EXPECT_ERRORS(MINIMAL "edge: {heartbeat: 15}\n",
                  "t.yaml:2: edge.heartbeat: must be a duration in ms, s, m or h, such as 15s (got \"15\")");
}

TEST(duration_must_be_in_range)
{
    EXPECT_ERRORS(MINIMAL "edge: {retry: 0s}\n", "t.yaml:2: edge.retry: must be from 100ms to 1h (got \"0s\")");
    EXPECT_ERRORS(MINIMAL "edge: {heartbeat: 61m}\n",
                  "t.yaml:2: edge.heartbeat: must be from 100ms to 1h (got \"61m\")");
}

#define NAME_REASON "must be 1-63 characters of A-Z a-z 0-9 _ . - not starting with a dot"

TEST(stream_name_characters_and_length_are_checked)
{
    EXPECT_ERRORS("streams: [{name: a/b, topics: [t]}]\n", "t.yaml:1: streams[0].name: " NAME_REASON " (got \"a/b\")");
    EXPECT_ERRORS("streams: [{name: '', topics: [t]}]\n", "t.yaml:1: streams[0].name: " NAME_REASON " (got \"\")");
    EXPECT_ERRORS("streams: [{name: .hidden, topics: [t]}]\n",
                  "t.yaml:1: streams[0].name: " NAME_REASON " (got \".hidden\")");
    /* 63 characters, RC_RING_NAME_MAX - 1, is the longest; 64 is one too many. */
    rc_config_t *c =
        load_ok("streams: [{name: a12345678901234567890123456789012345678901234567890123456789012, topics: [t]}]\n");
    CHECK(c != NULL && strlen(c->streams[0].name) == RC_RING_NAME_MAX - 1);
    rc_config_free(c);
    EXPECT_ERRORS("streams: [{name: a123456789012345678901234567890123456789012345678901234567890123, topics: [t]}]\n",
                  "t.yaml:1: streams[0].name: " NAME_REASON " (got "
                  "\"a123456789012345678901234567890123456789012345678901234567890123\")");
}

#define TOPIC_REASON "must be a Kafka topic name: 1-249 characters of A-Z a-z 0-9 _ . - other than . and .."

TEST(topic_names_are_checked)
{
    EXPECT_ERRORS("streams: [{name: a, topics: [ok, 'no way']}]\n",
                  "t.yaml:1: streams[0].topics[1]: " TOPIC_REASON " (got \"no way\")");
    EXPECT_ERRORS("streams: [{name: a, topics: ['.', '..', '...', .a, a.]}]\n",
                  "t.yaml:1: streams[0].topics[0]: " TOPIC_REASON " (got \".\")",
                  "t.yaml:1: streams[0].topics[1]: " TOPIC_REASON " (got \"..\")");
    EXPECT_ERRORS("streams: [{name: a, topics: ['']}]\n",
                  "t.yaml:1: streams[0].topics[0]: " TOPIC_REASON " (got \"\")");
}

TEST(topic_names_up_to_249_characters_pass_and_250_fail)
{
    char yaml[512], want[512];
    char topic[251];
    memset(topic, 'x', 250);
    topic[250] = '\0';
    snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [%.249s]}]\n", topic);
    rc_config_t *c = load_ok(yaml);
    CHECK(c != NULL && strlen(c->streams[0].topics[0]) == 249);
    rc_config_free(c);
    snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [%s]}]\n", topic);
    snprintf(want, sizeof(want), "t.yaml:1: streams[0].topics[0]: " TOPIC_REASON " (got \"%.64s...\")", topic);
    EXPECT_ERRORS(yaml, want);
}

TEST(tombstone_event_must_be_an_sse_event_type)
{
    static const char reason[] = "must be an SSE event type: 1-256 bytes of UTF-8 without CR or LF";
    char yaml[1024], want[1024], type[258];
    rc_config_t *c = load_ok("streams: [{name: a, topics: [t], tombstone_event: \"key deleted \xc3\xa9\"}]\n");
    CHECK(c != NULL && strcmp(c->streams[0].tombstone_event, "key deleted \xc3\xa9") == 0);
    rc_config_free(c);
    snprintf(want, sizeof(want), "t.yaml:1: streams[0].tombstone_event: %s (got \"\")", reason);
    EXPECT_ERRORS("streams: [{name: a, topics: [t], tombstone_event: ''}]\n", want);
    snprintf(want, sizeof(want), "t.yaml:1: streams[0].tombstone_event: %s (got \"a\\x0ab\")", reason);
    EXPECT_ERRORS("streams: [{name: a, topics: [t], tombstone_event: \"a\\nb\"}]\n", want);
    snprintf(want, sizeof(want), "t.yaml:1: streams[0].tombstone_event: %s (got \"a\\x0d\")", reason);
    EXPECT_ERRORS("streams: [{name: a, topics: [t], tombstone_event: \"a\\r\"}]\n", want);
    EXPECT_ERRORS("streams: [{name: a, topics: [t], tombstone_event: \"a\\0\"}]\n",
                  "t.yaml:1: streams[0].tombstone_event: must not contain NUL characters");
    /* 256 bytes, the longest value an ?event= filter takes, pass; 257 do not. */
    memset(type, 'e', 257);
    type[257] = '\0';
    snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [t], tombstone_event: %.256s}]\n", type);
    c = load_ok(yaml);
    CHECK(c != NULL && strlen(c->streams[0].tombstone_event) == 256);
    rc_config_free(c);
    snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [t], tombstone_event: %s}]\n", type);
    snprintf(want, sizeof(want), "t.yaml:1: streams[0].tombstone_event: %s (got \"%.64s...\")", reason, type);
    EXPECT_ERRORS(yaml, want);
}

TEST(initial_must_be_latest_earliest_or_a_count)
{
    EXPECT_ERRORS("streams: [{name: a, topics: [t], initial: newest}]\n",
                  "t.yaml:1: streams[0].initial: must be latest, earliest or a record count (got \"newest\")");
    EXPECT_ERRORS("streams: [{name: a, topics: [t], initial: -5}]\n",
                  "t.yaml:1: streams[0].initial: must be latest, earliest or a record count (got \"-5\")");
    EXPECT_ERRORS(
        "streams: [{name: a, topics: [t], initial: 99999999999999999999}]\n",
        "t.yaml:1: streams[0].initial: must be latest, earliest or a record count (got \"99999999999999999999\")");
}

TEST(brokers_must_be_mock_or_host_port_list)
{
    static const char *const bad[] = {"",         "k",    "k:", ":9092", "k:0", "k:65536", "k:9092,", "k:9092, j:9092",
                                      "mock,k:1", "k:90a"};
    char yaml[128], want[256];
    for (size_t i = 0; i < RC_ARRAY_SIZE(bad); i++) {
        snprintf(yaml, sizeof(yaml), MINIMAL "kafka: {brokers: '%s'}\n", bad[i]);
        snprintf(want, sizeof(want),
                 "t.yaml:2: kafka.brokers: must be \"mock\" or host:port[,host:port...] (got \"%s\")", bad[i]);
        EXPECT_ERRORS(yaml, want);
    }
}

TEST(paths_must_not_be_empty)
{
    EXPECT_ERRORS(MINIMAL "ring: {dir: ''}\n", "t.yaml:2: ring.dir: must not be empty (got \"\")");
}

TEST(nul_character_in_a_value_is_an_error)
{
    EXPECT_ERRORS("streams: [{name: \"a\\0b\", topics: [t]}]\n",
                  "t.yaml:1: streams[0].name: must not contain NUL characters");
}

TEST(quoted_values_are_escaped_and_cut_in_messages)
{
    EXPECT_ERRORS("streams: [{name: \"\\e[31m\\\"\\\\\", topics: [t]}]\n",
                  "t.yaml:1: streams[0].name: " NAME_REASON " (got \"\\x1b[31m\\\"\\\\\")");
    EXPECT_ERRORS(MINIMAL "log: {level: "
                          "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n",
                  "t.yaml:2: log.level: must be one of error, warn, info, debug (got "
                  "\"0123456789012345678901234567890123456789012345678901234567890123...\")");
    /* A cut never splits a UTF-8 character: "é" is 2 bytes and would straddle byte 64. */
    EXPECT_ERRORS(MINIMAL "log: {level: "
                          "\"012345678901234567890123456789012345678901234567890123456789012\xc3\xa9\"}\n",
                  "t.yaml:2: log.level: must be one of error, warn, info, debug (got "
                  "\"012345678901234567890123456789012345678901234567890123456789012...\")");
}

/* --- missing and empty --------------------------------------------------------------------------- */

TEST(missing_required_key_is_reported_at_its_parent_mapping)
{
    EXPECT_ERRORS("# comments and blank lines\n# come first\n\n\nlog: {level: info}\n",
                  "t.yaml:5: streams: required key missing");
}

TEST(missing_required_keys_of_list_items)
{
    EXPECT_ERRORS("streams:\n  - start: live\nedge:\n  listen:\n    - address: 0.0.0.0\n",
                  "t.yaml:2: streams[0].name: required key missing",
                  "t.yaml:2: streams[0].topics: required key missing",
                  "t.yaml:5: edge.listen[0].port: required key missing");
}

TEST(lists_that_need_items_must_not_be_empty)
{
    EXPECT_ERRORS("streams: []\n", "t.yaml:1: streams: must not be empty");
    EXPECT_ERRORS("streams: [{name: a, topics: []}]\n", "t.yaml:1: streams[0].topics: must not be empty");
    EXPECT_ERRORS(MINIMAL "edge: {listen: []}\n", "t.yaml:2: edge.listen: must not be empty");
}

/* --- rules across keys --------------------------------------------------------------------------- */

TEST(stream_names_must_be_unique)
{
    EXPECT_ERRORS("streams:\n  - {name: a, topics: [t]}\n  - {name: b, topics: [t]}\n  - {name: a, topics: [u]}\n",
                  "t.yaml:4: streams[2].name: duplicate stream name \"a\" (first at line 2)");
}

TEST(tls_needs_both_cert_and_key)
{
    EXPECT_ERRORS(MINIMAL "edge:\n  listen:\n    - port: 443\n      tls: {cert: c.pem}\n",
                  "t.yaml:4: edge.listen[0].tls: needs both cert and key");
    EXPECT_ERRORS(MINIMAL "edge:\n  listen:\n    - {port: 80}\n    - {port: 443, tls: {key: k.pem}}\n",
                  "t.yaml:5: edge.listen[1].tls: needs both cert and key");
}

/* --- the limits of the ring and the event ids ----------------------------------------------------- */

/* True if yaml loads without error. */
static bool accepts(const char *yaml)
{
    rc_errors_t errs = {0};
    rc_config_t *c = load(yaml, &errs);
    bool ok = c != NULL;
    rc_config_free(c);
    rc_errors_free(&errs);
    return ok;
}

TEST(topics_per_stream_are_at_most_what_a_ring_and_an_event_id_hold)
{
    char yaml[512];
    int o = snprintf(yaml, sizeof(yaml), "streams: [{name: a, topics: [t0");
    for (unsigned i = 1; i < RC_RING_MAX_TOPICS; i++)
        o += snprintf(yaml + o, sizeof(yaml) - (size_t)o, ", t%u", i);
    snprintf(yaml + o, sizeof(yaml) - (size_t)o, "]}]\n");
    CHECK(accepts(yaml));
    snprintf(yaml + o, sizeof(yaml) - (size_t)o, ", t16]}]\n");
    EXPECT_ERRORS(yaml, "t.yaml:1: streams[0].topics: must have at most 16 items (got 17)");
    CHECK(RC_RING_MAX_TOPICS == 16 && RC_CUT_MAX_TOPICS == 16);
}

TEST(a_topic_twice_in_one_stream_is_an_error)
{
    EXPECT_ERRORS("streams: [{name: a, topics: [t, u, t, u, t]}]\n",
                  "t.yaml:1: streams[0].topics[2]: duplicate \"t\" (first at streams[0].topics[0], line 1)",
                  "t.yaml:1: streams[0].topics[3]: duplicate \"u\" (first at streams[0].topics[1], line 1)",
                  "t.yaml:1: streams[0].topics[4]: duplicate \"t\" (first at streams[0].topics[0], line 1)");
    EXPECT_ERRORS("streams:\n  - name: a\n    topics:\n      - orders\n      - refunds\n      - orders\n",
                  "t.yaml:6: streams[0].topics[2]: duplicate \"orders\" (first at streams[0].topics[0], line 4)");
    /* One topic in several streams is what topics are for. */
    CHECK(accepts("streams: [{name: a, topics: [t, u]}, {name: b, topics: [u, t]}]\n"));
}

TEST(max_partitions_is_at_most_what_an_event_id_names)
{
    rc_config_t *c = load_ok(MINIMAL);
    CHECK(c != NULL && c->ring.max_partitions == RC_CUT_MAX_LANES);
    rc_config_free(c);
    CHECK(accepts(MINIMAL "ring: {max_partitions: 256}\n"));
    EXPECT_ERRORS(MINIMAL "ring: {max_partitions: 257}\n",
                  "t.yaml:2: ring.max_partitions: must be an integer from 1 to 256 (got \"257\")");
    EXPECT_ERRORS(MINIMAL "ring: {max_partitions: 0}\n",
                  "t.yaml:2: ring.max_partitions: must be an integer from 1 to 256 (got \"0\")");
    CHECK(accepts("streams: [{name: a, topics: [t], partitions: 256}]\n"));
    EXPECT_ERRORS("streams: [{name: a, topics: [t], partitions: 257}]\n",
                  "t.yaml:1: streams[0].partitions: must be an integer from 1 to 256 (got \"257\")");
}

#define MOCK_REASON(n, max)                                                                                            \
    "the mock cluster gives this stream's topics " #n " partitions in all, more than ring.max_partitions (" #max       \
    "); a topic of several streams gets the largest of their partitions"

TEST(mock_partitions_of_a_stream_fit_max_partitions)
{
    CHECK(accepts("streams: [{name: a, topics: [t, u], partitions: 128}]\n"));
    EXPECT_ERRORS("streams: [{name: a, topics: [t, u], partitions: 129}]\n",
                  "t.yaml:1: streams[0].partitions: " MOCK_REASON(258, 256));
    CHECK(accepts("ring: {max_partitions: 6}\nstreams: [{name: a, topics: [t, u, v], partitions: 2}]\n"));
    EXPECT_ERRORS("ring: {max_partitions: 5}\nstreams: [{name: a, topics: [t, u, v], partitions: 2}]\n",
                  "t.yaml:2: streams[0].partitions: " MOCK_REASON(6, 5));
    /* A shared topic has the largest partitions of its streams: b's t has 3, so b needs 3 + 1 + 1. */
    CHECK(accepts("ring: {max_partitions: 4}\n"
                  "streams:\n"
                  "  - {name: a, topics: [t], partitions: 3}\n"
                  "  - {name: b, topics: [t, u]}\n"));
    EXPECT_ERRORS("ring: {max_partitions: 4}\n"
                  "streams:\n"
                  "  - {name: a, topics: [t], partitions: 3}\n"
                  "  - {name: b, topics: [t, u, v]}\n",
                  "t.yaml:4: streams[1].partitions: " MOCK_REASON(5, 4));
    /* A real cluster has the partitions it has: `partitions` is not used. */
    CHECK(accepts("kafka: {brokers: 'k:9092'}\nstreams: [{name: a, topics: [t, u], partitions: 129}]\n"));
    /* A duplicate topic is reported once, not counted twice. */
    EXPECT_ERRORS("ring: {max_partitions: 2}\nstreams: [{name: a, topics: [t, t], partitions: 2}]\n",
                  "t.yaml:2: streams[0].topics[1]: duplicate \"t\" (first at streams[0].topics[0], line 2)");
}

TEST(index_slots_are_0_or_at_least_2)
{
    CHECK(accepts(MINIMAL "ring: {index_slots: 0}\n"));
    CHECK(accepts(MINIMAL "ring: {index_slots: 2}\n"));
    CHECK(accepts(MINIMAL "ring: {index_slots: 1073741824}\n"));
    EXPECT_ERRORS(MINIMAL "ring: {index_slots: 1}\n",
                  "t.yaml:2: ring.index_slots: must be 0 (automatic) or at least 2 (got \"1\")");
    EXPECT_ERRORS(MINIMAL "ring: {index_slots: 1073741825}\n",
                  "t.yaml:2: ring.index_slots: must be an integer from 0 to 1073741824 (got \"1073741825\")");
}

#define DIR_REASON "must be at most 95 bytes long, so that <ring.dir>/bridge.sock fits a unix socket address"

TEST(ring_dir_leaves_room_for_the_bridge_socket)
{
    char yaml[256], want[512], dir[97];
    memset(dir, 'd', 96);
    dir[0] = '/';
    dir[96] = '\0';
    snprintf(yaml, sizeof(yaml), MINIMAL "ring: {dir: %.95s}\n", dir);
    CHECK(accepts(yaml));
    snprintf(yaml, sizeof(yaml), MINIMAL "ring: {dir: %s}\n", dir);
    snprintf(want, sizeof(want), "t.yaml:2: ring.dir: " DIR_REASON " (got \"%.64s...\")", dir);
    EXPECT_ERRORS(yaml, want);
}

/* A scratch directory for rings, removed with everything in it. */
static char *scratch_dir(void)
{
    char tmpl[] = "/tmp/rc-test-config-XXXXXX";
    return mkdtemp(tmpl) != NULL ? rc_strdup(tmpl) : NULL;
}

static void scratch_remove(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    CHECK(rmdir(dir) == 0);
    free(dir);
}

/* Opens a ring of the smallest geometry; true if the ring takes name and geometry. */
static bool ring_opens(const char *dir, const char *name, uint32_t index_slots, uint32_t max_lanes, rc_ring_t **out)
{
    rc_ring_geom_t g = {.capacity = RC_RING_MIN_CAPACITY, .index_slots = index_slots, .max_lanes = max_lanes};
    rc_ring_opened_t how;
    char why[256], err[512];
    rc_ring_t *r = NULL;
    if (rc_ring_writer_open(&r, dir, name, &g, &how, why, sizeof(why), err, sizeof(err)) != 0)
        return false;
    if (out != NULL)
        *out = r;
    else
        rc_ring_close(r);
    return true;
}

TEST(config_and_ring_agree_on_stream_names)
{
    static const char *const names[] = {"a",   "Z9",  "a.b", "a-b", "a_b", "a.",     "-a",     "_a",  "...a",
                                        ".a",  ".",   "..",  "",    "a/b", "a b",    "a:b",    "a*b", "a\\b",
                                        "a~b", "a,b", "a+b", "é",   "a@b", "ring.a", "lock-a", "a..b"};
    char *dir = scratch_dir();
    REQUIRE(dir != NULL);
    char yaml[256], longest[RC_RING_NAME_MAX + 2];
    for (size_t i = 0; i < RC_ARRAY_SIZE(names) + 2; i++) {
        const char *name = names[i < RC_ARRAY_SIZE(names) ? i : 0];
        if (i >= RC_ARRAY_SIZE(names)) { /* RC_RING_NAME_MAX - 1 characters, then RC_RING_NAME_MAX */
            size_t n = RC_RING_NAME_MAX - 1 + (i - RC_ARRAY_SIZE(names));
            memset(longest, 'n', n);
            longest[n] = '\0';
            name = longest;
        }
        snprintf(yaml, sizeof(yaml), "streams: [{name: '%s', topics: [t]}]\n", name);
        bool config_ok = accepts(yaml), ring_ok = ring_opens(dir, name, 0, 1, NULL);
        if (config_ok != ring_ok)
            TAP_FAIL("name \"%s\": the config %s it, the ring %s it", name, config_ok ? "accepts" : "refuses",
                     ring_ok ? "accepts" : "refuses");
    }
    scratch_remove(dir);
}

TEST(config_and_ring_agree_on_topics_and_geometry)
{
    char *dir = scratch_dir();
    REQUIRE(dir != NULL);
    /* Every topic a stream may have, each of the longest name, fits the ring's topic table. */
    rc_ring_t *r = NULL;
    REQUIRE(ring_opens(dir, "topics", 0, RC_RING_MAX_TOPICS + 1, &r));
    char topic[250]; /* 249 characters: Kafka's longest, which the config takes */
    for (unsigned t = 0; t <= RC_RING_MAX_TOPICS; t++) {
        memset(topic, 'a' + (int)t, 249);
        topic[249] = '\0';
        int lane = rc_ring_lane(r, topic, 0);
        if (t < RC_RING_MAX_TOPICS)
            CHECK(lane == (int)t);
        else
            CHECK(lane == -1); /* one more than streams[].topics allows */
    }
    rc_ring_close(r);
    /* ring.index_slots: 1 is refused by both, 2 taken by both. */
    CHECK(!accepts(MINIMAL "ring: {index_slots: 1}\n") && !ring_opens(dir, "slots1", 1, 1, NULL));
    CHECK(accepts(MINIMAL "ring: {index_slots: 2}\n") && ring_opens(dir, "slots2", 2, 1, NULL));
    /* ring.max_partitions: the largest is a ring the ring makes. */
    CHECK(ring_opens(dir, "lanes", 0, RC_CUT_MAX_LANES, NULL));
    scratch_remove(dir);
}

TEST(the_longest_ring_dir_holds_the_bridge_socket)
{
    /* A directory of exactly the longest ring.dir: the bridge's socket opens in it. */
    char *base = scratch_dir();
    REQUIRE(base != NULL);
    char dir[256], sock[512], err[512], yaml[512];
    size_t n = strlen(base);
    snprintf(dir, sizeof(dir), "%s/%0*d", base, (int)(95 - n - 1), 0);
    REQUIRE(strlen(dir) == 95);
    REQUIRE(mkdir(dir, 0700) == 0);
    snprintf(yaml, sizeof(yaml), MINIMAL "ring: {dir: '%s'}\n", dir);
    CHECK(accepts(yaml));
    snprintf(sock, sizeof(sock), "%s/bridge.sock", dir);
    rc_wake_server_t *w = rc_wake_server_open(sock, (gid_t)-1, err, sizeof(err));
    CHECK(w != NULL);
    if (w != NULL)
        rc_wake_server_close(w);
    else
        printf("#   %s\n", err);
    /* One byte more and it does not. */
    snprintf(sock, sizeof(sock), "%s/bridge.sockx", dir);
    CHECK(rc_wake_server_open(sock, (gid_t)-1, err, sizeof(err)) == NULL);
    rmdir(dir);
    scratch_remove(base);
}

/* --- YAML features ------------------------------------------------------------------------------- */

TEST(aliases_are_rejected_at_their_own_line)
{
    EXPECT_ERRORS("kafka: {brokers: &b mock}\nstreams:\n  - {name: a, topics: [t]}\nlog: {level: *b}\n",
                  "t.yaml:4: log.level: aliases are not supported");
    /* An alias of its own ancestor would make a cycle if it were resolved. */
    EXPECT_ERRORS("streams: &s [*s]\n", "t.yaml:1: streams[0]: aliases are not supported");
}

TEST(all_errors_are_reported_in_one_pass)
{
    EXPECT_ERRORS("kafka:\n"
                  "  brokers: k\n"
                  "  extra: 1\n"
                  "ring: {size: 1}\n"
                  "streams:\n"
                  "  - name: a\n"
                  "    topics: [t]\n"
                  "    start: lve\n"
                  "  - name: a\n"
                  "edge:\n"
                  "  workers: many\n"
                  "  listen: [{port: 80, tls: {cert: c}}]\n",
                  "t.yaml:2: kafka.brokers: must be \"mock\" or host:port[,host:port...] (got \"k\")",
                  "t.yaml:3: kafka.extra: unknown key", "t.yaml:4: ring.size: must be from 1MiB to 1TiB (got \"1\")",
                  "t.yaml:8: streams[0].start: must be one of live, oldest (got \"lve\")",
                  "t.yaml:9: streams[1].topics: required key missing",
                  "t.yaml:11: edge.workers: must be an integer from 1 to 64 (got \"many\")",
                  "t.yaml:9: streams[1].name: duplicate stream name \"a\" (first at line 6)",
                  "t.yaml:12: edge.listen[0].tls: needs both cert and key");
}

TEST(errors_are_appended_to_the_callers_list)
{
    rc_errors_t errs = {0};
    rc_config_t *c = load("streams: []\n", &errs);
    CHECK(c == NULL);
    c = load(MINIMAL, &errs); /* earlier errors do not make a good config fail */
    CHECK(c != NULL);
    rc_config_free(c);
    c = load("log: 1\n", &errs);
    check_errors(__LINE__, c, &errs,
                 WANT("t.yaml:1: streams: must not be empty", "t.yaml:1: log: expected a mapping",
                      "t.yaml:1: streams: required key missing"));
    CHECK(errs.n == 0 && errs.msgs == NULL); /* rc_errors_free() left an empty, reusable list */
}

/* Inputs a fuzzer would find first: none may crash, leak or be accepted with errors. */
TEST(hostile_inputs_fail_cleanly)
{
    static const char *const inputs[] = {
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "a: &a [*a, *a]\n",
        "*a\n",
        "!!binary streams: 1\n",
        "? - a\n  - b\n: c\n",
        "%YAML 1.1\n%TAG ! tag:x,2000:\n--- !foo\nstreams: 1\n",
        "\xfe\xff\x00s",
        "\x00",
        "streams: [{name: a, topics: [t], partitions: 1e9999}]\n",
        "edge: {listen: [{tls: {tls: {tls: 1}}}, 7, [], {}]}\n",
        "kafka: {properties: {? [a]: b, c: *x}}\n",
    };
    for (size_t i = 0; i < RC_ARRAY_SIZE(inputs); i++) {
        rc_errors_t errs = {0};
        size_t len = inputs[i][0] == '\0' ? 1 : strlen(inputs[i]);
        rc_config_t *c = rc_config_load_string("t.yaml", inputs[i], len, &errs);
        CHECK(c == NULL && errs.n > 0);
        rc_config_free(c);
        rc_errors_free(&errs);
    }
}

TEST(deep_nesting_is_refused_quickly)
{
    /* libyaml's time grows with depth times length: a megabyte of "[" must not take minutes. */
    size_t depth = 1000000;
    char *deep = rc_malloc(2 * depth + 16);
    memcpy(deep, "streams:\n ", 10);
    memset(deep + 10, '[', depth);
    memset(deep + 10 + depth, ']', depth);
    uint64_t t0 = rc_now_mono_ns();
    rc_errors_t errs = {0};
    rc_config_t *c = rc_config_load_string("t.yaml", deep, 10 + 2 * depth, &errs);
    check_errors(__LINE__, c, &errs, WANT("t.yaml:2: (syntax): nested deeper than 64 levels"));
    CHECK(rc_now_mono_ns() - t0 < 1000000000u);
    free(deep);
}

TEST(random_yaml_fragments_never_crash)
{
    /* Fragments of valid and broken configs glued at random: a cheap fuzzer with a fixed seed. */
    static const char *const parts[] = {"streams:",   "\n  - ",
                                        "name: a",    "topics: [t]",
                                        "{",          "}",
                                        "[",          "]",
                                        ", ",         ": ",
                                        "&a ",        "*a",
                                        "!!str ",     "\"",
                                        "'",          "\n",
                                        "    ",       "- ",
                                        "edge:",      "listen:",
                                        "port: 80",   "tls: {cert: c}",
                                        "#",          "ring: {size: 1GiB}",
                                        "\\",         "\xc3",
                                        "---\n",      "kafka:",
                                        "properties:"};
    uint64_t seed = 88172645463325252u;
    char buf[512];
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        for (int k = 0; k < 12; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; /* xorshift64 */
            const char *p = parts[seed % RC_ARRAY_SIZE(parts)];
            if (len + strlen(p) < sizeof(buf)) {
                memcpy(buf + len, p, strlen(p));
                len += strlen(p);
            }
        }
        rc_errors_t errs = {0};
        rc_config_t *c = rc_config_load_string("t.yaml", buf, len, &errs);
        if ((c != NULL) == (errs.n > 0))
            TAP_FAIL("round %d: config %p with %zu errors", round, (void *)c, errs.n);
        rc_config_free(c);
        rc_errors_free(&errs);
    }
}

/* --- the schema table itself --------------------------------------------------------------------- */

TEST(schema_rows_are_consistent)
{
    for (size_t r = 0; r < rc_config_schema_len; r++) {
        const rc_conf_key_t *row = &rc_config_schema[r];
        const char *dot = strrchr(row->key, '.');
        bool parent_found = dot == NULL;
        for (size_t p = 0; p < r && dot != NULL; p++) {
            const rc_conf_key_t *q = &rc_config_schema[p];
            size_t n = (size_t)(dot - row->key);
            if (q->type == RC_CONF_MAP && strlen(q->key) == n && strncmp(q->key, row->key, n) == 0)
                parent_found = true;
            if (q->type == RC_CONF_LIST && strlen(q->key) + 2 == n && strncmp(q->key, row->key, n - 2) == 0 &&
                strncmp(row->key + n - 2, "[]", 2) == 0)
                parent_found = true;
        }
        if (!parent_found)
            TAP_FAIL("%s: no MAP or LIST row above it", row->key);
        if (row->doc == NULL || row->doc[0] == '\0' || strchr(row->doc, '|') != NULL)
            TAP_FAIL("%s: doc missing or holds a '|'", row->key);
        if ((row->type == RC_CONF_INT || row->type == RC_CONF_ENUM) && row->size != 4 && row->size != 8)
            TAP_FAIL("%s: integer field of %zu bytes", row->key, row->size);
        if ((row->type == RC_CONF_INT || row->type == RC_CONF_SIZE || row->type == RC_CONF_DURATION) &&
            row->min > row->max)
            TAP_FAIL("%s: min > max", row->key);
        if ((row->type == RC_CONF_ENUM) != (row->values != NULL) && row->type != RC_CONF_STRING)
            TAP_FAIL("%s: values only for ENUM and STRING rows", row->key);
        if (row->unique && row->type != RC_CONF_STRINGS)
            TAP_FAIL("%s: unique only for STRINGS rows", row->key);
        if (row->check_int != NULL && row->type != RC_CONF_INT)
            TAP_FAIL("%s: check_int only for INT rows", row->key);
        if ((row->type == RC_CONF_STRINGS || row->type == RC_CONF_LIST) && row->max != 0 && row->max < row->min)
            TAP_FAIL("%s: most items below the least", row->key);
        bool has_value = row->type != RC_CONF_MAP && row->type != RC_CONF_LIST;
        if (has_value && row->def == NULL && row->example == NULL)
            TAP_FAIL("%s: no default and no example for the example config", row->key);
        if (row->required && row->def != NULL)
            TAP_FAIL("%s: required with a default", row->key);
    }
}

TEST(schema_keys_are_unique)
{
    for (size_t r = 0; r < rc_config_schema_len; r++)
        for (size_t p = 0; p < r; p++)
            if (strcmp(rc_config_schema[r].key, rc_config_schema[p].key) == 0)
                TAP_FAIL("%s: twice", rc_config_schema[r].key);
}

int main(void)
{
    return tap_run();
}

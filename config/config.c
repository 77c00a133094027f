/*
 * The YAML loader. libyaml's events become a small tree of nodes; one walker then matches the
 * tree against the schema table (schema.c): it finds the row of every key, converts and stores the
 * value, fills in defaults and records every problem as "file:line: key: reason", going on after
 * each one so that a single run shows them all.
 *
 * Why our own tree rather than libyaml's document API: events give every alias its own position,
 * so an alias is rejected at its own line (resolving aliases would let a few hundred bytes expand
 * into gigabytes of config: the "billion laughs"), and the tree is freed without recursion, so no
 * nesting depth can overflow the stack. The walker itself only descends where the schema does.
 */
#include "config.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Deepest nesting of lists and mappings accepted; the schema needs 5. libyaml spends time in
 * proportion to the depth on every token, so without a limit a deep input takes quadratic time. */
#define DEPTH_MAX 64
/* Schema paths ("edge.listen[].tls.cert") are short; the longest fits with room to spare. */
#define KEY_MAX 128
/* Longest user text quoted in a message; the rest becomes "...", so one line stays readable. */
#define QUOTE_MAX 64
/* Every quoted byte can become a 4-byte \xNN escape, plus "..." and the NUL. */
#define QUOTE_BUF (4 * QUOTE_MAX + 4)
/* A shown path ("edge.listen[3].tls.cert") holds at most one piece of user text: a key. */
#define SHOWN_MAX (KEY_MAX + QUOTE_BUF + 64)

/* --- error list -------------------------------------------------------------------------------- */

void rc_errors_free(rc_errors_t *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i]);
    free(errs->msgs);
    *errs = (rc_errors_t){0};
}

static void errors_add(rc_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errors_add(rc_errors_t *errs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = rc_malloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    if (errs->n == errs->_cap) {
        errs->_cap = errs->_cap ? 2 * errs->_cap : 8;
        errs->msgs = rc_realloc(errs->msgs, errs->_cap * sizeof(*errs->msgs));
    }
    errs->msgs[errs->n++] = msg;
}

/* Writes n bytes of user text for a message: control characters, quotes and backslashes are
 * escaped so the message stays one clean line, and text past QUOTE_MAX bytes becomes "...". */
static void quote(char *buf, const char *s, size_t n)
{
    size_t end = n, o = 0;
    if (n > QUOTE_MAX) {
        /* Cut before a UTF-8 continuation byte, never inside a character. */
        for (end = QUOTE_MAX; end > 0 && ((unsigned char)s[end] & 0xC0) == 0x80; end--)
            ;
    }
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)sprintf(buf + o, "\\x%02x", c);
        else if (c == '"' || c == '\\')
            o += (size_t)sprintf(buf + o, "\\%c", c);
        else
            buf[o++] = (char)c;
    }
    strcpy(buf + o, end < n ? "..." : "");
}

/* --- value parsers ----------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    uint64_t scale;
} unit_t;

/* Largest first, so that formatting picks the largest unit that divides a value. */
static const unit_t size_units[] = {
    {"TiB", UINT64_C(1) << 40}, {"GiB", UINT64_C(1) << 30}, {"MiB", UINT64_C(1) << 20}, {"KiB", 1024}, {"B", 1}};
static const unit_t duration_units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

/* Parses decimal digits followed by one of units, or by nothing when bare_scale is not 0. */
static int parse_with_unit(const char *s, const unit_t *units, size_t n_units, uint64_t bare_scale, uint64_t *out)
{
    uint64_t v = 0, scale = bare_scale;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (*p != '\0') {
        scale = 0;
        for (size_t i = 0; i < n_units; i++)
            if (strcmp(p, units[i].name) == 0)
                scale = units[i].scale;
    }
    if (scale == 0 || v > UINT64_MAX / scale)
        return -1;
    *out = v * scale;
    return 0;
}

static void format_with_unit(uint64_t v, const unit_t *units, size_t n_units, char *buf, size_t len)
{
    size_t i = 0;
    while (i + 1 < n_units && (v == 0 || v % units[i].scale != 0))
        i++;
    snprintf(buf, len, "%" PRIu64 "%s", v / units[i].scale, units[i].name);
}

int rc_parse_size(const char *s, uint64_t *out)
{
    return parse_with_unit(s, size_units, RC_ARRAY_SIZE(size_units), 1, out);
}

int rc_parse_duration_ms(const char *s, uint64_t *out)
{
    return parse_with_unit(s, duration_units, RC_ARRAY_SIZE(duration_units), 0, out);
}

void rc_format_size(uint64_t bytes, char *buf, size_t len)
{
    format_with_unit(bytes, size_units, RC_ARRAY_SIZE(size_units), buf, len);
}

void rc_format_duration_ms(uint64_t ms, char *buf, size_t len)
{
    format_with_unit(ms, duration_units, RC_ARRAY_SIZE(duration_units), buf, len);
}

static int parse_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t u;
    if (parse_with_unit(s + neg, NULL, 0, 1, &u) != 0 || u > (uint64_t)INT64_MAX + neg)
        return -1;
    *out = neg ? -(int64_t)(u - 1) - 1 : (int64_t)u; /* written so that INT64_MIN does not overflow */
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const words[] = {"false", "true", "no", "yes", "off", "on"}; /* odd index: true */
    for (size_t i = 0; i < RC_ARRAY_SIZE(words); i++) {
        if (strcasecmp(s, words[i]) == 0) {
            *out = i % 2 == 1;
            return 0;
        }
    }
    return -1;
}

static int word_index(const char *const *words, const char *s)
{
    for (int i = 0; words[i] != NULL; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    return -1;
}

/* --- the YAML tree ----------------------------------------------------------------------------- */

typedef enum { NODE_SCALAR, NODE_LIST, NODE_MAP, NODE_ALIAS } node_kind_t;

typedef struct st_node_t {
    node_kind_t kind;
    int line;    /* 1-based */
    char *value; /* scalars: NUL-terminated, but "\0" in a quoted scalar can put a NUL inside */
    size_t len;
    struct st_node_t **kids; /* list items, or mapping keys and values in turn */
    size_t n_kids, cap_kids;
    struct st_node_t *parent;
} node_t;

typedef struct {
    const char *file;
    rc_errors_t *errs;
    node_t **defaults; /* per schema row: its default parsed once, as every list item needs it */
} loader_t;

static void fail(loader_t *l, int line, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(loader_t *l, int line, const char *key, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    errors_add(l->errs, "%s:%d: %s: %s", l->file, line, *key != '\0' ? key : "(root)", reason);
}

static int line_of(yaml_mark_t mark)
{
    return mark.line < INT32_MAX ? (int)mark.line + 1 : INT32_MAX;
}

static node_t *node_add(node_t **root, node_t *parent, node_kind_t kind, int line)
{
    node_t *n = rc_calloc(1, sizeof(*n));
    n->kind = kind;
    n->line = line;
    n->parent = parent;
    if (parent == NULL) {
        *root = n;
    } else {
        if (parent->n_kids == parent->cap_kids) {
            parent->cap_kids = parent->cap_kids ? 2 * parent->cap_kids : 4;
            parent->kids = rc_realloc(parent->kids, parent->cap_kids * sizeof(*parent->kids));
        }
        parent->kids[parent->n_kids++] = n;
    }
    return n;
}

/* Frees children before parents, walking down and back up through the parent pointers. */
static void tree_free(node_t *n)
{
    while (n != NULL) {
        if (n->n_kids > 0) {
            n = n->kids[--n->n_kids];
            continue;
        }
        node_t *parent = n->parent;
        free(n->value);
        free(n->kids);
        free(n);
        n = parent;
    }
}

static void syntax_error(loader_t *l, const yaml_parser_t *p, const char *buf, size_t len)
{
    int line = line_of(p->problem_mark);
    if (p->error == YAML_READER_ERROR) {
        /* The reader (bad UTF-8, control characters) gives a byte offset, not a mark. */
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++)
            line += buf[i] == '\n';
    }
    const char *problem = p->problem != NULL ? p->problem : "out of memory";
    if (p->context != NULL)
        fail(l, line, "(syntax)", "%s (%s at line %d)", problem, p->context, line_of(p->context_mark));
    else
        fail(l, line, "(syntax)", "%s", problem);
}

/* Parses one YAML document into a tree (*out, NULL for an empty document). Returns 0, or -1 after
 * reporting a syntax error; *out then holds what was built so far, for the caller to free. */
static int parse_yaml(loader_t *l, const char *buf, size_t len, node_t **out)
{
    yaml_parser_t p;
    node_t *root = NULL, *cur = NULL;
    int docs = 0, depth = 0, rc = 0;
    bool done = false;

    if (!yaml_parser_initialize(&p)) {
        /* Its only failure is memory: abort, as every allocation does (util.h). */
        fputs("ringcast: out of memory (libyaml)\n", stderr);
        abort();
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            syntax_error(l, &p, buf, len);
            rc = -1;
            break;
        }
        int line = line_of(ev.start_mark);
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            /* The first document is complete by now: it is still checked, for more errors. */
            if (++docs > 1) {
                fail(l, line, "", "expected a single YAML document");
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT: {
            node_t *n = node_add(&root, cur, NODE_SCALAR, line);
            n->value = rc_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            n->len = ev.data.scalar.length;
            break;
        }
        case YAML_ALIAS_EVENT:
            node_add(&root, cur, NODE_ALIAS, line);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > DEPTH_MAX) {
                fail(l, line, "(syntax)", "nested deeper than %d levels", DEPTH_MAX);
                rc = -1;
                done = true;
                break;
            }
            cur = node_add(&root, cur, ev.type == YAML_MAPPING_START_EVENT ? NODE_MAP : NODE_LIST, line);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            cur = cur != NULL ? cur->parent : NULL;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    *out = root;
    return rc;
}

/* --- the walker -------------------------------------------------------------------------------- */

/*
 * Two paths travel together: the schema path ("streams[].topics") finds rows, the shown path
 * ("streams[2].topics") names the place in messages. base is the struct the current rows store
 * into: the rc_config_t, or the item of the nearest enclosing list.
 */

static bool expect_kind(loader_t *l, const node_t *n, node_kind_t kind, const char *shown)
{
    static const char *const names[] = {[NODE_SCALAR] = "a scalar", [NODE_LIST] = "a list", [NODE_MAP] = "a mapping"};
    if (n != NULL && n->kind == kind)
        return true;
    if (n != NULL && n->kind == NODE_ALIAS)
        fail(l, n->line, shown, "aliases are not supported");
    else
        fail(l, n != NULL ? n->line : 1, shown, "expected %s", names[kind]);
    return false;
}

/* The text of a scalar node that can be stored as a C string, or NULL after reporting why not. */
static const char *scalar_of(loader_t *l, const node_t *n, const char *shown)
{
    if (!expect_kind(l, n, NODE_SCALAR, shown))
        return NULL;
    if (strlen(n->value) != n->len) {
        fail(l, n->line, shown, "must not contain NUL characters");
        return NULL;
    }
    return n->value;
}

static bool is_string(const node_t *n)
{
    return n->kind == NODE_SCALAR && strlen(n->value) == n->len;
}

/* Mapping keys are matched as text, so anything but a plain string is an error. */
static bool key_ok(loader_t *l, const node_t *k, const char *shown)
{
    if (is_string(k))
        return true;
    fail(l, k->line, shown, k->kind == NODE_ALIAS ? "aliases are not supported" : "keys must be strings");
    return false;
}

static void bad_value(loader_t *l, const node_t *n, const char *shown, const char *reason)
{
    char got[QUOTE_BUF];
    quote(got, n->value, n->len);
    fail(l, n->line, shown, "%s (got \"%s\")", reason, got);
}

/* "edge" + "listen" gives "edge.listen"; the key may be user text, so it is quoted. */
static void join(char *out, const char *path, const char *key, size_t key_len)
{
    char q[QUOTE_BUF];
    quote(q, key, key_len);
    snprintf(out, SHOWN_MAX, "%s%s%s", path, *path != '\0' ? "." : "", q);
}

/* The last component of key if key is a direct child of the schema path prefix, else NULL. */
static const char *child_name(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n > 0) {
        if (strncmp(key, prefix, n) != 0 || key[n] != '.')
            return NULL;
        key += n + 1;
    }
    return strchr(key, '.') == NULL ? key : NULL;
}

static void store_int(char *field, size_t size, int64_t v)
{
    /* The row's range keeps v within the field's type, signed or unsigned. */
    if (size == sizeof(int64_t)) {
        memcpy(field, &v, sizeof(v));
    } else {
        uint32_t w = (uint32_t)v;
        memcpy(field, &w, sizeof(w));
    }
}

static void set_scalar(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown, char *base)
{
    const char *s = scalar_of(l, n, shown);
    char *field = base + row->offset, why[256], lo[32], hi[32];
    const char *reason = NULL;
    int64_t i;
    uint64_t u;
    bool b;

    if (s == NULL)
        return;
    if (row->values != NULL && word_index(row->values, s) < 0) {
        int o = snprintf(why, sizeof(why), "must be one of");
        for (size_t k = 0; row->values[k] != NULL; k++)
            o += snprintf(why + o, sizeof(why) - (size_t)o, "%s %s", k > 0 ? "," : "", row->values[k]);
        bad_value(l, n, shown, why);
        return;
    }
    switch (row->type) {
    case RC_CONF_STRING:
        if (row->check != NULL && (reason = row->check(s)) != NULL) {
            bad_value(l, n, shown, reason);
        } else {
            free(*(char **)field);
            *(char **)field = rc_strdup(s);
        }
        break;
    case RC_CONF_ENUM:
        store_int(field, row->size, word_index(row->values, s));
        break;
    case RC_CONF_BOOL:
        if (parse_bool(s, &b) == 0)
            *(bool *)field = b;
        else
            bad_value(l, n, shown, "must be true or false");
        break;
    case RC_CONF_INT:
        if (parse_int(s, &i) == 0 && i >= row->min && i <= row->max) {
            if (row->check_int != NULL && (reason = row->check_int(i)) != NULL)
                bad_value(l, n, shown, reason);
            else
                store_int(field, row->size, i);
        } else {
            snprintf(why, sizeof(why), "must be an integer from %" PRId64 " to %" PRId64, row->min, row->max);
            bad_value(l, n, shown, why);
        }
        break;
    case RC_CONF_SIZE:
    case RC_CONF_DURATION: {
        bool size = row->type == RC_CONF_SIZE;
        void (*format)(uint64_t, char *, size_t) = size ? rc_format_size : rc_format_duration_ms;
        if ((size ? rc_parse_size(s, &u) : rc_parse_duration_ms(s, &u)) != 0) {
            bad_value(l, n, shown,
                      size ? "must be a size in B, KiB, MiB, GiB or TiB, such as 64MiB"
                           : "must be a duration in ms, s, m or h, such as 15s");
        } else if (u < (uint64_t)row->min || u > (uint64_t)row->max) {
            format((uint64_t)row->min, lo, sizeof(lo));
            format((uint64_t)row->max, hi, sizeof(hi));
            snprintf(why, sizeof(why), "must be from %s to %s", lo, hi);
            bad_value(l, n, shown, why);
        } else {
            memcpy(field, &u, sizeof(u));
        }
        break;
    }
    default:
        break;
    }
}

static bool count_ok(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown)
{
    if (n->n_kids < (uint64_t)row->min) {
        if (row->min == 1)
            fail(l, n->line, shown, "must not be empty");
        else
            fail(l, n->line, shown, "must have at least %" PRId64 " items", row->min);
        return false;
    }
    if (row->max > 0 && n->n_kids > (uint64_t)row->max) {
        fail(l, n->line, shown, "must have at most %" PRId64 " items (got %zu)", row->max, n->n_kids);
        return false;
    }
    return true;
}

static size_t *find_duplicates(const char **names, size_t n);

static void set_strings(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown, char *base)
{
    char item_shown[SHOWN_MAX];
    if (!expect_kind(l, n, NODE_LIST, shown) || !count_ok(l, row, n, shown))
        return;
    char **v = rc_calloc(n->n_kids, sizeof(*v));
    *(char ***)(base + row->offset) = v;
    *(size_t *)(base + row->count_offset) = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++) {
        snprintf(item_shown, sizeof(item_shown), "%s[%zu]", shown, i);
        const char *s = scalar_of(l, n->kids[i], item_shown), *reason;
        if (s == NULL)
            continue;
        if (row->check != NULL && (reason = row->check(s)) != NULL)
            bad_value(l, n->kids[i], item_shown, reason);
        else
            v[i] = rc_strdup(s);
    }
    if (!row->unique)
        return;
    /* A repeated item is reported and dropped, so that later checks see each value once. */
    size_t *first = find_duplicates((const char **)v, n->n_kids);
    for (size_t i = 0; i < n->n_kids; i++) {
        if (first[i] == SIZE_MAX)
            continue;
        char q[QUOTE_BUF], first_shown[SHOWN_MAX];
        quote(q, v[i], strlen(v[i]));
        snprintf(item_shown, sizeof(item_shown), "%s[%zu]", shown, i);
        snprintf(first_shown, sizeof(first_shown), "%s[%zu]", shown, first[i]);
        fail(l, n->kids[i]->line, item_shown, "duplicate \"%s\" (first at %s, line %d)", q, first_shown,
             n->kids[first[i]]->line);
        free(v[i]);
        v[i] = NULL;
    }
    free(first);
}

static int compare_names(const void *a, const void *b, void *names)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int d = strcmp(((const char **)names)[i], ((const char **)names)[j]);
    return d != 0 ? d : (i > j) - (i < j);
}

/*
 * For each of n names (NULL ones are skipped), the index of the first earlier equal name, or
 * SIZE_MAX; the caller frees the array. Sorting keeps it O(n log n): a config with a hundred
 * thousand keys is absurd, but must not take minutes to be told so.
 */
static size_t *find_duplicates(const char **names, size_t n)
{
    size_t *order = rc_calloc(n, sizeof(*order)), *first = rc_calloc(n, sizeof(*first)), m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = SIZE_MAX;
        if (names[i] != NULL)
            order[m++] = i;
    }
    /* Equal names end up together, in file order, so each run starts with the first of them. */
    qsort_r(order, m, sizeof(*order), compare_names, names);
    for (size_t k = 1; k < m; k++) {
        size_t prev = order[k - 1], cur = order[k];
        if (strcmp(names[prev], names[cur]) == 0)
            first[cur] = first[prev] != SIZE_MAX ? first[prev] : prev;
    }
    free(order);
    return first;
}

static void set_string_map(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown, char *base)
{
    char key_shown[SHOWN_MAX];
    if (!expect_kind(l, n, NODE_MAP, shown))
        return;
    size_t n_pairs = n->n_kids / 2;
    rc_kv_t *kv = rc_calloc(n_pairs, sizeof(*kv));
    *(rc_kv_t **)(base + row->offset) = kv;
    *(size_t *)(base + row->count_offset) = n_pairs;
    const char **keys = rc_calloc(n_pairs, sizeof(*keys));
    for (size_t i = 0; i < n_pairs; i++)
        keys[i] = is_string(n->kids[2 * i]) ? n->kids[2 * i]->value : NULL;
    size_t *first = find_duplicates(keys, n_pairs);
    for (size_t i = 0; i < n_pairs; i++) {
        const node_t *k = n->kids[2 * i], *v = n->kids[2 * i + 1];
        if (!key_ok(l, k, shown))
            continue;
        join(key_shown, shown, k->value, k->len);
        if (first[i] != SIZE_MAX) {
            fail(l, k->line, key_shown, "duplicate key (first at line %d)", n->kids[2 * first[i]]->line);
            continue;
        }
        const char *s = scalar_of(l, v, key_shown);
        if (s == NULL)
            continue;
        kv[i].key = rc_strdup(k->value);
        kv[i].value = rc_strdup(s);
    }
    free(keys);
    free(first);
}

static void walk_map(loader_t *l, const node_t *map, int line, const char *prefix, const char *shown, char *base);

static void set_list(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown, char *base)
{
    char item_prefix[KEY_MAX], item_shown[SHOWN_MAX];
    if (!expect_kind(l, n, NODE_LIST, shown) || !count_ok(l, row, n, shown))
        return;
    snprintf(item_prefix, sizeof(item_prefix), "%s[]", row->key);
    /* Stored before the items are filled, so that rc_config_free() finds them whatever happens. */
    char *items = rc_calloc(n->n_kids, row->item_size);
    memcpy(base + row->offset, &items, sizeof(items));
    *(size_t *)(base + row->count_offset) = n->n_kids;
    for (size_t i = 0; i < n->n_kids; i++) {
        const node_t *item = n->kids[i];
        char *item_base = items + i * row->item_size;
        snprintf(item_shown, sizeof(item_shown), "%s[%zu]", shown, i);
        memcpy(item_base + row->line_offset, &item->line, sizeof(item->line));
        if (expect_kind(l, item, NODE_MAP, item_shown))
            walk_map(l, item, item->line, item_prefix, item_shown, item_base);
    }
}

static void set_value(loader_t *l, const rc_conf_key_t *row, const node_t *n, const char *shown, char *base)
{
    switch (row->type) {
    case RC_CONF_MAP:
        if (expect_kind(l, n, NODE_MAP, shown))
            walk_map(l, n, n->line, row->key, shown, base);
        break;
    case RC_CONF_LIST:
        set_list(l, row, n, shown, base);
        break;
    case RC_CONF_STRINGS:
        set_strings(l, row, n, shown, base);
        break;
    case RC_CONF_STRING_MAP:
        set_string_map(l, row, n, shown, base);
        break;
    default:
        set_scalar(l, row, n, shown, base);
        break;
    }
}

/* A default is schema text, parsed and stored like user input; an error in one is a bug in
 * schema.c, reported under the file name "(default)" (the unit tests load every default). */
static void set_default(loader_t *l, const rc_conf_key_t *row, const char *shown, char *base)
{
    loader_t d = {.file = "(default)", .errs = l->errs, .defaults = l->defaults};
    node_t **tree = &l->defaults[row - rc_config_schema];
    if (*tree == NULL && parse_yaml(&d, row->def, strlen(row->def), tree) != 0) {
        tree_free(*tree);
        *tree = NULL;
        return;
    }
    set_value(&d, row, *tree, shown, base);
}

/* Stores the keys of map (NULL: an absent mapping, so only defaults) into base, then fills in the
 * defaults of the keys not given. line is where the mapping starts, for "required key missing". */
static void walk_map(loader_t *l, const node_t *map, int line, const char *prefix, const char *shown, char *base)
{
    char key_shown[SHOWN_MAX];
    int *seen = rc_calloc(rc_config_schema_len, sizeof(*seen)); /* per row: the line it was given at */

    for (size_t i = 0; map != NULL && i + 1 < map->n_kids; i += 2) {
        const node_t *k = map->kids[i], *v = map->kids[i + 1];
        const rc_conf_key_t *row = NULL;
        if (!key_ok(l, k, shown))
            continue;
        join(key_shown, shown, k->value, k->len);
        for (size_t r = 0; r < rc_config_schema_len && row == NULL; r++) {
            const char *name = child_name(rc_config_schema[r].key, prefix);
            if (name != NULL && strcmp(name, k->value) == 0)
                row = &rc_config_schema[r];
        }
        if (row == NULL) {
            fail(l, k->line, key_shown, "unknown key");
            continue;
        }
        int *first = &seen[row - rc_config_schema];
        if (*first != 0) {
            fail(l, k->line, key_shown, "duplicate key (first at line %d)", *first);
            continue;
        }
        *first = k->line;
        set_value(l, row, v, key_shown, base);
    }
    for (size_t r = 0; r < rc_config_schema_len; r++) {
        const rc_conf_key_t *row = &rc_config_schema[r];
        const char *name = child_name(row->key, prefix);
        if (name == NULL || seen[r] != 0)
            continue;
        join(key_shown, shown, name, strlen(name));
        if (row->required)
            fail(l, line, key_shown, "required key missing");
        else if (row->type == RC_CONF_MAP)
            walk_map(l, NULL, line, row->key, key_shown, base);
        else if (row->def != NULL)
            set_default(l, row, key_shown, base);
    }
    free(seen);
}

/*
 * With kafka.brokers: mock, the bridge creates each topic with the largest `partitions` of the
 * streams that read it, and a stream's ring must have a lane for every partition of its topics:
 * their sum may not pass ring.max_partitions (itself at most what an event id can name). Sorting
 * the (stream, topic) pairs by topic keeps this O(n log n) for any number of streams.
 */
static void check_mock_partitions(loader_t *l, const rc_config_t *c)
{
    char shown[SHOWN_MAX];
    size_t n = 0, k = 0;
    for (size_t i = 0; i < c->n_streams; i++)
        n += c->streams[i].n_topics;
    const char **topics = rc_calloc(n, sizeof(*topics));
    size_t *stream_of = rc_calloc(n, sizeof(*stream_of));
    int64_t *parts = rc_calloc(n, sizeof(*parts));
    for (size_t i = 0; i < c->n_streams; i++) {
        for (size_t t = 0; t < c->streams[i].n_topics; t++, k++) {
            topics[k] = c->streams[i].topics[t]; /* NULL after an error in it: skipped */
            stream_of[k] = i;
        }
    }
    /* parts[] of a topic's first pair collects the largest partitions of its streams. */
    size_t *first = find_duplicates(topics, n);
    for (k = 0; k < n; k++) {
        size_t f = first[k] != SIZE_MAX ? first[k] : k;
        int64_t p = c->streams[stream_of[k]].partitions;
        parts[f] = p > parts[f] ? p : parts[f];
    }
    int64_t *sum = rc_calloc(c->n_streams, sizeof(*sum));
    for (k = 0; k < n; k++)
        if (topics[k] != NULL)
            sum[stream_of[k]] += parts[first[k] != SIZE_MAX ? first[k] : k];
    for (size_t i = 0; i < c->n_streams; i++) {
        if (c->ring.max_partitions == 0 || sum[i] <= (int64_t)c->ring.max_partitions)
            continue; /* max_partitions 0: its own error was reported */
        snprintf(shown, sizeof(shown), "streams[%zu].partitions", i);
        fail(l, c->streams[i].line, shown,
             "the mock cluster gives this stream's topics %" PRId64 " partitions in all, more than "
             "ring.max_partitions (%" PRIu32 "); a topic of several streams gets the largest of their partitions",
             sum[i], c->ring.max_partitions);
    }
    free(sum);
    free(first);
    free(parts);
    free(stream_of);
    free(topics);
}

/* Rules that involve more than one key. */
static void check_across(loader_t *l, const rc_config_t *c)
{
    char shown[SHOWN_MAX];
    const char **names = rc_calloc(c->n_streams, sizeof(*names));
    for (size_t i = 0; i < c->n_streams; i++)
        names[i] = c->streams[i].name;
    size_t *first = find_duplicates(names, c->n_streams);
    for (size_t i = 0; i < c->n_streams; i++) {
        if (first[i] != SIZE_MAX) {
            snprintf(shown, sizeof(shown), "streams[%zu].name", i);
            /* The name passed its character check, so it needs no quoting. */
            fail(l, c->streams[i].line, shown, "duplicate stream name \"%s\" (first at line %d)", names[i],
                 c->streams[first[i]].line);
        }
    }
    free(names);
    free(first);
    /* After other errors a key may have no value at all (NULL), not even its default. */
    const char *hs = c->edge.auth.hs256_secret_file, *rs = c->edge.auth.rs256_public_key;
    bool have_key = (hs != NULL && hs[0] != '\0') || (rs != NULL && rs[0] != '\0');
    for (size_t i = 0; i < c->n_streams && !have_key; i++) {
        if (c->streams[i].auth == RC_AUTH_REQUIRED) {
            snprintf(shown, sizeof(shown), "streams[%zu].auth", i);
            fail(l, c->streams[i].line, shown,
                 "required needs edge.auth.hs256_secret_file or edge.auth.rs256_public_key");
        }
    }
    if (c->kafka.brokers != NULL && strcmp(c->kafka.brokers, "mock") == 0)
        check_mock_partitions(l, c);
    for (size_t i = 0; i < c->edge.n_listen; i++) {
        const rc_listen_conf_t *li = &c->edge.listen[i];
        if ((li->tls_cert == NULL) != (li->tls_key == NULL)) {
            snprintf(shown, sizeof(shown), "edge.listen[%zu].tls", i);
            fail(l, li->line, shown, "needs both cert and key");
        }
    }
}

/* --- public API -------------------------------------------------------------------------------- */

/* Keys under scope (a schema path of list items, or "" for rc_config_t) that are not inside a
 * nested list: the fields stored in one struct. */
static bool in_scope(const char *key, const char *scope)
{
    size_t n = strlen(scope);
    if (n > 0 && (strncmp(key, scope, n) != 0 || key[n] != '.'))
        return false;
    return strstr(key + n, "[]") == NULL;
}

/* Frees what the rows of scope own in the struct at base; the schema knows every pointer. */
static void free_fields(const char *scope, char *base)
{
    for (size_t r = 0; r < rc_config_schema_len; r++) {
        const rc_conf_key_t *row = &rc_config_schema[r];
        if (!in_scope(row->key, scope))
            continue;
        char *field = base + row->offset;
        if (row->type == RC_CONF_STRING) {
            free(*(char **)field);
        } else if (row->type == RC_CONF_STRINGS) {
            char **v = *(char ***)field;
            for (size_t i = 0; i < *(size_t *)(base + row->count_offset); i++)
                free(v[i]);
            free(v);
        } else if (row->type == RC_CONF_STRING_MAP) {
            rc_kv_t *kv = *(rc_kv_t **)field;
            for (size_t i = 0; i < *(size_t *)(base + row->count_offset); i++) {
                free(kv[i].key);
                free(kv[i].value);
            }
            free(kv);
        } else if (row->type == RC_CONF_LIST) {
            char item_scope[KEY_MAX], *items;
            snprintf(item_scope, sizeof(item_scope), "%s[]", row->key);
            memcpy(&items, field, sizeof(items));
            for (size_t i = 0; i < *(size_t *)(base + row->count_offset); i++)
                free_fields(item_scope, items + i * row->item_size);
            free(items);
        }
    }
}

void rc_config_free(rc_config_t *c)
{
    if (c == NULL)
        return;
    free_fields("", (char *)c);
    free(c->path);
    free(c);
}

rc_config_t *rc_config_load_string(const char *name, const char *yaml, size_t len, rc_errors_t *errs)
{
    loader_t l = {.file = name, .errs = errs, .defaults = rc_calloc(rc_config_schema_len, sizeof(node_t *))};
    size_t n_before = errs->n;
    rc_config_t *c = rc_calloc(1, sizeof(*c));
    node_t *root = NULL;

    c->path = rc_strdup(name);
    if (parse_yaml(&l, yaml, len, &root) == 0 && expect_kind(&l, root, NODE_MAP, "")) {
        walk_map(&l, root, root->line, "", "", (char *)c);
        check_across(&l, c);
    }
    tree_free(root);
    for (size_t r = 0; r < rc_config_schema_len; r++)
        tree_free(l.defaults[r]);
    free(l.defaults);
    if (errs->n > n_before) {
        rc_config_free(c);
        return NULL;
    }
    return c;
}

rc_config_t *rc_config_load(const char *path, rc_errors_t *errs)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *buf = rc_malloc(cap);
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        buf = rc_realloc(buf, cap *= 2);
    }
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    rc_config_t *c = NULL;
    if (read_errno != 0)
        errors_add(errs, "%s: cannot read: %s", path, strerror(read_errno));
    else
        c = rc_config_load_string(path, buf, len, errs);
    free(buf);
    return c;
}

const rc_stream_conf_t *rc_config_stream(const rc_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_streams; i++)
        if (c->streams[i].name != NULL && strcmp(c->streams[i].name, name) == 0)
            return &c->streams[i];
    return NULL;
}

static void usage(FILE *out, const char *prog, const char *about)
{
    fprintf(out,
            "usage: %s -c FILE [--check]\n\n%s\n"
            "  -c, --config FILE   the YAML configuration (see config/ringcast.example.yaml)\n"
            "  --check             validate the configuration, print every error, exit 1 or 0\n"
            "  -h, --help          this text\n",
            prog, about);
}

int rc_config_cli(int argc, char **argv, const char *prog, const char *about, rc_config_t **out)
{
    const char *path = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout, prog, about);
            return 0;
        } else {
            fprintf(stderr, "%s: %s %s\n", prog, argv[i],
                    strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0 ? "needs a FILE"
                                                                                   : "is not an option");
            usage(stderr, prog, about);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr, prog, about);
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
    rc_log_parse_level(cfg->log.level, &level); /* the schema allows only the four words */
    rc_log_init(prog, level);
    *out = cfg;
    return -1;
}

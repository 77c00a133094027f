/*
 * Fuzz target: the SSE frame encoder and the JSON envelope (common/sse.c). The bridge runs every
 * Kafka record through them: values, keys and event headers are whatever producers sent.
 *
 * Invariants of a frame: rc_sse_frame_len() is exactly what rc_sse_encode() writes, and one byte
 * less room is refused; the frame has no CR at all, every line is an "id: ", "event: " or
 * "data: " field, it ends with a blank line and is valid UTF-8 whenever its inputs are; parsed the
 * way the WHATWG EventSource parser does it, it is one event whose data is the value with its line
 * breaks turned into LF and whose type is the event type when that is usable.
 * Invariants of an envelope: its length is exact, it is valid UTF-8 and one line, and jansson
 * parses it back into the same topic, numbers, key and value (base64 for bytes that are not UTF-8).
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "sse.h"

/* Mixes the input's bytes with characters the encoder treats specially, so they are frequent. */
static void pick_bytes(fuzz_in_t *in, uint8_t *out, size_t n)
{
    static const uint8_t special[] = {'\r', '\n', '\r', '\n', 0, '"', '\\', ':', 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0xf4};
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)fuzz_take_u64(in, 1);
        out[i] = b >= 0xf0 && (b & 0x0f) < sizeof(special) ? special[b & 0x0f] : b;
    }
}

/* The value with CRLF, CR and LF all turned into LF: what a browser's event.data holds. */
static size_t normalise(const uint8_t *v, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < n && v[i + 1] == '\n')
                i++;
        } else {
            out[o++] = v[i];
        }
    }
    return o;
}

static void check_frame(const char *id, size_t id_len, const char *ev, size_t ev_len, const uint8_t *v, size_t n)
{
    size_t need = rc_sse_frame_len(id_len, ev, ev_len, v, n);
    char *out = malloc(need + 16);
    FUZZ_CHECK(rc_sse_encode(out, need - 1, id, id_len, ev, ev_len, v, n) == -1);
    long got = rc_sse_encode(out, need, id, id_len, ev, ev_len, v, n);
    FUZZ_CHECK(got == (long)need);
    FUZZ_CHECK(rc_sse_encode(out, need + 16, id, id_len, ev, ev_len, v, n) == (long)need);
    FUZZ_CHECK(need >= 2 && out[need - 1] == '\n' && out[need - 2] == '\n');
    FUZZ_CHECK(memchr(out, '\r', need) == NULL);
    bool ev_ok = rc_sse_event_ok(ev, ev_len);
    if (rc_utf8_valid(v, n)) /* an unusable event type is dropped, not sent broken */
        FUZZ_CHECK(rc_utf8_valid((const uint8_t *)out, need));

    /* Parse it back, field by field, as an EventSource would. */
    uint8_t *data = malloc(n + 1), *want = malloc(n + 1);
    size_t data_len = 0, lines = 0, pos = 0;
    int saw_id = 0, saw_event = 0, blank_at_end = 0;
    while (pos < need) {
        const char *line = out + pos, *nl = memchr(line, '\n', need - pos);
        FUZZ_CHECK(nl != NULL);
        size_t len = (size_t)(nl - line);
        pos += len + 1;
        if (len == 0) {
            FUZZ_CHECK(pos == need); /* the only blank line ends the frame */
            blank_at_end = 1;
            break;
        }
        if (len >= 4 && memcmp(line, "id: ", 4) == 0) {
            FUZZ_CHECK(!saw_id && lines == 0 && len - 4 == id_len && memcmp(line + 4, id, id_len) == 0);
            saw_id = 1;
        } else if (len >= 7 && memcmp(line, "event: ", 7) == 0) {
            FUZZ_CHECK(!saw_event && lines == 0 && ev_ok && len - 7 == ev_len && memcmp(line + 7, ev, ev_len) == 0);
            saw_event = 1;
        } else {
            FUZZ_CHECK(len >= 6 && memcmp(line, "data: ", 6) == 0);
            size_t skip = 6;
            if (lines++ > 0)
                data[data_len++] = '\n';
            memcpy(data + data_len, line + skip, len - skip);
            data_len += len - skip;
        }
    }
    FUZZ_CHECK(blank_at_end && saw_id && lines >= 1);
    FUZZ_CHECK(saw_event == (ev_len > 0 && ev_ok));
    size_t want_len = normalise(v, n, want);
    FUZZ_CHECK(data_len == want_len && memcmp(data, want, want_len) == 0);
    free(data);
    free(want);
    free(out);
}

static void check_string(json_t *obj, const char *name, const uint8_t *v, size_t n, bool null)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b64name[32];
    snprintf(b64name, sizeof(b64name), "%s_base64", name);
    json_t *s = json_object_get(obj, name), *b = json_object_get(obj, b64name);
    if (null) {
        FUZZ_CHECK(json_is_null(s) && b == NULL);
        return;
    }
    if (rc_utf8_valid(v, n)) {
        FUZZ_CHECK(json_is_string(s) && b == NULL);
        FUZZ_CHECK(json_string_length(s) == n && memcmp(json_string_value(s), v, n) == 0);
        return;
    }
    FUZZ_CHECK(s == NULL && json_is_string(b));
    const char *t = json_string_value(b);
    size_t tl = json_string_length(b);
    FUZZ_CHECK(tl == (n + 2) / 3 * 4);
    uint8_t *dec = malloc(tl / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < tl; i += 4) {
        uint32_t acc = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *c = t[i + k] == '=' ? NULL : strchr(b64, t[i + k]);
            FUZZ_CHECK(t[i + k] == '=' || (c != NULL && t[i + k] != '\0'));
            pad += c == NULL;
            acc = acc << 6 | (c != NULL ? (uint32_t)(c - b64) : 0);
        }
        for (int k = 0; k < 3 - pad; k++)
            dec[o++] = (uint8_t)(acc >> (16 - 8 * k));
    }
    FUZZ_CHECK(o == n && memcmp(dec, v, n) == 0);
    free(dec);
}

static void check_envelope(fuzz_in_t *in, const uint8_t *key, size_t key_len, const uint8_t *v, size_t n)
{
    /* Topics are Kafka names (the config refuses anything else): [A-Za-z0-9._-]. */
    static const char legal[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    char topic[250];
    size_t tl = 1 + fuzz_take_u64(in, 1) % 40;
    for (size_t i = 0; i < tl; i++)
        topic[i] = legal[fuzz_take_u64(in, 1) % (sizeof(legal) - 1)];
    topic[tl] = '\0';
    uint8_t flags = (uint8_t)fuzz_take_u64(in, 1);
    rc_envelope_t e = {.topic = topic,
                       .partition = (int32_t)fuzz_take_u64(in, 4),
                       .offset = (int64_t)fuzz_take_u64(in, 8),
                       .timestamp = (flags & 4) ? -1 : (int64_t)fuzz_take_u64(in, 8),
                       .key = key,
                       .key_len = key_len,
                       .key_null = flags & 1,
                       .value = v,
                       .value_len = n,
                       .value_null = flags & 2};
    size_t need = rc_envelope_len(&e);
    char *out = malloc(need + 1);
    FUZZ_CHECK(rc_envelope_encode(out, need, &e) == -1); /* the encoder needs room for a NUL */
    long got = rc_envelope_encode(out, need + 1, &e);
    FUZZ_CHECK(got == (long)need);
    FUZZ_CHECK(rc_utf8_valid((const uint8_t *)out, need));
    FUZZ_CHECK(memchr(out, '\n', need) == NULL && memchr(out, '\r', need) == NULL);
    json_error_t jerr;
    json_t *obj = json_loadb(out, need, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL)
        fprintf(stderr, "envelope does not parse: %s at %d: %.*s\n", jerr.text, jerr.position, (int)need, out);
    FUZZ_CHECK(json_is_object(obj));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(obj, "topic")), topic) == 0);
    FUZZ_CHECK(json_integer_value(json_object_get(obj, "partition")) == e.partition);
    FUZZ_CHECK(json_integer_value(json_object_get(obj, "offset")) == e.offset);
    FUZZ_CHECK(json_integer_value(json_object_get(obj, "timestamp")) == e.timestamp);
    check_string(obj, "key", key, key_len, e.key_null);
    check_string(obj, "value", v, n, e.value_null);
    FUZZ_CHECK(json_object_size(obj) == 6);
    json_decref(obj);
    /* In `format: json` the envelope is the frame's data: one data line. */
    check_frame("AAAAB", 5, "", 0, (const uint8_t *)out, need);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    static char id[64];
    static uint8_t ev[300], key[300];
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    /* Ids are the codec's output: base64url characters. */
    size_t id_len = fuzz_take_u64(&in, 1) % sizeof(id);
    for (size_t i = 0; i < id_len; i++)
        id[i] = alphabet[fuzz_take_u64(&in, 1) & 63];
    size_t ev_len = fuzz_take_u64(&in, 1) % 64;
    pick_bytes(&in, ev, ev_len);
    size_t key_len = fuzz_take_u64(&in, 1) % 64;
    pick_bytes(&in, key, key_len);
    size_t env_bytes = fuzz_take_u64(&in, 1) % 32;
    fuzz_in_t env = {in.p, env_bytes < in.n ? env_bytes : in.n};
    in.p += env.n, in.n -= env.n;
    /* The rest is the value, with the special bytes mixed in. */
    size_t n = in.n;
    uint8_t *v = malloc(n + 1);
    pick_bytes(&in, v, n);
    check_frame(id, id_len, (const char *)ev, ev_len, v, n);
    check_envelope(&env, key, key_len, v, n);
    free(v);
    return 0;
}

/*
 * SSE frame encoding and the value checks the bridge makes before a Kafka record enters a ring.
 * picohttpparser style: no allocation, the caller owns every buffer; encoders return the bytes
 * written, or -1 if the output buffer is too small (the *_len functions say how much is needed).
 *
 * A frame is "id: <id>\n", then "event: <type>\n" when there is a type, then one "data: " line per
 * line of the value, then an empty line. The WHATWG parser splits lines at CRLF, LF and CR alike, so
 * a value's lines are split at all three and each becomes its own data line: the browser rebuilds
 * the value with LF between lines. An empty value is one empty data line (an event with no data
 * line at all is not dispatched by browsers).
 */
#ifndef RC_SSE_H
#define RC_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes rc_sse_encode() will write for these inputs. */
size_t rc_sse_frame_len(size_t id_len, const char *event, size_t event_len, const uint8_t *data, size_t data_len);

/* Writes the frame; an event type with CR or LF in it is dropped (it would end the field early). */
long rc_sse_encode(char *out, size_t cap, const char *id, size_t id_len, const char *event, size_t event_len,
                   const uint8_t *data, size_t data_len);

/* True if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool rc_utf8_valid(const uint8_t *p, size_t n);

/* An event type is usable if it is UTF-8 without CR, LF or NUL. */
bool rc_sse_event_ok(const char *event, size_t len);

/* Input of the JSON envelope of `format: json`. */
typedef struct st_rc_envelope_t {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms since the epoch, or -1 */
    const uint8_t *key;
    size_t key_len;
    bool key_null;
    const uint8_t *value;
    size_t value_len;
    bool value_null;
} rc_envelope_t;

/*
 * {"topic":"t","partition":0,"offset":42,"timestamp":1700000000000,"key":"k","value":"v"}
 * Key and value are JSON strings when they are UTF-8; otherwise "key_base64"/"value_base64" carry
 * them base64-encoded. A null key or value is JSON null.
 */
size_t rc_envelope_len(const rc_envelope_t *e);
long rc_envelope_encode(char *out, size_t cap, const rc_envelope_t *e);

#endif

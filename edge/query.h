/*
 * The query string of GET /streams/{name}, parsed and checked. Values are URL-decoded into the
 * caller's query_t; no allocation. Bad input is an error the edge answers with 400 and the reason.
 */
#ifndef RC_QUERY_H
#define RC_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "eventid.h"

#define RC_QUERY_MAX_FILTERS 16             /* key=, partition= and event= may each be given this many times */
#define RC_QUERY_MAX_VALUE   256            /* bytes of one decoded key or event value */
#define RC_QUERY_MAX_ID      RC_EVENTID_MAX /* the longest id a valid cut encodes to */
/* Bytes of an access token (JWT), wherever it comes from: Authorization, ?access_token= or the
 * cookie. Access control and the query parser both use this one limit, so a token the first
 * accepts is never refused by the second. 8 KiB holds an RS256 token (4096-bit key) with a few
 * kilobytes of claims and fits, with the rest of a request, in h2o's limits (H2O_MAX_REQLEN). */
#define RC_TOKEN_MAX 8192
_Static_assert(RC_QUERY_MAX_VALUE >= RC_EVENT_TYPE_MAX, "an event= value holds any event type the config allows");

typedef struct st_rc_query_t {
    char keys[RC_QUERY_MAX_FILTERS][RC_QUERY_MAX_VALUE];
    size_t key_lens[RC_QUERY_MAX_FILTERS];
    size_t n_keys;
    int32_t partitions[RC_QUERY_MAX_FILTERS];
    size_t n_partitions;
    char events[RC_QUERY_MAX_FILTERS][RC_QUERY_MAX_VALUE];
    size_t event_lens[RC_QUERY_MAX_FILTERS];
    size_t n_events;
    uint64_t limit;      /* 0: no limit */
    uint64_t timeout_ms; /* 0: no timeout */
    int64_t since_ms;    /* start at the first record at or after this time (ms since the epoch) */
    int has_since;
    char last_id[RC_QUERY_MAX_ID];
    size_t last_id_len;
    int has_last_id;
} rc_query_t;

/* Parses s[0..len) (without the '?'). Returns 0, or -1 with a short reason in err. A value longer
 * than its limit (RC_QUERY_MAX_VALUE, RC_QUERY_MAX_ID, RC_TOKEN_MAX) is an error, never cut short. */
int rc_query_parse(const char *s, size_t len, rc_query_t *q, char *err, size_t errlen);

/* "2026-11-25T20:00:00Z", with optional fraction and +HH:MM offset, or epoch milliseconds.
 * Returns 0, or -1 if s is neither. */
int rc_parse_time_ms(const char *s, size_t len, int64_t *out);

/* URL-decodes src into dst (at most cap bytes); returns the decoded length or -1 if malformed. */
long rc_url_decode(const char *src, size_t len, char *dst, size_t cap);

#endif

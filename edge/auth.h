/*
 * Access control of the edge: JWT checks for streams with `auth: required`, CORS for pages on
 * other origins, and the per-IP limits (iplimit.h). The worker calls these hooks; the state they
 * use (keys read from files, the shared per-IP table) is made once by the master before it forks,
 * so every worker has the same view and a bad key file stops the edge at start, not per request.
 *
 * Tokens: HS256 (edge.auth.hs256_secret_file) or RS256 (edge.auth.rs256_public_key), taken from
 * `Authorization: Bearer <token>`, else `?access_token=`, else the cookie edge.auth.cookie. A token
 * is checked with the key of the algorithm its header names and no other (so an RS256 public key
 * can never serve as an HMAC secret); `alg: none` is refused. Claims:
 *   exp      required, seconds since the epoch (edge.auth.leeway of clock skew allowed)
 *   nbf      optional, the same
 *   iss/aud  checked when edge.auth.issuer / edge.auth.audience are set
 *   streams  optional list of stream names the token may use; absent: every stream
 *   keys     optional list of Kafka keys; present: every request must name key= values, all of
 *            them in the list (the per-user stream: keys ["alice"] may only open key=alice), and
 *            the stream sends no record without a key (rc_grant_t.keys_only)
 *   publish  true (every stream the token may use) or a list of stream names; absent: no POST
 * 401 (with WWW-Authenticate: Bearer) for a missing or bad token, 403 for a good token outside
 * its claims. A POST whose token came in the cookie is a browser's ambient credential: it is
 * refused (403) unless its Origin, or without one its Referer, is the edge's own origin or one of
 * edge.cors.origins (cross-site request forgery).
 *
 * A stream opened with a token ends when the token expires (exp + leeway): the worker sends
 * RC_ACCESS_EXPIRED_EVENT and ends the response, and the client comes back with a new token.
 *
 * Listeners: /streams, /metrics and /healthz name the streams with auth: required only on a
 * listener with edge.listen[].admin: true (rc_access_admin); elsewhere those streams are left out.
 */
#ifndef RC_AUTH_H
#define RC_AUTH_H

#include <h2o.h>
#include <jansson.h>

#include "config.h"
#include "edge.h"

/* Master, before forking: reads the key files and maps the shared per-IP table if a limit is on.
 * Returns 0, or -1 with the reason in err (the edge must not start). cfg must live until the next
 * call of rc_access_init or rc_access_reload. */
int rc_access_init(const rc_config_t *cfg, char *err, size_t errlen);
/* A reload (master and workers): the keys of cfg replace the running ones only if they all load
 * (else -1 with err, and nothing changes); cfg must outlive its use, as for rc_access_init. */
int rc_access_reload(const rc_config_t *cfg, char *err, size_t errlen);
/* Master: a worker died; the streams it counted per IP are gone with it. */
void rc_access_worker_restarted(size_t worker);

/* Every request: adds the CORS headers for an allowed Origin and answers preflight requests.
 * Returns 1 when it answered the request, 0 to go on. */
int rc_access_cors(const rc_config_t *cfg, h2o_req_t *req);

/* What a request's token grants a stream it opens (all 0 for a stream without auth: required). */
typedef struct st_rc_grant_t {
    int64_t expires_ms; /* wall clock (ms since the epoch) at which the stream must end; 0: never */
    int keys_only;      /* the token has a keys claim: records without a key are never sent */
} rc_grant_t;

/* The last event of a stream whose token expired, then the response ends (see above). */
#define RC_ACCESS_EXPIRED_EVENT "expired"
#define RC_ACCESS_EXPIRED_DATA  "{\"reason\":\"the token expired: reconnect with a new one\"}"

/* A GET or POST on a stream, before anything else: token and claims (when the stream requires
 * them), the origin of a POST authenticated by cookie, and the publish rate per IP for a POST on a
 * stream that takes POST. Returns 1 when it answered (401, 403, 429), 0 to go on with *grant set. */
int rc_access_check(h2o_req_t *req, const rc_stream_conf_t *conf, rc_edge_counters_t *ctr, rc_grant_t *grant);

/* True if the request came in on a listener with edge.listen[].admin: true, whose /streams,
 * /metrics and /healthz name every stream; elsewhere those of auth: required are left out. */
int rc_access_admin(h2o_req_t *req);

/* True if conf's stream may be named on a listener that is not an admin one. */
static inline int rc_access_public(const rc_stream_conf_t *conf)
{
    return conf->auth != RC_AUTH_REQUIRED;
}

/* A stream about to start: the open streams per IP. Returns 1 when it answered 429; else 0 and
 * *slot for rc_access_stream_end() when the stream ends. */
int rc_access_stream_begin(h2o_req_t *req, size_t worker, rc_edge_counters_t *ctr, int32_t *slot);
void rc_access_stream_end(size_t worker, int32_t slot);

/* Lines for /metrics about the access machinery as a whole (Prometheus text). */
h2o_iovec_t rc_access_metrics(h2o_mem_pool_t *pool);

/* --- the token check alone, for unit tests ------------------------------------------------------ */

typedef enum { RC_TOKEN_OK, RC_TOKEN_INVALID } rc_token_result_t;

/* Verifies token[0..len) against the configured keys, issuer, audience and the time now_s.
 * Returns RC_TOKEN_OK with *claims (a jansson object the caller releases with json_decref), or
 * RC_TOKEN_INVALID with a short reason in *why. */
rc_token_result_t rc_auth_verify(const char *token, size_t len, int64_t now_s, json_t **claims, const char **why);

#endif

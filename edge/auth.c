/*
 * Access control of the edge: tokens, claims, CORS and the per-IP limits (see auth.h).
 *
 * libjwt 1.10.2 only checks signatures, and it checks a token with whatever key it is given under
 * the algorithm the token itself names: given an RS256 public key and an HS256 token, it would use
 * the PEM text as an HMAC secret. So the header is read here first: its alg must be HS256 or RS256
 * with that algorithm's key configured, and only that key is passed to jwt_decode(); the algorithm
 * libjwt verified is compared once more. exp, nbf, iss and aud are checked here, on the claims
 * parsed by jansson (libjwt's own JSON library).
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iplimit.h"
#include "log.h"
#include "query.h"
#include "util.h"

#define TOKEN_MAX  RC_TOKEN_MAX /* bytes of a token (query.h: the query parser agrees); a larger one is refused */
#define KEY_MAX    (64 << 10)   /* bytes of a key file */
#define SECRET_MIN 32           /* bytes of an HS256 secret: RFC 7518 3.2 wants a key as long as the hash */
#define REALM      "Bearer realm=\"ringcast\""

_Static_assert(TOKEN_MAX == 8192, "the refusal of a longer token names 8192");

/* Made by rc_access_init() in the master, read-only in the workers. */
static struct {
    const rc_config_t *cfg;
    unsigned char *hs_secret, *rs_pem;
    size_t hs_len, rs_len;
    rc_iplimit_t *table; /* NULL: no per-IP limit configured */
} A;

/* --- setup ------------------------------------------------------------------------------------- */

static int read_key_file(const char *path, unsigned char **out, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat s;
    if (fd < 0 || fstat(fd, &s) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(s.st_mode) || s.st_size <= 0 || s.st_size > KEY_MAX) {
        snprintf(err, errlen, "%s: not a regular file of 1 byte to %d KiB", path, KEY_MAX >> 10);
        close(fd);
        return -1;
    }
    unsigned char *buf = rc_malloc((size_t)s.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)s.st_size);
    close(fd);
    if (n != s.st_size) {
        snprintf(err, errlen, "%s: short read", path);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = (size_t)n;
    return 0;
}

static int load(const rc_config_t *cfg, int at_start, char *err, size_t errlen)
{
    /* Loaded aside first: a key that does not load leaves the running ones in place (a reload). */
    unsigned char *hs_secret = NULL, *rs_pem = NULL;
    size_t hs_len = 0, rs_len = 0;
    const char *hs = cfg->edge.auth.hs256_secret_file, *rs = cfg->edge.auth.rs256_public_key;
    if (hs[0] != '\0') {
        if (read_key_file(hs, &hs_secret, &hs_len, err, errlen) != 0)
            return -1;
        /* `echo secret > file` adds a newline that the token's issuer did not sign with. */
        if (hs_len > 0 && hs_secret[hs_len - 1] == '\n')
            hs_len--;
        if (hs_len > 0 && hs_secret[hs_len - 1] == '\r')
            hs_len--;
        if (hs_len < SECRET_MIN) {
            snprintf(err, errlen, "edge.auth.hs256_secret_file: %s: the secret must have at least %d bytes", hs,
                     SECRET_MIN);
            free(hs_secret);
            return -1;
        }
    }
    if (rs[0] != '\0') {
        if (read_key_file(rs, &rs_pem, &rs_len, err, errlen) != 0) {
            free(hs_secret);
            return -1;
        }
        if (strstr((char *)rs_pem, "-----BEGIN PUBLIC KEY-----") == NULL &&
            strstr((char *)rs_pem, "-----BEGIN RSA PUBLIC KEY-----") == NULL) {
            snprintf(err, errlen, "edge.auth.rs256_public_key: %s: not a PEM public key", rs);
            free(hs_secret);
            free(rs_pem);
            return -1;
        }
    }
    free(A.hs_secret);
    free(A.rs_pem);
    A.hs_secret = hs_secret;
    A.hs_len = hs_len;
    A.rs_pem = rs_pem;
    A.rs_len = rs_len;
    A.cfg = cfg;
    /* The table is shared by the workers only if the master makes it before forking: limits turned
     * on by a reload apply from the next restart. */
    int limits = cfg->edge.limits.streams_per_ip > 0 || cfg->edge.limits.publish_per_minute > 0;
    if (A.table == NULL && limits && at_start)
        A.table = rc_iplimit_new((size_t)cfg->edge.limits.ip_table_size, (size_t)cfg->edge.workers);
    else if (A.table == NULL && limits)
        rc_warn("reload", "edge.limits: per-IP limits that were off apply after a restart");
    return 0;
}

int rc_access_init(const rc_config_t *cfg, char *err, size_t errlen)
{
    return load(cfg, 1, err, errlen);
}

int rc_access_reload(const rc_config_t *cfg, char *err, size_t errlen)
{
    return load(cfg, 0, err, errlen);
}

void rc_access_worker_restarted(size_t worker)
{
    rc_iplimit_reset_worker(A.table, worker);
}

/* --- the token --------------------------------------------------------------------------------- */

static json_t *decode_json_part(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    h2o_iovec_t raw = h2o_decode_base64url(pool, s, len);
    if (raw.base == NULL)
        return NULL;
    json_t *j = json_loadb(raw.base, raw.len, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A NumericDate claim: 1 with *out set, 0 if absent, -1 if not a number. */
static int numeric_date(json_t *claims, const char *name, double *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 1;
}

/* True if v is the string s, or a list holding it. */
static int names(json_t *v, const char *s, size_t len)
{
    if (json_is_string(v))
        return json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0;
    if (!json_is_array(v))
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e) && json_string_length(e) == len && memcmp(json_string_value(e), s, len) == 0)
            return 1;
    }
    return 0;
}

/* A claim that must be a list of strings when present. */
static int string_list_or_absent(json_t *v)
{
    if (v == NULL)
        return 1;
    if (!json_is_array(v))
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return 0;
    }
    return 1;
}

static rc_token_result_t check_claims(json_t *claims, int64_t now_s, const char **why)
{
    const rc_config_t *cfg = A.cfg;
    double leeway = (double)(cfg->edge.auth.leeway_ms / 1000), t;
    int r = numeric_date(claims, "exp", &t);
    if (r == 0)
        return *why = "no exp claim", RC_TOKEN_INVALID;
    if (r < 0)
        return *why = "malformed exp claim", RC_TOKEN_INVALID;
    if ((double)now_s >= t + leeway)
        return *why = "expired", RC_TOKEN_INVALID;
    r = numeric_date(claims, "nbf", &t);
    if (r < 0)
        return *why = "malformed nbf claim", RC_TOKEN_INVALID;
    if (r > 0 && (double)now_s + leeway < t)
        return *why = "not valid yet (nbf)", RC_TOKEN_INVALID;
    const char *iss = cfg->edge.auth.issuer, *aud = cfg->edge.auth.audience;
    if (iss[0] != '\0') {
        json_t *v = json_object_get(claims, "iss");
        if (!json_is_string(v) || strcmp(json_string_value(v), iss) != 0)
            return *why = "wrong issuer", RC_TOKEN_INVALID;
    }
    if (aud[0] != '\0' && !names(json_object_get(claims, "aud"), aud, strlen(aud)))
        return *why = "wrong audience", RC_TOKEN_INVALID;
    json_t *pub = json_object_get(claims, "publish");
    if (!string_list_or_absent(json_object_get(claims, "streams")) ||
        !string_list_or_absent(json_object_get(claims, "keys")) ||
        (pub != NULL && !json_is_boolean(pub) && !string_list_or_absent(pub)))
        return *why = "malformed streams, keys or publish claim", RC_TOKEN_INVALID;
    return RC_TOKEN_OK;
}

rc_token_result_t rc_auth_verify(const char *token, size_t len, int64_t now_s, json_t **claims, const char **why)
{
    *claims = NULL;
    if (len > TOKEN_MAX)
        return *why = "longer than 8192 bytes", RC_TOKEN_INVALID;
    const char *dot1 = len <= TOKEN_MAX ? memchr(token, '.', len) : NULL;
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) != NULL || dot1 == token)
        return *why = "malformed", RC_TOKEN_INVALID;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    rc_token_result_t res = RC_TOKEN_INVALID;
    json_t *header = decode_json_part(&pool, token, (size_t)(dot1 - token));
    const char *alg = header != NULL ? json_string_value(json_object_get(header, "alg")) : NULL;
    const unsigned char *key = NULL;
    size_t key_len = 0;
    jwt_alg_t want = JWT_ALG_INVAL;
    if (alg == NULL) {
        *why = "malformed";
    } else if (strcmp(alg, "HS256") == 0 && A.hs_secret != NULL) {
        key = A.hs_secret, key_len = A.hs_len, want = JWT_ALG_HS256;
    } else if (strcmp(alg, "RS256") == 0 && A.rs_pem != NULL) {
        key = A.rs_pem, key_len = A.rs_len, want = JWT_ALG_RS256;
    } else {
        /* none, or an algorithm without a configured key: never verified with another key. */
        *why = "signing algorithm not accepted";
    }
    if (key != NULL) {
        char *z = h2o_mem_alloc_pool(&pool, len + 1);
        memcpy(z, token, len);
        z[len] = '\0';
        jwt_t *jwt = NULL;
        if (dot2 + 1 == token + len) {
            *why = "no signature"; /* libjwt would take an empty signature as alg none */
        } else if (jwt_decode(&jwt, z, key, (int)key_len) != 0 || jwt == NULL) {
            *why = "bad signature or malformed";
        } else if (jwt_get_alg(jwt) != want) {
            *why = "signing algorithm not accepted";
        } else {
            json_t *c = decode_json_part(&pool, dot1 + 1, (size_t)(dot2 - dot1 - 1));
            if (c == NULL) {
                *why = "malformed claims";
            } else if ((res = check_claims(c, now_s, why)) == RC_TOKEN_OK) {
                *claims = c;
            } else {
                json_decref(c);
            }
        }
        jwt_free(jwt);
    }
    json_decref(header);
    h2o_mem_clear_pool(&pool);
    return res;
}

/* --- requests ---------------------------------------------------------------------------------- */

/* Answers and says so: the access hooks return 1 once they answered. */
static int answer(h2o_req_t *req, int status, const char *reason, const char *body)
{
    rc_edge_reply(req, status, reason, body);
    return 1;
}

static int refuse_401(h2o_req_t *req, rc_edge_counters_t *ctr, const char *why)
{
    RC_EDGE_COUNT(ctr, auth_401, 1);
    char body[200];
    if (why == NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT(REALM));
        snprintf(body, sizeof(body),
                 "this stream needs a token: Authorization: Bearer, ?access_token= or the %s cookie\n",
                 A.cfg->edge.auth.cookie);
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT(REALM ", error=\"invalid_token\""));
        snprintf(body, sizeof(body), "invalid token: %s\n", why);
    }
    return answer(req, 401, "Unauthorized", h2o_strdup(&req->pool, body, SIZE_MAX).base);
}

static int refuse_403(h2o_req_t *req, rc_edge_counters_t *ctr, const char *body)
{
    RC_EDGE_COUNT(ctr, auth_403, 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                   H2O_STRLIT(REALM ", error=\"insufficient_scope\""));
    return answer(req, 403, "Forbidden", h2o_strdup(&req->pool, body, SIZE_MAX).base);
}

static int refuse_429(h2o_req_t *req, uint64_t retry_s, const char *body)
{
    char v[24];
    int n = snprintf(v, sizeof(v), "%" PRIu64, retry_s ? retry_s : 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                   h2o_strdup(&req->pool, v, (size_t)n).base, (size_t)n);
    return answer(req, 429, "Too Many Requests", body);
}

static h2o_iovec_t query_of(h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init("", 0);
    return h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
}

/* Calls fn for every value of parameter name in the query, URL-decoded (a value that does not
 * decode is passed as NULL); stops when fn returns non-zero and returns that. */
static int each_param(h2o_req_t *req, const char *name, int (*fn)(void *, const char *, size_t), void *arg)
{
    h2o_iovec_t q = query_of(req);
    size_t nlen = strlen(name), i = 0;
    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.base[end] != '&')
            end++;
        if (end - i > nlen && memcmp(q.base + i, name, nlen) == 0 && q.base[i + nlen] == '=') {
            const char *raw = q.base + i + nlen + 1;
            size_t rlen = end - i - nlen - 1;
            char *val = h2o_mem_alloc_pool(&req->pool, rlen + 1);
            long vlen = rc_url_decode(raw, rlen, val, rlen + 1);
            int r = fn(arg, vlen < 0 ? NULL : val, vlen < 0 ? 0 : (size_t)vlen);
            if (r != 0)
                return r;
        }
        i = end + 1;
    }
    return 0;
}

typedef struct {
    const char *p;
    size_t len;
    int found, malformed;
    int cookie; /* find_token: the token came in the cookie (sent by the browser to any site's request) */
} param_t;

static int take_first(void *arg, const char *v, size_t len)
{
    param_t *p = arg;
    p->found = 1;
    p->malformed = v == NULL;
    p->p = v, p->len = len;
    return 1;
}

/* The token of a request, from the first source that has one; found is 0 when none has. */
static param_t find_token(h2o_req_t *req)
{
    param_t t = {NULL, 0, 0, 0, 0};
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len > 7 && h2o_lcstris(v.base, 7, H2O_STRLIT("bearer "))) {
            size_t a = 7;
            while (a < v.len && v.base[a] == ' ')
                a++;
            size_t b = v.len;
            while (b > a && v.base[b - 1] == ' ')
                b--;
            t.p = v.base + a, t.len = b - a, t.found = 1;
            return t;
        }
    }
    each_param(req, "access_token", take_first, &t);
    if (t.found)
        return t;
    const char *cookie = A.cfg->edge.auth.cookie;
    size_t clen = strlen(cookie);
    for (i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        size_t pos = 0;
        while (pos < v.len) {
            while (pos < v.len && (v.base[pos] == ' ' || v.base[pos] == ';'))
                pos++;
            size_t end = pos;
            while (end < v.len && v.base[end] != ';')
                end++;
            if (end - pos > clen && memcmp(v.base + pos, cookie, clen) == 0 && v.base[pos + clen] == '=') {
                size_t a = pos + clen + 1, b = end;
                if (b - a >= 2 && v.base[a] == '"' && v.base[b - 1] == '"')
                    a++, b--;
                while (b > a && v.base[b - 1] == ' ')
                    b--;
                t.p = v.base + a, t.len = b - a, t.found = 1, t.cookie = 1;
                return t;
            }
            pos = end;
        }
    }
    return t;
}

/* The keys claim against the request's key= filters, read by the parser the stream and the publish
 * handler use (rc_query_parse), so that the keys checked here are the keys served there, whatever
 * the spelling (percent-encoding, repeats, a bare "key"). 1 if every key= is in the list and there
 * is at least one; a query that does not parse is answered 400 by the handler and passes here. */
static int keys_allowed(h2o_req_t *req, json_t *allowed)
{
    static rc_query_t q; /* scratch: a worker handles one request at a time, start to end */
    char err[128];
    h2o_iovec_t qs = query_of(req);
    if (rc_query_parse(qs.base, qs.len, &q, err, sizeof(err)) != 0)
        return 1;
    if (q.n_keys == 0)
        return 0;
    for (size_t i = 0; i < q.n_keys; i++)
        if (!names(allowed, q.keys[i], q.key_lens[i]))
            return 0;
    return 1;
}

/* scheme://host[:port] at the start of s[0..len) (an Origin, or a Referer's URL), lower-cased and
 * without the scheme's default port, into out (cap bytes, NUL-terminated). Returns its length, or -1
 * when s is not an http(s) URL ("null", another scheme, user info, too long). */
static long origin_of(const char *s, size_t len, char *out, size_t cap)
{
    size_t slen;
    if (len >= 7 && h2o_lcstris(s, 7, H2O_STRLIT("http://")))
        slen = 7;
    else if (len >= 8 && h2o_lcstris(s, 8, H2O_STRLIT("https://")))
        slen = 8;
    else
        return -1;
    size_t end = slen;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    if (end == slen || end + 1 > cap || memchr(s + slen, '@', end - slen) != NULL)
        return -1;
    for (size_t i = 0; i < end; i++)
        out[i] = (char)h2o_tolower(s[i]);
    const char *dflt = slen == 7 ? ":80" : ":443";
    size_t dlen = strlen(dflt);
    if (end - slen > dlen && memcmp(out + end - dlen, dflt, dlen) == 0)
        end -= dlen;
    out[end] = '\0';
    return (long)end;
}

/* A POST whose token came in the cookie: 1 if it comes from a page of the edge's own origin (the
 * scheme and Host/:authority of the request) or of edge.cors.origins ("*" does not count: a cookie
 * is never good for any site), judged by Origin, or by Referer when there is no Origin. A browser
 * sends the cookie with a form another site posts here; it cannot forge these headers. */
static int same_site_post(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        i = h2o_find_header(&req->headers, H2O_TOKEN_REFERER, -1);
    if (i < 0)
        return 0;
    char from[512], own[512], allowed[512];
    h2o_iovec_t v = req->headers.entries[i].value;
    long n = origin_of(v.base, v.len, from, sizeof(from));
    if (n < 0)
        return 0;
    h2o_iovec_t self = h2o_concat(&req->pool, req->scheme->name, h2o_iovec_init(H2O_STRLIT("://")), req->authority);
    long m = origin_of(self.base, self.len, own, sizeof(own));
    if (m == n && memcmp(from, own, (size_t)n) == 0)
        return 1;
    const rc_config_t *cfg = A.cfg;
    for (size_t o = 0; o < cfg->edge.cors.n_origins; o++) {
        const char *a = cfg->edge.cors.origins[o];
        m = origin_of(a, strlen(a), allowed, sizeof(allowed));
        if (m == n && memcmp(from, allowed, (size_t)n) == 0)
            return 1;
    }
    return 0;
}

/* The token and its claims, for a stream with auth: required. Returns 1 when it answered; else 0
 * with what the token grants in *grant. */
static int check_token(h2o_req_t *req, const rc_stream_conf_t *conf, int publish, rc_edge_counters_t *ctr,
                       rc_grant_t *grant)
{
    param_t tok = find_token(req);
    if (!tok.found || (tok.len == 0 && !tok.malformed))
        return refuse_401(req, ctr, NULL);
    if (tok.malformed)
        return refuse_401(req, ctr, "malformed");
    json_t *claims;
    const char *why;
    if (rc_auth_verify(tok.p, tok.len, (int64_t)(rc_now_real_ms() / 1000), &claims, &why) != RC_TOKEN_OK) {
        rc_debug("auth", "%s: token refused: %s", conf->name, why); /* never the token itself */
        return refuse_401(req, ctr, why);
    }
    char body[200];
    int refused = 0;
    size_t nlen = strlen(conf->name);
    json_t *streams = json_object_get(claims, "streams"), *keys = json_object_get(claims, "keys");
    json_t *pub = json_object_get(claims, "publish");
    if (publish && tok.cookie && !same_site_post(req)) {
        snprintf(body, sizeof(body),
                 "cross-site POST refused: with the token in a cookie, the Origin (or Referer) must be this site "
                 "or one of edge.cors.origins\n");
        refused = 1;
    } else if (streams != NULL && !names(streams, conf->name, nlen)) {
        snprintf(body, sizeof(body), "this token does not allow the stream %s\n", conf->name);
        refused = 1;
    } else if (publish && !json_is_true(pub) && !names(pub, conf->name, nlen)) {
        snprintf(body, sizeof(body), "this token does not allow publishing to %s\n", conf->name);
        refused = 1;
    } else if (keys != NULL && !keys_allowed(req, keys)) {
        snprintf(body, sizeof(body), "this token only allows the keys it names: ask with key= and one of them\n");
        refused = 1;
    }
    /* exp was checked by rc_auth_verify: a number. The stream ends once it passes, with the same
     * leeway (whole seconds) as that check. */
    double end_ms =
        (json_number_value(json_object_get(claims, "exp")) + (double)(A.cfg->edge.auth.leeway_ms / 1000)) * 1000.0;
    /* Converted only within int64_t's range (beyond it the conversion is undefined): years ahead is never. */
    grant->expires_ms = end_ms >= 9e18 ? INT64_MAX : end_ms < 1 ? 1 : (int64_t)end_ms;
    grant->keys_only = keys != NULL;
    json_decref(claims);
    return refused ? refuse_403(req, ctr, body) : 0;
}

static int peer_key(h2o_req_t *req, uint8_t key[16])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (req->conn->callbacks->get_peername == NULL ||
        req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
        return -1;
    return rc_iplimit_key((struct sockaddr *)&ss, key);
}

int rc_access_check(h2o_req_t *req, const rc_stream_conf_t *conf, rc_edge_counters_t *ctr, rc_grant_t *grant)
{
    grant->expires_ms = 0;
    grant->keys_only = 0;
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
              h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (post && !conf->publish)
        return 0; /* 405 follows, whoever asks */
    if (!post && !get)
        return 0;
    if (conf->auth == RC_AUTH_REQUIRED && check_token(req, conf, post, ctr, grant))
        return 1;
    uint8_t key[16];
    uint64_t retry_ms;
    const rc_config_t *cfg = A.cfg;
    if (post && A.table != NULL && cfg->edge.limits.publish_per_minute > 0 && peer_key(req, key) == 0 &&
        rc_iplimit_take(A.table, key, rc_now_mono_ns() / 1000, (uint64_t)cfg->edge.limits.publish_per_minute,
                        (uint64_t)cfg->edge.limits.publish_burst, &retry_ms) != 0) {
        RC_EDGE_COUNT(ctr, limited_publish, 1);
        return refuse_429(req, (retry_ms + 999) / 1000, "too many events published from this address: retry later\n");
    }
    return 0;
}

int rc_access_admin(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (req->conn->callbacks->get_sockname == NULL ||
        req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss) == 0)
        return 0;
    const void *addr;
    size_t alen;
    int port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        addr = &a->sin_addr, alen = sizeof(a->sin_addr), port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        addr = &a->sin6_addr, alen = sizeof(a->sin6_addr), port = ntohs(a->sin6_port);
    } else {
        return 0;
    }
    /* The listener bound to this very address, else one bound to every address on the port. */
    int wildcard = 0;
    const rc_config_t *cfg = A.cfg;
    for (size_t i = 0; i < cfg->edge.n_listen; i++) {
        const rc_listen_conf_t *l = &cfg->edge.listen[i];
        unsigned char bin[16];
        if (l->port != port)
            continue;
        int fam = inet_pton(AF_INET, l->address, bin) == 1    ? AF_INET
                  : inet_pton(AF_INET6, l->address, bin) == 1 ? AF_INET6
                                                              : 0;
        if (fam == ss.ss_family && memcmp(bin, addr, alen) == 0)
            return l->admin;
        if ((strcmp(l->address, "0.0.0.0") == 0 || strcmp(l->address, "::") == 0) && l->admin)
            wildcard = 1;
    }
    return wildcard;
}

int rc_access_stream_begin(h2o_req_t *req, size_t worker, rc_edge_counters_t *ctr, int32_t *slot)
{
    *slot = RC_IPLIMIT_UNTRACKED;
    const rc_config_t *cfg = A.cfg;
    uint8_t key[16];
    if (A.table == NULL || cfg->edge.limits.streams_per_ip <= 0 || peer_key(req, key) != 0)
        return 0;
    *slot = rc_iplimit_open(A.table, key, worker, (uint32_t)cfg->edge.limits.streams_per_ip);
    if (*slot != RC_IPLIMIT_REFUSED)
        return 0;
    RC_EDGE_COUNT(ctr, limited_streams, 1);
    return refuse_429(req, (cfg->edge.retry_ms + 999) / 1000, "too many streams open from this address\n");
}

void rc_access_stream_end(size_t worker, int32_t slot)
{
    rc_iplimit_close(A.table, slot, worker);
}

h2o_iovec_t rc_access_metrics(h2o_mem_pool_t *pool)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "# HELP ringcast_ip_table_full_total requests served without per-IP limits: no room in the "
                     "table\n# TYPE ringcast_ip_table_full_total counter\nringcast_ip_table_full_total %" PRIu64 "\n",
                     rc_iplimit_full_count(A.table));
    return h2o_strdup(pool, buf, (size_t)n);
}

/* --- CORS -------------------------------------------------------------------------------------- */

int rc_access_cors(const rc_config_t *cfg, h2o_req_t *req)
{
    if (cfg->edge.cors.n_origins == 0)
        return 0;
    /* The answer depends on Origin whether or not this request has one: caches must know. */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return 0;
    h2o_iovec_t origin = req->headers.entries[i].value;
    int listed = 0, any = 0;
    for (size_t o = 0; o < cfg->edge.cors.n_origins; o++) {
        const char *allowed = cfg->edge.cors.origins[o];
        if (strcmp(allowed, "*") == 0)
            any = 1;
        else if (h2o_lcstris(origin.base, origin.len, allowed, strlen(allowed)))
            listed = 1;
    }
    int preflight = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
                    h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1) >= 0;
    if (!listed && !any)
        return preflight ? answer(req, 403, "Forbidden", "origin not allowed\n") : 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
    /* Credentials only for origins named in the list: "*" with cookies would let any site read
     * what a signed-in user may read. */
    if (listed && cfg->edge.cors.credentials)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-credentials"), 0, NULL,
                              H2O_STRLIT("true"));
    if (!preflight) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                              H2O_STRLIT("Retry-After, WWW-Authenticate"));
        return 0;
    }
    char age[24];
    int n = snprintf(age, sizeof(age), "%" PRIu64, cfg->edge.cors.max_age_ms / 1000);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("GET, POST"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT("Content-Type, Authorization, Last-Event-ID"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          h2o_strdup(&req->pool, age, (size_t)n).base, (size_t)n);
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, "", 0);
    return 1;
}

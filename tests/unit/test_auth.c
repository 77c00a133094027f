/*
 * Unit tests of the token check of the edge (rc_auth_verify() in edge/auth.c): the boundaries of
 * exp, nbf and the leeway, issuer and audience, the algorithm rules, malformed tokens and claims.
 * Tokens are made with libjwt's encoder, at a fixed time, against an HS256 secret in a temp file.
 */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../edge/auth.h"
#include "log.h"
#include "tap.h"

#define NOW    INT64_C(2000000000)
#define SECRET "unit-test-secret-0123456789abcdef-xyz"

static char dir[64];

/* Loads a config with HS256 (and the given edge.auth extras) into the access module. */
static int setup(const char *extra)
{
    char path[128], yaml[1024], err[256];
    snprintf(path, sizeof(path), "%s/secret", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(SECRET "\n", f); /* the final newline is not part of the secret */
    fclose(f);
    int n = snprintf(yaml, sizeof(yaml),
                     "streams: [{name: s, topics: [s], auth: required}]\n"
                     "edge: {auth: {hs256_secret_file: %s, leeway: 10s%s}}\n",
                     path, extra);
    rc_errors_t errs = {0};
    static rc_config_t *cfg;
    rc_config_free(cfg);
    cfg = rc_config_load_string("test.yaml", yaml, (size_t)n, &errs);
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s\n", errs.msgs[i]);
    rc_errors_free(&errs);
    if (cfg == NULL || rc_access_init(cfg, err, sizeof(err)) != 0)
        return -1;
    return 0;
}

/* A token of alg over claims (JSON), signed with key (NULL: the test secret). Caller frees. */
static char *make(jwt_alg_t alg, const char *key, const char *claims)
{
    jwt_t *j;
    if (jwt_new(&j) != 0)
        return NULL;
    if (key == NULL)
        key = SECRET;
    jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)key,
                alg == JWT_ALG_NONE ? 0 : (int)strlen(key));
    if (jwt_add_grants_json(j, claims) != 0) {
        jwt_free(j);
        return NULL;
    }
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

/* The reason a token is refused, or "ok". */
static const char *verdict(const char *token)
{
    json_t *claims = NULL;
    const char *why = "?";
    if (token == NULL)
        return "no token made";
    if (rc_auth_verify(token, strlen(token), NOW, &claims, &why) != RC_TOKEN_OK)
        return why;
    json_decref(claims);
    return "ok";
}

static const char *verdict_of(jwt_alg_t alg, const char *key, const char *claims)
{
    static char buf[128];
    char *t = make(alg, key, claims);
    snprintf(buf, sizeof(buf), "%s", verdict(t));
    free(t);
    return buf;
}

#define HS(claims) verdict_of(JWT_ALG_HS256, NULL, claims)

TEST(a_valid_hs256_token_gives_its_claims)
{
    REQUIRE(setup("") == 0);
    char *t = make(JWT_ALG_HS256, NULL, "{\"exp\":2000000100,\"streams\":[\"s\"],\"keys\":[\"alice\"]}");
    REQUIRE(t != NULL);
    json_t *claims = NULL;
    const char *why = NULL;
    CHECK_EQ_INT(rc_auth_verify(t, strlen(t), NOW, &claims, &why), RC_TOKEN_OK);
    CHECK(claims != NULL && json_is_array(json_object_get(claims, "keys")));
    json_decref(claims);
    free(t);
}

TEST(exp_and_nbf_allow_exactly_the_leeway)
{
    REQUIRE(setup("") == 0);
    CHECK_EQ_STR(HS("{\"exp\":1999999991}"), "ok"); /* 9 s ago, 10 s of leeway */
    CHECK_EQ_STR(HS("{\"exp\":1999999990}"), "expired");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"nbf\":2000000010}"), "ok");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"nbf\":2000000011}"), "not valid yet (nbf)");
    CHECK_EQ_STR(HS("{\"exp\":2000000100.5}"), "ok"); /* NumericDate may have a fraction */
    CHECK_EQ_STR(HS("{\"exp\":\"2000000100\"}"), "malformed exp claim");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"nbf\":null}"), "malformed nbf claim");
    CHECK_EQ_STR(HS("{\"sub\":\"alice\"}"), "no exp claim");
}

TEST(issuer_and_audience_are_checked_when_configured)
{
    REQUIRE(setup(", issuer: https://id.example, audience: ringcast") == 0);
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"iss\":\"https://id.example\",\"aud\":\"ringcast\"}"), "ok");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"iss\":\"https://id.example\",\"aud\":[\"x\",\"ringcast\"]}"), "ok");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"iss\":\"https://id.example\",\"aud\":[\"x\"]}"), "wrong audience");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"aud\":\"ringcast\"}"), "wrong issuer");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"iss\":\"https://id.example.evil\",\"aud\":\"ringcast\"}"), "wrong issuer");
    REQUIRE(setup("") == 0);
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"iss\":\"anyone\"}"), "ok");
}

TEST(only_the_configured_algorithm_with_its_own_key)
{
    REQUIRE(setup("") == 0);
    CHECK_EQ_STR(verdict_of(JWT_ALG_NONE, NULL, "{\"exp\":2000000100}"), "signing algorithm not accepted");
    CHECK_EQ_STR(verdict_of(JWT_ALG_HS384, NULL, "{\"exp\":2000000100}"), "signing algorithm not accepted");
    CHECK_EQ_STR(verdict_of(JWT_ALG_HS512, NULL, "{\"exp\":2000000100}"), "signing algorithm not accepted");
    CHECK_EQ_STR(verdict_of(JWT_ALG_HS256, "another-secret-of-enough-length-0123456789", "{\"exp\":2000000100}"),
                 "bad signature or malformed");
    /* RS256 is not configured: a header naming it is refused before any key is tried. */
    CHECK_EQ_STR(verdict("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjIwMDAwMDAxMDB9.c2ln"), "signing algorithm not accepted");
    /* The HS256 header with an empty signature: libjwt would read it as unsigned. */
    char *t = make(JWT_ALG_HS256, NULL, "{\"exp\":2000000100}");
    REQUIRE(t != NULL);
    *(strrchr(t, '.') + 1) = '\0';
    CHECK_EQ_STR(verdict(t), "no signature");
    free(t);
}

TEST(malformed_tokens_and_claims_are_refused)
{
    REQUIRE(setup("") == 0);
    CHECK_EQ_STR(verdict(""), "malformed");
    CHECK_EQ_STR(verdict("abc"), "malformed");
    CHECK_EQ_STR(verdict("a.b"), "malformed");
    CHECK_EQ_STR(verdict("a.b.c.d"), "malformed");
    CHECK_EQ_STR(verdict(".eyJleHAiOjF9.c2ln"), "malformed");
    CHECK_EQ_STR(verdict("bm90IGpzb24.eyJleHAiOjF9.c2ln"), "malformed"); /* header "not json" */
    CHECK_EQ_STR(verdict("WzFd.eyJleHAiOjF9.c2ln"), "malformed");        /* header [1] */
    CHECK_EQ_STR(verdict("!!!.eyJleHAiOjF9.c2ln"), "malformed");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"streams\":\"s\"}"), "malformed streams, keys or publish claim");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"keys\":[\"a\",1]}"), "malformed streams, keys or publish claim");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"publish\":1}"), "malformed streams, keys or publish claim");
    CHECK_EQ_STR(HS("{\"exp\":2000000100,\"publish\":true,\"streams\":[],\"keys\":[]}"), "ok");
    char big[9000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[10] = big[20] = '.';
    CHECK_EQ_STR(verdict(big), "longer than 8192 bytes"); /* RC_TOKEN_MAX: ?access_token= takes as much */
    big[8192] = '\0';
    CHECK_EQ_STR(verdict(big), "malformed"); /* as long as allowed: read, and refused for what it is */
}

TEST(key_files_are_checked_at_start)
{
    char yaml[512], err[256];
    snprintf(yaml, sizeof(yaml), "streams: [{name: s, topics: [s]}]\nedge: {auth: {rs256_public_key: %s/secret}}\n",
             dir);
    rc_errors_t errs = {0};
    rc_config_t *cfg = rc_config_load_string("t.yaml", yaml, strlen(yaml), &errs);
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(rc_access_init(cfg, err, sizeof(err)), -1);
    CHECK(strstr(err, "not a PEM public key") != NULL);
    rc_config_free(cfg);
    snprintf(yaml, sizeof(yaml), "streams: [{name: s, topics: [s]}]\nedge: {auth: {hs256_secret_file: %s/none}}\n",
             dir);
    cfg = rc_config_load_string("t.yaml", yaml, strlen(yaml), &errs);
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(rc_access_init(cfg, err, sizeof(err)), -1);
    CHECK(strstr(err, "No such file") != NULL);
    rc_config_free(cfg);
    rc_errors_free(&errs);
}

int main(void)
{
    rc_log_set_level(RC_LOG_ERROR);
    snprintf(dir, sizeof(dir), "/dev/shm/rc-test-auth-%d", (int)getpid());
    if (mkdir(dir, 0700) != 0) {
        printf("Bail out! mkdir %s\n", dir);
        return 1;
    }
    int rc = tap_run();
    char path[128];
    snprintf(path, sizeof(path), "%s/secret", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}

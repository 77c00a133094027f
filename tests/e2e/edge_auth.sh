#!/bin/bash
# ringcast-edge access control end to end, with the bridge on librdkafka's mock cluster: JWT
# (HS256 and RS256) from a cookie, Authorization: Bearer and ?access_token=; expired, not yet valid,
# tampered, alg none, wrong key, algorithm confusion (an RS256 public key used as an HMAC secret);
# the streams, keys and publish claims, and every spelling of key= that could widen a keys claim;
# streams that end when their token expires (HTTP/1.1 and HTTP/2); POSTs authenticated by cookie
# from other sites; /streams, /metrics and /healthz naming auth: required streams only on the admin
# listener; CORS preflight and simple requests; the per-IP stream limit shared by two workers (also
# after they were killed and restarted) and the per-IP publish rate. Every assertion is on what a
# real client got.
. "$(dirname "$0")/../lib.sh"
need kcat curl openssl python3
RINGS=$T/rings
PORT=$(free_port)
RS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
RS_ADMIN_PORT=$(free_port)
URL=http://127.0.0.1:$PORT
RS_URL=http://127.0.0.1:$RS_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT
APP=https://app.example.com

# Keys: an HS256 secret, another secret, and two RSA key pairs (the second one signs "wrong key").
printf '%s' 'ringcast-test-secret-0123456789abcdef' >"$T/secret"
printf '%s' 'some-other-secret-0123456789abcdef!!' >"$T/other-secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rs.key" 2>/dev/null
openssl pkey -in "$T/rs.key" -pubout -out "$T/rs.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rs-other.key" 2>/dev/null

# jwt ALG KEYFILE CLAIMS: a compact JWT. HS256 with python3's hmac, RS256 with openssl dgst -sign,
# "none" with an empty signature.
cat >"$T/jwt.py" <<'EOT'
import base64, hashlib, hmac, json, subprocess, sys
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
alg, keyfile, claims = sys.argv[1], sys.argv[2], sys.argv[3]
msg = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(claims.encode())
if alg == "HS256":
    sig = b64(hmac.new(open(keyfile, "rb").read(), msg.encode(), hashlib.sha256).digest())
elif alg == "RS256":
    sig = b64(subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=msg.encode(),
                             capture_output=True, check=True).stdout)
else:
    sig = ""
print(msg + "." + sig)
EOT
jwt() { python3 "$T/jwt.py" "$@"; }
NOW=$(date +%s)
EXP=$((NOW + 3600))
STD="\"iss\":\"test-issuer\",\"aud\":[\"ringcast-test\",\"x\"],\"exp\":$EXP"

cat >"$T/a.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: open, topics: [open], start: oldest, publish: true}
  - {name: private, topics: [private], start: oldest, auth: required, publish: true}
  - {name: other, topics: [other], start: oldest, auth: required}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}, {address: 127.0.0.1, port: $ADMIN_PORT, admin: true}]
  workers: 2
  heartbeat: 1s
  publish_timeout: 1s
  auth: {hs256_secret_file: $T/secret, cookie: rc_tok, issuer: test-issuer, audience: ringcast-test, leeway: 1s}
  cors: {origins: ["$APP"], credentials: true, max_age: 5m}
  limits: {streams_per_ip: 4, publish_per_minute: 1, publish_burst: 3}
log: {level: debug}
EOT
# The second edge checks RS256 only, with no limits; it serves the same rings.
sed -e "s/port: $PORT}/port: $RS_PORT}/" -e "s/port: $ADMIN_PORT,/port: $RS_ADMIN_PORT,/" -e "s|hs256_secret_file: $T/secret|rs256_public_key: $T/rs.pub|" \
    -e '/limits:/d' -e 's/workers: 2/workers: 1/' "$T/a.yaml" >"$T/b.yaml"

start_bridge "$T/a.yaml"
ok "the HS256 edge answers" start_edge "$T/a.yaml"
ok "the RS256 edge answers" start_edge "$T/b.yaml" edge_rs "$RS_URL"

for i in 1 2 3; do
    echo "alice:a$i" | kcat -P -b "$BOOT" -t private -K:
    echo "bob:b$i" | kcat -P -b "$BOOT" -t private -K:
done
# Records without a key (null in Kafka), with an empty key, and with an event type.
echo "n1" | kcat -P -b "$BOOT" -t private
echo ":e1" | kcat -P -b "$BOOT" -t private -K:
echo "alice:a-note" | kcat -P -b "$BOOT" -t private -K: -H event=note
echo "bob:b-note" | kcat -P -b "$BOOT" -t private -K: -H event=note
echo "n-note" | kcat -P -b "$BOOT" -t private -H event=note
echo "x:o1" | kcat -P -b "$BOOT" -t other -K:
echo "k:o-first" | kcat -P -b "$BOOT" -t open -K:
ok "the records are in the rings" wait_for 20 sh -c "curl -s '$ADMIN/streams' | grep -q '\"name\":\"private\",\"available\":true,\"records\":11'"

# get URL [curl args...]: "STATUS|BODY" (the body's lines joined by spaces) of a finite request.
get() {
    local url=$1
    shift
    curl -s --max-time 5 -o "$T/body" -w '%{http_code}' "$@" "$url" >"$T/code"
    printf '%s|%s' "$(cat "$T/code")" "$(tr '\n' ' ' <"$T/body" | sed 's/ $//')"
}
data() { get "$@" >/dev/null; printf '%s|%s' "$(cat "$T/code")" "$(sed -n 's/^data: //p' "$T/body" | tr '\n' ' ')"; }
n401=0 n403=0

# --- token sources -----------------------------------------------------------------------------
GOOD=$(jwt HS256 "$T/secret" "{$STD}")
is "no token: 401 and the ways to send one" "$(get "$URL/streams/private?limit=1")" \
    "401|this stream needs a token: Authorization: Bearer, ?access_token= or the rc_tok cookie"
n401=$((n401 + 1))
curl -s -D "$T/h401" -o /dev/null "$URL/streams/private?limit=1"
ok "401 carries WWW-Authenticate: Bearer" grep -qi '^www-authenticate: Bearer realm="ringcast"' "$T/h401"
n401=$((n401 + 1))
is "Authorization: Bearer: 200 and the events" "$(data "$URL/streams/private?limit=2" -H "Authorization: Bearer $GOOD")" \
    "200|a1 b1 "
is "cookie: 200 and the events" "$(data "$URL/streams/private?limit=2" -H "Cookie: theme=dark; rc_tok=$GOOD; x=1")" \
    "200|a1 b1 "
is "?access_token=: 200, and it is no filter (every key comes)" \
    "$(data "$URL/streams/private?limit=2&access_token=$GOOD")" "200|a1 b1 "
is "over HTTP/2 (h2c) as well" \
    "$(data "$URL/streams/private?limit=1" --http2-prior-knowledge -H "Authorization: Bearer $GOOD")" "200|a1 "
is "a stream with auth: off needs no token" "$(data "$URL/streams/open?limit=1")" "200|o-first "

# --- bad tokens: 401 ---------------------------------------------------------------------------
bad() { # bad DESCRIPTION TOKEN WANT_BODY
    is "$1: 401" "$(get "$URL/streams/private?limit=1" -H "Authorization: Bearer $2")" "401|$3"
    n401=$((n401 + 1))
}
bad "expired" "$(jwt HS256 "$T/secret" "{\"iss\":\"test-issuer\",\"aud\":\"ringcast-test\",\"exp\":$((NOW - 3600))}")" \
    "invalid token: expired"
bad "nbf in the future" "$(jwt HS256 "$T/secret" "{$STD,\"nbf\":$((NOW + 3600))}")" "invalid token: not valid yet (nbf)"
bad "no exp" "$(jwt HS256 "$T/secret" '{"iss":"test-issuer","aud":"ringcast-test"}')" "invalid token: no exp claim"
bad "wrong issuer" "$(jwt HS256 "$T/secret" "{\"iss\":\"evil\",\"aud\":\"ringcast-test\",\"exp\":$EXP}")" \
    "invalid token: wrong issuer"
bad "wrong audience" "$(jwt HS256 "$T/secret" "{\"iss\":\"test-issuer\",\"aud\":\"other\",\"exp\":$EXP}")" \
    "invalid token: wrong audience"
# Tampered payload: other claims (a later exp) under GOOD's header and signature.
FORGED="$(echo "$GOOD" | cut -d. -f1).$(printf '{%s,"nbf":1}' "$STD" | base64 -w0 | tr '+/' '-_' | tr -d '=').$(echo "$GOOD" | cut -d. -f3)"
bad "tampered payload" "$FORGED" "invalid token: bad signature or malformed"
LIMITED=$(jwt HS256 "$T/secret" "{$STD,\"streams\":[\"other\"]}")
SIG=$(echo "$GOOD" | cut -d. -f3)
FLIP=$([ "${SIG:5:1}" = A ] && echo B || echo A)
bad "tampered signature" "$(echo "$GOOD" | cut -d. -f1-2).${SIG:0:5}$FLIP${SIG:6}" "invalid token: bad signature or malformed"
bad "alg none" "$(jwt none /dev/null "{$STD}")" "invalid token: signing algorithm not accepted"
bad "alg none with a signature attached" "$(jwt none /dev/null "{$STD}")$SIG" "invalid token: signing algorithm not accepted"
bad "signed with another secret" "$(jwt HS256 "$T/other-secret" "{$STD}")" "invalid token: bad signature or malformed"
bad "RS256 token where only HS256 is configured" "$(jwt RS256 "$T/rs.key" "{$STD}")" \
    "invalid token: signing algorithm not accepted"
bad "not a JWT" "hello" "invalid token: malformed"
is "a bad cookie is a 401 too" "$(get "$URL/streams/private?limit=1" -H "Cookie: rc_tok=x.y.z" | cut -c1-4)" "401|"
n401=$((n401 + 1))

# --- claims: 403 -------------------------------------------------------------------------------
ALICE=$(jwt HS256 "$T/secret" "{$STD,\"streams\":[\"private\"],\"keys\":[\"alice\"]}")
is "keys [alice]: key=alice gives alice's events only" \
    "$(data "$URL/streams/private?key=alice&limit=3" -H "Authorization: Bearer $ALICE")" "200|a1 a2 a3 "
forbid() { # forbid DESCRIPTION URL TOKEN WANT_BODY [curl args]
    is "$1: 403" "$(get "$2" -H "Authorization: Bearer $3" "${@:5}")" "403|$4"
    n403=$((n403 + 1))
}
KEYS_ONLY="this token only allows the keys it names: ask with key= and one of them"
forbid "keys [alice]: key=bob" "$URL/streams/private?key=bob&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: no key=" "$URL/streams/private?limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=alice&key=bob" "$URL/streams/private?key=alice&key=bob&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: a URL-encoded other key" "$URL/streams/private?key=%61lice2&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "streams [private]: the stream other" "$URL/streams/other?key=alice&limit=1" "$ALICE" \
    "this token does not allow the stream other"
is "streams [other]: other is allowed" "$(data "$URL/streams/other?limit=1" -H "Authorization: Bearer $LIMITED")" "200|o1 "
forbid "POST without a publish claim" "$URL/streams/private?key=alice" "$ALICE" \
    "this token does not allow publishing to private" -X POST -d hi

# --- a keys claim cannot be widened by the query ---------------------------------------------------
# private holds, in order: a1 b1 a2 b2 a3 b3, n1 (no key), e1 (empty key), a-note, b-note and n-note
# (no key) with event: note. A token with keys [alice] gets alice's records and nothing else.
ALICE4="200|a1 a2 a3 a-note "
alice() { data "$URL/streams/private?$1" -H "Authorization: Bearer $ALICE" "${@:2}"; }
is "keys [alice], key=alice: alice's records only (no keyless one)" "$(alice 'key=alice&limit=4')" "$ALICE4"
is "keys [alice], key=alice&key=alice (repeated): the same" "$(alice 'key=alice&key=alice&limit=4')" "$ALICE4"
is "keys [alice], key=%61lice: the same" "$(alice 'key=%61lice&limit=4')" "$ALICE4"
is "keys [alice], key=al%69ce: the same" "$(alice 'key=al%69ce&limit=4')" "$ALICE4"
is "keys [alice], key=%61%6C%69%63%65 (all of it encoded): the same" "$(alice 'key=%61%6C%69%63%65&limit=4')" "$ALICE4"
is "keys [alice], key=alice&partition=0: the same" "$(alice 'key=alice&partition=0&limit=4')" "$ALICE4"
is "keys [alice], key=alice&event=note: a-note only" "$(alice 'key=alice&event=note&limit=1')" "200|a-note "
is "keys [alice], key=alice&event= (no event type): a1 a2 a3" "$(alice 'key=alice&event=&limit=3')" "200|a1 a2 a3 "
is "keys [alice], key=alice&since=0: from the oldest, alice's only" "$(alice 'key=alice&since=0&limit=4')" "$ALICE4"
is "keys [alice], key=alice&since=2000-01-01T00:00:00Z: the same" \
    "$(alice 'key=alice&since=2000-01-01T00:00:00Z&limit=4')" "$ALICE4"
A1_ID=$(curl -s --max-time 5 -H "Authorization: Bearer $ALICE" "$URL/streams/private?key=alice&limit=1" | sed -n 's/^id: //p')
ok "alice's first event has an id" test -n "$A1_ID"
is "keys [alice], key=alice&lastEventId=<a1>: a2 a3 a-note, no keyless record" \
    "$(alice "key=alice&lastEventId=$A1_ID&limit=3")" "200|a2 a3 a-note "
is "keys [alice], key=alice with Last-Event-ID: <a1>: the same" \
    "$(alice 'key=alice&limit=3' -H "Last-Event-ID: $A1_ID")" "200|a2 a3 a-note "
is "keys [alice], key=alice over HTTP/2 with access_token=: the same" \
    "$(data "$URL/streams/private?key=%61lice&access_token=$ALICE&limit=4" --http2-prior-knowledge)" "$ALICE4"
is "keys [alice], a bare key after key=alice: 400, nothing served" "$(alice 'key=alice&key&limit=4')" \
    "400|"
is "  with the reason" "$(cat "$T/body")" "bad query: key: needs a value (key=...)"
is "keys [alice], a bare key alone: 400" "$(alice 'key&limit=1')" "400|"
forbid "keys [alice]: key=alice&key= (an empty key)" "$URL/streams/private?key=alice&key=&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key= alone" "$URL/streams/private?key=&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=%62ob" "$URL/streams/private?key=%62ob&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=ALICE" "$URL/streams/private?key=ALICE&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=alice%00" "$URL/streams/private?key=alice%00&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=alice+ (alice and a space)" "$URL/streams/private?key=alice+&limit=1" "$ALICE" "$KEYS_ONLY"
forbid "keys [alice]: key=bob with ?access_token=" "$URL/streams/private?access_token=$ALICE&key=bob&limit=1" "" \
    "$KEYS_ONLY"
is "keys [alice]: a percent-encoded parameter name (%6bey=bob) is no key: 400" \
    "$(alice 'key=alice&%6bey=bob&limit=1')" "400|"
EMPTY=$(jwt HS256 "$T/secret" "{$STD,\"keys\":[\"\"]}")
is "keys [\"\"], key=: the record with an empty key, never those without a key" \
    "$(data "$URL/streams/private?key=&timeout=2" -H "Authorization: Bearer $EMPTY")" "200|e1 "
is "a token without keys claim, a bare key: 400 too" "$(data "$URL/streams/private?key&limit=1" -H "Authorization: Bearer $GOOD")" \
    "400|"
is "a stream without auth, a bare key: 400" "$(get "$URL/streams/open?key&limit=1")" \
    "400|bad query: key: needs a value (key=...)"
is "a token without keys claim, key= (empty): records with an empty or no key, as before" \
    "$(data "$URL/streams/private?key=&timeout=2" -H "Authorization: Bearer $GOOD")" "200|n1 e1 n-note "

# --- a stream ends when its token expires -----------------------------------------------------------
# A token valid for 3 s (exp now+3, leeway 1s): the stream ends with event: expired and a clean end
# of the response (HTTP/1.1: the last chunk, seen with --raw; HTTP/2: curl exits 0 only after the
# stream's END_STREAM), well before curl's own limit of 30 s.
SHORT=$(jwt HS256 "$T/secret" "{\"iss\":\"test-issuer\",\"aud\":\"ringcast-test\",\"exp\":$(($(date +%s) + 3))}")
EXPIRED_EV=$(printf 'event: expired\ndata: {"reason":"the token expired: reconnect with a new one"}\n\n')
t0=$SECONDS
spawn exp_h1 sh -c "curl -sN --raw --max-time 30 -H 'Authorization: Bearer $SHORT' '$URL/streams/private' >'$T/exp_h1.body'; echo \"rc=\$?\" >'$T/exp_h1.rc'"
spawn exp_h2 sh -c "curl -sN --http2-prior-knowledge --max-time 30 -H 'Authorization: Bearer $SHORT' '$URL/streams/private' >'$T/exp_h2.body'; echo \"rc=\$?\" >'$T/exp_h2.rc'"
ok "both expiring streams end" wait_for 30 sh -c "test -s '$T/exp_h1.rc' && test -s '$T/exp_h2.rc'"
ok "not before the token expired ($((SECONDS - t0)) s after they opened)" test $((SECONDS - t0)) -ge 2
is "HTTP/1.1: curl saw a complete response" "$(cat "$T/exp_h1.rc")" "rc=0"
is "HTTP/1.1: the events, then event: expired in the last data chunk, then the last chunk" \
    "$(tr -d '\r' <"$T/exp_h1.body" | grep -c '^data: a1')|$(tail -c $((${#EXPIRED_EV} + 9)) "$T/exp_h1.body" | od -An -c | tr -s ' \n' ' ')" \
    "1|$(printf '%s\n\n\r\n0\r\n\r\n' "$EXPIRED_EV" | od -An -c | tr -s ' \n' ' ')"
is "HTTP/2: curl saw the end of the stream" "$(cat "$T/exp_h2.rc")" "rc=0"
is "HTTP/2: the events, then event: expired last" \
    "$(grep -c '^data: a1' "$T/exp_h2.body")|$(tail -c $((${#EXPIRED_EV} + 2)) "$T/exp_h2.body" | od -An -c | tr -s ' \n' ' ')" \
    "1|$(printf '%s\n\n' "$EXPIRED_EV" | od -An -c | tr -s ' \n' ' ')"
is "a stream opened with a token valid for an hour is not ended with them" \
    "$(data "$URL/streams/private?limit=1" -H "Authorization: Bearer $GOOD")" "200|a1 "
is "the expired token is refused when the client comes back with it: 401" \
    "$(get "$URL/streams/private?limit=1" -H "Authorization: Bearer $SHORT")" "401|invalid token: expired"
n401=$((n401 + 1))

# --- RS256 edge: algorithm confusion, wrong key, publish claim -----------------------------------
RS_GOOD=$(jwt RS256 "$T/rs.key" "{$STD,\"publish\":[\"private\"]}")
is "RS256: a valid token: 200 and the events" "$(data "$RS_URL/streams/private?limit=2" -H "Authorization: Bearer $RS_GOOD")" \
    "200|a1 b1 "
rs_bad() {
    is "RS256 edge, $1: 401" "$(get "$RS_URL/streams/private?limit=1" -H "Authorization: Bearer $2")" "401|$3"
}
rs_bad "an HS256 token" "$(jwt HS256 "$T/secret" "{$STD}")" "invalid token: signing algorithm not accepted"
rs_bad "HS256 signed with the RS256 public key as secret (confusion attack)" "$(jwt HS256 "$T/rs.pub" "{$STD}")" \
    "invalid token: signing algorithm not accepted"
rs_bad "signed by another RSA key" "$(jwt RS256 "$T/rs-other.key" "{$STD}")" "invalid token: bad signature or malformed"
rs_bad "alg none" "$(jwt none /dev/null "{$STD}")" "invalid token: signing algorithm not accepted"
publish_ready() { curl -s -o /dev/null -w '%{http_code}' -X POST -d probe -H "Authorization: Bearer $RS_GOOD" \
    "$RS_URL/streams/private?key=probe" | grep -q 201; }
ok "publish [private]: POST 201 once Kafka is reachable" wait_for 20 publish_ready
r=$(curl -s -w ' %{http_code}' -X POST -d 'from-rs' -H "Authorization: Bearer $RS_GOOD" "$RS_URL/streams/private?key=carol")
ok "publish [private]: 201 with the Kafka position" eval '[[ "$r" =~ ^\{\"topic\":\"private\".*\ 201$ ]]'
RS_READER=$(jwt RS256 "$T/rs.key" "{$STD}")
is "no publish claim: POST 403" \
    "$(get "$RS_URL/streams/private" -H "Authorization: Bearer $RS_READER" -X POST -d x)" \
    "403|this token does not allow publishing to private"
is "publish true: POST 201" \
    "$(get "$RS_URL/streams/private?key=carol" -H "Authorization: Bearer $(jwt RS256 "$T/rs.key" "{$STD,\"publish\":true}")" \
        -X POST -d x | cut -c1-4)" "201|"
is "the published event reaches a reader with keys [carol]" \
    "$(data "$RS_URL/streams/private?key=carol&limit=1" \
        -H "Authorization: Bearer $(jwt RS256 "$T/rs.key" "{$STD,\"keys\":[\"carol\"]}")")" "200|from-rs "

# --- POSTs authenticated by cookie come from this site or a listed origin ------------------------
# The RS256 edge: its own origin is http://127.0.0.1:$RS_PORT, edge.cors.origins lists $APP. A
# refused POST never reaches Kafka: the reader of key csrf below gets exactly the accepted ones.
CSRF_BODY="cross-site POST refused: with the token in a cookie, the Origin (or Referer) must be this site or one of edge.cors.origins"
post() { get "$RS_URL/streams/private?key=csrf" -X POST --data-raw "$1" "${@:2}"; }
cpost() { post "$1" -H "Cookie: rc_tok=$RS_GOOD" "${@:2}"; }
FORM=(-H 'Content-Type: application/x-www-form-urlencoded')
is "cookie, a form from another site (Origin: https://evil.example): 403" \
    "$(cpost 'msg=evil-form' "${FORM[@]}" -H 'Origin: https://evil.example')" "403|$CSRF_BODY"
is "cookie, no Origin and a Referer of another site: 403" \
    "$(cpost evil-referer -H 'Referer: https://evil.example/page.html')" "403|$CSRF_BODY"
is "cookie, neither Origin nor Referer: 403" "$(cpost evil-none)" "403|$CSRF_BODY"
is "cookie, Origin: null (a sandboxed page): 403" "$(cpost evil-null -H 'Origin: null')" "403|$CSRF_BODY"
is "cookie, an Origin that only starts like this site's: 403" \
    "$(cpost evil-prefix -H "Origin: http://127.0.0.1:$RS_PORT.evil.example")" "403|$CSRF_BODY"
is "cookie, this site on another port: 403" \
    "$(cpost evil-port -H "Origin: http://127.0.0.1:$PORT")" "403|$CSRF_BODY"
is "cookie, Origin https:// of this host (another scheme): 403" \
    "$(cpost evil-scheme -H "Origin: https://127.0.0.1:$RS_PORT")" "403|$CSRF_BODY"
is "cookie, Origin: * is no origin: 403" "$(cpost evil-star -H 'Origin: *')" "403|$CSRF_BODY"
is "cookie, Origin of this site: 201" \
    "$(cpost same-origin -H "Origin: http://127.0.0.1:$RS_PORT" | cut -c1-4)" "201|"
is "cookie, no Origin, Referer of a page of this site: 201" \
    "$(cpost same-referer -H "Referer: http://127.0.0.1:$RS_PORT/index.html?x=1" | cut -c1-4)" "201|"
is "cookie, Origin listed in edge.cors.origins: 201" "$(cpost app-origin -H "Origin: $APP" | cut -c1-4)" "201|"
is "cookie over HTTP/2, Origin of this site (:authority): 201" \
    "$(cpost h2-same-origin --http2-prior-knowledge -H "Origin: http://127.0.0.1:$RS_PORT" | cut -c1-4)" "201|"
is "Authorization: Bearer is no cookie: 201 whatever the Origin" \
    "$(post bearer-evil-origin -H "Authorization: Bearer $RS_GOOD" -H 'Origin: https://evil.example' | cut -c1-4)" "201|"
is "Authorization: Bearer, a cookie too: the header's token is used, 201" \
    "$(post bearer-and-cookie -H "Authorization: Bearer $RS_GOOD" -H "Cookie: rc_tok=$RS_GOOD" -H 'Origin: https://evil.example' | cut -c1-4)" "201|"
CSRF_READER=$(jwt RS256 "$T/rs.key" "{$STD,\"keys\":[\"csrf\"]}")
is "in the stream: the accepted POSTs, none of the refused ones" \
    "$(data "$RS_URL/streams/private?key=csrf&timeout=3" -H "Authorization: Bearer $CSRF_READER")" \
    "200|same-origin same-referer app-origin h2-same-origin bearer-evil-origin bearer-and-cookie "

# --- CORS --------------------------------------------------------------------------------------
curl -s -D "$T/pre" -o /dev/null -X OPTIONS -H "Origin: $APP" -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: authorization, content-type' "$URL/streams/private"
hdr() { sed -n "s/^$1: //Ip" "$2" | tr -d '\r'; }
is "preflight: 204" "$(head -1 "$T/pre" | tr -d '\r')" "HTTP/1.1 204 No Content"
is "preflight: the origin echoed, credentials, methods, headers, max age, Vary" \
    "$(hdr access-control-allow-origin "$T/pre")|$(hdr access-control-allow-credentials "$T/pre")|$(hdr access-control-allow-methods "$T/pre")|$(hdr access-control-allow-headers "$T/pre")|$(hdr access-control-max-age "$T/pre")|$(hdr vary "$T/pre")" \
    "$APP|true|GET, POST|Content-Type, Authorization, Last-Event-ID|300|Origin"
curl -s -D "$T/pre-evil" -o "$T/pre-evil.body" -X OPTIONS -H 'Origin: https://evil.example' \
    -H 'Access-Control-Request-Method: GET' "$URL/streams/private"
is "preflight from another origin: 403 without any CORS header" \
    "$(head -1 "$T/pre-evil" | tr -d '\r')|$(grep -ci '^access-control-' "$T/pre-evil")|$(cat "$T/pre-evil.body")" \
    "HTTP/1.1 403 Forbidden|0|origin not allowed"
curl -s -D "$T/simple" -o "$T/simple.body" --max-time 5 -H "Origin: $APP" -H "Authorization: Bearer $GOOD" \
    "$URL/streams/private?limit=1"
is "simple GET from the allowed origin: the origin echoed with credentials and Vary" \
    "$(hdr access-control-allow-origin "$T/simple")|$(hdr access-control-allow-credentials "$T/simple")|$(hdr vary "$T/simple")|$(grep -c '^data: a1' "$T/simple.body")" \
    "$APP|true|Origin|1"
curl -s -D "$T/simple401" -o /dev/null -H "Origin: $APP" "$URL/streams/private?limit=1"
n401=$((n401 + 1))
is "a 401 to the allowed origin carries CORS headers (the page can read it)" \
    "$(head -1 "$T/simple401" | tr -d '\r')|$(hdr access-control-allow-origin "$T/simple401")" \
    "HTTP/1.1 401 Unauthorized|$APP"
curl -s -D "$T/simple-evil" -o "$T/simple-evil.body" --max-time 5 -H 'Origin: https://evil.example' \
    "$URL/streams/open?limit=1"
is "simple GET from another origin: served, without any CORS header" \
    "$(head -1 "$T/simple-evil" | tr -d '\r')|$(grep -ci '^access-control-' "$T/simple-evil")" "HTTP/1.1 200 OK|0"

# --- /streams, /metrics and /healthz name auth: required streams only on the admin listener -------
names() { grep -o '"name":"[^"]*"' | cut -d'"' -f4 | tr '\n' ' '; }
is "/streams on the public listener: only the stream without auth" "$(curl -s "$URL/streams" | names)" "open "
is "  over HTTP/2 as well" "$(curl -s --http2-prior-knowledge "$URL/streams" | names)" "open "
ok "  and no topic of the others" sh -c "! curl -s '$URL/streams' | grep -qE 'private|other'"
is "/streams on the admin listener (admin: true): every stream" "$(curl -s "$ADMIN/streams" | names)" "open private other "
is "/metrics on the public listener: series of the open stream only" \
    "$(curl -s "$URL/metrics" | grep -o 'stream="[^"]*"' | sort -u | tr '\n' ' ')" 'stream="open" '
is "/metrics on the admin listener: every stream" \
    "$(curl -s "$ADMIN/metrics" | grep -o 'stream="[^"]*"' | sort -u | tr '\n' ' ')" 'stream="open" stream="other" stream="private" '
is "/healthz on the public listener: the open stream's line only" "$(curl -s "$URL/healthz" | cut -d: -f1 | tr '\n' ' ')" "open "
is "/healthz on the admin listener: every stream's line" "$(curl -s "$ADMIN/healthz" | cut -d: -f1 | tr '\n' ' ')" \
    "open private other "
is "the admin listener serves streams like any other" \
    "$(data "$ADMIN/streams/private?limit=1" -H "Authorization: Bearer $GOOD")" "200|a1 "

# --- per-IP stream limit (4), shared by both workers --------------------------------------------
admin_metric() { metric "$1" "$ADMIN"; } # every stream's series are on the admin listener only
open_now() { admin_metric 'ringcast_streams_open{stream="open",protocol="http1"}'; }
open_is() { test "$(open_now)" = "$1"; }
# per_worker: the clients_this_worker of the stream "open" as seen by each worker, "W0 W1" sorted.
# Every request is a new connection that SO_REUSEPORT hands to either worker; 40 see both.
per_worker() {
    for _ in $(seq 1 40); do
        curl -s "$URL/streams" | grep -o '"name":"open"[^]]*' | grep -o '"clients_this_worker":[0-9]*' | cut -d: -f2
    done | sort -u | tr '\n' ' '
}
n_sub=0
subscribe() { n_sub=$((n_sub + 1)); spawn "sub$n_sub" curl -sN --max-time 60 "$URL/streams/open"; }
for i in 1 2 3 4; do
    subscribe
    wait_for 10 open_is "$i"
done
is "4 streams open from 127.0.0.1" "$(open_now)" 4
# Until the 4 streams are spread over both workers (each connection lands on either), move one.
for _ in $(seq 1 12); do
    spread=$(per_worker)
    case $spread in "1 3 " | "2 " | "3 1 ") break ;; esac
    stop "sub$n_sub" KILL
    wait_for 10 open_is 3
    subscribe
    wait_for 10 open_is 4
done
ok "the 4 streams are on both workers (clients per worker: $spread)" eval 'case "$spread" in "1 3 " | "2 " ) true ;; *) false ;; esac'
is "a 5th stream: 429 with a short body" "$(get "$URL/streams/open")" "429|too many streams open from this address"
curl -s -D "$T/h429" -o /dev/null "$URL/streams/open"
is "429 carries Retry-After" "$(hdr retry-after "$T/h429")" 2
echo "k:live-1" | kcat -P -b "$BOOT" -t open -K:
delivered() { for i in $(seq 1 "$n_sub"); do [ -n "${PIDS[sub$i]:-}" ] || continue; grep -q '^data: live-1' "$T/sub$i.log" || return 1; done; }
ok "the 4 streams below the limit keep delivering" wait_for 20 delivered
subs=$(for i in $(seq 1 "$n_sub"); do [ -n "${PIDS[sub$i]:-}" ] && echo "sub$i"; done)
for s in $(echo "$subs" | head -2); do stop "$s" KILL; done
ok "closing 2 streams: the gauge falls to 2" wait_for 10 open_is 2
subscribe
subscribe
ok "their 2 places can be taken again (whichever worker the new connections reach)" wait_for 10 open_is 4
is "and the next one is refused again" "$(get "$URL/streams/open" | cut -c1-4)" "429|"
# Workers killed with their streams: the master drops what they counted per IP when it restarts them.
for w in $(pgrep -P "${PIDS[edge]}"); do kill -KILL "$w"; done
restarted() { [ "$(grep -c 'killed by signal 9; restarting it' "$T/edge.log")" -ge 2 ]; }
ok "kill -9 of both workers: the master restarts them" wait_for 20 restarted
ok "their streams are gone: the gauge is 0" wait_for 10 open_is 0
for s in $(for i in $(seq 1 "$n_sub"); do [ -n "${PIDS[sub$i]:-}" ] && echo "sub$i"; done); do stop "$s" KILL; done
ok "the restarted workers answer" wait_for 20 curl -sf "$URL/healthz"
for i in 1 2 3 4; do
    subscribe
    wait_for 10 open_is "$i"
done
is "4 new streams from the same address are served" "$(open_now)" 4
is "and a 5th is refused: nothing counted by the dead workers is left" "$(get "$URL/streams/open" | cut -c1-4)" "429|"
for s in $(for i in $(seq 1 "$n_sub"); do [ -n "${PIDS[sub$i]:-}" ] && echo "sub$i"; done); do stop "$s" KILL; done
ok "all closed: the gauge is 0" wait_for 10 open_is 0
is "all closed: 4 finite streams in a row are served again" \
    "$(for i in 1 2 3 4 5; do get "$URL/streams/open?limit=1" | cut -c1-3; done | tr '\n' ' ')" "200 200 200 200 200 "

# --- per-IP publish rate (burst 3, then 1 a minute) --------------------------------------------
codes=$(for i in 1 2 3 4; do curl -s -o "$T/pub$i" -w '%{http_code} ' -X POST -d "p$i" "$URL/streams/open?key=k"; done)
ok "3 POSTs within the burst are not limited (got: $codes)" eval '[[ "$codes" =~ ^(201|503)\ (201|503)\ (201|503)\ 429\ $ ]]'
is "the 4th: 429 with a short body" "$(cat "$T/pub4")" "too many events published from this address: retry later"
curl -s -D "$T/hpub" -o /dev/null -X POST -d p5 "$URL/streams/open?key=k"
ok "its Retry-After is within the minute it takes to refill one ($(hdr retry-after "$T/hpub") s)" \
    eval '[ "$(hdr retry-after "$T/hpub")" -ge 1 ] && [ "$(hdr retry-after "$T/hpub")" -le 60 ]'

# --- counters and logs -------------------------------------------------------------------------
is "/metrics: 401s counted" "$(admin_metric 'ringcast_auth_refused_total{stream="private",status="401"}')" "$n401"
is "/metrics: 403s counted" "$(admin_metric 'ringcast_auth_refused_total{stream="private",status="403"}')+$(admin_metric 'ringcast_auth_refused_total{stream="other",status="403"}')" "$((n403 - 1))+1"
is "/metrics: 429s of the stream limit counted (the restarted workers' too)" \
    "$(admin_metric 'ringcast_limited_total{stream="open",limit="streams_per_ip"}')" 4
is "/metrics: 429s of the publish rate counted" "$(admin_metric 'ringcast_limited_total{stream="open",limit="publish_rate"}')" 2
ok "the debug log says why tokens were refused" grep -q 'private: token refused: expired' "$T/edge.log"
ok "no token ever appears in the log" sh -c "! grep -qF '$(echo "$GOOD" | cut -d. -f2)' '$T/edge.log'"

# --- key rotation by reload (SIGHUP to the master) ------------------------------------------------
# A key file that does not load rejects the whole reload; a new one replaces the running key.
sed -i "s|hs256_secret_file: $T/secret|hs256_secret_file: $T/missing-secret|" "$T/a.yaml"
kill -HUP "${PIDS[edge]}"
ok "reload: a key file that does not load is named and the reload rejected" \
    wait_for 20 grep -q "missing-secret: No such file or directory" "$T/edge.log"
wait_for 20 grep -q "rejected; the running config stays" "$T/edge.log"
is "reload rejected: the running key still opens the stream" "$(data "$URL/streams/private?limit=1" -H "Authorization: Bearer $GOOD")" "200|a1 "
sed -i "s|hs256_secret_file: $T/missing-secret|hs256_secret_file: $T/other-secret|" "$T/a.yaml"
kill -HUP "${PIDS[edge]}"
ok "reload: the new key is applied" wait_for 20 grep -q "generation 1 applied" "$T/edge.log"
ROTATED=$(jwt HS256 "$T/other-secret" "{$STD}")
is "reload: a token signed with the new key opens the stream" \
    "$(data "$URL/streams/private?limit=1" -H "Authorization: Bearer $ROTATED")" "200|a1 "
is "reload: a token signed with the old key is refused" \
    "$(get "$URL/streams/private?limit=1" -H "Authorization: Bearer $GOOD" | cut -d'|' -f1)" 401
# admin is read again at a reload: the public listener marked admin names every stream.
sed -i "s/port: $PORT}/port: $PORT, admin: true}/" "$T/a.yaml"
kill -HUP "${PIDS[edge]}"
applied2() { [ "$(grep -c 'generation 2 applied' "$T/edge.log")" -ge 2 ]; }
ok "reload: admin: true on the public listener is applied by both workers" wait_for 20 applied2
is "reload: its /streams now names every stream" "$(curl -s "$URL/streams" | names)" "open private other "
sed -i "s|hs256_secret_file: $T/other-secret|hs256_secret_file: $T/secret|" "$T/a.yaml" # for the file tests below

# --- config errors -----------------------------------------------------------------------------
sed -e "s|hs256_secret_file: $T/secret|hs256_secret_file: $T/short|" "$T/a.yaml" >"$T/short.yaml"
printf 'too-short' >"$T/short"
timeout 20 "$EDGE" -c "$T/short.yaml" >"$T/short.log" 2>&1
is "a secret shorter than 32 bytes stops the edge at start" \
    "$?|$(grep -c 'the secret must have at least 32 bytes' "$T/short.log")" "1|1"
printf 'streams: [{name: s, topics: [s], auth: required}]\n' >"$T/nokey.yaml"
is "--check: auth: required without a key" "$("$EDGE" -c "$T/nokey.yaml" --check 2>&1)" \
    "$T/nokey.yaml:1: streams[0].auth: required needs edge.auth.hs256_secret_file or edge.auth.rs256_public_key"

stop edge_rs TERM
is "the RS256 edge stops cleanly" "$?" 0
stop edge TERM
is "the edge stops cleanly" "$?" 0
stop bridge TERM
finish

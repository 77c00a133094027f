#!/bin/bash
# Hostile input against ringcast-edge: random and oversized event ids, malformed query strings,
# huge headers, raw garbage and malformed HTTP/1.1 and HTTP/2 on the socket, then the catalogue of
# tests/e2e/hostile_raw.py (malformed HTTP/2 frames, HTTP/1.1 smuggling shapes, slowloris). Every
# request gets an answer (a status, or a clean close for what is not HTTP at all), and the workers
# stay up: none is restarted, and the edge serves normally afterwards. Then the edge's HTTP
# surface: no smuggled body reached Kafka, bodies over max_publish_bytes get 413 over HTTP/1.1,
# h2c and TLS alike, ?access_token= takes the longest token access control takes and refuses a
# longer one by name, and static files never leave static_dir (symbolic links, dotfiles,
# percent-encoded dots and slashes).
. "$(dirname "$0")/../lib.sh"
need kcat curl python3 openssl
RINGS=$T/rings
use_ports tls
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rs.key" 2>/dev/null
openssl pkey -in "$T/rs.key" -pubout -out "$T/rs.pub"
# static_dir: files to serve, and what must never be served (outside it, or dotfiles in it).
mkdir -p "$T/www/a" "$T/www/sub" "$T/www/.git" "$T/outside"
echo "served page" >"$T/www/index.html"
echo "served file" >"$T/www/ok.txt"
echo "served visible" >"$T/www/a/visible.txt"
for f in "$T/secret.txt" "$T/outside/secret.txt" "$T/www/.env" "$T/www/.git/config" "$T/www/a/.hidden"; do
    echo "NOT-FOR-CLIENTS" >"$f"
done
ln -s ok.txt "$T/www/in.txt"                    # a link inside static_dir: served
ln -s "$T/secret.txt" "$T/www/out.txt"          # a file outside
ln -s "$T/outside" "$T/www/outdir"              # a directory outside
ln -s ../../secret.txt "$T/www/a/up.txt"        # relative, leading outside
ln -s "$T/secret.txt" "$T/www/sub/index.html"   # the index file of a directory, outside
cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: s, topics: [s, t], partitions: 2, start: oldest, publish: true}
  - {name: small, topics: [small], start: oldest, publish: true, max_publish_bytes: 1000}
  - {name: locked, topics: [locked], start: oldest, auth: required}
edge:
  listen:
    - {address: 127.0.0.1, port: $PORT}
    - {address: 127.0.0.1, port: $TLS_PORT, tls: {cert: $T/cert.pem, key: $T/key.pem}}
  workers: 2
  static_dir: $T/www
  auth: {rs256_public_key: $T/rs.pub}
log: {level: warn}
EOT
ok "the edge answers" start_stack "$T/ringcast.yaml"
seq 1 20 | kcat -P -b "$BOOT" -t s -p 0
workers_before=$(pgrep -P "${PIDS[edge]}" | sort | tr '\n' ' ')

cat >"$T/hostile.py" <<'PY'
import os, random, socket, sys, urllib.parse
port = int(sys.argv[1]); rnd = random.Random(1234)
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

def request(raw, read=65536, wait=2.0):
    """Sends raw bytes, returns what came back before the server closed or `wait` s passed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(raw)
        out = b""
        while len(out) < read:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out

def status(out):
    line = out.split(b"\r\n", 1)[0]
    return line.split(b" ")[1].decode() if line.startswith(b"HTTP/1.1 ") else "none"

bad = []
# 1. Random event ids: plausible alphabet, random bytes, very long; header and query.
for i in range(300):
    n = rnd.choice([1, 4, 5, 12, 40, 300, 4000])
    if i % 3 == 0:
        ident = "".join(rnd.choice(alphabet) for _ in range(n))
    else:
        ident = "".join(chr(rnd.randrange(0x21, 0x7f)) for _ in range(n))
    if i % 2:
        raw = b"GET /streams/s?limit=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + ident.encode() + b"\r\nConnection: close\r\n\r\n"
    else:
        raw = b"GET /streams/s?limit=1&lastEventId=" + urllib.parse.quote(ident).encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = request(raw)
    st = status(out)
    if st not in ("200", "400", "431") or (st == "200" and b"data: " not in out):
        bad.append(("id", ident[:60], st))
print("ids", len(bad))
# 2. Malformed query strings: each must be a 400 with a reason.
queries = ["limit=-1", "limit=99999999999999999999", "limit=0", "partition=x", "partition=-3", "timeout=0",
           "timeout=forever", "key=%zz", "key=%", "since=tomorrow", "nope=1", "limit", "key=" + "k" * 300,
           "&".join(["key=a"] * 17), "since=2026-13-01T00:00:00Z"]
for q in queries:
    out = request(("GET /streams/s?" + q + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
    if status(out) != "400" or b"bad query" not in out:
        bad.append(("query", q, status(out)))
print("queries", len(bad))
# 3. Huge and odd headers.
for raw in [b"GET /streams/s?limit=1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
            b"GET /streams/s?limit=1 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n",
            b"GET /streams/s HTTP/1.1\r\nHost: x\r\nAccept: " + b"x/" * 5000 + b"\r\nConnection: close\r\n\r\n",
            b"POST /streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\nabc",
            b"POST /streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
    request(raw, wait=0.5)
# 4. Not HTTP, or broken HTTP/1.1 and HTTP/2.
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
for i in range(150):
    kind = i % 5
    if kind == 0:
        raw = os.urandom(rnd.randrange(1, 3000))
    elif kind == 1:
        raw = b"GET /streams/s HTTP/1.1\r\n" + os.urandom(rnd.randrange(1, 500))
    elif kind == 2:
        raw = preface + os.urandom(rnd.randrange(1, 2000))
    elif kind == 3:  # a SETTINGS frame with a bad length, then a HEADERS frame of garbage
        raw = preface + b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00" * 5 + b"\x00\x00\x10\x01\x05\x00\x00\x00\x01" + os.urandom(16)
    else:
        raw = b"GET /" + b"../" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    request(raw, read=4096, wait=0.2)  # a server waiting for the rest of a request is fine
print("garbage done")
for b in bad[:10]:
    print("BAD", b)
sys.exit(1 if bad else 0)
PY
python3 "$T/hostile.py" "$PORT" >"$T/hostile.out" 2>&1
ok "random ids, bad queries, huge headers and garbage all got an answer" test $? = 0
sed 's/^/# /' "$T/hostile.out" | grep BAD
is "no worker died" "$(pgrep -P "${PIDS[edge]}" | sort | tr '\n' ' ')" "$workers_before"

# The catalogue of malformed HTTP/2 frames and HTTP/1.1 smuggling shapes: one line per case, each
# also checking that the workers are the same processes and that a normal client still streams.
python3 "$ROOT/tests/e2e/hostile_raw.py" "$PORT" "${PIDS[edge]}" >"$T/raw.out" 2>"$T/raw.err"
raw_rc=$?
while IFS=$'\t' read -r verdict name detail; do
    [ "$verdict" = done ] && continue
    ok "$name" test "$verdict" = pass
    [ "$verdict" = pass ] || echo "#   $detail"
done <"$T/raw.out"
ok "the raw-socket catalogue ran every case" grep -q "^done" "$T/raw.out"
is "hostile_raw.py: exit status" "$raw_rc" 0
sed 's/^/# /' "$T/raw.err"
is "no worker died during the raw-socket catalogue" "$(pgrep -P "${PIDS[edge]}" | sort | tr '\n' ' ')" "$workers_before"
ok "the edge still serves streams" sh -c "curl -sN --max-time 5 '$URL/streams/s?limit=20' | grep -c '^data: ' | grep -qx 20"
ok "and still publishes" sh -c "curl -s -o /dev/null -w '%{http_code}' -X POST -d after '$URL/streams/s' | grep -qx 201"

# --- 1. smuggling: nothing of the refused requests reached Kafka ----------------------------------
kcat -C -b "$BOOT" -t s -e -q -f '%s\n' >"$T/s.values" 2>/dev/null
ok "the body of every smuggling case stayed out of Kafka" sh -c "! grep -q zq9 '$T/s.values'"
ok "and so did the requests hidden behind them" sh -c "! grep -q 'smuggled' '$T/s.values'"
ok "the same Content-Length twice was one event" grep -qx twin "$T/s.values"

# --- 2. 413 over every transport ------------------------------------------------------------------
head -c 1001 /dev/zero | tr '\0' a >"$T/over"      # one byte over the stream's max_publish_bytes
head -c 3000000 /dev/zero | tr '\0' b >"$T/huge"   # far over every limit, h2o's buffer included
# post LABEL BODYFILE CURL-ARGS...: "status body" of a POST to the stream "small".
post() {
    local label=$1 file=$2
    shift 2
    curl -sk --max-time 20 -o "$T/$label.body" -w '%{http_code}' "$@" --data-binary @"$file" \
        -H 'Content-Type: text/plain' "${URL_OF:-$URL}/streams/small" 2>"$T/$label.err"
    echo " $(tr -d '\n' <"$T/$label.body" | head -c 80)"
}
is "HTTP/1.1: 1001 bytes: 413" "$(post h1 "$T/over" --http1.1 -H 'Expect:')" \
    "413 event too large: at most 1000 bytes"
is "HTTP/1.1 with Expect: 100-continue: 1001 bytes: 413" \
    "$(post h1c "$T/over" --http1.1 -H 'Expect: 100-continue')" "413 event too large: at most 1000 bytes"
ok "HTTP/1.1 with Expect: 100-continue: 3 MB: 413 before the body is sent" \
    sh -c "curl -s --max-time 20 -o '$T/h1big.body' -w '%{http_code}' --http1.1 -H 'Expect: 100-continue' \
        --data-binary @'$T/huge' '$URL/streams/small' | grep -qx 413"
ok "  with a short text body" grep -q "too large" "$T/h1big.body"
is "h2c: 1001 bytes: 413" "$(post h2c "$T/over" --http2-prior-knowledge)" "413 event too large: at most 1000 bytes"
is "h2c: 3 MB: 413, not a reset stream" "$(post h2cbig "$T/huge" --http2-prior-knowledge)" \
    "413 event too large: at most 1000 bytes"
is "TLS h2: 1001 bytes: 413" "$(URL_OF=$TLS_URL post h2 "$T/over" --http2)" "413 event too large: at most 1000 bytes"
is "TLS h2: 3 MB: 413, not a reset stream" "$(URL_OF=$TLS_URL post h2big "$T/huge" --http2)" \
    "413 event too large: at most 1000 bytes"
is "TLS HTTP/1.1 with Expect: 100-continue: 1001 bytes: 413" \
    "$(URL_OF=$TLS_URL post tls1 "$T/over" --http1.1 -H 'Expect: 100-continue')" \
    "413 event too large: at most 1000 bytes"
# The HTTP/2 connection goes on after a 413: a second POST on it is published. (Over TLS: curl
# 7.88 cannot reuse an h2c prior-knowledge connection to h2o 2.2.5 for a second request at all.)
codes=$(curl -sk --max-time 20 --http2 -o /dev/null -w '%{http_code} %{num_connects}\n' \
    --data-binary @"$T/huge" "$TLS_URL/streams/small" --next -k --http2 -o /dev/null \
    -w '%{http_code} %{num_connects}\n' --data-binary 'after-413' "$TLS_URL/streams/small" | tr '\n' ' ')
is "TLS h2: 413 then 201 on the same connection" "$codes" "413 1 201 0 "
# A 201 is answered once Kafka acknowledged the record (acks=all): it can be read back at once.
kcat -C -b "$BOOT" -t small -e -q -f '%S\n' >"$T/small.sizes" 2>/dev/null
is "Kafka got only the event that fit" "$(tr '\n' ' ' <"$T/small.sizes")" "9 "

# --- 3. ?access_token=: as long as access control takes, and no longer ----------------------------
cat >"$T/jwt.py" <<'PY'
import base64, json, subprocess, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
want = int(sys.argv[2])  # the token's length, reached with a "groups" claim and a padding claim
claims = {"exp": int(time.time()) + 3600, "sub": "user-with-many-groups", "groups": []}
SIG = 342  # base64url of a 2048-bit RSA signature
def msg():
    return b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
while len(msg()) + 1 + SIG < want - 100:
    claims["groups"].append("group-%04d" % len(claims["groups"]))
def fits():  # a padding claim that makes the length exact (base64url skips one length in four)
    for n in range(64):
        claims["pad"] = "x" * n
        if len(msg()) + 1 + SIG == want:
            return True
    return False
for _ in range(8):
    if fits():
        break
    claims["groups"].append("group-%04d" % len(claims["groups"]))
else:
    sys.exit("no token of %d bytes with this header" % want)
m = msg()
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sys.argv[1]], input=m.encode(), capture_output=True,
                     check=True).stdout
print(m + "." + b64(sig))
PY
LONG=$(python3 "$T/jwt.py" "$T/rs.key" 8192)
TOOLONG=$(python3 "$T/jwt.py" "$T/rs.key" 8300)
is "an RS256 token with many claims, 8192 bytes (the longest access control takes)" "${#LONG}" 8192
code=$(curl -s --max-time 5 -o "$T/long.sse" -w '%{http_code}' "$URL/streams/locked?timeout=1&access_token=$LONG")
is "HTTP/1.1: ?access_token= with it opens the stream" "$code" 200
code=$(curl -s --max-time 5 --http2-prior-knowledge -o /dev/null -w '%{http_code}' \
    "$URL/streams/locked?timeout=1&access_token=$LONG")
is "h2c: the same" "$code" 200
code=$(curl -sk --max-time 5 --http2 -o /dev/null -w '%{http_code}' "$TLS_URL/streams/locked?timeout=1&access_token=$LONG")
is "TLS h2: the same" "$code" 200
is "a token over 8192 bytes: 401 that says so, on a stream that needs one" \
    "$(curl -s --max-time 5 -w ' %{http_code}' "$URL/streams/locked?timeout=1&access_token=$TOOLONG")" \
    "invalid token: longer than 8192 bytes
 401"
is "and 400 that says so on a stream that does not" \
    "$(curl -s --max-time 5 -w ' %{http_code}' "$URL/streams/s?timeout=1&access_token=$TOOLONG")" \
    "bad query: access_token: longer than 8192 bytes
 400"
is "the same token as a Bearer header: the same 401" \
    "$(curl -s --max-time 5 -w ' %{http_code}' -H "Authorization: Bearer $TOOLONG" "$URL/streams/locked?timeout=1")" \
    "invalid token: longer than 8192 bytes
 401"

# --- 4. static files: only inside static_dir, never a dotfile -------------------------------------
# get PATH: "status body" of a request sent as written (no client-side normalisation).
get() { curl -s --max-time 5 --path-as-is -w ' %{http_code}' "$URL$1" | tr -d '\n'; }
is "a file in static_dir is served" "$(get /ok.txt)" "served file 200"
is "the index page is served" "$(get /)" "served page 200"
is "a file in a subdirectory is served" "$(get /a/visible.txt)" "served visible 200"
is "a symbolic link to a file inside is served" "$(get /in.txt)" "served file 200"
for path in /.env /%2eenv /%2Eenv /.git/config /%2egit/config /.git%2fconfig /a/.hidden /a/%2ehidden \
    /a%2f.hidden /out.txt /outdir/secret.txt /outdir%2fsecret.txt /a/up.txt /sub/ /sub/index.html \
    /..%2fsecret.txt /%2e%2e/secret.txt /%2e%2e%2fsecret.txt /a/..%2f..%2fsecret.txt /../secret.txt \
    "/..%5csecret.txt" /ok.txt%00.html; do
    is "GET $path: 404" "$(get "$path")" "not found 404"
done
is "h2c: a dotfile is not served either" \
    "$(curl -s --max-time 5 --http2-prior-knowledge -w ' %{http_code}' "$URL/%2eenv" | tr -d '\n')" "not found 404"
is "TLS h2: nor a link outside" "$(curl -sk --max-time 5 --http2 -w ' %{http_code}' "$TLS_URL/out.txt" | tr -d '\n')" \
    "not found 404"

is "no worker died during the HTTP checks" "$(pgrep -P "${PIDS[edge]}" | sort | tr '\n' ' ')" "$workers_before"
ok "no worker restart was logged" sh -c "! grep -q restarting '$T/edge.log'"
stop edge TERM
is "SIGTERM: exit 0" "$?" 0
finish

#!/bin/bash
# Hostile input against ringcast-edge: random and oversized event ids, malformed query strings,
# huge headers, raw garbage and malformed HTTP/1.1 and HTTP/2 on the socket, then the catalogue of
# tests/e2e/hostile_raw.py (malformed HTTP/2 frames, HTTP/1.1 smuggling shapes, slowloris). Every
# request gets an answer (a status, or a clean close for what is not HTTP at all), and the workers
# stay up: none is restarted, and the edge serves normally afterwards.
. "$(dirname "$0")/../lib.sh"
need kcat curl python3
BRIDGE=${BRIDGE:-$BUILD/ringcast-bridge}
EDGE=${EDGE:-$BUILD/ringcast-edge}
RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: s, topics: [s, t], partitions: 2, start: oldest, publish: true}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 2
log: {level: warn}
EOT
spawn bridge "$BRIDGE" -c "$T/ringcast.yaml"
wait_for 20 test -s "$RINGS/kafka-bootstrap"
spawn edge "$EDGE" -c "$T/ringcast.yaml"
ok "the edge answers" wait_for 20 curl -sf "$URL/healthz"
seq 1 20 | kcat -P -b "$(cat "$RINGS/kafka-bootstrap")" -t s -p 0
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
ok "no worker restart was logged" sh -c "! grep -q restarting '$T/edge.log'"
stop edge TERM
is "SIGTERM: exit 0" "$?" 0
finish

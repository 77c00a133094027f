#!/bin/bash
# build/ringcast-bench, the load generator of `make bench`, checked against servers whose bytes are
# known: it must parse what a real edge sends (HTTP/1.1 chunked, h2c with several streams on one
# connection, h2 over TLS) exactly as curl received it, follow the WHATWG parsing rules on a stream
# with every line ending, comments, BOM, empty and odd fields (served in tiny pieces by a small
# Python server, body until close and chunked), count gaps and duplicates in the stamped sequence it
# is fed, sum its counters over several client processes, publish into Kafka, and count a server's
# HTTP errors. No timing is asserted.
. "$(dirname "$0")/../lib.sh"
need kcat curl openssl python3
BENCH=${BENCH:-$BUILD/ringcast-bench}
RINGS=$T/rings
use_ports tls
cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: known, topics: [known], start: oldest}
  - {name: seq, topics: [seq], start: oldest}
  - {name: live, topics: [live]}
edge:
  listen:
    - {address: 127.0.0.1, port: $PORT}
    - {address: 127.0.0.1, port: $TLS_PORT, tls: {cert: $T/cert.pem, key: $T/key.pem}}
  workers: 1
  retry: 2500ms
log: {level: warn}
EOT
ok "the edge answers on its port" start_stack "$T/ringcast.yaml"

# Four records whose frames differ: plain, two data lines, an event type, leading spaces.
echo "hello" | kcat -P -b "$BOOT" -t known
printf 'line one\nline two' | kcat -P -b "$BOOT" -t known -D '|'
echo "typed" | kcat -P -b "$BOOT" -t known -H event=custom
echo "  padded" | kcat -P -b "$BOOT" -t known
ok "the 4 known records are in the ring" wait_for 20 stream_has known 4

# What ringcast-bench must see, built from curl's bytes: the ids as sent, the data as written.
curl -sN --max-time 5 "$URL/streams/known?limit=4" >"$T/known.sse"
mapfile -t ids < <(sed -n 's/^id: //p' "$T/known.sse")
is "curl saw 4 ids" "${#ids[@]}" 4
want_dump() { # $1 = stream number
    printf 'S%s retry 2500\n' "$1"
    printf 'S%s event message id %s data hello\n' "$1" "${ids[0]}"
    printf 'S%s event message id %s data line one\\nline two\n' "$1" "${ids[1]}"
    printf 'S%s event custom id %s data typed\n' "$1" "${ids[2]}"
    printf 'S%s event message id %s data   padded\n' "$1" "${ids[3]}"
}
"$BENCH" --url "$URL/streams/known?limit=4" --streams 1 --duration 10 --dump "$T/h1.dump" \
    --json "$T/h1.json" >"$T/h1.out"
is "HTTP/1.1: every event, field and id as the edge sent them" "$(cat "$T/h1.dump")" "$(want_dump 0)"
ok "HTTP/1.1: the stream counts as ready and then ended by the server" \
    grep -q '"streams_ready":1,.*"ended":1,"parse_errors":0' "$T/h1.json"
ok "HTTP/1.1: 4 events delivered, none timed (no stamp in them)" grep -q '"events":4,.*"untimed":4' "$T/h1.json"

"$BENCH" --url "$URL/streams/known?limit=4" --h2 --streams 3 --conns 1 --duration 10 --dump "$T/h2.dump" \
    --json "$T/h2.json" >"$T/h2.out"
is "h2c: three streams on one connection, each parsed alike" "$(sort "$T/h2.dump")" \
    "$( (want_dump 0; want_dump 1; want_dump 2) | sort)"
ok "h2c: 1 connection, 3 streams ready and ended, 12 events" \
    grep -q '"protocol":"h2c".*"connections":1,"streams_asked":3,"streams_ready":3,.*"ended":3,.*"events":12,' "$T/h2.json"

"$BENCH" --url "https://127.0.0.1:$TLS_PORT/streams/known?limit=4" --h2 --streams 2 --duration 10 \
    --dump "$T/tls.dump" --json "$T/tls.json" >"$T/tls.out"
is "h2 over TLS (ALPN): the same events" "$(sort "$T/tls.dump")" "$( (want_dump 0; want_dump 1) | sort)"
ok "h2 over TLS: reported as h2" grep -q '"protocol":"h2"' "$T/tls.json"

# Sequence checks: "<ns> <seq> <publisher>" values, publisher 0 jumps 2->5 and 6->9 and repeats
# 6; publisher 1 is complete. Per stream: 2 gaps, 4 missing, 1 duplicate.
for v in "1 0 0" "1 0 1" "1 1 0" "1 2 0" "1 1 1" "1 5 0" "1 6 0" "1 2 1" "1 6 0" "1 9 0"; do
    echo "$v" | kcat -P -b "$BOOT" -t seq
done
ok "the 10 sequence records are in the ring" wait_for 20 stream_has seq 10
"$BENCH" --url "$URL/streams/seq?limit=10" --streams 2 --duration 10 --json "$T/seq.json" >"$T/seq.out"
ok "gaps, missing events and duplicates counted per stream and publisher (2 streams)" \
    grep -q '"events":20,.*"gaps":4,"missing":8,"dups":2,"untimed":0' "$T/seq.json"
ok "every stamped event gave a latency sample" grep -q '"latency_us":{"samples":20,' "$T/seq.json"
ok "the text report says the same" grep -q "gaps 4 (events missing 8), duplicates or out of order 2" "$T/seq.out"
"$BENCH" --url "$URL/streams/seq?limit=10" --streams 6 --procs 3 --duration 10 --json "$T/procs.json" >/dev/null
ok "--procs 3: counters summed over the client processes" \
    grep -q '"procs":3,"streams":6,.*"streams_ready":6,.*"events":60,.*"gaps":12,"missing":24,"dups":6' "$T/procs.json"

# The Kafka publisher: stamped events reach live streams in order, every one of them.
"$BENCH" --url "$URL/streams/live" --streams 3 --duration 2 --rate 200 --warmup 0.5 --kafka "@$RINGS/kafka-bootstrap" \
    --topic live --server-pid "${PIDS[edge]}" --json "$T/live.json" >"$T/live.out"
ok "Kafka publisher: events delivered to 3 live streams, no gap, no duplicate, all stamped" \
    python3 -c "import json,sys; j=json.load(open('$T/live.json')); sys.exit(not (j['events'] > 0 and j['gaps'] == 0 and j['dups'] == 0 and j['untimed'] == 0 and j['publish_errors'] == 0 and j['streams_ready'] == 3))"
ok "the edge's CPU and memory were read" \
    python3 -c "import json,sys; j=json.load(open('$T/live.json')); sys.exit(not (j['servers'][0]['pss_idle'] > 0 and j['server_cpu_s'] >= 0))"

# Idle live streams: held, counted as asked, their memory read; any still without an answer at the
# end (an edge answers a live stream with its first bytes) is unanswered, not an error.
"$BENCH" --url "$URL/streams/live" --streams 2 --duration 1 --server-pid "${PIDS[edge]}" --json "$T/idle.json" >/dev/null
ok "idle streams: 2 asked, each ready or unanswered, no error" \
    python3 -c "import json,sys; j=json.load(open('$T/idle.json')); sys.exit(not (j['streams_asked'] == 2 and j['streams_ready'] + j['unanswered'] == 2 and j['http_errors'] + j['connect_errors'] == 0 and j['server_pss_idle'] > 0))"
"$BENCH" --url "$URL/streams/nosuch" --streams 2 --duration 1 --connect-timeout 5 --json "$T/404.json" >/dev/null
is "a 404 is an HTTP error, and a run with no stream ready exits 1" "$?" 1
ok "404s counted" grep -q '"streams_ready":0,"unanswered":0,"connect_errors":0,"http_errors":2' "$T/404.json"

# The WHATWG rules on bytes no edge would send, served in pieces of 1-5 bytes.
cat >"$T/sse_server.py" <<'EOF'
import random, socket, sys, threading, time
body = (b"\xef\xbb\xbf: a comment\r\nretry: 1234\r\ndata: first\r\n\r\n"
        b"event: custom\rdata: line one\rdata: line two\rid: 42\r\r"
        b"data:no space\n\ndata:  two spaces\n\n"
        b"data\ndata\n\n"
        b"id\ndata: after empty id\n\n"
        b"event: dropped-type\n\n"
        b"data: type reset\n\n"
        b"ignored-field: x\nretry: 12x\ndata: last complete\r\n\r\n"
        b"data: never dispatched")
def pieces(b):
    i = 0
    while i < len(b):
        n = random.randint(1, 5)
        yield b[i:i + n]
        i += n
def serve(c):
    req = b""
    while b"\r\n\r\n" not in req:
        req += c.recv(4096)
    chunked = b"/chunked" in req.split(b"\r\n")[0]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Connection: close\r\n\r\n"
    out = head
    for p in pieces(body):
        out += b"%x\r\n%s\r\n" % (len(p), p) if chunked else p
    if chunked:
        out += b"0\r\n\r\n"
    for p in pieces(out):
        c.sendall(p)
        time.sleep(0.0005)
    if not chunked:
        c.close()
    else:
        time.sleep(1)
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
PY_PORT=$(free_port)
spawn sse_server python3 "$T/sse_server.py" "$PY_PORT"
ok "the raw SSE server listens" wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PY_PORT"
want_rules() {
    printf 'S%s retry 1234\n' "$1"
    printf 'S%s event message id  data first\n' "$1"
    printf 'S%s event custom id 42 data line one\\nline two\n' "$1"
    printf 'S%s event message id 42 data no space\n' "$1"
    printf 'S%s event message id 42 data  two spaces\n' "$1"
    printf 'S%s event message id 42 data \\n\n' "$1"
    printf 'S%s event message id  data after empty id\n' "$1"
    printf 'S%s event message id  data type reset\n' "$1"
    printf 'S%s event message id  data last complete\n' "$1"
}
"$BENCH" --url "http://127.0.0.1:$PY_PORT/plain" --streams 2 --duration 10 --dump "$T/rules.dump" \
    --json "$T/rules.json" >/dev/null
is "WHATWG rules, body until close: CR/LF/CRLF, BOM, comments, empty and odd fields" \
    "$(grep '^S0 ' "$T/rules.dump")" "$(want_rules 0)"
is "... the second connection alike" "$(grep '^S1 ' "$T/rules.dump")" "$(want_rules 1)"
ok "... one comment per stream, no parse error" grep -q '"parse_errors":0,.*"comments":2,' "$T/rules.json"
"$BENCH" --url "http://127.0.0.1:$PY_PORT/chunked" --streams 1 --duration 10 --dump "$T/chunked.dump" \
    --json "$T/chunked.json" >/dev/null
is "WHATWG rules through chunked coding split at every place" "$(cat "$T/chunked.dump")" "$(want_rules 0)"
ok "... the last chunk ends the stream" grep -q '"ended":1,"parse_errors":0' "$T/chunked.json"
# SIGTERM lets the edge master end its workers (the harness's SIGKILL at exit would orphan them).
ok "the edge stops on SIGTERM" stop edge
stop sse_server
finish

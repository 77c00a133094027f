#!/bin/bash
# Fan-out side by side (part of `make bench`): ringcast (bridge on librdkafka's mock cluster + edge)
# and nginx + nchan (Debian's libnginx-mod-nchan), driven by the same client, build/ringcast-bench,
# with the same payloads, on this machine. Then h2load's finite streams against ringcast, and
# 100k concurrent ringcast streams over HTTP/2.
#
#   scripts/bench-compare.sh [RESULTS_DIR]       (default build/bench; one JSON file per run)
#   BENCH_QUICK=1 scripts/bench-compare.sh       a smoke run: 1k and 10k x 100/s, 3 s each, 20k streams
#   BENCH_CELLS="ringcast:10000:1000:h1 nchan:10000:1000:h2 h2load big" scripts/bench-compare.sh   chosen parts
#
# The matrix: N in {1k, 10k, 50k} subscribers x R in {100, 1k, 10k} events/s of 100 B, each cell on
# a freshly started server (so its idle memory per stream is its own), measured for 10 s after the
# streams are open, a 1 s settle (idle memory read) and a 1 s warm-up. A cell whose deliveries
# (N x R) exceed 20 M/s is skipped, and the output says so: 50k x 1k, 10k x 10k and 50k x 10k ask
# for 50-500 M deliveries/s of 100 B (5-50 GB/s through loopback), one to two orders of magnitude
# beyond what two shared cores can write at even 0.1 us per delivery, so the run would measure
# only the overload.
#
# Protocols: HTTP/1.1 (one connection per stream, as browsers' EventSource without HTTP/2) for 1k
# and 10k subscribers; HTTP/2 with 100 streams per connection for 50k, for both servers (nginx's
# `http2` on a plain listener speaks h2c with prior knowledge). 50k HTTP/1.1 streams would need
# more than the 20,000 open files a process may hold here, on the client and on each server
# worker (3+ workers each side), and more than one loopback source address for the ~28k
# ephemeral ports: HTTP/2 measures the same fan-out without that. One extra cell, 10k x 1k over
# HTTP/2, joins the two protocols.
#
# Both servers run BENCH_WORKERS (default 2) workers: edge.workers and nginx's worker_processes,
# with SO_REUSEPORT and a listen backlog of 1024 (the edge's). nchan keeps every event: a message
# buffer of 1M messages for 10 min in 512 MiB of shared memory. The publisher is Kafka (librdkafka
# producer into the mock cluster) for ringcast and HTTP POST to nchan's publisher location (one
# pipelined connection; BENCH_NCHAN_PUBLISHERS=C for C, each with its own sequence), both stamping
# each event with the CLOCK_MONOTONIC time and a sequence number: latency is publish->client on
# the same host. Server CPU is read from /proc/<pid>/stat of every server process over the
# measured span: for ringcast the edge (master + workers) and the bridge (which also runs the mock
# Kafka cluster), both given; memory is PSS summed over those processes.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/build/ringcast-bench
OUT=${1:-$ROOT/build/bench}
WORKERS=${BENCH_WORKERS:-2}
NCHAN_PUBLISHERS=${BENCH_NCHAN_PUBLISHERS:-1}
SIZE=100
MAX_DELIVERIES=20000000
if [ -n "${BENCH_QUICK:-}" ]; then
    SECS=3 NS="1000 10000" RS="100" H2_EXTRA="" BIG=20000 H2LOAD_N=20000 PHASES=(--settle 0.5 --warmup 0.5)
else
    SECS=10 NS="1000 10000 50000" RS="100 1000 10000" H2_EXTRA="10000:1000" BIG=100000 H2LOAD_N=200000
    PHASES=(--settle 1 --warmup 1)
fi
for tool in nginx h2load curl; do
    command -v $tool >/dev/null || { echo "bench-compare: $tool is missing: scripts/install-deps.sh --bench --all" >&2; exit 1; }
done
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
[ -f $NCHAN_MODULE ] || { echo "bench-compare: $NCHAN_MODULE is missing: scripts/install-deps.sh --bench" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/cell-*.json "$OUT/skipped.txt" "$OUT/h2load.json" "$OUT/big.json"
DIR=$(mktemp -d /dev/shm/rc-bench-cmp-XXXXXX)
PORT=$((20000 + RANDOM % 6000))
NPORT=$((PORT + 6000))
bridge="" edge="" nginx=""
cleanup() {
    for p in $edge $nginx $bridge; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

cat >"$DIR/ringcast.yaml" <<EOT
kafka: {brokers: mock, properties: {fetch.wait.max.ms: "10"}}
ring: {dir: $DIR/rings, size: 64MiB}
streams:
  - {name: bench, topics: [bench]}
  - {name: hist, topics: [hist], start: oldest}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: $WORKERS
log: {level: warn}
EOT
mkdir -p "$DIR/nginx/tmp"
cat >"$DIR/nginx/nginx.conf" <<EOT
worker_processes $WORKERS;
worker_rlimit_nofile 20000;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
load_module $NCHAN_MODULE;
events { worker_connections 19500; multi_accept on; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $DIR/nginx/tmp/body;
    proxy_temp_path $DIR/nginx/tmp/proxy;
    fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
    scgi_temp_path $DIR/nginx/tmp/scgi;
    nchan_shared_memory_size 512M;
    server {
        listen 127.0.0.1:$NPORT reuseport backlog=1024;
        listen 127.0.0.1:$((NPORT + 1)) reuseport http2 backlog=1024;
        location ~ ^/sub/(\w+)\$ {
            nchan_subscriber eventsource;
            nchan_channel_id \$1;
            nchan_subscriber_first_message newest;
        }
        location ~ ^/pub/(\w+)\$ {
            nchan_publisher;
            nchan_channel_id \$1;
            nchan_message_buffer_length 1000000;
            nchan_message_timeout 10m;
        }
    }
}
EOT

healthy() { # url [curl option]: waits until the server answers (with -f: a 2xx answer)
    for _ in $(seq 200); do curl -s ${2:-} -o /dev/null "$1" && return 0; sleep 0.05; done
    echo "bench-compare: $1 does not answer" >&2
    return 1
}
start_bridge() {
    "$ROOT/build/ringcast-bridge" -c "$DIR/ringcast.yaml" 2>>"$DIR/bridge.log" &
    bridge=$!
    for _ in $(seq 100); do [ -s "$DIR/rings/kafka-bootstrap" ] && return; sleep 0.1; done
}
start_server() { # ringcast|nchan
    if [ "$1" = ringcast ]; then
        "$ROOT/build/ringcast-edge" -c "$DIR/ringcast.yaml" 2>>"$DIR/edge.log" &
        edge=$!
        healthy "http://127.0.0.1:$PORT/healthz" -f
    else
        nginx -p "$DIR/nginx/" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/error.log" -g 'daemon off;' &
        nginx=$!
        healthy "http://127.0.0.1:$NPORT/pub/probe" # a GET on the publisher: channel info or 404
    fi
}
stop_server() {
    for p in $edge $nginx; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    edge="" nginx=""
}

# run_cell SERVER N R PROTO(h1|h2)
run_cell() {
    local server=$1 n=$2 r=$3 proto=$4
    local label="$server n=$n r=$r $proto" json="$OUT/cell-$server-$n-$r-$proto.json"
    if [ $((n * r)) -gt $MAX_DELIVERIES ]; then
        local why="skipped: $n subscribers x $r events/s = $((n * r / 1000000)) M deliveries/s of $SIZE B ($((n * r * SIZE / 1000000000)) GB/s); two shared cores cannot come near it, the run would only measure overload"
        echo "== $label: $why"
        echo "$server $n $r $proto $why" >>"$OUT/skipped.txt"
        return
    fi
    echo "== $label"
    start_server "$server"
    local args=(--streams "$n" --duration "$SECS" --rate "$r" --size "$SIZE" --label "$label" --json "$json" "${PHASES[@]}")
    [ "$proto" = h2 ] && args+=(--h2 --conns $(((n + 99) / 100)))
    if [ "$server" = ringcast ]; then
        args+=(--url "http://127.0.0.1:$PORT/streams/bench" --kafka "@$DIR/rings/kafka-bootstrap" --topic bench
            --server-pid "$edge" --server-pid "$bridge")
    else
        local port=$NPORT
        [ "$proto" = h2 ] && port=$((NPORT + 1))
        args+=(--url "http://127.0.0.1:$port/sub/c${n}x$r$proto" --publish-url "http://127.0.0.1:$NPORT/pub/c${n}x$r$proto"
            --publish-conns "$NCHAN_PUBLISHERS" --server-pid "$nginx")
    fi
    "$BENCH" "${args[@]}" | sed 1d || echo "bench-compare: $label: ringcast-bench failed" >&2
    stop_server
}
# h2load: finite streams (?limit=100) over h2c from a stream with history, 100 per connection.
run_h2load() {
    echo "== h2load: $H2LOAD_N finite streams of 100 events over h2c (10 connections x 100 streams), ringcast"
    start_server ringcast
    "$BENCH" --url "http://127.0.0.1:$PORT/streams/hist" --streams 0 --rate 50000 --duration 0.2 --warmup 0 \
        --kafka "@$DIR/rings/kafka-bootstrap" --topic hist >/dev/null
    cpu_of() { # CPU seconds of a process and its children
        local pids="$1 $(cat /proc/"$1"/task/*/children 2>/dev/null)" t=0 p
        for p in $pids; do t=$((t + $(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || echo 0))); done
        echo "$t $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}
c0=$(cpu_of "$edge")
h2load -c 10 -m 100 -n "$H2LOAD_N" "http://127.0.0.1:$PORT/streams/hist?limit=100" >"$DIR/h2load.out" 2>&1 || true
c1=$(cpu_of "$edge")
grep -E "^finished|^requests|^traffic|^time for request" "$DIR/h2load.out"
awk -v c0="$c0" -v c1="$c1" -v n="$H2LOAD_N" '
    /^finished in/ { secs = $3 + 0; if ($3 ~ /ms,$/) secs /= 1000; rps = $4 + 0 }
    /^requests:/ { ok = $8 + 0 }
    END { ev = ok * 100; printf "{\"streams\":%d,\"succeeded\":%d,\"seconds\":%.3f,\"streams_per_s\":%.1f,\"events\":%d,\"events_per_s\":%.0f,\"edge_cpu_s\":%.2f,\"edge_cpu_per_mevent\":%.3f}\n", n, ok, secs, rps, ev, secs ? ev / secs : 0, c1 - c0, ev ? (c1 - c0) / (ev / 1e6) : 0 }
' "$DIR/h2load.out" | tee "$OUT/h2load.json"
stop_server
}

# Many concurrent streams: ringcast over HTTP/2, 100 streams per connection, memory per stream
# before publishing, then 10 events/s to every stream.
run_big() {
    echo "== $BIG concurrent ringcast streams over HTTP/2 ($((BIG / 100)) connections x 100 streams)"
    start_server ringcast
    "$BENCH" --url "http://127.0.0.1:$PORT/streams/bench" --h2 --streams "$BIG" --conns $((BIG / 100)) --ramp 2000 \
        --duration 5 --rate 10 "${PHASES[@]}" --kafka "@$DIR/rings/kafka-bootstrap" --topic bench --server-pid "$edge" \
        --server-pid "$bridge" --label "ringcast $BIG streams h2" --json "$OUT/big.json" | sed 1d
    stop_server
}

start_bridge
if [ -n "${BENCH_CELLS:-}" ]; then
    for cell in $BENCH_CELLS; do
        case $cell in
        h2load) run_h2load ;;
        big) run_big ;;
        *)
            IFS=: read -r s n r p <<<"$cell"
            run_cell "$s" "$n" "$r" "$p"
            ;;
        esac
    done
    exit 0
fi
for n in $NS; do
    proto=h1
    [ "$n" -gt 10000 ] && proto=h2
    for r in $RS; do
        for server in ringcast nchan; do run_cell $server "$n" "$r" $proto; done
    done
done
for cell in $H2_EXTRA; do
    for server in ringcast nchan; do run_cell $server "${cell%:*}" "${cell#*:}" h2; done
done
run_h2load
run_big

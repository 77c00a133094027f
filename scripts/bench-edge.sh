#!/bin/bash
# Edge fan-out benchmark (part of `make bench`): one bridge on the mock cluster, one edge worker,
# and build/ringcast-bench as the clients and the Kafka publisher, on this machine:
#   1. 10k idle streams over HTTP/2 (h2c, 100 connections x 100 streams), then 10k over HTTP/1.1:
#      the edge's RSS per stream (each on a fresh worker: a worker keeps freed memory for reuse);
#   2. 1, 100 and 1k HTTP/1.1 streams at 100 or 1k events/s of 100 B: events delivered per second,
#      the edge's CPU-s per million delivered events, publish->client latency (Kafka included) and
#      ring->client latency (from when a watcher woken by the bridge saw the record in the ring).
# The clients share the two cores with the edge, the bridge and the mock broker: the client's own
# CPU is printed so a reader sees when it was the limit. BENCH_QUICK=1 measures 3 s instead of 10 and
# leaves out the idle-memory runs (scripts/bench-compare.sh reads memory per stream too).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/build/ringcast-bench
DIR=$(mktemp -d /dev/shm/rc-bench-edge-XXXXXX)
PORT=$((20000 + RANDOM % 12000))
SECS=10 PHASES=()
[ -n "${BENCH_QUICK:-}" ] && SECS=3 PHASES=(--settle 0.5 --warmup 0.5)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
cat >"$DIR/ringcast.yaml" <<EOT
kafka: {brokers: mock, properties: {fetch.wait.max.ms: "10"}}
ring: {dir: $DIR/rings, size: 64MiB}
streams:
  - {name: bench, topics: [bench]}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 1
log: {level: warn}
EOT
"$ROOT/build/ringcast-bridge" -c "$DIR/ringcast.yaml" 2>"$DIR/bridge.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$DIR/rings/kafka-bootstrap" ] && break; sleep 0.1; done
"$ROOT/build/ringcast-edge" -c "$DIR/ringcast.yaml" 2>"$DIR/edge.log" &
edge=$!
pids+=($edge)
healthy() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done; }
healthy
URL=http://127.0.0.1:$PORT/streams/bench
PUB=(--kafka "@$DIR/rings/kafka-bootstrap" --topic bench --ring "$DIR/rings/bench.ring")
if [ -z "${BENCH_QUICK:-}" ]; then
    echo "== 10k idle HTTP/2 streams (h2c, 100 connections x 100 streams), one worker"
    "$BENCH" --url "$URL" --h2 --streams 10000 --conns 100 --duration 2 --server-pid "$edge" | grep -E "ready|memory"
    # A fresh worker for the next figure: the master restarts the one it loses.
    kill -TERM "$(tr -d ' ' <"/proc/$edge/task/$edge/children")"
    sleep 1.5
    healthy
    echo "== 10k idle HTTP/1.1 streams, one worker"
    "$BENCH" --url "$URL" --streams 10000 --duration 2 --server-pid "$edge" | grep -E "ready|memory"
fi
echo "== 1 HTTP/1.1 stream, 100 events/s: the wake-up path alone"
"$BENCH" --url "$URL" --streams 1 --duration "$SECS" "${PHASES[@]}" --rate 100 "${PUB[@]}" | grep latency
echo "== 100 HTTP/1.1 streams, 1k events/s, one worker"
"$BENCH" --url "$URL" --streams 100 --duration "$SECS" "${PHASES[@]}" --rate 1000 "${PUB[@]}" --server-pid "$edge" |
    grep -E "delivered|latency|CPU"
echo "== 1k HTTP/1.1 streams, 1k events/s, one worker"
"$BENCH" --url "$URL" --streams 1000 --duration "$SECS" "${PHASES[@]}" --rate 1000 "${PUB[@]}" --server-pid "$edge"
echo "== 1k HTTP/2 streams (h2c, 10 connections x 100 streams), 1k events/s, one worker"
"$BENCH" --url "$URL" --h2 --streams 1000 --conns 10 --duration "$SECS" "${PHASES[@]}" --rate 1000 "${PUB[@]}" \
    --server-pid "$edge" | grep -E "delivered|latency|CPU"

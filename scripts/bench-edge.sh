#!/bin/bash
# Edge fan-out benchmark (part of `make bench`): one bridge on the mock cluster, one edge worker,
# and build/bench/sse_bench as the clients (HTTP/1.1), on this machine:
#   1. 10k idle streams: the worker's RSS per stream;
#   2. 1k streams, 1k events/s of 100 B: events delivered per second, the worker's CPU-s per
#      million delivered events, and produce->client latency (Kafka included).
# The clients share the two cores with the edge, the bridge and the mock broker: the client's own
# CPU is printed so a reader sees when it was the limit.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /dev/shm/rc-bench-edge-XXXXXX)
PORT=$((20000 + RANDOM % 12000))
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
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
BOOT=$(cat "$DIR/rings/kafka-bootstrap")
URL=http://127.0.0.1:$PORT/streams/bench
echo "== 10k idle HTTP/1.1 streams, one worker"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 10000 --duration 1 --edge-pid "$edge" | grep -E "streams|RSS"
echo "== 1k HTTP/1.1 streams, 1k events/s, one worker"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 1000 --duration 10 --produce "$BOOT" --topic bench --rate 1000 \
    --edge-pid "$edge"

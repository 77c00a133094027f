#!/bin/bash
# Edge fan-out benchmark (part of `make bench`): one bridge on the mock cluster, one edge worker,
# and build/bench/sse_bench as the clients (HTTP/1.1), on this machine:
#   1. 10k idle streams over HTTP/2 (h2load, 100 per connection), then 10k over HTTP/1.1: the
#      worker's RSS per stream (each on a fresh worker: a worker keeps freed memory for reuse);
#   2. 1, 100 and 1k streams at 100 or 1k events/s of 100 B: events delivered per second, the
#      worker's CPU-s per million delivered events, produce->client latency (Kafka included) and
#      ring->client latency (from when a watcher woken by the bridge saw the record in the ring).
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
echo "== 10k idle HTTP/2 streams (h2c, 100 connections x 100 streams, h2load), one worker"
worker=$(tr -d ' ' <"/proc/$edge/task/$edge/children")
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$worker/status")
h2load -c 100 -m 100 -n 10000 -D 6 "$URL" >"$DIR/h2load.out" 2>&1 &
h2=$!
sleep 4
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$worker/status")
open=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ringcast_streams_open\{stream="bench",protocol="h2"\}/ { print $2 }')
wait $h2
awk -v a="$rss0" -v b="$rss1" -v n="$open" 'BEGIN { printf "h2 streams open %d: worker RSS %.1f -> %.1f MiB = %.2f KiB per stream\n", n, a / 1024, b / 1024, n ? (b - a) / n : 0 }'
# A fresh worker for the next figure: the master restarts the one it loses.
kill -TERM "$worker"
sleep 1.5
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
echo "== 10k idle HTTP/1.1 streams, one worker"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 10000 --duration 1 --edge-pid "$edge" | grep -E "streams|RSS"
RING=$DIR/rings/bench.ring
echo "== 1 HTTP/1.1 stream, 100 events/s: the wake-up path alone"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 1 --duration 5 --produce "$BOOT" --topic bench --rate 100 \
    --ring "$RING" | grep latency
echo "== 100 HTTP/1.1 streams, 1k events/s, one worker"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 100 --duration 10 --produce "$BOOT" --topic bench --rate 1000 \
    --ring "$RING" --edge-pid "$edge" | grep -E "delivered|latency|CPU"
echo "== 1k HTTP/1.1 streams, 1k events/s, one worker"
"$ROOT/build/bench/sse_bench" --url "$URL" --conns 1000 --duration 10 --produce "$BOOT" --topic bench --rate 1000 \
    --ring "$RING" --edge-pid "$edge"

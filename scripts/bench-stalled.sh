#!/bin/bash
# Stalled readers beside live ones (part of `make bench`): one bridge on the mock cluster, one
# edge worker, a full 256 MiB ring (whose largest record may be 64 MiB). 1000 live HTTP/1.1 streams
# at 1k events/s (build/ringcast-bench) are measured twice: alone, then with 200 more streams that
# resumed at 200 distinct old positions and never read (tests/tools/stall_client.py; a 4 KiB
# receive buffer each). Printed: the worker's RSS before and with the stalled streams, its CPU,
# and the live streams' delivery and latency in both runs. edge.send_timeout is an hour here, so
# the stalled streams stay for the whole measurement. BENCH_QUICK=1 measures 3 s instead of 10.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/build/ringcast-bench
TOOL=$ROOT/build/ringcast-ringtool
DIR=$(mktemp -d /dev/shm/rc-bench-stalled-XXXXXX)
PORT=$((20000 + RANDOM % 12000))
SECS=10 PHASES=()
[ -n "${BENCH_QUICK:-}" ] && SECS=3 PHASES=(--settle 0.5 --warmup 0.5)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
cat >"$DIR/ringcast.yaml" <<EOT
kafka: {brokers: mock, properties: {fetch.wait.max.ms: "10"}}
ring: {dir: $DIR/rings, size: 256MiB}
streams:
  - {name: bench, topics: [bench], partitions: 8}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 1
  send_timeout: 1h
log: {level: warn}
EOT
"$ROOT/build/ringcast-bridge" -c "$DIR/ringcast.yaml" 2>"$DIR/bridge.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$DIR/rings/kafka-bootstrap" ] && break; sleep 0.1; done
BOOT=$(cat "$DIR/rings/kafka-bootstrap")
"$ROOT/build/ringcast-edge" -c "$DIR/ringcast.yaml" 2>"$DIR/edge.log" &
edge=$!
pids+=($edge)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
worker=$(pgrep -P "$edge" | head -1)
rss() { awk '/^RssAnon/ { a = $2 } /^RssShmem/ { s = $2 } END { printf "%d KiB private + %d KiB of ring pages", a, s }' "/proc/$worker/status"; }

# Fill the ring until it evicts: 1 KiB records over 8 partitions, in batches the bridge reads
# before the next (the mock cluster keeps ~5 MiB of a partition).
counter() { "$TOOL" info "$DIR/rings/bench.ring" | sed -n "s/.*counters.* $1=\([0-9]*\).*/\1/p"; }
n=0
while [ "$(counter evicted)" = 0 ]; do
    seq $((n + 1)) $((n + 24000)) | awk '{ printf "%d:%09d-%01014d\n", $1 % 8, $1, 0 }' |
        kcat -P -b "$BOOT" -t bench -K: -X batch.num.messages=10000 2>/dev/null
    n=$((n + 24000))
    for _ in $(seq 300); do [ "$(counter records)" -ge "$n" ] && break; sleep 0.1; done
done
"$TOOL" info "$DIR/rings/bench.ring" | sed -n 's/^records */ring: /p'

URL=http://127.0.0.1:$PORT/streams/bench
PUB=(--kafka "@$DIR/rings/kafka-bootstrap" --topic bench --ring "$DIR/rings/bench.ring")
echo "== 1k live HTTP/1.1 streams, 1k events/s, alone; worker RSS $(rss)"
"$BENCH" --url "$URL" --streams 1000 --duration "$SECS" "${PHASES[@]}" --rate 1000 "${PUB[@]}" --server-pid "$edge" |
    grep -E "delivered|latency|CPU"

# 200 ids spread over the ring: the frames of 200 records from its oldest to its newest.
read -r first last <<<"$("$TOOL" info "$DIR/rings/bench.ring" | sed -n 's/^records *seq \([0-9]*\) \.\. \([0-9]*\).*/\1 \2/p')"
ids=()
for i in $(seq 0 199); do
    ids+=("$("$TOOL" dump "$DIR/rings/bench.ring" $((first + (last - first) * i / 200)) 1 |
        sed 's/.*frame=id: \([A-Za-z0-9_-]*\)\\n.*/\1/')")
done
rss0=$(rss)
python3 "$ROOT/tests/tools/stall_client.py" h1 "$PORT" /streams/bench "${ids[@]}" >"$DIR/stall.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "open 200" "$DIR/stall.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
echo "== 200 streams at distinct old positions that never read: worker RSS $rss0 -> $(rss)"
echo "== 1k live HTTP/1.1 streams, 1k events/s, beside the 200 stalled ones"
"$BENCH" --url "$URL" --streams 1000 --duration "$SECS" "${PHASES[@]}" --rate 1000 "${PUB[@]}" --server-pid "$edge" |
    grep -E "delivered|latency|CPU"
echo "== worker RSS at the end: $(rss)"

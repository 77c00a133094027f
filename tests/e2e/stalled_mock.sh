#!/bin/bash
# Clients that stop reading, with the bridge on librdkafka's mock cluster and one edge worker:
#   - 20 HTTP/1.1 streams resuming at 20 distinct old positions of a 64 MiB ring (whose largest
#     record is 16 MiB) never read: the worker holds one small chunk for each (64 KiB), not a
#     quarter of the ring, and the kernel queues at most ~64 KiB unsent for each (TCP_NOTSENT_LOWAT),
#     whatever the machine's TCP buffers;
#   - after edge.send_timeout (2 s here) without a byte taken they are closed and counted in
#     /metrics, although heartbeats (every 300 ms) keep coming; a client reading the same stream
#     meanwhile gets all of it;
#   - an HTTP/2 stream whose client grants no flow-control window is reset (RST_STREAM) after
#     edge.send_timeout and counted; its connection stays usable.
. "$(dirname "$0")/../lib.sh"
need kcat curl ss python3
STALL="python3 $ROOT/tests/tools/stall_client.py"
RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 64MiB}
streams:
  - {name: big, topics: [big], start: oldest}
  - {name: quiet, topics: [quiet]}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 1
  heartbeat: 300ms
  send_timeout: 2s
log: {level: info}
EOT
ok "bridge and edge (1 worker) are up" start_stack "$T/ringcast.yaml"
W=$(workers_of "${PIDS[edge]}" | awk '{ print $1 }')

# 120,000 records of 300 bytes: 40 MB in the ring. In batches the bridge reads before the next:
# the mock cluster keeps only ~5 MiB of a partition.
N=120000
for b in $(seq 0 9); do
    seq $((b * 12000 + 1)) $((b * 12000 + 12000)) | awk '{ printf "%06d-%0294d\n", $1, 0 }' |
        kcat -P -b "$BOOT" -t big -X batch.num.messages=10000
    wait_for 60 ring_has big $((b * 12000 + 12000)) || break
done
ok "the $N records are in the ring" ring_has big $N

# A reader from the oldest record, at its own pace, meanwhile.
curl -sN --max-time 120 "$URL/streams/big?limit=$N" | grep -c '^data: ' >"$T/reader.count" &
reader=$!

# 20 ids at distinct old positions: the frames of records 1000, 6000, 11000, ...
ids=()
for i in $(seq 0 19); do
    ids+=("$(ring_dump big $((1000 + i * 5000)) 1 | sed 's/.*frame=id: \([A-Za-z0-9_-]*\)\\n.*/\1/')")
done
rss0=$(rss_kib "$W")
spawn stall $STALL h1 "$PORT" /streams/big "${ids[@]}"
ok "20 streams open at old positions and never read" wait_for 20 grep -q "open 20" "$T/stall.log"
# Sampled until they are closed: the worker's memory and what the kernel queues for each.
closed() { metric_is 'ringcast_stalled_closed_total{stream="big",protocol="http1"}' 20; }
peak=$rss0 queued=0
for i in $(seq 1 40); do
    r=$(rss_kib "$W")
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    q=$(ss -Htn state established "( sport = :$PORT )" | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
    [ "$q" -gt "$queued" ] && queued=$q
    closed && break
    sleep 0.1
done
echo "# worker RSS ${rss0} KiB before, peak ${peak} KiB with the 20 stalled streams; most queued in the kernel for one: $queued bytes"
ok "the worker holds a small chunk for each stalled stream, not a quarter of the ring: RSS +$(((peak - rss0) / 1024)) MiB < 16 MiB" \
    test $((peak - rss0)) -lt 16384
ok "the kernel queues at most ~64 KiB unsent for a stream that does not read ($queued bytes < 256 KiB)" \
    test "$queued" -lt 262144
ok "edge.send_timeout closes the 20 stalled streams, heartbeats notwithstanding; /metrics counts them" wait_for 30 closed
logged() { [ "$(grep -c 'took no byte for .* (edge.send_timeout): closed' "$T/edge.log")" -ge 20 ]; }
wait_for 10 logged
is "... and the worker's log says why" "$(grep -c 'took no byte for .* (edge.send_timeout): closed' "$T/edge.log")" 20
gone() { [ "$(metric 'ringcast_streams_open{stream="big",protocol="http1"}')" -le 1 ]; }
ok "the stalled streams are gone from the worker (at most the reader's is open)" wait_for 20 gone
stop stall KILL
wait $reader
is "the client that reads got all $N records" "$(cat "$T/reader.count")" "$N"

# HTTP/2: no window for the stream's first bytes (its retry hint), ever.
is "an HTTP/2 stream with no flow-control window is reset after edge.send_timeout" \
    "$($STALL h2 "$PORT" /streams/quiet 30)" "rst_stream 1 8" # CANCEL
wait_for 10 metric_is 'ringcast_stalled_closed_total{stream="quiet",protocol="h2"}' 1
is "/metrics counts it" "$(metric 'ringcast_stalled_closed_total{stream="quiet",protocol="h2"}')" 1
is "other streams are served as before" "$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge "$URL/healthz")" 200
ok "the worker is still the same process" kill -0 "$W"
stop edge TERM
stop bridge TERM
finish

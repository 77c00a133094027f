#!/bin/bash
# Overload, with the bridge on librdkafka's mock cluster and one edge worker, measured with
# sse_check (tests/tools/sse_check.c):
#   - slow readers: 20 of 120 streams read 200 bytes a second (with a 2 KiB receive buffer) while
#     records come at 300 KB/s (1000 a second) into a 1 MiB ring for 12 s. The worker's RSS is sampled: it stays bounded (a
#     client holds at most one 64 KiB chunk; a per-client queue would hold everything); each slow
#     stream gets `event: gap` once it fell off the ring's tail, announcing exactly what it missed;
#     the 100 others receive everything. Their latency is measured, with and without the slow
#     readers, and reported (not asserted: the machine is shared).
#   - churn: 50,000 connections in 5 waves of 10,000 (open, see each stream start, close: half
#     with FIN, half with RST) on 2 workers. The workers' open files return to what they were
#     and their RSS to near where it was (bound below).
. "$(dirname "$0")/../lib.sh"
need curl

RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
config() { # $1: workers
    cat <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: flood, topics: [flood], partitions: 2}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: $1
  heartbeat: 1s
  retry: 500ms
log: {level: info}
EOT
}
config 1 >"$T/one.yaml"
ok "bridge and edge (1 worker) are up" start_stack "$T/one.yaml"
W=$(workers_of "${PIDS[edge]}" | awk '{ print $1 }')
FLOOD=(--url "$URL/streams/flood" --bootstrap-file "$RINGS/kafka-bootstrap" --topic flood --partitions 2 --size 300)

# --- slow readers ---------------------------------------------------------------------------------
# sse_check ends as soon as every stream has every record: a long --drain costs nothing when the
# machine is fast and keeps a busy one from failing.
"$CHECK" "${FLOOD[@]}" --conns 100 --rate 1000 --count 6000 --drain 120 >"$T/base.out" 2>&1
show_result "$T/base.out" "without slow readers"
is "without slow readers: nothing lost or repeated" "$(field lost "$T/base.out"):$(field repeated "$T/base.out")" "0:0"
rss0=$(rss_kib "$W")
spawn slow "$CHECK" "${FLOOD[@]}" --conns 120 --slow 20 --slow-bps 200 --rate 1000 --count 12000 --drain 120 \
    --csv "$T/slow.csv"
peak=$rss0
echo "seconds,worker_rss_kib" >"$T/rss.csv"
SECONDS=0
while kill -0 "${PIDS[slow]}" 2>/dev/null && [ $SECONDS -lt 240 ]; do
    r=$(rss_kib "$W")
    [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
    echo "$SECONDS,$r" >>"$T/rss.csv"
    sleep 0.5
done
stop slow KILL
out=$T/slow.log
show_result "$out" "with 20 slow readers"
echo "# worker RSS: $rss0 KiB before, peak $peak KiB while 20 streams read 200 B/s of a 300 KB/s stream for 12 s"
is "slow readers: the 100 others lost nothing" "$(field lost "$out")" 0
is "slow readers: nothing repeated" "$(field repeated "$out")" 0
is "slow readers: every stream reached the last record" "$(field incomplete "$out")" 0
is "slow readers: each of the 20 slow streams got event: gap" "$(field slow_gaps "$out")" 20
is "slow readers: the gaps announced exactly what the slow streams missed" "$(field slow_lost "$out")" 0
# Bound: 32 MiB over the idle worker. A worker that queued per client would hold what the 20 slow
# streams did not read: 20 x 3.6 MB = 72 MB; ringcast holds one 64 KiB chunk (and h2o's copy of
# what the socket did not take) per stream, about 3 MB for 20, plus the ring's 1.7 MiB mapped, and
# the 120 streams' connections (~1.2 MB).
ok "slow readers: the worker's RSS grew by $(((peak - rss0) / 1024)) MiB, under 32 MiB" test $((peak - rss0)) -lt 32768
echo "# latency of the other streams, produce->client: p50 $(field p50_us "$T/base.out") us, p99 $(field p99_us "$T/base.out") us without slow readers; p50 $(field p50_us "$out") us, p99 $(field p99_us "$out") us, max $(field max_us "$out") us with them"
ok "the worker is still the same process" kill -0 "$W"
stop edge TERM
stop bridge TERM

# --- churn: 50k connections in waves ------------------------------------------------------------------
config 2 >"$T/two.yaml"
ok "bridge and edge (2 workers) are up" start_stack "$T/two.yaml"
WS=$(workers_of "${PIDS[edge]}")
totals() { # sum of open files and RSS (KiB) over the workers
    local f=0 r=0 w
    for w in $WS; do f=$((f + $(fds "$w"))); r=$((r + $(rss_kib "$w"))); done
    echo "$f $r"
}
# A first wave of 1000 warms the allocators (h2o's pools, malloc's arenas): the baseline is taken
# after it, with every stream gone.
"$CHECK" --url "$URL/streams/flood" --conns 1000 --churn 1 >"$T/warm.out" 2>&1
closed() { metric_is 'ringcast_streams_open{stream="flood",protocol="http1"}' 0; }
wait_for 30 closed
sleep 1
read -r fd0 rss0 <<<"$(totals)"
"$CHECK" --url "$URL/streams/flood" --conns 10000 --churn 5 >"$T/churn.out" 2>&1 &
churn_pid=$!
peak_fd=$fd0 peak_rss=$rss0
while kill -0 $churn_pid 2>/dev/null; do
    read -r f r <<<"$(totals)"
    [ "$f" -gt "$peak_fd" ] && peak_fd=$f
    [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    sleep 0.2
done
wait $churn_pid
sed 's/^/# /' "$T/churn.out"
is "churn: 50,000 streams started (5 waves of 10,000)" "$(field started "$T/churn.out")" 50000
# The worker sees a vanished HTTP/1.1 client on its next write: the heartbeat (1 s) finds them all.
ok "churn: every stream is closed on the edge afterwards" wait_for 60 closed
# Sockets close and heap returns (malloc_trim) as the workers dispose of the streams: wait for the
# figures to come back, within bounds, rather than for a fixed time.
settled() { read -r fd1 rss1 <<<"$(totals)"; [ "$fd1" -le $((fd0 + 2)) ] && [ $((rss1 - rss0)) -lt 16384 ]; }
wait_for 30 settled
read -r fd1 rss1 <<<"$(totals)"
echo "# workers: open files $fd0 before, peak $peak_fd, $fd1 after; RSS $rss0 KiB before, peak $peak_rss KiB, $rss1 KiB after"
ok "churn: the workers' open files are back to $fd0 (+2 at most) after: $fd1" test "$fd1" -le $((fd0 + 2))
# RSS bound: 16 MiB over the baseline. A worker returns freed heap to the system once 1000 streams
# closed since its peak (malloc_trim); what may stay is malloc's and h2o's caches and pages of the
# ring, a few MiB. Nothing may stay per connection: 10,000 leaked streams would be ~100 MB.
ok "churn: the workers' RSS is back near the baseline ($(((rss1 - rss0) / 1024)) MiB over it; bound 16 MiB)" \
    test $((rss1 - rss0)) -lt 16384
ok "churn: no worker died" sh -c "! grep -q 'killed by signal\|exited with' '$T/edge.log'"
stop edge TERM
stop bridge TERM
finish

#!/bin/bash
# A bounded soak of ringcast: the bridge on librdkafka's mock cluster, an edge with 2 workers, and
# build/tests/sse_check holding many HTTP/1.1 streams while it produces numbered records at a fixed
# rate. Every second it writes the edge workers' RSS (their own memory, RssAnon, apart from the
# pages of the ring file they map, RssShmem, which grow as the ring fills until it wraps), the
# bridge's RSS (its mock cluster keeps the records too), the events delivered and the
# produce->client latency (p50, p99, max) to a CSV, and at the end plots them (gnuplot, PNG). The
# run ends with sse_check's exactness count: records lost or repeated on any stream (must be 0).
#
#   scripts/soak.sh [--duration 10m] [--streams 5000] [--rate 1000] [--partitions 10] [--all]
#                   [--workers 2] [--out DIR]
#
# --duration: seconds, or with m / h. --rate: records produced per second, spread over
# --partitions partitions. By default stream k asks for partition k % partitions only (?partition=:
# a page following one key or user), so each stream gets rate/partitions events a second; --all
# makes every stream read every record (5000 x 1000 = 5M events/s, more than a 2-core machine
# carries). Output: DIR/soak.csv, DIR/soak.png, DIR/summary.txt (DIR defaults to build/soak). Not
# part of `make test`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
duration=10m streams=5000 rate=1000 partitions=10 split=1 workers=2 out=$ROOT/build/soak
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --streams) streams=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --all) split=0; shift ;;
        --workers) workers=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
case $duration in
    *h) secs=$((${duration%h} * 3600)) ;;
    *m) secs=$((${duration%m} * 60)) ;;
    *s) secs=${duration%s} ;;
    *) secs=$duration ;;
esac
[ "$streams" -le 19000 ] || { echo "soak: at most 19000 streams (one client process, 20k open files)" >&2; exit 2; }

"$ROOT/scripts/install-deps.sh" --soak
make -C "$ROOT" -s all
mkdir -p "$out"
out=$(cd "$out" && pwd)
DIR=$(mktemp -d /dev/shm/rc-soak-XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
port=$((20000 + RANDOM % 12000))
cat >"$DIR/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $DIR/rings, size: 64MiB}
streams:
  - {name: soak, topics: [soak], partitions: $partitions}
edge:
  listen: [{address: 127.0.0.1, port: $port}]
  workers: $workers
log: {level: warn}
EOT
"$ROOT/build/ringcast-bridge" -c "$DIR/ringcast.yaml" 2>"$out/bridge.log" &
bridge=$!
pids+=($bridge)
for _ in $(seq 100); do [ -s "$DIR/rings/kafka-bootstrap" ] && break; sleep 0.1; done
"$ROOT/build/ringcast-edge" -c "$DIR/ringcast.yaml" 2>"$out/edge.log" &
edge=$!
pids+=($edge)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "soak: $streams streams, $rate records/s over $partitions partitions$([ $split = 1 ] && echo ', each stream one partition'), $secs s; output in $out" >&2
"$ROOT/build/tests/sse_check" --url "http://127.0.0.1:$port/streams/soak" --conns "$streams" \
    --bootstrap-file "$DIR/rings/kafka-bootstrap" --topic soak --partitions "$partitions" --split "$split" \
    --rate "$rate" --count $((rate * secs)) --size 100 --drain 60 --csv "$DIR/latency.csv" >"$DIR/check.out" 2>&1 &
check=$!
pids+=($check)

# RSS in KiB: the edge workers together (own memory, ring pages), and the bridge; one line a second.
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "epoch,edge_workers_anon_kib,edge_workers_ring_kib,bridge_rss_kib" >"$DIR/rss.csv"
while kill -0 $check 2>/dev/null; do
    a=0 r=0
    for p in $(pgrep -P $edge); do a=$((a + $(rss "$p" RssAnon))); r=$((r + $(rss "$p" RssShmem))); done
    echo "$(date +%s),$a,$r,$(rss $bridge VmRSS)" >>"$DIR/rss.csv"
    sleep 1
done
wait $check || true
cat "$DIR/check.out" >"$out/sse_check.out"

# One CSV: each second of the checker with the RSS sampled in that second.
awk -F, 'NR == FNR { if (FNR > 1) { a[$1] = $2; r[$1] = $3; b[$1] = $4 } next }
    FNR == 1 { print "seconds,events_per_s,p50_us,p99_us,max_us,streams_open,reconnects,edge_workers_anon_kib,edge_workers_ring_kib,bridge_rss_kib"; next }
    { e = $1; while (!(e in a) && e > $1 - 3) e--;
      print $2 "," $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," a[e] "," r[e] "," b[e] }' \
    "$DIR/rss.csv" "$DIR/latency.csv" >"$out/soak.csv"

gnuplot <<EOT
set terminal pngcairo size 1200,800 font ",10"
set output "$out/soak.png"
set datafile separator ","
set key top left
set multiplot layout 2,1 title "ringcast soak: $streams streams, $rate records/s ($(date -u +%Y-%m-%dT%H:%MZ))"
set xlabel "seconds"
set ylabel "RSS (MiB)"
set yrange [0:*]
plot "$out/soak.csv" using 1:(\$8/1024) with lines lw 2 title "edge workers, own (RssAnon)", \
     "" using 1:(\$9/1024) with lines lw 2 title "edge workers, ring pages mapped (RssShmem)", \
     "" using 1:(\$10/1024) with lines lw 2 title "bridge (with the mock cluster)"
set ylabel "produce->client latency (ms)"
set logscale y
set yrange [*:*]
plot "$out/soak.csv" using 1:(\$3/1000) with lines title "p50", \
     "" using 1:(\$4/1000) with lines title "p99", \
     "" using 1:(\$5/1000) with lines title "max"
unset multiplot
EOT

{
    echo "soak: $streams streams, $rate records/s over $partitions partitions, split=$split, $secs s, $workers workers"
    grep -v '^result ' "$DIR/check.out" || true
    awk -F, 'NR > 1 && $8 != "" { if (!min || $8 < min) min = $8; if ($8 > max) max = $8; last = $8; ring = $9 }
        END { printf "edge workers, own memory (RssAnon): min %.1f MiB, max %.1f MiB, last %.1f MiB; ring pages mapped at the end: %.1f MiB\n", min / 1024, max / 1024, last / 1024, ring / 1024 }' "$out/soak.csv"
    grep '^result ' "$DIR/check.out" || echo "result: sse_check did not finish"
} | tee "$out/summary.txt"
echo "soak: wrote $out/soak.csv, $out/soak.png, $out/summary.txt" >&2
grep -q '^result .* lost=0 repeated=0 incomplete=0 ' "$DIR/check.out"

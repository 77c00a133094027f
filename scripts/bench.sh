#!/bin/bash
# `make bench`: every benchmark of ringcast on this machine, then tests/bench/BENCHMARKS.md (tables:
# date, machine, command, figures) and PNG plots under tests/bench/plots/.
#   1. ring write/read              build/bench/ring_bench
#   2. bridge ingest                scripts/bench-ingest.sh
#   3. fan-out, edge alone          scripts/bench-edge.sh
#      the kernel's floor under it  build/bench/write_floor (one write to each of N sockets)
#      stalled readers beside live   scripts/bench-stalled.sh (a full 256 MiB ring)
#      fan-out, ringcast and nginx + nchan side by side, h2load, 100k streams: scripts/bench-compare.sh
# About 10 minutes; BENCH_QUICK=1 is a smoke run of about 2 minutes (fewer, shorter cells). The
# raw results (each part's output, one JSON file per fan-out cell) stay in build/bench/.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/bench
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.json
cmd="make bench"
[ -n "${BENCH_QUICK:-}" ] && cmd="BENCH_QUICK=1 make bench"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine=$(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command=$cmd"
    echo "commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "workers=${BENCH_WORKERS:-2}"
} >"$OUT/meta.txt"

# step NAME COMMAND...: runs a part, shows and keeps its output, notes how long it took.
step() {
    local name=$1 start=$SECONDS
    shift
    echo "### $name: $*"
    "$@" 2>&1 | tee "$OUT/$name.txt"
    echo "$name=$((SECONDS - start))s" >>"$OUT/durations.txt"
}
ring_args=()
[ -n "${BENCH_QUICK:-}" ] && ring_args=(--seconds 0.2)
step ring "$ROOT/build/bench/ring_bench" "${ring_args[@]}"
step ingest "$ROOT/scripts/bench-ingest.sh"
step edge "$ROOT/scripts/bench-edge.sh"
step stalled "$ROOT/scripts/bench-stalled.sh"
step floor sh -c "'$ROOT/build/bench/write_floor' --conns 100 && '$ROOT/build/bench/write_floor' --conns 1000"
step compare "$ROOT/scripts/bench-compare.sh" "$OUT"
python3 "$ROOT/tests/bench/bench_report.py" "$OUT" "$ROOT/tests/bench/BENCHMARKS.md" "$ROOT/tests/bench/plots"
echo "bench: wrote tests/bench/BENCHMARKS.md and tests/bench/plots/*.png (raw results in build/bench/)"

#!/bin/sh
# The fuzz suite: runs each libFuzzer target for a bounded time and prints one TAP line per target
# (ok when it found no crash, no broken invariant, no leak, no timeout).
#
#   tests/fuzz/run.sh BUILD_DIR TARGET...       e.g. tests/fuzz/run.sh build/fuzz eventid ring
#
# A target starts from its committed corpus (tests/fuzz/corpus/<target>/) and regression inputs
# (tests/fuzz/regressions/<target>/), read only: inputs it finds on the way go to a temporary
# directory that is removed afterwards. FUZZ_SECONDS (default 15) bounds each target's time and
# FUZZ_RUNS (default 2000000) its executions. A failing input is kept and its path printed, with
# the command that replays it.
set -u
dir=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-15}
runs=${FUZZ_RUNS:-2000000}
tmp=$(mktemp -d "${TMPDIR:-/dev/shm}/rc-fuzz-XXXXXX")
n=0
failed=0
for t in "$@"; do
    n=$((n + 1))
    bin=$dir/fuzz_$t
    mkdir -p "$tmp/$t/new" "$tmp/$t/crash"
    if [ ! -x "$bin" ]; then
        echo "not ok $n - fuzz_$t: $bin is missing (make fuzz)"
        failed=$((failed + 1))
        continue
    fi
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a bounded reader stays far below.
    start=$(date +%s)
    "$bin" -max_total_time="$secs" -runs="$runs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$tmp/$t/crash/" "$tmp/$t/new" "$root/tests/fuzz/corpus/$t" \
        "$root/tests/fuzz/regressions/$t" >"$tmp/$t/log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t/log")
    found=$(find "$tmp/$t/new" -type f | wc -l)
    crash=$(find "$tmp/$t/crash" -type f | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        echo "ok $n - fuzz_$t: ${execs:-?} inputs in ${took}s, no crash ($found new corpus entries, discarded)"
    else
        failed=$((failed + 1))
        echo "not ok $n - fuzz_$t: exit status $rc"
        grep -E 'ERROR|invariant broken|SUMMARY|^    #[0-9]' "$tmp/$t/log" | head -n 30 | sed 's/^/#   /'
        if [ -n "$crash" ]; then
            keep=$(mktemp -d /dev/shm/rc-fuzz-crash-XXXXXX)
            cp "$crash" "$keep/"
            echo "#   input kept in $keep/$(basename "$crash"); replay: $bin $keep/$(basename "$crash")"
        fi
    fi
done
rm -rf "$tmp"
echo "1..$n"
[ "$failed" -eq 0 ]

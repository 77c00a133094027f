#!/bin/sh
# Runs test programs that speak TAP, shows their output, and ends with "N passed, N failed"
# summed over all of them. A program that exits non-zero without reporting a failing test (a crash,
# a sanitizer report, a short plan) counts as one more failure, so nothing breaks silently.
#
#   tests/run.sh NAME=COMMAND ...      (COMMAND is run by sh -c; NAME labels its lines)
set -u
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for spec in "$@"; do
    name=${spec%%=*}
    cmd=${spec#*=}
    echo "# --- $name: $cmd"
    sh -c "$cmd" >"$out" 2>&1
    rc=$?
    sed "s/^/[$name] /" "$out"
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^not ok ' "$out")
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
    if [ -n "$plan" ] && [ $((p + f)) -ne "$plan" ]; then
        echo "[$name] not ok - planned $plan tests, ran $((p + f))"
        f=$((f + 1))
    elif [ -z "$plan" ] && [ $((p + f)) -eq 0 ]; then
        echo "[$name] not ok - printed no TAP plan and no test result"
        f=$((f + 1))
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$name] not ok - exited with status $rc"
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

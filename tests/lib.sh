# Shared helpers of ringcast's end-to-end tests (bash). Each test script sources this file, starts
# real processes, asserts on what they wrote, and prints TAP; tests/run.sh sums the results.
#
#   ok "description" COMMAND...      passes if COMMAND exits 0
#   is "description" GOT WANT        passes if the two strings are equal (shows both if not)
#   wait_for SECONDS COMMAND...      polls COMMAND every 0.1 s until it succeeds; 1 on timeout
#   spawn NAME COMMAND...            starts COMMAND in the background, logs to $T/NAME.log; the
#                                    PID is in ${PIDS[NAME]} and it is killed when the test exits
#   finish                           prints the plan and exits 0 if every test passed
#   on_exit COMMAND...               runs COMMAND when the test exits, before the spawned processes
#                                    are killed (a broker to stop, a mount to undo)
#
# tests/lib/*.sh add the shared bring-up and checks, one file per subject: stack.sh (bridge, edge
# and Kafka broker from a config, waited for), check.sh (the exactness checker sse_check and its
# result line), http.sh (SSE, /metrics, /streams, one check over HTTP/1.1, h2c and TLS, resume from
# every id), ring.sh (ringtool info and dump), proc.sh (RSS, open files, workers). A test script
# reads as the behaviour it checks; what starts, waits for and stops things lives there.
#
# Waits follow progress (a file, a log line, a counter) with generous bounds, never the clock
# alone: a slower or busier machine only makes a test take longer, never fail.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
T=$(mktemp -d "${TMPDIR:-/dev/shm}/rc-e2e-XXXXXX")
declare -A PIDS=()
_on_exit=()
_n=0
_failed=0

on_exit() { _on_exit+=("$*"); }

cleanup() {
    local hook
    for hook in "${_on_exit[@]}"; do eval "$hook"; done
    for name in "${!PIDS[@]}"; do
        kill -KILL "${PIDS[$name]}" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$_failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "# test files kept in $T"; fi
}
trap cleanup EXIT

ok() {
    local desc=$1
    shift
    _n=$((_n + 1))
    if "$@" >/dev/null; then
        echo "ok $_n - $desc"
    else
        echo "not ok $_n - $desc"
        _failed=$((_failed + 1))
    fi
}

is() {
    _n=$((_n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $_n - $1"
    else
        echo "not ok $_n - $1"
        printf '#   got:  %s\n#   want: %s\n' "$(printf '%s' "$2" | head -c 2000)" "$(printf '%s' "$3" | head -c 2000)"
        _failed=$((_failed + 1))
    fi
}

wait_for() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}

spawn() {
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    PIDS[$name]=$!
}

# Stops a spawned process with a signal and returns its exit status (124 if it did not exit).
stop() {
    local name=$1 sig=${2:-TERM} pid=${PIDS[$1]}
    kill "-$sig" "$pid" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        unset "PIDS[$name]"
        return 124
    fi
    { wait "$pid"; } 2>/dev/null # bash would report a killed job on stderr
    local rc=$?
    unset "PIDS[$name]"
    return $rc
}

need() {
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "Bail out! $tool is missing: run scripts/install-deps.sh --all"
            exit 1
        fi
    done
}

finish() {
    echo "1..$_n"
    [ "$_failed" -eq 0 ]
}

# A TCP port on 127.0.0.1 that nothing listens on (20000-31999: below the kernel's range for
# outgoing connections, so a client cannot be holding it).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

for _lib in "$ROOT"/tests/lib/*.sh; do
    . "$_lib"
done
unset _lib

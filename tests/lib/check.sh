# The exactness checker, build/tests/sse_check (tests/tools/sse_check.c), and its result line
# ("result clients=N produced=P lost=L ..."). Sourced by tests/lib.sh.
#
#   check_start NAME ARGS...     starts sse_check ARGS... in the background (spawn NAME, output in
#                                $T/NAME.log) and waits until every stream has a record (its
#                                --ready-file): the moment to inject a fault
#   check_wait NAME [SECONDS]    waits for it to end (default 300 s: it ends by itself, at the latest
#                                --drain seconds after its last record), then reaps it
#   field NAME FILE              the value of NAME= in the result line of FILE
#   show_result FILE [LABEL]     prints the result line as a TAP comment
#   exact LABEL FILE [FIELD...]  asserts nothing lost, repeated, incomplete or reset, and each FIELD
#                                (gaps, reconnects, ...) 0 too
CHECK=${CHECK:-$BUILD/tests/sse_check}

check_start() {
    local name=$1
    shift
    rm -f "$T/$name.ready"
    spawn "$name" "$CHECK" --ready-file "$T/$name.ready" "$@"
    wait_for 120 test -f "$T/$name.ready"
}

check_wait() {
    local pid=${PIDS[$1]} end=$((SECONDS + ${2:-300}))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
    stop "$1" KILL
    return 0
}

field() { sed -n "s/^result .*\b$1=\([0-9]*\).*/\1/p" "$2"; }

show_result() { sed -n "s/^result /# ${2:+$2: }result /p" "$1"; }

exact() {
    local label=$1 file=$2 f
    shift 2
    show_result "$file"
    is "$label: every stream got every record (lost)" "$(field lost "$file")" 0
    is "$label: no record twice (repeated)" "$(field repeated "$file")" 0
    is "$label: no stream was left short (incomplete)" "$(field incomplete "$file")" 0
    is "$label: no event: reset" "$(field resets "$file")" 0
    for f in "$@"; do
        case $f in
        gaps) is "$label: no gap was needed" "$(field gaps "$file")" 0 ;;
        reconnects) is "$label: the streams stayed open (reconnects)" "$(field reconnects "$file")" 0 ;;
        *) is "$label: $f is 0" "$(field "$f" "$file")" 0 ;;
        esac
    done
}

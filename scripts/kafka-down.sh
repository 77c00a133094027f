#!/bin/bash
# Stops the Kafka broker that scripts/kafka-up.sh started for ringcast's real-Kafka tests.
#
#   scripts/kafka-down.sh [DIR] [--wipe]     DIR defaults to build/kafka under the repo root
#
# Sends SIGTERM to the PID in DIR/kafka.pid only (a clean shutdown keeps the log consistent for
# the next kafka-up.sh on the same DIR), waits up to 30 s, then SIGKILL. Exits 0 when nothing was
# running. --wipe also deletes DIR/data, so the next start formats a fresh, empty cluster; the
# ports in DIR/ports are kept.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR= WIPE=
for a in "$@"; do
    case $a in
        --wipe) WIPE=1 ;;
        *) DIR=$a ;;
    esac
done
DIR=${DIR:-$ROOT/build/kafka}
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)

# A live broker from this DIR, by its command line: never signal a recycled PID, and count a
# zombie (whose parent has not reaped it yet) as gone.
is_our_broker() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF " $DIR/server.properties "
}

if [ -f "$DIR/kafka.pid" ]; then
    pid=$(cat "$DIR/kafka.pid")
    if is_our_broker "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 300); do
            is_our_broker "$pid" || break
            sleep 0.1
        done
        if is_our_broker "$pid"; then
            echo "kafka-down: broker $pid ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            while is_our_broker "$pid"; do sleep 0.1; done
        fi
    fi
    rm -f "$DIR/kafka.pid"
fi
[ -z "$WIPE" ] || rm -rf "$DIR/data"

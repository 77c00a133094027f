#!/bin/bash
# The live demo (`make demo`): installs what is missing, builds, makes a self-signed certificate,
# then starts the bridge (on librdkafka's mock cluster unless DEMO_KAFKA names a real one), the demo
# feed and the edge (2 workers), prints the URLs, and waits. Ctrl-C (or SIGTERM) stops exactly the
# processes it started, edge first, and exits 0.
#
#   scripts/demo.sh [--no-build] [--dir DIR]
#
#   --no-build     skip installing and building (the caller did it: the browser tests)
#   --dir DIR      config, certificate, logs and pid file in DIR (default build/demo)
#
# Environment:
#   DEMO_HTTP_PORT   plain port: HTTP/1.1 and h2c (default 8080)
#   DEMO_HTTPS_PORT  TLS port: h2 and HTTP/1.1 by ALPN (default 8443)
#   DEMO_ADDRESS     address to listen on (default 127.0.0.1; 0.0.0.0 to show it to other machines)
#   DEMO_KAFKA       bootstrap servers of a real Kafka instead of the mock cluster; its topics
#                    sensors (3 partitions or more), ranking and chat must exist
#   DEMO_RING_DIR    ring directory (default /dev/shm/ringcast-demo, or DIR/rings with --dir)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
DIR=$BUILD/demo
build=1
ring_default=/dev/shm/ringcast-demo
while [ $# -gt 0 ]; do
    case $1 in
    --no-build) build=0 ;;
    --dir)
        DIR=$2
        ring_default=$2/rings
        shift
        ;;
    -h | --help)
        sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
HTTPS_PORT=${DEMO_HTTPS_PORT:-8443}
ADDRESS=${DEMO_ADDRESS:-127.0.0.1}
KAFKA=${DEMO_KAFKA:-mock}
RINGS=${DEMO_RING_DIR:-$ring_default}
SHOWN=$ADDRESS
[ "$ADDRESS" = 0.0.0.0 ] && SHOWN=127.0.0.1

if [ "$build" = 1 ]; then
    echo "demo: checking packages and building (the first time takes a minute)"
    "$ROOT/scripts/install-deps.sh" --all
    make -C "$ROOT" --no-print-directory -s all
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
"$ROOT/scripts/make-cert.sh" "$DIR"

# A port that is taken would only show up as an edge error in a log: say it here.
for port in "$HTTP_PORT" "$HTTPS_PORT"; do
    if (exec 3<>"/dev/tcp/$SHOWN/$port") 2>/dev/null; then
        echo "demo: port $port on $SHOWN is in use; set DEMO_HTTP_PORT / DEMO_HTTPS_PORT" >&2
        exit 1
    fi
done

cat >"$DIR/ringcast.yaml" <<EOT
# Written by scripts/demo.sh for the demo page (edge/web).
kafka: {brokers: "$KAFKA"}
ring: {dir: "$RINGS", size: 8MiB}
streams:
  # One reading per sensor 5 times a second; each tile follows its sensor with key=.
  - {name: sensors, topics: [sensors], partitions: 3, start: live}
  # The page asks for the last seconds with since=, so its table is full at once.
  - {name: ranking, topics: [ranking], partitions: 1, start: live}
  # Browsers publish here with POST; a new reader gets the history the ring holds.
  - {name: chat, topics: [chat], partitions: 3, start: oldest, publish: true, max_publish_bytes: 4KiB}
edge:
  listen:
    - {address: "$ADDRESS", port: $HTTP_PORT}
    - {address: "$ADDRESS", port: $HTTPS_PORT, tls: {cert: "$DIR/cert.pem", key: "$DIR/key.pem"}}
  workers: 2
  retry: 1s
  static_dir: "$ROOT/edge/web"
log: {level: info}
EOT
mkdir -p "$RINGS"
# The mock cluster starts empty each time: rings left by an earlier run hold offsets it never had.
[ "$KAFKA" = mock ] && rm -f "$RINGS"/*.ring "$RINGS/kafka-bootstrap"

NAMES=()
PIDS=()
stopping=0
# Stops what this script started, newest first (edge, feed, bridge): the edge ends its streams
# cleanly, the feed flushes into Kafka while the bridge (and its mock cluster) still runs.
stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    local i pid n
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for n in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "demo: ${NAMES[$i]} (pid $pid) did not stop within 10 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$DIR/pids"
}
on_signal() {
    trap '' PIPE # a terminal pipe (| tee) that Ctrl-C closed must not end the script before its cleanup
    echo
    echo "demo: stopping"
    stop_all
    echo "demo: stopped"
    exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

start() {
    local name=$1
    shift
    "$@" >"$DIR/$name.log" 2>&1 &
    NAMES+=("$name")
    PIDS+=($!)
    echo "$name $!" >>"$DIR/pids"
}
rm -f "$DIR/pids"

start bridge "$BUILD/ringcast-bridge" -c "$DIR/ringcast.yaml"
if [ "$KAFKA" = mock ]; then
    start feed "$BUILD/ringcast-demo-feed" --bootstrap-file "$RINGS/kafka-bootstrap"
else
    start feed "$BUILD/ringcast-demo-feed" --bootstrap "$KAFKA"
fi
start edge "$BUILD/ringcast-edge" -c "$DIR/ringcast.yaml"

# Ready when the edge says every ring is mapped and its bridge streams (/healthz is 200).
ready=0
for _ in $(seq 1 300); do
    if curl -sf -o /dev/null "http://$SHOWN:$HTTP_PORT/healthz"; then
        ready=1
        break
    fi
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "demo: ${NAMES[$i]} exited at start; its log, $DIR/${NAMES[$i]}.log, ends with:" >&2
            tail -n 5 "$DIR/${NAMES[$i]}.log" >&2
            exit 1
        fi
    done
    sleep 0.1
done
if [ "$ready" = 0 ]; then
    echo "demo: the edge did not report healthy within 30 s; see $DIR/*.log" >&2
    exit 1
fi

cat <<EOT

ringcast demo is running (Kafka: $KAFKA).

  https://$SHOWN:$HTTPS_PORT/   HTTP/2: all 12 sensor tiles live on one connection
                                  (self-signed certificate: accept the browser's warning once)
  http://$SHOWN:$HTTP_PORT/    HTTP/1.1: the browser opens 6 connections per host, so at most
                                  6 streams are live and the others wait

Publish into the chat (the page follows it):
  curl -k -X POST 'https://$SHOWN:$HTTPS_PORT/streams/chat?key=curl&event=message' \\
       -d '{"user":"curl","text":"hello from curl"}'
Follow a stream from the shell:
  curl -N 'http://$SHOWN:$HTTP_PORT/streams/sensors?key=sensor-3'

Logs and config: $DIR. Ctrl-C stops everything.
EOT

# Waits until a process ends by itself (a crash): then the demo stops the rest and says so. A
# signal interrupts the wait and runs on_signal instead.
set +e
while :; do
    wait -n "${PIDS[@]}"
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "demo: ${NAMES[$i]} exited; see $DIR/${NAMES[$i]}.log. Stopping the rest." >&2
            stop_all
            exit 1
        fi
    done
done

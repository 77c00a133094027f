# Bring-up of the processes under test, each from a config file, each waited for until it serves.
# Sourced by tests/lib.sh. The defaults can be overridden from the environment (the ASan runs set
# BRIDGE and EDGE).
#
#   start_bridge CONFIG [NAME]   spawns the bridge (spawn name NAME, default bridge); with
#                                kafka.brokers: mock, waits (20 s) until it wrote
#                                $RINGS/kafka-bootstrap and sets BOOT to it; 1 on timeout
#   start_edge CONFIG [NAME] [BASE_URL]
#                                spawns an edge and waits (20 s) until BASE_URL/healthz (default
#                                $URL) answers 200; 1 on timeout
#   start_stack CONFIG           start_bridge, then start_edge: "bridge and edge are up"
#   kafka_start                  starts a real broker (scripts/kafka-up.sh) in $KDIR (default
#                                $T/kafka), sets BOOT, asserts that it came up (and bails out if
#                                not), and stops it when the test exits
#   kafka_down, kafka_up_again   stops the broker; starts it again and prints its bootstrap address
#   kafka_topic ARGS...          scripts/kafka-topic.sh $KDIR ARGS... (output in $T/topics.log)
BRIDGE=${BRIDGE:-$BUILD/ringcast-bridge}
EDGE=${EDGE:-$BUILD/ringcast-edge}

start_bridge() {
    local config=$1 name=${2:-bridge}
    spawn "$name" "$BRIDGE" -c "$config"
    if grep -q 'brokers: *mock' "$config"; then
        wait_for 20 test -s "$RINGS/kafka-bootstrap" || return 1
        BOOT=$(cat "$RINGS/kafka-bootstrap")
    fi
}

start_edge() {
    local config=$1 name=${2:-edge} base=${3:-$URL}
    spawn "$name" "$EDGE" -c "$config"
    wait_for "${EDGE_WAIT:-20}" curl -sf "$base/healthz"
}

start_stack() {
    start_bridge "$1" && start_edge "$1"
}

KDIR=${KDIR:-$T/kafka}
kafka_down() { "$ROOT/scripts/kafka-down.sh" "$KDIR" >/dev/null 2>&1; }
kafka_up_again() { "$ROOT/scripts/kafka-up.sh" "$KDIR" 2>>"$T/kafka-up.log"; }
kafka_topic() { "$ROOT/scripts/kafka-topic.sh" "$KDIR" "$@" >>"$T/topics.log" 2>&1; }

kafka_start() {
    need kcat java
    on_exit kafka_down
    BOOT=$("$ROOT/scripts/kafka-up.sh" "$KDIR" 2>"$T/kafka-up.log")
    ok "a Kafka broker starts on loopback" test -n "$BOOT"
    if [ -z "$BOOT" ]; then
        sed 's/^/# /' "$T/kafka-up.log"
        finish
        exit 1
    fi
}

# use_ports [tls]: PORT and URL of a free plain listener (HTTP/1.1 and h2c); with tls also TLS_PORT,
# TLS_URL and a self-signed certificate, $T/cert.pem and $T/key.pem (CN=localhost).
use_ports() {
    PORT=$(free_port)
    URL=http://127.0.0.1:$PORT
    if [ "${1:-}" = tls ]; then
        TLS_PORT=$(free_port)
        TLS_URL=https://127.0.0.1:$TLS_PORT
        self_signed_cert localhost
    fi
}

# self_signed_cert CN [CERT KEY]: a 2-day self-signed RSA certificate (default $T/cert.pem, $T/key.pem).
self_signed_cert() {
    need openssl
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "${3:-$T/key.pem}" -out "${2:-$T/cert.pem}" -days 2 \
        -subj "/CN=$1" >/dev/null 2>&1
}

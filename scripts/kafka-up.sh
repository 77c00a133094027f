#!/bin/bash
# Starts one Apache Kafka broker (KRaft, single node, loopback only) for ringcast's real-Kafka
# tests, or for trying ringcast against real Kafka. Prints its bootstrap address ("127.0.0.1:PORT")
# as the only line on stdout; progress goes to stderr.
#
#   scripts/kafka-up.sh [DIR]      DIR defaults to build/kafka under the repo root
#
# DIR holds server.properties, data/ (the log), kafka.log, kafka.pid, bootstrap and ports.
# Idempotent: a broker already running from DIR is left alone and its address printed. Ports come
# from KAFKA_PORT / KAFKA_CONTROLLER_PORT, else from DIR/ports (so a test that stops the broker and
# starts it again on the same data finds it where it was), else are picked free. The jars come from
# Maven Central via scripts/kafka/pom.xml into the git-ignored lib/ at the repo root, once.
# KAFKA_START_TIMEOUT (seconds, default 90) bounds the wait for the broker to answer.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$ROOT/lib
DIR=${1:-$ROOT/build/kafka}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
say() { echo "kafka-up: $*" >&2; }

# True when PID is a live broker started from this DIR. Checking the command line, not just
# `kill -0`, guards against a recycled PID and against a zombie left by the caller.
is_our_broker() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF " $DIR/server.properties "
}

# One kafka-up at a time per DIR (the test suites may start in parallel). The broker must not
# inherit fd 9, or it would hold the lock for its whole life.
exec 9>"$DIR/.lock"
flock 9

if [ -f "$DIR/kafka.pid" ] && is_our_broker "$(cat "$DIR/kafka.pid")" && [ -f "$DIR/bootstrap" ]; then
    cat "$DIR/bootstrap"
    exit 0
fi

# --- Tools: Debian packages when missing (a fresh CI machine may lack them). Another install
# may hold the dpkg lock: wait for it rather than fail. ---
apt_install() {
    say "installing $1"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$1" >&2
}
command -v java >/dev/null || apt_install default-jre-headless
command -v kcat >/dev/null || apt_install kcat

# --- Jars: fetched once; the stamp records the POM they came from, so editing it refetches. ---
mkdir -p "$LIB"
(
    flock 8
    stamp=$(md5sum <"$ROOT/scripts/kafka/pom.xml")
    if [ "$(cat "$LIB/.stamp" 2>/dev/null)" != "$stamp" ]; then
        command -v mvn >/dev/null || apt_install maven
        say "fetching Kafka jars into $LIB"
        rm -f "$LIB"/*.jar
        mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
            -DoutputDirectory="$LIB" >&2
        echo "$stamp" >"$LIB/.stamp"
    fi
) 8>"$LIB/.lock"

# --- Ports. Picked below the kernel's ephemeral range (32768+) so that no outgoing connection
# holds them; "free" means nothing answers a connect on 127.0.0.1. ---
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        [ "$p" != "${1:-}" ] && ! in_use "$p" && { echo "$p"; return; }
    done
}
PORT= CPORT=
[ -f "$DIR/ports" ] && read -r PORT CPORT <"$DIR/ports"
PORT=${KAFKA_PORT:-${PORT:-$(free_port)}}
CPORT=${KAFKA_CONTROLLER_PORT:-${CPORT:-$(free_port "$PORT")}}
# Something else on our port would answer the readiness check below in our broker's stead.
for p in "$PORT" "$CPORT"; do
    in_use "$p" && { say "127.0.0.1:$p is already in use (by another broker?)"; exit 1; }
done
echo "$PORT $CPORT" >"$DIR/ports"

# --- Configuration, rewritten each start (it only derives from DIR and the ports). Every
# replication factor and min ISR is 1: there is one broker. Internal topics get one partition so
# that the first consumer group or transaction does not wait for 50 partitions to load. An idle
# log cleaner looks for work every log.cleaner.backoff.ms, 15 s by default: at 250 ms a compacted
# topic with segment.ms=100 is cleaned ~0.1-0.2 s after its segment rolls (the idle broker's CPU
# hardly changes), so a compaction test waits on the cleaner, not on a 15 s clock. ---
cat >"$DIR/server.properties" <<EOF
# Written by ringcast's scripts/kafka-up.sh; edits are lost at the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.dedupe.buffer.size=2097152
log.cleaner.backoff.ms=250
auto.create.topics.enable=false
EOF

# Small heap, serial GC and C1 only: a test broker carries little and must start fast.
JAVA=(java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$LIB/*"
      "-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties"
      "-Dringcast.kafka.log=$DIR/kafka.log")

# --- Storage: formatted once; later starts keep the records (the restart tests rely on it).
# Static controller.quorum.voters, so no --standalone (Kafka refuses both together). The cluster
# id is 16 random bytes in Kafka's base64url form, made here to spare a JVM start; Kafka avoids
# ids starting with '-' (they read as options), and so do we. ---
if [ ! -f "$DIR/data/meta.properties" ]; then
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22 | sed 's/^-/A/')
    say "formatting $DIR/data (cluster $id)"
    "${JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" \
        --ignore-formatted >>"$DIR/kafka.out" 2>&1 9>&- || { tail -n 20 "$DIR/kafka.out" >&2; exit 1; }
fi

# --- Start. The broker's stdio goes to DIR/kafka.out, never to ours: a caller reading our stdout
# through a pipe would otherwise wait for the broker to exit. ---
say "starting broker on 127.0.0.1:$PORT (controller $CPORT), log $DIR/kafka.log"
"${JAVA[@]}" kafka.Kafka "$DIR/server.properties" </dev/null >>"$DIR/kafka.out" 2>&1 9>&- &
pid=$!
echo "$pid" >"$DIR/kafka.pid"
echo "127.0.0.1:$PORT" >"$DIR/bootstrap"

# --- Ready when a client gets metadata naming broker 1; the log alone is no proof. kcat is asked
# only once the port accepts connections: before that it would spend its whole -m 2 retrying. ---
SECONDS=0
until in_use "$PORT" && kcat -L -b "127.0.0.1:$PORT" -m 2 2>/dev/null | grep -q "broker 1 at"; do
    if ! is_our_broker "$pid" || [ "$SECONDS" -ge "${KAFKA_START_TIMEOUT:-90}" ]; then
        # Leave no half-started broker behind (it would hold the ports and the data dir).
        kill -KILL "$pid" 2>/dev/null || true
        while is_our_broker "$pid"; do sleep 0.1; done
        rm -f "$DIR/kafka.pid"
        say "broker did not come up; end of $DIR/kafka.log and kafka.out:"
        tail -n 40 "$DIR/kafka.log" "$DIR/kafka.out" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done
say "ready after ${SECONDS} s"
cat "$DIR/bootstrap"

#!/bin/bash
# Creates or deletes a topic on the broker that scripts/kafka-up.sh started for ringcast's
# real-Kafka tests (kcat cannot create topics, and the broker does not auto-create them).
#
#   scripts/kafka-topic.sh [DIR] create NAME PARTITIONS [KEY=VALUE ...]   (topic configs, e.g.
#                                        cleanup.policy=compact segment.ms=100)
#   scripts/kafka-topic.sh [DIR] alter NAME PARTITIONS  (more partitions: Kafka never removes any)
#   scripts/kafka-topic.sh [DIR] delete NAME            DIR defaults to build/kafka
#
# Both are idempotent (--if-not-exists / --if-exists): a topic that exists keeps its partitions and
# configs. Each call is one short JVM (~1-2 s). Since Kafka 4.0 segment.bytes is at least 1 MiB: a
# test that needs small segments sets segment.ms (a segment rolls when a record arrives that much
# after its first one).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: kafka-topic.sh [DIR] create NAME PARTITIONS [KEY=VALUE ...] | alter NAME PARTITIONS | delete NAME" >&2; exit 2; }
DIR=$ROOT/build/kafka
case ${1:-} in create | alter | delete) ;; "") usage ;; *) DIR=$1; shift ;; esac
[ -f "$DIR/bootstrap" ] || { echo "kafka-topic: no $DIR/bootstrap: run scripts/kafka-up.sh first" >&2; exit 1; }

case ${1:-} in
    create) [ $# -ge 3 ] || usage
            args=(--create --if-not-exists --topic "$2" --partitions "$3" --replication-factor 1)
            # Each further argument is one topic config; TopicCommand rejects an unknown key.
            for kv in "${@:4}"; do
                case $kv in *=*) args+=(--config "$kv") ;; *) usage ;; esac
            done ;;
    alter)  [ $# -eq 3 ] || usage
            args=(--alter --topic "$2" --partitions "$3") ;;
    delete) [ $# -eq 2 ] || usage
            args=(--delete --if-exists --topic "$2") ;;
    *) usage ;;
esac

# Small heap and C1 only: a one-shot admin call. Its own logging is only worth seeing at WARN.
exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$ROOT/lib/*" \
    -Dlog4j2.level=WARN org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$(cat "$DIR/bootstrap")" "${args[@]}"

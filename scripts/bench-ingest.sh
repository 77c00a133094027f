#!/bin/bash
# Bridge ingest benchmark (part of `make bench`): records already in Kafka moved into a ring by the
# real ringcast-bridge binary, measured by build/bench/ingest_bench (see its header comment).
#
#   1. librdkafka's mock cluster, 2M records of 100 B over 64 partitions (the mock keeps only
#      about 5 MiB a partition, so fewer partitions cannot hold 2M records);
#   2. the mock cluster, 3 partitions, as many records as it keeps (~110k);
#   3. a real Apache Kafka broker (scripts/kafka-up.sh), 2M records of 100 B over 3 partitions.
# BENCH_QUICK=1 runs only the second.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/build/bench/ingest_bench
BRIDGE=$ROOT/build/ringcast-bridge
KDIR=$ROOT/build/kafka-bench

if [ -n "${BENCH_QUICK:-}" ]; then
    "$BENCH" --bridge "$BRIDGE" --mock --records 110000 --partitions 3 2>/dev/null
    exit 0
fi
"$BENCH" --bridge "$BRIDGE" --mock --records 2000000 --partitions 64 2>/dev/null
"$BENCH" --bridge "$BRIDGE" --mock --records 110000 --partitions 3 2>/dev/null

trap '"$ROOT/scripts/kafka-down.sh" "$KDIR" --wipe >/dev/null 2>&1' EXIT
BOOT=$("$ROOT/scripts/kafka-up.sh" "$KDIR" 2>/dev/null)
topic=ingest-$$
"$ROOT/scripts/kafka-topic.sh" "$KDIR" create "$topic" 3 >/dev/null 2>&1
"$BENCH" --bridge "$BRIDGE" --brokers "$BOOT" --topic "$topic" --partitions 3 --records 2000000 2>/dev/null

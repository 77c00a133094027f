#!/bin/bash
# ringcast-edge with real Apache Kafka: event ids are portable. Two bridges on two ring
# directories read the same topics; a client that read part of a stream (over two topics, five
# partitions) through the first edge resumes through the second with its Last-Event-ID and gets
# exactly the rest: nothing lost, nothing twice. A bridge killed with -9 and restarted under an
# open stream: the stream stays open and goes on without loss or repeat.
. "$(dirname "$0")/../lib.sh"
need kcat curl java
kafka_start
kafka_topic create alpha 3
kafka_topic create beta 2
seq 1 300 | awk '{ printf "k%d:alpha-%d\n", $1 % 11, $1 }' | kcat -P -b "$BOOT" -t alpha -K:
seq 1 200 | awk '{ printf "k%d:beta-%d\n", $1 % 7, $1 }' | kcat -P -b "$BOOT" -t beta -K:

for side in A B; do
    port=$(free_port)
    eval "PORT_$side=$port"
    cat >"$T/$side.yaml" <<EOT
kafka: {brokers: "$BOOT"}
ring: {dir: $T/rings-$side, size: 4MiB}
streams:
  - {name: multi, topics: [alpha, beta], initial: earliest, start: oldest}
edge:
  listen: [{address: 127.0.0.1, port: $port}]
  workers: 2
log: {level: info}
EOT
    start_bridge "$T/$side.yaml" "bridge$side"
    spawn "edge$side" "$EDGE" -c "$T/$side.yaml"
done
A=http://127.0.0.1:$PORT_A
B=http://127.0.0.1:$PORT_B
ok "bridge A has the 500 records of both topics" wait_for 60 stream_has multi 500 "$A"
ok "bridge B has them too, in a ring of its own" wait_for 60 stream_has multi 500 "$B"

curl -sN --max-time 10 "$A/streams/multi?limit=200" >"$T/first.sse"
id=$(grep '^id: ' "$T/first.sse" | tail -1 | cut -c5-)
curl -sN --max-time 10 -H "Last-Event-ID: $id" "$B/streams/multi?limit=300" >"$T/rest.sse"
{ data_of <"$T/first.sse"; data_of <"$T/rest.sse"; } | sort >"$T/union"
( seq 1 300 | sed 's/^/alpha-/'; seq 1 200 | sed 's/^/beta-/' ) | sort >"$T/want"
is "200 events from A, then Last-Event-ID on B: 300 more" "$(data_of <"$T/first.sse" | wc -l):$(data_of <"$T/rest.sse" | wc -l)" "200:300"
ok "A's 200 and B's 300 are exactly the 500 records (none lost, none twice)" cmp -s "$T/union" "$T/want"
ok "B did not announce a gap or a reset" sh -c "! grep -q '^event: ' '$T/rest.sse'"

# kill -9 the bridge under an open stream; restart it; produce: the stream just goes on.
last=$(grep '^id: ' "$T/rest.sse" | tail -1 | cut -c5-)
curl -sN --max-time 30 -H "Last-Event-ID: $last" "$A/streams/multi?limit=100" >"$T/open.sse" &
open_pid=$!
wait_for 20 opened "$T/open.sse" # the stream is open before its bridge is killed
stop bridgeA KILL
start_bridge "$T/A.yaml" bridgeA
wait_for 20 grep -q "multi: reopened" "$T/bridgeA.log"
seq 301 400 | awk '{ printf "k%d:alpha-%d\n", $1 % 11, $1 }' | kcat -P -b "$BOOT" -t alpha -K:
wait $open_pid
is "the stream open across the bridge's kill -9 and restart gets the 100 new records, once each" \
    "$(data_of <"$T/open.sse" | sort | tr '\n' ' ')" "$(seq 301 400 | sed 's/^/alpha-/' | sort | tr '\n' ' ')"
ok "and was told of no gap or reset" sh -c "! grep -q '^event: ' '$T/open.sse'"
for side in A B; do stop "edge$side" TERM; stop "bridge$side" TERM; done
finish

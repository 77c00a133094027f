#!/bin/bash
# The shapes of a Kafka log that are not "one small UTF-8 value per offset", end to end through the
# edge with the bridge on librdkafka's mock cluster: tombstones (null values) in raw and json
# streams, records the ring does not store (too large, not UTF-8, an event header too long) told to
# the clients whose filters would have taken them as `event: skipped`, counted in /metrics by reason
# and logged once with a count; and a bridge restart whose reset markers a resuming client never
# receives twice. Compaction, transactions and growing topics need a real broker:
# tests/kafka/log_shapes_kafka.sh.
. "$(dirname "$0")/../lib.sh"
need kcat curl
RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: raw, topics: [shapes], start: oldest}
  - {name: del, topics: [shapes], start: oldest, tombstone_event: deleted}
  - {name: js, topics: [shapes], start: oldest, format: json}
  - {name: two, topics: [two], partitions: 2, start: oldest}
  - {name: junk, topics: [junk]}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 1
  heartbeat: 1s
log: {level: info}
EOT
ok "the edge answers on its port" start_stack "$T/ringcast.yaml"

sse() { curl -sN --max-time 10 "$URL/streams/$1"; } # at most 10 s: every stream here is finite
events() { grep -E '^(event|data):' | tr '\n' '|'; } # the events of a stream, ids left out

# --- Tombstones, next to an empty value, and the records the ring does not store ------------------
P() { kcat -P -b "$BOOT" -t shapes -p 0 "$@"; }
printf 'a:1\n' | P -K:                                     # offset 0: a plain record
printf 'gone:' | P -K: -Z -D '\0'                          # 1: a tombstone (null value) of key "gone"
printf 'empty:' | P -K: -D '\0'                            # 2: an empty value, not a tombstone
head -c 300000 /dev/zero | tr '\0' v | P -k huge -D '\0'   # 3: larger than the 1 MiB ring's 256 KiB records
printf 'bad \xff bytes' | P -k bin -D '\0' -H event=price  # 4: not UTF-8 (raw), event "price"
printf 'x' | P -k long -D '\0' -H "event=$(head -c 70000 /dev/zero | tr '\0' e)" # 5: event header too long
printf 'b:2\n' | P -K: -H event=price                      # 6
ok "7 records of the topic are in the raw ring (4 stored, 3 announced)" wait_for 20 stream_has raw 7

sse 'raw?limit=4' | events >"$T/raw"
is "raw: a tombstone is its own event type with the key as data; an empty value is an empty data line" \
    "$(cut -d'|' -f1-4 "$T/raw")" "data: 1|event: tombstone|data: gone|data: "
is "raw: each record not stored comes as event: skipped naming it and why" \
    "$(cut -d'|' -f5-10 "$T/raw")" \
    'event: skipped|data: {"topic":"shapes","partition":0,"offset":3,"reason":"too_large","bytes":300000}|event: skipped|data: {"topic":"shapes","partition":0,"offset":4,"reason":"not_utf8","bytes":11}|event: skipped|data: {"topic":"shapes","partition":0,"offset":5,"reason":"event_too_long","bytes":1}'
is "raw: limit= counts only records: the 4th is the last one" "$(cut -d'|' -f11- "$T/raw")" "event: price|data: 2|"
is "tombstone_event: deleted names the tombstone's event type" \
    "$(sse 'del?limit=2' | events | cut -d'|' -f2-3)" "event: deleted|data: gone"
sse 'js?limit=6' | events >"$T/js"
is "json: a tombstone's envelope has \"value\": null and its key" \
    "$(tr '|' '\n' <"$T/js" | grep '"offset":1,' | sed 's/"timestamp":[0-9]*/"timestamp":T/')" \
    'data: {"topic":"shapes","partition":0,"offset":1,"timestamp":T,"key":"gone","value":null}'
is "json: an empty value stays an empty string" "$(tr '|' '\n' <"$T/js" | grep -c '"offset":2,.*"value":""')" 1
is "json: a binary value is carried (base64), so only the two others are skipped" \
    "$(grep -o '"reason":"[a-z0-9_]*"' "$T/js" | tr '\n' ' ')" '"reason":"too_large" "reason":"event_too_long" '

# Filters: a client is told of a skipped record only if its filters would have taken it.
is "event=price: told of the record with event price and of the one whose event type did not fit" \
    "$(sse 'raw?event=price&limit=1' | events | grep -o '"offset":[0-9]*,"reason":"[a-z0-9_]*"\|event: price|data: 2' | tr '\n' ' ')" \
    '"offset":4,"reason":"not_utf8" "offset":5,"reason":"event_too_long" event: price|data: 2 '
is "key=huge: told of the large record under its key" \
    "$(sse 'raw?key=huge&timeout=2' | events | grep -o '"offset":[0-9]*,"reason":"[a-z0-9_]*"')" '"offset":3,"reason":"too_large"'
is "key=a: no notices about other keys" "$(sse 'raw?key=a&timeout=2' | events)" "data: 1|"
is "event=nothing-else: an event type that did not fit is told to every event filter" \
    "$(sse 'raw?event=nothing-else&timeout=2' | events | grep -o '"reason":"[a-z0-9_]*"')" '"reason":"event_too_long"'

skipped() { metric "ringcast_ring_skipped_total{stream=\"$1\",reason=\"$2\"}"; }
is "/metrics counts the records not stored by reason" \
    "$(skipped raw too_large) $(skipped raw not_utf8) $(skipped raw event_too_long) $(skipped js not_utf8)" "1 1 1 0"
logged() { # stream, reason: the sum of the counts the bridge logged
    sed -n "s/.* $1: [0-9]* records not stored.*[ (]$2 \([0-9]*\).*/\1/p" "$T/bridge.log" | awk '{ s += $1 } END { print s + 0 }'
}
raw_logged() { [ "$(logged raw too_large) $(logged raw not_utf8) $(logged raw event_too_long)" = "1 1 1" ]; }
ok "the bridge logs them with their count by reason" wait_for 30 raw_logged
for i in $(seq 1 200); do printf 'junk \xff %d\n' $i; done | kcat -P -b "$BOOT" -t junk
junk_logged() { [ "$(logged junk not_utf8)" = 200 ]; }
ok "200 records not stored in the junk stream are all logged" wait_for 30 junk_logged
is "... in a line or two, not a line per record" "$(grep -c ' junk: [0-9]* records not stored' "$T/bridge.log" | awk '{ print ($1 <= 2) }')" 1

# --- A bridge restart on a new, empty mock cluster: every partition restarts (reset markers) -------
# Partition 0's records are in the ring before partition 1's are produced: old-p1-2 is then the
# last old record in ring order (the bridge's fetches of two partitions can otherwise interleave).
for i in 0 1 2; do printf 'old-p0-%d\n' $i | kcat -P -b "$BOOT" -t two -p 0; done
ok "3 records of partition 0 in the two-partition ring" wait_for 20 stream_has two 3
for i in 0 1 2; do printf 'old-p1-%d\n' $i | kcat -P -b "$BOOT" -t two -p 1; done
ok "6 records in the two-partition ring" wait_for 20 stream_has two 6
stop bridge TERM
mv "$T/bridge.log" "$T/bridge-1.log"
start_bridge "$T/ringcast.yaml"
ok "the restarted bridge marks both partitions reset" wait_for 20 stream_has two 8
for i in 0 1; do printf 'new-p1-%d\n' $i | kcat -P -b "$BOOT" -t two -p 1; done
ok "the new records of partition 1 arrive" wait_for 20 stream_has two 10
for i in 0 1; do printf 'new-p0-%d\n' $i | kcat -P -b "$BOOT" -t two -p 0; done
ok "the new records of partition 0 arrive" wait_for 20 stream_has two 12

sse 'two?limit=10' >"$T/two.sse"
is "a reader from the oldest sees the old records, both resets, the new records" \
    "$(grep -E '^(event|data):' "$T/two.sse" | grep -v '^data: {' | sort | tr '\n' ' ')" \
    "data: new-p0-0 data: new-p0-1 data: new-p1-0 data: new-p1-1 data: old-p0-0 data: old-p0-1 data: old-p0-2 data: old-p1-0 data: old-p1-1 data: old-p1-2 event: reset event: reset "
# Every event id of that stream from the last old record on, resumed from: what follows must be
# exactly what followed it. (Ids from before that name offsets the new history has as well: as after
# a recreated topic, they are read as positions in the new history; see the README.)
ids_of <"$T/two.sse" | sed -n '/\told-p1-2$/,$p' >"$T/two.ids"
is "7 ids from there: the last old record, the two resets, the four new records" "$(wc -l <"$T/two.ids")" 7
is "resuming from each of them gives exactly what followed it: no reset, no record twice" \
    "$(resume_all two "$T/two.ids")" 0

stop edge TERM
stop bridge TERM
finish

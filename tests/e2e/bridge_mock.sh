#!/bin/bash
# ringcast-bridge against librdkafka's mock cluster: records produced with kcat into a 3-partition
# topic land in the rings exactly once, in per-partition offset order, with the right metadata and
# SSE frames (multi-line values, keys, event headers, raw and json formats); SIGTERM stops it
# cleanly; bad configs are named by file:line and key.
. "$(dirname "$0")/../lib.sh"
need kcat
RINGS=$T/rings

cat >"$T/ringcast.yaml" <<EOF
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 4MiB}
streams:
  - {name: raw, topics: [orders], partitions: 3, initial: earliest}
  - {name: js, topics: [orders, audit], format: json, initial: earliest, event_header: kind}
log: {level: info}
EOF

ok "bridge starts the mock cluster and writes its bootstrap file" start_bridge "$T/ringcast.yaml"
streaming() { ring_info raw | grep -q "bridge .*streaming"; }
ok "ring header shows the bridge streaming" wait_for 20 streaming
ok "ring header names the bridge's pid" sh -c "'$TOOL' info '$RINGS/raw.ring' | grep -q 'pid ${PIDS[bridge]},'"

# An edge registers an eventfd on <ring.dir>/bridge.sock; the next published batch must wake it.
cat >"$T/wake_probe.py" <<'PY'
import os, select, socket, sys, time
efd = os.eventfd(0, os.EFD_NONBLOCK)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
socket.send_fds(s, [b"w"], [efd])
open(sys.argv[2], "w").close()  # registered
r, _, _ = select.select([efd], [], [], 20)
print("woken" if r else "not woken")
PY
python3 "$T/wake_probe.py" "$RINGS/bridge.sock" "$T/registered" >"$T/wake.out" 2>&1 &
probe=$!
ok "an edge's eventfd is registered on bridge.sock" wait_for 10 test -e "$T/registered"
# The bridge takes the eventfd of a new connection within its 200 ms tick: produce until woken.
n_wake=0
while kill -0 $probe 2>/dev/null && [ $n_wake -lt 40 ]; do
    printf 'wake up\n' | kcat -P -b "$BOOT" -t audit -p 0
    n_wake=$((n_wake + 1))
    sleep 0.25
done
wait $probe
is "a published batch wakes the registered edge" "$(cat "$T/wake.out")" "woken"

# 3 x 2000 keyed records, one producer per partition, then records with special values.
for p in 0 1 2; do
    seq 0 1999 | awk -v p="$p" '{ printf "user%d:p%d-%d\n", $1 % 7, p, $1 }' |
        kcat -P -b "$BOOT" -t orders -p "$p" -K : || echo "# kcat failed"
done
printf 'first line\nsecond line\r\nthird\rfourth' | kcat -P -b "$BOOT" -t orders -p 1 -D '\0' -k multi
printf '{"price": 42}' | kcat -P -b "$BOOT" -t orders -p 2 -D '\0' -k tick -H kind=price -H event=ignored
printf 'bad \xff\xfe bytes' | kcat -P -b "$BOOT" -t orders -p 0 -D '\0' -k bin
printf 'audit entry' | kcat -P -b "$BOOT" -t audit -p 0 -D '\0'

# 6002 records and the notice of the one not stored
ok "raw stream: every UTF-8 record arrives" wait_for 30 ring_has raw 6003
ok "json stream: every record of both topics arrives" wait_for 30 ring_has js $((6004 + n_wake))
ring_dump raw >"$T/raw.dump"
ring_dump js >"$T/js.dump"

is "raw stream: no (partition, offset) twice" \
    "$(awk '{print $4, $5}' "$T/raw.dump" | sort | uniq -d | wc -l)" 0
for p in 0 1 2; do
    want=$([ $p = 0 ] && echo 2000 || echo 2001) # partition 0's last record is not UTF-8
    is "raw stream: partition $p offsets are 0..$((want - 1)) in ring order" \
        "$(grep "DATA lane=[0-9]* partition=$p " "$T/raw.dump" | sed 's/.*offset=\([0-9]*\).*/\1/' | awk -v w="$want" '
            $1 != NR - 1 { bad = 1 } END { print (bad || NR != w) ? "broken at " NR : "in order" }')" "in order"
done
is "raw stream: the record's key, offset and frame data" \
    "$(grep ' partition=1 offset=1234 ' "$T/raw.dump" | sed 's/.* key=\([^ ]*\) .*frame=id: [A-Za-z0-9_-]*\\n\(.*\)/\1 \2/')" \
    'user2 data: p1-1234\n\n'
is "raw stream: a multi-line value becomes one data line per line" \
    "$(grep ' key=multi ' "$T/raw.dump" | sed 's/.*frame=id: [A-Za-z0-9_-]*\\n//')" \
    'data: first line\ndata: second line\ndata: third\ndata: fourth\n\n'
is "raw stream: the event header named by event_header (default: event) is the SSE event" \
    "$(grep ' key=tick ' "$T/raw.dump" | sed 's/.* event=\([^ ]*\) frame=id: [A-Za-z0-9_-]*\\n/\1 | /')" \
    'ignored | event: ignored\ndata: {"price": 42}\n\n'
is "raw stream: a value that is not UTF-8 is not stored, and counted by reason" \
    "$(ring_info raw | sed -n 's/.*skipped=\([0-9]*\).*skip_not_utf8=\([0-9]*\).*/\1 \2/p'):$(grep -c 'DATA .* key=bin ' "$T/raw.dump")" "1 1:0"
is "raw stream: in its place a SKIP record announces it as event: skipped" \
    "$(grep ' SKIP lane=0 partition=0 offset=2000 ' "$T/raw.dump" | sed 's/.* key=\([^ ]*\) .*frame=id: [A-Za-z0-9_-]*\\n/\1 | /')" \
    'bin | event: skipped\ndata: {"topic":"orders","partition":0,"offset":2000,"reason":"not_utf8","bytes":12}\n\n'
ok "raw stream: the bridge logs the record not stored" \
    wait_for 20 grep -q 'raw: 1 records not stored.*not_utf8 1.*the last: orders\[0\]@2000: not_utf8' "$T/bridge.log"
is "json stream: the envelope carries topic, partition, offset, key and value" \
    "$(grep ' key=user2 ' "$T/js.dump" | grep ' partition=1 offset=1234 ' | sed 's/.*\\ndata: \(.*\)\\n\\n$/\1/' |
        sed 's/"timestamp":[0-9]*/"timestamp":T/')" \
    '{"topic":"orders","partition":1,"offset":1234,"timestamp":T,"key":"user2","value":"p1-1234"}'
is "json stream: a binary value is base64 in the envelope" \
    "$(grep ' key=bin ' "$T/js.dump" | grep -o '"value_base64":"[^"]*"')" '"value_base64":"YmFkIP/+IGJ5dGVz"'
is "json stream: its own event_header (kind) picks the event" \
    "$(grep ' key=tick ' "$T/js.dump" | grep -o 'event: [a-z]*' | head -1)" 'event: price'
is "json stream: the second topic is merged in" "$(grep -c ' ts=[0-9-]* key= event= frame=.*audit entry' "$T/js.dump")" 1
id_of() { grep " partition=$2 offset=$3 " "$T/$1.dump" | sed 's/.*frame=id: \([A-Za-z0-9_-]*\)\\n.*/\1/'; }
ok "ids differ from record to record and between streams" \
    test "$(id_of raw 0 5)" != "$(id_of raw 0 6)" -a "$(id_of raw 0 5)" != "$(id_of js 0 5)"
ok "the ring validates" "$TOOL" validate "$RINGS/raw.ring"

stop bridge TERM
is "SIGTERM: the bridge exits 0" "$?" 0
ok "SIGTERM: the ring says the bridge stopped" sh -c "'$TOOL' info '$RINGS/raw.ring' | grep -q 'bridge .*stopped'"
ok "SIGTERM: the mock cluster's bootstrap file is removed" test ! -e "$RINGS/kafka-bootstrap"

# A restarted bridge reopens its rings; the mock cluster it starts is new and empty, so every
# partition's position is beyond Kafka's end (as after a topic was recreated): each lane gets a
# reset marker and continues from the offsets Kafka has now.
start_bridge "$T/ringcast.yaml"
ok "restart: the ring is reopened and continues its sequence" \
    wait_for 20 grep -q "raw: reopened, continues at seq 6003" "$T/bridge.log"
resets() { [ "$(ring_dump raw 6003 | grep -c ' RESET ')" = 3 ]; }
ok "restart: a reset marker for each of the 3 partitions" wait_for 20 resets
seq 0 9 | sed 's/^/again-/' | kcat -P -b "$BOOT" -t orders -p 0
ok "restart: new records arrive after the markers" wait_for 20 ring_has raw 6016
ring_dump raw 6003 >"$T/raw2.dump"
is "restart: the marker is an SSE reset event naming the partition and both offsets" \
    "$(grep ' RESET lane=0 ' "$T/raw2.dump" | sed 's/.*frame=id: [A-Za-z0-9_-]*\\n//')" \
    'event: reset\ndata: {"topic":"orders","partition":0,"from":2001,"to":0,"reason":"offset out of range"}\n\n'
is "restart: partition 0 starts again at offset 0" \
    "$(grep ' DATA lane=0 ' "$T/raw2.dump" | sed 's/.*offset=\([0-9]*\).*frame=.*data: \(again-[0-9]\).*/\1 \2/' | head -2 | tr '\n' ' ')" \
    "0 again-0 1 again-1 "
ok "restart: the ring still validates" "$TOOL" validate "$RINGS/raw.ring"
ok "restart: the bridge logs the reset" grep -q "orders\[0\]: offset 2001 out of range" "$T/bridge.log"
stop bridge TERM

# --check names every problem by file:line and key.
printf 'kafka: {brokers: "nohost"}\nstreams:\n  - {name: a}\n' >"$T/bad.yaml"
out=$("$BRIDGE" -c "$T/bad.yaml" --check 2>&1)
is "--check exits 1 on a bad config" "$?" 1
is "--check reports the bad broker list and the missing topic list" "$out" \
    "$T/bad.yaml:1: kafka.brokers: must be \"mock\" or host:port[,host:port...] (got \"nohost\")
$T/bad.yaml:3: streams[0].topics: required key missing"
is "--check accepts the documented example" "$("$BRIDGE" -c "$ROOT/config/ringcast.example.yaml" --check)" \
    "$ROOT/config/ringcast.example.yaml: ok"
finish

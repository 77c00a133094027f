#!/bin/bash
# Faults under load, with the bridge on librdkafka's mock cluster. Each part runs sse_check
# (tests/tools/sse_check.c): many HTTP/1.1 streams that reconnect like browsers, fed by numbered
# records, counting per stream what was lost or repeated. Injected here:
#   - kill -9 of an edge worker under 1000 streams: the master restarts it, its clients resume
#     with Last-Event-ID;
#   - SIGTERM of one of two edges on the same port (a rolling deploy) under 1000 streams: every
#     stream of the stopped edge ends after a final retry: hint, none inside an event, and resumes
#     on the other edge;
#   - the ring directory on a 16 MiB tmpfs: a bridge whose rings do not fit stops with a clear
#     error; under 300 streams, a ring file deleted while the space it held is still taken (a hard
#     link keeps it: the directory is full), then freed; a ring file truncated under the mappings
#     of bridge and edges (SIGBUS), once with the bridge stopped, once while it writes. Nothing
#     crashes; a missing ring is 503; every stream resumes, nothing lost without a gap announcing it.
# Every result line of sse_check is printed as a TAP comment: the counts are in the test output.
. "$(dirname "$0")/../lib.sh"
need curl
CONNS=${FAULT_CONNS:-1000}
# sse_check ends as soon as every stream has every record; --drain only bounds how long a slow
# (busy, sanitized) machine may take to deliver the last of them.
DRAIN=120

RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
config() { # $1: ring dir, $2: ring size, $3: port
    cat <<EOT
kafka: {brokers: mock}
ring: {dir: $1, size: $2}
streams:
  - {name: chk, topics: [chk], partitions: 3}
  - {name: other, topics: [other]}
edge:
  listen: [{address: 127.0.0.1, port: $3}]
  workers: 2
  heartbeat: 1s
  retry: 500ms
log: {level: info}
EOT
}
config "$RINGS" 4MiB "$PORT" >"$T/rc.yaml"
ok "bridge and edge are up" start_stack "$T/rc.yaml"
COMMON=(--url "$URL/streams/chk" --bootstrap-file "$RINGS/kafka-bootstrap" --topic chk --partitions 3)

# --- kill -9 of an edge worker ----------------------------------------------------------------------
check_start kill "${COMMON[@]}" --conns "$CONNS" --rate 1000 --count 8000 --drain $DRAIN
victim=$(workers_of "${PIDS[edge]}" | awk '{ print $1 }')
on_victim=$(ls "/proc/$victim/fd" 2>/dev/null | wc -l)
kill -KILL "$victim"
ok "kill -9 of worker $victim (about $on_victim fds open): the master restarts it" \
    wait_for 20 grep -q "(pid $victim) killed by signal 9; restarting it" "$T/edge.log"
check_wait kill
exact "worker kill -9" "$T/kill.log" gaps
ok "worker kill -9: the killed worker's clients reconnected (reconnects > 0)" test "$(field reconnects "$T/kill.log")" -gt 0

# --- SIGTERM of one of two edges on one port (SO_REUSEPORT): a rolling deploy ------------------------
spawn edge2 "$EDGE" -c "$T/rc.yaml"
wait_for 20 sh -c "[ \$(grep -c 'serving 2 streams' '$T/edge2.log') -ge 2 ]"
check_start drain "${COMMON[@]}" --conns "$CONNS" --rate 1000 --count 8000 --drain $DRAIN
stop edge TERM
is "SIGTERM: the first edge drains and exits 0" "$?" 0
check_wait drain
exact "SIGTERM drain" "$T/drain.log"
ends=$(field ends "$T/drain.log")
ok "SIGTERM drain: the drained edge's streams ended ($ends) and reopened on the other edge" test "$ends" -gt 0
is "SIGTERM drain: each ended with the server's last chunk" "$(field clean_ends "$T/drain.log")" "$ends"
is "SIGTERM drain: each ended with a final retry: hint" "$(field retry_ends "$T/drain.log")" "$ends"
is "SIGTERM drain: none was cut inside an event" "$(field cut_ends "$T/drain.log")" 0
ok "SIGTERM drain: the edge said it drained" grep -q "draining" "$T/edge.log"
stop edge2 TERM
stop bridge TERM

# --- the ring directory on a small tmpfs ------------------------------------------------------------
# 16 MiB holds two 4 MiB rings (6.6 MiB each with index, lanes and checkpoints) and not three.
MNT=$T/tmpfs
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=16m rc-faults "$MNT"; then
    echo "Bail out! mount -t tmpfs is not permitted here"
    exit 1
fi
on_exit 'umount -l "$MNT" 2>/dev/null' 
RINGS=$MNT/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
COMMON=(--url "$URL/streams/chk" --bootstrap-file "$RINGS/kafka-bootstrap" --topic chk --partitions 3)
config "$RINGS" 4MiB "$PORT" >"$T/tmpfs.yaml"
sed 's/  - {name: other, topics: \[other\]}/&\n  - {name: third, topics: [third]}/' "$T/tmpfs.yaml" >"$T/three.yaml"
spawn bridge "$BRIDGE" -c "$T/three.yaml"
wait_for 20 sh -c "! kill -0 ${PIDS[bridge]}"
stop bridge KILL
ok "full ring directory at start: the bridge exits with a clear error" \
    grep -q "third: .*cannot reserve .* bytes: No space left on device" "$T/bridge.log"
ok "full ring directory at start: no temporary file is left behind" sh -c "! ls -a '$RINGS' | grep -q tmp"
rm -f "$RINGS"/*.ring

ok "bridge and edge up on the tmpfs" start_stack "$T/tmpfs.yaml"
check_start rings "${COMMON[@]}" --conns 300 --rate 500 --count 15000 --drain $DRAIN
df -k "$MNT" | sed 's/^/# /'

# Deleted while a hard link keeps its pages: the bridge cannot make a new ring (no space).
ln "$RINGS/chk.ring" "$MNT/held"
rm "$RINGS/chk.ring"
ok "ring deleted: the bridge says it lost the ring" wait_for 10 grep -q "chk: ring lost: .*No such file" "$T/bridge.log"
ok "ring deleted, directory full: the bridge says it cannot make a new one" \
    wait_for 10 grep -q "chk: cannot make the ring again: .*No space left on device" "$T/bridge.log"
ok "ring deleted: the edge says so and ends its streams" wait_for 10 grep -q "chk: ring removed; ending its streams" "$T/edge.log"
is "ring missing: a new stream gets 503" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/streams/chk")" 503
is "ring missing: /healthz is 503" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 503
sleep 2
rm "$MNT/held"
ok "space freed: the bridge makes a new ring that continues" \
    wait_for 10 grep -q "chk: made a new ring; its partitions continue where the lost one stopped" "$T/bridge.log"
ok "space freed: the edge maps it and serves" wait_for 10 sh -c "curl -s -o /dev/null -w '%{http_code}' '$URL/streams/chk?limit=1&timeout=1' | grep -q 200"
# The next fault finds every client attached to the new ring (they resume with Last-Event-ID).
reattached() { metric_is 'ringcast_streams_open{stream="chk",protocol="http1"}' 300; }
wait_for 20 reattached || echo "# not every client was back on the new ring: $(metric 'ringcast_streams_open{stream="chk",protocol="http1"}') of 300"

# Truncated under every mapping while the bridge is stopped (SIGSTOP): the edges' next look at
# the ring's header faults (SIGBUS) and is survived; then the bridge, let go on, faults too and
# survives it.
kill -STOP "${PIDS[bridge]}"
truncate -s 0 "$RINGS/chk.ring"
for i in 1 2 3 4 5 6; do curl -s -o /dev/null "$URL/streams"; done
ok "ring truncated: an edge worker survives SIGBUS and says so" \
    wait_for 10 grep -q "chk: ring truncated under its mapping (SIGBUS); ending its streams" "$T/edge.log"
is "ring truncated: a new stream gets 503" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/streams/chk")" 503
kill -CONT "${PIDS[bridge]}"
ok "ring truncated: the bridge survives SIGBUS and says so" \
    wait_for 10 grep -q "chk: ring lost: .*truncated" "$T/bridge.log"
ok "ring truncated: a new ring is made" \
    wait_for 10 sh -c "[ \$(grep -c 'chk: made a new ring' '$T/bridge.log') -ge 2 ]"
wait_for 20 reattached || echo "# not every client was back on the new ring: $(metric 'ringcast_streams_open{stream="chk",protocol="http1"}') of 300"

# Truncated under a bridge that is writing: its next append faults in the middle of a batch; the
# records it could not take are read from Kafka again into the new ring.
truncate -s 8192 "$RINGS/chk.ring"
ok "ring truncated under a writing bridge: it survives and makes a new ring" \
    wait_for 10 sh -c "[ \$(grep -c 'chk: made a new ring' '$T/bridge.log') -ge 3 ]"
ok "ring truncated under a writing bridge: the edges end its streams" \
    wait_for 10 sh -c "[ \$(grep -c 'chk: ring .*; ending its streams' '$T/edge.log') -ge 5 ]"
check_wait rings
exact "ring deleted and truncated" "$T/rings.log"
echo "# ring faults: $(field gaps "$T/rings.log") gap events announced $(field gap_missed "$T/rings.log") records that were in the lost rings and not yet sent"
ok "the bridge is still running (no crash)" kill -0 "${PIDS[bridge]}"
ok "no edge worker died" sh -c "! grep -q 'killed by signal\|exited with' '$T/edge.log'"
is "the other stream's ring was not touched" "$(grep -c 'other: ring' "$T/bridge.log" "$T/edge.log" | awk -F: '{ s += $2 } END { print s }')" 0
stop edge TERM
stop bridge TERM
is "the bridge exits 0 after all that" "$?" 0
umount "$MNT"
finish

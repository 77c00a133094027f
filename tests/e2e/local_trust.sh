#!/bin/bash
# The local trust boundary, end to end with real processes: the modes and group of what a running
# bridge creates (ring.dir, ring files, locks, bridge.sock, kafka-bootstrap) under a umask that
# would give everything to everybody; an unknown ring.group at --check; and a hostile local peer
# of bridge.sock (tests/e2e/wake_peer.py) passing a full pipe, too many eventfds, a burst of
# descriptors, a saturated eventfd made blocking, and too many connections, while the bridge must
# keep streaming: records produced meanwhile still reach an edge's client.
. "$(dirname "$0")/../lib.sh"
need kcat curl python3 getent
RINGS=$T/rings
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
# A group that is not the bridge's own: root may give files any group; others only their own.
if [ "$(id -u)" = 0 ] && getent group daemon >/dev/null; then GROUP=daemon; else GROUP=$(id -gn); fi
GID=$(getent group "$GROUP" | cut -d: -f3)

cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB, group: $GROUP}
streams:
  - {name: s, topics: [t], start: oldest}
edge:
  listen:
    - {address: 127.0.0.1, port: $PORT}
  workers: 1
  heartbeat: 1s
log: {level: info}
EOT
sed "s/group: $GROUP/group: no-such-group-rc/" "$T/ringcast.yaml" >"$T/bad.yaml"
out=$("$BRIDGE" -c "$T/bad.yaml" --check 2>&1)
is "--check: an unknown ring.group is a config error with file:line" "$out:$?" \
    "$T/bad.yaml:2: ring.group: must name a group of this host (got \"no-such-group-rc\"):1"

# umask 000 would make every file world-writable: the modes must not come from it.
spawn bridge sh -c 'umask 000; exec "$0" "$@"' "$BRIDGE" -c "$T/ringcast.yaml"
ok "the bridge starts with ring.group: $GROUP" wait_for 20 test -s "$RINGS/kafka-bootstrap" -a -S "$RINGS/bridge.sock"
BOOT=$(cat "$RINGS/kafka-bootstrap")
is "ring.dir: mode 750, group $GROUP" "$(stat -c '%a %g' "$RINGS")" "750 $GID"
is "ring file: mode 640, group $GROUP" "$(stat -c '%a %g' "$RINGS/s.ring")" "640 $GID"
is "lock file: mode 600" "$(stat -c '%a' "$RINGS/s.ring.lock")" "600"
is "bridge.sock: a socket, mode 660, group $GROUP" "$(stat -c '%F %a %g' "$RINGS/bridge.sock")" "socket 660 $GID"
is "kafka-bootstrap: mode 640, group $GROUP" "$(stat -c '%a %g' "$RINGS/kafka-bootstrap")" "640 $GID"
is "nothing in ring.dir grants others any access" "$(find "$RINGS" -perm /o=rwx)" ""

spawn edge "$EDGE" -c "$T/ringcast.yaml"
ok "the edge answers" wait_for 20 curl -sf "$URL/healthz"
produce() { for i in $(seq "$1" "$2"); do echo "rec-$i"; done | kcat -P -b "$BOOT" -t t; }
produce 1 3
count() { [ "$(curl -sN --max-time 5 "$URL/streams/s?limit=$1" | grep -c '^data: ')" = "$1" ]; }
ok "records reach the edge's clients" wait_for 20 count 3

# Each case holds its connections (and its full pipe, its saturated eventfd) open for 8 seconds
# while records are produced and read: a bridge stuck in a write would stop ingesting them.
n=3
for case in pipe many burst saturate flood; do
    spawn "peer-$case" python3 "$ROOT/tests/e2e/wake_peer.py" "$RINGS/bridge.sock" "$case" 8
    wait_for 10 test -s "$T/peer-$case.log"
    sleep 0.5
    produce $((n + 1)) $((n + 5))
    n=$((n + 5))
    ok "$case: the bridge still ingests and the edge still serves ($n records)" wait_for 20 count "$n"
    ok "$case: the bridge is alive" kill -0 "${PIDS[bridge]}"
done
is "pipe: refused, the connection ended" "$(cat "$T/peer-pipe.log")" "pipe	closed"
is "many: 64 kept, the 65th refused, the connection kept" "$(cat "$T/peer-many.log")" "many	open"
is "burst: 20 descriptors in one message end the connection" "$(cat "$T/peer-burst.log")" "burst	closed"
is "saturate: the registration is dropped, the connection kept" "$(cat "$T/peer-saturate.log")" "saturate	open"
flood=$(sed -n 's/^flood\t\([0-9]*\) closed$/\1/p' "$T/peer-flood.log")
ok "flood: connections beyond 256 are closed ($flood of 300)" test "${flood:-0}" -ge 40
ok "the bridge logged the refusals" grep -q 'not an eventfd: refused' "$T/bridge.log"
ok "the bridge logged the registration made blocking" grep -q 'made its eventfd blocking' "$T/bridge.log"
for case in pipe many burst saturate flood; do stop "peer-$case"; done
produce $((n + 1)) $((n + 2))
n=$((n + 2))
ok "after the peers left, records still flow to a new client" wait_for 20 count "$n"
ok "the bridge stops cleanly (SIGTERM, exit 0)" stop bridge
ok "the socket file is removed when the bridge stops" test ! -e "$RINGS/bridge.sock"
stop edge
finish

#!/bin/bash
# ringcast in operation, end to end with real processes: `make install` with DESTDIR and PREFIX
# (every file laid out, man pages that render without warnings, units that pass `systemd-analyze
# verify`, the sysusers and tmpfiles entries applied to the staged root); sd_notify as systemd sees
# it on a NOTIFY_SOCKET this test listens on (READY=1, STATUS=, WATCHDOG=1 with WATCHDOG_USEC and
# WATCHDOG_PID, a watchdog that stops when a loop is stuck, RELOADING=1, STOPPING=1, only from the
# main process); SIGHUP reload of the edge (open streams go on with no gap, no duplicate and one
# connection, a stream added becomes servable, a removed one answers 404, a new certificate on new
# TLS connections, bad files rejected with file:line messages); journald priority prefixes.
. "$(dirname "$0")/../lib.sh"
need kcat curl openssl python3 systemd-analyze systemd-sysusers systemd-tmpfiles groff man
RINGS=$T/rings
PORT=$(free_port)
TLS_PORT=$(free_port)
URL=http://127.0.0.1:$PORT

# --- make install ------------------------------------------------------------------------------
STAGE=$T/stage
make -s -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/usr >"$T/install.log" 2>&1
ok "make install DESTDIR=... PREFIX=/usr succeeds" test $? = 0
want="etc/ringcast/ringcast.yaml
usr/bin/ringcast-bridge
usr/bin/ringcast-edge
usr/bin/ringcast-ringtool
usr/lib/systemd/system/ringcast-bridge.service
usr/lib/systemd/system/ringcast-edge.service
usr/lib/sysusers.d/ringcast.conf
usr/lib/tmpfiles.d/ringcast.conf
usr/share/man/man5/ringcast.yaml.5
usr/share/man/man8/ringcast-bridge.8
usr/share/man/man8/ringcast-edge.8"
is "make install lays out every file" "$(cd "$STAGE" && find . -type f | sed 's|^\./||' | sort)" "$want"
ok "installed programs are executable" test -x "$STAGE/usr/bin/ringcast-bridge" -a -x "$STAGE/usr/bin/ringcast-edge"
is "the units run the installed programs (ExecStart= follows PREFIX)" \
    "$(grep -h '^ExecStart=' "$STAGE"/usr/lib/systemd/system/*.service | cut -d' ' -f1)" \
    "ExecStart=/usr/bin/ringcast-bridge
ExecStart=/usr/bin/ringcast-edge"
ok "the installed config is the example, and it passes --check" \
    "$BUILD/ringcast-edge" -c "$STAGE/etc/ringcast/ringcast.yaml" --check
awk '/^### A production config/ { f = 1 } f && /^```$/ { exit } f && p { print } f && /^```yaml$/ { p = 1 }' \
    "$ROOT/README.md" >"$T/production.yaml"
ok "the README's production config passes --check" "$BUILD/ringcast-edge" -c "$T/production.yaml" --check
echo "# edited by the operator" >>"$STAGE/etc/ringcast/ringcast.yaml"
make -s -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/usr >"$T/install2.log" 2>&1
ok "a second make install keeps an existing /etc/ringcast/ringcast.yaml" \
    grep -q '^# edited by the operator' "$STAGE/etc/ringcast/ringcast.yaml"
ok "ringcast.yaml(5) is the one rc-confdoc generates from the schema" \
    cmp -s "$STAGE/usr/share/man/man5/ringcast.yaml.5" <("$BUILD/rc-confdoc" --man)
for page in man5/ringcast.yaml.5 man8/ringcast-bridge.8 man8/ringcast-edge.8; do
    f=$STAGE/usr/share/man/$page
    w=$( { LC_ALL=C.UTF-8 groff -ww -z -man "$f" && MANWIDTH=100 man --warnings -l "$f" >"$T/page.txt"; } 2>&1)
    is "man page $page renders without warnings" "$w" ""
    ok "man page $page has its NAME and SEE ALSO" grep -q 'SEE ALSO' "$T/page.txt"
done
MANPAGE_TEXT=$(MANWIDTH=100 man -l "$STAGE/usr/share/man/man5/ringcast.yaml.5" 2>/dev/null)
keys=$("$BUILD/rc-confdoc" --markdown | sed -n 's/^| `\([^`]*\)` |.*/\1/p')
missing=$(for k in $keys; do grep -qF "       $k" <<<"$MANPAGE_TEXT" || echo "$k"; done)
is "ringcast.yaml(5) shows every key of the schema ($(wc -w <<<"$keys") keys)" "$missing" ""

# systemd-analyze verify checks every directive, that the programs exist and are executable, and
# that the Documentation= man pages resolve: the installed units, with the staged programs and
# man pages standing in for /usr.
mkdir -p "$T/units"
for u in ringcast-bridge.service ringcast-edge.service; do
    sed "s|/usr/bin/|$STAGE/usr/bin/|g" "$STAGE/usr/lib/systemd/system/$u" >"$T/units/$u"
done
out=$(MANPATH=$STAGE/usr/share/man systemd-analyze verify "$T/units/ringcast-bridge.service" \
    "$T/units/ringcast-edge.service" 2>&1)
is "systemd-analyze verify: both units, no warning" "$out:$?" ":0"
mv "$STAGE/usr/bin/ringcast-edge" "$T/edge.moved"
out=$(MANPATH=$STAGE/usr/share/man systemd-analyze verify "$T/units/ringcast-edge.service" 2>&1)
ok "systemd-analyze verify fails when the unit's program is missing (the check is real)" \
    grep -q 'is not executable' <<<"$out"
mv "$T/edge.moved" "$STAGE/usr/bin/ringcast-edge"
unit() { sed -n "s/^$2=//p" "$STAGE/usr/lib/systemd/system/ringcast-$1.service" | tr '\n' ' '; }
is "bridge unit: Type=notify, watchdog, restart, hardening" \
    "$(unit bridge Type)$(unit bridge WatchdogSec)$(unit bridge Restart)$(unit bridge NoNewPrivileges)$(unit bridge ProtectSystem)$(unit bridge ProtectHome)$(unit bridge PrivateTmp)$(unit bridge User)" \
    "notify 30s on-failure yes strict yes yes ringcast "
is "bridge unit: /dev/shm read-only except the ring directory; RemoveIPC off (it would delete the rings)" \
    "$(unit bridge ReadOnlyPaths)$(unit bridge ReadWritePaths)$(unit bridge RemoveIPC)" "/dev/shm /dev/shm/ringcast no "
is "edge unit: Type=notify from the master, reload by SIGHUP, ordered after the bridge" \
    "$(unit edge Type)$(unit edge NotifyAccess)$(unit edge ExecReload | grep -o 'kill -HUP \$MAINPID')$(unit edge After)$(unit edge Wants)" \
    "notify main kill -HUP \$MAINPIDnetwork-online.target ringcast-bridge.service network-online.target ringcast-bridge.service "
is "edge unit: no writable path, /dev/shm read-only" "$(unit edge ReadWritePaths)$(unit edge ReadOnlyPaths)" "/dev/shm "
systemd-sysusers --root="$STAGE" >"$T/sysusers.log" 2>&1
ok "sysusers.d: systemd-sysusers creates the ringcast system user" grep -q '^ringcast:x:[0-9]*:[0-9]*:' "$STAGE/etc/passwd"
uid=$(sed -n 's/^ringcast:x:\([0-9]*\):.*/\1/p' "$STAGE/etc/passwd")
systemd-tmpfiles --create --root="$STAGE" >"$T/tmpfiles.log" 2>&1
gid=$(sed -n 's/^ringcast:x:\([0-9]*\):.*/\1/p' "$STAGE/etc/group")
is "tmpfiles.d: the ring directory exists, owned by ringcast and its group, mode 750 (what the bridge sets)" \
    "$(stat -c '%u %g %a' "$STAGE/dev/shm/ringcast" 2>&1)" "$uid $gid 750"

# --- the bridge and systemd ---------------------------------------------------------------------
self_signed_cert ringcast-one
cat >"$T/bridge.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: s1, topics: [t1], start: oldest}
  - {name: s2, topics: [t2], start: oldest}
  - {name: s3, topics: [t3], start: oldest}
EOT
spawn bridge-notify python3 "$ROOT/tests/e2e/notify_listen.py" "$T/bridge.notify" "$T/bridge.sd"
spawn edge-notify python3 "$ROOT/tests/e2e/notify_listen.py" "$T/edge.notify" "$T/edge.sd"
wait_for 10 test -S "$T/bridge.notify" -a -S "$T/edge.notify"
# WATCHDOG_PID must name the daemon: the shell's pid, which exec hands over.
spawn bridge env NOTIFY_SOCKET="$T/bridge.notify" WATCHDOG_USEC=1000000 \
    sh -c 'WATCHDOG_PID=$$ exec "$0" "$@"' "$BRIDGE" -c "$T/bridge.yaml"
BPID=${PIDS[bridge]}
sd() { grep -c " $2" "$T/$1.sd" 2>/dev/null; }
at_least() { test "$(sd "$1" "$2")" -ge "$3"; } # wait_for evaluates its command on every try
ok "bridge: READY=1 once its rings are open and the partitions assigned" wait_for 20 grep -q "^$BPID READY=1$" "$T/bridge.sd"
ok "bridge: the rings exist when READY=1 arrives" test -f "$RINGS/s1.ring" -a -f "$RINGS/s3.ring"
is "bridge: ring.dir 750, rings 640, bridge.sock 660, kafka-bootstrap 640: nothing for others" \
    "$(stat -c '%a' "$RINGS" "$RINGS/s1.ring" "$RINGS/bridge.sock" "$RINGS/kafka-bootstrap" | tr '\n' ' ')" \
    "750 640 660 640 "
ok "bridge: STATUS= with the Kafka state and the records ingested" \
    grep -Eq "^$BPID STATUS=kafka streaming, 3 streams, [0-9]+ records ingested$" "$T/bridge.sd"
ok "bridge: WATCHDOG=1 every half WATCHDOG_USEC (3 of them)" wait_for 10 at_least bridge WATCHDOG=1 3
BOOT=$(cat "$RINGS/kafka-bootstrap")
for i in 1 2 3; do echo "pre-$i" | kcat -P -b "$BOOT" -t t2; done
ok "bridge: STATUS= counts the records ingested" wait_for 10 grep -q "STATUS=kafka streaming, 3 streams, 3 records ingested" "$T/bridge.sd"
kill -STOP "$BPID"
sleep 1 # a ping sent just before the stop may still be on its way to the listener
n1=$(sd bridge WATCHDOG=1)
sleep 2.5
n2=$(sd bridge WATCHDOG=1)
kill -CONT "$BPID"
is "bridge: a stuck loop (SIGSTOP) sends no WATCHDOG=1" "$n2" "$n1"
ok "bridge: the pings come back with the loop" wait_for 10 at_least bridge WATCHDOG=1 $((n2 + 1))
ok "bridge: every notification comes from the bridge itself" test "$(grep -vc "^$BPID " "$T/bridge.sd")" = 0

# --- the edge and systemd -----------------------------------------------------------------------
edge_conf() { # streams... ; TLS_CERT, WORKERS from the environment
    {
        echo "kafka: {brokers: mock}"
        echo "ring: {dir: $RINGS, size: 1MiB}"
        echo "streams:"
        for s in "$@"; do echo "  - {name: $s, topics: [t${s#s}], start: oldest}"; done
        echo "edge:"
        echo "  listen:"
        echo "    - {address: 127.0.0.1, port: $PORT}"
        echo "    - {address: 127.0.0.1, port: $TLS_PORT, tls: {cert: ${TLS_CERT:-$T/cert.pem}, key: $T/key.pem}}"
        echo "  workers: ${WORKERS:-2}"
        echo "  heartbeat: 1s"
        echo "log: {level: info}"
    } >"$T/edge.yaml.tmp"
    mv "$T/edge.yaml.tmp" "$T/edge.yaml"
}
edge_conf s1 s3
spawn edge env NOTIFY_SOCKET="$T/edge.notify" WATCHDOG_USEC=1000000 \
    sh -c 'WATCHDOG_PID=$$ exec "$0" "$@"' "$EDGE" -c "$T/edge.yaml"
EPID=${PIDS[edge]}
ok "edge: READY=1 from the master once every worker serves" wait_for 20 grep -q "^$EPID READY=1$" "$T/edge.sd"
is "edge: at READY=1 the port answers at once" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/streams")" 200
ok "edge: STATUS= with workers and open streams" \
    grep -q "^$EPID STATUS=2/2 workers serving, 0 streams open, 2 configured$" "$T/edge.sd"
ok "edge: WATCHDOG=1 while the workers run (3 of them)" wait_for 10 at_least edge WATCHDOG=1 3

# Two open streams over HTTP/1.1, 30 events each; curl reports its connections at the end.
(curl -sN --max-time 120 -w 'connects=%{num_connects}\n' "$URL/streams/s1?limit=30" >"$T/s1.sse" 2>&1; echo "exit=$?" >>"$T/s1.sse") &
(curl -sN --max-time 120 -w 'connects=%{num_connects}\n' "$URL/streams/s3?limit=30" >"$T/s3.sse" 2>&1; echo "exit=$?" >>"$T/s3.sse") &
ok "edge: STATUS= counts the 2 open streams" wait_for 10 grep -q "STATUS=2/2 workers serving, 2 streams open" "$T/edge.sd"
produce() { for i in $(seq "$2" "$3"); do echo "$1-$i"; done | kcat -P -b "$BOOT" -t "t${1#s}"; }
events() { grep -c '^data: ' "$T/$1.sse"; }
both_have() { test "$(events s1):$(events s3)" = "$1:$1"; }
produce s1 1 10
produce s3 1 10
ok "both open streams got their first 10 events" wait_for 20 both_have 10
cert_cn() { openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'; }
is "TLS: a new connection is shown the first certificate" "$(cert_cn)" "ringcast-one"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/streams/$1?timeout=1"; }
is "before the reload: s2 is not configured (404)" "$(code s2)" 404

# Reload: s3 removed, s2 added, a renewed certificate at the same path, workers 2 -> 3.
self_signed_cert ringcast-two "$T/cert.pem.new" "$T/key.pem.new"
mv "$T/key.pem.new" "$T/key.pem"
mv "$T/cert.pem.new" "$T/cert.pem"
WORKERS=3 edge_conf s1 s2
kill -HUP "$EPID"
ok "reload: the master says the new generation is applied" wait_for 20 grep -q 'generation 1 applied: 2 streams' "$T/edge.log"
# What the master sent since the last RELOADING=1.
since_reload() { awk -v p="$EPID RELOADING=1" '$0 == p { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$T/edge.sd"; }
sent_since_reload() { since_reload | grep -q "$@"; }
ok "reload: RELOADING=1, then READY=1, from the master" wait_for 10 sent_since_reload "^$EPID READY=1$"
ok "reload: edge.workers is logged as needing a restart, and kept" \
    grep -q 'edge.workers: 2 -> 3 needs a restart of ringcast-edge; keeping 2' "$T/edge.log"
is "reload: the added stream s2 is served (its ring was there)" "$(code s2)" 200
is "reload: the removed stream s3 answers 404 to a new request" "$(code s3)" 404
is "reload: s2 serves its history" "$(curl -sN --max-time 5 "$URL/streams/s2?limit=3" | sed -n 's/^data: //p' | tr '\n' ' ')" \
    "pre-1 pre-2 pre-3 "
is "TLS: after the reload a new connection is shown the new certificate" "$(cert_cn)" "ringcast-two"
ok "the workers are still 2 (3 needs a restart)" wait_for 10 sent_since_reload "STATUS=2/2 workers serving"
produce s1 11 20
produce s3 11 20
ok "the open streams go on through the reload (20 events each, also on the removed s3)" \
    wait_for 20 both_have 20

# Bad files: every error as file:line: key: reason, nothing changes.
cat >"$T/edge.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS}
streams:
  - {name: "no spaces", topics: [t1]}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 0
  colour: blue
EOT
kill -HUP "$EPID"
ok "bad config: rejected, the running config stays" wait_for 20 grep -q "$T/edge.yaml rejected; the running config stays" "$T/edge.log"
ok "bad config: the bad name is logged as file:line: key: reason" grep -q "error config: $T/edge.yaml:4: streams\[0\].name: " "$T/edge.log"
ok "bad config: the bad workers is logged as file:line: key: reason" grep -q "error config: $T/edge.yaml:7: edge.workers: " "$T/edge.log"
ok "bad config: the unknown key is logged as file:line: key: reason" grep -q "error config: $T/edge.yaml:8: edge.colour: " "$T/edge.log"
ok "bad config: READY=1 again, and STATUS= says the reload was rejected" \
    wait_for 10 sent_since_reload -Pzo "READY=1\n$EPID STATUS=reload rejected"
TLS_CERT=$T/missing.pem edge_conf s1 s2
kill -HUP "$EPID"
ok "missing certificate: rejected with file:line: key" \
    wait_for 20 grep -q "error reload: $T/edge.yaml:[0-9]*: edge.listen\[1\].tls: .*missing.pem" "$T/edge.log"
is "after the rejected reloads s2 is still served" "$(code s2)" 200
is "after the rejected reloads s3 still answers 404" "$(code s3)" 404
is "after the rejected reloads the new certificate is still shown" "$(cert_cn)" "ringcast-two"
produce s1 21 30
produce s3 21 30
ok "the open streams end after their 30 events" wait_for 20 grep -q '^exit=' "$T/s1.sse"
wait_for 20 grep -q '^exit=' "$T/s3.sse"
want=$(for i in $(seq 1 30); do echo "s1-$i"; done)
is "s1: the 30 events, in order, none lost or repeated across the reloads" "$(sed -n 's/^data: //p' "$T/s1.sse")" "$want"
is "s3 (removed by the reload): the same" "$(sed -n 's/^data: //p' "$T/s3.sse")" "${want//s1-/s3-}"
is "each stream used one connection and ended cleanly" "$(grep -h -e connects= -e exit= "$T/s1.sse" "$T/s3.sse" | tr '\n' ' ')" \
    "connects=1 exit=0 connects=1 exit=0 "

# A worker whose loop is stuck stops the master's watchdog; a worker that runs again resumes it.
WPID=$(ps -o pid= --ppid "$EPID" | head -n 1 | tr -d ' ')
kill -STOP "$WPID"
stuck() { # no WATCHDOG=1 for two seconds
    local n
    n=$(sd edge WATCHDOG=1)
    sleep 2
    test "$(sd edge WATCHDOG=1)" = "$n"
}
ok "edge: a stuck worker (SIGSTOP) stops WATCHDOG=1" wait_for 30 stuck
n=$(sd edge WATCHDOG=1)
kill -CONT "$WPID"
ok "edge: WATCHDOG=1 resumes once the worker runs again" wait_for 20 at_least edge WATCHDOG=1 $((n + 1))
ok "edge: every notification comes from the master (NotifyAccess=main)" test "$(grep -vc "^$EPID " "$T/edge.sd")" = 0

stop edge TERM
is "SIGTERM: the edge exits 0" "$?" 0
ok "SIGTERM: the edge sent STOPPING=1" grep -q "^$EPID STOPPING=1$" "$T/edge.sd"
stop bridge TERM
is "SIGTERM: the bridge exits 0" "$?" 0
ok "SIGTERM: the bridge sent STOPPING=1" grep -q "^$BPID STOPPING=1$" "$T/bridge.sd"
ok "without JOURNAL_STREAM the log lines have no priority prefix" grep -q "^ringcast-bridge\[$BPID\]: info " "$T/bridge.log"

# --- journald priority prefixes -----------------------------------------------------------------
# systemd sets JOURNAL_STREAM to the device:inode of the stream it connects to stderr; a process
# whose stderr is that file gets "<N>" prefixes, any other stderr does not.
busy=$(free_port)
cat >"$T/busy.yaml" <<EOT
streams: [{name: s1, topics: [t1]}]
edge: {listen: [{address: 127.0.0.1, port: $busy}]}
EOT
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$busy" &
HOLDER=$!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$busy"
: >"$T/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.log") "$EDGE" -c "$T/busy.yaml" 2>>"$T/journal.log"
ok "journal: an error line starts with <3>" grep -q "^<3>ringcast-edge\[[0-9]*\]: error http: 127.0.0.1:$busy: " "$T/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.log") "$BRIDGE" -c "$T/bridge.yaml" 2>>"$T/journal.log" &
JB=$!
wait_for 20 grep -q "^<6>ringcast-bridge\[$JB\]: info " "$T/journal.log"
kill -TERM "$JB"
wait "$JB"
ok "journal: an info line starts with <6>" grep -q "^<6>ringcast-bridge\[$JB\]: info bridge: running with " "$T/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.log") "$EDGE" -c "$T/busy.yaml" 2>"$T/other.log"
ok "journal: JOURNAL_STREAM naming another file gives no prefix" grep -q "^ringcast-edge\[[0-9]*\]: error http: " "$T/other.log"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
ok "no sanitizer report in any log" test -z "$(grep -l -e 'Sanitizer' -e 'runtime error' "$T"/*.log)"
finish

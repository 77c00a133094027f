#!/bin/bash
# Faults under load with a real Apache Kafka broker (single-node KRaft, scripts/kafka-up.sh),
# checked by sse_check (tests/tools/sse_check.c: many HTTP/1.1 streams fed with numbered records,
# counting per stream what was lost or repeated):
#   - kill -9 of the bridge while 1000 streams read 1000 records/s, and a restart: the streams stay
#     open (the same connections: none reconnects), and nothing is lost or repeated;
#   - the broker stopped and started while 300 streams read: /healthz says 503 and the ring says
#     kafka unreachable meanwhile, POST answers 503, the streams stay open; once the broker is back
#     POST answers 201, /healthz 200, and every stream has every record once.
. "$(dirname "$0")/../lib.sh"
need kcat curl java
kafka_start
kafka_topic create chk 3
kafka_topic create pub 1
ok "topics created" sh -c "kcat -L -b $BOOT -t chk | grep -q '3 partitions'"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
cat >"$T/rc.yaml" <<EOT
kafka: {brokers: "$BOOT"}
ring: {dir: $T/rings, size: 16MiB}
streams:
  - {name: chk, topics: [chk]}
  - {name: pub, topics: [pub], publish: true}
edge:
  listen: [{address: 127.0.0.1, port: $PORT}]
  workers: 2
  heartbeat: 1s
  retry: 500ms
  publish_timeout: 2s
log: {level: info}
EOT
EDGE_WAIT=30
ok "bridge and edge are up" start_stack "$T/rc.yaml"
COMMON=(--url "$URL/streams/chk" --produce "$BOOT" --topic chk --partitions 3)

# --- kill -9 of the bridge under 1000 streams ---------------------------------------------------------
check_start bkill "${COMMON[@]}" --conns 1000 --rate 1000 --count 10000 --drain 120 --max-reconnects 0
sleep 1
stop bridge KILL
mv "$T/bridge.log" "$T/bridge-killed.log"
sleep 1
start_bridge "$T/rc.yaml"
ok "bridge kill -9: the restarted bridge reopens the ring" wait_for 20 grep -q "chk: reopened, continues at seq" "$T/bridge.log"
check_wait bkill
exact "bridge kill -9 under 1000 streams" "$T/bkill.log" gaps reconnects

# --- the broker stopped and started under 300 streams -----------------------------------------------
check_start outage "${COMMON[@]}" --conns 300 --rate 500 --count 10000 --drain 120 --max-reconnects 0
is "broker up: POST is 201" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d before "$URL/streams/pub")" 201
kafka_down
unreachable() { curl -s "$URL/streams" | grep -q '"name":"chk","available":true,.*"bridge":"kafka unreachable"'; }
ok "broker down: the bridge says kafka unreachable (ring header, /streams)" wait_for 60 unreachable
is "broker down: /healthz is 503 (degraded)" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 503
curl -s "$URL/healthz" | sed 's/^/# healthz: /'
is "broker down: POST is 503 after edge.publish_timeout" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST -d during "$URL/streams/pub")" 503
BOOT2=$(kafka_up_again)
is "broker up again on the same address" "$BOOT2" "$BOOT"
ok "broker back: /healthz is 200 again" wait_for 60 curl -sf "$URL/healthz"
post_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -d after "$URL/streams/pub")" = 201 ]; }
ok "broker back: POST is 201 again" wait_for 60 post_ok
check_wait outage
exact "broker stop and start under 300 streams" "$T/outage.log" gaps reconnects
kcat -C -b "$BOOT" -t pub -e -q >"$T/pub.txt" 2>/dev/null
is "POST: the record acknowledged before the outage is in Kafka once" "$(grep -c '^before$' "$T/pub.txt")" 1
is "POST: the record answered 503 is not in Kafka" "$(grep -c '^during$' "$T/pub.txt")" 0
ok "the bridge ran through the outage (same process)" kill -0 "${PIDS[bridge]}"
stop edge TERM
stop bridge TERM
is "the bridge exits 0" "$?" 0
finish

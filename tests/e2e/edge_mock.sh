#!/bin/bash
# ringcast-edge end to end, with the bridge on librdkafka's mock cluster: SSE over HTTP/1.1, h2c
# and TLS (h2 and HTTP/1.1 by ALPN), publishing with POST and its round trip, exact resume from Last-Event-ID (header and query), gap and reset events, filters, limit and
# timeout, heartbeats, statuses, /streams and /healthz, a missing ring, worker kill -9 and restart,
# h2load finite streams, SIGTERM. Every assertion is on bytes a real client received.
. "$(dirname "$0")/../lib.sh"
need kcat curl h2load openssl
RINGS=$T/rings
use_ports tls

cat >"$T/ringcast.yaml" <<EOT
kafka: {brokers: mock}
ring: {dir: $RINGS, size: 1MiB}
streams:
  - {name: hist, topics: [hist], partitions: 3, start: oldest}
  - {name: live, topics: [live], partitions: 2}
  - {name: tiny, topics: [tiny], start: oldest}
  - {name: chat, topics: [chat], partitions: 2, publish: true, max_publish_bytes: 1KiB}
edge:
  listen:
    - {address: 127.0.0.1, port: $PORT}
    - {address: 127.0.0.1, port: $TLS_PORT, tls: {cert: $T/cert.pem, key: $T/key.pem}}
  workers: 2
  heartbeat: 1s
  retry: 1500ms
  publish_timeout: 1s
log: {level: info}
EOT
ok "the edge answers on its port" start_stack "$T/ringcast.yaml"

# 30 records over 3 partitions, keyed, some with an event header.
for i in $(seq 1 30); do
    if [ $((i % 5)) = 0 ]; then echo "k$((i % 3)):rec-$i" | kcat -P -b "$BOOT" -t hist -p $((i % 3)) -K: -H event=fifth
    else echo "k$((i % 3)):rec-$i" | kcat -P -b "$BOOT" -t hist -p $((i % 3)) -K:; fi
done
ok "the 30 records are in the ring" wait_for 20 stream_has hist 30

sse 'hist?limit=30' 5 >"$T/all.sse"
is "HTTP/1.1: the stream starts with the retry hint" "$(head -1 "$T/all.sse")" "retry: 1500"
is "HTTP/1.1: limit=30 gives 30 events, each record once" "$(data_of <"$T/all.sse" | sort -u | wc -l):$(data_of <"$T/all.sse" | wc -l)" "30:30"
ok "every event has an id" test "$(grep -c '^id: ' "$T/all.sse")" = 30
is "an event header becomes the SSE event" "$(grep -c '^event: fifth' "$T/all.sse")" 6

id10=$(grep '^id: ' "$T/all.sse" | sed -n '10p' | cut -c5-)
data_of <"$T/all.sse" | tail -n 20 >"$T/after10"
sse 'hist?limit=20' 5 -H "Last-Event-ID: $id10" | data_of >"$T/resumed"
ok "Last-Event-ID: resumes exactly after the 10th event (20 events, none lost or repeated)" cmp -s "$T/after10" "$T/resumed"
sse "hist?limit=20&lastEventId=$id10" 5 | data_of >"$T/resumed-q"
ok "?lastEventId= resumes the same way" cmp -s "$T/after10" "$T/resumed-q"
id30=$(grep '^id: ' "$T/all.sse" | tail -1 | cut -c5-)
is "resuming from the last id waits for new events (none within the timeout)" \
    "$(sse 'hist?timeout=1' 3 -H "Last-Event-ID: $id30" | grep -c '^data:')" 0

sse 'hist?limit=2' 5 -H 'Last-Event-ID: not-an-id' >"$T/reset.sse"
is "a garbage id gives event: reset, then the stream's default start (its oldest record)" \
    "$(sed -n '3,4p;7p' "$T/reset.sse")" "event: reset
data: {\"reason\":\"the last event id is not one of this stream\"}
$(grep -m1 '^data: ' "$T/all.sse")"

is "filter key=k1 gives only k1's records" "$(sse 'hist?key=k1&limit=10' 5 | data_of | tr '\n' ' ')" \
    "rec-1 rec-4 rec-7 rec-10 rec-13 rec-16 rec-19 rec-22 rec-25 rec-28 "
is "filter partition=2" "$(sse 'hist?partition=2&limit=3' 5 | data_of | tr '\n' ' ')" "rec-2 rec-5 rec-8 "
is "filter event=fifth" "$(sse 'hist?event=fifth&limit=6' 5 | data_of | tr '\n' ' ')" "rec-5 rec-10 rec-15 rec-20 rec-25 rec-30 "
is "filters combine: key=k0 or k2, event=fifth" \
    "$(sse 'hist?key=k0&key=k2&event=fifth&limit=4' 5 | data_of | tr '\n' ' ')" "rec-5 rec-15 rec-20 rec-30 "

# h2c (HTTP/2 with prior knowledge) on the same port.
curl -sN --max-time 5 --http2-prior-knowledge -D "$T/h2.headers" "$URL/streams/hist?limit=5" >"$T/h2.sse"
ok "h2c: HTTP/2 200 with text/event-stream" grep -q "^HTTP/2 200" "$T/h2.headers"
is "h2c: 5 events" "$(data_of <"$T/h2.sse" | wc -l)" 5

# TLS: HTTP/2 and HTTP/1.1 by ALPN.
curl -sNk --max-time 5 --http2 -D "$T/tls2.headers" "$TLS_URL/streams/hist?limit=4" >"$T/tls2.sse"
ok "TLS: ALPN h2 gives HTTP/2 200" grep -q "^HTTP/2 200" "$T/tls2.headers"
is "TLS h2: 4 events" "$(data_of <"$T/tls2.sse" | wc -l)" 4
curl -sNk --max-time 5 --http1.1 -D "$T/tls1.headers" "$TLS_URL/streams/hist?limit=4" >"$T/tls1.sse"
ok "TLS: ALPN http/1.1 gives HTTP/1.1 200" grep -q "^HTTP/1.1 200" "$T/tls1.headers"
ok "TLS: the same events either way" cmp -s "$T/tls1.sse" "$T/tls2.sse"

# Publish: POST answers after Kafka acknowledged, and the event comes back through the stream.
publish_ready() { curl -s -o /dev/null -w '%{http_code}' -X POST -d probe "$URL/streams/chat?key=probe" | grep -q 201; }
ok "POST: the edge's producer reaches Kafka" wait_for 20 publish_ready
sse 'chat?key=alice&limit=2' 10 >"$T/chat.sse" &
chat_pid=$!
wait_for 10 opened "$T/chat.sse" # attached at the head: what is published next comes to it
r1=$(curl -s -w ' %{http_code}' -X POST --data-binary 'hello, world' "$URL/streams/chat?key=alice&event=msg")
r2=$(curl -s -w ' %{http_code}' -X POST --data-binary $'two\nlines' "$URL/streams/chat?key=alice")
wait $chat_pid
re='^\{"topic":"chat","partition":[01],"offset":[0-9]+\}.? 201$'
ok "POST: 201 with the topic, partition and offset Kafka gave it" eval '[[ "$r1" =~ $re ]]'
is "POST: the published events come back, in order, with key filter, event and lines" \
    "$(grep -e '^event: ' -e '^data: ' "$T/chat.sse" | tr '\n' '|')" \
    "event: msg|data: hello, world|data: two|data: lines|"
is "POST: 413 over max_publish_bytes" \
    "$(head -c 2000 /dev/zero | tr '\0' x | curl -s -w ' %{http_code}' -X POST --data-binary @- "$URL/streams/chat")" \
    "event too large: at most 1024 bytes
 413"
is "POST: 405 on a stream that does not allow publishing" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$URL/streams/hist")" 405
is "POST: 400 for a body that is not UTF-8 on a raw stream" \
    "$(printf '\xff\xfe' | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- "$URL/streams/chat")" 400

# Live: a client waiting at the head is woken by the bridge's publication.
sse 'live?limit=3' 10 >"$T/live.sse" &
live_pid=$!
wait_for 10 opened "$T/live.sse"
printf 'a\nb\nc\n' | kcat -P -b "$BOOT" -t live -p 1
wait $live_pid
is "live: a waiting client receives new records as they come" "$(data_of <"$T/live.sse" | tr '\n' ' ')" "a b c "

# since=: the first record at or after a time (Kafka timestamps), RFC 3339 or epoch ms.
printf 'old1\nold2\n' | kcat -P -b "$BOOT" -t live -p 0
sleep 1.1
t_mid=$(date +%s%3N)
sleep 0.1
printf 'new1\nnew2\n' | kcat -P -b "$BOOT" -t live -p 0
new_in() { [ "$(sse "live?since=$t_mid&timeout=1" 3 | data_of | tr '\n' ' ')" = "new1 new2 " ]; }
ok "since=<epoch ms> starts at the first record at or after that time" wait_for 10 new_in
is "since=<RFC 3339> in the past starts at the oldest record" \
    "$(sse 'live?since=2020-01-01T00:00:00.5%2B01:00&limit=1' 3 | tee "$T/since.sse" | data_of)" "a"
is "since=<RFC 3339> in the future waits for new records" \
    "$(sse 'live?since=2099-01-01T00:00:00Z&timeout=1' 3 | grep -c '^data:')" 0
is "since= that is not a time is 400" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/streams/live?since=yesterday")" 400

ok "heartbeat: an idle stream gets comment lines" sh -c "curl -sN --max-time 3 '$URL/streams/live' | grep -qx ':'"
is "timeout=1 ends the stream after a second" "$(sse 'live?timeout=1' 5 >/dev/null; echo $?)" 0

# Gap: a client whose position was evicted from the 1 MiB ring is told how much it missed.
echo "seed" | kcat -P -b "$BOOT" -t tiny -p 0
first_tiny=$(sse 'tiny?limit=1' 5 | sed -n 's/^id: //p')
head -c 600 /dev/zero | tr '\0' 'x' >"$T/pad"
awk -v pad="$(cat "$T/pad")" 'BEGIN { for (i = 1; i <= 4000; i++) printf "t%d-%s\n", i, pad }' |
    kcat -P -b "$BOOT" -t tiny -p 0
tiny_done() { curl -s "$URL/streams" | grep -q '"name":"tiny","available":true,"records":[0-9]*,"first_seq":[1-9]'; }
ok "the tiny ring evicted its oldest records" wait_for 20 tiny_done
sse 'tiny?limit=5' 5 -H "Last-Event-ID: $first_tiny" >"$T/gap.sse"
is "resuming from an evicted position starts with event: gap" "$(sed -n 3p "$T/gap.sse")" "event: gap"
missed=$(sed -n 4p "$T/gap.sse" | sed -n 's/^data: {"missed":\([0-9]*\),.*/\1/p')
first_after=$(data_of <"$T/gap.sse" | sed -n 2p | sed 's/^t\([0-9]*\)-.*/\1/')
is "the gap says exactly how many were missed" "$missed" "$((first_after - 1))"

# Statuses and their short bodies.
is "404 for an unknown stream" "$(curl -s -w ' %{http_code}' "$URL/streams/nope")" "no such stream
 404"
is "405 for a method the stream does not serve" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$URL/streams/hist")" 405
is "406 when the client does not accept text/event-stream" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/json' "$URL/streams/hist")" 406
is "400 with the reason for a bad query" "$(curl -s -w ' %{http_code}' "$URL/streams/hist?limit=abc")" \
    "bad query: limit: must be a count of events from 1
 400"
ok "/streams lists every stream with its ring figures" sh -c "curl -s '$URL/streams' | grep -q '\"name\":\"live\",\"available\":true'"
is "/healthz is 200 while the bridge streams" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200

# /metrics: Prometheus text, every worker's counters summed.
curl -sN --max-time 3 --http2-prior-knowledge "$URL/streams/live" >/dev/null &
open_pid=$!
wait_for 10 metric_is 'ringcast_streams_open{stream="live",protocol="h2"}' 1
is "/metrics: an open h2c stream is counted by protocol" "$(metric 'ringcast_streams_open{stream="live",protocol="h2"}')" 1
wait $open_pid
ok "/metrics: events sent are counted" test "$(metric 'ringcast_events_sent_total{stream="hist"}')" -gt 100
ok "/metrics: acknowledged publishes are counted" test "$(metric 'ringcast_publish_total{stream="chat",result="ok"}')" -ge 3
is "/metrics: the bridge is up" "$(metric 'ringcast_bridge_up{stream="hist"}')" 1
is "/metrics: gaps by reason" "$(metric 'ringcast_gaps_total{stream="tiny",reason="evicted"}')" 1
wait_for 10 metric_is 'ringcast_streams_open{stream="live",protocol="h2"}' 0
is "/metrics: the streams ended, the gauge is back to 0" "$(metric 'ringcast_streams_open{stream="live",protocol="h2"}')" 0

# A quiet stream opens at once: the retry hint goes out before any record or heartbeat (1s here).
opens_at_once() { # LABEL BASE_URL CURL_ARGS...
    is "a stream with no new records opens at once ($1): its first line is the retry hint" \
        "$(curl -sN --max-time 0.7 "${@:3}" "$2/streams/live" | head -1)" "retry: 1500"
}
over_protocols opens_at_once

# HTTP/1.x streams own their socket once the headers are written: the body is chunked for HTTP/1.1
# (the connection serves the next request after a finite stream) and ends with the close for 1.0.
curl -sN --max-time 3 "$URL/streams/live" >/dev/null &
open_pid=$!
wait_for 10 metric_is 'ringcast_streams_open{stream="live",protocol="http1"}' 1
is "/metrics: an open HTTP/1.1 stream is counted by protocol" "$(metric 'ringcast_streams_open{stream="live",protocol="http1"}')" 1
wait $open_pid
# The worker notices a vanished HTTP/1.1 client when it next writes (the heartbeat, 1 s).
wait_for 10 metric_is 'ringcast_streams_open{stream="live",protocol="http1"}' 0
is "/metrics: the HTTP/1.1 client left, the gauge is back to 0" "$(metric 'ringcast_streams_open{stream="live",protocol="http1"}')" 0
is "HTTP/1.1 keep-alive: two finite streams on one connection (connects per request)" \
    "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$URL/streams/hist?limit=3" "$URL/streams/hist?limit=3")" "1 0 "
curl -s "$URL/streams/hist?limit=3" "$URL/streams/hist?limit=4" >"$T/two.sse"
is "HTTP/1.1 keep-alive: both streams complete, 3 + 4 events" "$(grep -c '^data: ' "$T/two.sse")" 7
curl -s0 "$URL/streams/hist?limit=5" >"$T/h10.sse"
ok "HTTP/1.0: the same bytes as over HTTP/1.1, ended by the close" \
    sh -c "head -c \$(wc -c <'$T/h10.sse') '$T/all.sse' | cmp -s - '$T/h10.sse' && [ \$(grep -c '^data: ' '$T/h10.sse') = 5 ]"

# h2load: finite streams over h2c, many per connection.
h2load -n 200 -c 4 -m 10 "$URL/streams/hist?limit=30" >"$T/h2load.out" 2>&1
ok "h2load: 200 finite streams over h2c, all succeeded" grep -q "requests: 200 total, 200 started, 200 done, 200 succeeded" "$T/h2load.out"

# Worker kill -9: the master restarts it; a client resumes exactly with its last id.
sse 'hist?limit=12' 5 | grep '^id: ' | tail -1 | cut -c5- >"$T/id12"
for w in $(workers_of "${PIDS[edge]}"); do kill -KILL "$w"; done
ok "the master restarts killed workers" wait_for 20 sh -c "[ \$(grep -c 'killed by signal 9; restarting it' '$T/edge.log') -ge 2 ]"
ok "the edge serves again" wait_for 20 curl -sf "$URL/healthz"
sse 'hist?limit=18' 5 -H "Last-Event-ID: $(cat "$T/id12")" | data_of >"$T/after-kill"
data_of <"$T/all.sse" | tail -n 18 >"$T/want-after-kill"
ok "after the restart, Last-Event-ID resumes exactly (18 events, none lost or repeated)" cmp -s "$T/want-after-kill" "$T/after-kill"

# The bridge goes away: health fails, publishing fails with 503, open streams stay open; a stream
# without a ring is 503.
stop bridge TERM
is "POST: 503 when Kafka is unreachable (after edge.publish_timeout)" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST -d late "$URL/streams/chat")" 503
is "/healthz is 503 when the bridge is stopped" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 503
sed 's/  - {name: tiny.*/&\n  - {name: ghost, topics: [ghost]}/' "$T/ringcast.yaml" >"$T/ghost.yaml"
PORT2=$(free_port)
sed -i "s/port: $PORT/port: $PORT2/" "$T/ghost.yaml"
spawn edge2 "$EDGE" -c "$T/ghost.yaml"
wait_for 20 curl -s "http://127.0.0.1:$PORT2/streams"
is "503 for a stream whose ring is missing" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/streams/ghost")" 503
stop edge2 TERM

# A master killed outright takes its workers with it: they drain and exit instead of serving alone.
PORT3=$(free_port)
sed "s/port: $PORT2/port: $PORT3/" "$T/ghost.yaml" >"$T/orphan.yaml"
spawn edge3 "$EDGE" -c "$T/orphan.yaml"
wait_for 20 curl -s "http://127.0.0.1:$PORT3/healthz"
workers3=$(workers_of "${PIDS[edge3]}" | sed 's/ $//')
stop edge3 KILL
gone() { for w in $workers3; do kill -0 "$w" 2>/dev/null && return 1; done; return 0; }
ok "master kill -9: its workers ($workers3) exit too" wait_for 20 gone

# SIGTERM drains: an open stream ends (cleanly) and the edge exits 0.
sse 'live' 10 >"$T/drain.sse" &
drain_pid=$!
wait_for 10 opened "$T/drain.sse"
stop edge TERM
is "SIGTERM: the edge exits 0" "$?" 0
wait $drain_pid
is "SIGTERM: an open stream is ended cleanly (curl exit 0)" "$?" 0
ok "SIGTERM: the stream's last line is a retry hint between retry and twice retry" \
    sh -c "grep '^retry: ' '$T/drain.sse' | tail -1 | awk '{ exit !(\$2 >= 1500 && \$2 <= 3000) }' && [ \$(grep -c '^retry: ' '$T/drain.sse') = 2 ]"
finish

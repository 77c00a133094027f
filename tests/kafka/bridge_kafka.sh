#!/bin/bash
# ringcast-bridge against a real Apache Kafka broker (single-node KRaft, started here with
# scripts/kafka-up.sh): every record lands exactly once; kill -9 of the bridge in the middle of a
# 200k-record stream and a restart leave the ring's (partition, offset) sequence without gap or
# duplicate; a broker stop and start is survived; a missing topic is waited for; partitions added
# to a topic are picked up.
. "$(dirname "$0")/../lib.sh"
RINGS=$T/rings
N=200000

kafka_start
kafka_topic create events 3
ok "topic events (3 partitions) created" sh -c "kcat -L -b $BOOT -t events | grep -q '3 partitions'"

# 200k keyed records, produced before the bridge starts.
seq 0 $((N - 1)) | awk '{ printf "key%d:record-%d\n", $1 % 1000, $1 }' >"$T/records"
# Small producer batches: a fetch returns whole batches, so big ones would let the bridge take all
# 200k in a few fetches, too fast to be killed in the middle.
kcat -P -b "$BOOT" -t events -K : -X batch.num.messages=100 -l "$T/records"
hw() { kcat -Q -b "$BOOT" -t events:0:-1 -t events:1:-1 -t events:2:-1 2>/dev/null | awk '{ s += $NF } END { print s }'; }
is "Kafka holds the 200k records" "$(hw)" "$N"

config() { # $1: extra kafka properties (a YAML map)
    cat <<EOT
kafka: {brokers: "$BOOT", properties: $1}
ring: {dir: $RINGS, size: 64MiB}
streams:
  - {name: ev, topics: [events], initial: earliest}
  - {name: late, topics: [later], initial: earliest}
  - {name: live, topics: [events], initial: latest}
  - {name: tail, topics: [events], initial: "100"}
log: {level: info}
EOT
}
# Small fetches make the first run slow enough to be killed in the middle of the stream.
config '{fetch.message.max.bytes: "2048", fetch.max.bytes: "4096", message.max.bytes: "4096"}' >"$T/slow.yaml"
config '{}' >"$T/fast.yaml"

spawn bridge "$BRIDGE" -c "$T/slow.yaml"
part_in() { # polls every 10 ms: a tenth of a second is long enough for the bridge to take them all
    local end=$((SECONDS + 60))
    until ring_has_at_least ev 20000; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.01
    done
}
ok "the bridge is streaming part of the records" part_in
stop bridge KILL
mid=$(ring_records ev)
ok "kill -9 came in the middle of the stream ($mid of $N in the ring)" test "$mid" -lt "$N"
mv "$T/bridge.log" "$T/bridge-killed.log"
spawn bridge "$BRIDGE" -c "$T/fast.yaml"
ok "after the restart the bridge reopens the ring" wait_for 20 grep -q "ev: reopened, continues at seq" "$T/bridge.log"
ok "after the restart every record arrives" wait_for 60 ring_has_at_least ev "$N"
check_exact() { # ring, expected total: every (partition, offset) once, offsets dense from 0
    ring_dump "$1" | awk -v want="$2" '
        $2 == "DATA" { split($4, p, "="); split($5, o, "=");
                       if (o[2] != next_off[p[2]] + 0) { bad++; if (bad < 4) print "# partition " p[2] ": offset " o[2] ", expected " next_off[p[2]] + 0 }
                       next_off[p[2]] = o[2] + 1; n++ }
        END { print (bad == 0 && n == want) ? "exact" : "records " n ", " bad + 0 " out of sequence" }'
}
is "ring ev: 200k records, each (partition, offset) exactly once, dense per partition" "$(check_exact ev $N)" "exact"
# The other streams read the same topic from where their new rings began (the first, slow run).
is "initial: latest: a new ring starts at the end of each partition" "$(ring_records live)" 0
is "initial: \"100\": a new ring starts 100 records back in each partition" "$(ring_records tail)" 300
last100() { # per partition: the tail ring holds offsets end-100 .. end-1, where ev says the end is
    ring_dump ev | awk '{ split($4, p, "="); split($5, o, "="); end[p[2]] = o[2] + 1 }
        END { for (q in end) print q, end[q] - 100, end[q] - 1 }' | sort >"$T/want100"
    ring_dump tail | awk '{ split($4, p, "="); split($5, o, "=");
        if (!(p[2] in lo)) lo[p[2]] = o[2]; hi[p[2]] = o[2] }
        END { for (q in lo) print q, lo[q], hi[q] }' | sort >"$T/got100"
    cmp -s "$T/want100" "$T/got100"
}
ok "initial: \"100\": those are the last 100 offsets of each partition" last100
ok "the ring validates" "$TOOL" validate "$RINGS/ev.ring"

# A missing topic is waited for, then read.
ok "a missing topic is logged once and waited for" grep -q "topic later: .*; waiting for it" "$T/bridge.log"
kafka_topic create later 1
printf 'one\ntwo\nthree\n' | kcat -P -b "$BOOT" -t later -p 0
ok "records of the topic created later arrive" wait_for 30 ring_has_at_least late 3

# Broker stop and start: the bridge reports it, waits, and resumes without loss or duplicate.
kafka_down
unreachable() { ring_info ev | grep -q "kafka unreachable"; }
ok "broker down: the ring header says kafka unreachable" wait_for 60 unreachable
BOOT2=$(kafka_up_again)
is "broker up again on the same address" "$BOOT2" "$BOOT"
seq 0 999 | sed 's/^/after-restart-/' | kcat -P -b "$BOOT" -t events -p 1
ok "records produced after the broker restart arrive" wait_for 60 ring_has_at_least ev $((N + 1000))
ok "... also in the stream that started at the end" wait_for 60 ring_has_at_least live 1000
streaming() { ring_info ev | grep -q "bridge .*streaming"; }
ok "the ring header says streaming again" wait_for 30 streaming
is "still exactly once and dense after the broker restart" "$(check_exact ev $((N + 1000)))" "exact"

# Partitions added to a topic are picked up by the periodic metadata refresh.
kafka_topic alter events 4
lane3() { ring_info ev | grep -q "events\[3\]"; }
ok "a partition added to the topic gets a lane" wait_for 30 lane3
printf 'new-partition\n' | kcat -P -b "$BOOT" -t events -p 3
ok "records of the new partition arrive" wait_for 30 ring_has_at_least ev $((N + 1001))

stop bridge TERM
is "SIGTERM: exit 0" "$?" 0
finish

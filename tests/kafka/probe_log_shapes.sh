#!/bin/bash
# The shapes a real Apache Kafka log takes besides dense offsets, shown on a single-node KRaft
# broker (scripts/kafka-up.sh) with kcat as the reader. The bridge must stream such logs without
# calling a hole a loss:
#   - a compacted topic, once the log cleaner ran: superseded records are gone (offset holes), the
#     latest record of every key keeps its offset, a deleted key reads as a tombstone (key, null
#     value) for delete.retention.ms, and after that disappears altogether;
#   - a transactional topic (written by tests/tools/kafka_tx.c): a read_committed reader gets
#     exactly the committed and plain records, in order; aborted records and the control marker
#     of every commit and abort are holes; an open transaction holds it at the last stable offset.
# Compaction is waited for on what the reader sees, never on the clock: the cleaner never touches a
# log's active segment, and segment.ms rolls a segment only when a record arrives, so the test
# writes one "roll" record after another until the cleaner has been through.
. "$(dirname "$0")/../lib.sh"
need kcat java
TX=$BUILD/tests/kafka_tx
[ -x "$TX" ] || { echo "Bail out! $TX is missing: run make"; exit 1; }
kafka_start

# Segments roll 100 ms after their first record; any dirty byte makes a log cleanable.
# "kept" holds tombstones for 10 minutes, "purged" for 1 s. Each create is a JVM: run them at once.
COMPACT=(cleanup.policy=compact segment.ms=100 min.cleanable.dirty.ratio=0.01 min.compaction.lag.ms=0)
topic() { kafka_topic create "$@"; }
topic kept 1 "${COMPACT[@]}" delete.retention.ms=600000 &
topic purged 1 "${COMPACT[@]}" delete.retention.ms=1000 &
topic tx 2 &
wait
ok "topics kept, purged (compacted) and tx created" \
    sh -c "kcat -L -b $BOOT | grep -c -E 'topic \"(kept|purged|tx)\"' | grep -qx 3"

# fetch.wait.max.ms: at the end of a partition kcat -e would otherwise wait 500 ms for more.
read_log() { # TOPIC PARTITION FORMAT [kcat options]: every record from the start, null values as NULL
    local topic=$1 part=$2 fmt=$3
    shift 3
    kcat -C -b "$BOOT" -t "$topic" -p "$part" -o beginning -e -q -Z -X fetch.wait.max.ms=10 -f "$fmt" "$@"
}
# 200 records over 20 keys (k<i % 20> = v<i>), then tombstones (-Z: an empty value is sent as null)
# for k0..k4, at offsets 0-204. The latest of k5..k19 are v185..v199 at offsets 185..199.
write_keys() {
    { seq 0 199 | awk '{ printf "k%d:v%d\n", $1 % 20, $1 }'; printf 'k%d:\n' 0 1 2 3 4; } |
        kcat -P -Z -b "$BOOT" -t "$1" -p 0 -K :
}
end_offset() { kcat -Q -b "$BOOT" -t "$1:$2:-1" | awk '{ print $NF }'; }
# The number of records a reader finds among the first 205 offsets.
first_205() { read_log "$1" 0 '%o\n' | awk '$1 < 205 { n++ } END { print n + 0 }'; }
# Compacted as far as it goes: one record per key left there. (Any hole already shows that the
# cleaner ran; this waits as well for a pass over the whole of them, should they have been
# written into two segments.)
compacted() { [ "$(first_205 "$1")" -le 20 ]; }
no_tombstones() { ! read_log "$1" 0 '%k %S\n' | grep -q -- ' -1$'; }
# Writes a "roll" record, then tests COMMAND, until it holds (30 s at most); says how long it took.
roll_until() {
    local topic=$1 end=$((SECONDS + 30)) i=0 t0
    t0=$(date +%s%N)
    shift
    until "$@"; do
        [ $SECONDS -ge $end ] && return 1
        i=$((i + 1))
        echo "roll:$i" | kcat -P -b "$BOOT" -t "$topic" -p 0 -K :
        sleep 0.1
    done
    echo "# $topic: $* after $((($(date +%s%N) - t0) / 1000000)) ms and $i roll records" >&3
}
exec 3>&1 # roll_until runs under ok, which silences its stdout
# The records of the k keys as a reader sees them: offset, key, value.
keys_seen() { read_log "$1" 0 '%o %k %s\n' | grep ' k[0-9]* '; }

# --- Compaction, tombstones kept -------------------------------------------------------------
write_keys kept
is "205 records written (200 values, 5 tombstones)" "$(end_offset kept 0)" 205
ok "the log cleaner compacts the topic (waited for on what kcat reads)" roll_until kept compacted kept
want=$( (for k in $(seq 5 19); do echo "$((180 + k)) k$k v$((180 + k))"; done
         for k in 0 1 2 3 4; do echo "$((200 + k)) k$k NULL"; done))
is "compacted: the latest record of every key survives at its offset, nothing older" "$(keys_seen kept)" "$want"
is "compacted: the 180 superseded records are holes (20 of the first 205 offsets are left)" "$(first_205 kept)" 20
is "compacted: a deleted key reads as a tombstone, its key with a null value (length -1)" \
    "$(read_log kept 0 '%k %S\n' | grep ' -1$' | tr '\n' ' ')" "k0 -1 k1 -1 k2 -1 k3 -1 k4 -1 "

# --- Compaction, tombstones purged after delete.retention.ms (1 s) ---------------------------
# Only a later cleaning pass removes a tombstone, and the cleaner only runs on a log with dirty
# segments: the roll records keep giving it some.
write_keys purged
ok "purged: the log cleaner compacts the topic" roll_until purged compacted purged
ok "purged: once delete.retention.ms has passed, the tombstones are gone too" roll_until purged no_tombstones purged
want=$(for k in $(seq 5 19); do echo "$((180 + k)) k$k v$((180 + k))"; done)
is "purged: the deleted keys have left no trace; the latest of every other key survives" "$(keys_seen purged)" "$want"

# --- Transactions ------------------------------------------------------------------------------
PLAN=c5,a3,n2,c2,a1,c4,a2,c1
"$TX" -b "$BOOT" -t tx -p 0 -k key "$PLAN" >"$T/tx.out" 2>"$T/tx.err"
ok "kafka_tx writes the plan $PLAN" test $? -eq 0
committed=$(awk '$1 == "c" || $1 == "n" { print $3, $4 }' "$T/tx.out")
is "read_committed: exactly the committed and plain records, in order, at the offsets produced" \
    "$(read_log tx 0 '%o %s\n' -X isolation.level=read_committed)" "$committed"
is "kcat's default is read_committed (librdkafka's)" "$(read_log tx 0 '%o %s\n')" "$committed"
# Holes: every offset below the end that no committed record holds. They must be the aborted
# records plus one control marker right after the last record of each transaction.
end=$(end_offset tx 0)
holes=$(read_log tx 0 '%o\n' | awk -v end="$end" '{ seen[$1] = 1 } END { for (o = 0; o < end; o++) if (!(o in seen)) print o }')
want=$(awk '$1 == "a" { print $3 } $1 == "c" || $1 == "a" { last[substr($4, 1, index($4, "-"))] = $3 }
            END { for (step in last) print last[step] + 1 }' "$T/tx.out" | sort -n)
is "read_committed: the holes are the aborted records and one marker after each transaction" \
    "$holes" "$want"
is "... 13 of them: 7 markers and 6 aborted records; the log ends at 27 (14 records read + 13 holes)" \
    "$(echo "$holes" | wc -l):$end" "13:27"
uncommitted=$(awk '{ print $3, $4 }' "$T/tx.out")
is "read_uncommitted: aborted records too, markers still never" \
    "$(read_log tx 0 '%o %s\n' -X isolation.level=read_uncommitted)" "$uncommitted"

# An open transaction: a read_committed reader stops at its first record (the last stable offset)
# even when plain records follow; read_uncommitted goes on. The broker aborts it after
# transaction.timeout.ms (60 s), long after this test.
"$TX" -b "$BOOT" -t tx -p 1 c2,o3 >"$T/open.out" 2>>"$T/tx.err"
ok "kafka_tx leaves a transaction open" test $? -eq 0
printf 'after-1\nafter-2\n' | kcat -P -b "$BOOT" -t tx -p 1
is "open transaction: read_committed stops at the last stable offset" \
    "$(read_log tx 1 '%o %s\n')" "$(printf '0 tx1-c-1\n1 tx1-c-2')"
is "open transaction: kcat -Q gives that offset as the end" "$(end_offset tx 1)" 3
is "open transaction: read_uncommitted reads past it" "$(read_log tx 1 '%o %s\n' -X isolation.level=read_uncommitted)" \
    "$(printf '0 tx1-c-1\n1 tx1-c-2\n3 tx2-o-3\n4 tx2-o-4\n5 tx2-o-5\n6 after-1\n7 after-2')"
sed 's/^/# kafka_tx: /' "$T/tx.err" | grep -v 'Coordinator load in progress' | head -n 5
finish

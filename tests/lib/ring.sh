# A ring as ringcast-ringtool shows it. NAME is a stream: its ring is $RINGS/NAME.ring.
# Sourced by tests/lib.sh.
#
#   ring_info NAME                 the header, counters and lanes (ringtool info)
#   ring_dump NAME [FROM [COUNT]]  one line per record from seq FROM (ringtool dump)
#   ring_records NAME              the records counter of its header (empty if there is no ring)
#   ring_has NAME N                true when the ring counted exactly N records
#   ring_has_at_least NAME N       true when it counted N or more
TOOL=${TOOL:-$BUILD/ringcast-ringtool}

ring_info() { "$TOOL" info "$RINGS/$1.ring" 2>/dev/null; }
ring_dump() { "$TOOL" dump "$RINGS/$1.ring" "${@:2}"; }
ring_records() { ring_info "$1" | sed -n 's/.*counters *records=\([0-9]*\).*/\1/p'; }
ring_has() { [ "$(ring_records "$1")" = "$2" ]; }
ring_has_at_least() {
    local c
    c=$(ring_records "$1")
    [ -n "$c" ] && [ "$c" -ge "$2" ]
}

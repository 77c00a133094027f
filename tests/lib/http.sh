# What an HTTP client of the edge sees. Sourced by tests/lib.sh. BASE_URL arguments default to $URL.
#
#   sse PATH [MAX_TIME] [CURL_ARGS...]   the bytes of GET $URL/streams/PATH (curl -N, at most
#                                        MAX_TIME seconds, default 5)
#   data_of                              the data: lines of the SSE on stdin, without "data: "
#   opened FILE                          true once FILE has bytes: a stream writes its retry hint
#                                        as soon as it opens, so a client is attached
#   metric NAME [BASE_URL]               the value of the Prometheus sample NAME in /metrics
#   metric_is NAME VALUE [BASE_URL]      true when it has that value (for wait_for)
#   stream_has NAME N [BASE_URL]         true when /streams shows stream NAME available with N records
#   over_protocols CHECK                 runs CHECK LABEL BASE_URL CURL_ARGS... over HTTP/1.1 and h2c
#                                        on $URL and, when $TLS_URL is set, h2 over TLS
#   ids_of                               the SSE on stdin as "id<TAB>kind<TAB>data" lines, one per
#                                        data line; kind is the event type for gap and reset
#                                        events, "record" for any other
#   resume_all STREAM IDS [BASE_URL]     resumes STREAM from every id of IDS (ids_of lines):
#                                        what follows each must be exactly what followed it there,
#                                        gap and reset events included; prints the mismatches' count
sse() { curl -sN --max-time "${2:-5}" "${@:3}" "$URL/streams/$1"; }
data_of() { sed -n 's/^data: //p'; }
opened() { [ -s "$1" ]; }

metric() { curl -s "${2:-$URL}/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
metric_is() { [ "$(metric "$1" "${3:-}")" = "$2" ]; }

stream_has() {
    curl -s "${3:-$URL}/streams" | grep -q "\"name\":\"$1\",\"available\":true,\"records\":$2[,}]"
}

over_protocols() {
    local check=$1
    "$check" "HTTP/1.1" "$URL" --http1.1
    "$check" "h2c" "$URL" --http2-prior-knowledge
    if [ -n "${TLS_URL:-}" ]; then "$check" "TLS h2" "$TLS_URL" -k --http2; fi
}

ids_of() {
    awk '/^id: / { id = substr($0, 5) }
         /^event: / { ev = substr($0, 8) }
         /^data: / { print id "\t" ((ev == "gap" || ev == "reset") ? ev : "record") "\t" substr($0, 7) }
         /^$/ { ev = "" }'
}

resume_all() {
    local stream=$1 ids=$2 base=${3:-$URL} bad=0 id kind data want n got
    while IFS=$'\t' read -r id kind data; do
        want=$(awk -v id="$id" 'f { print $2 "\t" $3 } $1 == id { f = 1 }' FS='\t' "$ids")
        # limit= counts records, not gap or reset events.
        n=$(printf '%s\n' "$want" | grep -c '^record')
        [ "$n" = 0 ] && continue
        got=$(curl -sN --max-time 20 -H "Last-Event-ID: $id" "$base/streams/$stream?limit=$n&timeout=15" |
            ids_of | cut -f2-)
        [ "$got" = "$want" ] || {
            bad=$((bad + 1))
            echo "# $stream after ${data:0:40}: got [$(echo "$got" | tr '\n\t' '| ' | head -c 300)]" \
                "want [$(echo "$want" | tr '\n\t' '| ' | head -c 300)]" >&2
        }
    done <"$ids"
    echo "$bad"
}

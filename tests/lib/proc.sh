# What a process holds, from /proc. Sourced by tests/lib.sh.
#
#   rss_kib PID       its resident memory in KiB (empty once it is gone)
#   fds PID           how many files it has open
#   workers_of PID    the PIDs of its children (an edge master's workers), space-separated
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
workers_of() { pgrep -P "$1" | tr '\n' ' '; }

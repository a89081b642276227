#!/usr/bin/env bash
# bench/engine_syscalls.sh [--bin APPS_DIR] [--seconds S] [--label L] [-- CONFIG LINES...]
#
# System calls per request of nexus-engine in a closed loop (nexus-loadgen,
# one session, one request outstanding), counted by `strace -f -c` over the
# engine's whole life (start-up and shutdown included, which a few seconds of
# traffic make negligible). Requests are the engine's own count (orders +
# replaces + cancels, from its exit counters). Prints one line of totals and
# the calls made at least once per 200 requests. A count, not a time: strace
# slows the engine down, but it changes how often nothing is called.
#   bench/engine_syscalls.sh -- "matching inline"
#   bench/engine_syscalls.sh --label "write path" -- "journal_mode write"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/engine_lib.sh"
apps=$root/build/release/apps
secs=3
label=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) apps=$2; shift ;;
    --seconds) secs=$2; shift ;;
    --label) label=$2; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--bin APPS_DIR] [--seconds S] [--label L] [-- CONFIG LINES...]" >&2; exit 2 ;;
  esac
  shift
done
command -v strace >/dev/null || { echo "$0: strace is not installed (scripts/packages.txt)" >&2; exit 2; }
[ -n "$label" ] || label=${*:-default configuration}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bench_engine_config "$dir" "$@"
strace -f -c -o "$dir/strace.txt" "$apps/nexus-engine" --config "$dir/engine.cfg" --port-file "$dir/port" \
  --log-level info >"$dir/engine.log" 2>&1 &
pid=$!
bench_engine_wait "$dir" || exit 1
"$apps/nexus-loadgen" --config "$dir/engine.cfg" --port-file "$dir/port" --sessions 1 --window 1 \
  --duration "$secs" --warmup 0 >"$dir/loadgen.out" 2>&1
# SIGTERM to the engine itself, not to strace (which would detach).
kill -TERM "$(pgrep -P $pid nexus-engine || echo $pid)"
wait $pid || true
req=$(grep -o "orders [0-9]*, replaces [0-9]*, cancels [0-9]*" "$dir/engine.log" | tail -1 |
  awk '{gsub(",", ""); print $2 + $4 + $6}')
[ -n "$req" ] && [ "$req" -gt 0 ] || { echo "$0: no request counted; engine log:" >&2; cat "$dir/engine.log" >&2; exit 1; }
awk -v label="$label" -v r="$req" '$1 ~ /^[0-9.]+$/ && $NF == "total" {
  printf "%s: %d requests, %d system calls, %.2f per request\n", label, r, $4, $4 / r }' "$dir/strace.txt"
awk -v r="$req" '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / r >= 0.005 {
  printf "  %-16s %8d  %6.3f per request\n", $NF, $4, $4 / r }' "$dir/strace.txt" | sort -k2,2nr

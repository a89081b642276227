#!/usr/bin/env bash
# bench/engine_handoff.sh [--bin APPS_DIR] [--rounds N] [--seconds S]
#
# Closed-loop round trip (nexus-loadgen: one session, one request
# outstanding, a client that sleeps in ppoll) of nexus-engine under each way
# of handing work between threads, beside the blocking TCP echo floor of the
# same run: threads with the shard spinning (spin_us 50, the default) or not,
# the I/O thread polling after its last work (io_spin_us 50) or not, inline
# matching blocking, spinning or busy-polling. Rounds alternate the
# configurations; prints the median p50 and p99 over rounds and their ratio
# to the floor. For docs/engine.md ("Threads and hand-offs on a small
# machine"); nothing else should run meanwhile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/engine_lib.sh"
apps=$root/build/release/apps
rounds=3
secs=2
while [ $# -gt 0 ]; do
  case $1 in
    --bin) apps=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --seconds) secs=$2; shift ;;
    *) echo "usage: $0 [--bin APPS_DIR] [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
  shift
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tsv=$work/latency.tsv
configs=("threads, spin_us 50 (default)|"
  "threads, spin_us 0|spin_us 0"
  "threads, io_spin_us 50|io_spin_us 50"
  "inline, io_poll block|matching inline"
  "inline, io_spin_us 50|matching inline\nio_spin_us 50"
  "inline, io_poll busy|matching inline\nio_poll busy")
for r in $(seq 1 "$rounds"); do
  "$apps/nexus-loadgen" --floor --duration "$secs" --warmup 0.5 --label "floor blocking" --tsv "$tsv" >/dev/null
  for c in "${configs[@]}"; do
    label=${c%%|*}
    extra=${c#*|}
    d=$work/run
    rm -rf "$d"
    mkdir -p "$d"
    bench_engine_config "$d" "$extra"
    "$apps/nexus-engine" --config "$d/engine.cfg" --port-file "$d/port" --log-level warn >"$d/engine.log" 2>&1 &
    pid=$!
    bench_engine_wait "$d" || exit 1
    "$apps/nexus-loadgen" --config "$d/engine.cfg" --port-file "$d/port" --sessions 1 --window 1 \
      --duration "$secs" --warmup 0.5 --label "$label" --tsv "$tsv" >/dev/null
    kill -TERM $pid
    wait $pid
  done
done
python3 - "$tsv" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.rstrip("\n").split("\t")
    try:
        rows[p[0]].append((float(p[6]), float(p[8]), float(p[5])))
    except (IndexError, ValueError):
        pass
med = lambda v, i: statistics.median(x[i] for x in v)
f50, f99 = med(rows["floor blocking"], 0), med(rows["floor blocking"], 1)
print(f"{'configuration':34s} {'p50 us':>8s} {'/floor':>7s} {'p99 us':>8s} {'/floor':>7s} {'orders/s':>9s}")
for k, v in rows.items():
    print(f"{k:34s} {med(v, 0):8.1f} {med(v, 0) / f50:6.2f}x {med(v, 1):8.1f} {med(v, 1) / f99:6.2f}x {med(v, 2):9.0f}")
PY

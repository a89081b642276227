#!/usr/bin/env bash
# bench/engine.sh [--quick] [--out DIR] [--bin DIR] [--no-report]
#
# The matching engine's figures, the standard scenarios:
#  * in-process (nexus-bench-engine): validation + journal + matching, no
#    sockets, with the journal written to the OS, fsync'd, or absent;
#  * over loopback, engine and load generator side by side on this machine:
#    the floor (a trivial TCP echo, blocking and polling), then nexus-engine in
#    five configurations (threads or inline matching; sync os or fsync; the
#    inline one also with a short spin instead of busy polling), each
#    driven by nexus-loadgen in closed loop (1 session, 1 outstanding) and in
#    open loop at fixed rates (10 sessions); the default configuration over a
#    finer sweep, to find the highest rate whose p99 stays under 1 ms.
# Writes DIR/bench/results/raw/engine-*.tsv and (unless --no-report)
# regenerates DIR/BENCHMARKS.md and the latency plot with bench/report.py.
# Nothing else should run on the machine meanwhile: the engine and the load
# generator share its cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/engine_lib.sh"
quick=0
out=$root
bin=""
report=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    --no-report) report=0 ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--bin DIR] [--no-report]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$bin" ] || bin=$("$root/scripts/build-bench.sh")
apps=$bin/../apps
raw=$out/bench/results/raw
mkdir -p "$raw"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A report elsewhere than the repository takes the other benchmarks' raw files from it.
if [ ! -f "$raw/machine.tsv" ] && [ "$raw" != "$root/bench/results/raw" ]; then
  cp "$root"/bench/results/raw/*.tsv "$raw"/ 2>/dev/null || true
  cp "$root"/bench/results/raw/*.json "$raw"/ 2>/dev/null || true
fi
lat=$raw/engine-latency.tsv
rm -f "$lat" "$raw/engine-core.tsv"

if [ $quick -eq 1 ]; then dur=0.3; warm=0.2; else dur=4; warm=1; fi
q=()
[ $quick -eq 1 ] && q=(--quick)

echo "engine: in-process core"
"$bin/nexus-bench-engine" "${q[@]}" --dir="$work" --out="$raw/engine-core.tsv"

echo "engine: loopback floor"
"$apps/nexus-loadgen" --floor --duration $dur --warmup $warm --label "floor blocking" --tsv "$lat" >/dev/null
"$apps/nexus-loadgen" --floor --busy --duration $dur --warmup $warm --label "floor polling" --tsv "$lat" >/dev/null

# floor_beside LABEL blocking|"polling echo"|polling: the echo floor, labelled
# for the configuration it is beside.
floor_beside() {
  local busy=()
  [ "$2" = polling ] && busy=(--busy)
  [ "$2" = "polling echo" ] && busy=(--echo-busy)
  "$apps/nexus-loadgen" --floor "${busy[@]}" --duration $dur --warmup $warm --label "floor $2, beside $1" --tsv "$lat" >/dev/null
}

# run_mode LABEL "CONFIG LINES" RATES...  (rate "closed" = closed loop; "closed-busy" with a polling client)
modes=0
run_mode() {
  local label=$1 extra=$2
  shift 2
  modes=$((modes + 1))
  local dir=$work/mode$modes
  rm -rf "$dir"
  mkdir -p "$dir"
  bench_engine_config "$dir" "$extra"
  # The echo floor again, just before this configuration and in the polling
  # modes its ratios use: the VM's wake-up cost drifts over minutes, so each
  # configuration is divided by a floor measured beside it. A sleeping client
  # is compared with a sleeping echo if the engine's I/O thread sleeps, with a
  # polling echo if it polls or spins; a polling client with both polling.
  # (Before the engine starts: a busy-polling engine would take a core from
  # the floor.)
  local r sleeping=blocking
  case $extra in *"io_poll busy"* | *io_spin_us*) sleeping="polling echo" ;; esac
  for r in "$@"; do
    case $r in closed | 10000) floor_beside "$label" "$sleeping"; break ;; esac
  done
  for r in "$@"; do
    [ "$r" = closed-busy ] && floor_beside "$label" polling
  done
  "$apps/nexus-engine" --config "$dir/engine.cfg" --port-file "$dir/port" --log-level warn >"$dir/engine.log" 2>&1 &
  local pid=$!
  bench_engine_wait "$dir" || { echo "engine: $label: see above" >&2; exit 1; }
  for r in "$@"; do
    local args=(--config "$dir/engine.cfg" --port-file "$dir/port" --duration $dur --warmup $warm --tsv "$lat")
    case $r in
      closed) args+=(--sessions 1 --window 1 --label "$label") ;;
      closed-busy) args+=(--sessions 1 --window 1 --busy --label "$label, polling client") ;;
      *) args+=(--sessions 10 --rate "$r" --label "$label") ;;
    esac
    echo "engine: $label: $r"
    "$apps/nexus-loadgen" "${args[@]}" | tail -1 || true
  done
  kill -TERM $pid
  if ! wait $pid; then
    echo "engine: $label: nexus-engine did not exit cleanly; its log:" >&2
    cat "$dir/engine.log" >&2
    exit 1
  fi
}

if [ $quick -eq 1 ]; then
  run_mode "threads, sync os" "" closed 2000
  run_mode "inline, busy poll, sync os" "matching inline\nio_poll busy" closed
else
  run_mode "threads, sync os" "" closed 1000 2000 5000 10000 20000 30000 50000 75000 100000
  run_mode "threads, sync fsync" "sync fsync" closed 10000 20000 50000 100000
  run_mode "inline, busy poll, sync os" "matching inline\nio_poll busy" closed closed-busy 5000 10000 20000 30000 50000 100000
  run_mode "inline, busy poll, sync fsync" "matching inline\nio_poll busy\nsync fsync" closed 10000 20000 50000 100000
  run_mode "inline, io_spin_us 50, sync os" "matching inline\nio_spin_us 50" closed closed-busy 10000
fi
echo "engine: wrote $lat"
if [ $report -eq 1 ]; then
  python3 "$root/bench/report.py" "$raw" "$out"
  echo "engine: wrote $out/BENCHMARKS.md"
fi

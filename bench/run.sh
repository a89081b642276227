#!/usr/bin/env bash
# bench/run.sh [--quick] [--out DIR] [--bin DIR]
#
# Builds Release (unless --bin names a build's bench folder), runs every
# benchmark and regenerates DIR/BENCHMARKS.md with its tables and the plots in
# DIR/bench/results/ (DIR defaults to the repository root).
#
# The glibc process runs every allocator; jemalloc, tcmalloc and mimalloc are
# preloaded (LD_PRELOAD) into processes that also run the floor and nexus, so
# every ratio is taken inside one process. Passes alternate the processes.
# --quick runs each benchmark briefly (the test suite does this so a broken
# benchmark fails CI); its numbers mean nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
out=$root
bin=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--bin DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$bin" ] || bin=$("$root/scripts/build-bench.sh")
raw=$out/bench/results/raw
mkdir -p "$raw"
rm -f "$raw"/*.tsv "$raw"/*.json

libdir=/usr/lib/x86_64-linux-gnu
declare -A preload=(
  [jemalloc]=$libdir/libjemalloc.so.2
  [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
  [mimalloc]=$libdir/libmimalloc.so.2
)
q=()
passes=2
if [ $quick -eq 1 ]; then q=(--quick); passes=1; fi

{
  echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "cores	$(nproc)"
  echo "memory	$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "llc_reported	$(getconf LEVEL3_CACHE_SIZE)"
  echo "kernel	$(uname -r)"
  echo "compiler	$(g++ --version | head -1)"
  echo "date	$(date -u +%Y-%m-%d)"
  echo "command	bench/run.sh$([ $quick -eq 1 ] && echo ' --quick')"
} > "$raw/machine.tsv"

for pass in $(seq 1 $passes); do
  echo "bench: pass $pass/$passes: glibc (all allocators)"
  "$bin/nexus-bench-alloc" "${q[@]}" --malloc-label=glibc --out="$raw/alloc-glibc-$pass.tsv"
  for name in jemalloc tcmalloc mimalloc; do
    echo "bench: pass $pass/$passes: $name (preloaded)"
    LD_PRELOAD=${preload[$name]} "$bin/nexus-bench-alloc" "${q[@]}" --impls=floor,nexus,malloc \
      --malloc-label=$name --out="$raw/alloc-$name-$pass.tsv"
  done
done
echo "bench: per-operation table"
"$bin/nexus-bench-ops" "${q[@]}" --out="$raw/ops.tsv"
echo "bench: order book"
"$bin/nexus-bench-book" "${q[@]}" --out="$raw/book.tsv"
echo "bench: price-level structures"
"$bin/nexus-bench-levels" "${q[@]}" --out="$raw/levels.tsv"
echo "bench: ITCH replay, nexus against the plain book"
if [ $quick -eq 1 ]; then
  day=$raw/day-quick.itch
  "$bin/../apps/nexus-synth" --symbols 200 --messages 20000 "$day" >/dev/null
  "$bin/nexus-bench-replay" "$day" --rounds 1 --out="$raw/replay.tsv" 2>/dev/null
  rm -f "$day"
else
  # The 50-million-message day is made once and kept (about 1.6 GB).
  day=${NEXUS_BENCH_DAY:-$root/build/day-50m.itch}
  [ -f "$day" ] || "$bin/../apps/nexus-synth" --symbols 8000 --messages 50000000 "$day"
  "$bin/nexus-bench-replay" "$day" --rounds 3 --out="$raw/replay.tsv"
fi
echo "bench: LOBSTER export and verification"
"$bin/nexus-bench-lobster" "${q[@]}" --out="$raw/lobster.tsv" --dir="$root/build/bench-lobster"
[ $quick -eq 1 ] || "$root/bench/lobster_callgrind.sh" "$bin" "$root/build/bench-lobster" "$raw/lobster.tsv"
echo "bench: Google Benchmark"
gb_time=0.2
[ $quick -eq 1 ] && gb_time=0.001
"$bin/nexus-gbench" --benchmark_min_time=$gb_time --benchmark_format=json --benchmark_out="$raw/gbench.json" \
  --benchmark_out_format=json >/dev/null
echo "bench: matching engine"
"$root/bench/engine.sh" "${q[@]}" --out "$out" --bin "$bin" --no-report
python3 "$root/bench/report.py" "$raw" "$out"
echo "bench: wrote $out/BENCHMARKS.md"

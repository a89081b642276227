#!/usr/bin/env bash
# bench/run.sh [--quick] [--out DIR] [--bin DIR] [--only replay]
#
# Builds Release (unless --bin names a build's bench folder), runs every
# benchmark and regenerates DIR/BENCHMARKS.md with its tables and the plots in
# DIR/bench/results/ (DIR defaults to the repository root). --only replay runs
# the replay's benchmarks alone (bench/replay.sh) and regenerates the report
# with the other raw results as they are.
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
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--bin DIR] [--only replay]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$bin" ] || bin=$("$root/scripts/build-bench.sh")
raw=$out/bench/results/raw
mkdir -p "$raw"
q=()
[ $quick -eq 1 ] && q=(--quick)
if [ "$only" = replay ]; then
  "$root/bench/replay.sh" "${q[@]}" --out "$out" --bin "$bin"
  python3 "$root/bench/report.py" "$raw" "$out"
  echo "bench: wrote $out/BENCHMARKS.md"
  exit 0
elif [ -n "$only" ]; then
  echo "$0: --only takes 'replay'" >&2
  exit 2
fi
rm -f "$raw"/*.tsv "$raw"/*.json

libdir=/usr/lib/x86_64-linux-gnu
declare -A preload=(
  [jemalloc]=$libdir/libjemalloc.so.2
  [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
  [mimalloc]=$libdir/libmimalloc.so.2
)
passes=2
if [ $quick -eq 1 ]; then passes=1; fi

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
echo "bench: ITCH replay, against the base build and the plain book"
"$root/bench/replay.sh" "${q[@]}" --out "$out" --bin "$bin"
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

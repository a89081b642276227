#!/usr/bin/env bash
# bench/replay.sh [--quick] --out DIR --bin DIR
#
# The ITCH replay's benchmarks, each beside the same measurement of a base
# build (A) made in the same run, the two alternated:
#   replay-{A,B}-P.tsv   nexus-bench-replay (in-process ns per message, the
#                        plain book beside it in the same process), pass P;
#   replay-app.tsv       nexus-replay as a user runs it: wall, user and system
#                        time, peak RSS and the summary's peaks, on the
#                        synthetic day and on the bundled sample day;
#   replay-threads.tsv   nexus-replay --threads 1, 2 and the core count (B);
#   replay-callgrind.tsv instructions and simulated cache misses of the
#                        replay loop, A and B (callgrind is deterministic).
# The base is NEXUS_BENCH_BASE (a commit; default: where this branch left
# main), built from `git archive` into build/bench-base. --quick runs B only,
# on a small day, with no callgrind: it checks that the scripts work.
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
    *) echo "usage: $0 [--quick] --out DIR --bin DIR" >&2; exit 2 ;;
  esac
  shift
done
raw=$out/bench/results/raw
mkdir -p "$raw"
rm -f "$raw"/replay*.tsv
apps=$bin/../apps
timed() {  # timed LABEL... -- CMD...: one replay-app.tsv row (wall, user, sys, max RSS KiB) plus the summary's numbers
  local label=()
  while [ "$1" != "--" ]; do label+=("$1"); shift; done
  shift
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >"$t.out" 2>/dev/null || true
  local peak levels msgs
  msgs=$(sed -n 's/^  messages *\([0-9]*\) .*/\1/p' "$t.out")
  peak=$(sed -n 's/.*at the end, peak \([0-9]*\); price.*/\1/p' "$t.out")
  levels=$(sed -n 's/.*price levels: [0-9]* at the end, peak \([0-9]*\).*/\1/p' "$t.out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$(IFS=$'\t'; echo "${label[*]}")" "$(tr ' ' '\t' <"$t")" "${msgs:-0}" "${peak:-0}" \
    "${levels:-0}" >>"$raw/replay-app.tsv"
  rm -f "$t" "$t.out"
}

echo "I	head	$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" >"$raw/replay-meta.tsv"
if [ $quick -eq 1 ]; then
  day=$raw/day-quick.itch
  "$apps/nexus-synth" --symbols 200 --messages 20000 "$day" >/dev/null
  "$bin/nexus-bench-replay" "$day" --rounds 1 --out="$raw/replay-B-1.tsv" 2>/dev/null
  timed B 1 synthetic 1 -- "$apps/nexus-replay" --quiet "$day"
  for n in 1 2; do
    timed B 1 threads "$n" -- "$apps/nexus-replay" --quiet --threads "$n" "$day"
  done
  grep -P '^B\t1\tthreads' "$raw/replay-app.tsv" >"$raw/replay-threads.tsv" || true
  rm -f "$day"
  exit 0
fi

# The 51.8-million-message day is made once and kept (about 1.6 GB).
day=${NEXUS_BENCH_DAY:-$root/build/day-50m.itch}
[ -f "$day" ] || "$apps/nexus-synth" --symbols 8000 --messages 50000000 "$day"
sample=$root/data/sample-day.itch.gz

# The base build (A).
base=${NEXUS_BENCH_BASE:-$(git -C "$root" merge-base HEAD main)}
basesrc=$root/build/bench-base-src
basebin=$root/build/bench-base
if [ ! -x "$basebin/bench/nexus-bench-replay" ] || [ "$(cat "$basebin/.commit" 2>/dev/null)" != "$base" ]; then
  rm -rf "$basesrc" && mkdir -p "$basesrc"
  git -C "$root" archive "$base" | tar -x -C "$basesrc"
  cmake -S "$basesrc" -B "$basebin" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
    -DNEXUS_BUILD_TESTS=OFF >/dev/null
  cmake --build "$basebin" -j "${NEXUS_JOBS:-1}" --target nexus-replay nexus-bench-replay >/dev/null
  echo "$base" >"$basebin/.commit"
fi
echo "replay: base (A) is $(git -C "$root" rev-parse --short "$base"), this tree is B"
echo "I	base	$(git -C "$root" rev-parse --short "$base")" >>"$raw/replay-meta.tsv"

passes=${NEXUS_BENCH_PASSES:-2}
for pass in $(seq 1 "$passes"); do
  order="A B"
  [ $((pass % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    b=$bin
    [ "$side" = A ] && b=$basebin/bench
    echo "replay: pass $pass/$passes: nexus-bench-replay ($side)"
    "$b/nexus-bench-replay" "$day" --rounds 2 --out="$raw/replay-$side-$pass.tsv"
    a=$b/../apps
    echo "replay: pass $pass/$passes: nexus-replay ($side)"
    timed "$side" "$pass" synthetic 1 -- "$a/nexus-replay" --quiet "$day"
    timed "$side" "$pass" sample 1 -- "$a/nexus-replay" --quiet "$sample"
  done
  echo "replay: pass $pass/$passes: nexus-replay --threads"
  for n in $(printf '%s\n' 1 2 "$(nproc)" | sort -un); do
    timed B "$pass" threads "$n" -- "$apps/nexus-replay" --quiet --threads "$n" "$day"
  done
done
grep -P '^B\t[0-9]+\tthreads' "$raw/replay-app.tsv" >"$raw/replay-threads.tsv" || true

if command -v valgrind >/dev/null && [ "${NEXUS_BENCH_CALLGRIND:-1}" = 1 ]; then
  # The replay loop only (the tool is told where it starts), both caches of
  # the earlier analysis: a 48 KiB first level and an 8 MiB last level.
  for side in A B; do
    a=$apps toggle='*apply_block*'
    [ "$side" = A ] && a=$basebin/apps toggle='*frame_all<*'
    echo "replay: callgrind ($side), about 10 minutes"
    f=$(mktemp)
    valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=8388608,16,64 --callgrind-out-file="$f" \
      --toggle-collect="$toggle" "$a/nexus-replay" --quiet "$day" >/dev/null 2>&1
    # totals: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
    echo "$side	$(sed -n 's/^totals: //p' "$f" | tr ' ' '\t')" >>"$raw/replay-callgrind.tsv"
    rm -f "$f"
  done
fi

#!/usr/bin/env bash
# run_fuzz.sh FUZZER KIND SECONDS WORKDIR SHARED_DATA SYNTH: seeds a corpus and
# runs the fuzzer for a bounded time. A crash, leak or sanitizer report fails.
set -euo pipefail
fuzzer=$1 kind=$2 seconds=$3 work=$4 shared=$5 synth=$6
corpus=$work/$kind
seeds=$work/$kind-seeds
rm -rf "$corpus" "$seeds"
mkdir -p "$corpus" "$seeds"
if [ "$kind" = itch ]; then
  "$synth" --symbols 5 --messages 300 --seed 3 "$seeds/day.itch" >/dev/null
  head -c 4000 "$seeds/day.itch" >"$seeds/head.itch"
  [ -f "$shared/itch/directory_head_1000.itch" ] && head -c 8000 "$shared/itch/directory_head_1000.itch" >"$seeds/nasdaq.itch"
else
  dir=$shared/lobster/AAPL_2012-06-21_34200000_57600000_
  if [ -f "${dir}message_10.csv" ]; then
    { head -n 30 "${dir}message_10.csv"; printf '\0'; head -n 30 "${dir}orderbook_10.csv" | cut -d, -f1-4; } >"$seeds/aapl"
  fi
  printf '34200.1,1,5,18,5853300,1\n34200.2,3,5,18,5853300,1\n\0005859400,200,5853300,18\n5859400,200,5853300,0\n' >"$seeds/small"
fi
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/$kind-" "$corpus" "$seeds"

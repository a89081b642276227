#!/usr/bin/env bash
# bench/lobster_callgrind.sh BIN_DIR DATA_DIR OUT.tsv: instructions (callgrind)
# per verified row and per exported ITCH message, on the days and files
# nexus-bench-lobster left in DATA_DIR; appended to OUT.tsv as "C" lines.
# Deterministic, so comparable across runs on a shared machine.
set -euo pipefail
bin=$1 data=$2 out=$3
command -v valgrind >/dev/null || { echo "lobster_callgrind: no valgrind, skipped" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=$data/market/AAAA_2000-01-01_34200000_57600000_
rows=200000
head -n $rows "${base}message_10.csv" >"$tmp/m.csv"
head -n $rows "${base}orderbook_10.csv" >"$tmp/b.csv"
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
# The run's fixed cost (start-up, a verification of one row) is subtracted.
head -n 1 "$tmp/m.csv" >"$tmp/m1.csv"
head -n 1 "$tmp/b.csv" >"$tmp/b1.csv"
valgrind --tool=callgrind --callgrind-out-file="$tmp/v1" "$bin/nexus-bench-lobster" --verify-only="$tmp/m1.csv,$tmp/b1.csv" >/dev/null 2>&1
valgrind --tool=callgrind --callgrind-out-file="$tmp/v" "$bin/nexus-bench-lobster" --verify-only="$tmp/m.csv,$tmp/b.csv" >/dev/null 2>&1
echo -e "C\tverify, market (first $rows rows)\t$rows\t$(( $(total "$tmp/v") - $(total "$tmp/v1") ))" >>"$out"
for day in market one; do
  msgs=$(valgrind --tool=callgrind --callgrind-out-file="$tmp/e" "$bin/nexus-bench-lobster" --export-only="$data/$day.itch" 2>/dev/null |
         awk '/^ok:/ { print $2 }')
  name=$([ $day = one ] && echo "one symbol" || echo market)
  echo -e "C\texport, $name (counting sink)\t$msgs\t$(total "$tmp/e")" >>"$out"
done

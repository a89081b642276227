#!/usr/bin/env bash
# Drives nexus-replay and nexus-synth as a user would and checks exit codes
# and output. Usage: replay_test.sh BIN_DIR SHARED_DATA
set -uo pipefail
bin=$1
shared=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok    $name"; else echo "FAIL  $name"; fails=$((fails + 1)); fi
}

# A generated day: no anomalies, all outputs written.
"$bin/nexus-synth" --symbols 50 --messages 20000 --seed 7 "$tmp/day.itch" >/dev/null
"$bin/nexus-replay" --quiet --bbo "$tmp/bbo.csv" --snapshot "$tmp/snap.json" --depth 3 "$tmp/day.itch" >"$tmp/out" 2>&1
rc=$?
check "replay of a generated day exits 0" test $rc -eq 0
check "no anomalies in a generated day" grep -q "anomalies         0 " "$tmp/out"
check "summary has messages by type" grep -q "by type .*A=" "$tmp/out"
check "summary has latency by type" grep -q "latency by type" "$tmp/out"
check "summary has busiest symbols" grep -q "busiest symbols" "$tmp/out"
check "BBO CSV has a header and rows" test "$(head -1 "$tmp/bbo.csv")" = "timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size" -a "$(wc -l <"$tmp/bbo.csv")" -gt 100
check "snapshot is JSON with books" python3 -c "import json,sys; d=json.load(open('$tmp/snap.json')); sys.exit(0 if len(d['books'])>10 and all(len(b['bids'])<=3 for b in d['books']) else 1)"

# Gzip gives the same summary counts.
gzip -n -c "$tmp/day.itch" >"$tmp/day.itch.gz"  # -n: the same bytes every run
"$bin/nexus-replay" --quiet "$tmp/day.itch.gz" >"$tmp/outgz" 2>&1
check "gzip replay exits 0" test $? -eq 0
check "gzip and plain count the same messages by type" test "$(grep 'by type' "$tmp/out")" = "$(grep 'by type' "$tmp/outgz")"

# Symbol filter.
"$bin/nexus-replay" --quiet --symbols AAAA "$tmp/day.itch" >"$tmp/outsym" 2>&1
check "symbol filter counts the others as filtered" grep -q "filtered" "$tmp/outsym"

# A truncated file: summary so far, the offset, exit 2.
size=$(stat -c %s "$tmp/day.itch")
head -c $((size - 7)) "$tmp/day.itch" >"$tmp/cut.itch"
"$bin/nexus-replay" --quiet "$tmp/cut.itch" >"$tmp/outcut" 2>&1
rc=$?
check "truncated file exits 2" test $rc -eq 2
check "truncated file names the byte offset" grep -q "cut off by the end of the data at byte offset" "$tmp/outcut"
check "truncated file still prints the summary" grep -q "messages " "$tmp/outcut"

# A corrupt gzip stream: exit 2 with where.
python3 - "$tmp/day.itch.gz" "$tmp/bad.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
for i in range(len(d) // 2, len(d) // 2 + 40):
    d[i] ^= 0x5A
open(sys.argv[2], 'wb').write(d)
PY
"$bin/nexus-replay" --quiet "$tmp/bad.gz" >"$tmp/outbad" 2>&1
check "corrupt gzip exits 2" test $? -eq 2
check "corrupt gzip says where" grep -q "corrupt gzip stream" "$tmp/outbad"

# Unknown references are anomalies, not errors.
python3 - "$tmp/anom.itch" <<'PY'
import struct, sys
def msg(b): return struct.pack('>H', len(b)) + b
hdr = lambda t, loc: t.encode() + struct.pack('>HH', loc, 0) + (12345).to_bytes(6, 'big')
r = msg(hdr('R', 1) + b'TEST    ' + b'QN' + struct.pack('>I', 100) + b'NCZ PN 1N' + struct.pack('>I', 0) + b'N')
d = msg(hdr('D', 1) + struct.pack('>Q', 999))
open(sys.argv[1], 'wb').write(r + d + d)
PY
"$bin/nexus-replay" --quiet "$tmp/anom.itch" >"$tmp/outanom" 2>&1
check "unknown references exit 0" test $? -eq 0
check "unknown references are counted" grep -q "anomalies         2 .*D=2" "$tmp/outanom"

# Bad usage and --help.
"$bin/nexus-replay" --no-such-option >"$tmp/outuse" 2>&1
check "unknown option exits 1" test $? -eq 1
"$bin/nexus-replay" --help >"$tmp/help" 2>&1
check "--help exits 0 and explains every option" bash -c "grep -q -- --symbols '$tmp/help' && grep -q -- --bbo '$tmp/help' && grep -q -- --snapshot '$tmp/help' && grep -q -- --depth '$tmp/help'"
check "--help documents every exit status" bash -c "for s in 0 1 2 3 4 130; do grep -Eq \"^  \$s +[A-Za-z]\" '$tmp/help' || exit 1; done"
"$bin/nexus-replay" --quiet "$tmp/none.itch" >"$tmp/outnone" 2>&1
check "missing file exits 1 and says so, naming it" bash -c "test $? -eq 1 && grep -q 'none.itch: cannot open' '$tmp/outnone'"
"$bin/nexus-replay" --quiet "$tmp" >"$tmp/outdir" 2>&1
check "a directory exits 1, naming it" bash -c "test $? -eq 1 && grep -q '$tmp: cannot read' '$tmp/outdir'"

# Every numeric option is range-checked: a usage error (exit 1) naming the
# option, never an uncaught exception, and no replay started.
for bad in "--orders -1" "--orders 99999999999" "--orders 18446744073709551616" "--orders abc" \
           "--orders 1e3" "--orders +5" "--orders 5x" "--levels -3" "--levels 2147483648" "--depth 0" "--depth -1" \
           "--top -1" "--top 99999999999999999999" "--depth" ; do
  # shellcheck disable=SC2086
  "$bin/nexus-replay" --quiet $bad "$tmp/day.itch" >"$tmp/outnum" 2>&1
  rc=$?
  opt=${bad%% *}
  check "'$bad' is a usage error naming $opt" bash -c "test $rc -eq 1 && grep -q -- '$opt' '$tmp/outnum' && ! grep -qi 'terminate\|exception\|replaying' '$tmp/outnum'"
done
"$bin/nexus-replay" --quiet --orders '' "$tmp/day.itch" >"$tmp/outnum" 2>&1
check "an empty number is a usage error" bash -c "test $? -eq 1 && grep -q -- '--orders: empty' '$tmp/outnum'"

# Output paths are checked before the work starts.
"$bin/nexus-replay" --quiet --snapshot /nonexistent/x.json "$tmp/day.itch" >"$tmp/outsnap" 2>&1
rc=$?
check "--snapshot to a missing directory exits 1 before replaying" bash -c "test $rc -eq 1 && grep -q '/nonexistent/x.json: cannot write' '$tmp/outsnap' && ! grep -q 'replaying\|wrote snapshot' '$tmp/outsnap'"
"$bin/nexus-replay" --quiet --bbo /nonexistent/x.csv "$tmp/day.itch" >"$tmp/outbbo" 2>&1
rc=$?
check "--bbo to a missing directory exits 1 before replaying" bash -c "test $rc -eq 1 && grep -q '/nonexistent/x.csv: cannot write' '$tmp/outbbo' && ! grep -q 'replaying' '$tmp/outbbo'"
cp "$tmp/day.itch" "$tmp/keep.itch"
"$bin/nexus-replay" --quiet --bbo "$tmp/keep.itch" "$tmp/keep.itch" >"$tmp/outself" 2>&1
rc=$?
check "an output that is the input is refused, the input untouched" bash -c "test $rc -eq 1 && grep -q 'is the input file' '$tmp/outself' && cmp -s '$tmp/day.itch' '$tmp/keep.itch'"
if [ -w /dev/full ]; then
  "$bin/nexus-replay" --quiet --bbo /dev/full "$tmp/day.itch" >"$tmp/outfull" 2>&1
  check "a write error on --bbo (a full disk) exits 1 naming the file" bash -c "test $? -eq 1 && grep -q '/dev/full: write error' '$tmp/outfull'"
  "$bin/nexus-replay" --quiet --snapshot /dev/full "$tmp/day.itch" >"$tmp/outfull2" 2>&1
  check "a write error on --snapshot exits 1 and does not claim the snapshot" bash -c "test $? -eq 1 && grep -q '/dev/full: write error' '$tmp/outfull2' && ! grep -q 'wrote snapshot' '$tmp/outfull2'"
fi

# Errors name the file they are about.
check "a truncated file's error starts with its name" grep -q "cut.itch: malformed input: message cut off" "$tmp/outcut"
check "a corrupt gzip's error starts with its name" grep -q "bad.gz: malformed input: corrupt gzip stream" "$tmp/outbad"

# Pipes, FIFOs and standard input are streamed, plain or gzip, and give the
# same summary counts as the file.
summary_counts() { grep -E "by type|anomalies|live orders|instruments" "$1"; }
summary_counts "$tmp/out" >"$tmp/want"
cat "$tmp/day.itch" | "$bin/nexus-replay" --quiet /dev/stdin >"$tmp/outpipe" 2>&1
check "a pipe through /dev/stdin replays the whole day" bash -c "test $? -eq 0 && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outpipe') '$tmp/want' >/dev/null"
cat "$tmp/day.itch" | "$bin/nexus-replay" --quiet - >"$tmp/outdash" 2>&1
check "'-' reads standard input" bash -c "test $? -eq 0 && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outdash') '$tmp/want' >/dev/null"
cat "$tmp/day.itch.gz" | "$bin/nexus-replay" --quiet - >"$tmp/outdashgz" 2>&1
check "gzip through a pipe is recognised and streamed" bash -c "test $? -eq 0 && grep -q '(gzip)' '$tmp/outdashgz' && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outdashgz') '$tmp/want' >/dev/null"
"$bin/nexus-replay" --quiet - <"$tmp/day.itch" >"$tmp/outredir" 2>&1
check "standard input redirected from a file" bash -c "test $? -eq 0 && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outredir') '$tmp/want' >/dev/null"
for kind in plain gzip; do
  src=$tmp/day.itch
  [ $kind = gzip ] && src=$tmp/day.itch.gz
  mkfifo "$tmp/fifo-$kind"
  cat "$src" >"$tmp/fifo-$kind" &
  "$bin/nexus-replay" --quiet "$tmp/fifo-$kind" >"$tmp/outfifo-$kind" 2>&1
  rc=$?
  wait
  check "a FIFO ($kind) replays the whole day, no false 'corrupt gzip'" bash -c "test $rc -eq 0 && ! grep -q corrupt '$tmp/outfifo-$kind' && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outfifo-$kind') '$tmp/want' >/dev/null"
done
head -c $((size - 7)) "$tmp/day.itch" | "$bin/nexus-replay" --quiet - >"$tmp/outcutpipe" 2>&1
check "a truncated pipe exits 2 with the byte offset" bash -c "test $? -eq 2 && grep -q 'standard input: malformed input: message cut off by the end of the data at byte offset' '$tmp/outcutpipe'"
head -c 100000 "$tmp/day.itch.gz" | "$bin/nexus-replay" --quiet - >"$tmp/outcutgz" 2>&1
check "a truncated gzip pipe exits 2: ends early" bash -c "test $? -eq 2 && grep -q 'gzip stream ends early' '$tmp/outcutgz'"

# --orders and --levels are hints: the books grow past them (and from 0)
# with the same result; there is no capacity to run out of.
for hint in "--orders 0 --levels 0" "--orders 1 --levels 1" "--orders 100000 --levels 100"; do
  # shellcheck disable=SC2086
  "$bin/nexus-replay" --quiet $hint "$tmp/day.itch" >"$tmp/outhint" 2>&1
  rc=$?
  check "'$hint' replays the whole day with the same result" bash -c "test $rc -eq 0 && diff <(grep -E 'by type|anomalies|live orders|instruments' '$tmp/outhint') '$tmp/want' >/dev/null"
done

# Ctrl-C: a large day interrupted prints what it has and exits 130.
"$bin/nexus-synth" --symbols 500 --messages 3000000 "$tmp/big.itch" >/dev/null
"$bin/nexus-replay" --quiet "$tmp/big.itch" >"$tmp/outint" 2>&1 &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 0 ]; then
  echo "note  the replay finished before the signal; interrupt case not exercised"
  check "interrupt (replay too fast to interrupt: summary printed)" grep -q "messages " "$tmp/outint"
else
  check "Ctrl-C exits 130" test $rc -eq 130
  check "Ctrl-C prints the summary so far" grep -q "messages " "$tmp/outint"
fi

# --threads N: the same outputs, byte for byte, as one thread — --bbo,
# --snapshot and every summary line but the timings — from a file, a gzip
# pipe and a FIFO, with a symbol filter, and on bad input (the same error at
# the same offset, the same exit status, the same summary of what was read).
# The summary without what depends on the run (timings, memory, log times)
# and without the info lines (the threaded one names its thread count).
stable() {
  grep -v -E '^  messages |^  peak memory|^  latency by type|^    [A-Za-z] +[0-9]+ samples|\] \[info\]|\] \[warning\]' "$1" |
    sed 's/^\[[0-9:.]*\] //'
}
same_summary() { diff <(stable "$1") <(stable "$2") >/dev/null; }
same_snapshot() { cmp -s <(grep -v '"file":' "$1") <(grep -v '"file":' "$2"); }
"$bin/nexus-synth" --symbols 300 --messages 300000 --seed 11 "$tmp/mt.itch" >/dev/null
gzip -n -c "$tmp/mt.itch" >"$tmp/mt.itch.gz"
"$bin/nexus-replay" --quiet --bbo "$tmp/mt1.csv" --snapshot "$tmp/mt1.json" --depth 4 "$tmp/mt.itch" >"$tmp/mt1.out" 2>&1
check "threads: the one-thread reference exits 0" test $? -eq 0
for n in 2 3 8; do
  "$bin/nexus-replay" --quiet --threads $n --bbo "$tmp/mt$n.csv" --snapshot "$tmp/mt$n.json" --depth 4 "$tmp/mt.itch" >"$tmp/mt$n.out" 2>&1
  rc=$?
  check "threads $n: exit 0, --bbo and --snapshot byte-identical to one thread" bash -c "test $rc -eq 0 && cmp -s '$tmp/mt1.csv' '$tmp/mt$n.csv' && cmp -s '$tmp/mt1.json' '$tmp/mt$n.json'"
  check "threads $n: the summary is the same but for the timings" same_summary "$tmp/mt1.out" "$tmp/mt$n.out"
done
check "threads: the reference BBO file is not trivial" test "$(wc -l <"$tmp/mt1.csv")" -gt 1000
cat "$tmp/mt.itch.gz" | "$bin/nexus-replay" --quiet --threads 2 --bbo "$tmp/mtgz.csv" --snapshot "$tmp/mtgz.json" --depth 4 - >"$tmp/mtgz.out" 2>&1
rc=$?
check "threads 2, gzip through a pipe (read on its own thread): the same outputs" bash -c "test $rc -eq 0 && cmp -s '$tmp/mt1.csv' '$tmp/mtgz.csv'"
check "threads 2, gzip through a pipe: the same snapshot (but the input's name)" same_snapshot "$tmp/mt1.json" "$tmp/mtgz.json"
mkfifo "$tmp/mtfifo"
cat "$tmp/mt.itch" >"$tmp/mtfifo" &
"$bin/nexus-replay" --quiet --threads 3 --bbo "$tmp/mtf.csv" "$tmp/mtfifo" >"$tmp/mtf.out" 2>&1
rc=$?
wait
check "threads 3, a FIFO: the same --bbo" bash -c "test $rc -eq 0 && cmp -s '$tmp/mt1.csv' '$tmp/mtf.csv'"
"$bin/nexus-replay" --quiet --symbols AAAA,AAAC,AAAK --bbo "$tmp/mts1.csv" "$tmp/mt.itch" >"$tmp/mts1.out" 2>&1
"$bin/nexus-replay" --quiet --threads 2 --symbols AAAA,AAAC,AAAK --bbo "$tmp/mts2.csv" "$tmp/mt.itch" >"$tmp/mts2.out" 2>&1
check "threads 2 with --symbols: the same --bbo and counts" bash -c "cmp -s '$tmp/mts1.csv' '$tmp/mts2.csv' && diff <(grep -E 'filtered|by type|live orders' '$tmp/mts1.out') <(grep -E 'filtered|by type|live orders' '$tmp/mts2.out') >/dev/null"
mtsize=$(stat -c %s "$tmp/mt.itch")
head -c $((mtsize - 9)) "$tmp/mt.itch" >"$tmp/mtcut.itch"
"$bin/nexus-replay" --quiet "$tmp/mtcut.itch" >"$tmp/mtcut1.out" 2>&1
rc1=$?
"$bin/nexus-replay" --quiet --threads 2 "$tmp/mtcut.itch" >"$tmp/mtcut2.out" 2>&1
rc2=$?
check "threads 2, a truncated file: exit 2" bash -c "test $rc1 -eq 2 && test $rc2 -eq 2"
check "threads 2, a truncated file: the same error and summary" same_summary "$tmp/mtcut1.out" "$tmp/mtcut2.out"
check "threads 2, a truncated file: the error names the offset" grep -q "mtcut.itch: malformed input: message cut off by the end of the data at byte offset" "$tmp/mtcut2.out"
# A format error in the middle (an order message with locate 0): every worker stops there.
python3 - "$tmp/mt.itch" "$tmp/mtbad.itch" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
p, n = 0, 0
while p < len(d):
    ln = struct.unpack('>H', d[p:p+2])[0]
    if n > 150000 and d[p+2:p+3] == b'D':
        break
    p += 2 + ln; n += 1
bad = bytearray(d)
bad[p+3:p+5] = b'\x00\x00'
open(sys.argv[2], 'wb').write(bad)
PY
"$bin/nexus-replay" --quiet --snapshot "$tmp/mtbad1.json" "$tmp/mtbad.itch" >"$tmp/mtbad1.out" 2>&1
rc1=$?
"$bin/nexus-replay" --quiet --threads 3 --snapshot "$tmp/mtbad3.json" "$tmp/mtbad.itch" >"$tmp/mtbad3.out" 2>&1
rc3=$?
check "threads 3, a format error mid-file: exit 2 naming it" bash -c "test $rc1 -eq 2 && test $rc3 -eq 2 && grep -q 'order message with locate 0' '$tmp/mtbad3.out'"
check "threads 3, a format error mid-file: the same summary and snapshot as one thread" bash -c "cmp -s '$tmp/mtbad1.json' '$tmp/mtbad3.json'"
check "threads 3, a format error mid-file: the same summary" same_summary "$tmp/mtbad1.out" "$tmp/mtbad3.out"
"$bin/nexus-replay" --quiet --threads 2 "$tmp/bad.gz" >"$tmp/outbad2" 2>&1
check "threads 2, a corrupt gzip: exit 2, corrupt gzip stream" bash -c "test $? -eq 2 && grep -q 'bad.gz: malformed input: corrupt gzip stream' '$tmp/outbad2'"
"$bin/nexus-replay" --threads 2 "$tmp/AAPL_message_1.csv" >"$tmp/outthl" 2>&1
check "--threads with a LOBSTER file is refused (exit 1)" bash -c "test $? -eq 1 && grep -q -- '--threads is an option of the ITCH replay' '$tmp/outthl'"
for bad in 0 257 -1 x; do
  "$bin/nexus-replay" --quiet --threads $bad "$tmp/day.itch" >"$tmp/outth" 2>&1
  check "--threads $bad is a usage error" bash -c "test $? -eq 1 && grep -q -- '--threads' '$tmp/outth'"
done

# Ctrl-C with threads: stops, prints what it has, exits 130.
"$bin/nexus-replay" --quiet --threads 2 "$tmp/big.itch" >"$tmp/outint2" 2>&1 &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 0 ]; then
  echo "note  the threaded replay finished before the signal; interrupt case not exercised"
else
  check "threads 2: Ctrl-C exits 130 with the summary so far" bash -c "test $rc -eq 130 && grep -q 'messages ' '$tmp/outint2'"
fi

# The real NASDAQ sample: framing and directory.
if [ -f "$shared/itch/directory_head_1000.itch" ]; then
  "$bin/nexus-replay" --quiet "$shared/itch/directory_head_1000.itch" >"$tmp/outreal" 2>&1
  check "real sample replays" test $? -eq 0
  check "real sample: 1000 messages, 993 directory entries" bash -c "grep -q 'messages          1000 ' '$tmp/outreal' && grep -q '993 in the directory' '$tmp/outreal'"
elif [ -n "${CI:-}" ]; then
  check "real ITCH sample present under CI" false
else
  echo "skip  real ITCH sample not found at $shared/itch (tests use ../shared/data when present)"
fi

# The real LOBSTER sample (999 rows of AAPL, 10 levels).
lob=$shared/lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv
if [ -f "$lob" ]; then
  "$bin/nexus-replay" "$lob" >"$tmp/outlob" 2>&1
  check "LOBSTER sample verifies with exit 0" test $? -eq 0
  check "LOBSTER sample: 999 rows, zero true mismatches" bash -c "grep -q 'rows checked      999 ' '$tmp/outlob' && grep -q 'true mismatches   0' '$tmp/outlob'"
  sed 's/^34200.00426064,1,16113584,18,/34200.00426064,1,16113584,19,/' "$lob" >"$tmp/AAPL_message_10.csv"
  "$bin/nexus-replay" --lobster-book "${lob/_message_/_orderbook_}" "$tmp/AAPL_message_10.csv" >"$tmp/outlob2" 2>&1
  check "a tampered LOBSTER file exits 3 naming the row" bash -c "test $? -eq 3 && grep -q 'row 2: bid 5853200: file 18, expected 19' '$tmp/outlob2'"
elif [ -n "${CI:-}" ]; then
  check "real LOBSTER sample present under CI" false
else
  echo "skip  real LOBSTER sample not found at $shared/lobster"
fi

# LOBSTER export: files named as LOBSTER names them, read back with zero true mismatches.
lo=$tmp/lobster
mkdir -p "$lo"
cp "$tmp/day.itch" "$tmp/day-2024-03-01.itch"
"$bin/nexus-replay" "$tmp/day-2024-03-01.itch" --lobster-out "$lo" --levels 5 --symbols AAAA,AAAB --from 10:00:00 --to 15:30:00 >"$tmp/outexp" 2>&1
check "LOBSTER export exits 0" test $? -eq 0
check "LOBSTER export names the files TICKER_DATE_START_END_KIND_N.csv" \
  test -s "$lo/AAAA_2024-03-01_36000000_55800000_message_5.csv" -a -s "$lo/AAAA_2024-03-01_36000000_55800000_orderbook_5.csv" \
    -a -s "$lo/AAAB_2024-03-01_36000000_55800000_message_5.csv" -a "$(ls "$lo" | wc -l)" -eq 4
shape() {  # shape MESSAGES ORDERBOOK COLUMNS: 6 columns, times with 9 decimals, 4N columns, as many rows
  awk -F, '{ if (NF != 6 || length($1) - index($1, ".") != 9) bad = 1 } END { exit bad }' "$1" &&
    awk -F, -v n="$3" '{ if (NF != n) bad = 1 } END { exit bad }' "$2" &&
    test "$(wc -l <"$1")" -eq "$(wc -l <"$2")"
}
check "LOBSTER export rows have 6 and 4N columns, times with 9 decimals" \
  shape "$lo/AAAA_2024-03-01_36000000_55800000_message_5.csv" "$lo/AAAA_2024-03-01_36000000_55800000_orderbook_5.csv" 20
"$bin/nexus-replay" "$lo/AAAA_2024-03-01_36000000_55800000_message_5.csv" >"$tmp/outrt" 2>&1
check "LOBSTER round trip: the export verifies with exit 0" bash -c "test $? -eq 0 && grep -q 'true mismatches   0' '$tmp/outrt'"
mkdir -p "$tmp/lonq"
cp "$tmp/day.itch" "$tmp/01302019.NASDAQ_ITCH50"
"$bin/nexus-replay" "$tmp/01302019.NASDAQ_ITCH50" --lobster-out "$tmp/lonq" --levels 2 --symbols AAAA --from 12:00:00 --to 12:30:00 >"$tmp/o" 2>&1
check "LOBSTER export takes the date from NASDAQ's file name" test -f "$tmp/lonq/AAAA_2019-01-30_43200000_45000000_message_2.csv"
mkdir -p "$tmp/logz"
"$bin/nexus-replay" "$tmp/day.itch.gz" --lobster-out "$tmp/logz" --levels 5 --symbols AAAA,AAAB --from 10:00:00 --to 15:30:00 \
  --date 2024-03-01 >"$tmp/outexpz" 2>&1
check "LOBSTER export from gzip writes the same files" bash -c "test $? -eq 0 && diff -r '$lo' '$tmp/logz'"
rm -f "$lo"/*
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 1 >"$tmp/outexp1" 2>&1
check "LOBSTER export of every symbol at 1 level, without a date in the name, warns" \
  bash -c "test $? -eq 0 && grep -q 'give --date' '$tmp/outexp1' && test \$(ls '$lo' | grep -c '_0000-00-00_34200000_57600000_message_1.csv') -ge 40"
ok=1
for f in "$lo"/*_message_1.csv; do
  "$bin/nexus-replay" "$f" >"$tmp/outrt1" 2>&1 || { ok=0; echo "      $f:"; cat "$tmp/outrt1"; }
done
check "LOBSTER round trip at 1 level: every symbol verifies" test $ok -eq 1

# LOBSTER export: what cannot be done is a failure with its own status.
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" >"$tmp/o" 2>&1
check "export without --levels exits 1" bash -c "test $? -eq 1 && grep -q -- 'needs --levels' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 0 >"$tmp/o" 2>&1
check "export with --levels 0 exits 1" bash -c "test $? -eq 1 && grep -q -- '--levels: 0 is outside 1..1000' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --from 25:00:00 >"$tmp/o" 2>&1
check "export with a bad --from exits 1" bash -c "test $? -eq 1 && grep -q -- '--from: not a time of day' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --from 12:00:00 --to 11:00:00 >"$tmp/o" 2>&1
check "export with --from after --to exits 1" test $? -eq 1
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --date 2024-13-01 >"$tmp/o" 2>&1
check "export with a bad --date exits 1" test $? -eq 1
"$bin/nexus-replay" "$tmp/none.itch" --lobster-out "$lo" --levels 5 >"$tmp/o" 2>&1
check "export of a missing ITCH file exits 1 naming it" bash -c "test $? -eq 1 && grep -q 'none.itch' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out /proc/nexus-no-such-dir --levels 5 >"$tmp/o" 2>&1
check "export into a directory that cannot be made exits 1 before reading" bash -c "test $? -eq 1 && grep -q 'cannot write into /proc/nexus-no-such-dir' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --symbols AAAA,ZZZZ >"$tmp/o" 2>&1
check "export of a symbol not in the directory exits 1 naming it" bash -c "test $? -eq 1 && grep -q 'ZZZZ: not in the stock directory' '$tmp/o'"
"$bin/nexus-replay" "$tmp/cut.itch" --lobster-out "$lo" --levels 5 --symbols AAAA --to 24:00:00 >"$tmp/o" 2>&1
check "export of a truncated ITCH file exits 2 with the offset" bash -c "test $? -eq 2 && grep -q 'at byte offset' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --orders 16 >"$tmp/o" 2>&1
check "export out of order capacity exits 4 naming --orders" bash -c "test $? -eq 4 && grep -q 'raise --orders' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --bbo x.csv >"$tmp/o" 2>&1
check "export with an option it does not take exits 1" test $? -eq 1

# LOBSTER verification: bad input names the file, line and column; exit 2.
lv=$tmp/lobver
mkdir -p "$lv"
printf '10100,400,9900,500\n' >"$lv/X_orderbook_1.csv"
bad_row() {  # bad_row NAME ROW EXPECTED-TEXT
  printf '%s\n' "$2" >"$lv/X_message_1.csv"
  "$bin/nexus-replay" "$lv/X_message_1.csv" >"$tmp/o" 2>&1
  check "LOBSTER $1 exits 2 naming line and column" bash -c "test $? -eq 2 && grep -qF -- '$lv/X_message_1.csv: line 1, column $3' '$tmp/o'"
}
bad_row "size 0" "34200.1,1,5,0,10100,-1" "4: size 0 is not positive"
bad_row "negative size" "34200.1,3,5,-400,10100,-1" "4: size -400 is not positive"
bad_row "direction 0" "34200.1,1,5,400,10100,0" "6: direction 0 is neither"
bad_row "type 9" "34200.1,9,5,400,10100,-1" "2: event type 9"
bad_row "nan time" "nan,1,5,400,10100,-1" "1: not a time"
bad_row "negative price" "34200.1,1,5,400,-10100,-1" "5: price -10100 out of range"
bad_row "absurd price" "34200.1,1,5,400,99999999999,-1" "5: price 99999999999 out of range"
bad_row "non-number" "34200.1,1,5,4x0,10100,-1" "4: not a number"
printf '34200.1,1,5,400,10100,-1\n' >"$lv/X_message_1.csv"
"$bin/nexus-replay" "$lv/X_message_1.csv" >"$tmp/o" 2>&1
check "a consistent one-row LOBSTER pair exits 0" test $? -eq 0
printf '34200.1,1,5,400,10100,-1\n34200.2,1,6,1,10100,-1\n' >"$lv/X_message_1.csv"
"$bin/nexus-replay" "$lv/X_message_1.csv" >"$tmp/o" 2>&1
check "an orderbook file shorter than its message file exits 2 naming it" bash -c "test $? -eq 2 && grep -q 'X_orderbook_1.csv: ends after 1 rows' '$tmp/o'"
"$bin/nexus-replay" "$lv/Y_message_1.csv" >"$tmp/o" 2>&1
check "a missing message file exits 1 naming the message file" bash -c "test $? -eq 1 && grep -q 'cannot open $lv/Y_message_1.csv' '$tmp/o'"
printf '34200.1,1,5,400,10100,-1\n' >"$lv/Z_message_1.csv"
"$bin/nexus-replay" "$lv/Z_message_1.csv" >"$tmp/o" 2>&1
check "a missing orderbook file exits 1 naming it" bash -c "test $? -eq 1 && grep -q 'cannot open $lv/Z_orderbook_1.csv' '$tmp/o'"
mkdir -p "$lv/D_message_1.csv"
"$bin/nexus-replay" "$lv/D_message_1.csv" >"$tmp/o" 2>&1
check "a message file that is a directory exits 1 naming it" \
  bash -c "test $? -eq 1 && grep -q 'cannot open $lv/D_message_1.csv: Is a directory' '$tmp/o'"
cp "$lv/Z_message_1.csv" "$lv/plain.csv"
"$bin/nexus-replay" "$lv/plain.csv" >"$tmp/o" 2>&1
check "a message file whose orderbook name cannot be derived exits 1" bash -c "test $? -eq 1 && grep -q 'give --lobster-book' '$tmp/o'"
# LOBSTER verification, as a careless user runs it.
printf '34200.1,1,5,400,10100,-1\n' >"$lv/msgs.txt"
"$bin/nexus-replay" --lobster-book "$lv/X_orderbook_1.csv" "$lv/msgs.txt" >"$tmp/o" 2>&1
check "--lobster-book makes FILE a LOBSTER message file, whatever its name" bash -c "test $? -eq 0 && grep -q 'true mismatches   0' '$tmp/o'"
"$bin/nexus-replay" --lobster-book "$lv/X_orderbook_1.csv" >"$tmp/o" 2>&1
check "--lobster-book without a message file exits 1 saying so" bash -c "test $? -eq 1 && grep -q 'needs the MESSAGE.csv FILE' '$tmp/o'"
"$bin/nexus-replay" --levels 5 "$lv/X_message_1.csv" >"$tmp/o" 2>&1
check "an ITCH replay option given to LOBSTER verification exits 1 naming it" \
  bash -c "test $? -eq 1 && grep -q -- '--levels is an option of the ITCH replay, not of LOBSTER verification' '$tmp/o'"
cp "$lv/msgs.txt" "$lv/U_message_1.CSV"
cp "$lv/X_orderbook_1.csv" "$lv/U_orderbook_1.CSV"
"$bin/nexus-replay" "$lv/U_message_1.CSV" >"$tmp/o" 2>&1
check "a message file named .CSV is verified" bash -c "test $? -eq 0 && grep -q 'true mismatches   0' '$tmp/o'"
gzip -c "$lv/msgs.txt" >"$lv/X_message_1.csv.gz"
"$bin/nexus-replay" "$lv/X_message_1.csv.gz" >"$tmp/o" 2>&1
check "a compressed LOBSTER file exits 1 asking to decompress it" bash -c "test $? -eq 1 && grep -q 'decompress it first' '$tmp/o'"
"$bin/nexus-replay" "$lv/X_message_1.csv" --lobster-out "$tmp/never-made" --levels 5 >"$tmp/o" 2>&1
check "an export from a LOBSTER file exits 1: it reads ITCH" bash -c "test $? -eq 1 && grep -q 'is a LOBSTER file' '$tmp/o'"
: >"$lv/E_message_1.csv"
: >"$lv/E_orderbook_1.csv"
"$bin/nexus-replay" "$lv/E_message_1.csv" >"$tmp/o" 2>&1
check "an empty LOBSTER pair exits 0 with a warning" bash -c "test $? -eq 0 && grep -q 'no rows to verify' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out --levels 5 >"$tmp/o" 2>&1
check "--lobster-out followed by an option exits 1: it needs a value" bash -c "test $? -eq 1 && grep -q -- '--lobster-out needs a value' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --date 2019-02-30 >"$tmp/o" 2>&1
check "export with a day not in its month exits 1" bash -c "test $? -eq 1 && grep -q -- '--date: not a date' '$tmp/o'"
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$lo" --levels 5 --date 2024-02-29 --symbols AAAA --to 09:31:00 >"$tmp/o" 2>&1
check "export on 29 February of a leap year exits 0" test $? -eq 0
"$bin/nexus-replay" "$lv" --lobster-out "$tmp/never-made" --levels 5 >"$tmp/o" 2>&1
check "export of a directory exits 1 naming it, before making the output directory" \
  bash -c "test $? -eq 1 && grep -q 'cannot open $lv: Is a directory' '$tmp/o' && test ! -e '$tmp/never-made'"
"$bin/nexus-replay" "$tmp/none.itch" --lobster-out "$tmp/never-made" --levels 5 >"$tmp/o" 2>&1
check "export of a missing ITCH file does not make the output directory" test ! -e "$tmp/never-made"

"$bin/nexus-replay" --help >"$tmp/help" 2>&1
check "--help documents the LOBSTER modes and their exit statuses" \
  bash -c "grep -q -- '--lobster-out DIR --levels N' '$tmp/help' && grep -q '3 true mismatches' '$tmp/help' && grep -q '4 the order or level pool is full' '$tmp/help'"


# Operator mistakes found by trying the replay from outside.
# A reservation larger than the machine's memory is refused up front (the
# OOM killer would otherwise be the one to say so), with the options named.
"$bin/nexus-replay" --quiet --orders 2147483647 --levels 2147483647 "$tmp/day.itch" >"$tmp/o" 2>&1
check "--orders/--levels beyond the machine's memory exit 1 naming both" \
  bash -c "test $? -eq 1 && grep -q -- '--orders 2147483647 and --levels 2147483647 reserve' '$tmp/o'"
"$bin/nexus-replay" --quiet --threads 2 --orders 2147483647 "$tmp/day.itch" >"$tmp/o" 2>&1
check "the same with --threads 2" bash -c "test $? -eq 1 && grep -q 'more than this machine' '$tmp/o'"
# One file for two outputs, and the input given as '-' named as an output.
"$bin/nexus-replay" --quiet --bbo "$tmp/both.out" --snapshot "$tmp/both.out" "$tmp/day.itch" >"$tmp/o" 2>&1
check "--bbo and --snapshot to one file exit 1 before any work" \
  bash -c "test $? -eq 1 && grep -q 'is the same file as the other output' '$tmp/o' && ! grep -q 'replaying' '$tmp/o'"
cp "$tmp/day.itch" "$tmp/stdin.itch"
"$bin/nexus-replay" --quiet --snapshot "$tmp/stdin.itch" - <"$tmp/stdin.itch" >"$tmp/o" 2>&1
check "'-' as input with the same file as --snapshot: refused, the input intact" \
  bash -c "test $? -eq 1 && grep -q 'is the input file' '$tmp/o' && cmp -s '$tmp/day.itch' '$tmp/stdin.itch'"
# A repeated --symbols adds to the list.
"$bin/nexus-replay" --quiet --symbols AAAA --symbols AAAB --snapshot "$tmp/s2.json" "$tmp/day.itch" >/dev/null 2>&1
"$bin/nexus-replay" --quiet --symbols AAAA,AAAB --snapshot "$tmp/s1.json" "$tmp/day.itch" >/dev/null 2>&1
check "--symbols A --symbols B is --symbols A,B" cmp -s "$tmp/s1.json" "$tmp/s2.json"

# Ctrl-C while the input's writer has stalled: the replay stops at once (not
# when the writer goes on), with every message it had read in its summary.
# The writer sends a third of a day, then holds the pipe open.
stalled() {  # stalled NAME FILE-TO-SEND REPLAY-ARGS...
  local name=$1 src=$2
  shift 2
  rm -f "$tmp/stall"
  mkfifo "$tmp/stall"
  (head -c $(($(stat -c %s "$src") / 3)) "$src"; sleep 30) >"$tmp/stall" &
  local writer=$!
  "$bin/nexus-replay" "$@" "$tmp/stall" >"$tmp/ostall" 2>&1 &
  local pid=$!
  sleep 1.5
  kill -INT $pid
  local waited=0
  while kill -0 $pid 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  kill -0 $pid 2>/dev/null && kill -9 $pid
  wait $pid
  local rc=$?
  kill $writer 2>/dev/null
  wait $writer 2>/dev/null
  check "$name: Ctrl-C with a stalled writer stops (exit 130, within 10 s of the writer's 30)" test $rc -eq 130
  check "$name: the summary covers what was read" bash -c "grep -qE '^  messages +[1-9]' '$tmp/ostall' || grep -qE 'messages +[1-9][0-9]* read' '$tmp/ostall'"
}
stalled "plain FIFO, 2 threads" "$tmp/big.itch" --quiet --threads 2
gzip -1 -n -c "$tmp/big.itch" >"$tmp/big.itch.gz"
stalled "gzip FIFO, 1 thread" "$tmp/big.itch.gz" --quiet
stalled "LOBSTER export from a FIFO" "$tmp/big.itch" --quiet --lobster-out "$tmp/lostall" --levels 2 --symbols AAAA

# The export reads standard input as '-', as the replay does.
"$bin/nexus-replay" "$tmp/day.itch" --lobster-out "$tmp/lofile" --levels 5 --symbols AAAA,AAAB --date 2024-03-01 >/dev/null 2>&1
"$bin/nexus-replay" - --lobster-out "$tmp/lostdin" --levels 5 --symbols AAAA,AAAB --date 2024-03-01 <"$tmp/day.itch" >"$tmp/o" 2>&1
check "export from '-' exits 0 and writes the files the file gives" \
  bash -c "test $? -eq 0 && test -n \"\$(ls '$tmp/lostdin')\" && diff -r '$tmp/lofile' '$tmp/lostdin' >/dev/null"

echo "replay_test: $fails failed"
exit $((fails > 0))

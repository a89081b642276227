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
elif [ "$kind" = slab ]; then
  # Operation sequences for each flavour (first byte mod 3): direct bounded,
  # direct unbounded, per-thread bounded and unbounded. Any bytes are valid.
  python3 - "$seeds" <<'PY'
import random, sys
d = sys.argv[1]
rng = random.Random(15)
for flavour in range(4):
    for n in (64, 512, 4000):
        first = flavour if flavour < 3 else 5
        open(f"{d}/f{flavour}-{n}", "wb").write(bytes([first] + [rng.randrange(256) for _ in range(n)]))
PY
elif [ "$kind" = protocol ]; then
  # Client streams: logins, orders that rest, trade, cancel, replace; and a few bad ones.
  python3 - "$seeds" <<'PY'
import struct, sys
d = sys.argv[1]
def pk(t, p=b''): return struct.pack('>H', 1 + len(p)) + t + p
def login(u, pw): return pk(b'L', u.ljust(6).encode() + pw.ljust(10).encode() + b' ' * 10 + b'0'.rjust(20))
def enter(tok, side, qty, sym, price, tif=b'D', typ=b'L', post=b'N', stp=b'N'):
    return pk(b'U', b'O' + struct.pack('>Q', tok) + side + struct.pack('>I', qty) + sym.ljust(8).encode() + struct.pack('>I', price) + tif + typ + post + stp)
def replace(tok, new, qty, price): return pk(b'U', b'U' + struct.pack('>QQII', tok, new, qty, price))
def cancel(tok, qty): return pk(b'U', b'X' + struct.pack('>QI', tok, qty))
a = login('alice', 'pw1') + enter(1, b'B', 100, 'AAPL', 1000000) + enter(2, b'S', 50, 'AAPL', 1010000) + replace(1, 3, 80, 1005000)
b = login('bob', 'pw2') + enter(1, b'S', 120, 'AAPL', 990000, stp=b'O') + enter(2, b'B', 10, 'TINY', 10000, tif=b'F') + cancel(1, 5) + cancel(1, 0)
c = a + login('bob', 'pw2') + enter(9, b'B', 500, 'AAPL', 0, tif=b'I', typ=b'M') + pk(b'R') + pk(b'O')
open(d + '/alice', 'wb').write(a)
open(d + '/bob', 'wb').write(b)
open(d + '/both', 'wb').write(c)
open(d + '/bad', 'wb').write(login('alice', 'pw1') + pk(b'U', b'Q12') + b'\xff\xff')
PY
else
  dir=$shared/lobster/AAPL_2012-06-21_34200000_57600000_
  if [ -f "${dir}message_10.csv" ]; then
    { head -n 30 "${dir}message_10.csv"; printf '\0'; head -n 30 "${dir}orderbook_10.csv" | cut -d, -f1-4; } >"$seeds/aapl"
    { head -n 60 "${dir}message_10.csv"; printf '\0'; head -n 60 "${dir}orderbook_10.csv" | cut -d, -f1-8; } >"$seeds/aapl2"
  fi
  # Small pairs that exercise the model: unseen liquidity, a level entering
  # from beyond, a halt, a hidden execution, a cross, and a bad row.
  printf '34200.1,1,5,18,5853300,1\n34200.2,3,5,18,5853300,1\n\0005859400,200,5853300,18\n5859400,200,-9999999999,0\n' >"$seeds/small"
  printf '36000.0,1,1,100,1010,-1\n36000.1,1,2,30,1005,-1\n36000.2,3,2,30,1005,-1\n36000.3,7,0,0,-1,-1\n36000.4,5,0,9,1000,1\n36000.5,6,-1,50,1000,-1\n\0001010,100,990,5,1020,50,980,5\n1005,30,990,5,1010,100,980,5\n1010,100,990,5,1020,70,980,5\n1010,100,990,5,1020,70,980,5\n1010,100,990,5,1020,70,980,5\n1010,100,990,5,1020,70,980,5\n' >"$seeds/model"
  printf 'Time,Type,OrderID,Size,Price,Direction\r\n36000.0,1,1,100,1010,-1\r\n\000a,b,c,d\r\n1010,90,990,5\r\n' >"$seeds/header"
fi
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/$kind-" "$corpus" "$seeds"

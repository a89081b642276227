#!/usr/bin/env python3
"""Turns the raw benchmark output (bench/results/raw) into BENCHMARKS.md and
PNG plots. Standard library only; plots are drawn by gnuplot.

    report.py RAW_DIR OUT_DIR
"""
import glob
import math
import json
import os
import statistics
import shutil
import subprocess
import sys
from collections import defaultdict

RAW, OUT = sys.argv[1], sys.argv[2]
PLOTS = os.path.join(OUT, "bench", "results")
SIZES = [64, 256, 1024, 4096]
SCENARIOS = [
    ("hot", "Hot cache, steady state", "allocate, write, read, free in a loop; batches of 100; heap fragmented around it"),
    ("tail", "Tail over a million alloc+free pairs", "64 values live, each pair allocates one and frees the oldest; batches of 100"),
    ("churn", "Churn at 50% fill", "random free-or-fill over a table of n places kept half full; batches of 100; 10 million operations (boost::object_pool: 20,000, its free is O(n))"),
    ("burst", "Burst", "5,000 allocations then 5,000 frees; batches of 100; per operation"),
    ("cold", "Cold cache, single operation", "one allocate-write-read-free after walking an eviction buffer; one timed pair per sample, read overhead subtracted"),
    ("cold_burst", "Cold cache, burst of ten", "after eviction, ten allocations then ten frees; per allocate+free"),
    ("flood", "First allocation after a flood", "64 blocks of 64 KiB-1 MiB allocated, touched and freed through malloc, then one allocation timed"),
]
NEXUS = "nexus per-thread (Slot)"
FLOOR = "floor (hand-written free list)"
GP = ["glibc new/delete", "jemalloc new/delete", "tcmalloc new/delete", "mimalloc new/delete"]
ORDER = [FLOOR, "floor + len counter + vacancy word", NEXUS, "nexus direct (Handle)", "glibc new/delete",
         "jemalloc new/delete", "tcmalloc new/delete", "mimalloc new/delete",
         "std::pmr::unsynchronized_pool_resource", "boost::object_pool", "foonathan::memory_pool", "plf::colony"]


def read_tsv(path):
    rows, curves, info = [], [], []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "R":
                rows.append(dict(group=p[1], scenario=p[2], size=int(p[3]), impl=p[4], round=int(p[5]), n=int(p[6]),
                                 p50=float(p[7]), p90=float(p[8]), p99=float(p[9]), p999=float(p[10]), max=float(p[11])))
            elif p[0] == "Q":
                curves.append((p[1], p[2], int(p[3]), p[4], float(p[5]), float(p[6])))
            elif p[0] == "I":
                info.append(p[1:])
    return rows, curves, info


def fmt(x):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


# ---- load ---------------------------------------------------------------
machine = {}
with open(os.path.join(RAW, "machine.tsv")) as f:
    for line in f:
        k, v = line.rstrip("\n").split("\t", 1)
        machine[k] = v

# process label -> pass -> (rows, curves, info)
procs = defaultdict(dict)
for path in sorted(glob.glob(os.path.join(RAW, "alloc-*-*.tsv"))):
    base = os.path.basename(path)[len("alloc-"):-len(".tsv")]
    label, pas = base.rsplit("-", 1)
    procs[label][int(pas)] = read_tsv(path)

ops_rows, _, ops_info = read_tsv(os.path.join(RAW, "ops.tsv"))
tsc_info = {k: v for k, v, *_ in (i + [""] for i in procs["glibc"][1][2]) if k in ("tsc_overhead", "tsc_ghz", "stop_instruction", "evict_mib", "rounds")}

# Pooled (round 0) results: metrics[(proc, scenario, size, impl)] = list over passes of row dicts
pooled = defaultdict(list)
curves = {}
overhead = defaultdict(dict)
for proc, passes in procs.items():
    for pas, (rows, cur, info) in sorted(passes.items()):
        for r in rows:
            if r["round"] == 0:
                pooled[(proc, r["scenario"], r["size"], r["impl"])].append(r)
        if pas == 1:
            for g, sc, size, impl, q, v in cur:
                curves.setdefault((proc, sc, size, impl), []).append((q, v))
        for i in info:
            if i[0] == "overhead":
                overhead[int(i[1])][i[2]] = float(i[3])


def metric(proc, sc, size, impl, key):
    rs = pooled.get((proc, sc, size, impl))
    return statistics.median(r[key] for r in rs) if rs else None


def proc_of(impl):
    for name in ("jemalloc", "tcmalloc", "mimalloc"):
        if impl.startswith(name):
            return name
    return "glibc"


def vs_nexus(sc, size, impl, key):
    """impl's figure divided by nexus's, both from the same process, median over passes."""
    proc = proc_of(impl)
    a = pooled.get((proc, sc, size, impl))
    b = pooled.get((proc, sc, size, NEXUS))
    if not a or not b:
        return None
    return statistics.median(x[key] / y[key] for x, y in zip(a, b) if y[key] > 0)


def impls_in(sc, size):
    seen = {impl for (proc, s, z, impl) in pooled if s == sc and z == size and (proc == "glibc" or impl.endswith("new/delete"))}
    return [i for i in ORDER if i in seen]


# ---- plots ----------------------------------------------------------------
def plot(sc, title):
    os.makedirs(PLOTS, exist_ok=True)
    dat = os.path.join(PLOTS, f"{sc}.dat")
    blocks = []
    with open(dat, "w") as f:
        for size in (64, 4096):
            for impl in impls_in(sc, size):
                pts = curves.get((proc_of(impl), sc, size, impl))
                if not pts:
                    continue
                f.write(f"# {size} {impl}\n")
                for q, v in pts:
                    f.write(f"{-math.log10(1 - q) if q < 1 else 5:.4f}\t{max(v, 0.1):.3f}\n")
                f.write("\n\n")
                blocks.append((size, impl))
    png = os.path.join(PLOTS, f"{sc}.png")
    script = [
        "set terminal pngcairo size 1400,560 font 'DejaVu Sans,11'" if has_cairo() else "set terminal png size 1400,560",
        f"set output '{png}'",
        "set multiplot layout 1,2 title '" + title.replace("'", "") + " — TSC ticks per operation by percentile (first pass)'",
        "set termoption noenhanced", "set logscale y", "set grid", "set key top left font ',9'",
        "set xtics ('p50' 0.301, 'p90' 1, 'p99' 2, 'p99.9' 3, 'p99.99' 4)",
        "set xlabel 'percentile'", "set ylabel 'ticks / operation'",
    ]
    for size in (64, 4096):
        idx = [(i, impl) for i, (z, impl) in enumerate(blocks) if z == size]
        if not idx:
            continue
        script.append(f"set title '{size} B'")
        parts = [f"'{dat}' index {i} using 1:2 with linespoints title '{impl}'" for i, impl in idx]
        script.append("plot " + ", ".join(parts))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    os.remove(dat)
    return f"bench/results/{sc}.png"


_cairo = None


def has_cairo():
    global _cairo
    if _cairo is None:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        _cairo = "pngcairo" in (r.stdout + r.stderr)
    return _cairo


# ---- markdown ---------------------------------------------------------------
md = []
w = md.append

# The summary at the top: one row per target, filled in by the sections.
summary = []


def slug(heading):
    """GitHub's anchor for a heading."""
    keep = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return "#" + keep.replace(" ", "-")


def target(area, goal, measured, comparison, met, section):
    summary.append((area, goal, measured, comparison, met, section))


def analysis(name):
    """The hand-written 'why' of a section (bench/analysis/NAME.md), after its tables."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis", name + ".md")
    if os.path.exists(path):
        with open(path) as f:
            md.append(f.read().rstrip("\n"))
        w("")
w("# nexus benchmarks")
w("")
w("Generated by `bench/run.sh` (this file is rewritten by it; do not edit by hand).")
w(f"Command: `{machine.get('command')}` on {machine.get('date')}. A section can be refreshed on its own by the step of `bench/run.sh` that feeds it (each section names its program; `bench/engine.sh` for the engine) followed by `python3 bench/report.py bench/results/raw .`; the raw files in `bench/results/raw/` are what this file was made from.")
w("")
summary_at = len(md)
w("## Machine and method")
w("")
w(f"- CPU: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory')} (a shared virtual machine); kernel {machine.get('kernel')}; {machine.get('compiler')}, `-O3`-class Release build (`-O3 -DNDEBUG`).")
w(f"- TSC: {float(tsc_info.get('tsc_ghz', 0)):.3f} GHz (measured against CLOCK_MONOTONIC). One start/stop read pair costs {float(tsc_info.get('tsc_overhead', 0)):.0f} ticks here (median, calibrated at start and subtracted from every sample). All figures are **TSC ticks**, not core cycles: no core-cycle counter is available in this VM, and the core may run faster than the TSC.")
w(f"- Reads: `lfence; rdtsc` before, `{tsc_info.get('stop_instruction')}` after. rdtscp is probed at start-up (the hypervisor hides its CPUID bit but it executes).")
w("- A single slab operation is shorter than one TSC read, and reads come in steps of about 21 ticks, so hot-path operations are timed in **batches of 100** and each sample is the batch's ticks (less the read overhead) divided by 100 — percentiles are over batches, not single operations. Cold and first-allocation scenarios time one operation per sample; there the read overhead is subtracted but the ~21-tick step remains.")
w(f"- Rounds are interleaved: every allocator runs a slice of every scenario in turn, {tsc_info.get('rounds')} rounds per process, so a change of host speed hits all of them alike. jemalloc, tcmalloc and mimalloc are preloaded into processes of their own that also run the floor and nexus; every ratio below (“÷ nexus”) divides two figures **from the same process**, then takes the median over passes.")
w(f"- The heap is fragmented before timing: 200,000 blocks of 16-2048 B, three quarters kept. Cold scenarios walk a {tsc_info.get('evict_mib')} MiB buffer before each sample. The VM reports a last-level cache of {int(machine.get('llc_reported', '0') or 0) >> 20} MiB, which is the whole host socket; one core's L3 on this CPU family (AMD Zen 5) is 32 MiB, and the buffer is {int(tsc_info.get('evict_mib', 0)) / 32:g}× that.")
w("- Values are `Obj<S>`, S bytes whose constructor writes one word; every allocator builds them the same way (placement new), so the comparison is of allocation alone. Each pool is sized and warmed before timing.")
w("")

# per-op table
w("## Per-operation cost (the reference crate's table, re-measured)")
w("")
w("64-byte values, 4,096 live; random access order for GET/GET_MUT/REPLACE/CONTAINS (half the CONTAINS probes are vacant keys); INSERT stores the new handle into a preallocated array (no vector growth). TSC ticks per operation, p50 (p99).")
w("")
op_impls = [FLOOR, NEXUS, "nexus direct (Handle)", "nexus direct (Key)"]
w("| operation | " + " | ".join(op_impls) + " |")
w("|---|" + "---|" * len(op_impls))
opm = {(r["scenario"], r["impl"]): r for r in ops_rows if r["round"] == 0}
for op in ["GET", "GET hot", "GET_MUT", "INSERT", "REMOVE", "REPLACE", "CONTAINS", "LIFECYCLE"]:
    cells = []
    for impl in op_impls:
        r = opm.get((op, impl))
        cells.append(f"{fmt(r['p50'])} ({fmt(r['p99'])})" if r else "—")
    w(f"| {op} | " + " | ".join(cells) + " |")
w("")
ins_t, ins_d = opm.get(("INSERT", NEXUS)), opm.get(("INSERT", "nexus direct (Handle)"))
get_t = opm.get(("GET", NEXUS))
life_t, life_f = opm.get(("LIFECYCLE", NEXUS)), opm.get(("LIFECYCLE", FLOOR))
if ins_t and ins_d and get_t and life_t and life_f:
    w(f"Targets: INSERT through the thread-local API within 1 tick of the direct API — thread-local minus direct is **{ins_t['p50'] - ins_d['p50']:+.2f} ticks** at p50; GET at most 2 — **{fmt(get_t['p50'])}**; lifecycle within 1.5× of the floor — **{ratio(life_t['p50'], life_f['p50']):.2f}×** at p50, **{ratio(life_t['p99'], life_f['p99']):.2f}×** at p99 (why: the analysis after the memory table).")
    w("")

# headline lifecycle
w("## Allocators side by side")
w("")
w("Each table: p50 / p99 TSC ticks per operation, and “÷ nexus” = that allocator's p50 divided by nexus's p50 in the same process (above 1: nexus is faster). Plots show the whole distribution for 64 B and 4096 B.")
w("")
plots = {}
for sc, title, how in SCENARIOS:
    sizes = [z for z in SIZES if impls_in(sc, z)]
    if not sizes:
        continue
    w(f"### {title}")
    w("")
    w(how + ".")
    w("")
    w("| allocator | " + " | ".join(f"{z} B p50 / p99 | ÷ nexus" for z in sizes) + " |")
    w("|---|" + "---|---|" * len(sizes))
    all_impls = [i for i in ORDER if any(i in impls_in(sc, z) for z in sizes)]
    for impl in all_impls:
        cells = []
        for z in sizes:
            proc = proc_of(impl)
            p50, p99 = metric(proc, sc, z, impl, "p50"), metric(proc, sc, z, impl, "p99")
            r = vs_nexus(sc, z, impl, "p50")
            cells.append(f"{fmt(p50)} / {fmt(p99)} | {fmt(r) + '×' if r is not None and impl != NEXUS else ''}")
        w(f"| {impl} | " + " | ".join(cells) + " |")
    w("")
    try:
        img = plot(sc, title)
        w(f"![{title}]({img})")
        w("")
    except (OSError, subprocess.CalledProcessError) as e:
        w(f"(plot not drawn: {e})")
        w("")

# verdict
w("## Against the 2× goal")
w("")
w("Goal: nexus at least 2× ahead of the best general-purpose allocator and of foonathan's `memory_pool`, at p50 and at p99, in every scenario and size. Each cell is competitor ÷ nexus from the same process (p50 / p99); ✓ where both are ≥ 2.")
w("")
w("| scenario | size | best general-purpose | that ÷ nexus | foonathan ÷ nexus | met |")
w("|---|---|---|---|---|---|")
missed = []
for sc, title, _ in SCENARIOS:
    for z in SIZES:
        if NEXUS not in impls_in(sc, z):
            continue
        best, best_r = None, None
        for g in GP:
            r = vs_nexus(sc, z, g, "p50")
            if r is not None and (best_r is None or r < best_r):
                best, best_r = g, r
        if best is None:
            continue
        b99 = vs_nexus(sc, z, best, "p99")
        f50, f99 = vs_nexus(sc, z, "foonathan::memory_pool", "p50"), vs_nexus(sc, z, "foonathan::memory_pool", "p99")
        ok = all(x is not None and x >= 2 for x in (best_r, b99, f50, f99))
        if not ok:
            missed.append((sc, z))
        w(f"| {title} | {z} B | {best.replace(' new/delete', '')} | {fmt(best_r)}× / {fmt(b99)}× | {fmt(f50)}× / {fmt(f99)}× | {'✓' if ok else '✗'} |")
w("")
cells = sum(1 for sc, _, _ in SCENARIOS for z in SIZES if NEXUS in impls_in(sc, z))
w(f"Met in {cells - len(missed)} of {cells} scenario/size cells. Where it is not met, the reasons are below the memory table.")
w("")
for group, scs in (("cache-resident (hot, tail)", ("hot", "tail")), ("cache-missing (churn, burst, cold, flood)", ("churn", "burst", "cold", "cold_burst", "flood"))):
    n = sum(1 for sc in scs for z in SIZES if NEXUS in impls_in(sc, z))
    bad = sum(1 for sc, z in missed if sc in scs)
    p50s = [x for x in (vs_nexus(sc, z, g, "p50") for sc in scs for z in SIZES for g in GP) if x is not None]
    target("slab", f"{group}: ≥ 2× the best of glibc, jemalloc, tcmalloc, mimalloc and foonathan's pool, p50 and p99, 64 B-4 KiB",
           f"{n - bad} of {n} scenario/size cells", f"general-purpose allocators {min(p50s):.1f}×-{max(p50s):.0f}× nexus's p50" if p50s else "—",
           bad == 0, "Against the 2× goal")

# memory
w("## Memory per live value")
w("")
w("Heap bytes per live value beyond the value itself, with 32 MiB of values live: growth of glibc's in-use counters (`mallinfo2`) while the allocator is built and filled, divided by the count, less the value size — headers, padding, size-class rounding and bookkeeping all count. For preloaded allocators, `malloc_usable_size` − size (their own metadata is not visible). nexus's figure is its cell header: a 4-byte key and a 4-byte vacancy word (`kOverheadPerValue<T>` = 8 for these sizes).")
w("")
labels = [i for i in ORDER if any(i in overhead[z] for z in overhead)]
w("| allocator | " + " | ".join(f"{z} B" for z in SIZES) + " |")
w("|---|" + "---|" * len(SIZES))
for impl in labels:
    w(f"| {impl} | " + " | ".join(fmt(overhead[z].get(impl)) if impl in overhead[z] else "—" for z in SIZES) + " |")
w("")

# gbench
w("## Google Benchmark")
w("")
w("The same allocators through Google Benchmark (`build/bench/bench/nexus-gbench`), single process, glibc malloc. `Lifecycle`: allocate, write, read, free. `RingPairs`: 64 live, allocate one and free the oldest. Wall-clock ns per operation and operations per second. (Debian's libbenchmark reports that it was built in debug mode; that affects its own bookkeeping outside the timed loop.)")
w("")
try:
    with open(os.path.join(RAW, "gbench.json")) as f:
        gb = json.load(f)
    w("| benchmark | ns / op | operations / s |")
    w("|---|---|---|")
    for b in gb.get("benchmarks", []):
        ips = b.get("items_per_second")
        w(f"| {b['name']} | {b['real_time']:.2f} | {ips / 1e6:.1f} M |" if ips else f"| {b['name']} | {b['real_time']:.2f} | — |")
    w("")
except (OSError, ValueError) as e:
    w(f"(no Google Benchmark output: {e})")
    w("")
analysis("slab")

# order book
book_path = os.path.join(RAW, "book.tsv")
if os.path.exists(book_path):
    brows, _, binfo = read_tsv(book_path)
    bi = {i[0]: i[1] for i in binfo if len(i) == 2}
    ghz = float(bi.get("tsc_ghz", tsc_info.get("tsc_ghz", 1)) or 1)
    # Per (scenario, impl): the median over rounds of each per-round
    # percentile, so one round hit by host noise does not set the tail.
    by_round = defaultdict(list)
    for r in brows:
        if r["round"] > 0:
            by_round[(r["scenario"], r["impl"])].append(r)
    bm = {}
    for r in brows:
        if r["round"] == 0:
            key = (r["scenario"], r["impl"])
            rs = by_round.get(key)
            bm[key] = {k: statistics.median(x[k] for x in rs) for k in ("p50", "p90", "p99", "p999", "max")} if rs else r
            bm[key]["impl"] = r["impl"]
    FAST, PLAIN = "nexus Book", "PlainBook (std::map + std::list + unordered_map)"
    w("## Order book")
    w("")
    w("`nexus-bench-book`: the slab-based `Book` against `PlainBook`, the same book written the ordinary way (std::map of levels, std::list FIFOs, std::unordered_map index, new/delete per node), same process, interleaved rounds; each round starts with the next book (alternating pairs for the single operations), because on this host whichever runs first in a round runs faster.")
    w("")
    w("### Per operation")
    w("")
    w("Each percentile is the median of its value in each of the interleaved rounds (a round disturbed by the shared host does not set the tail on its own). Resting population: 20 levels a side, 10 orders each. add / cancel / execute / replace: batches of 100 market-data operations near the touch (ticks per operation); sweeps: one IOC order that takes exactly 1 or 10 levels of 10 orders, timed alone (ticks per order). TSC ticks, p50 / p99 / p99.9.")
    w("")
    w("| operation | nexus Book | PlainBook | PlainBook ÷ nexus (p50) |")
    w("|---|---|---|---|")
    for op in ["add", "cancel", "execute", "replace", "sweep 1 level", "sweep 10 levels"]:
        f, p = bm.get((op, FAST)), bm.get((op, PLAIN))
        if not f or not p:
            continue
        w(f"| {op} | {fmt(f['p50'])} / {fmt(f['p99'])} / {fmt(f['p999'])} | {fmt(p['p50'])} / {fmt(p['p99'])} / {fmt(p['p999'])} | {fmt(ratio(p['p50'], f['p50']))}× |")
    w("")
    mix = [(i[1], int(i[2])) for i in binfo if i[0] == "mix"]
    total = sum(n for _, n in mix) or 1
    w("### Mixed workload")
    w("")
    w(f"{int(bi.get('flow_ops', 0)):,} operations recorded once from the random order-flow generator used by the differential test (prices within ±40 ticks of a mid, at most ~3,000 live orders, about 2% invalid requests) and replayed through each book: " + ", ".join(f"{name} {100 * n / total:.1f}%" for name, n in mix) + ".")
    w("")
    w("Throughput: the whole replay timed with `steady_clock`, no per-operation timing inside (median of rounds). Latency: each operation timed alone (`lfence`-serialised, which by itself adds a pipeline restart to every operation), read overhead subtracted, converted to ns at the TSC rate; median over rounds of each round's percentile. The p99.9 column is dominated by the shared host: in a same-process check, 200 to 7,000 of 2 million operations took over 5 µs in one round or another, for either book, with no page fault.")
    w("")
    w("| book | ns / op (throughput) | operations / s | latency p50 / p99 / p99.9 (ns) | throughput ÷ PlainBook |")
    w("|---|---|---|---|---|")
    plain_ns = bm.get(("mixed ns/op", PLAIN))
    for r in [x for x in brows if x["scenario"] == "mixed ns/op" and x["round"] == 0]:
        l = bm.get(("mixed per-op ticks", r["impl"]))
        ns = r["p50"]
        lat = f"{l['p50'] / ghz:.0f} / {l['p99'] / ghz:.0f} / {l['p999'] / ghz:.0f}" if l else "—"
        sp = ratio(plain_ns["p50"], ns) if plain_ns else None
        w(f"| {r['impl']} | {ns:.1f} | {1e3 / ns:.1f} M | {lat} | {fmt(sp)}× |")
    w("")
    fast_ns = bm.get(("mixed ns/op", "nexus Book (open addressing index)"))
    fast_lat = bm.get(("mixed per-op ticks", "nexus Book (open addressing index)"))
    if fast_ns and fast_lat and plain_ns:
        w(f"Targets: average at most 50 ns per operation — **{fast_ns['p50']:.1f} ns**; p99 at most 250 ns — **{fast_lat['p99'] / ghz:.0f} ns**; at least 5× the ordinary book's throughput — **{plain_ns['p50'] / fast_ns['p50']:.1f}×**.")
        w("")
        sp = plain_ns["p50"] / fast_ns["p50"]
        target("order book", "mixed flow ≤ 50 ns / operation, p99 ≤ 250 ns", f"{fast_ns['p50']:.1f} ns, p99 {fast_lat['p99'] / ghz:.0f} ns",
               f"PlainBook (std::map + std::list) {plain_ns['p50']:.1f} ns", fast_ns["p50"] <= 50 and fast_lat["p99"] / ghz <= 250, "Mixed workload")
        target("order book", "≥ 5× PlainBook's throughput", f"{sp:.1f}×", "PlainBook, same process", sp >= 5, "Mixed workload")

# price-level structures
levels_path = os.path.join(RAW, "levels.tsv")
if os.path.exists(levels_path):
    lrows, _, linfo = read_tsv(levels_path)
    li = {i[0]: i[1] for i in linfo if len(i) == 2}
    lghz = float(li.get("tsc_ghz", 1) or 1)
    wall = {r["impl"]: r for r in lrows if r["scenario"] == "ns per op (wall)"}
    batches = {r["impl"]: r for r in lrows if r["scenario"].startswith("ticks per op")}
    ops = int(li.get("trace_ops", 0) or 0)
    w("### Price-level structure")
    w("")
    w(f"`nexus-bench-levels`: the level structure alone, outside the book. The mixed workload's {int(li.get('flow_ops', 0)):,} operations are run once through a `Book` whose listener records the level operations they cause — {ops:,} in all: {int(li.get('find', 0)):,} finds of an existing level (an order joins it), {int(li.get('insert', 0)):,} inserts and {int(li.get('erase', 0)):,} erasures of a level, {int(li.get('best', 0)):,} reads of the best level (one per trade); prices span {li.get('price_span')} ticks — and that trace is replayed through each structure, rounds interleaved, checksums compared. ns per operation: the median over rounds of the whole replay's wall time; ticks: batches of 100 operations (p50 / p99).")
    w("")
    w("| structure | ns / op (wall) | ticks / op, batches p50 / p99 | ÷ sorted array (wall) |")
    w("|---|---|---|---|")
    base = wall.get("sorted array") or wall.get("sorted array (the Book's)")
    for name, r in wall.items():
        b = batches.get(name)
        w(f"| {name} | {r['p50']:.1f} | {fmt(b['p50']) if b else '—'} / {fmt(b['p99']) if b else '—'} | {fmt(ratio(base['p50'], r['p50'])) if base else '—'}× |")
    w("")

analysis("orderbook")

# market-data replay (bench/replay.sh): this tree (B) beside a base build (A)
def replay_section():
    meta = {}
    meta_path = os.path.join(RAW, "replay-meta.tsv")
    if os.path.exists(meta_path):
        for i in read_tsv(meta_path)[2]:
            if len(i) == 2:
                meta[i[0]] = i[1]
    runs = {"A": [], "B": []}  # per bench process: (rows by impl, info)
    for side in runs:
        for path in sorted(glob.glob(os.path.join(RAW, f"replay-{side}-*.tsv"))):
            rows, _, info = read_tsv(path)
            runs[side].append(({(r["scenario"], r["impl"]): r for r in rows}, {i[0]: i[1] for i in info if len(i) == 2}, rows))
    if not runs["B"]:
        return
    plain = "PlainBook per locate (std::map + std::list + unordered_map)"
    def nexus_row(rows):
        for (sc, impl), r in rows.items():
            if sc == "ns per message" and impl.startswith("nexus") and "without" not in impl and "OpenAddressing" not in impl:
                return r
        return None
    def med(v):
        return statistics.median(v) if v else None
    def collect(side, pick):
        return [x for x in (pick(rows) for rows, _, _ in runs[side]) if x is not None]
    a_ns = collect("A", lambda r: nexus_row(r)["p50"] if nexus_row(r) else None)
    b_ns = collect("B", lambda r: nexus_row(r)["p50"] if nexus_row(r) else None)
    b_noahead = collect("B", lambda r: r[("ns per message", "nexus without the look-ahead")]["p50"] if ("ns per message", "nexus without the look-ahead") in r else None)
    a_rel = collect("A", lambda r: nexus_row(r)["p50"] / r[("ns per message", plain)]["p50"] if nexus_row(r) and ("ns per message", plain) in r else None)
    b_rel = collect("B", lambda r: nexus_row(r)["p50"] / r[("ns per message", plain)]["p50"] if nexus_row(r) and ("ns per message", plain) in r else None)
    a_plain = collect("A", lambda r: r[("ns per message", plain)]["p50"] if ("ns per message", plain) in r else None)
    b_plain = collect("B", lambda r: r[("ns per message", plain)]["p50"] if ("ns per message", plain) in r else None)
    bi = runs["B"][-1][1]
    msgs = int(bi.get("messages", 0))
    w("## Market-data replay (ITCH 5.0)")
    w("")
    base = meta.get("base")
    w(f"`bench/replay.sh` (run by `bench/run.sh`). B is this tree; A is the replay before its rework — a slab `Book` per locate with pools sized up front — built by the script from the base commit it is given (`NEXUS_BENCH_BASE`; the commit is recorded in the raw `replay-meta.tsv`) into build/bench-base; the two are run alternately, each pass starting with the other. The day: {msgs:,} messages ({int(bi.get('bytes', 0)) / 2**20:,.0f} MiB, `nexus-synth --symbols 8000 --messages 50000000`; quick runs use a small day and no A).")
    w("")
    w(f"**CPU per message** — `nexus-bench-replay DAY --rounds 2`: the file mapped and in the page cache, decode plus book on one core, wall-clock time around the whole file; the plain book (a `PlainBook` per locate, `std::map` + `std::list` + `unordered_map`) replays the same messages in the same process, a reference for the host's speed at that moment. Median over {len(b_ns)} processes of each process's median of its rounds:")
    w("")
    w("| | ns / message | per process | plain book, same process | ÷ plain |")
    w("|---|---|---|---|---|")
    if a_ns:
        w(f"| A: before the rework (slab `Book` per locate) | {med(a_ns):.1f} | {', '.join(f'{x:.0f}' for x in a_ns)} | {med(a_plain):.1f} | {med(a_rel):.2f} |")
    w(f"| B: `MarketBooks`, blocks with look-ahead | {med(b_ns):.1f} | {', '.join(f'{x:.0f}' for x in b_ns)} | {med(b_plain):.1f} | {med(b_rel):.2f} |")
    if b_noahead:
        w(f"| B without the look-ahead | {med(b_noahead):.1f} | {', '.join(f'{x:.0f}' for x in b_noahead)} | | |")
    w("")
    cg = {}
    cg_path = os.path.join(RAW, "replay-callgrind.tsv")
    if os.path.exists(cg_path):
        with open(cg_path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 10:
                    cg[p[0]] = [int(x) for x in p[1:10]]
    if a_ns:
        goal = med(a_ns) / 2
        got = med(b_ns)
        w(f"Goal: at most half of A's time per message — at most {goal:.1f} ns here: **{got:.1f} ns, {got / med(a_ns):.2f} of A** ({'met' if got <= goal else 'not met'}). Measured against the plain book in the same process, which moves with the host: B is {med(b_rel):.2f} of the plain book's time, A {med(a_rel):.2f} ({med(b_rel) / med(a_rel):.2f} of A's ratio).")
        w("")
        target("ITCH replay", "≤ half the previous build's CPU per message (full L3)", f"{got:.1f} ns / message, {got / med(a_ns):.2f}× the previous build",
               f"previous build {med(a_ns):.1f} ns; PlainBook {med(b_plain):.1f} ns (÷ {med(b_plain) / got:.1f})", got <= goal, "Market-data replay (ITCH 5.0)")
    if cg:
        w("callgrind over `nexus-replay --quiet DAY`, the replay loop only (`--toggle-collect` on it), cache simulation of a 48 KiB first level and an 8 MiB last level (deterministic; the look-ahead's prefetches are not modelled, only their instructions), per message:")
        w("")
        w("| | instructions | first-level misses (read + write) | last-level misses | of which the file's own lines |")
        w("|---|---|---|---|---|")
        day_bytes = int(bi.get("bytes", 0))
        file_lines = day_bytes / 64
        n = msgs if msgs else 1
        for side, label in (("A", "A: before the rework"), ("B", "B")):
            if side in cg:
                ir, dr, dw, i1, d1r, d1w, ilr, dlr, dlw = cg[side]
                w(f"| {label} | {ir / n:.0f} | {(d1r + d1w) / n:.2f} | {(dlr + dlw) / n:.2f} | {file_lines / n:.2f} |")
        w("")
    # whole process, as a user runs it
    app = defaultdict(lambda: defaultdict(list))
    app_path = os.path.join(RAW, "replay-app.tsv")
    if os.path.exists(app_path):
        with open(app_path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 11 and p[2] in ("synthetic", "sample"):
                    app[(p[0], p[2])]["wall"].append(float(p[4]))
                    app[(p[0], p[2])]["user"].append(float(p[5]))
                    app[(p[0], p[2])]["rss"].append(float(p[7]) / 1024)
                    app[(p[0], p[2])]["msgs"].append(int(p[8]))
                    app[(p[0], p[2])]["peak"].append(int(p[9]))
                    app[(p[0], p[2])]["levels"].append(int(p[10]))
    if app:
        w("**Whole process and memory** — `nexus-replay --quiet FILE` under `/usr/bin/time` (medians over the passes):")
        w("")
        w("| | day | wall s | user CPU s | user ns / message | peak RSS MiB | peak live orders | peak levels | RSS goal MiB |")
        w("|---|---|---|---|---|---|---|---|---|")
        for day, name in (("synthetic", "synthetic"), ("sample", "bundled sample (gzip)")):
            for side in ("A", "B"):
                d = app.get((side, day))
                if not d:
                    continue
                peak, levels = med(d["peak"]), med(d["levels"])
                goal = 32 + (256 * peak + 64 * levels) / 2**20
                if day == "sample":
                    goal = min(goal, 64)
                w(f"| {side} | {name} | {med(d['wall']):.2f} | {med(d['user']):.2f} | {1e9 * med(d['user']) / max(1, med(d['msgs'])):.0f} | {med(d['rss']):.1f} | {peak:,.0f} | {levels:,.0f} | {goal:.1f} |")
        w("")
        for day in ("synthetic", "sample"):
            if ("B", day) in app:
                d = app[("B", day)]
                limit = 32 + (256 * med(d["peak"]) + 64 * med(d["levels"])) / 2**20
                if day == "sample":
                    limit = min(limit, 64)
                was = f"previous build {med(app[('A', day)]['rss']):.0f} MiB" if ("A", day) in app else "—"
                target("ITCH replay", f"peak RSS ≤ 32 MiB + 256 B / live order + 64 B / level ({day} day: {limit:.0f} MiB)",
                       f"{med(d['rss']):.0f} MiB", was, med(d["rss"]) <= limit, "Market-data replay (ITCH 5.0)")
        w("RSS goal: 32 MiB + 256 B per peak live order + 64 B per peak price level, and at most 64 MiB on the bundled sample day. " + "; ".join(
            f"{side} on the {day} day: {med(app[(side, day)]['rss']):.1f} MiB ({'within' if med(app[(side, day)]['rss']) <= (min(64, 32 + (256 * med(app[(side, day)]['peak']) + 64 * med(app[(side, day)]['levels'])) / 2**20) if day == 'sample' else 32 + (256 * med(app[(side, day)]['peak']) + 64 * med(app[(side, day)]['levels'])) / 2**20) else 'over'})"
            for day in ("synthetic", "sample") for side in ("A", "B") if (side, day) in app) + ".")
        w("")
    thr = defaultdict(lambda: defaultdict(list))
    thr_path = os.path.join(RAW, "replay-threads.tsv")
    if os.path.exists(thr_path):
        with open(thr_path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 11:
                    thr[int(p[3])]["wall"].append(float(p[4]))
                    thr[int(p[3])]["user"].append(float(p[5]))
                    thr[int(p[3])]["rss"].append(float(p[7]) / 1024)
                    thr[int(p[3])]["msgs"].append(int(p[8]))
    if thr and 1 in thr:
        one = med(thr[1]["wall"])
        cores = ""
        machine = os.path.join(RAW, "machine.tsv")
        if os.path.exists(machine):
            with open(machine) as f:
                for line in f:
                    if line.startswith("cores\t"):
                        cores = f"; this machine has {line.split(chr(9))[1].strip()} cores"
        w(f"**Threads** — `nexus-replay --quiet --threads N DAY` (B), the locates shared out between N workers, outputs merged in feed order; medians over the passes{cores}:")
        w("")
        w("| threads | wall s | messages / s | × one thread | user CPU s | peak RSS MiB |")
        w("|---|---|---|---|---|---|")
        for n in sorted(thr):
            d = thr[n]
            w(f"| {n} | {med(d['wall']):.2f} | {med(d['msgs']) / med(d['wall']) / 1e6:.2f} M | {one / med(d['wall']):.2f}× | {med(d['user']):.2f} | {med(d['rss']):.1f} |")
        w("")
        if 2 in thr:
            sp = one / med(thr[2]["wall"])
            w(f"Goal: 2 threads at least 1.7× the message rate of one — **{sp:.2f}×** ({'met' if sp >= 1.7 else 'not met'}).")
            w("")
            target("ITCH replay", "2 threads ≥ 1.7× one thread's rate", f"{sp:.2f}×", "one thread, same run", sp >= 1.7, "Market-data replay (ITCH 5.0)")
    bl = [r for r in runs["B"][-1][2] if r["scenario"].startswith("latency ns ")]
    if bl:
        w("Per-message latency by type, B (every message applied alone by `ItchBookBuilder::apply`, no look-ahead, timed between serialised TSC reads, read overhead subtracted; ns):")
        w("")
        w("| type | messages | p50 | p99 | p99.9 | max |")
        w("|---|---|---|---|---|---|")
        for r in bl:
            w(f"| {r['scenario'][-1]} | {r['n']:,} | {r['p50']:.0f} | {r['p99']:.0f} | {r['p999']:.0f} | {r['max']:.0f} |")
        w("")
    oc, lc = int(bi.get("order_cell_bytes", 0) or 0), int(bi.get("level_cell_bytes", 0) or 0)
    if oc:
        w(f"Cells: an order {oc} B, a level {lc} B; the index's window {int(bi.get('window_pages_allocated', 0))} pages of {int(bi.get('window_page_bytes', 0)) // 1024} KiB and {int(bi.get('window_overflow_end', 0)):,} older orders in its overflow table at the end; {int(bi.get('peak_live_orders', 0)):,} peak live orders, {int(bi.get('peak_levels', 0)):,} peak levels.")
        w("")
    chase = [(int(k[len("chase_ns_"):-1]), float(v)) for k, v in bi.items() if k.startswith("chase_ns_")]
    if chase:
        def size(kib):
            return f"{kib // 1024} MiB" if kib >= 1024 else f"{kib} KiB"
        w("What a dependent load costs on this machine, measured in B's process after the replays: a pointer chase through every 64-byte line of a buffer in one random cycle, each address read from the line before (so no two loads overlap and the prefetchers cannot help; the lines of the larger buffers also miss the TLB), median of 5 walks of 2 million loads. ns per load:")
        w("")
        w("| " + " | ".join(size(k) for k, _ in sorted(chase)) + " |")
        w("|" + "---|" * len(chase))
        w("| " + " | ".join(f"{v:.1f}" for _, v in sorted(chase)) + " |")
        w("")

# LOBSTER export and verification (nexus-bench-lobster; its own raw file)
def lobster_section(path):
    info, days, exports, verifies, counts = {}, [], [], [], []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "I" and p[1] == "day":
                days.append(p[2:])
            elif p[0] == "I":
                info[p[1]] = p[2]
            elif p[0] == "E":
                exports.append(dict(name=p[1], med=float(p[2]), lo=float(p[3]), hi=float(p[4]), messages=int(p[5]), rows=int(p[6]),
                                    cpu=float(p[8]) if len(p) > 8 else None))
            elif p[0] == "C":
                counts.append((p[1], int(p[2]), int(p[3])))
            elif p[0] == "V":
                verifies.append(dict(name=p[1], rows=int(p[2]), first=float(p[3]), whole=float(p[4]), last=float(p[5]),
                                     lo=float(p[6]), hi=float(p[7]), mismatches=int(p[8]), known=int(p[9]),
                                     rss_first=int(p[10]), rss_end=int(p[11]),
                                     cpu=[float(x) for x in p[12:15]] if len(p) > 14 else None))
    levels, rounds = info.get("levels", "?"), info.get("rounds", "?")
    w("## LOBSTER: export from ITCH and verification")
    w("")
    w(f"`{info.get('command', 'nexus-bench-lobster')}` (a step of `bench/run.sh`; alone, then `python3 bench/report.py bench/results/raw .`). Two synthetic days made by the generator of `nexus-synth`: " +
      "; ".join(f"*{d[0]}*, {d[1].replace('1 symbols', '1 symbol')}, {int(d[2].split()[0]):,} order messages" for d in days) +
      f". The busiest symbol (AAAA) of each day is exported at {levels} levels for 09:30-16:00, the ITCH file read from the page cache; "
      "*counting sink*: the rows are formatted and counted (the exporter's own cost), *files*: written to LOBSTER's two files per symbol. "
      "The rate is ITCH messages of input per second (every message of the day is read; those of other symbols are skipped). "
      f"The exported {levels}-level files are then read back from the page cache and verified; the first and the last 10% of the rows are timed "
      f"on their own, to show that the cost per row does not grow along the file. Median of {rounds} rounds, scenarios alternated within each round; wall-clock time, "
      "and beside it the rate in the thread's CPU time (what the code does alone, when the 2-core machine is shared). "
      f"Load average (1 minute) at the start and the end of this run: {info.get('load', '?')} on {machine.get('cores', '?')} cores.")
    w("")
    w("| export | ITCH messages / s (median) | range over rounds | per CPU second | rows written |")
    w("|---|---|---|---|---|")
    for e in exports:
        cpu = f"{e['cpu'] / 1e6:.2f} M" if e["cpu"] else "—"
        w(f"| {e['name']} | {e['med'] / 1e6:.2f} M | {e['lo'] / 1e6:.2f}-{e['hi'] / 1e6:.2f} M | {cpu} | {e['rows']:,} |")
    w("")
    w("| verify (day) | rows | rows / s, first 10% | whole file | last 10% | last ÷ first | whole, range over rounds | per CPU second, first 10% / whole / last 10% | true mismatches | peak known orders | resident at 10% / end |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for v in verifies:
        cpu = " / ".join(f"{x / 1e6:.2f} M" for x in v["cpu"]) if v["cpu"] else "—"
        w(f"| {v['name']} | {v['rows']:,} | {v['first'] / 1e6:.2f} M | {v['whole'] / 1e6:.2f} M | {v['last'] / 1e6:.2f} M | "
          f"{fmt(ratio(v['last'], v['first']))} | {v['lo'] / 1e6:.2f}-{v['hi'] / 1e6:.2f} M | {cpu} | {v['mismatches']} | {v['known']:,} | "
          f"{v['rss_first'] / 1024:.0f} / {v['rss_end'] / 1024:.0f} MiB |")
    w("")
    if counts:
        w("Instructions (callgrind, deterministic: comparable across runs on a shared machine; `bench/lobster_callgrind.sh`, run by `bench/run.sh`): " +
          "; ".join(f"{name}: **{ir / n:,.0f}** per {'row' if name.startswith('verify') else 'ITCH message'} ({ir:,} for {n:,})" for name, n, ir in counts) + ".")
        w("")
    market_export = next((e for e in exports if e["name"].startswith("market") and "files" in e["name"]), None)
    market_verify = next((v for v in verifies if v["name"] == "market"), None)
    if market_export and market_verify:
        ok_v = market_verify["whole"] >= 1e6 and market_verify["last"] >= 1e6
        ok_e = market_export["med"] >= 5e6
        cpu_v = market_verify["cpu"]
        w(f"Targets: verification at least 1 million rows/s at {levels} levels, the same on the first and last 10% — "
          f"**{market_verify['whole'] / 1e6:.2f} M rows/s** wall (first 10% {market_verify['first'] / 1e6:.2f} M, last 10% {market_verify['last'] / 1e6:.2f} M)"
          + (f", **{cpu_v[1] / 1e6:.2f} M** per CPU second (first 10% {cpu_v[0] / 1e6:.2f} M, last 10% {cpu_v[2] / 1e6:.2f} M)" if cpu_v else "")
          + f" ({'met' if ok_v else 'met in CPU time, not in wall time on the shared machine' if cpu_v and min(cpu_v) >= 1e6 else 'not met'}); "
          f"export of one symbol at {levels} levels at least 5 million ITCH messages/s of input — "
          f"**{market_export['med'] / 1e6:.2f} M/s** wall to files"
          + (f", {market_export['cpu'] / 1e6:.2f} M per CPU second" if market_export["cpu"] else "")
          + f" ({'met' if ok_e else 'not met'}). "
          "The one-symbol day, where every message is the exported symbol's and nearly every one writes a row, is the worst case for the exporter.")
        w("")
        target("LOBSTER", f"verify ≥ 1 M rows/s at {levels} levels, first and last 10% alike",
               f"{market_verify['whole'] / 1e6:.2f} M rows/s wall" + (f", {cpu_v[1] / 1e6:.2f} M per CPU s" if cpu_v else ""),
               f"last 10% ÷ first 10%: {market_verify['last'] / market_verify['first']:.2f}", ok_v, "LOBSTER: export from ITCH and verification")
        target("LOBSTER", "export ≥ 5 M ITCH messages/s", f"{market_export['med'] / 1e6:.2f} M/s", "—", ok_e, "LOBSTER: export from ITCH and verification")


replay_section()

lobster_path = os.path.join(RAW, "lobster.tsv")
if os.path.exists(lobster_path):
    lobster_section(lobster_path)
    analysis("lobster")

# matching engine
core_path = os.path.join(RAW, "engine-core.tsv")
lat_path = os.path.join(RAW, "engine-latency.tsv")
if os.path.exists(core_path) or os.path.exists(lat_path):
    w("## Matching engine")
    w("")
    w("`bench/engine.sh` (also run by `bench/run.sh`). The engine and the load generator run side by side on this 2-core machine; nothing else runs meanwhile.")
    w("")
if os.path.exists(core_path):
    info, runs = {}, defaultdict(list)
    with open(core_path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "I" and len(p) == 3:
                info[p[1]] = p[2]
            elif p[0] == "E":
                runs[p[1]].append(float(p[5]))
    w("### In process: validation, journal and matching, no sockets")
    w("")
    w(f"`nexus-bench-engine`: {int(info.get('messages', 0)):,} order messages (the load generator's mix: 60% limits within 4 ticks of a fixed mid, 10% IOC market orders, 20% cancels, 10% replaces; 20 users, 8 instruments) recorded once as the encoded packets the sessions would receive (about 40 bytes a message) and replayed through a fresh Router + JournalWriter + ShardCore: every message decoded, validated, journaled and matched, its client messages and ITCH bytes encoded, the journal committed every {info.get('batch')} messages (and, in a second os scenario, every {int(info.get('large_batch', 0)):,}: a shard thread under saturation takes its whole queue as one batch). The fsync rounds use the first {int(info.get('messages_fsync', 0)):,} messages. Rounds alternate the modes; wall-clock time around each replay.")
    w("")
    w("| journal | messages / s (median of rounds) | range over rounds | ÷ no journal |")
    w("|---|---|---|---|")
    none = statistics.median(runs["no journal"]) if runs.get("no journal") else None
    labels = {"journal os": f"journal os, mmap (the default; commit per {info.get('batch')} messages, no system call)",
              "journal os, write": f"journal os, journal_mode write (write per {info.get('batch')} messages)",
              "journal os, large batches": f"journal os, journal_mode write (write per {int(info.get('large_batch', 0)):,} messages)",
              "journal fsync": f"journal fsync (per {info.get('batch')} messages)", "no journal": "no journal"}
    for mode in ("journal os", "journal os, write", "journal os, large batches", "journal fsync", "no journal"):
        v = runs.get(mode)
        if not v:
            continue
        med = statistics.median(v)
        w(f"| {labels[mode]} | {med / 1e6:.2f} M | {min(v) / 1e6:.2f}-{max(v) / 1e6:.2f} M | {fmt(ratio(med, none)) if none else '—'}× |")
    w("")
    if runs.get("journal os"):
        med_os = statistics.median(runs["journal os"])
        w(f"Target: at least 10 million orders/s in process with the journal written per {info.get('batch')} messages — **{med_os / 1e6:.2f} M messages/s** ({'met' if med_os >= 10e6 else 'not met'}).")
        w("")
        target("engine", "in process ≥ 10 M orders/s, journal per 64 messages", f"{med_os / 1e6:.2f} M/s",
               f"no journal {none / 1e6:.2f} M/s" if none else "—", med_os >= 10e6, "In process: validation, journal and matching, no sockets")
if os.path.exists(lat_path):
    rows = []
    with open(lat_path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 11:
                continue
            rows.append({"label": p[0], "rate": float(p[1]), "sessions": int(p[2]), "sent": int(p[3]), "answered": int(p[4]),
                         "per_s": float(p[5]), "p50": float(p[6]), "p90": float(p[7]), "p99": float(p[8]), "p999": float(p[9]), "max": float(p[10]),
                         "late50": float(p[11]) if len(p) > 12 else 0.0, "late99": float(p[12]) if len(p) > 12 else 0.0,
                         "sent50": float(p[13]) if len(p) > 14 else 0.0, "sent99": float(p[14]) if len(p) > 14 else 0.0})
    w("### Order round trip over loopback")
    w("")
    w("`nexus-loadgen` against `nexus-engine` on 127.0.0.1. Round trip: from the moment a request is due to its answer (Accepted, Replaced, Cancelled or Rejected), TSC-timed. Open loop: 10 sessions, requests due at fixed intervals whatever the answers do, latency counted from the due time (no coordinated omission); closed loop: one session, one request outstanding. The client sleeps in `ppoll` unless it is marked polling. The floor rows are no engine at all: a 44-byte ping-pong with a trivial echo thread over the same loopback, measured by the same program — the cost of two TCP hops and two thread wake-ups on this VM. Configurations: *threads* — the I/O thread and one matching thread hand commands and events over queues (the default); *inline* — the I/O thread matches itself; *busy poll* — the I/O thread never sleeps; *sync os* — the journal is written to the OS before the acknowledgement; *sync fsync* — and fdatasync'd, in group commits.")
    w("")
    w("The last two columns separate the load generator's own delay: how long after its due time a request actually left (p50 / p99) — on this VM a sleeping thread takes tens of microseconds to wake, the generator included — and the round trip counted from that actual send (p50 / p99). The main columns count from the due time and include both.")
    w("")
    w("| configuration | load | answered / s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | sent late by µs | from the send µs |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        load = "closed loop" if r["rate"] == 0 else f"{r['rate']:,.0f} / s offered"
        late = f"{r['late50']:.1f} / {r['late99']:.0f}" if r["rate"] > 0 else "—"
        sent = f"{r['sent50']:.1f} / {r['sent99']:.0f}" if r["rate"] > 0 else "—"
        w(f"| {r['label']} | {load} | {r['per_s']:,.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['p999']:.1f} | {r['max']:.0f} | {late} | {sent} |")
    w("")
    at100 = {r["label"]: r for r in rows if r["rate"] == 100000}
    configs = []
    for r in rows:
        if r["rate"] > 0 and r["label"] not in configs:
            configs.append(r["label"])
    closed = [r for r in rows if r["rate"] == 0 and not r["label"].startswith("floor")]
    floors = {r["label"]: r for r in rows if r["rate"] == 0 and r["label"].startswith("floor")}

    def floor_for(label, kind):
        # The floor measured just before this configuration, else the run's first one.
        base = label.removesuffix(", polling client")
        if kind == "blocking" and ("busy poll" in base or "io_spin_us" in base):
            kind = "polling echo"  # the engine's I/O thread does not sleep: neither does the echo
        return floors.get(f"floor {kind}, beside {base}") or floors.get(f"floor {kind}")
    if closed and floors:
        w("Closed loop, one session, engine ÷ the echo floor measured just before the configuration, in the same polling mode: a polling client against a floor where both sides poll; a sleeping client against a sleeping echo if the engine's I/O thread sleeps (threads), a polling echo if it polls or spins (busy poll, `io_spin_us`). The VM's wake-up cost drifts over minutes, so each configuration has its own floor. Targets: p50 at most 1.25×, p99 at most 1.5×.")
        w("")
        w("| configuration | p50 µs | ÷ floor p50 | p99 µs | ÷ floor p99 | met |")
        w("|---|---|---|---|---|---|")
        for r in closed:
            fl = floor_for(r["label"], "polling" if "polling client" in r["label"] else "blocking")
            if not fl:
                continue
            r50, r99 = r["p50"] / fl["p50"], r["p99"] / fl["p99"]
            ok = r50 <= 1.25 and r99 <= 1.5
            w(f"| {r['label']} | {r['p50']:.1f} | {r50:.2f}× | {r['p99']:.1f} | {r99:.2f}× | {'✓' if ok else '✗'} |")
            if r["label"] in ("threads, sync os", "inline, busy poll, sync os, polling client"):
                target("engine", f"closed-loop round trip ({r['label']}) p50 ≤ 1.25×, p99 ≤ 1.5× the echo floor",
                       f"p50 {r['p50']:.1f} µs ({r50:.2f}×), p99 {r['p99']:.1f} µs ({r99:.2f}×)",
                       f"echo floor ({fl['label'].split(',')[0].removeprefix('floor ')}): p50 {fl['p50']:.1f} µs, p99 {fl['p99']:.1f} µs", ok,
                       "Order round trip over loopback")
        w("")
    open10k = [r for r in rows if r["rate"] == 10000 and floor_for(r["label"], "blocking")]
    if open10k:
        w("Open loop at 10,000 orders/s over 10 sessions (the clients sleep between requests), p99 ÷ the p99 of the echo floor measured just before the configuration (the echo sleeping or polling as the engine's I/O thread does). Target: at most 2×.")
        w("")
        w("| configuration | p99 µs | ÷ floor p99 | met |")
        w("|---|---|---|---|")
        for r in open10k:
            fl = floor_for(r["label"], "blocking")
            r99 = r["p99"] / fl["p99"]
            ok = r99 <= 2.0
            w(f"| {r['label']} | {r['p99']:.1f} | {r99:.2f}× | {'✓' if ok else '✗'} |")
            if r["label"] in ("threads, sync os", "inline, io_spin_us 50, sync os"):
                target("engine", f"open loop 10,000 orders/s, 10 sessions ({r['label']}): p99 ≤ 2× the echo floor",
                       f"p99 {r['p99']:.1f} µs ({r99:.2f}×)", f"echo floor ({fl['label'].split(',')[0].removeprefix('floor ')}): p99 {fl['p99']:.1f} µs", ok,
                       "Order round trip over loopback")
        w("")
    if configs:
        w("Highest offered rate swept whose p99 (from the due time) stayed under 1 ms, with every request answered:")
        w("")
        for lab in configs:
            ok = [r for r in rows if r["label"] == lab and r["rate"] > 0 and r["p99"] < 1000 and r["per_s"] >= 0.98 * r["rate"]]
            lowest = min((r["rate"] for r in rows if r["label"] == lab and r["rate"] > 0), default=0)
            best = max(ok, key=lambda r: r["rate"]) if ok else None
            below = [r for r in rows if r["label"] == lab and 0 < r["rate"] < (best["rate"] if best else 0) and r not in ok]
            extra = (" — but not at " + ", ".join(f"{r['rate']:,.0f} / s (p99 {r['p99']:.0f} µs)" for r in below) + ", below it") if below else ""
            w(f"- {lab}: " + (f"**{best['rate']:,.0f} / s** (p99 {best['p99']:.0f} µs){extra}" if best else f"**below {lowest:,.0f} / s** (the lowest rate swept already had a p99 over 1 ms)"))
        w("")
    curves = defaultdict(list)
    for r in rows:
        if r["rate"] > 0:
            curves[r["label"]].append((r["rate"], r["p50"], r["p99"]))
    if curves and shutil.which("gnuplot"):
        os.makedirs(PLOTS, exist_ok=True)
        dat = os.path.join(PLOTS, "engine_latency.dat")
        names = []
        with open(dat, "w") as f:
            for lab, pts in curves.items():
                f.write(f"# {lab}\n")
                for rate, p50, p99 in sorted(pts):
                    f.write(f"{rate}\t{max(p50, 0.1)}\t{max(p99, 0.1)}\n")
                f.write("\n\n")
                names.append(lab)
        png = os.path.join(PLOTS, "engine_latency.png")
        floor = {r["label"]: r["p50"] for r in rows if r["label"] in ("floor blocking", "floor polling")}
        script = [
            "set terminal pngcairo size 1100,560 font 'DejaVu Sans,11'" if has_cairo() else "set terminal png size 1100,560",
            f"set output '{png}'", "set termoption noenhanced", "set logscale xy", "set grid", "set key top left font ',9'",
            "set title 'Order round trip over loopback by offered rate (10 sessions): p50 solid, p99 dashed'",
            "set xlabel 'offered requests / s'", "set ylabel 'microseconds'",
        ]
        parts = []
        for i, lab in enumerate(names):
            parts.append(f"'{dat}' index {i} using 1:2 with linespoints lc {i + 1} dt 1 title '{lab} p50'")
            parts.append(f"'{dat}' index {i} using 1:3 with linespoints lc {i + 1} dt 2 title '{lab} p99'")
        for j, (lab, v) in enumerate(floor.items()):
            parts.append(f"{v} with lines lc rgb 'gray' dt {j + 3} title '{lab} p50 (no engine)'")
        script.append("plot " + ", ".join(parts))
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
        os.remove(dat)
        w("![round trip by rate](bench/results/engine_latency.png)")
        w("")

if os.path.exists(core_path) or os.path.exists(lat_path):
    analysis("engine")

# The summary goes first: a reader sees every target before the detail.
head = ["## Summary", "",
        "Every target the project set itself, the figure this run measured, what it was compared with in the same run, and whether it is met. Each row links to its section, where the command, the method and the reasons are.", "",
        "| area | target | measured | compared with | met |", "|---|---|---|---|---|"]
for area, goal, measured, comparison, met, section in summary:
    head.append(f"| [{area}]({slug(section)}) | {goal} | {measured} | {comparison} | {'✓' if met else '✗'} |")
head.append("")
md[summary_at:summary_at] = head

# README's short table: the same rows, so the two files tell one story.
readme = os.path.join(OUT, "README.md")
if os.path.exists(readme):
    with open(readme) as f:
        text = f.read()
    begin, end = "<!-- benchmarks:summary -->", "<!-- /benchmarks:summary -->"
    if begin in text and end in text:
        rows = ["| target | measured | compared with | met |", "|---|---|---|---|"]
        for area, goal, measured, comparison, met, section in summary:
            rows.append(f"| [{area}](BENCHMARKS.md{slug(section)}): {goal} | {measured} | {comparison} | {'✓' if met else '✗'} |")
        text = text[:text.index(begin) + len(begin)] + "\n" + "\n".join(rows) + "\n" + text[text.index(end):]
        with open(readme, "w") as f:
            f.write(text)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "BENCHMARKS.md"), "w") as f:
    f.write("\n".join(md) + "\n")

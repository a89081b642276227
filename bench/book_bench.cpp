// nexus-bench-book: the order book against the same book written the ordinary
// way (PlainBook: std::map levels, std::list FIFOs, std::unordered_map index,
// a new/delete node per order), same operations, same process, interleaved.
//
//   nexus-bench-book [--quick] [--out=FILE]
//
// Per-operation latency in TSC ticks (batches of 100 for add/cancel/execute/
// replace; one timed order per sample for sweeps), and a mixed workload: a
// recorded random order flow replayed through each book, timed per operation
// (read overhead subtracted) and as a whole (ns per operation).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nexus/orderbook/book.hpp>
#include <nexus/orderbook/plain_book.hpp>

#include "common/book_flow.hpp"
#include "harness/cli.hpp"
#include "harness/timing.hpp"
#include "orderbook/random_ops.hpp"

namespace nb = nexus::bench;
using namespace nexus::orderbook;
using nb::Samples;
using nexus::test::Op;

namespace {

nb::TscInfo g_tsc;

struct CountingListener {
    std::uint64_t trades = 0, events = 0;
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) { ++events; }
    void on_rejected(InstrumentId, OrderId, Reject) { ++events; }
    void on_trade(InstrumentId, const Trade& t) { trades += t.qty; }
    void on_cancelled(InstrumentId, OrderId, Qty, CancelReason) { ++events; }
    void on_modified(InstrumentId, OrderId, Price, Qty, bool) { ++events; }
    void on_level(InstrumentId, Side, Price, Qty, std::uint32_t) { ++events; }
};

constexpr int kBatch = 100;
constexpr Price kMid = 10'000;

// One book under test, behind the common API. Owns its pools (if any).
// `fresh()` gives an empty book on pools that hand out cells as new ones
// would (slab clear()). The pools outlive the runs:
// handing 64 MiB back to the OS and mapping it again between runs makes the
// next run pay for page faults and the kernel's reclaim, whichever book it
// is, and a deployed book keeps its pools for the life of the process anyway.
template <class B>
struct Subject;

template <class Index>
struct Subject<Book<CountingListener, Index>> {
    Pools pools{PoolConfig{.orders = 1 << 20, .levels = 1 << 14}};
    CountingListener events;
    std::optional<Book<CountingListener, Index>> slot;
    Subject() { fresh(); }
    Book<CountingListener, Index>& book() { return *slot; }
    Book<CountingListener, Index>& fresh() {
        slot.reset();   // gives every node back to the pools
        pools.clear();  // and their cells come out in key order again, as from new pools
        events = {};
        return slot.emplace(pools, events, 1, BookLimits{}, 4096);
    }
};
template <>
struct Subject<PlainBook<CountingListener>> {
    CountingListener events;
    std::optional<PlainBook<CountingListener>> slot;
    Subject() { fresh(); }
    PlainBook<CountingListener>& book() { return *slot; }
    PlainBook<CountingListener>& fresh() {
        slot.reset();
        events = {};
        return slot.emplace(events, 1);
    }
};

// A resting population: `levels` prices per side, `per_level` orders each.
template <class B>
void populate(B& book, OrderId& next_id, int levels, int per_level) {
    for (int l = 1; l <= levels; ++l)
        for (int i = 0; i < per_level; ++i) {
            book.add(next_id++, Side::Buy, kMid - l, 100);
            book.add(next_id++, Side::Sell, kMid + l, 100);
        }
}

// The body is inlined into the timed loop (no call through std::function).
template <class B, class F>
double time_batch(B& book, F&& body) {
    const std::uint64_t t0 = nb::tsc_start();
    for (int i = 0; i < kBatch; ++i) body(book, i);
    const std::uint64_t t1 = nb::tsc_stop();
    return (static_cast<double>(t1 - t0) - g_tsc.overhead) / kBatch;
}

// Per-operation scenarios. Each call adds one sample and leaves the book as it found it.
template <class B>
struct OpBench {
    Subject<B> s;
    OrderId next_id = 1;
    std::mt19937_64 rng{3};
    std::vector<OrderId> ids = std::vector<OrderId>(kBatch);
    std::vector<Price> prices = std::vector<Price>(kBatch);

    OpBench() { populate(s.book(), next_id, 20, 10); }

    void fresh_prices() {
        for (auto& p : prices) p = kMid - 1 - static_cast<Price>(rng() % 20);
    }

    void run(const std::string& op, Samples& out) {
        auto& book = s.book();
        fresh_prices();
        if (op == "add") {
            for (auto& id : ids) id = next_id++;
            out.add(time_batch(book, [&](auto& b, int i) { b.add(ids[i], Side::Buy, prices[i], 100); }));
            for (OrderId id : ids) book.remove(id);
        } else if (op == "cancel") {
            for (int i = 0; i < kBatch; ++i) book.add(ids[i] = next_id++, Side::Buy, prices[i], 100);
            std::shuffle(ids.begin(), ids.end(), rng);
            out.add(time_batch(book, [&](auto& b, int i) { b.cancel(ids[i]); }));
        } else if (op == "execute") {
            for (int i = 0; i < kBatch; ++i) book.add(ids[i] = next_id++, Side::Buy, prices[i], 100);
            std::shuffle(ids.begin(), ids.end(), rng);
            out.add(time_batch(book, [&](auto& b, int i) { b.execute(ids[i], 40); }));
            for (OrderId id : ids) book.remove(id);
        } else if (op == "replace") {
            for (int i = 0; i < kBatch; ++i) book.add(ids[i] = next_id++, Side::Buy, prices[i], 100);
            std::vector<OrderId> new_ids(kBatch);
            for (auto& id : new_ids) id = next_id++;
            fresh_prices();
            out.add(time_batch(book, [&](auto& b, int i) { b.replace(ids[i], new_ids[i], 90, prices[i]); }));
            for (OrderId id : new_ids) book.remove(id);
        } else if (op == "sweep 1 level" || op == "sweep 10 levels") {
            const int levels = op == "sweep 1 level" ? 1 : 10;
            // The asks inside kMid+1..kMid+levels hold 10 x 100 each: take exactly those levels.
            OrderRequest rq;
            rq.id = next_id++;
            rq.owner = 1;
            rq.side = Side::Buy;
            rq.tif = TimeInForce::IOC;
            rq.price = kMid + levels;
            rq.qty = 1000 * levels;
            const std::uint64_t t0 = nb::tsc_start();
            book.submit(rq);
            const std::uint64_t t1 = nb::tsc_stop();
            out.add(static_cast<double>(t1 - t0) - g_tsc.overhead);
            for (int l = 1; l <= levels; ++l)
                for (int i = 0; i < 10; ++i) book.add(next_id++, Side::Sell, kMid + l, 100);
        }
    }
};

// The recorded order flow for the mixed workload (common/book_flow.hpp).
std::vector<Op> record_flow(std::size_t n) { return nexus::bench::record_book_flow(n); }

// Replays the flow; per-operation ticks into `lat` (if given); returns ns per operation.
template <class B>
double replay(Subject<B>& s, const std::vector<Op>& flow, Samples* lat, std::uint64_t& checksum) {
    auto& book = s.fresh();
    const auto start = std::chrono::steady_clock::now();
    if (lat) {
        for (const Op& op : flow) {
            const std::uint64_t t0 = nb::tsc_start();
            nexus::test::apply(book, op);
            const std::uint64_t t1 = nb::tsc_stop();
            lat->add(static_cast<double>(t1 - t0) - g_tsc.overhead);
        }
    } else {
        for (const Op& op : flow) nexus::test::apply(book, op);
    }
    const auto end = std::chrono::steady_clock::now();
    checksum += s.events.trades;
    return std::chrono::duration<double, std::nano>(end - start).count() / static_cast<double>(flow.size());
}

}  // namespace

int main(int argc, char** argv) {
    const nb::Cli cli = nb::parse_cli(argc, argv);
    const bool quick = cli.quick;
    std::FILE* out = cli.out;
    g_tsc = nb::calibrate();
    nb::Report report(out);
    report.info("tsc_overhead", std::to_string(g_tsc.overhead));
    report.info("tsc_ghz", std::to_string(g_tsc.ticks_per_ns));
    const int rounds = quick ? 2 : 5;
    const int samples_per_round = quick ? 20 : 2000;

    // Per-operation latency.
    {
        auto fast = std::make_unique<OpBench<Book<CountingListener, OpenAddressingIndex>>>();
        auto plain = std::make_unique<OpBench<PlainBook<CountingListener>>>();
        for (const char* op : {"add", "cancel", "execute", "replace", "sweep 1 level", "sweep 10 levels"}) {
            Samples f_all, p_all;
            for (int r = 1; r <= rounds; ++r) {
                Samples f, p;
                // Alternate which book goes first, so that neither always
                // runs with the caches and the clock as the other left them.
                if (r % 2 == 1) {
                    for (int i = 0; i < samples_per_round; ++i) fast->run(op, f);
                    for (int i = 0; i < samples_per_round; ++i) plain->run(op, p);
                } else {
                    for (int i = 0; i < samples_per_round; ++i) plain->run(op, p);
                    for (int i = 0; i < samples_per_round; ++i) fast->run(op, f);
                }
                report.row("book", op, 0, "nexus Book", r, f);
                report.row("book", op, 0, "PlainBook (std::map + std::list + unordered_map)", r, p);
                f_all.append(f);
                p_all.append(p);
            }
            report.row("book", op, 0, "nexus Book", 0, f_all);
            report.row("book", op, 0, "PlainBook (std::map + std::list + unordered_map)", 0, p_all);
            report.flush();
        }
    }

    // Mixed workload.
    const std::size_t n = quick ? 20'000 : 2'000'000;
    const std::vector<Op> flow = record_flow(n);
    {
        std::size_t kinds[9] = {};
        for (const Op& op : flow) ++kinds[op.kind];
        const char* names[9] = {
            "submit",    "cancel",    "modify", "md add", "md execute", "md execute at price", "md partial cancel",
            "md delete", "md replace"};
        for (int k = 0; k < 9; ++k) report.info("mix\t" + std::string(names[k]), std::to_string(kinds[k]));
    }
    std::uint64_t checksum = 0;
    struct Variant {
        const char* name;
        std::function<double(Samples*)> run;
    };
    // Every subject (and its pools) lives for the whole mixed-workload part.
    Subject<Book<CountingListener, OpenAddressingIndex>> oa;
    Subject<Book<CountingListener, PagedIndex>> paged;
    Subject<Book<CountingListener, WindowIndex>> window;
    Subject<Book<CountingListener, StdIndex>> stdidx;
    Subject<PlainBook<CountingListener>> plain;
    const std::vector<Variant> variants{
        {"nexus Book (open addressing index)", [&](Samples* l) { return replay(oa, flow, l, checksum); }},
        {"nexus Book (paged direct index)", [&](Samples* l) { return replay(paged, flow, l, checksum); }},
        {"nexus Book (window index)", [&](Samples* l) { return replay(window, flow, l, checksum); }},
        {"nexus Book (std::unordered_map index)", [&](Samples* l) { return replay(stdidx, flow, l, checksum); }},
        {"PlainBook (std::map + std::list + unordered_map)",
         [&](Samples* l) { return replay(plain, flow, l, checksum); }},
    };
    std::vector<Samples> lat(variants.size()), thr(variants.size());
    // Each round starts with the next variant, so every variant runs in
    // every position: a run's speed depends on what ran before it (caches,
    // clock), and rotating spreads that over all variants equally.
    for (int r = 1; r <= rounds; ++r) {
        for (std::size_t i = 0; i < variants.size(); ++i) {
            const std::size_t v = (i + static_cast<std::size_t>(r - 1)) % variants.size();
            thr[v].add(variants[v].run(nullptr));  // whole-run ns/op, no timing inside
            Samples l;
            variants[v].run(&l);
            report.row("book", "mixed per-op ticks", 0, variants[v].name, r, l);
            lat[v].append(l);
        }
    }
    for (std::size_t v = 0; v < variants.size(); ++v) {
        report.row("book", "mixed per-op ticks", 0, variants[v].name, 0, lat[v]);
        report.row("book", "mixed ns/op", 0, variants[v].name, 0, thr[v]);
    }
    report.info("flow_ops", std::to_string(flow.size()));
    report.info("checksum", std::to_string(checksum));
    if (out != stdout) std::fclose(out);
    return 0;
}

// nexus-bench-levels: the price-level structure alone — the sorted array, with
// and without the small price -> level cache the Book puts in front of it,
// against a tree (std::map) and a price ladder — on the level operations of
// the book benchmark's mixed workload.
//
//   nexus-bench-levels [--quick] [--out=FILE]
//
// The mixed workload's order flow (the same recorded flow as nexus-bench-book)
// is run once through a Book whose listener turns level events into a trace of
// the operations any level structure must serve:
//   INSERT  a price that has no level yet gets one      (an order rests at a new price)
//   FIND    an order joins an existing level            (its level is looked up by price)
//   ERASE   a level's last order leaves                 (the level is removed by price)
//   BEST    a trade against the best level of a side    (matching reads the touch)
// The trace is then replayed through each structure, interleaved over rounds;
// a checksum of what each returns must agree. Only the structure is timed:
// no orders, no index, no book.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nexus/orderbook/book.hpp>

#include "common/book_flow.hpp"
#include "harness/cli.hpp"
#include "harness/timing.hpp"

namespace nb = nexus::bench;
using namespace nexus::orderbook;

namespace {

struct LevelOp {
    enum Kind : std::uint8_t { Insert, Find, Erase, Best } kind;
    Side side;
    Price price;
};

// Turns a Book's events into the level trace.
struct TraceListener {
    std::vector<LevelOp>* trace;
    std::set<std::pair<int, Price>> present;
    bool adding = false;
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) { adding = true; }
    void on_rejected(InstrumentId, OrderId, Reject) { adding = false; }
    void on_trade(InstrumentId, const Trade& t) { trace->push_back({LevelOp::Best, opposite(t.taker_side), t.price}); }
    void on_cancelled(InstrumentId, OrderId, Qty, CancelReason) {}
    void on_modified(InstrumentId, OrderId, Price, Qty, bool) { adding = true; }
    void on_level(InstrumentId, Side side, Price price, Qty, std::uint32_t count) {
        const std::pair<int, Price> k{static_cast<int>(side), price};
        if (count == 0) {
            trace->push_back({LevelOp::Erase, side, price});
            present.erase(k);
        } else if (!present.count(k)) {
            trace->push_back({LevelOp::Insert, side, price});
            present.insert(k);
        } else if (adding) {
            trace->push_back({LevelOp::Find, side, price});
        }
        adding = false;
    }
};

// 1. The Book's structure: a LevelArray per side (level_array.hpp), the
// class the Book itself uses: scan the 8 entries nearest the touch, then bisect.
class SortedLevels {
public:
    std::uint32_t find(Side s, Price p) const {
        const LevelArray& a = side(s);
        const auto [i, found] = a.locate(p);
        return found ? a[i].key.index() : 0;
    }
    void insert(Side s, Price p, std::uint32_t key) {
        LevelArray& a = side(s);
        a.insert(a.locate(p).first, p, nexus::slab::Key::from_index(key));
    }
    void erase(Side s, Price p) {
        LevelArray& a = side(s);
        if (a.best().price == p)
            a.pop_best();  // as the Book drops the touch
        else
            a.erase(a.locate(p).first);
    }
    std::uint32_t best(Side s) const { return side(s).empty() ? 0 : side(s).best().key.index(); }

private:
    LevelArray& side(Side s) { return sides_[static_cast<int>(s)]; }
    const LevelArray& side(Side s) const { return sides_[static_cast<int>(s)]; }
    LevelArray sides_[2] = {LevelArray(Side::Buy), LevelArray(Side::Sell)};
};

// 1a. A variant the Book does not use: prices and keys in separate arrays,
// and a scan that counts the entries sorting before the price (no early
// exit, no data-dependent branch) instead of stopping at the first.
class SortedBranchFree {
public:
    std::uint32_t find(Side s, Price p) const {
        const auto [i, found] = locate(s, p);
        return found ? side(s).keys[i] : 0;
    }
    void insert(Side s, Price p, std::uint32_t key) {
        auto& sd = side(s);
        const auto pos = static_cast<std::ptrdiff_t>(locate(s, p).first);
        sd.prices.insert(sd.prices.begin() + pos, p);
        sd.keys.insert(sd.keys.begin() + pos, key);
    }
    void erase(Side s, Price p) {
        auto& sd = side(s);
        const auto pos = static_cast<std::ptrdiff_t>(locate(s, p).first);
        sd.prices.erase(sd.prices.begin() + pos);
        sd.keys.erase(sd.keys.begin() + pos);
    }
    std::uint32_t best(Side s) const { return side(s).keys.empty() ? 0 : side(s).keys.back(); }

private:
    struct Side_ {
        std::vector<Price> prices;
        std::vector<std::uint32_t> keys;
    };
    Side_& side(Side s) { return sides_[static_cast<int>(s)]; }
    const Side_& side(Side s) const { return sides_[static_cast<int>(s)]; }
    std::pair<std::size_t, bool> locate(Side s, Price price) const {
        const auto& sd = side(s);
        const std::size_t n = sd.prices.size();
        const std::size_t stop = n > 8 ? n - 8 : 0;
        std::size_t before = 0;  // entries in [stop, n) that sort before `price` (worse than it)
        const Price* p = sd.prices.data();
        if (s == Side::Buy)
            for (std::size_t j = stop; j < n; ++j) before += p[j] < price;
        else
            for (std::size_t j = stop; j < n; ++j) before += p[j] > price;
        if (before > 0 || stop == 0 || p[stop] == price) {
            const std::size_t pos = stop + before;
            return {pos, pos < n && p[pos] == price};
        }
        const auto b = sd.prices.begin();
        const auto e = b + static_cast<std::ptrdiff_t>(stop);
        const auto it =
            s == Side::Buy ? std::lower_bound(b, e, price) : std::lower_bound(b, e, price, std::greater<Price>());
        const auto pos = static_cast<std::size_t>(it - b);
        return {pos, pos < stop && *it == price};
    }
    Side_ sides_[2];
};

// 1b. What the Book does: the LevelArray behind a 64-entry direct-mapped
// cache per side holding level keys only; a hit is a key whose level has the
// price asked for (here the level's price is read from a table by key, as
// the Book reads it from the level cell). Entries are cleared when their
// level goes.
class CachedSortedLevels {
public:
    std::uint32_t find(Side s, Price p) {
        std::uint32_t& e = cache_[static_cast<int>(s)][level_cache_slot(p)];
        if (e != 0 && price_of_[e] == p) return e;
        const std::uint32_t k = array_.find(s, p);
        if (k != 0) e = k;
        return k;
    }
    void insert(Side s, Price p, std::uint32_t key) {
        array_.insert(s, p, key);
        if (key >= price_of_.size()) price_of_.resize(std::max<std::size_t>(key + 1, price_of_.size() * 2));
        price_of_[key] = p;
        cache_[static_cast<int>(s)][level_cache_slot(p)] = key;
    }
    void erase(Side s, Price p) {
        array_.erase(s, p);
        std::uint32_t& e = cache_[static_cast<int>(s)][level_cache_slot(p)];
        if (e != 0 && price_of_[e] == p) e = 0;
    }
    std::uint32_t best(Side s) const { return array_.best(s); }

private:
    SortedLevels array_;
    std::vector<Price> price_of_;  // each key's level price
    std::uint32_t cache_[2][kLevelCacheEntries] = {};
};

// 2. A tree: std::map per side, best first.
class MapLevels {
public:
    std::uint32_t find(Side s, Price p) const {
        if (s == Side::Buy) {
            const auto it = bids_.find(p);
            return it == bids_.end() ? 0 : it->second;
        }
        const auto it = asks_.find(p);
        return it == asks_.end() ? 0 : it->second;
    }
    void insert(Side s, Price p, std::uint32_t key) {
        if (s == Side::Buy)
            bids_.emplace(p, key);
        else
            asks_.emplace(p, key);
    }
    void erase(Side s, Price p) {
        if (s == Side::Buy)
            bids_.erase(p);
        else
            asks_.erase(p);
    }
    std::uint32_t best(Side s) const {
        if (s == Side::Buy) return bids_.empty() ? 0 : bids_.begin()->second;
        return asks_.empty() ? 0 : asks_.begin()->second;
    }

private:
    std::map<Price, std::uint32_t, std::greater<Price>> bids_;
    std::map<Price, std::uint32_t> asks_;
};

// 3. A price ladder: per side an array of keys indexed by price - base over a
// fixed window, a bitmap of occupied slots, and the best index kept up to
// date (after the best level goes, the bitmap is scanned for the next).
class LadderLevels {
public:
    explicit LadderLevels(Price base, std::size_t width) : base_(base) {
        for (auto& sd : sides_) {
            sd.keys.assign(width, 0);
            sd.bits.assign((width + 63) / 64, 0);
        }
    }
    std::uint32_t find(Side s, Price p) const { return side(s).keys[slot(p)]; }
    void insert(Side s, Price p, std::uint32_t key) {
        auto& sd = side(s);
        const std::size_t i = slot(p);
        sd.keys[i] = key;
        sd.bits[i / 64] |= std::uint64_t{1} << (i % 64);
        if (sd.count++ == 0 || (s == Side::Buy ? i > sd.best : i < sd.best)) sd.best = i;
    }
    void erase(Side s, Price p) {
        auto& sd = side(s);
        const std::size_t i = slot(p);
        sd.keys[i] = 0;
        sd.bits[i / 64] &= ~(std::uint64_t{1} << (i % 64));
        if (--sd.count == 0 || i != sd.best) return;
        sd.best = s == Side::Buy ? prev_set(sd, i) : next_set(sd, i);
    }
    std::uint32_t best(Side s) const { return side(s).count ? side(s).keys[side(s).best] : 0; }

private:
    struct Side_ {
        std::vector<std::uint32_t> keys;
        std::vector<std::uint64_t> bits;
        std::size_t best = 0, count = 0;
    };
    std::size_t slot(Price p) const { return static_cast<std::size_t>(p - base_); }
    static std::size_t next_set(const Side_& sd, std::size_t i) {
        std::size_t w = i / 64;
        std::uint64_t m = sd.bits[w] & (~std::uint64_t{0} << (i % 64));
        while (m == 0) m = sd.bits[++w];
        return w * 64 + static_cast<std::size_t>(std::countr_zero(m));
    }
    static std::size_t prev_set(const Side_& sd, std::size_t i) {
        std::size_t w = i / 64;
        std::uint64_t m = sd.bits[w] & ((i % 64) == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (i % 64 + 1)) - 1);
        while (m == 0) m = sd.bits[--w];
        return w * 64 + 63 - static_cast<std::size_t>(std::countl_zero(m));
    }
    Side_& side(Side s) { return sides_[static_cast<int>(s)]; }
    const Side_& side(Side s) const { return sides_[static_cast<int>(s)]; }
    Price base_;
    Side_ sides_[2];
};

template <class Levels>
std::uint64_t run(Levels& lv, const std::vector<LevelOp>& trace, nb::Samples* batches) {
    std::uint64_t sum = 0;
    std::uint32_t next_key = 1;
    constexpr std::size_t kBatch = 100;
    for (std::size_t b = 0; b < trace.size(); b += kBatch) {
        const std::size_t e = std::min(trace.size(), b + kBatch);
        const std::uint64_t t0 = batches ? nb::tsc_start() : 0;
        for (std::size_t i = b; i < e; ++i) {
            const LevelOp& op = trace[i];
            switch (op.kind) {
                case LevelOp::Insert: lv.insert(op.side, op.price, next_key++); break;
                case LevelOp::Find: sum += lv.find(op.side, op.price); break;
                case LevelOp::Erase: lv.erase(op.side, op.price); break;
                case LevelOp::Best: sum += lv.best(op.side); break;
            }
        }
        if (batches) {
            const std::uint64_t t1 = nb::tsc_stop();
            batches->add(static_cast<double>(t1 - t0) / static_cast<double>(e - b));
        }
    }
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    const nb::Cli cli = nb::parse_cli(argc, argv);
    nb::TscInfo tsc = nb::calibrate();
    nb::Report report(cli.out);
    const std::size_t n = cli.quick ? 20'000 : 1'000'000;
    const int rounds = cli.quick ? 1 : 5;

    std::vector<LevelOp> trace;
    Price lo = 0, hi = 0;
    {
        const auto flow = nexus::bench::record_book_flow(n);
        Pools pools{PoolConfig{.orders = 1 << 20, .levels = 1 << 14}};
        TraceListener tl{&trace, {}, false};
        Book<TraceListener> book(pools, tl, 1, BookLimits{}, 1 << 16);
        for (const auto& op : flow) nexus::test::apply(book, op);
        lo = hi = trace.empty() ? 0 : trace[0].price;
        for (const auto& op : trace) lo = std::min(lo, op.price), hi = std::max(hi, op.price);
    }
    std::size_t kinds[4] = {};
    for (const auto& op : trace) ++kinds[op.kind];
    report.info("tsc_ghz", std::to_string(tsc.ticks_per_ns));
    report.info("flow_ops", std::to_string(n));
    report.info("trace_ops", std::to_string(trace.size()));
    report.info("insert", std::to_string(kinds[0]));
    report.info("find", std::to_string(kinds[1]));
    report.info("erase", std::to_string(kinds[2]));
    report.info("best", std::to_string(kinds[3]));
    report.info("price_span", std::to_string(hi - lo + 1));

    constexpr int kImpls = 5;
    const std::string impls[kImpls] = {"sorted array", "sorted array, branch-free scan",
                                       "sorted array + 64-entry level cache (the Book's)", "std::map per side",
                                       "price ladder (array + bitmap)"};
    nb::Samples per_op[kImpls], wall[kImpls];
    std::uint64_t sums[kImpls] = {};
    // Replays the trace through a fresh structure of kind k; with `batches`, timed in batches.
    auto once = [&](int k, nb::Samples* batches) -> std::uint64_t {
        switch (k) {
            case 0: {
                SortedLevels x;
                return run(x, trace, batches);
            }
            case 1: {
                SortedBranchFree x;
                return run(x, trace, batches);
            }
            case 2: {
                CachedSortedLevels x;
                return run(x, trace, batches);
            }
            case 3: {
                MapLevels x;
                return run(x, trace, batches);
            }
            default: {
                LadderLevels x(lo - 64, static_cast<std::size_t>(hi - lo) + 192);
                return run(x, trace, batches);
            }
        }
    };
    for (int r = 0; r < rounds; ++r) {
        for (int j = 0; j < kImpls; ++j) {
            const int k = (j + r) % kImpls;  // each round starts with the next structure
            const auto t0 = std::chrono::steady_clock::now();
            const std::uint64_t s = once(k, nullptr);
            const auto t1 = std::chrono::steady_clock::now();
            wall[k].add(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(trace.size()));
            once(k, &per_op[k]);
            sums[k] = s;
        }
    }
    for (int k = 1; k < kImpls; ++k)
        if (sums[k] != sums[0]) {
            std::fprintf(stderr, "level structures disagree: %s gives %llu, the sorted array %llu\n", impls[k].c_str(),
                         static_cast<unsigned long long>(sums[k]), static_cast<unsigned long long>(sums[0]));
            return 1;
        }
    for (int k = 0; k < kImpls; ++k) {
        report.row("levels", "ns per op (wall)", 0, impls[k], 0, wall[k]);
        report.row("levels", "ticks per op (batches of 100)", 0, impls[k], 0, per_op[k]);
        std::fprintf(stderr, "levels: %-32s %.1f ns/op (wall), batch mean %.1f ticks\n", impls[k].c_str(),
                     wall[k].quantile(0.5), per_op[k].mean());
    }
    return 0;
}

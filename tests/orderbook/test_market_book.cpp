// MarketBooks (the replay's compact, growable market-data books) against Book
// (the engine's book, through its market-data operations): random operations
// over several instruments sharing one order index — valid and invalid ones:
// unknown IDs, IDs of another instrument, sizes of 0 or above what is left,
// prices out of range, duplicate IDs, IDs far above and below the index's
// window — must give the same results, the same listener events in the same
// order and the same depth, with both books' invariants holding.
#include <catch2/catch.hpp>

#include <nexus/orderbook/book_set.hpp>
#include <nexus/orderbook/market_book.hpp>
#include <nexus/slab/slab.hpp>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace nexus::orderbook;

namespace {

// Every event as one comparable record.
struct Event {
    char kind;  // a accepted, r rejected, t trade, c cancelled, m modified, l level
    InstrumentId inst;
    OrderId id, other;
    Price price;
    Qty qty;
    std::uint32_t extra;
    bool operator==(const Event&) const = default;
};
struct EventLog {
    std::vector<Event> ev;
    void on_accepted(InstrumentId i, OrderId id, Side s, Price p, Qty q) {
        ev.push_back({'a', i, id, 0, p, q, static_cast<std::uint32_t>(s)});
    }
    void on_rejected(InstrumentId i, OrderId id, Reject r) {
        ev.push_back({'r', i, id, 0, 0, 0, static_cast<std::uint32_t>(r)});
    }
    void on_trade(InstrumentId i, const Trade& t) {
        ev.push_back({'t', i, t.maker, t.taker, t.price, t.qty, static_cast<std::uint32_t>(t.taker_side)});
    }
    void on_cancelled(InstrumentId i, OrderId id, Qty q, CancelReason r) {
        ev.push_back({'c', i, id, 0, 0, q, static_cast<std::uint32_t>(r)});
    }
    void on_modified(InstrumentId i, OrderId id, Price p, Qty q, bool k) { ev.push_back({'m', i, id, 0, p, q, k}); }
    void on_level(InstrumentId i, Side s, Price p, Qty total, std::uint32_t count) {
        ev.push_back({'l', i, 0, static_cast<OrderId>(s), p, total, count});
    }
};

long ops_from_env(long dflt) {
    const char* s = std::getenv("NEXUS_DIFF_OPS");
    return s ? std::atol(s) : dflt;
}

// Random market-data operations on a few instruments, mostly valid.
struct Gen {
    std::mt19937_64 rng;
    OrderId next_id = 1;
    std::vector<std::pair<OrderId, InstrumentId>> live;  // IDs that were accepted (may have left since)
    explicit Gen(std::uint64_t seed) : rng(seed) {}
    std::uint64_t below(std::uint64_t n) { return rng() % n; }
    bool chance(unsigned pct) { return below(100) < pct; }
    // A known ID (usually), sometimes of another instrument, sometimes unknown or 0.
    OrderId pick(InstrumentId& inst) {
        if (!live.empty() && chance(92)) {
            const auto& [id, i] = live[below(live.size())];
            if (!chance(5)) inst = i;  // else: the same ID asked of another instrument
            return id;
        }
        return chance(50) ? 0 : next_id + 1 + below(1000);
    }
    Price price() {
        if (chance(2)) {
            const Price odd[] = {0, -5, kMarketMaxPrice, kMarketMaxPrice + 1, 1, 4'000'000'000};
            return odd[below(6)];
        }
        return 1'000'000 + static_cast<Price>(below(60)) * 100;
    }
    Qty qty(std::uint64_t left) {
        if (chance(3)) {
            // (a negative count from a signed source wraps to a Qty far above kMarketMaxQty)
            const Qty odd[] = {0, static_cast<Qty>(std::int64_t{-1}), kMarketMaxQty, kMarketMaxQty + 1, left + 1};
            return odd[below(5)];
        }
        return 1 + below(left == 0 ? 500 : left);
    }
    OrderId fresh() {
        // Mostly rising; now and then a jump far above (the window slides) or
        // an ID below everything seen (straight to the overflow table).
        if (chance(1)) next_id += (std::uint64_t{1} << (20 + below(20)));
        if (chance(1)) return 1 + below(next_id);  // possibly a duplicate
        return ++next_id;
    }
};

template <class Fast, class Slow>
void expect_same_depth(const Fast& fast, const Slow& slow, long step, std::string& problem, long& mismatches) {
    for (Side s : {Side::Buy, Side::Sell}) {
        if (fast.depth(s) != slow.depth(s)) {
            if (problem.empty())
                problem =
                    "step " + std::to_string(step) + ": depth differs, instrument " + std::to_string(fast.instrument());
            ++mismatches;
        }
    }
    if (fast.order_count() != slow.order_count()) {
        if (problem.empty()) problem = "step " + std::to_string(step) + ": order counts differ";
        ++mismatches;
    }
}

}  // namespace

TEST_CASE("market books: same results, events and depth as Book over random market data", "[market][differential]") {
    const long n_ops = ops_from_env(400'000);
    constexpr InstrumentId kInstruments = 5;
    EventLog fast_log, slow_log;
    MarketBooks<EventLog> fast(fast_log);  // no reservation: every cell comes from growth
    Pools pools{PoolConfig{.orders = 1 << 16, .levels = 1 << 14}};
    WindowIndex shared(WindowIndex::Pages{4});  // a small window, so IDs slide out of it
    BookSet<EventLog, SharedIndex<WindowIndex>> slow(pools, slow_log, SharedIndex<WindowIndex>(&shared));
    for (InstrumentId i = 1; i <= kInstruments; ++i) {
        fast.open(i);
        slow.open(i);
    }
    Gen gen(20261127);
    long mismatches = 0, rejects = 0;
    std::string problem;
    for (long step = 0; step < n_ops; ++step) {
        auto inst = static_cast<InstrumentId>(1 + gen.below(kInstruments));
        auto& f = *fast.get(inst);
        bool r1 = false, r2 = false;
        // Deletes win while the live set is large, so it stays within the reference book's pools.
        const auto kind = fast.live_orders() > 5'000 ? 70 : gen.below(100);
        if (kind < 40 || gen.live.empty()) {  // add
            const OrderId id = gen.chance(1) ? 0 : gen.fresh();
            const Side side = gen.chance(50) ? Side::Buy : Side::Sell;
            const Price p = gen.price();
            const Qty q = gen.qty(0);
            r1 = f.add(id, side, p, q);
            r2 = slow.get(inst)->add(id, side, p, q);
            if (r1) gen.live.emplace_back(id, inst);
        } else if (kind < 55) {  // execute / execute at a price
            const OrderId id = gen.pick(inst);
            const auto o = fast.get(inst)->find(id);
            const Qty q = gen.qty(o ? o->qty : 0);
            if (gen.chance(80)) {
                r1 = fast.get(inst)->execute(id, q);
                r2 = slow.get(inst)->execute(id, q);
            } else {
                const Price p = gen.price();
                r1 = fast.get(inst)->execute_at(id, q, p);
                r2 = slow.get(inst)->execute_at(id, q, p);
            }
        } else if (kind < 65) {  // partial cancel
            const OrderId id = gen.pick(inst);
            const auto o = fast.get(inst)->find(id);
            const Qty q = gen.qty(o ? o->qty : 0);
            r1 = fast.get(inst)->cancel_qty(id, q);
            r2 = slow.get(inst)->cancel_qty(id, q);
        } else if (kind < 88) {  // delete
            const OrderId id = gen.pick(inst);
            r1 = fast.get(inst)->remove(id);
            r2 = slow.get(inst)->remove(id);
        } else {  // replace
            const OrderId id = gen.pick(inst);
            const OrderId nid = gen.chance(2) ? id : gen.fresh();
            const Price p = gen.price();
            const Qty q = gen.qty(0);
            r1 = fast.get(inst)->replace(id, nid, q, p);
            r2 = slow.get(inst)->replace(id, nid, q, p);
            if (r1) gen.live.emplace_back(nid, inst);
        }
        if (r1 != r2) {
            if (problem.empty())
                problem = "step " + std::to_string(step) + ": results differ (kind " + std::to_string(kind) +
                          ", fast " + std::to_string(r1) + ")";
            ++mismatches;
        }
        rejects += !r1;
        if (fast_log.ev != slow_log.ev) {
            if (problem.empty()) problem = "step " + std::to_string(step) + ": events differ";
            ++mismatches;
        }
        fast_log.ev.clear();
        slow_log.ev.clear();
        expect_same_depth(*fast.get(inst), *slow.get(inst), step, problem, mismatches);
        if (step % 64 == 0) {
            const std::string inv = fast.get(inst)->check_invariants(true);
            if (!inv.empty()) {
                if (problem.empty()) problem = "step " + std::to_string(step) + ": invariant: " + inv;
                ++mismatches;
            }
        }
        if (gen.live.size() > 2 * fast.live_orders() + 4000) {  // forget IDs that have left
            std::erase_if(gen.live, [&](const auto& e) { return !fast.get(e.second)->find(e.first); });
        }
        if (!problem.empty()) break;
    }
    INFO(problem);
    CHECK(mismatches == 0);
    CHECK(rejects > n_ops / 50);  // the invalid cases were exercised
    std::size_t live = 0;
    for (InstrumentId i = 1; i <= kInstruments; ++i) {
        CHECK(fast.get(i)->check_invariants(true) == "");
        expect_same_depth(*fast.get(i), *slow.get(i), n_ops, problem, mismatches);
        live += fast.get(i)->order_count();
    }
    CHECK(mismatches == 0);
    CHECK(fast.live_orders() == live);
    CHECK(shared.overflow_size() > 0);  // IDs did leave the window
}

TEST_CASE("market books: the pools grow with the live set from nothing, and clear() gives every cell back",
          "[market]") {
    NullListener nl;
    MarketBooks<> books(nl);
    CHECK(books.pools().orders.capacity() == 0);
    auto& b = books.open(3);
    for (OrderId id = 1; id <= 100'000; ++id)
        REQUIRE(b.add(id, id % 2 ? Side::Buy : Side::Sell, 1'000'000 + static_cast<Price>(id % 997) * (id % 2 ? -1 : 1),
                      10));
    CHECK(books.live_orders() == 100'000);
    CHECK(books.pools().orders.capacity() >= 100'000);
    CHECK(books.pools().orders.capacity() < 100'000 + MarketPools::kOrderChunk);  // chunk by chunk, not up front
    CHECK(b.check_invariants(true) == "");
    b.clear();
    CHECK(books.live_orders() == 0);
    CHECK(books.live_levels() == 0);
    CHECK(b.order_count() == 0);
    CHECK_FALSE(b.best(Side::Buy));
    CHECK(books.index().size() == 0);
}

TEST_CASE("market books: a book is one cache line, an order cell two to a line", "[market]") {
    STATIC_REQUIRE(sizeof(MarketBook<>) == 64);
    STATIC_REQUIRE(sizeof(MarketOrder) + nexus::slab::kOverheadPerValue<MarketOrder> == 32);
}

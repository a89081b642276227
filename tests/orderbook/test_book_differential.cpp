// A million random operations through Book and through PlainBook (std::map of
// std::list, written plainly): the same result, the same trades and the same
// full depth after every step, and Book's invariants hold after every step.
#include <catch2/catch.hpp>

#include <nexus/orderbook/book.hpp>
#include <nexus/orderbook/plain_book.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "random_ops.hpp"
#include "recorder.hpp"

using namespace nexus::orderbook;
using namespace nexus::test;

namespace {

struct TradeLog {
    std::vector<Trade> trades;
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) {}
    void on_rejected(InstrumentId, OrderId, Reject) {}
    void on_trade(InstrumentId, const Trade& t) { trades.push_back(t); }
    void on_cancelled(InstrumentId, OrderId, Qty, CancelReason) {}
    void on_modified(InstrumentId, OrderId, Price, Qty, bool) {}
    void on_level(InstrumentId, Side, Price, Qty, std::uint32_t) {}
};

long ops_from_env(long dflt) {
    const char* s = std::getenv("NEXUS_DIFF_OPS");
    return s ? std::atol(s) : dflt;
}

}  // namespace

TEST_CASE("differential: Book matches the plain std::map book over a million random operations",
          "[book][differential]") {
    const long n_ops = ops_from_env(1'000'000);
    Pools pools{PoolConfig{.orders = 1 << 14, .levels = 1 << 10}};
    TradeLog fast_log, plain_log;
    Book<TradeLog> fast(pools, fast_log, 1, BookLimits{.min_price = 1, .max_price = 1'000'000, .max_qty = 100'000});
    PlainBook<TradeLog> plain(plain_log, 1, BookLimits{.min_price = 1, .max_price = 1'000'000, .max_qty = 100'000});
    OpGenerator gen(20261126, 10'000, 40, /*max live*/ 600);
    std::vector<OrderId> live;
    long mismatches = 0, trades = 0, rejects = 0, crossings = 0, live_sum = 0;
    std::string first_problem;
    auto note = [&](long step, const std::string& what) {
        if (first_problem.empty()) first_problem = "step " + std::to_string(step) + ": " + what;
        ++mismatches;
    };
    for (long step = 0; step < n_ops; ++step) {
        const auto bb = fast.best(Side::Buy), ba = fast.best(Side::Sell);
        const Price best_bid = bb ? bb->price : 0, best_ask = ba ? ba->price : 0;
        Op op = gen.next(live, best_bid, best_ask);
        resolve(
            op, gen, [&](OrderId id) { return fast.find(id); }, best_bid, best_ask);
        fast_log.trades.clear();
        plain_log.trades.clear();
        const bool r1 = apply(fast, op);
        const bool r2 = apply(plain, op);
        if (r1 != r2) note(step, "results differ for op kind " + std::to_string(op.kind));
        if (!r1) ++rejects;
        trades += static_cast<long>(fast_log.trades.size());
        if (fast_log.trades.size() != plain_log.trades.size() ||
            !std::equal(fast_log.trades.begin(), fast_log.trades.end(), plain_log.trades.begin(), same_trade))
            note(step, "trades differ");
        if (fast.depth(Side::Buy) != plain.depth(Side::Buy) || fast.depth(Side::Sell) != plain.depth(Side::Sell))
            note(step, "depth differs");
        if (fast.order_count() != plain.order_count()) note(step, "order counts differ");
        const std::string inv = fast.check_invariants(true);
        if (!inv.empty()) note(step, "invariant: " + inv);
        const auto nb = fast.best(Side::Buy), na = fast.best(Side::Sell);
        if (nb && na && nb->price >= na->price) ++crossings;
        live_sum += static_cast<long>(fast.order_count());
        // Keep the live list current: add new IDs, drop the ones that left.
        if (op.kind == Op::Submit && fast.find(op.rq.id)) live.push_back(op.rq.id);
        if ((op.kind == Op::MdAdd) && fast.find(op.id)) live.push_back(op.id);
        if (op.kind == Op::MdReplace && fast.find(op.new_id)) live.push_back(op.new_id);
        if (step % 16 == 0 || live.size() > 2000) {
            live.erase(std::remove_if(live.begin(), live.end(), [&](OrderId id) { return fast.find(id) == nullptr; }),
                       live.end());
        }
        if (mismatches > 20) break;
    }
    INFO(first_problem);
    CHECK(mismatches == 0);
    CHECK(crossings == 0);  // market-data adds are passive, so matching alone must keep it uncrossed
    // The run exercised what it claims to.
    CHECK(trades > n_ops / 10);
    CHECK(rejects > n_ops / 100);
    CHECK(rejects < n_ops / 4);
    CHECK(live_sum / n_ops > 100);  // a book with depth, not an empty one
}

// The recorded order flow of the order-book benchmarks' mixed workload:
// tests/orderbook/random_ops.hpp's generator, resolved against a book so that
// every structure it is replayed through sees exactly the same operations.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <nexus/orderbook/book.hpp>

#include "orderbook/random_ops.hpp"

namespace nexus::bench {

constexpr orderbook::Price kFlowMid = 10'000;

inline std::vector<nexus::test::Op> record_book_flow(std::size_t n) {
    using nexus::test::Op;
    orderbook::Pools pools{orderbook::PoolConfig{.orders = 1 << 20, .levels = 1 << 14}};
    orderbook::NullListener nl;
    orderbook::Book<orderbook::NullListener> book(pools, nl, 1, orderbook::BookLimits{}, 1 << 16);
    nexus::test::OpGenerator gen(77, kFlowMid, 40, 3000);
    std::vector<orderbook::OrderId> live;
    std::vector<Op> flow;
    flow.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto bb = book.best(orderbook::Side::Buy), ba = book.best(orderbook::Side::Sell);
        const orderbook::Price bid = bb ? bb->price : 0, ask = ba ? ba->price : 0;
        Op op = gen.next(live, bid, ask);
        nexus::test::resolve(
            op, gen, [&](orderbook::OrderId id) { return book.find(id); }, bid, ask);
        nexus::test::apply(book, op);
        flow.push_back(op);
        if (op.kind == Op::Submit && book.find(op.rq.id)) live.push_back(op.rq.id);
        if (op.kind == Op::MdAdd && book.find(op.id)) live.push_back(op.id);
        if (op.kind == Op::MdReplace && book.find(op.new_id)) live.push_back(op.new_id);
        if (i % 64 == 0)
            live.erase(std::remove_if(live.begin(), live.end(), [&](orderbook::OrderId id) { return !book.find(id); }),
                       live.end());
    }
    return flow;
}

}  // namespace nexus::bench

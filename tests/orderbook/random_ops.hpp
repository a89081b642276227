// A random order-flow generator shared by the differential and allocation
// tests: every operation type, market data and order entry, some invalid.
#pragma once

#include <nexus/orderbook/types.hpp>

#include <cstdint>
#include <random>
#include <vector>

namespace nexus::test {

struct Op {
    enum Kind : std::uint8_t {
        Submit,
        Cancel,
        Modify,
        MdAdd,
        MdExecute,
        MdExecuteAt,
        MdCancelQty,
        MdDelete,
        MdReplace
    };
    Kind kind;
    orderbook::OrderRequest rq;     // Submit
    orderbook::OrderId id = 0;      // the others
    orderbook::OrderId new_id = 0;  // MdReplace
    orderbook::Side side = orderbook::Side::Buy;
    orderbook::Price price = 0;
    orderbook::Qty qty = 0;
    bool wrong_side = false;  // Modify: deliberately name the other side
};

// Prices stay within mid +- band so the number of levels is bounded.
class OpGenerator {
public:
    explicit OpGenerator(std::uint64_t seed, orderbook::Price mid = 10'000, orderbook::Price band = 40,
                         std::size_t max_live = 3000)
        : rng_(seed), mid_(mid), band_(band), max_live_(max_live) {}

    // `live` are the IDs believed live (the caller keeps it current);
    // best_bid/best_ask bound market-data adds to the passive side.
    Op next(const std::vector<orderbook::OrderId>& live, orderbook::Price best_bid, orderbook::Price best_ask) {
        Op op{};
        const unsigned r = pick(1000);
        const bool any = !live.empty();
        auto live_id = [&]() -> orderbook::OrderId {
            if (!any || pick(50) == 0) return 900'000'000 + pick(1000);  // unknown
            return live[pick(static_cast<unsigned>(live.size()))];
        };
        auto qty = [&]() -> orderbook::Qty {
            const unsigned q = pick(100);
            // Invalid: zero, or a negative count from a signed source (wrapped far above max_qty).
            if (q == 0) return pick(2) ? 0 : static_cast<orderbook::Qty>(std::int64_t{-3});
            return 1 + pick(q < 80 ? 100 : 1000);
        };
        const bool full = live.size() >= max_live_;
        if ((r < 420 && !full) || !any) {
            op.kind = Op::Submit;
            op.rq.id = next_id_++;
            if (pick(200) == 0) op.rq.id = any ? live[0] : 0;  // duplicate or zero
            op.rq.owner = 1 + pick(6);
            op.rq.side = pick(2) ? orderbook::Side::Buy : orderbook::Side::Sell;
            // Most limit orders join their own side; one in five is priced anywhere (and may take).
            op.rq.price = pick(5) ? passive(op.rq.side, best_bid, best_ask) : price_near();
            if (pick(300) == 0) op.rq.price = -1;  // out of range
            op.rq.qty = qty();
            const unsigned t = pick(100);
            if (t < 6)
                op.rq.type = orderbook::OrderType::Market,
                op.rq.tif = pick(3) ? orderbook::TimeInForce::IOC : orderbook::TimeInForce::FOK;
            else if (t < 14)
                op.rq.tif = orderbook::TimeInForce::IOC;
            else if (t < 20)
                op.rq.tif = orderbook::TimeInForce::FOK;
            else if (t < 27)
                op.rq.post_only = true;
            if (pick(400) == 0)
                op.rq.type = orderbook::OrderType::Market, op.rq.post_only = true;  // invalid combination
            op.rq.stp = static_cast<orderbook::SelfTrade>(pick(3));
        } else if (r < 620) {
            op.kind = Op::Cancel;
            op.id = live_id();
        } else if (r < 760) {
            op.kind = Op::Modify;
            op.id = live_id();
            op.wrong_side = pick(40) == 0;
            op.price = pick(2) ? 0 : price_near();  // 0: keep the order's price (resolve() fills it in)
            op.qty = qty();
        } else if (r < 820) {
            op.kind = Op::MdAdd;
            op.id = next_id_++;
            op.side = pick(2) ? orderbook::Side::Buy : orderbook::Side::Sell;
            op.price = passive(op.side, best_bid, best_ask);
            op.qty = qty();
        } else if (r < 870) {
            op.kind = Op::MdExecute;
            op.id = live_id();
            op.qty = 1 + pick(60);
        } else if (r < 890) {
            op.kind = Op::MdExecuteAt;
            op.id = live_id();
            op.qty = 1 + pick(60);
            op.price = price_near();
        } else if (r < 940) {
            op.kind = Op::MdCancelQty;
            op.id = live_id();
            op.qty = 1 + pick(60);
        } else if (r < 970) {
            op.kind = Op::MdDelete;
            op.id = live_id();
        } else {
            op.kind = Op::MdReplace;
            op.id = live_id();
            op.new_id = next_id_++;
            op.qty = qty();
            op.price = 0;  // the caller picks a passive price for the order's side
        }
        return op;
    }

    orderbook::Price passive(orderbook::Side side, orderbook::Price best_bid, orderbook::Price best_ask) {
        const orderbook::Price p = price_near();
        if (side == orderbook::Side::Buy)
            return best_ask > 0 && p >= best_ask ? best_ask - 1 - static_cast<orderbook::Price>(pick(5)) : p;
        return best_bid > 0 && p <= best_bid ? best_bid + 1 + static_cast<orderbook::Price>(pick(5)) : p;
    }

    unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }
    orderbook::Price price_near() {
        return mid_ - band_ + static_cast<orderbook::Price>(pick(static_cast<unsigned>(2 * band_ + 1)));
    }

private:
    std::mt19937_64 rng_;
    orderbook::Price mid_, band_;
    std::size_t max_live_;
    orderbook::OrderId next_id_ = 1;
};

// Fills in what depends on the order's current state (its side, its price),
// once, before the op is applied to any book.
template <class Lookup>
void resolve(Op& op, OpGenerator& gen, Lookup&& lookup, orderbook::Price best_bid, orderbook::Price best_ask) {
    const orderbook::Order* o = (op.kind == Op::Modify || op.kind == Op::MdReplace) ? lookup(op.id) : nullptr;
    if (op.kind == Op::Modify) {
        op.side = o ? (op.wrong_side ? opposite(o->side) : o->side) : orderbook::Side::Buy;
        if (op.price == 0) op.price = o ? o->price : 100;
    } else if (op.kind == Op::MdReplace) {
        op.price = o ? gen.passive(o->side, best_bid, best_ask) : 100;
    }
}

// Applies a resolved op to any book with the common API.
template <class B>
bool apply(B& book, const Op& op) {
    switch (op.kind) {
        case Op::Submit: return book.submit(op.rq);
        case Op::Cancel: return book.cancel(op.id);
        case Op::Modify: return book.modify(op.id, op.side, op.price, op.qty);
        case Op::MdAdd: return book.add(op.id, op.side, op.price, op.qty);
        case Op::MdExecute: return book.execute(op.id, op.qty);
        case Op::MdExecuteAt: return book.execute_at(op.id, op.qty, op.price);
        case Op::MdCancelQty: return book.cancel_qty(op.id, op.qty);
        case Op::MdDelete: return book.remove(op.id);
        case Op::MdReplace: return book.replace(op.id, op.new_id, op.qty, op.price);
    }
    return false;
}

}  // namespace nexus::test

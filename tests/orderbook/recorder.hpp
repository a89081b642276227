// A listener that keeps every event, for tests.
#pragma once

#include <nexus/orderbook/types.hpp>

#include <vector>

namespace nexus::test {

struct Recorder {
    struct Cancel {
        orderbook::OrderId id;
        orderbook::Qty qty;
        orderbook::CancelReason why;
        bool operator==(const Cancel&) const = default;
    };
    struct Modify {
        orderbook::OrderId id;
        orderbook::Price price;
        orderbook::Qty qty;
        bool kept;
    };
    struct LevelEvent {
        orderbook::Side side;
        orderbook::Price price;
        orderbook::Qty total;
        std::uint32_t count;
    };
    std::vector<orderbook::OrderId> accepted;
    std::vector<std::pair<orderbook::OrderId, orderbook::Reject>> rejected;
    std::vector<orderbook::Trade> trades;
    std::vector<Cancel> cancels;
    std::vector<Modify> modifies;
    std::vector<LevelEvent> levels;

    void on_accepted(orderbook::InstrumentId, orderbook::OrderId id, orderbook::Side, orderbook::Price,
                     orderbook::Qty) {
        accepted.push_back(id);
    }
    void on_rejected(orderbook::InstrumentId, orderbook::OrderId id, orderbook::Reject r) {
        rejected.emplace_back(id, r);
    }
    void on_trade(orderbook::InstrumentId, const orderbook::Trade& t) { trades.push_back(t); }
    void on_cancelled(orderbook::InstrumentId, orderbook::OrderId id, orderbook::Qty q, orderbook::CancelReason why) {
        cancels.push_back({id, q, why});
    }
    void on_modified(orderbook::InstrumentId, orderbook::OrderId id, orderbook::Price p, orderbook::Qty q, bool kept) {
        modifies.push_back({id, p, q, kept});
    }
    void on_level(orderbook::InstrumentId, orderbook::Side s, orderbook::Price p, orderbook::Qty total,
                  std::uint32_t count) {
        levels.push_back({s, p, total, count});
    }
    void clear() { *this = Recorder{}; }
};

inline bool same_trade(const orderbook::Trade& a, const orderbook::Trade& b) {
    return a.maker == b.maker && a.taker == b.taker && a.price == b.price && a.qty == b.qty &&
           a.taker_side == b.taker_side;
}

}  // namespace nexus::test

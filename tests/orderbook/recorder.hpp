// A listener that keeps every event, for tests.
#pragma once

#include <nexus/orderbook/types.hpp>

#include <vector>

namespace nexus::test {

using namespace nexus::orderbook;

struct Recorder {
    struct Cancel {
        OrderId id;
        Qty qty;
        CancelReason why;
        bool operator==(const Cancel&) const = default;
    };
    struct Modify {
        OrderId id;
        Price price;
        Qty qty;
        bool kept;
    };
    struct LevelEvent {
        Side side;
        Price price;
        Qty total;
        std::uint32_t count;
    };
    std::vector<OrderId> accepted;
    std::vector<std::pair<OrderId, Reject>> rejected;
    std::vector<Trade> trades;
    std::vector<Cancel> cancels;
    std::vector<Modify> modifies;
    std::vector<LevelEvent> levels;

    void on_accepted(InstrumentId, OrderId id, Side, Price, Qty) { accepted.push_back(id); }
    void on_rejected(InstrumentId, OrderId id, Reject r) { rejected.emplace_back(id, r); }
    void on_trade(InstrumentId, const Trade& t) { trades.push_back(t); }
    void on_cancelled(InstrumentId, OrderId id, Qty q, CancelReason why) { cancels.push_back({id, q, why}); }
    void on_modified(InstrumentId, OrderId id, Price p, Qty q, bool kept) { modifies.push_back({id, p, q, kept}); }
    void on_level(InstrumentId, Side s, Price p, Qty total, std::uint32_t count) { levels.push_back({s, p, total, count}); }
    void clear() { *this = Recorder{}; }
};

inline bool same_trade(const Trade& a, const Trade& b) {
    return a.maker == b.maker && a.taker == b.taker && a.price == b.price && a.qty == b.qty &&
           a.taker_side == b.taker_side;
}

}  // namespace nexus::test

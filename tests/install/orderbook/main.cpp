// Built against an installed nexus package (component orderbook) by the
// install test: two orders cross and trade at the resting order's price.
#include <nexus/orderbook/book.hpp>

#include <cstdio>

namespace ob = nexus::orderbook;

struct Trades : ob::NullListener {
    ob::Qty shares = 0;
    ob::Price last = 0;
    void on_trade(ob::InstrumentId, const ob::Trade& t) {
        shares += t.qty;
        last = t.price;
    }
};

int main() {
    ob::Pools pools(ob::PoolConfig{.orders = 64, .levels = 16});
    Trades trades;
    ob::Book<Trades> book(pools, trades, 1);
    book.submit({.id = 1, .owner = 1, .side = ob::Side::Sell, .price = 100'0000, .qty = 30});
    book.submit({.id = 2, .owner = 2, .side = ob::Side::Buy, .price = 101'0000, .qty = 20});
    const auto ask = book.best(ob::Side::Sell);
    const bool ok = trades.shares == 20 && trades.last == 100'0000 && ask && ask->qty == 10;
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}

// Every operation and order type of the order book, and each bad input.
#include <catch2/catch.hpp>

#include <nexus/orderbook/book.hpp>
#include <nexus/orderbook/book_set.hpp>
#include <nexus/orderbook/order_index.hpp>
#include <nexus/orderbook/plain_book.hpp>

#include <functional>
#include <limits>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include "recorder.hpp"

using namespace nexus::orderbook;
using nexus::test::Recorder;

namespace {

struct Fixture {
    Pools pools{PoolConfig{.orders = 1024, .levels = 256}};
    Recorder ev;
    Book<Recorder> book{pools, ev, 1, BookLimits{.min_price = 1, .max_price = 1'000'000, .max_qty = 1'000'000}};

    OrderRequest limit(OrderId id, Side side, Price price, Qty qty, OwnerId owner = 0) {
        OrderRequest r;
        r.id = id;
        r.owner = owner == 0 ? static_cast<OwnerId>(id + 1000) : owner;
        r.side = side;
        r.price = price;
        r.qty = qty;
        return r;
    }
    std::vector<OrderId> queue(Side side, Price price) {
        std::vector<OrderId> ids;
        book.for_each_order(side, price, [&](const Order& o) { ids.push_back(o.id); });
        return ids;
    }
    void ok() { REQUIRE(book.check_invariants() == ""); }
};

// The complete observable state: depth on both sides and every order in time order.
struct Snapshot {
    std::vector<LevelInfo> bids, asks;
    std::vector<std::vector<OrderId>> bid_queues, ask_queues;
    bool operator==(const Snapshot&) const = default;
};
template <class B>
Snapshot snapshot(const B& book) {
    Snapshot s{book.depth(Side::Buy), book.depth(Side::Sell), {}, {}};
    for (const auto& l : s.bids) {
        s.bid_queues.emplace_back();
        book.for_each_order(Side::Buy, l.price, [&](const Order& o) { s.bid_queues.back().push_back(o.id); });
    }
    for (const auto& l : s.asks) {
        s.ask_queues.emplace_back();
        book.for_each_order(Side::Sell, l.price, [&](const Order& o) { s.ask_queues.back().push_back(o.id); });
    }
    return s;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "book: resting orders form price levels in time priority", "[book]") {
    REQUIRE(book.add(1, Side::Buy, 100, 10));
    REQUIRE(book.add(2, Side::Buy, 100, 5));
    REQUIRE(book.add(3, Side::Buy, 99, 7));
    REQUIRE(book.add(4, Side::Sell, 105, 3));
    REQUIRE(book.add(5, Side::Sell, 103, 4));
    ok();
    CHECK(*book.best(Side::Buy) == LevelInfo{100, 15, 2});
    CHECK(*book.best(Side::Sell) == LevelInfo{103, 4, 1});
    CHECK(book.depth(Side::Buy) == std::vector<LevelInfo>{{100, 15, 2}, {99, 7, 1}});
    CHECK(book.depth(Side::Sell) == std::vector<LevelInfo>{{103, 4, 1}, {105, 3, 1}});
    CHECK(book.depth(Side::Sell, 1).size() == 1);
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{1, 2});
    REQUIRE(book.find(3) != nullptr);
    CHECK(book.find(3)->qty == 7);
    CHECK(book.find(3)->side == Side::Buy);
    CHECK(book.find(42) == nullptr);
    CHECK(book.order_count() == 5);
    CHECK(book.level_count(Side::Buy) == 2);
    CHECK(ev.accepted.size() == 5);
    CHECK(ev.levels.back().price == 103);
}

TEST_CASE_METHOD(Fixture, "book: market data execute, execute at price, partial cancel, delete", "[book][md]") {
    book.add(1, Side::Buy, 100, 10);
    book.add(2, Side::Buy, 100, 5);
    REQUIRE(book.execute(1, 4));  // partial: keeps its place
    CHECK(ev.trades.back().maker == 1);
    CHECK(ev.trades.back().price == 100);
    CHECK(ev.trades.back().qty == 4);
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{1, 2});
    CHECK(book.find(1)->qty == 6);
    REQUIRE(book.execute_at(1, 1, 101));  // C: prints elsewhere, order stays in its level
    CHECK(ev.trades.back().price == 101);
    CHECK(book.find(1)->price == 100);
    REQUIRE(book.cancel_qty(1, 2));  // X: keeps priority
    CHECK(book.find(1)->qty == 3);
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{1, 2});
    REQUIRE(book.execute(1, 3));  // full: leaves
    CHECK(book.find(1) == nullptr);
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{2});
    REQUIRE(book.cancel_qty(2, 5));  // cancelling everything removes it
    CHECK(book.find(2) == nullptr);
    CHECK_FALSE(book.best(Side::Buy).has_value());
    CHECK(ev.levels.back().count == 0);  // level gone
    book.add(3, Side::Sell, 110, 8);
    REQUIRE(book.remove(3));
    CHECK(ev.cancels.back().id == 3);
    CHECK(ev.cancels.back().qty == 8);
    CHECK(book.order_count() == 0);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: market data replace gets a new ID and joins the back", "[book][md]") {
    book.add(1, Side::Sell, 105, 10);
    book.add(2, Side::Sell, 105, 10);
    book.add(3, Side::Sell, 106, 1);
    REQUIRE(book.replace(1, 10, 12, 105));  // same price: still loses priority
    CHECK(queue(Side::Sell, 105) == std::vector<OrderId>{2, 10});
    CHECK(book.find(1) == nullptr);
    CHECK(book.find(10)->qty == 12);
    REQUIRE(book.replace(2, 11, 3, 106));  // new price: back of that level
    CHECK(queue(Side::Sell, 106) == std::vector<OrderId>{3, 11});
    CHECK(book.find(11)->side == Side::Sell);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: a limit order trades best price first, oldest first, at the resting price",
                 "[book][match]") {
    book.add(1, Side::Sell, 101, 5);
    book.add(2, Side::Sell, 100, 5);
    book.add(3, Side::Sell, 100, 5);
    book.add(4, Side::Sell, 102, 5);
    REQUIRE(book.submit(limit(10, Side::Buy, 101, 12)));
    REQUIRE(ev.trades.size() == 3);
    CHECK(ev.trades[0].maker == 2);
    CHECK(ev.trades[0].price == 100);
    CHECK(ev.trades[1].maker == 3);
    CHECK(ev.trades[2].maker == 1);
    CHECK(ev.trades[2].price == 101);
    CHECK(ev.trades[2].qty == 2);
    CHECK(ev.trades[2].taker == 10);
    CHECK(ev.trades[2].taker_side == Side::Buy);
    CHECK(book.find(10) == nullptr);  // fully filled, nothing rests
    CHECK(book.find(1)->qty == 3);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: a GTC remainder rests at its limit", "[book][match]") {
    book.add(1, Side::Buy, 99, 5);
    REQUIRE(book.submit(limit(2, Side::Sell, 98, 8)));
    CHECK(ev.trades.size() == 1);
    CHECK(ev.trades[0].price == 99);
    CHECK(*book.best(Side::Sell) == LevelInfo{98, 3, 1});
    CHECK_FALSE(book.best(Side::Buy).has_value());
    ok();
}

TEST_CASE_METHOD(Fixture, "book: market orders take everything they can and never rest", "[book][match]") {
    book.add(1, Side::Sell, 100, 5);
    book.add(2, Side::Sell, 200, 5);
    auto rq = limit(3, Side::Buy, 0, 20);
    rq.type = OrderType::Market;
    REQUIRE(book.submit(rq));
    CHECK(ev.trades.size() == 2);
    CHECK(ev.trades[1].price == 200);
    CHECK(ev.cancels.back().id == 3);
    CHECK(ev.cancels.back().qty == 10);
    CHECK(ev.cancels.back().why == CancelReason::Unfilled);
    CHECK(book.order_count() == 0);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: IOC fills what it can and cancels the rest", "[book][match]") {
    book.add(1, Side::Sell, 100, 5);
    book.add(2, Side::Sell, 101, 5);
    auto rq = limit(3, Side::Buy, 100, 8);
    rq.tif = TimeInForce::IOC;
    REQUIRE(book.submit(rq));
    CHECK(ev.trades.size() == 1);
    CHECK(ev.cancels.back().qty == 3);
    CHECK(book.find(3) == nullptr);
    CHECK(book.find(2) != nullptr);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: FOK fills completely or not at all", "[book][match]") {
    book.add(1, Side::Sell, 100, 5);
    book.add(2, Side::Sell, 101, 5);
    const Snapshot before = snapshot(book);
    auto big = limit(3, Side::Buy, 101, 11);
    big.tif = TimeInForce::FOK;
    REQUIRE(book.submit(big));
    CHECK(ev.trades.empty());
    CHECK(ev.cancels.back().why == CancelReason::FokUnfillable);
    CHECK(snapshot(book) == before);
    auto fits = limit(4, Side::Buy, 101, 10);
    fits.tif = TimeInForce::FOK;
    REQUIRE(book.submit(fits));
    CHECK(ev.trades.size() == 2);
    CHECK(book.order_count() == 0);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: post-only rests when passive and is refused when it would take", "[book][match]") {
    book.add(1, Side::Sell, 100, 5);
    auto passive = limit(2, Side::Buy, 99, 5);
    passive.post_only = true;
    REQUIRE(book.submit(passive));
    CHECK(book.find(2) != nullptr);
    const Snapshot before = snapshot(book);
    auto taker = limit(3, Side::Buy, 100, 5);
    taker.post_only = true;
    CHECK_FALSE(book.submit(taker));
    CHECK(ev.rejected.back() == std::make_pair(OrderId{3}, Reject::WouldCross));
    CHECK(snapshot(book) == before);
    ok();
}

TEST_CASE_METHOD(Fixture, "book: self-trade prevention, each mode", "[book][stp]") {
    SECTION("cancel resting: the own order goes, matching continues") {
        book.add(1, Side::Sell, 100, 5, /*owner*/ 7);
        book.add(2, Side::Sell, 100, 5, 8);
        auto rq = limit(3, Side::Buy, 100, 5, 7);
        rq.stp = SelfTrade::CancelResting;
        REQUIRE(book.submit(rq));
        CHECK(ev.cancels.at(0) == Recorder::Cancel{1, 5, CancelReason::SelfTrade});
        REQUIRE(ev.trades.size() == 1);
        CHECK(ev.trades[0].maker == 2);
        CHECK(book.order_count() == 0);
    }
    SECTION("cancel incoming: the resting order stays, the rest of the incoming goes") {
        book.add(1, Side::Sell, 100, 5, 8);
        book.add(2, Side::Sell, 100, 5, 7);
        auto rq = limit(3, Side::Buy, 100, 10, 7);
        rq.stp = SelfTrade::CancelIncoming;
        REQUIRE(book.submit(rq));
        CHECK(ev.trades.size() == 1);
        CHECK(ev.cancels.back() == Recorder::Cancel{3, 5, CancelReason::SelfTrade});
        CHECK(book.find(2) != nullptr);
        CHECK(book.find(3) == nullptr);
    }
    SECTION("cancel both") {
        book.add(1, Side::Sell, 100, 5, 7);
        auto rq = limit(3, Side::Buy, 100, 10, 7);
        rq.stp = SelfTrade::CancelBoth;
        REQUIRE(book.submit(rq));
        CHECK(ev.trades.empty());
        CHECK(ev.cancels.size() == 2);
        CHECK(book.order_count() == 0);
    }
    ok();
}

TEST_CASE_METHOD(Fixture, "book: cancel and modify", "[book][modify]") {
    book.submit(limit(1, Side::Buy, 100, 10));
    book.submit(limit(2, Side::Buy, 100, 10));
    book.submit(limit(3, Side::Buy, 100, 10));
    REQUIRE(book.modify(1, Side::Buy, 100, 4));  // size down: keeps its place
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{1, 2, 3});
    CHECK(ev.modifies.back().kept);
    REQUIRE(book.modify(1, Side::Buy, 100, 6));  // size up: loses it
    CHECK(queue(Side::Buy, 100) == std::vector<OrderId>{2, 3, 1});
    CHECK_FALSE(ev.modifies.back().kept);
    REQUIRE(book.modify(2, Side::Buy, 99, 10));  // price change: new level, back of it
    CHECK(queue(Side::Buy, 99) == std::vector<OrderId>{2});
    CHECK(*book.best(Side::Buy) == LevelInfo{100, 16, 2});
    REQUIRE(book.cancel(3));
    CHECK(ev.cancels.back() == Recorder::Cancel{3, 10, CancelReason::User});
    book.submit(limit(9, Side::Sell, 105, 3));
    REQUIRE(book.modify(1, Side::Buy, 105, 6));  // a modify that crosses trades
    CHECK(ev.trades.back().maker == 9);
    CHECK(*book.best(Side::Buy) == LevelInfo{105, 3, 1});
    ok();
}

TEST_CASE_METHOD(Fixture, "book: each bad input is rejected with its reason and changes nothing", "[book][bad]") {
    book.submit(limit(1, Side::Buy, 100, 10));
    book.submit(limit(2, Side::Sell, 110, 10));
    const Snapshot before = snapshot(book);
    struct Case {
        const char* what;
        std::function<bool()> op;
        Reject want;
    };
    auto market_post = limit(30, Side::Buy, 0, 5);
    market_post.type = OrderType::Market;
    market_post.post_only = true;
    // A negative count from a signed source, converted to the unsigned Qty,
    // wraps above any max_qty a book takes (kMaxQtyLimit).
    auto negative = [](std::int64_t n) { return static_cast<Qty>(n); };
    const std::vector<Case> cases{
        {"duplicate id (submit)", [&] { return book.submit(limit(1, Side::Buy, 90, 1)); }, Reject::DuplicateId},
        {"duplicate id (add)", [&] { return book.add(2, Side::Buy, 90, 1); }, Reject::DuplicateId},
        {"duplicate id (replace target)", [&] { return book.replace(1, 2, 5, 90); }, Reject::DuplicateId},
        {"unknown id (cancel)", [&] { return book.cancel(77); }, Reject::UnknownId},
        {"unknown id (modify)", [&] { return book.modify(77, Side::Buy, 100, 1); }, Reject::UnknownId},
        {"unknown id (execute)", [&] { return book.execute(77, 1); }, Reject::UnknownId},
        {"unknown id (delete)", [&] { return book.remove(77); }, Reject::UnknownId},
        {"unknown id (replace)", [&] { return book.replace(77, 78, 1, 100); }, Reject::UnknownId},
        {"id zero", [&] { return book.submit(limit(0, Side::Buy, 100, 1)); }, Reject::InvalidId},
        {"zero size", [&] { return book.submit(limit(10, Side::Buy, 100, 0)); }, Reject::InvalidQty},
        {"negative size", [&] { return book.submit(limit(11, Side::Buy, 100, negative(-5))); }, Reject::InvalidQty},
        {"negative size (add)", [&] { return book.add(15, Side::Buy, 100, negative(-1)); }, Reject::InvalidQty},
        {"negative size (modify)", [&] { return book.modify(1, Side::Buy, 100, negative(-5)); }, Reject::InvalidQty},
        {"negative size (execute)", [&] { return book.execute(1, negative(-1)); }, Reject::InvalidQty},
        {"negative size (cancel)", [&] { return book.cancel_qty(1, negative(-5)); }, Reject::InvalidQty},
        {"negative size (replace)", [&] { return book.replace(1, 16, negative(-5), 100); }, Reject::InvalidQty},
        {"size above max", [&] { return book.add(12, Side::Buy, 100, 1'000'001); }, Reject::InvalidQty},
        {"execute more than left", [&] { return book.execute(1, 11); }, Reject::InvalidQty},
        {"cancel more than left", [&] { return book.cancel_qty(1, 11); }, Reject::InvalidQty},
        {"modify to zero", [&] { return book.modify(1, Side::Buy, 100, 0); }, Reject::InvalidQty},
        {"price below range", [&] { return book.submit(limit(13, Side::Buy, 0, 1)); }, Reject::PriceOutOfRange},
        {"price above range", [&] { return book.add(14, Side::Sell, 1'000'001, 1); }, Reject::PriceOutOfRange},
        {"modify price out of range", [&] { return book.modify(1, Side::Buy, -3, 1); }, Reject::PriceOutOfRange},
        {"modify changes side", [&] { return book.modify(1, Side::Sell, 100, 5); }, Reject::SideMismatch},
        {"market + post-only", [&] { return book.submit(market_post); }, Reject::InvalidOrder},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        ev.clear();
        CHECK_FALSE(c.op());
        REQUIRE(ev.rejected.size() == 1);
        CHECK(ev.rejected[0].second == c.want);
        CHECK(ev.trades.empty());
        CHECK(ev.levels.empty());
        CHECK(snapshot(book) == before);
        CHECK(book.check_invariants() == "");
    }
}

TEST_CASE("book: max_qty is at most kMaxQtyLimit, so a wrapped negative size is refused", "[book][bad]") {
    Pools pools{PoolConfig{.orders = 16, .levels = 4}};
    Recorder ev;
    CHECK_THROWS_AS(Book<Recorder>(pools, ev, 1, BookLimits{.max_qty = kMaxQtyLimit + 1}), std::invalid_argument);
    CHECK_THROWS_WITH(Book<Recorder>(pools, ev, 1, BookLimits{.max_qty = ~Qty{0}}),
                      "BookLimits::max_qty 18446744073709551615 is above 9223372036854775807");
    CHECK_THROWS_AS(PlainBook<Recorder>(ev, 1, BookLimits{.max_qty = kMaxQtyLimit + 1}), std::invalid_argument);
    // At the ceiling, the largest size is taken and every negative one refused.
    Book<Recorder> book(pools, ev, 1, BookLimits{.max_qty = kMaxQtyLimit});
    for (const std::int64_t n : {std::int64_t{-1}, std::int64_t{-5}, std::numeric_limits<std::int64_t>::min()}) {
        INFO(n);
        CHECK_FALSE(book.add(1, Side::Buy, 100, static_cast<Qty>(n)));
        REQUIRE(ev.rejected.size() == 1);
        CHECK(ev.rejected[0].second == Reject::InvalidQty);
        ev.clear();
    }
    CHECK(book.add(1, Side::Buy, 100, kMaxQtyLimit));
    CHECK(*book.best(Side::Buy) == LevelInfo{100, kMaxQtyLimit, 1});
    CHECK(book.check_invariants() == "");
}

TEST_CASE("book: a full slab is a reject that changes nothing", "[book][bad]") {
    Pools pools{PoolConfig{.orders = 3, .levels = 2}};
    Recorder ev;
    Book<Recorder> book(pools, ev, 1);
    REQUIRE(book.add(1, Side::Buy, 100, 1));
    REQUIRE(book.add(2, Side::Sell, 110, 1));
    const Snapshot before = snapshot(book);
    // No level cell for a third price.
    CHECK_FALSE(book.add(3, Side::Buy, 99, 1));
    CHECK(ev.rejected.back().second == Reject::BookFull);
    OrderRequest rq;
    rq.id = 4;
    rq.side = Side::Buy;
    rq.price = 98;
    rq.qty = 1;
    CHECK_FALSE(book.submit(rq));  // a GTC order that might rest: refused before it trades
    CHECK(ev.rejected.back().second == Reject::BookFull);
    CHECK(snapshot(book) == before);
    // An existing price still has room, until the order slab is full too.
    REQUIRE(book.add(5, Side::Buy, 100, 1));
    CHECK_FALSE(book.add(6, Side::Buy, 100, 1));
    CHECK(ev.rejected.back().second == Reject::BookFull);
    // An IOC never rests, so it still trades.
    rq.id = 7;
    rq.side = Side::Sell;
    rq.price = 100;
    rq.tif = TimeInForce::IOC;
    CHECK(book.submit(rq));
    CHECK(ev.trades.size() == 1);
    CHECK(book.check_invariants() == "");
}

TEST_CASE("book: many instruments share one pool", "[book][set]") {
    Pools pools{PoolConfig{.orders = 64, .levels = 64}};
    Recorder ev;
    BookSet<Recorder> set(pools, ev);
    set.open(3).add(1, Side::Buy, 100, 5);
    set.open(9).add(1, Side::Buy, 200, 7);  // IDs are per book
    CHECK(set.size() == 2);
    CHECK(set.get(3)->best(Side::Buy)->price == 100);
    CHECK(set.get(9)->best(Side::Buy)->price == 200);
    CHECK(set.get(4) == nullptr);
    CHECK(set.get(60000) == nullptr);
    CHECK(pools.orders.size() == 2);
    int n = 0;
    set.for_each([&](auto& b) { n += static_cast<int>(b.order_count()); });
    CHECK(n == 2);
}

TEST_CASE("book: the other indexes behave the same", "[book][index]") {
    Pools pools{PoolConfig{.orders = 4096, .levels = 256}};
    NullListener nl;
    Book<NullListener, PagedIndex> paged(pools, nl, 1);
    Book<NullListener, StdIndex> std_index(pools, nl, 2);
    Book<NullListener, OpenAddressingIndex> open(pools, nl, 3, {}, 4);  // grows from tiny
    Book<NullListener, WindowIndex> window(pools, nl, 4, {}, 1 << 20);  // the count does not size its window
    for (OrderId id = 1; id <= 1000; ++id) {
        const Price p = 100 + static_cast<Price>(id % 20);
        paged.add(id * 3, Side::Buy, p, 1);
        std_index.add(id * 3, Side::Buy, p, 1);
        open.add(id * 3, Side::Buy, p, 1);
        window.add(id * 3, Side::Buy, p, 1);
    }
    for (OrderId id = 1; id <= 1000; id += 2) {
        paged.remove(id * 3);
        std_index.remove(id * 3);
        open.remove(id * 3);
        window.remove(id * 3);
    }
    CHECK(paged.depth(Side::Buy) == open.depth(Side::Buy));
    CHECK(std_index.depth(Side::Buy) == open.depth(Side::Buy));
    CHECK(window.depth(Side::Buy) == open.depth(Side::Buy));
    CHECK(window.check_invariants() == "");
    CHECK(open.order_count() == 500);
    CHECK(open.check_invariants() == "");
    CHECK(paged.check_invariants() == "");
    CHECK(open.find(6) != nullptr);
    CHECK(open.find(3) == nullptr);
}

TEST_CASE("order index: open addressing survives heavy insert/erase churn", "[index]") {
    OpenAddressingIndex idx(4);
    std::unordered_map<OrderId, std::uint32_t> model;
    std::mt19937_64 rng(5);
    for (int i = 0; i < 200'000; ++i) {
        const OrderId id = 1 + rng() % 5000;
        if (model.count(id)) {
            idx.erase(id);
            model.erase(id);
        } else {
            const auto k = static_cast<std::uint32_t>(rng() % 1'000'000);
            idx.insert(id, nexus::slab::Key::from_index(k));
            model[id] = k;
        }
        if (i % 97 == 0) {
            const OrderId probe = 1 + rng() % 5000;
            const auto it = model.find(probe);
            REQUIRE(idx.find(probe) ==
                    (it == model.end() ? nexus::slab::Key::NONE : nexus::slab::Key::from_index(it->second)));
        }
    }
    CHECK(idx.size() == model.size());
    for (const auto& [id, k] : model) REQUIRE(idx.find(id) == nexus::slab::Key::from_index(k));
}

TEST_CASE("order index: the window index agrees with a model through slides, jumps and old IDs", "[index]") {
    WindowIndex idx(WindowIndex::Pages{4});  // 4 pages of 4096: the window slides often
    std::unordered_map<OrderId, std::uint32_t> model;
    std::vector<OrderId> live;
    std::mt19937_64 rng(11);
    OrderId next = 1;
    auto check = [&](OrderId probe) {
        const auto it = model.find(probe);
        REQUIRE(idx.find(probe) ==
                (it == model.end() ? nexus::slab::Key::NONE : nexus::slab::Key::from_index(it->second)));
    };
    for (int i = 0; i < 300'000; ++i) {
        const auto r = rng() % 1000;
        if (r < 520 || live.empty()) {
            OrderId id = next;
            if (r == 0)
                id = next + 1'000'000;  // a jump past the whole window
            else if (r == 1)
                id = next + (OrderId{1} << 40);  // a sparse, far ID
            else if (r < 20 && next > 100'000)
                id = 1 + rng() % 50'000;  // an ID below the window
            if (model.count(id)) continue;
            next = std::max(next, id + 1 + rng() % 3);
            const auto k = static_cast<std::uint32_t>(rng() % 1'000'000);
            idx.insert(id, nexus::slab::Key::from_index(k));
            model[id] = k;
            live.push_back(id);
        } else {
            // Mostly recent orders leave; some old ones linger for a long time.
            const std::size_t n = live.size();
            const std::size_t at = r < 900 ? n - 1 - rng() % std::min<std::size_t>(n, 50) : rng() % n;
            const OrderId id = live[at];
            live[at] = live.back();
            live.pop_back();
            idx.erase(id);
            model.erase(id);
        }
        if (i % 31 == 0) {
            check(next - 1 - rng() % 5000);
            check(live.empty() ? 0 : live[rng() % live.size()]);
        }
    }
    CHECK(idx.size() == model.size());
    for (const auto& [id, k] : model) REQUIRE(idx.find(id) == nexus::slab::Key::from_index(k));
    CHECK(idx.find(0) == nexus::slab::Key::NONE);
    CHECK(idx.overflow_size() > 0);     // old orders did leave the window
    CHECK(idx.pages_allocated() <= 4);  // memory stays bounded by the window
    // Everything can leave again, and the pages are reused.
    for (const auto& [id, k] : model) idx.erase(id);
    CHECK(idx.size() == 0);
    CHECK(idx.overflow_size() == 0);
    idx.insert(next, nexus::slab::Key::from_index(7));
    CHECK(idx.find(next) == nexus::slab::Key::from_index(7));
    CHECK(idx.pages_allocated() <= 4);
}

TEST_CASE("book: books sharing a window index behave like books with their own", "[book][index]") {
    Pools pools{PoolConfig{.orders = 8192, .levels = 512}};
    NullListener nl;
    WindowIndex window(WindowIndex::Pages{2});
    using Shared = SharedIndex<WindowIndex>;
    BookSet<NullListener, Shared> shared(pools, nl, Shared(&window));
    BookSet<NullListener> own(pools, nl);
    std::mt19937_64 rng(3);
    std::vector<std::pair<OrderId, InstrumentId>> live;
    for (OrderId id = 1; id <= 20'000; ++id) {
        const auto inst = static_cast<InstrumentId>(1 + rng() % 5);
        const Side side = rng() % 2 ? Side::Buy : Side::Sell;
        const Price p = side == Side::Buy ? 100 - static_cast<Price>(rng() % 10) : 101 + static_cast<Price>(rng() % 10);
        REQUIRE(shared.open(inst).add(id, side, p, 10));
        REQUIRE(own.open(inst).add(id, side, p, 10));
        live.emplace_back(id, inst);
        while (live.size() > 300 || (!live.empty() && rng() % 3 == 0)) {
            // Mostly the newest orders leave, a few of the oldest stay a long time.
            const std::size_t at = rng() % 8 == 0 ? rng() % live.size() : live.size() - 1;
            const auto [gone, in] = live[at];
            live[at] = live.back();
            live.pop_back();
            REQUIRE(shared.get(in)->remove(gone));
            REQUIRE(own.get(in)->remove(gone));
        }
    }
    REQUIRE(window.overflow_size() > 0);
    for (InstrumentId in = 1; in <= 5; ++in) {
        CHECK(shared.get(in)->check_invariants(true) == "");
        CHECK(shared.get(in)->depth(Side::Buy) == own.get(in)->depth(Side::Buy));
        CHECK(shared.get(in)->depth(Side::Sell) == own.get(in)->depth(Side::Sell));
        CHECK(shared.get(in)->order_count() == own.get(in)->order_count());
    }
    // An order of book 1 is unknown to book 2, whether in the window or not.
    for (const auto& [id, in] : live) {
        const InstrumentId other = static_cast<InstrumentId>(in % 5 + 1);
        CHECK(shared.get(other)->find(id) == nullptr);
        CHECK(shared.get(in)->find(id) != nullptr);
    }
}

TEST_CASE("book: order ID 0 is unknown to every operation (found by fuzzing)", "[book][bad]") {
    // The open-addressing index marks empty slots with ID 0; a lookup of 0
    // once matched an empty slot and returned a bogus key.
    Pools pools{PoolConfig{.orders = 64, .levels = 16}};
    Recorder ev;
    Book<Recorder> book(pools, ev, 1);
    REQUIRE(book.add(5, Side::Buy, 100, 10));
    CHECK(book.find(0) == nullptr);
    CHECK_FALSE(book.cancel(0));
    CHECK_FALSE(book.remove(0));
    CHECK_FALSE(book.execute(0, 1));
    CHECK_FALSE(book.execute_at(0, 1, 100));
    CHECK_FALSE(book.cancel_qty(0, 1));
    CHECK_FALSE(book.replace(0, 6, 1, 100));
    CHECK_FALSE(book.modify(0, Side::Buy, 100, 1));
    CHECK_FALSE(book.add(0, Side::Buy, 100, 1));
    CHECK(ev.rejected.size() == 8);
    CHECK(ev.rejected.back().second == Reject::InvalidId);
    CHECK(book.order_count() == 1);
    CHECK(book.find(5)->qty == 10);
    CHECK(book.check_invariants() == "");
    OpenAddressingIndex idx(4);
    CHECK(idx.find(0) == nexus::slab::Key::NONE);
    idx.insert(1, nexus::slab::Key::from_index(9));
    CHECK(idx.find(0) == nexus::slab::Key::NONE);
}

TEST_CASE("book: books sharing one index never touch each other's orders", "[book][index]") {
    Pools pools{PoolConfig{.orders = 64, .levels = 16}};
    Recorder ev;
    OpenAddressingIndex shared(16);
    using Shared = SharedIndex<OpenAddressingIndex>;
    BookSet<Recorder, Shared> set(pools, ev, Shared(&shared));
    auto& a = set.open(1);
    auto& b = set.open(2);
    REQUIRE(a.add(10, Side::Buy, 100, 5));
    REQUIRE(b.add(20, Side::Sell, 200, 7));
    CHECK(shared.size() == 2);
    CHECK(a.order_count() == 1);
    CHECK(b.order_count() == 1);
    // Book b cannot see, cancel, execute or replace book a's order.
    CHECK(b.find(10) == nullptr);
    CHECK_FALSE(b.cancel(10));
    CHECK_FALSE(b.execute(10, 1));
    CHECK_FALSE(b.replace(10, 11, 1, 100));
    CHECK(ev.rejected.back().second == Reject::UnknownId);
    CHECK(a.find(10)->qty == 5);
    // The IDs are one space: a duplicate across books is refused.
    CHECK_FALSE(b.add(10, Side::Buy, 150, 1));
    CHECK(ev.rejected.back().second == Reject::DuplicateId);
    REQUIRE(a.remove(10));
    CHECK(shared.size() == 1);
    CHECK(a.order_count() == 0);
    CHECK(a.check_invariants() == "");
    CHECK(b.check_invariants() == "");
}

namespace {
// Looks every resting order an event names up in the book while the event is
// being delivered, and keeps what it saw.
struct LookingListener {
    const Book<LookingListener>* book = nullptr;
    struct Seen {
        OrderId id;
        bool present;
        std::uint64_t qty;  // the order's size at the time of the event
        std::uint64_t tag;
    };
    std::vector<Seen> trades, cancels;
    Seen look(OrderId id) const {
        const Order* o = book->find(id);
        return o ? Seen{id, true, o->qty, o->tag} : Seen{id, false, 0, 0};
    }
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) {}
    void on_rejected(InstrumentId, OrderId, Reject) {}
    void on_trade(InstrumentId, const Trade& t) { trades.push_back(look(t.maker)); }
    void on_cancelled(InstrumentId, OrderId id, Qty, CancelReason) { cancels.push_back(look(id)); }
    void on_modified(InstrumentId, OrderId, Price, Qty, bool) {}
    void on_level(InstrumentId, Side, Price, Qty, std::uint32_t) {}
};
}  // namespace

TEST_CASE("book: an order keeps its tag, and events come while the order is still there", "[book]") {
    Pools pools{PoolConfig{.orders = 64, .levels = 16}};
    LookingListener ev;
    Book<LookingListener> book{pools, ev, 1};
    ev.book = &book;
    auto rq = [](OrderId id, Side side, Price price, Qty qty, OwnerId owner, std::uint64_t tag) {
        OrderRequest r;
        r.id = id;
        r.owner = owner;
        r.side = side;
        r.price = price;
        r.qty = qty;
        r.tag = tag;
        return r;
    };
    REQUIRE(book.submit(rq(1, Side::Sell, 100, 50, 7, 0xA1)));
    REQUIRE(book.submit(rq(2, Side::Sell, 100, 30, 8, 0xA2)));
    REQUIRE(book.submit(rq(3, Side::Sell, 101, 20, 7, 0xA3)));
    CHECK(book.find(1)->tag == 0xA1);
    CHECK(book.find(3)->tag == 0xA3);

    // A trade that fills order 1 completely and order 2 in part: each maker
    // is seen in the book with its size before the fill.
    REQUIRE(book.submit(rq(4, Side::Buy, 100, 60, 9, 0xB4)));
    REQUIRE(ev.trades.size() == 2);
    CHECK((ev.trades[0].present && ev.trades[0].qty == 50 && ev.trades[0].tag == 0xA1));
    CHECK((ev.trades[1].present && ev.trades[1].qty == 30 && ev.trades[1].tag == 0xA2));
    CHECK(book.find(1) == nullptr);
    CHECK(book.find(2)->qty == 20);

    // Partial cancel, then a full cancel: the order is there, size before the cancel.
    REQUIRE(book.cancel_qty(2, 5));
    REQUIRE(book.cancel(2));
    REQUIRE(ev.cancels.size() == 2);
    CHECK((ev.cancels[0].present && ev.cancels[0].qty == 20 && ev.cancels[0].tag == 0xA2));
    CHECK((ev.cancels[1].present && ev.cancels[1].qty == 15 && ev.cancels[1].tag == 0xA2));
    CHECK(book.find(2) == nullptr);

    // A modify to another price and a market-data replace keep the tag.
    REQUIRE(book.modify(3, Side::Sell, 102, 20));
    CHECK(book.find(3)->tag == 0xA3);
    REQUIRE(book.replace(3, 30, 25, 103));
    CHECK(book.find(30)->tag == 0xA3);
    CHECK((ev.cancels.back().present && ev.cancels.back().id == 3 && ev.cancels.back().qty == 20));

    // Self-trade prevention cancelling the resting order: seen before it goes.
    REQUIRE(book.submit(rq(5, Side::Buy, 103, 10, 7, 0xB5) /* owner 7 owns order 30 */));
    CHECK(book.find(30) != nullptr);  // default CancelIncoming: the resting order stays
    OrderRequest r6 = rq(6, Side::Buy, 103, 10, 7, 0xB6);
    r6.stp = SelfTrade::CancelResting;
    REQUIRE(book.submit(r6));
    CHECK((ev.cancels.back().present && ev.cancels.back().id == 30 && ev.cancels.back().tag == 0xA3));
    CHECK(book.find(30) == nullptr);
    CHECK(book.find(6)->tag == 0xB6);  // nothing left to trade with: it rests with its tag
    CHECK(book.check_invariants() == "");
}

TEST_CASE("level array: locate, insert and erase agree with an ordered map on both sides", "[book][levels]") {
    for (Side side : {Side::Buy, Side::Sell}) {
        LevelArray a(side, 4);  // small reserve: growth is exercised too
        std::map<Price, std::uint32_t> model;
        std::mt19937_64 rng(side == Side::Buy ? 3 : 4);
        std::uint32_t next_key = 0;
        for (int step = 0; step < 20'000; ++step) {
            // Prices near a drifting touch most of the time, anywhere in a wide band otherwise.
            const Price p = rng() % 4 ? 1'000 + static_cast<Price>(step / 500) + static_cast<Price>(rng() % 12)
                                      : static_cast<Price>(rng() % 3'000);
            const auto [pos, found] = a.locate(p);
            REQUIRE(found == (model.count(p) == 1));
            if (found) {
                REQUIRE(a[pos].price == p);
                REQUIRE(a[pos].key.index() == model[p]);
                if (rng() % 3 == 0 && a.best().price == p)
                    a.pop_best();
                else
                    a.erase(pos);
                model.erase(p);
            } else {
                a.insert(pos, p, nexus::slab::Key::from_index(next_key));
                model[p] = next_key++;
            }
            if (step % 97 == 0 || model.size() < 3) {
                // Worst first, best last; from_touch walks back from the best.
                REQUIRE(a.size() == model.size());
                std::size_t i = 0;
                if (side == Side::Buy)
                    for (auto it = model.begin(); it != model.end(); ++it, ++i) REQUIRE(a[i].price == it->first);
                else
                    for (auto it = model.rbegin(); it != model.rend(); ++it, ++i) REQUIRE(a[i].price == it->first);
                if (!model.empty()) {
                    const Price best = side == Side::Buy ? model.rbegin()->first : model.begin()->first;
                    REQUIRE(a.best().price == best);
                    REQUIRE(a.from_touch(0).price == best);
                }
            }
        }
    }
}

// No heap allocation per order or per level in steady state: global operator
// new is counted across a million operations after warm-up, and must be zero.
// (Its own binary: it replaces the global allocation functions.)
#include <catch2/catch.hpp>

#include <nexus/orderbook/book.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "random_ops.hpp"

namespace {
std::atomic<long> g_news{0};
bool g_counting = false;
}  // namespace

void* operator new(std::size_t n) {
    if (g_counting) g_news.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace nexus::orderbook;
using namespace nexus::test;

namespace {
struct Counting {
    long trades = 0, events = 0;
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) { ++events; }
    void on_rejected(InstrumentId, OrderId, Reject) { ++events; }
    void on_trade(InstrumentId, const Trade&) { ++trades; }
    void on_cancelled(InstrumentId, OrderId, Qty, CancelReason) { ++events; }
    void on_modified(InstrumentId, OrderId, Price, Qty, bool) { ++events; }
    void on_level(InstrumentId, Side, Price, Qty, std::uint32_t) { ++events; }
};
}  // namespace

TEST_CASE("book: no heap allocation per operation in steady state", "[book][alloc]") {
    Pools pools{PoolConfig{.orders = 1 << 14, .levels = 1 << 10}};
    Counting events;
    Book<Counting> book(pools, events, 1, BookLimits{}, /*expected orders*/ 8192);
    OpGenerator gen(99, 10'000, 40, /*max live*/ 3000);
    std::vector<OrderId> live;
    live.reserve(1 << 16);
    auto step = [&] {
        const auto bb = book.best(Side::Buy), ba = book.best(Side::Sell);
        const Price bid = bb ? bb->price : 0, ask = ba ? ba->price : 0;
        Op op = gen.next(live, bid, ask);
        resolve(
            op, gen, [&](OrderId id) { return book.find(id); }, bid, ask);
        apply(book, op);
        if (op.kind == Op::Submit && book.find(op.rq.id)) live.push_back(op.rq.id);
        if (op.kind == Op::MdAdd && book.find(op.id)) live.push_back(op.id);
        if (op.kind == Op::MdReplace && book.find(op.new_id)) live.push_back(op.new_id);
        if (live.size() > 8000) {
            std::size_t w = 0;
            for (OrderId id : live)
                if (book.find(id)) live[w++] = id;
            live.resize(w);
        }
    };
    for (int i = 0; i < 200'000; ++i) step();  // warm-up: index and level arrays reach their working size
    const long trades_before = events.trades;
    g_news = 0;
    g_counting = true;
    for (int i = 0; i < 1'000'000; ++i) step();
    g_counting = false;
    CHECK(g_news.load() == 0);
    CHECK(events.trades - trades_before > 10'000);  // the measured phase did real matching
    CHECK(book.order_count() > 100);
}

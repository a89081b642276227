// nexus/orderbook/market_book.hpp — L3 books rebuilt from a market-data feed.
//
//   nexus::orderbook::NullListener events;
//   nexus::orderbook::MarketBooks<> books(events);            // grows with the data
//   auto& aapl = books.open(/*instrument*/ 7);
//   aapl.add(/*id*/ 1, Side::Buy, 150'0000, 100);
//   aapl.execute(1, 40);
//
// The venue's own book seen through its feed (ITCH semantics: add, execute,
// execute at a printed price, partial cancel, delete, replace; no matching):
// every order, in time priority within its price level, with the same
// validation, results and listener events as Book's market-data operations
// (the differential test runs both side by side). What differs is storage,
// built for replaying a whole day of thousands of instruments on one thread:
//
//  * Memory follows the data. Orders and levels are cells of UnboundedSlabs
//    that grow chunk by chunk as the live set does (`MarketPoolConfig` only
//    reserves cells up front); the index and each side's price array grow
//    too. Nothing has a capacity to exhaust short of the slab's 2^31-cell key
//    space or the machine's memory (std::bad_alloc, which leaves the books
//    destructible and readable though the operation in flight may be lost).
//  * Small cells. An order is 24 bytes (a 32-byte cell, two to a line): its
//    ID, remaining size and three Keys (FIFO neighbours, its level). Price,
//    side and instrument live once in the level, which every operation reads
//    anyway; a level is 27 bytes (a 40-byte cell). Prices are ITCH's Price(4),
//    so they fit 32 bits; sizes are ITCH's 32-bit share counts.
//  * One index for every book (order IDs are unique across a feed): a
//    WindowIndex from ID to order Key. A found order whose level belongs to
//    another instrument is unknown to this book, as with Book's shared index.
//  * A book is one cache line: both sides' price arrays (PriceLevels), its
//    order count and a pointer to what the books share. The books sit by
//    value in one vector indexed by instrument, so finding a message's book
//    is an indexed load.
//
// Listener: the same six calls as Book's (types.hpp), in the same order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nexus/slab/direct.hpp>

#include "nexus/orderbook/order_index.hpp"
#include "nexus/orderbook/price_levels.hpp"
#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

// An order as a market-data book stores it (one slab cell).
struct MarketOrder {
    OrderId id;
    std::uint32_t qty;  // remaining, never 0 while the order lives; a Qty narrowed once checked (kMarketMaxQty)
    slab::Key prev;     // older order at the same level (NONE at the head)
    slab::Key next;     // newer order at the same level (NONE at the tail)
    slab::Key level;    // the level it rests in
};
static_assert(sizeof(MarketOrder) == 24, "two order cells to a cache line");

// A price level: the FIFO of its orders, their totals, and whose it is.
struct MarketLevel {
    Qty total;            // sum of its orders' remaining sizes
    slab::Key head;       // oldest order: first to trade
    slab::Key tail;       // newest order
    std::uint32_t count;  // number of orders
    std::uint32_t price;
    InstrumentId instrument;  // its book (the index is shared by every book)
    Side side;
};

// What a market-data order looks like from outside (queries).
struct MarketOrderInfo {
    OrderId id = 0;
    Side side = Side::Buy;
    Price price = 0;
    Qty qty = 0;
    friend bool operator==(const MarketOrderInfo&, const MarketOrderInfo&) = default;
};

// Cells reserved up front (hints: the slabs grow past them as needed).
struct MarketPoolConfig {
    std::size_t orders = 0;
    std::size_t levels = 0;
};

// The slabs all books of one thread draw from. Chunks are allocated as the
// live set grows; a cell freed goes back on its slab's free list for the next
// order or level (chunks are not returned to the system while the books live).
struct MarketPools {
    static constexpr std::size_t kOrderChunk = 8192;  // 256 KiB of 32-byte cells
    static constexpr std::size_t kLevelChunk = 4096;  // 160 KiB of 40-byte cells
    explicit MarketPools(const MarketPoolConfig& cfg = {})
        : orders({.chunk_capacity = kOrderChunk, .capacity = cfg.orders}),
          levels({.chunk_capacity = kLevelChunk, .capacity = cfg.levels}) {}
    slab::UnboundedSlab<MarketOrder> orders;
    slab::UnboundedSlab<MarketLevel> levels;
};

template <class Listener>
class MarketBooks;

// Limits of a market-data book: ITCH's Price(4) range (1 to 200,000.0000) and
// its 32-bit share counts. Outside them an operation is rejected, as Book
// rejects it with default BookLimits.
inline constexpr Price kMarketMaxPrice = 2'000'000'000;
inline constexpr Qty kMarketMaxQty = 0xFFFF'FFFF;

template <class Listener = NullListener>
class alignas(64) MarketBook {
public:
    MarketBook(MarketBooks<Listener>* owner, InstrumentId instrument) noexcept
        : owner_(owner), instrument_(instrument) {}
    MarketBook(MarketBook&&) noexcept = default;  // (the vector of books may move them)
    MarketBook& operator=(MarketBook&&) noexcept = default;
    MarketBook(const MarketBook&) = delete;
    MarketBook& operator=(const MarketBook&) = delete;
    ~MarketBook() = default;  // cells go back with the pools (MarketBooks::~MarketBooks)

    [[nodiscard]] InstrumentId instrument() const noexcept { return instrument_; }

    // ---- market data --------------------------------------------------------
    //
    // Always inlined: a caller that passes a feed's 32-bit fields lets the
    // compiler drop the range checks those fields cannot fail.

    // A: a new order joins the back of its level.
    [[gnu::always_inline]] bool add(OrderId id, Side side, Price price, Qty qty) {
        if (auto r = validate_fields(id, price, qty)) [[unlikely]]
            return reject(id, *r);
        WindowIndex::Spot spot;
        if (index().find(id, spot).has_value()) [[unlikely]]
            return reject(id, Reject::DuplicateId);
        // The cells hold ITCH's 32-bit widths; validate_fields bounded both.
        const auto p = static_cast<std::uint32_t>(price);
        const auto q = static_cast<std::uint32_t>(qty);
        const bool ok = side == Side::Buy ? rest<Side::Buy>(id, p, q, spot) : rest<Side::Sell>(id, p, q, spot);
        if (!ok) [[unlikely]]
            return reject(id, Reject::BookFull);
        listener().on_accepted(instrument_, id, side, price, qty);
        return true;
    }

    // E: `qty` of a resting order executes at its level's price.
    [[gnu::always_inline]] bool execute(OrderId id, Qty qty) { return execute_impl(id, qty, std::nullopt); }
    // C: executes at another (printed) price; the order keeps its level.
    [[gnu::always_inline]] bool execute_at(OrderId id, Qty qty, Price price) { return execute_impl(id, qty, price); }

    // X: cancels part of an order; it keeps its priority, and leaves at zero.
    [[gnu::always_inline]] bool cancel_qty(OrderId id, Qty qty) {
        const Found f = lookup(id);
        if (!f) [[unlikely]]
            return reject(id, Reject::UnknownId);
        if (qty == 0 || qty > f.order->qty) [[unlikely]]
            return reject(id, Reject::InvalidQty);
        listener().on_cancelled(instrument_, id, qty, CancelReason::MarketData);
        reduce(f, id, static_cast<std::uint32_t>(qty));  // at most the order's 32-bit remainder
        return true;
    }

    // D: removes what is left of an order.
    [[gnu::always_inline]] bool remove(OrderId id) {
        const Found f = lookup(id);
        if (!f) [[unlikely]]
            return reject(id, Reject::UnknownId);
        listener().on_cancelled(instrument_, id, f.order->qty, CancelReason::MarketData);
        unlink_and_free(f, id);
        return true;
    }

    // U: the old order leaves; a new one (same side) joins the back of its level.
    [[gnu::always_inline]] bool replace(OrderId old_id, OrderId new_id, Qty qty, Price price) {
        const Found f = lookup(old_id);
        if (!f) [[unlikely]]
            return reject(old_id, Reject::UnknownId);
        if (auto r = validate_fields(new_id, price, qty)) [[unlikely]]
            return reject(new_id, *r);
        if (index().find(new_id).has_value()) [[unlikely]]
            return reject(new_id, Reject::DuplicateId);
        const Side side = f.level->side;
        listener().on_cancelled(instrument_, old_id, f.order->qty, CancelReason::MarketData);
        unlink_and_free(f, old_id);
        // The erase may have freed the window page new_id would go on: find it again.
        WindowIndex::Spot spot;
        (void)index().find(new_id, spot);
        const auto p = static_cast<std::uint32_t>(price);  // 32-bit cells; validate_fields bounded both
        const auto q = static_cast<std::uint32_t>(qty);
        const bool ok = side == Side::Buy ? rest<Side::Buy>(new_id, p, q, spot) : rest<Side::Sell>(new_id, p, q, spot);
        // Only past the slab's 2^31-cell key space (the old order is gone by then).
        if (!ok) [[unlikely]]
            return reject(new_id, Reject::BookFull);
        listener().on_accepted(instrument_, new_id, side, price, qty);
        return true;
    }

    // ---- queries --------------------------------------------------------------

    [[nodiscard]] std::optional<LevelInfo> best(Side side) const noexcept {
        const PriceLevels& a = sides_[idx(side)];
        if (a.empty()) return std::nullopt;
        return info(levels()[a.best().key]);
    }
    // Fills `out` with up to out.size() levels from the touch outwards; returns how many.
    std::size_t depth(Side side, std::span<LevelInfo> out) const noexcept {
        const PriceLevels& a = sides_[idx(side)];
        const std::size_t n = std::min(out.size(), a.size());
        for (std::size_t i = 0; i < n; ++i) out[i] = info(levels()[a.from_touch(i).key]);
        return n;
    }
    [[nodiscard]] std::vector<LevelInfo> depth(Side side, std::size_t n = ~std::size_t{0}) const {
        std::vector<LevelInfo> v(std::min(n, sides_[idx(side)].size()));
        depth(side, std::span<LevelInfo>(v));
        return v;
    }
    // Calls f(const MarketOrderInfo&) for the orders at `price` in time priority.
    template <class F>
    void for_each_order(Side side, Price price, F&& f) const {
        if (price < 1 || price > kMarketMaxPrice) return;
        const PriceLevels& a = sides_[idx(side)];
        const auto [pos, found] = a.locate(side, static_cast<std::uint32_t>(price));
        if (!found) return;
        for (slab::Key k = levels()[a[pos].key].head; k.has_value(); k = orders()[k].next) {
            const MarketOrder& o = orders()[k];
            f(MarketOrderInfo{o.id, side, price, o.qty});
        }
    }
    // The order with this ID if it rests in this book.
    [[nodiscard]] std::optional<MarketOrderInfo> find(OrderId id) const noexcept {
        const Found f = lookup(id);
        if (!f) return std::nullopt;
        return MarketOrderInfo{id, f.level->side, static_cast<Price>(f.level->price), f.order->qty};
    }
    [[nodiscard]] std::size_t order_count() const noexcept { return live_; }
    [[nodiscard]] std::size_t level_count(Side side) const noexcept { return sides_[idx(side)].size(); }

    // A word the book never reads, kept for its owner in the book's cache
    // line (a replay counts each book's messages there, on the line the
    // message touches anyway). 0 when the book is made or cleared.
    [[nodiscard]] std::uint64_t& user_word() noexcept { return user_word_; }
    [[nodiscard]] std::uint64_t user_word() const noexcept { return user_word_; }

    // Removes every order (no events).
    void clear() noexcept {
        for (auto& s : sides_) {
            for (const PriceLevels::Entry& e : s) {
                for (slab::Key k = levels()[e.key].head; k.has_value();) {
                    const slab::Key next = orders()[k].next;
                    index().erase(orders()[k].id);
                    orders().remove(k);
                    --live_;
                    k = next;
                }
                levels().remove(e.key);
            }
            s.clear();
        }
    }

    // Checks every structural invariant; returns "" or what is wrong.
    // `allow_crossed`: market-data books may momentarily cross.
    [[nodiscard]] std::string check_invariants(bool allow_crossed = false) const {
        std::size_t orders_seen = 0;
        for (Side side : {Side::Buy, Side::Sell}) {
            const PriceLevels& a = sides_[idx(side)];
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (!levels().contains(a[i].key)) return "level key is vacant";
                const MarketLevel& lv = levels()[a[i].key];
                if (lv.price != a[i].price) return "level price differs from the array";
                if (lv.side != side) return "level on the wrong side";
                if (lv.instrument != instrument_) return "level of another instrument";
                if (i > 0 && !(side == Side::Buy ? a[i].price > a[i - 1].price : a[i].price < a[i - 1].price))
                    return "levels out of price order";
                if (lv.count == 0 || !lv.head.has_value()) return "empty level kept";
                std::uint64_t total = 0;
                std::uint32_t count = 0;
                slab::Key prev = slab::Key::NONE;
                for (slab::Key k = lv.head; k.has_value(); k = orders()[k].next) {
                    if (!orders().contains(k)) return "order key is vacant";
                    const MarketOrder& o = orders()[k];
                    if (o.prev != prev) return "broken FIFO back link at order " + std::to_string(o.id);
                    if (o.level != a[i].key) return "order points at another level: " + std::to_string(o.id);
                    if (o.qty == 0) return "order with no quantity: " + std::to_string(o.id);
                    if (index().find(o.id) != k) return "index disagrees for order " + std::to_string(o.id);
                    total += o.qty;
                    ++count;
                    prev = k;
                    if (count > lv.count) return "FIFO longer than the level's count";
                }
                if (prev != lv.tail) return "level tail is not the last order";
                if (total != lv.total) return "level total differs from the sum of its orders";
                if (count != lv.count) return "level count differs from its orders";
                orders_seen += count;
            }
        }
        if (orders_seen != live_) return "the book's order count differs from its levels";
        if (!allow_crossed) {
            const auto b = best(Side::Buy), a = best(Side::Sell);
            if (b && a && b->price >= a->price) return "book is crossed";
        }
        return {};
    }

private:
    friend class MarketBooks<Listener>;

    // A resting order of this book and its level, found by ID.
    struct Found {
        slab::Key key;
        MarketOrder* order = nullptr;
        MarketLevel* level = nullptr;
        WindowIndex::Spot spot;  // for the erase, if the order leaves
        explicit operator bool() const noexcept { return order != nullptr; }
    };

    static constexpr std::size_t idx(Side s) noexcept { return static_cast<std::size_t>(s); }
    static LevelInfo info(const MarketLevel& lv) noexcept {
        return LevelInfo{static_cast<Price>(lv.price), lv.total, lv.count};
    }

    slab::UnboundedSlab<MarketOrder>& orders() const noexcept { return owner_->pools_.orders; }
    slab::UnboundedSlab<MarketLevel>& levels() const noexcept { return owner_->pools_.levels; }
    WindowIndex& index() const noexcept { return owner_->index_; }
    Listener& listener() const noexcept { return owner_->listener_; }

    // The order of this book with this ID: the shared index may hold it for
    // another instrument, which its level tells.
    [[nodiscard, gnu::always_inline]] Found lookup(OrderId id) const noexcept {
        Found f;
        f.key = index().find(id, f.spot);
        if (!f.key.has_value()) [[unlikely]]
            return Found{};
        MarketOrder& o = orders()[f.key];
        MarketLevel& lv = levels()[o.level];
        if (lv.instrument != instrument_) [[unlikely]]
            return Found{};
        f.order = &o;
        f.level = &lv;
        return f;
    }

    [[gnu::cold, gnu::noinline]] bool reject(OrderId id, Reject r) {
        listener().on_rejected(instrument_, id, r);
        return false;
    }

    // A new order's fields, in Book's order of checks (the duplicate check
    // comes after, with the index walk the insertion reuses).
    [[gnu::always_inline]] static std::optional<Reject> validate_fields(OrderId id, Price price, Qty qty) noexcept {
        if (id == 0) [[unlikely]]
            return Reject::InvalidId;
        if (qty == 0 || qty > kMarketMaxQty) [[unlikely]]
            return Reject::InvalidQty;
        if (price < 1 || price > kMarketMaxPrice) [[unlikely]]
            return Reject::PriceOutOfRange;
        return std::nullopt;
    }

    // A new order at the back of its level (the level made if new); `spot`
    // from the ID's find(). False, nothing changed, when a slab is at its
    // key space.
    template <Side S>
    [[gnu::always_inline]] bool rest(OrderId id, std::uint32_t price, std::uint32_t qty, WindowIndex::Spot spot) {
        PriceLevels& s = sides_[idx(S)];
        const auto [pos, found] = s.template locate<S>(price);
        // A handle, leaked at once: the cell's address without a lookup by key.
        auto cell = orders().try_emplace(MarketOrder{id, qty, slab::Key::NONE, slab::Key::NONE, slab::Key::NONE});
        if (!cell) [[unlikely]]
            return false;
        MarketOrder& o = **cell;
        const slab::Key k = cell->release();
        slab::Key lk;
        if (found) {
            lk = s[pos].key;
        } else {
            lk = new_level(s, pos, price, S, k);
            if (!lk.has_value()) [[unlikely]]
                return false;
        }
        MarketLevel& lv = levels()[lk];
        const slab::Key tail = lv.tail;
        if (tail.has_value())
            orders()[tail].next = k;
        else
            lv.head = k;
        o.level = lk;
        o.prev = tail;
        lv.tail = k;
        lv.total += qty;
        ++lv.count;
        index().insert(id, k, spot);
        ++live_;
        owner_->note_orders();
        emit_level(lv);
        return true;
    }
    // A level for a price the side does not have, placed at `pos`; NONE (and
    // the order cell `k` given back) when the level slab is at its key space.
    [[gnu::noinline]] slab::Key new_level(PriceLevels& s, std::uint32_t pos, std::uint32_t price, Side side,
                                          slab::Key k) {
        const slab::Key lk =
            levels().try_emplace_key(MarketLevel{0, slab::Key::NONE, slab::Key::NONE, 0, price, instrument_, side});
        if (!lk.has_value()) {
            orders().remove(k);
            return lk;
        }
        try {
            s.insert(pos, price, lk);
        } catch (...) {
            levels().remove(lk);
            orders().remove(k);
            throw;
        }
        owner_->note_levels();
        return lk;
    }

    // Removes an order entirely: FIFO, index, slab; drops its level if empty.
    [[gnu::always_inline]] void unlink_and_free(const Found& f, OrderId id) {
        MarketOrder& o = *f.order;
        MarketLevel& lv = *f.level;
        const slab::Key lk = o.level, prev = o.prev, next = o.next;
        const std::uint32_t qty = o.qty;
        // Both neighbours found before either is written: the slab's lookups
        // then share their loads of its chunk table.
        MarketOrder* before = prev.has_value() ? &orders()[prev] : nullptr;
        MarketOrder* after = next.has_value() ? &orders()[next] : nullptr;
        if (before)
            before->next = next;
        else
            lv.head = next;
        if (after)
            after->prev = prev;
        else
            lv.tail = prev;
        lv.total -= qty;
        const std::uint32_t left = --lv.count;
        index().erase(id, f.spot);
        orders().remove(f.key);
        --live_;
        if (left == 0)
            drop_level(lk, lv);
        else
            emit_level(lv);
    }

    // Takes `qty` (at most what is left) off a resting order.
    [[gnu::always_inline]] void reduce(const Found& f, OrderId id, std::uint32_t qty) {
        if (qty == f.order->qty) {
            unlink_and_free(f, id);
            return;
        }
        f.order->qty -= qty;
        f.level->total -= qty;
        emit_level(*f.level);
    }

    [[gnu::noinline]] void drop_level(slab::Key lk, const MarketLevel& lv) {
        const Side side = lv.side;
        const std::uint32_t price = lv.price;
        PriceLevels& s = sides_[idx(side)];
        if (s.best().key == lk)
            s.pop_best();  // the touch: the usual case
        else
            s.erase(s.locate(side, price).first);
        levels().remove(lk);
        listener().on_level(instrument_, side, static_cast<Price>(price), 0, 0);
    }

    [[gnu::always_inline]] void emit_level(const MarketLevel& lv) {
        listener().on_level(instrument_, lv.side, static_cast<Price>(lv.price), lv.total, lv.count);
    }

    [[gnu::always_inline]] bool execute_impl(OrderId id, Qty qty, std::optional<Price> printed) {
        const Found f = lookup(id);
        if (!f) [[unlikely]]
            return reject(id, Reject::UnknownId);
        if (qty == 0 || qty > f.order->qty) [[unlikely]]
            return reject(id, Reject::InvalidQty);
        if (printed && (*printed < 1 || *printed > kMarketMaxPrice)) [[unlikely]]
            return reject(id, Reject::PriceOutOfRange);
        listener().on_trade(instrument_, Trade{id, 0, printed ? *printed : static_cast<Price>(f.level->price), qty,
                                               opposite(f.level->side)});
        reduce(f, id, static_cast<std::uint32_t>(qty));  // at most the order's 32-bit remainder
        return true;
    }

    MarketBooks<Listener>* owner_;  // pools, index and listener shared by every book
    PriceLevels sides_[2];          // bids, asks: best price last
    std::uint64_t user_word_ = 0;   // see user_word()
    std::uint32_t live_ = 0;        // orders resting in this book
    InstrumentId instrument_;
    bool open_ = false;  // opened (a slot of the vector may be a book never opened)
};

// The market-data books of one thread, indexed by instrument (ITCH's stock
// locate), with their pools and their shared index. Neither copyable nor
// movable: every book points at it.
template <class Listener = NullListener>
class MarketBooks {
public:
    using BookType = MarketBook<Listener>;

    explicit MarketBooks(Listener& listener, const MarketPoolConfig& reserve = {})
        : listener_(listener), pools_(reserve) {}
    MarketBooks(const MarketBooks&) = delete;
    MarketBooks& operator=(const MarketBooks&) = delete;

    // Creates the book of `id` (or returns the existing one). Moves the
    // books: a pointer from get() is valid until the next open().
    BookType& open(InstrumentId id) {
        if (id >= books_.size()) {
            if (id >= books_.capacity())  // grow geometrically: directories open locates one by one
                books_.reserve(std::max<std::size_t>(static_cast<std::size_t>(id) + 1, books_.capacity() * 2));
            while (books_.size() <= id) books_.emplace_back(this, static_cast<InstrumentId>(books_.size()));
        }
        BookType& b = books_[id];
        b.open_ = true;
        return b;
    }
    // The book of `id`, or nullptr if it was never opened.
    [[nodiscard, gnu::always_inline]] BookType* get(InstrumentId id) noexcept {
        BookType* b = id < books_.size() ? &books_[id] : nullptr;
        return b != nullptr && b->open_ ? b : nullptr;
    }
    [[nodiscard]] const BookType* get(InstrumentId id) const noexcept {
        const BookType* b = id < books_.size() ? &books_[id] : nullptr;
        return b != nullptr && b->open_ ? b : nullptr;
    }
    // Calls f(BookType&) for every open book, in ID order.
    template <class F>
    void for_each(F&& f) {
        for (auto& b : books_)
            if (b.open_) f(b);
    }
    template <class F>
    void for_each(F&& f) const {
        for (const auto& b : books_)
            if (b.open_) f(b);
    }
    [[nodiscard]] std::size_t size() const noexcept {
        return static_cast<std::size_t>(
            std::count_if(books_.begin(), books_.end(), [](const BookType& b) { return b.open_; }));
    }
    // ---- look-ahead: bring lines closer for an operation soon to come -----
    //
    // A replay knows an operation's instrument and order ID some messages
    // before it applies them. These change nothing and never fail; each is a
    // stage that reads what the stage before brought in.

    // Stage 1: the book's line, and the index entry of an ID (0: none).
    [[gnu::always_inline]] void prefetch_book_and_entry(InstrumentId instrument, OrderId id) const noexcept {
        if (instrument < books_.size()) __builtin_prefetch(&books_[instrument]);
        if (id != 0) (void)index_.prefetch(id);
    }
    // Stage 2: the order's cell. Returns its key for prefetch_level().
    [[gnu::always_inline]] slab::Key prefetch_order(OrderId id) const noexcept {
        const slab::Key k = index_.find(id);
        if (k.has_value()) __builtin_prefetch(&pools_.orders[k]);
        return k;
    }
    // Stage 2 for a new order on `side`: the touch end of that side's price array.
    [[gnu::always_inline]] void prefetch_side(InstrumentId instrument, Side side) const noexcept {
        if (instrument >= books_.size()) return;
        const PriceLevels& a = books_[instrument].sides_[static_cast<std::size_t>(side)];
        if (!a.empty()) __builtin_prefetch(&a.best());
    }
    // Stage 3: the level of the order in cell `k` (from prefetch_order;
    // operations since may have freed it or given it to another order:
    // whichever order lives there now is the one looked at). Its FIFO
    // neighbours are not fetched: finding them is itself a chain of
    // dependent loads (order, then its prev and next keys, then their
    // cells), which costs about what the misses it would save.
    [[gnu::always_inline]] void prefetch_level(slab::Key k) const noexcept {
        const MarketOrder* o = pools_.orders.get(k);  // checked: k may be vacant by now
        if (o == nullptr) return;
        __builtin_prefetch(&pools_.levels[o->level]);  // a live order's level is live
    }

    // Empties every book and closes it, and starts the pools and the index
    // over on the memory they have: the next cells come out in key order, as
    // from new pools. Pointers to books stay valid.
    void clear() {
        for (auto& b : books_) {
            for (auto& s : b.sides_) s.clear();
            b.live_ = 0;
            b.user_word_ = 0;
            b.open_ = false;
        }
        pools_.orders.clear();
        pools_.levels.clear();
        index_.clear();
        peak_orders_ = peak_levels_ = 0;
    }
    [[nodiscard]] const MarketPools& pools() const noexcept { return pools_; }
    [[nodiscard]] const WindowIndex& index() const noexcept { return index_; }
    // Live orders and levels across every book.
    [[nodiscard]] std::size_t live_orders() const noexcept { return pools_.orders.size(); }
    [[nodiscard]] std::size_t live_levels() const noexcept { return pools_.levels.size(); }
    // The most orders, and levels, live at once since construction or clear().
    [[nodiscard]] std::size_t peak_orders() const noexcept { return peak_orders_; }
    [[nodiscard]] std::size_t peak_levels() const noexcept { return peak_levels_; }

private:
    friend class MarketBook<Listener>;

    [[gnu::always_inline]] void note_orders() noexcept {
        if (pools_.orders.size() > peak_orders_) peak_orders_ = pools_.orders.size();
    }
    void note_levels() noexcept {
        if (pools_.levels.size() > peak_levels_) peak_levels_ = pools_.levels.size();
    }

    Listener& listener_;
    MarketPools pools_;  // declared before the books: cells outlive their users
    WindowIndex index_;
    std::vector<BookType> books_;  // by instrument; slots below the highest opened may be unopened
    std::size_t peak_orders_ = 0;
    std::size_t peak_levels_ = 0;
};

}  // namespace nexus::orderbook

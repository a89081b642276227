// nexus/orderbook/book.hpp — an L3 price-time priority limit order book.
//
//   nexus::orderbook::Pools pools({.orders = 1 << 20, .levels = 1 << 16});
//   MyListener events;
//   nexus::orderbook::Book<MyListener> book(pools, events, /*instrument*/ 7);
//   book.submit({.id = 1, .owner = 9, .side = Side::Buy, .price = 100'0000, .qty = 100});
//
// Storage. Every order and every price level is a cell of a direct
// BoundedSlab held by `Pools`, which all books of one thread (one shard) share.
// Direct bounded slabs rather than the per-thread allocator because: a key
// lookup in a BoundedSlab is one indexed load (the per-thread allocator's mode
// is chosen at run time, so it reads a chunk table first); a fixed capacity
// turns "no room" into a reject reason instead of a growth stall in the middle
// of matching; and several independent pools can live on one thread (tests,
// shards, replays side by side). Orders of a level form a FIFO doubly linked
// by 4-byte Keys. The exchange order ID is the identity; an index maps it to
// the order's Key (OpenAddressingIndex by default; see order_index.hpp).
//
// Levels. Per side, a LevelArray (level_array.hpp): (price, level Key) pairs
// sorted worst price first and best price last, so the touch is at the back:
// adding or removing a level near the touch moves few entries, and the best
// level is one load. Lookup scans the last few entries, then bisects; an
// order joining an existing level usually skips that through a small
// direct-mapped cache of level Keys per side: orders arrive at a handful of
// prices near the touch, so one hashed probe usually finds the level without
// a scan.
//
// Two families of operations:
//  * market data (rebuilding a venue's book, ITCH semantics): add, execute,
//    execute_at, cancel_qty, remove, replace — no matching;
//  * order entry (our own venue): submit (limit GTC/IOC/FOK, market,
//    post-only, self-trade prevention), cancel, modify.
// Results go to the Listener, a compile-time parameter (no virtual calls).
// A rejected operation leaves the book exactly as it was.
//
// No heap allocation per order or per level once the index and the level
// arrays have grown to the working set (the slabs never allocate).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nexus/slab/direct.hpp>

#include "nexus/orderbook/level_array.hpp"
#include "nexus/orderbook/order_index.hpp"
#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

struct PoolConfig {
    std::size_t orders = std::size_t{1} << 20;
    std::size_t levels = std::size_t{1} << 16;
};

// The slabs every book of one thread draws its nodes from.
struct Pools {
    explicit Pools(const PoolConfig& cfg = {}) : orders(cfg.orders), levels(cfg.levels) {}
    // Empties both pools, which then hand out cells as new ones would, on
    // the memory they have. Only once every book on them is gone or cleared.
    void clear() noexcept {
        orders.clear();
        levels.clear();
    }
    slab::BoundedSlab<Order> orders;
    slab::BoundedSlab<Level> levels;
};

struct BookLimits {
    Price min_price = 1;
    Price max_price = 2'000'000'000;  // ITCH Price(4) maximum, 200,000.0000
    Qty max_qty = 0xFFFF'FFFF;        // ITCH share fields are 32 bits; at most kMaxQtyLimit
};

// The largest BookLimits::max_qty a book takes: the largest signed 64-bit
// count. Keeping max_qty there means a negative count -n converted to Qty
// (it wraps to 2^64 - n, at least 2^63) is always above the limit and
// refused as InvalidQty, and no remainder can reach the sentinel ~Qty{0}
// that matching returns when self-trade prevention cancels the incoming order.
inline constexpr Qty kMaxQtyLimit = Qty{0x7FFF'FFFF'FFFF'FFFF};

// Throws std::invalid_argument if the limits cannot be used: a book built
// with them would accept a wrapped negative size or overflow its sentinels.
inline const BookLimits& checked_limits(const BookLimits& limits) {
    if (limits.max_qty > kMaxQtyLimit)
        throw std::invalid_argument("BookLimits::max_qty " + std::to_string(limits.max_qty) + " is above " +
                                    std::to_string(kMaxQtyLimit));
    return limits;
}

template <class Listener = NullListener, class Index = OpenAddressingIndex>
class Book {
public:
    Book(Pools& pools, Listener& listener, InstrumentId instrument = 0, BookLimits limits = {},
         std::size_t expected_orders = 256)
        : pools_(pools),
          listener_(listener),
          instrument_(instrument),
          limits_(checked_limits(limits)),
          index_(expected_orders) {}
    // With an index object of the caller's (e.g. a SharedIndex).
    Book(Pools& pools, Listener& listener, InstrumentId instrument, BookLimits limits, Index index)
        : pools_(pools),
          listener_(listener),
          instrument_(instrument),
          limits_(checked_limits(limits)),
          index_(std::move(index)) {}
    Book(const Book&) = delete;
    Book& operator=(const Book&) = delete;

    // Gives every node back to the pools.
    ~Book() { clear(); }

    [[nodiscard]] InstrumentId instrument() const noexcept { return instrument_; }
    [[nodiscard]] const BookLimits& limits() const noexcept { return limits_; }

    // ---- market data (ITCH semantics: no matching) ------------------------

    // A: a new order joins the back of its level.
    bool add(OrderId id, Side side, Price price, Qty qty, OwnerId owner = 0) {
        if (auto r = validate_new(id, price, qty)) return reject(id, *r);
        const slab::Key k = rest(id, owner, side, price, qty, SelfTrade::CancelIncoming, 0);
        if (!k.has_value()) return reject(id, Reject::BookFull);
        listener_.on_accepted(instrument_, id, side, price, qty);
        return true;
    }

    // E: `qty` of a resting order executes at its own price.
    bool execute(OrderId id, Qty qty) { return execute_impl(id, qty, std::nullopt); }
    // C: executes at another (printed) price; the order keeps its level.
    bool execute_at(OrderId id, Qty qty, Price price) { return execute_impl(id, qty, price); }

    // X: cancels part of an order; it keeps its priority, and leaves at zero.
    bool cancel_qty(OrderId id, Qty qty) {
        const slab::Key k = lookup(id);
        if (!k.has_value()) return reject(id, Reject::UnknownId);
        Order& o = orders()[k];
        if (qty == 0 || qty > o.qty) return reject(id, Reject::InvalidQty);
        listener_.on_cancelled(instrument_, id, qty, CancelReason::MarketData);
        reduce(k, o, qty);
        return true;
    }

    // D: removes what is left of an order.
    bool remove(OrderId id) {
        const slab::Key k = lookup(id);
        if (!k.has_value()) return reject(id, Reject::UnknownId);
        listener_.on_cancelled(instrument_, id, orders()[k].qty, CancelReason::MarketData);
        unlink_and_free(k, true);
        return true;
    }

    // U: the old order leaves; a new one (same side) joins the back of its level.
    bool replace(OrderId old_id, OrderId new_id, Qty qty, Price price) {
        const slab::Key k = lookup(old_id);
        if (!k.has_value()) return reject(old_id, Reject::UnknownId);
        if (auto r = validate_new(new_id, price, qty)) return reject(new_id, *r);
        const Order& o = orders()[k];
        const Side side = o.side;
        const OwnerId owner = o.owner;
        const std::uint64_t tag = o.tag;
        if (!room_for(side, price)) return reject(new_id, Reject::BookFull);
        listener_.on_cancelled(instrument_, old_id, o.qty, CancelReason::MarketData);
        unlink_and_free(k, true);
        rest(new_id, owner, side, price, qty, SelfTrade::CancelIncoming, tag);
        listener_.on_accepted(instrument_, new_id, side, price, qty);
        return true;
    }

    // ---- order entry (matching) -------------------------------------------

    // Validates, matches against the opposite side in price-time priority
    // (trades print at the resting order's price), then rests a GTC limit
    // remainder; IOC and market remainders are cancelled; FOK fills in full or
    // is cancelled untouched; post-only is rejected if it would take.
    bool submit(const OrderRequest& rq) {
        if (rq.id == 0) return reject(rq.id, Reject::InvalidId);
        if (rq.qty == 0 || rq.qty > limits_.max_qty) return reject(rq.id, Reject::InvalidQty);
        const bool market = rq.type == OrderType::Market;
        if (market && rq.post_only) return reject(rq.id, Reject::InvalidOrder);
        if (!market && (rq.price < limits_.min_price || rq.price > limits_.max_price))
            return reject(rq.id, Reject::PriceOutOfRange);
        if (index_.find(rq.id).has_value()) return reject(rq.id, Reject::DuplicateId);
        const bool may_rest = !market && rq.tif == TimeInForce::GTC;
        if (may_rest && !room_for(rq.side, rq.price)) return reject(rq.id, Reject::BookFull);
        if (rq.post_only && crosses(rq.side, rq.price, false)) return reject(rq.id, Reject::WouldCross);

        listener_.on_accepted(instrument_, rq.id, rq.side, market ? 0 : rq.price, rq.qty);
        if (rq.tif == TimeInForce::FOK && fillable(rq) < rq.qty) {
            listener_.on_cancelled(instrument_, rq.id, rq.qty, CancelReason::FokUnfillable);
            return true;
        }
        const Qty left = match(rq.id, rq.owner, rq.side, market, rq.price, rq.stp, rq.qty);
        if (left == 0) return true;
        if (left == kIncomingCancelled) return true;  // self-trade prevention took the rest
        if (may_rest)
            rest(rq.id, rq.owner, rq.side, rq.price, left, rq.stp, rq.tag);
        else
            listener_.on_cancelled(instrument_, rq.id, left, CancelReason::Unfilled);
        return true;
    }

    // Cancels a resting order in full.
    bool cancel(OrderId id) {
        const slab::Key k = lookup(id);
        if (!k.has_value()) return reject(id, Reject::UnknownId);
        listener_.on_cancelled(instrument_, id, orders()[k].qty, CancelReason::User);
        unlink_and_free(k, true);
        return true;
    }

    // Changes a resting order's price and/or size. Same price and a smaller
    // size keeps its place in the queue; a larger size goes to the back; a new
    // price leaves the level and enters as a new limit order (it may trade).
    bool modify(OrderId id, Side side, Price price, Qty qty) {
        const slab::Key k = lookup(id);
        if (!k.has_value()) return reject(id, Reject::UnknownId);
        Order& o = orders()[k];
        if (o.side != side) return reject(id, Reject::SideMismatch);
        if (qty == 0 || qty > limits_.max_qty) return reject(id, Reject::InvalidQty);
        if (price < limits_.min_price || price > limits_.max_price) return reject(id, Reject::PriceOutOfRange);
        if (price == o.price) {
            if (qty <= o.qty) {
                if (qty < o.qty) reduce(k, o, o.qty - qty);
                listener_.on_modified(instrument_, id, price, qty, true);
            } else {
                Level& lv = levels()[o.level];
                unlink(o, lv);
                o.qty = qty;
                append(k, o, o.level, lv);
                listener_.on_modified(instrument_, id, price, qty, false);
                emit_level(lv);
            }
            return true;
        }
        if (!room_for(side, price)) return reject(id, Reject::BookFull);
        const OwnerId owner = o.owner;
        const SelfTrade stp = o.stp;
        const std::uint64_t tag = o.tag;
        unlink_and_free(k, true);
        listener_.on_modified(instrument_, id, price, qty, false);
        const Qty left = match(id, owner, side, false, price, stp, qty);
        if (left != 0 && left != kIncomingCancelled) rest(id, owner, side, price, left, stp, tag);
        return true;
    }

    // ---- queries ----------------------------------------------------------

    [[nodiscard]] std::optional<LevelInfo> best(Side side) const noexcept {
        const LevelArray& a = sides_[idx(side)].array;
        if (a.empty()) return std::nullopt;
        return info(levels()[a.best().key]);
    }
    // Fills `out` with up to out.size() levels from the touch outwards; returns how many.
    std::size_t depth(Side side, std::span<LevelInfo> out) const noexcept {
        const LevelArray& a = sides_[idx(side)].array;
        const std::size_t n = std::min(out.size(), a.size());
        for (std::size_t i = 0; i < n; ++i) out[i] = info(levels()[a.from_touch(i).key]);
        return n;
    }
    [[nodiscard]] std::vector<LevelInfo> depth(Side side, std::size_t n = ~std::size_t{0}) const {
        std::vector<LevelInfo> v(std::min(n, sides_[idx(side)].array.size()));
        depth(side, std::span<LevelInfo>(v));
        return v;
    }
    // Calls f(const Order&) for the orders at `price` in time priority.
    template <class F>
    void for_each_order(Side side, Price price, F&& f) const {
        const LevelArray& a = sides_[idx(side)].array;
        const auto [pos, found] = a.locate(price);
        if (!found) return;
        for (slab::Key k = levels()[a[pos].key].head; k.has_value(); k = orders()[k].next) f(orders()[k]);
    }
    [[nodiscard]] const Order* find(OrderId id) const noexcept {
        const slab::Key k = lookup(id);
        return !k.has_value() ? nullptr : &orders()[k];
    }
    [[nodiscard]] std::size_t order_count() const noexcept { return live_; }
    [[nodiscard]] std::size_t level_count(Side side) const noexcept { return sides_[idx(side)].array.size(); }

    // Removes every order (no events).
    void clear() noexcept {
        for (auto& s : sides_) {
            for (const LevelArray::Entry& e : s.array) {
                const slab::Key lk = e.key;
                for (slab::Key k = levels()[lk].head; k.has_value();) {
                    const slab::Key next = orders()[k].next;
                    index_.erase(orders()[k].id);
                    orders().remove(k);
                    --live_;
                    k = next;
                }
                levels().remove(lk);
            }
            s.array.clear();
            for (auto& c : s.cache) c = slab::Key::NONE;
        }
    }

    // Checks every structural invariant; returns "" or what is wrong.
    // `allow_crossed`: market-data books may momentarily cross.
    [[nodiscard]] std::string check_invariants(bool allow_crossed = false) const {
        std::size_t orders_seen = 0;
        for (Side side : {Side::Buy, Side::Sell}) {
            const LevelArray& a = sides_[idx(side)].array;
            if (a.side() != side) return "level array of the other side";
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (!levels().contains(a[i].key)) return "level key is vacant";
                const Level& lv = levels()[a[i].key];
                if (lv.price != a[i].price) return "level price differs from the array";
                if (lv.side != side) return "level on the wrong side";
                if (i > 0 && !a.better(a[i].price, a[i - 1].price)) return "levels out of price order";
                if (lv.count == 0 || !lv.head.has_value()) return "empty level kept";
                Qty total = 0;
                std::uint32_t count = 0;
                slab::Key prev = slab::Key::NONE;
                for (slab::Key k = lv.head; k.has_value(); k = orders()[k].next) {
                    const Order& o = orders()[k];
                    if (o.prev != prev) return "broken FIFO back link at order " + std::to_string(o.id);
                    if (o.level != a[i].key) return "order points at another level: " + std::to_string(o.id);
                    if (o.price != lv.price || o.side != side) return "order price/side differs from its level";
                    if (o.qty == 0) return "order with no quantity: " + std::to_string(o.id);
                    if (index_.find(o.id) != k) return "index disagrees for order " + std::to_string(o.id);
                    if (o.instrument != instrument_) return "order of another instrument: " + std::to_string(o.id);
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
        for (Side side : {Side::Buy, Side::Sell}) {
            const SideLevels& s = sides_[idx(side)];
            for (std::size_t i = 0; i < kLevelCacheEntries; ++i) {
                const slab::Key c = s.cache[i];
                if (!c.has_value()) continue;
                if (std::none_of(s.array.begin(), s.array.end(),
                                 [&](const LevelArray::Entry& e) { return e.key == c; }))
                    return "level cache names a level the side does not have";
                if (level_cache_slot(levels()[c].price) != i) return "level cache entry in the wrong slot";
            }
        }
        if (!allow_crossed) {
            const auto b = best(Side::Buy), a = best(Side::Sell);
            if (b && a && b->price >= a->price) return "book is crossed";
        }
        return {};
    }

private:
    static constexpr Qty kIncomingCancelled = ~Qty{0};

    // A direct-mapped cache of price -> level for one side: an order joining
    // an existing level finds it with one load instead of a search of the
    // array. An entry is only a level key; a hit is a level whose price is
    // the one asked for (the level is read anyway to append to it). Holds
    // only live levels of its side: a level's entry is cleared when the
    // level goes (drop_level, clear), so a key there never names a cell that
    // was freed and reused. A miss falls back to the array. Keys alone keep
    // a side's cache in four cache lines, which matters with thousands of
    // books. Size and slot function: level_array.hpp.
    struct SideLevels {
        explicit SideLevels(Side side) : array(side) {}
        LevelArray array;  // the side's levels in price order, best last
        slab::Key cache[kLevelCacheEntries] = {};
    };

    static constexpr std::size_t idx(Side s) noexcept { return static_cast<std::size_t>(s); }

    slab::BoundedSlab<Order>& orders() noexcept { return pools_.orders; }
    const slab::BoundedSlab<Order>& orders() const noexcept { return pools_.orders; }
    slab::BoundedSlab<Level>& levels() noexcept { return pools_.levels; }
    const slab::BoundedSlab<Level>& levels() const noexcept { return pools_.levels; }

    static LevelInfo info(const Level& lv) noexcept { return LevelInfo{lv.price, lv.total, lv.count}; }

    // The order of this book with this ID, or NONE. Only an index shared with
    // other books can hold the ID for another instrument, so only then is the
    // order's instrument checked.
    [[nodiscard, gnu::always_inline]] slab::Key lookup(OrderId id) const noexcept {
        const slab::Key k = index_.find(id);
        if constexpr (kIsSharedIndex<Index>) {
            if (k.has_value() && orders()[k].instrument != instrument_) [[unlikely]]
                return slab::Key::NONE;
        }
        return k;
    }

    bool reject(OrderId id, Reject r) {
        listener_.on_rejected(instrument_, id, r);
        return false;
    }

    std::optional<Reject> validate_new(OrderId id, Price price, Qty qty) const noexcept {
        if (id == 0) return Reject::InvalidId;
        if (qty == 0 || qty > limits_.max_qty) return Reject::InvalidQty;
        if (price < limits_.min_price || price > limits_.max_price) return Reject::PriceOutOfRange;
        if (index_.find(id).has_value()) return Reject::DuplicateId;
        return std::nullopt;
    }

    // Enough free cells to rest one order, and a level if its price is new.
    bool room_for(Side side, Price price) const noexcept {
        if (orders().size() >= orders().capacity()) return false;
        if (levels().size() < levels().capacity()) return true;
        return sides_[idx(side)].array.locate(price).second;
    }

    // Would an order at `price` (or any price for a market order) trade now?
    bool crosses(Side side, Price price, bool market) const noexcept {
        const LevelArray& opp = sides_[idx(opposite(side))].array;
        return !opp.empty() && tradable(side, price, opp.best().price, market);
    }
    // Does the opposite level at `level_price` trade with an incoming order at `price`?
    static bool tradable(Side incoming, Price price, Price level_price, bool market) noexcept {
        if (market) return true;
        return incoming == Side::Buy ? level_price <= price : level_price >= price;
    }

    // Creates an order at the back of its level (making the level if new).
    // Returns NONE, with nothing changed, if a slab is full. The usual case,
    // a level the cache knows, stays small enough to inline; a new level
    // or a cache miss takes the out-of-line path.
    [[gnu::always_inline]] slab::Key rest(OrderId id, OwnerId owner, Side side, Price price, Qty qty, SelfTrade stp,
                                          std::uint64_t tag) {
        const slab::Key lk = sides_[idx(side)].cache[level_cache_slot(price)];
        if (!lk.has_value() || levels()[lk].price != price) [[unlikely]]
            return rest_uncached(id, owner, side, price, qty, stp, tag);
        const slab::Key k = new_order(id, owner, side, price, qty, stp, tag);
        if (!k.has_value()) [[unlikely]]
            return k;
        link_new(k, id, lk);
        return k;
    }
    [[gnu::noinline]] slab::Key rest_uncached(OrderId id, OwnerId owner, Side side, Price price, Qty qty, SelfTrade stp,
                                              std::uint64_t tag) {
        SideLevels& s = sides_[idx(side)];
        slab::Key& cached = s.cache[level_cache_slot(price)];
        const auto [pos, found] = s.array.locate(price);
        const slab::Key k = new_order(id, owner, side, price, qty, stp, tag);
        if (!k.has_value()) [[unlikely]]
            return k;
        slab::Key lk;
        if (found) {
            lk = s.array[pos].key;
        } else {
            lk = levels().try_emplace_key(Level{price, 0, 0, slab::Key::NONE, slab::Key::NONE, side});
            if (!lk.has_value()) [[unlikely]] {
                orders().remove(k);
                return slab::Key::NONE;
            }
            s.array.insert(pos, price, lk);
        }
        cached = lk;
        link_new(k, id, lk);
        return k;
    }
    // An order cell, not yet linked anywhere; NONE if the pool is full.
    slab::Key new_order(OrderId id, OwnerId owner, Side side, Price price, Qty qty, SelfTrade stp, std::uint64_t tag) {
        return orders().try_emplace_key(Order{id, price, qty, owner, slab::Key::NONE, slab::Key::NONE, slab::Key::NONE,
                                              instrument_, side, stp, tag});
    }
    // A new order k joins the back of level lk: FIFO, index, count, event.
    [[gnu::always_inline]] void link_new(slab::Key k, OrderId id, slab::Key lk) {
        Level& lv = levels()[lk];
        append(k, orders()[k], lk, lv);
        index_.insert(id, k);
        ++live_;
        emit_level(lv);
    }

    // Links order k (its other fields set) at the tail of level lk.
    void append(slab::Key k, Order& o, slab::Key lk, Level& lv) noexcept {
        o.level = lk;
        o.prev = lv.tail;
        o.next = slab::Key::NONE;
        if (lv.tail.has_value())
            orders()[lv.tail].next = k;
        else
            lv.head = k;
        lv.tail = k;
        lv.total += o.qty;
        ++lv.count;
    }

    // Unlinks an order from its level's FIFO (the level keeps its other orders).
    void unlink(Order& o, Level& lv) noexcept {
        if (o.prev.has_value())
            orders()[o.prev].next = o.next;
        else
            lv.head = o.next;
        if (o.next.has_value())
            orders()[o.next].prev = o.prev;
        else
            lv.tail = o.prev;
        lv.total -= o.qty;
        --lv.count;
    }

    // Removes an order entirely: FIFO, index, slab; drops its level if empty.
    void unlink_and_free(slab::Key k, bool emit) {
        Order& o = orders()[k];
        const slab::Key lk = o.level;
        Level& lv = levels()[lk];
        unlink(o, lv);
        index_.erase(o.id);
        orders().remove(k);
        --live_;
        if (lv.count == 0)
            drop_level(lk, lv, emit);
        else if (emit)
            emit_level(lv);
    }

    // Takes `qty` (less than or equal to what is left) off a resting order.
    void reduce(slab::Key k, Order& o, Qty qty) {
        if (qty == o.qty) {
            unlink_and_free(k, true);
            return;
        }
        o.qty -= qty;
        Level& lv = levels()[o.level];
        lv.total -= qty;
        emit_level(lv);
    }

    [[gnu::noinline]] void drop_level(slab::Key lk, const Level& lv, bool emit) {
        const Side side = lv.side;
        const Price price = lv.price;
        SideLevels& s = sides_[idx(side)];
        if (s.array.best().key == lk)
            s.array.pop_best();  // the touch: the usual case when matching
        else
            s.array.erase(s.array.locate(price).first);
        if (slab::Key& c = s.cache[level_cache_slot(price)]; c == lk) c = slab::Key::NONE;
        levels().remove(lk);
        if (emit) listener_.on_level(instrument_, side, price, 0, 0);
    }

    void emit_level(const Level& lv) { listener_.on_level(instrument_, lv.side, lv.price, lv.total, lv.count); }

    bool execute_impl(OrderId id, Qty qty, std::optional<Price> printed) {
        const slab::Key k = lookup(id);
        if (!k.has_value()) return reject(id, Reject::UnknownId);
        Order& o = orders()[k];
        if (qty == 0 || qty > o.qty) return reject(id, Reject::InvalidQty);
        if (printed && (*printed < limits_.min_price || *printed > limits_.max_price))
            return reject(id, Reject::PriceOutOfRange);
        listener_.on_trade(instrument_, Trade{id, 0, printed ? *printed : o.price, qty, opposite(o.side)});
        reduce(k, o, qty);
        return true;
    }

    // Quantity an FOK order could take right now, following the same rules as
    // match() (self-trade prevention included), stopping once it has enough.
    Qty fillable(const OrderRequest& rq) const noexcept {
        const Side opp = opposite(rq.side);
        const SideLevels& s = sides_[idx(opp)];
        const bool market = rq.type == OrderType::Market;
        Qty sum = 0;
        for (std::size_t i = 0; i < s.array.size(); ++i) {
            const Level& lv = levels()[s.array.from_touch(i).key];
            if (!tradable(rq.side, rq.price, lv.price, market)) break;
            for (slab::Key k = lv.head; k.has_value(); k = orders()[k].next) {
                const Order& o = orders()[k];
                if (rq.owner != 0 && o.owner == rq.owner) {
                    if (rq.stp == SelfTrade::CancelResting) continue;
                    return sum;  // matching would stop here
                }
                sum += o.qty;
                if (sum >= rq.qty) return sum;
            }
        }
        return sum;
    }

    // Matches an incoming order; returns what is left of it, or
    // kIncomingCancelled when self-trade prevention cancelled the remainder.
    // Most orders do not cross: the opposite touch, held in the level array,
    // settles that inline, without the call into the matching loop.
    [[gnu::always_inline]] Qty match(OrderId id, OwnerId owner, Side side, bool market, Price price, SelfTrade stp,
                                     Qty left) {
        if (!crosses(side, price, market)) return left;
        return match_levels(id, owner, side, market, price, stp, left);
    }
    Qty match_levels(OrderId id, OwnerId owner, Side side, bool market, Price price, SelfTrade stp, Qty left) {
        const Side opp = opposite(side);
        SideLevels& s = sides_[idx(opp)];
        while (left > 0 && !s.array.empty()) {
            const slab::Key lk = s.array.best().key;
            Level& lv = levels()[lk];
            if (!tradable(side, price, lv.price, market)) break;
            bool stop_incoming = false;
            for (slab::Key k = lv.head; k.has_value() && left > 0;) {
                Order& o = orders()[k];
                const slab::Key next = o.next;
                if (owner != 0 && o.owner == owner) [[unlikely]] {
                    if (stp != SelfTrade::CancelIncoming) {
                        listener_.on_cancelled(instrument_, o.id, o.qty, CancelReason::SelfTrade);
                        const OrderId rid = o.id;
                        unlink(o, lv);
                        index_.erase(rid);
                        orders().remove(k);
                        --live_;
                    }
                    if (stp != SelfTrade::CancelResting) {
                        stop_incoming = true;
                        break;
                    }
                    k = next;
                    continue;
                }
                const Qty fill = left < o.qty ? left : o.qty;
                listener_.on_trade(instrument_, Trade{o.id, id, lv.price, fill, side});
                left -= fill;
                if (fill == o.qty) {
                    const OrderId rid = o.id;
                    unlink(o, lv);
                    index_.erase(rid);
                    orders().remove(k);
                    --live_;
                } else {
                    o.qty -= fill;
                    lv.total -= fill;
                }
                k = next;
            }
            if (lv.count == 0)
                drop_level(lk, lv, true);
            else
                emit_level(lv);
            if (stop_incoming) {
                listener_.on_cancelled(instrument_, id, left, CancelReason::SelfTrade);
                return kIncomingCancelled;
            }
        }
        return left;
    }

    Pools& pools_;
    Listener& listener_;
    InstrumentId instrument_;
    BookLimits limits_;
    Index index_;           // exchange ID -> order key (possibly shared with other books)
    std::size_t live_ = 0;  // orders resting in this book
    SideLevels sides_[2] = {SideLevels(Side::Buy), SideLevels(Side::Sell)};
};

}  // namespace nexus::orderbook

// nexus/orderbook/types.hpp — the vocabulary of the order book.
#pragma once

#include <cstdint>

#include <nexus/slab/key.hpp>

namespace nexus::orderbook {

using Price = std::int64_t;          // integer ticks; ITCH prices carry 4 implied decimals
using Qty = std::uint64_t;           // shares; one type for requests, events, orders and level totals
using OrderId = std::uint64_t;       // the exchange's order ID, authoritative; 0 is not a valid ID
using OwnerId = std::uint32_t;       // who owns an order, for self-trade prevention; 0 = anonymous (never self-trades)
using InstrumentId = std::uint16_t;  // small dense index, e.g. ITCH stock locate

enum class Side : std::uint8_t { Buy = 0, Sell = 1 };
constexpr Side opposite(Side s) noexcept { return s == Side::Buy ? Side::Sell : Side::Buy; }

enum class OrderType : std::uint8_t { Limit, Market };
enum class TimeInForce : std::uint8_t {
    GTC,  // rests until cancelled
    IOC,  // fills what it can, the rest is cancelled
    FOK,  // fills completely at once, or not at all
};
// What happens when an incoming order would trade with a resting order of the same owner.
enum class SelfTrade : std::uint8_t { CancelResting, CancelIncoming, CancelBoth };

enum class Reject : std::uint8_t {
    DuplicateId,      // an order with this ID is live
    UnknownId,        // no live order has this ID
    InvalidId,        // ID 0
    InvalidQty,       // zero, above the maximum, or more than the order has
    PriceOutOfRange,  // outside the instrument's [min_price, max_price]
    SideMismatch,     // a modify that names the other side
    BookFull,         // the order or level slab (or the book's level array) has no room
    WouldCross,       // post-only order that would take liquidity
    InvalidOrder,     // a combination that makes no sense (market + post-only)
};

enum class CancelReason : std::uint8_t {
    User,           // cancel request
    Unfilled,       // IOC or market order remainder
    FokUnfillable,  // FOK order that could not fill completely
    SelfTrade,      // removed by self-trade prevention
    MarketData,     // delete or cancel message from a market-data feed
};

constexpr const char* to_string(Reject r) noexcept {
    switch (r) {
        case Reject::DuplicateId: return "duplicate order id";
        case Reject::UnknownId: return "unknown order id";
        case Reject::InvalidId: return "invalid order id";
        case Reject::InvalidQty: return "invalid quantity";
        case Reject::PriceOutOfRange: return "price out of range";
        case Reject::SideMismatch: return "side mismatch";
        case Reject::BookFull: return "book full";
        case Reject::WouldCross: return "post-only order would cross";
        case Reject::InvalidOrder: return "invalid order";
    }
    return "?";
}

struct OrderRequest {
    OrderId id = 0;
    OwnerId owner = 0;
    Side side = Side::Buy;
    OrderType type = OrderType::Limit;
    TimeInForce tif = TimeInForce::GTC;
    bool post_only = false;
    SelfTrade stp = SelfTrade::CancelIncoming;
    Price price = 0;  // ignored for market orders
    Qty qty = 0;
    std::uint64_t tag = 0;  // kept with the order if it rests (Order::tag); the book never reads it
};

struct Trade {
    OrderId maker = 0;  // the resting order
    OrderId taker = 0;  // the incoming order (0 for market-data executions)
    Price price = 0;    // always the resting order's level (or the printed price of an ITCH C)
    Qty qty = 0;
    Side taker_side = Side::Buy;
};

struct LevelInfo {
    Price price = 0;
    Qty qty = 0;
    std::uint32_t count = 0;
    friend bool operator==(const LevelInfo&, const LevelInfo&) = default;
};

// An order as the book stores it: one slab cell, linked into its level's FIFO.
struct Order {
    OrderId id;
    Price price;
    Qty qty;  // remaining
    OwnerId owner;
    slab::Key prev;           // older order at the same level (NONE at the head)
    slab::Key next;           // newer order at the same level (NONE at the tail)
    slab::Key level;          // the level it rests in
    InstrumentId instrument;  // its book (an index may be shared by many books)
    Side side;
    SelfTrade stp;
    std::uint64_t tag;  // the owner's reference for it (e.g. a client's order token); the book only keeps it
};

// A price level: the FIFO of its orders and their totals.
struct Level {
    Price price;
    Qty total;            // sum of its orders' remaining quantity
    std::uint32_t count;  // number of orders
    slab::Key head;       // oldest order: first to trade
    slab::Key tail;       // newest order
    Side side;
};

// Receives nothing; the default listener.
//
// Every listener has these six calls. An event about a resting order comes
// before the book changes that order: during on_trade the maker still has
// its size before the fill, during on_cancelled the order is still there
// (with its size before the cancel), so a listener may look it up with
// Book::find to read its owner or tag. on_level comes after the change.
struct NullListener {
    void on_accepted(InstrumentId, OrderId, Side, Price, Qty) {}
    void on_rejected(InstrumentId, OrderId, Reject) {}
    void on_trade(InstrumentId, const Trade&) {}
    void on_cancelled(InstrumentId, OrderId, Qty, CancelReason) {}
    void on_modified(InstrumentId, OrderId, Price, Qty, bool /*kept_priority*/) {}
    void on_level(InstrumentId, Side, Price, Qty /*total*/, std::uint32_t /*count*/) {}
};

}  // namespace nexus::orderbook

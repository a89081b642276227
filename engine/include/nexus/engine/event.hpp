// nexus/engine/event.hpp — what the engine tells a user: the typed answers a
// shard produces from a Command, before any wire encoding.
//
// One flat struct for every kind (as Command is), so a batch of events is one
// contiguous vector; which fields a kind uses is noted beside each field.
// The wire codec (event_codec.hpp) is the only place that turns these into
// protocol letters.
#pragma once

#include <cstdint>

#include <nexus/orderbook/types.hpp>

namespace nexus::engine {

// Why an order message was refused, by the router (before any shard saw it)
// or by the book.
enum class RejectReason : std::uint8_t {
    UnknownSymbol,
    InvalidQty,    // zero, above the instrument's or the user's maximum, or a bad cancel size
    InvalidPrice,  // outside the instrument's range, or non-zero on a market order
    InvalidSide,
    InvalidFlags,    // time in force, order type, post-only or STP code, or a bad combination
    DuplicateToken,  // the token was already used by this user today
    UnknownToken,    // cancel/replace of a token never seen, or of an order no longer live
    WouldCross,      // post-only order that would take liquidity
    BookFull,        // the shard's order or level pool is full
    OverLimit,       // notional above the user's limit
    Halted,          // the engine is shutting down
};

// Which side of a trade a user was on.
enum class Liquidity : std::uint8_t { Added, Removed };

enum class EventKind : std::uint8_t { Accepted, Replaced, Executed, Cancelled, Rejected };

struct Event {
    EventKind kind = EventKind::Accepted;
    orderbook::Side side = orderbook::Side::Buy;                            // accepted, replaced
    orderbook::TimeInForce tif = orderbook::TimeInForce::GTC;               // accepted
    orderbook::OrderType type = orderbook::OrderType::Limit;                // accepted
    Liquidity liquidity = Liquidity::Added;                                 // executed
    orderbook::CancelReason cancel_reason = orderbook::CancelReason::User;  // cancelled
    RejectReason reject_reason = RejectReason::InvalidFlags;                // rejected
    std::uint16_t instrument = 0;                                           // accepted, replaced: names the symbol
    std::uint32_t user = 0;        // who the event is for (index in the configuration)
    std::uint32_t qty = 0;         // accepted, replaced: resting size; executed, cancelled: the size concerned
    std::uint32_t price = 0;       // accepted, replaced, executed
    std::uint64_t ts = 0;          // the command's timestamp, ns since the epoch
    std::uint64_t token = 0;       // the client's order the event is about
    std::uint64_t prev_token = 0;  // replaced: the token it replaced
    std::uint64_t order_id = 0;    // accepted, replaced: the engine's order ID
    std::uint64_t match = 0;       // executed: the match number (shared by both sides)

    friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace nexus::engine

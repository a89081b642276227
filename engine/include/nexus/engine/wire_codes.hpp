// nexus/engine/wire_codes.hpp — the protocol's one-letter codes and the
// domain's enums, mapped in one place.
//
// Inbound letters become enums here (an unknown letter is nullopt, and the
// router refuses the message); outbound enums become letters here, when an
// Event is encoded. Nothing past this file compares a protocol letter.
#pragma once

#include <optional>

#include <nexus/orderbook/types.hpp>

#include "nexus/engine/event.hpp"
#include "nexus/engine/protocol.hpp"

namespace nexus::engine::wire {

namespace ob = nexus::orderbook;

// ---- inbound: letter -> enum --------------------------------------------------

constexpr std::optional<ob::Side> side_of(char c) noexcept {
    if (c == 'B') return ob::Side::Buy;
    if (c == 'S') return ob::Side::Sell;
    return std::nullopt;
}
constexpr std::optional<ob::TimeInForce> tif_of(char c) noexcept {
    if (c == 'D') return ob::TimeInForce::GTC;
    if (c == 'I') return ob::TimeInForce::IOC;
    if (c == 'F') return ob::TimeInForce::FOK;
    return std::nullopt;
}
constexpr std::optional<ob::OrderType> order_type_of(char c) noexcept {
    if (c == 'L') return ob::OrderType::Limit;
    if (c == 'M') return ob::OrderType::Market;
    return std::nullopt;
}
constexpr std::optional<bool> post_only_of(char c) noexcept {
    if (c == 'Y') return true;
    if (c == 'N') return false;
    return std::nullopt;
}
// 'N' cancel newest (the incoming order), 'O' cancel oldest (the resting one), 'B' both.
constexpr std::optional<ob::SelfTrade> stp_of(char c) noexcept {
    if (c == 'N') return ob::SelfTrade::CancelIncoming;
    if (c == 'O') return ob::SelfTrade::CancelResting;
    if (c == 'B') return ob::SelfTrade::CancelBoth;
    return std::nullopt;
}

// ---- outbound: enum -> letter -------------------------------------------------

constexpr char code(ob::Side s) noexcept { return s == ob::Side::Buy ? 'B' : 'S'; }
constexpr char code(ob::TimeInForce t) noexcept {
    return t == ob::TimeInForce::IOC ? 'I' : t == ob::TimeInForce::FOK ? 'F' : 'D';
}
constexpr char code(ob::OrderType t) noexcept { return t == ob::OrderType::Market ? 'M' : 'L'; }
constexpr char code(Liquidity l) noexcept { return l == Liquidity::Added ? 'A' : 'R'; }

// A Cancelled message's reason; market-data deletes never reach a user.
constexpr char code(ob::CancelReason r) noexcept {
    switch (r) {
        case ob::CancelReason::Unfilled: return cancel_reason::Unfilled;
        case ob::CancelReason::FokUnfillable: return cancel_reason::FokUnfilled;
        case ob::CancelReason::SelfTrade: return cancel_reason::SelfTrade;
        case ob::CancelReason::User:
        case ob::CancelReason::MarketData: break;
    }
    return cancel_reason::User;
}

constexpr char code(RejectReason r) noexcept {
    switch (r) {
        case RejectReason::UnknownSymbol: return reason::UnknownSymbol;
        case RejectReason::InvalidQty: return reason::InvalidQty;
        case RejectReason::InvalidPrice: return reason::InvalidPrice;
        case RejectReason::InvalidSide: return reason::InvalidSide;
        case RejectReason::InvalidFlags: return reason::InvalidFlags;
        case RejectReason::DuplicateToken: return reason::DuplicateToken;
        case RejectReason::UnknownToken: return reason::UnknownToken;
        case RejectReason::WouldCross: return reason::WouldCross;
        case RejectReason::BookFull: return reason::BookFull;
        case RejectReason::OverLimit: return reason::OverLimit;
        case RejectReason::Halted: return reason::Halted;
    }
    return reason::InvalidFlags;
}

}  // namespace nexus::engine::wire

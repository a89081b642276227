// nexus/engine/command.hpp — one accepted inbound command, as the router
// hands it to a shard and as the shard applies it (and journals it: the
// journal's record layout is journal_format.hpp).
//
// The protocol's letters stop at the router: a Command speaks the order
// book's vocabulary, so the core never interprets a wire code.
#pragma once

#include <cstdint>

#include <nexus/orderbook/types.hpp>

namespace nexus::engine {

enum class CommandKind : std::uint8_t { Enter, Replace, Cancel };

struct Command {
    CommandKind kind = CommandKind::Enter;
    orderbook::Side side = orderbook::Side::Buy;                      // enter
    orderbook::TimeInForce tif = orderbook::TimeInForce::GTC;         // enter
    orderbook::OrderType type = orderbook::OrderType::Limit;          // enter
    bool post_only = false;                                           // enter
    orderbook::SelfTrade stp = orderbook::SelfTrade::CancelIncoming;  // enter
    std::uint16_t instrument = 0;                                     // 1-based (the ITCH stock locate)
    std::uint32_t user = 0;                                           // index in the configuration
    std::uint32_t qty = 0;  // enter, replace: the size; cancel: what is to remain (0: all of it goes)
    std::uint32_t price = 0;
    std::uint64_t ts = 0;            // nanoseconds since the epoch, set by the shard
    std::uint64_t token = 0;         // enter: the token; replace, cancel: the live order's token
    std::uint64_t new_token = 0;     // replace: the replacement's token
    std::uint64_t order_id = 0;      // enter: the new order's ID; replace, cancel: the live order's ID
    std::uint64_t new_order_id = 0;  // replace: the replacement's ID

    // The token an answer to this command is about: a replace is answered
    // under the replacement's token.
    [[nodiscard]] std::uint64_t reply_token() const noexcept {
        return kind == CommandKind::Replace ? new_token : token;
    }
};

}  // namespace nexus::engine

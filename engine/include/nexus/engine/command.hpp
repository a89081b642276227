// nexus/engine/command.hpp — one accepted inbound command, as the router
// hands it to a shard and as the shard applies it (and journals it: the
// journal's record layout is journal_format.hpp).
#pragma once

#include <cstdint>

namespace nexus::engine {

struct Command {
    char kind = 0;                 // 'O' enter, 'U' replace, 'X' cancel
    char side = 'B';               // enter: 'B' / 'S'
    char tif = 'D';                // enter: 'D' / 'I' / 'F'
    char type = 'L';               // enter: 'L' / 'M'
    char post_only = 'N';          // enter: 'Y' / 'N'
    char stp = 'N';                // enter: 'N' / 'O' / 'B'
    std::uint16_t instrument = 0;  // 1-based (the ITCH stock locate)
    std::uint32_t user = 0;        // index in the configuration
    std::uint32_t qty = 0;
    std::uint32_t price = 0;
    std::uint64_t ts = 0;            // nanoseconds since the epoch, set by the shard
    std::uint64_t token = 0;         // enter: the token; replace, cancel: the live order's token
    std::uint64_t new_token = 0;     // replace: the replacement's token
    std::uint64_t order_id = 0;      // enter: the new order's ID; replace, cancel: the live order's ID
    std::uint64_t new_order_id = 0;  // replace: the replacement's ID
};

}  // namespace nexus::engine

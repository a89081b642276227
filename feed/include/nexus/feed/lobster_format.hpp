// nexus/feed/lobster_format.hpp — the vocabulary of LOBSTER's files
// (../shared/docs/lobster.md, LOBSTER_SampleFiles_ReadMe.txt): event types,
// one message row, one orderbook row, the placeholders and value ranges.
//
// Past the readers, protocol numbers do not appear: a direction of 1 / -1 is
// a Side, a type 1..7 an EventType, a time a count of nanoseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nexus/orderbook/types.hpp>

namespace nexus::feed::lobster {

using orderbook::Price;
using orderbook::Qty;
using orderbook::Side;

enum class EventType : std::uint8_t {
    Add = 1,            // submission of a new limit order
    Cancel = 2,         // partial cancellation: size is the shares taken away
    Delete = 3,         // total deletion: size is what the order had left
    Execute = 4,        // execution of a visible order, at that order's price
    HiddenExecute = 5,  // execution of a hidden order: no visible change
    Cross = 6,          // auction (cross) trade: its executions are already in the book
    Halt = 7,           // trading halt indicator: price -1 halt, 0 quoting, 1 trading
};

// Types 1-4 name a visible order and change the book at its price.
constexpr bool changes_book(EventType t) noexcept { return t >= EventType::Add && t <= EventType::Execute; }

constexpr std::string_view to_string(EventType t) noexcept {
    switch (t) {
        case EventType::Add: return "add";
        case EventType::Cancel: return "partial cancel";
        case EventType::Delete: return "delete";
        case EventType::Execute: return "execution";
        case EventType::HiddenExecute: return "hidden execution";
        case EventType::Cross: return "cross trade";
        case EventType::Halt: return "trading halt indicator";
    }
    return "?";
}
// "bid" for the buy side, "ask" for the sell side, as the orderbook file names them.
constexpr std::string_view book_side(Side s) noexcept { return s == Side::Buy ? "bid" : "ask"; }
// True if price a is better than price b on side s (a higher bid, a lower ask).
constexpr bool better(Side s, Price a, Price b) noexcept { return s == Side::Buy ? a > b : a < b; }

// The price codes of a type-7 row.
enum class HaltCode : std::int8_t { Halted = -1, Quoting = 0, Trading = 1 };

// Value ranges. Prices are dollars x 10000 and sizes shares, both carried in
// 32-bit fields by ITCH, from which LOBSTER builds its files; a level's total
// may exceed one order's maximum.
inline constexpr Price kMaxPrice = 4'294'967'295;
inline constexpr Qty kMaxSize = 4'294'967'295;
inline constexpr Qty kMaxLevelSize = Qty{1} << 50;
inline constexpr Price kEmptyAskPrice = 9'999'999'999;   // an unoccupied ask level (size 0)
inline constexpr Price kEmptyBidPrice = -9'999'999'999;  // an unoccupied bid level (size 0)
inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr std::int64_t kDayNanos = 86'400 * kNanosPerSecond;

// One message-file row: time, type, order id, size, price, direction.
struct Message {
    std::int64_t time_ns = 0;  // after midnight
    EventType type = EventType::Add;
    std::int64_t id = 0;  // cross trades carry negative pseudo ids (-1 opening, -2 closing, ...)
    Qty size = 0;
    Price price = 0;        // for type 7, a HaltCode
    Side side = Side::Buy;  // direction 1: buy order (bid); -1: sell order (ask)
};

struct Level {
    Price price = 0;
    Qty size = 0;
    friend bool operator==(const Level&, const Level&) = default;
};

// One orderbook-file row: per side, the occupied levels from the best
// outwards (at most the file's level count; the placeholders are not kept).
struct BookRow {
    std::vector<Level> asks, bids;
    [[nodiscard]] const std::vector<Level>& side(Side s) const noexcept { return s == Side::Buy ? bids : asks; }
    [[nodiscard]] std::vector<Level>& side(Side s) noexcept { return s == Side::Buy ? bids : asks; }
};

// "34200.004241176": seconds after midnight with nine decimals.
inline std::string format_time(std::int64_t ns) {
    std::string s = std::to_string(ns / kNanosPerSecond);
    std::string frac = std::to_string(ns % kNanosPerSecond);
    s += '.';
    s.append(9 - frac.size(), '0');
    s += frac;
    return s;
}

// "add of 18 at bid 5853200 (order 16113584) at 34200.004260640", for messages to a user.
inline std::string describe(const Message& m) {
    std::string s(to_string(m.type));
    if (changes_book(m.type) || m.type == EventType::HiddenExecute) {
        s += " of " + std::to_string(m.size) + " at " + std::string(book_side(m.side)) + " " + std::to_string(m.price) +
             " (order " + std::to_string(m.id) + ")";
    } else if (m.type == EventType::Cross) {
        s += " of " + std::to_string(m.size) + " at " + std::to_string(m.price);
    } else {
        s += m.price < 0 ? " (halt)" : m.price == 0 ? " (quoting resumes)" : " (trading resumes)";
    }
    return s + " at " + format_time(m.time_ns);
}

}  // namespace nexus::feed::lobster

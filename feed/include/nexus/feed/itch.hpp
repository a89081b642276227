// nexus/feed/itch.hpp — NASDAQ TotalView-ITCH 5.0: framing and zero-copy messages.
//
// A daily file is a sequence of messages, each preceded by a 2-byte
// big-endian length that does not count itself. `Framer` walks such a byte
// range and yields `Message`s that point into it (nothing is copied); typed
// views (`AddOrder`, `OrderExecuted`, ...) read their fields from those bytes
// on access. Integers are big-endian and unsigned; Price(4) has 4 implied
// decimals, Price(8) has 8; timestamps are nanoseconds since midnight in 6
// bytes; alpha fields are space-padded ASCII.
//
// Errors that make the rest of the stream meaningless stop the framer and are
// reported with the byte offset of the message's length prefix: a zero length,
// a length that disagrees with a known type's fixed length, a message cut off
// by the end of the data. A type it does not know is skipped by its length and
// counted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace nexus::feed::itch {

// Big-endian fields: one load or store and a byte swap each, always inlined
// (they sit on the path of every message).
[[gnu::always_inline]] inline std::uint16_t be16(const std::uint8_t* p) noexcept {
    std::uint16_t x;
    std::memcpy(&x, p, 2);
    return __builtin_bswap16(x);
}
[[gnu::always_inline]] inline std::uint32_t be32(const std::uint8_t* p) noexcept {
    std::uint32_t x;
    std::memcpy(&x, p, 4);
    return __builtin_bswap32(x);
}
[[gnu::always_inline]] inline std::uint64_t be48(const std::uint8_t* p) noexcept {
    return std::uint64_t{be16(p)} << 32 | be32(p + 2);
}
[[gnu::always_inline]] inline std::uint64_t be64(const std::uint8_t* p) noexcept {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    return __builtin_bswap64(x);
}
// ... and the same fields written (the encoders of synth.hpp and the engine's protocol).
[[gnu::always_inline]] inline void put_be16(std::uint8_t* p, std::uint16_t v) noexcept {
    const std::uint16_t x = __builtin_bswap16(v);
    std::memcpy(p, &x, 2);
}
[[gnu::always_inline]] inline void put_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    const std::uint32_t x = __builtin_bswap32(v);
    std::memcpy(p, &x, 4);
}
[[gnu::always_inline]] inline void put_be64(std::uint8_t* p, std::uint64_t v) noexcept {
    const std::uint64_t x = __builtin_bswap64(v);
    std::memcpy(p, &x, 8);
}

// The fixed length of every message type itch50.md lists; 0 = unknown type.
constexpr std::array<std::uint8_t, 256> kLengths = [] {
    std::array<std::uint8_t, 256> t{};
    t['S'] = 12;
    t['R'] = 39;
    t['H'] = 25;
    t['Y'] = 20;
    t['L'] = 26;
    t['V'] = 35;
    t['W'] = 12;
    t['K'] = 28;
    t['J'] = 35;
    t['h'] = 21;
    t['A'] = 36;
    t['F'] = 40;
    t['E'] = 31;
    t['C'] = 36;
    t['X'] = 23;
    t['D'] = 19;
    t['U'] = 35;
    t['P'] = 44;
    t['Q'] = 40;
    t['B'] = 19;
    t['I'] = 50;
    t['N'] = 20;
    t['O'] = 48;
    return t;
}();
constexpr std::string_view kKnownTypes = "SRHYLVWKJhAFECXDUPQBINO";

// One framed message: `data` points at its type byte, `size` bytes long.
struct Message {
    const std::uint8_t* data = nullptr;
    std::uint16_t size = 0;
    std::uint64_t offset = 0;  // of its length prefix in the stream

    [[nodiscard]] char type() const noexcept { return static_cast<char>(data[0]); }
    [[nodiscard]] std::uint16_t locate() const noexcept { return be16(data + 1); }
    [[nodiscard]] std::uint16_t tracking() const noexcept { return be16(data + 3); }
    [[nodiscard]] std::uint64_t timestamp() const noexcept { return be48(data + 5); }
};

inline std::string_view alpha(const std::uint8_t* p, std::size_t n) noexcept {
    std::string_view s(reinterpret_cast<const char*>(p), n);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

// ---- typed views: construct from a Message of the matching type ----------
#define NEXUS_ITCH_VIEW(Name)                                         \
    struct Name {                                                     \
        const std::uint8_t* p;                                        \
        explicit Name(const Message& m) noexcept : p(m.data) {}       \
        std::uint16_t locate() const noexcept { return be16(p + 1); } \
        std::uint64_t timestamp() const noexcept { return be48(p + 5); }

NEXUS_ITCH_VIEW(SystemEvent)
char event_code() const noexcept { return static_cast<char>(p[11]); }
};
NEXUS_ITCH_VIEW(StockDirectory)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char market_category() const noexcept { return static_cast<char>(p[19]); }
char financial_status() const noexcept { return static_cast<char>(p[20]); }
std::uint32_t round_lot_size() const noexcept { return be32(p + 21); }
char round_lots_only() const noexcept { return static_cast<char>(p[25]); }
char issue_classification() const noexcept { return static_cast<char>(p[26]); }
std::string_view issue_subtype() const noexcept { return alpha(p + 27, 2); }
char authenticity() const noexcept { return static_cast<char>(p[29]); }
char short_sale_threshold() const noexcept { return static_cast<char>(p[30]); }
char ipo_flag() const noexcept { return static_cast<char>(p[31]); }
char luld_tier() const noexcept { return static_cast<char>(p[32]); }
char etp_flag() const noexcept { return static_cast<char>(p[33]); }
std::uint32_t etp_leverage() const noexcept { return be32(p + 34); }
char inverse() const noexcept { return static_cast<char>(p[38]); }
}
;
NEXUS_ITCH_VIEW(StockTradingAction)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char trading_state() const noexcept { return static_cast<char>(p[19]); }
std::string_view reason() const noexcept { return alpha(p + 21, 4); }
}
;
NEXUS_ITCH_VIEW(RegShoRestriction)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char action() const noexcept { return static_cast<char>(p[19]); }
}
;
NEXUS_ITCH_VIEW(MarketParticipantPosition)
std::string_view mpid() const noexcept { return alpha(p + 11, 4); }
std::string_view stock() const noexcept { return alpha(p + 15, 8); }
char primary_market_maker() const noexcept { return static_cast<char>(p[23]); }
char market_maker_mode() const noexcept { return static_cast<char>(p[24]); }
char participant_state() const noexcept { return static_cast<char>(p[25]); }
}
;
NEXUS_ITCH_VIEW(MwcbDeclineLevel)
std::uint64_t level1() const noexcept { return be64(p + 11); }  // Price(8)
std::uint64_t level2() const noexcept { return be64(p + 19); }
std::uint64_t level3() const noexcept { return be64(p + 27); }
}
;
NEXUS_ITCH_VIEW(MwcbStatus)
char breached_level() const noexcept { return static_cast<char>(p[11]); }
}
;
NEXUS_ITCH_VIEW(IpoQuotingPeriod)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
std::uint32_t release_time() const noexcept { return be32(p + 19); }
char release_qualifier() const noexcept { return static_cast<char>(p[23]); }
std::uint32_t ipo_price() const noexcept { return be32(p + 24); }
}
;
NEXUS_ITCH_VIEW(LuldAuctionCollar)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
std::uint32_t reference_price() const noexcept { return be32(p + 19); }
std::uint32_t upper_price() const noexcept { return be32(p + 23); }
std::uint32_t lower_price() const noexcept { return be32(p + 27); }
std::uint32_t extension() const noexcept { return be32(p + 31); }
}
;
NEXUS_ITCH_VIEW(OperationalHalt)
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char market_code() const noexcept { return static_cast<char>(p[19]); }
char action() const noexcept { return static_cast<char>(p[20]); }
}
;
NEXUS_ITCH_VIEW(AddOrder)  // 'A', and 'F' which adds an attribution
std::uint64_t ref() const noexcept { return be64(p + 11); }
char side() const noexcept { return static_cast<char>(p[19]); }
std::uint32_t shares() const noexcept { return be32(p + 20); }
std::string_view stock() const noexcept { return alpha(p + 24, 8); }
std::uint32_t price() const noexcept { return be32(p + 32); }
std::string_view attribution() const noexcept { return p[0] == 'F' ? alpha(p + 36, 4) : std::string_view{}; }
}
;
NEXUS_ITCH_VIEW(OrderExecuted)  // 'E'
std::uint64_t ref() const noexcept { return be64(p + 11); }
std::uint32_t shares() const noexcept { return be32(p + 19); }
std::uint64_t match() const noexcept { return be64(p + 23); }
}
;
NEXUS_ITCH_VIEW(OrderExecutedWithPrice)  // 'C'
std::uint64_t ref() const noexcept { return be64(p + 11); }
std::uint32_t shares() const noexcept { return be32(p + 19); }
std::uint64_t match() const noexcept { return be64(p + 23); }
char printable() const noexcept { return static_cast<char>(p[31]); }
std::uint32_t price() const noexcept { return be32(p + 32); }
}
;
NEXUS_ITCH_VIEW(OrderCancel)  // 'X'
std::uint64_t ref() const noexcept { return be64(p + 11); }
std::uint32_t shares() const noexcept { return be32(p + 19); }
}
;
NEXUS_ITCH_VIEW(OrderDelete)  // 'D'
std::uint64_t ref() const noexcept { return be64(p + 11); }
}
;
NEXUS_ITCH_VIEW(OrderReplace)  // 'U'
std::uint64_t old_ref() const noexcept { return be64(p + 11); }
std::uint64_t new_ref() const noexcept { return be64(p + 19); }
std::uint32_t shares() const noexcept { return be32(p + 27); }
std::uint32_t price() const noexcept { return be32(p + 31); }
}
;
NEXUS_ITCH_VIEW(Trade)  // 'P'
std::uint64_t ref() const noexcept { return be64(p + 11); }
char side() const noexcept { return static_cast<char>(p[19]); }
std::uint32_t shares() const noexcept { return be32(p + 20); }
std::string_view stock() const noexcept { return alpha(p + 24, 8); }
std::uint32_t price() const noexcept { return be32(p + 32); }
std::uint64_t match() const noexcept { return be64(p + 36); }
}
;
NEXUS_ITCH_VIEW(CrossTrade)  // 'Q'
std::uint64_t shares() const noexcept { return be64(p + 11); }
std::string_view stock() const noexcept { return alpha(p + 19, 8); }
std::uint32_t cross_price() const noexcept { return be32(p + 27); }
std::uint64_t match() const noexcept { return be64(p + 31); }
char cross_type() const noexcept { return static_cast<char>(p[39]); }
}
;
NEXUS_ITCH_VIEW(BrokenTrade)  // 'B'
std::uint64_t match() const noexcept { return be64(p + 11); }
}
;
NEXUS_ITCH_VIEW(Noii)  // 'I'
std::uint64_t paired_shares() const noexcept { return be64(p + 11); }
std::uint64_t imbalance_shares() const noexcept { return be64(p + 19); }
char imbalance_direction() const noexcept { return static_cast<char>(p[27]); }
std::string_view stock() const noexcept { return alpha(p + 28, 8); }
std::uint32_t far_price() const noexcept { return be32(p + 36); }
std::uint32_t near_price() const noexcept { return be32(p + 40); }
std::uint32_t reference_price() const noexcept { return be32(p + 44); }
char cross_type() const noexcept { return static_cast<char>(p[48]); }
char price_variation() const noexcept { return static_cast<char>(p[49]); }
}
;
NEXUS_ITCH_VIEW(RetailPriceImprovement)  // 'N'
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char interest_flag() const noexcept { return static_cast<char>(p[19]); }
}
;
NEXUS_ITCH_VIEW(DlcrPriceDiscovery)  // 'O'
std::string_view stock() const noexcept { return alpha(p + 11, 8); }
char open_eligibility() const noexcept { return static_cast<char>(p[19]); }
std::uint32_t min_allowed_price() const noexcept { return be32(p + 20); }
std::uint32_t max_allowed_price() const noexcept { return be32(p + 24); }
std::uint32_t near_execution_price() const noexcept { return be32(p + 28); }
std::uint64_t near_execution_time() const noexcept { return be64(p + 32); }
std::uint32_t lower_price_collar() const noexcept { return be32(p + 40); }
std::uint32_t upper_price_collar() const noexcept { return be32(p + 44); }
}
;
#undef NEXUS_ITCH_VIEW

// Why framing stopped.
enum class FrameError : std::uint8_t { None, TruncatedLength, ZeroLength, TruncatedMessage, LengthMismatch };

constexpr const char* to_string(FrameError e) noexcept {
    switch (e) {
        case FrameError::None: return "none";
        case FrameError::TruncatedLength: return "length prefix cut off by the end of the data";
        case FrameError::ZeroLength: return "zero message length";
        case FrameError::TruncatedMessage: return "message cut off by the end of the data";
        case FrameError::LengthMismatch: return "length disagrees with the message type";
    }
    return "?";
}

// What a consumer of a block of the stream did with it (see
// read_itch_blocks in source.hpp and ItchBookBuilder::apply_block).
struct BlockResult {
    std::size_t consumed = 0;             // bytes up to the first length prefix not handled
    FrameError error = FrameError::None;  // why it stopped short of the block's end, if it did
    bool stop = false;                    // it wants no more (not an input error)
    std::uint64_t messages = 0;           // known messages handled
    std::uint64_t unknown = 0;            // unknown types skipped
};

// Walks length-prefixed messages in a byte range.
class Framer {
public:
    // `base_offset`: stream offset of data[0] (for chunked input).
    explicit Framer(std::span<const std::uint8_t> data, std::uint64_t base_offset = 0) noexcept
        : data_(data), base_(base_offset) {}

    // The next known message; false at the end of the data or on an error
    // (see error()). Unknown types are skipped and counted.
    bool next(Message& m) noexcept {
        for (;;) {
            const std::size_t left = data_.size() - pos_;
            if (left == 0) return false;
            if (left < 2) return fail(FrameError::TruncatedLength);
            const std::uint16_t len = be16(data_.data() + pos_);
            if (len == 0) return fail(FrameError::ZeroLength);
            if (left - 2 < len) return fail(FrameError::TruncatedMessage);
            const std::uint8_t type = data_[pos_ + 2];
            const std::uint8_t want = kLengths[type];
            if (want == 0) {  // unknown type: skip by its length
                ++unknown_;
                pos_ += 2 + std::size_t{len};
                continue;
            }
            if (len != want) return fail(FrameError::LengthMismatch);
            m = Message{data_.data() + pos_ + 2, len, base_ + pos_};
            pos_ += 2 + std::size_t{len};
            return true;
        }
    }

    [[nodiscard]] FrameError error() const noexcept { return error_; }
    // Stream offset of the length prefix where framing stopped (error) or ended.
    [[nodiscard]] std::uint64_t offset() const noexcept { return base_ + pos_; }
    // Bytes consumed: everything up to the next unread length prefix.
    [[nodiscard]] std::size_t consumed() const noexcept { return pos_; }
    [[nodiscard]] std::uint64_t unknown_skipped() const noexcept { return unknown_; }
    [[nodiscard]] std::string error_message() const {
        return std::string(to_string(error_)) + " at byte offset " + std::to_string(offset());
    }

private:
    bool fail(FrameError e) noexcept {
        error_ = e;
        return false;
    }
    std::span<const std::uint8_t> data_;
    std::uint64_t base_;
    std::size_t pos_ = 0;
    FrameError error_ = FrameError::None;
    std::uint64_t unknown_ = 0;
};

}  // namespace nexus::feed::itch

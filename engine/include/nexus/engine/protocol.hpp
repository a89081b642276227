// nexus/engine/protocol.hpp — the order-entry wire format (docs/protocol.md).
//
// SoupBinTCP-style framing: every packet is a 2-byte big-endian length (the
// bytes that follow it: type + payload), a 1-byte packet type and a payload.
// Order messages ride inside Unsequenced Data ('U', client to server) and
// Sequenced Data ('S', server to client) packets; their layout follows OUCH:
// fixed-width binary fields, integers big-endian, prices as unsigned 32-bit
// integers with four implied decimals (as in ITCH).
//
// Everything here is pure byte handling with no I/O, so the decoder can be
// fuzzed on its own and shared by the server, the load generator and tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nexus/feed/itch.hpp>

namespace nexus::engine::wire {

// ---- big-endian helpers -----------------------------------------------------

// The common widths through the feed's byte-swapping helpers; other widths
// byte by byte.
inline std::uint64_t get_be(const std::uint8_t* p, int n) noexcept {
    switch (n) {
        case 2: return feed::itch::be16(p);
        case 4: return feed::itch::be32(p);
        case 8: return feed::itch::be64(p);
        default: {
            std::uint64_t v = 0;
            for (int i = 0; i < n; ++i) v = v << 8 | p[i];
            return v;
        }
    }
}
inline void put_be(std::uint8_t* p, std::uint64_t v, int n) noexcept {
    switch (n) {
        case 2: feed::itch::put_be16(p, static_cast<std::uint16_t>(v)); return;
        case 4: feed::itch::put_be32(p, static_cast<std::uint32_t>(v)); return;
        case 8: feed::itch::put_be64(p, v); return;
        default:
            for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
    }
}

// An 8-character, space-padded symbol packed into an integer (map key).
using Symbol = std::array<char, 8>;
inline Symbol make_symbol(std::string_view s) noexcept {
    Symbol out;
    out.fill(' ');
    std::memcpy(out.data(), s.data(), s.size() < 8 ? s.size() : 8);
    return out;
}
inline std::uint64_t symbol_key(const Symbol& s) noexcept { return get_be(reinterpret_cast<const std::uint8_t*>(s.data()), 8); }
inline std::string symbol_text(const Symbol& s) {
    std::string t(s.data(), 8);
    while (!t.empty() && t.back() == ' ') t.pop_back();
    return t;
}

// ---- packet types and sizes -------------------------------------------------

// Client to server.
constexpr char kLoginRequest = 'L';
constexpr char kUnsequenced = 'U';
constexpr char kClientHeartbeat = 'R';
constexpr char kLogoutRequest = 'O';
// Server to client.
constexpr char kLoginAccepted = 'A';
constexpr char kLoginRejected = 'J';
constexpr char kSequenced = 'S';
constexpr char kServerHeartbeat = 'H';
constexpr char kEndOfSession = 'Z';
constexpr char kDebug = '+';

constexpr std::size_t kLoginPayload = 6 + 10 + 10 + 20;  // user, password, session, sequence
constexpr std::size_t kLoginAcceptedPayload = 10 + 20;   // session, sequence
// The longest packet a client may send (the login request); a length field
// above it is refused at once, before any of the body is read.
constexpr std::size_t kMaxInboundLength = 1 + kLoginPayload;
// The longest packet the server sends (a debug text is cut to fit).
constexpr std::size_t kMaxOutboundLength = 128;

// Order messages, client to server (first byte of the Unsequenced payload).
constexpr char kEnterOrder = 'O';
constexpr char kReplaceOrder = 'U';
constexpr char kCancelOrder = 'X';
constexpr std::size_t kEnterOrderSize = 1 + 8 + 1 + 4 + 8 + 4 + 1 + 1 + 1 + 1;  // 30
constexpr std::size_t kReplaceOrderSize = 1 + 8 + 8 + 4 + 4;                   // 25
constexpr std::size_t kCancelOrderSize = 1 + 8 + 4;                            // 13

// Order messages, server to client (first byte of the Sequenced payload).
constexpr char kAccepted = 'A';
constexpr char kReplaced = 'U';
constexpr char kCancelled = 'C';
constexpr char kExecuted = 'E';
constexpr char kRejected = 'J';
constexpr std::size_t kAcceptedSize = 1 + 8 + 8 + 1 + 4 + 8 + 4 + 1 + 1 + 8;  // 44
constexpr std::size_t kReplacedSize = 1 + 8 + 8 + 8 + 1 + 4 + 8 + 4 + 8;      // 50
constexpr std::size_t kCancelledSize = 1 + 8 + 8 + 4 + 1;                     // 22
constexpr std::size_t kExecutedSize = 1 + 8 + 8 + 4 + 4 + 1 + 8;              // 34
constexpr std::size_t kRejectedSize = 1 + 8 + 8 + 1;                          // 18

// Reject reasons (the Rejected message's last byte).
namespace reason {
constexpr char UnknownSymbol = 'S';
constexpr char InvalidQty = 'Z';       // zero, above the instrument's or the user's maximum, or a bad cancel size
constexpr char InvalidPrice = 'X';     // outside the instrument's range, or non-zero on a market order
constexpr char InvalidSide = 'B';
constexpr char InvalidFlags = 'Y';     // time in force, order type, post-only or STP code, or a bad combination
constexpr char DuplicateToken = 'D';   // the token was already used by this user today
constexpr char UnknownToken = 'T';     // cancel/replace of a token never seen, or of an order no longer live
constexpr char WouldCross = 'P';       // post-only order that would take liquidity
constexpr char BookFull = 'F';         // the shard's order or level pool is full
constexpr char OverLimit = 'L';        // notional above the user's limit
constexpr char Halted = 'H';           // the engine is shutting down
}  // namespace reason

// Cancelled reasons.
namespace cancel_reason {
constexpr char User = 'U';       // cancel request (or the original of a refused replace)
constexpr char Unfilled = 'I';   // IOC / market remainder
constexpr char FokUnfilled = 'F';
constexpr char SelfTrade = 'Q';  // self-trade prevention
}  // namespace cancel_reason

// ---- inbound messages --------------------------------------------------------

struct Login {
    std::string user;      // trailing spaces removed
    std::string password;  // trailing spaces removed
    std::string session;   // trailing spaces removed; empty: the current session
    std::uint64_t sequence = 0;  // the first message wanted; 0: only new ones
};

struct EnterOrder {
    std::uint64_t token = 0;
    char side = 'B';  // 'B' buy, 'S' sell
    std::uint32_t qty = 0;
    Symbol symbol{};
    std::uint32_t price = 0;  // 4 implied decimals; 0 for a market order
    char tif = 'D';           // 'D' day (rests), 'I' immediate-or-cancel, 'F' fill-or-kill
    char type = 'L';          // 'L' limit, 'M' market
    char post_only = 'N';     // 'Y' or 'N'
    char stp = 'N';           // self-trade: 'N' cancel newest (incoming), 'O' cancel oldest (resting), 'B' both
};
struct ReplaceOrder {
    std::uint64_t token = 0;      // the live order's token
    std::uint64_t new_token = 0;  // the replacement's token
    std::uint32_t qty = 0;        // the replacement's size
    std::uint32_t price = 0;
};
struct CancelOrder {
    std::uint64_t token = 0;
    std::uint32_t qty = 0;  // 0 cancels everything; otherwise the size to leave open (must be smaller)
};

// What a decoded Unsequenced payload is.
enum class InKind : std::uint8_t { Enter, Replace, Cancel, Bad };
struct Inbound {
    InKind kind = InKind::Bad;
    EnterOrder enter;
    ReplaceOrder replace;
    CancelOrder cancel;
    const char* error = nullptr;  // for Bad: what is wrong
};

// Decodes an order message (the payload of a 'U' packet). Only the layout is
// checked here (type byte and exact length); field values are validated by
// the engine against its configuration.
inline Inbound decode_order(std::span<const std::uint8_t> m) noexcept {
    Inbound in;
    if (m.empty()) {
        in.error = "empty order message";
        return in;
    }
    const std::uint8_t* p = m.data();
    switch (static_cast<char>(p[0])) {
        case kEnterOrder:
            if (m.size() != kEnterOrderSize) {
                in.error = "enter order: wrong length";
                return in;
            }
            in.kind = InKind::Enter;
            in.enter.token = get_be(p + 1, 8);
            in.enter.side = static_cast<char>(p[9]);
            in.enter.qty = static_cast<std::uint32_t>(get_be(p + 10, 4));
            std::memcpy(in.enter.symbol.data(), p + 14, 8);
            in.enter.price = static_cast<std::uint32_t>(get_be(p + 22, 4));
            in.enter.tif = static_cast<char>(p[26]);
            in.enter.type = static_cast<char>(p[27]);
            in.enter.post_only = static_cast<char>(p[28]);
            in.enter.stp = static_cast<char>(p[29]);
            return in;
        case kReplaceOrder:
            if (m.size() != kReplaceOrderSize) {
                in.error = "replace order: wrong length";
                return in;
            }
            in.kind = InKind::Replace;
            in.replace.token = get_be(p + 1, 8);
            in.replace.new_token = get_be(p + 9, 8);
            in.replace.qty = static_cast<std::uint32_t>(get_be(p + 17, 4));
            in.replace.price = static_cast<std::uint32_t>(get_be(p + 21, 4));
            return in;
        case kCancelOrder:
            if (m.size() != kCancelOrderSize) {
                in.error = "cancel order: wrong length";
                return in;
            }
            in.kind = InKind::Cancel;
            in.cancel.token = get_be(p + 1, 8);
            in.cancel.qty = static_cast<std::uint32_t>(get_be(p + 9, 4));
            return in;
        default:
            in.error = "unknown order message type";
            return in;
    }
}

// ---- framing -------------------------------------------------------------------

// One packet from the byte stream.
struct Packet {
    char type = 0;
    std::span<const std::uint8_t> payload;
};

// Splits a byte stream into packets. next() returns a packet, nothing yet
// (need more bytes) or a framing error; after an error the stream is dead.
// `max_length` bounds the length field (checked as soon as the 2 bytes arrive).
class Deframer {
public:
    enum class Status : std::uint8_t { Packet, NeedMore, Error };

    explicit Deframer(std::size_t max_length) : max_(max_length) {}

    // Examines buf[pos..end); on Packet, advances `consumed` past it.
    Status next(std::span<const std::uint8_t> buf, std::size_t& consumed, Packet& out) {
        const std::size_t avail = buf.size() - consumed;
        if (avail < 2) return Status::NeedMore;
        const std::uint8_t* p = buf.data() + consumed;
        const std::size_t len = static_cast<std::size_t>(get_be(p, 2));
        if (len == 0) return fail("zero packet length");
        if (len > max_) return fail("packet length above the maximum");
        if (avail < 2 + len) return Status::NeedMore;
        out.type = static_cast<char>(p[2]);
        out.payload = std::span<const std::uint8_t>(p + 3, len - 1);
        consumed += 2 + len;
        return Status::Packet;
    }
    [[nodiscard]] const char* error() const noexcept { return error_; }

private:
    Status fail(const char* e) {
        error_ = e;
        return Status::Error;
    }
    std::size_t max_;
    const char* error_ = nullptr;
};

// A numeric text field: digits right-justified and padded with spaces on the
// left (all spaces reads as 0). False if it is anything else or above 2^64-1.
inline bool parse_numeric(std::span<const std::uint8_t> f, std::uint64_t& out) noexcept {
    std::size_t i = 0;
    while (i < f.size() && f[i] == ' ') ++i;
    std::uint64_t v = 0;
    for (; i < f.size(); ++i) {
        if (f[i] < '0' || f[i] > '9') return false;
        const std::uint64_t d = f[i] - '0';
        if (v > (~std::uint64_t{0} - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

// Parses a login request payload; returns what is wrong with it, or nullptr.
inline const char* decode_login(std::span<const std::uint8_t> pl, Login& out) {
    if (pl.size() != kLoginPayload) return "login request of the wrong length";
    auto field = [&](std::size_t off, std::size_t n) {
        std::string s(reinterpret_cast<const char*>(pl.data() + off), n);
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s;
    };
    out.user = field(0, 6);
    out.password = field(6, 10);
    out.session = field(16, 10);
    if (!parse_numeric(pl.subspan(26, 20), out.sequence)) return "login request: the requested sequence number is not a number";
    return nullptr;
}

// Login Accepted: the session and the number of the next Sequenced Data message.
struct LoginAccepted {
    std::string session;
    std::uint64_t sequence = 0;
};
inline bool decode_login_accepted(std::span<const std::uint8_t> pl, LoginAccepted& out) {
    if (pl.size() != kLoginAcceptedPayload) return false;
    out.session.assign(reinterpret_cast<const char*>(pl.data()), 10);
    while (!out.session.empty() && out.session.back() == ' ') out.session.pop_back();
    return parse_numeric(pl.subspan(10, 20), out.sequence);
}

// ---- encoding ------------------------------------------------------------------

// Appends packets to a byte buffer.
class Encoder {
public:
    explicit Encoder(std::vector<std::uint8_t>& out) : out_(out) {}
    // Every packet is preceded in `out` by these 4 bytes (native order), in
    // the same append: the engine tags each event with the user it is for.
    Encoder(std::vector<std::uint8_t>& out, std::uint32_t prefix) : out_(out), prefix_(prefix), prefix_len_(4) {}

    // Generic packet.
    void packet(char type, std::span<const std::uint8_t> payload = {}) {
        std::uint8_t* p = begin(type, payload.size());
        if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
    }

    // Client side.
    // sequence: the first message wanted (1: the whole stream), 0: only new ones.
    void login(std::string_view user, std::string_view password, std::string_view session = "", std::uint64_t sequence = 0) {
        std::uint8_t* p = begin(kLoginRequest, kLoginPayload);
        text(p, user, 6);
        text(p + 6, password, 10);
        text(p + 16, session, 10);
        text(p + 26, std::to_string(sequence), 20, true);
    }
    void enter(const EnterOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kEnterOrderSize);
        p[0] = kEnterOrder;
        put_be(p + 1, o.token, 8);
        p[9] = static_cast<std::uint8_t>(o.side);
        put_be(p + 10, o.qty, 4);
        std::memcpy(p + 14, o.symbol.data(), 8);
        put_be(p + 22, o.price, 4);
        p[26] = static_cast<std::uint8_t>(o.tif);
        p[27] = static_cast<std::uint8_t>(o.type);
        p[28] = static_cast<std::uint8_t>(o.post_only);
        p[29] = static_cast<std::uint8_t>(o.stp);
    }
    void replace(const ReplaceOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kReplaceOrderSize);
        p[0] = kReplaceOrder;
        put_be(p + 1, o.token, 8);
        put_be(p + 9, o.new_token, 8);
        put_be(p + 17, o.qty, 4);
        put_be(p + 21, o.price, 4);
    }
    void cancel(const CancelOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kCancelOrderSize);
        p[0] = kCancelOrder;
        put_be(p + 1, o.token, 8);
        put_be(p + 9, o.qty, 4);
    }

    // Server side.
    void login_accepted(std::string_view session, std::uint64_t next_seq) {
        std::uint8_t* p = begin(kLoginAccepted, kLoginAcceptedPayload);
        text(p, session, 10);
        text(p + 10, std::to_string(next_seq), 20, true);
    }
    void login_rejected(char why) {
        std::uint8_t* p = begin(kLoginRejected, 1);
        p[0] = static_cast<std::uint8_t>(why);
    }
    void debug(std::string_view text_) {
        const std::size_t n = text_.size() < kMaxOutboundLength - 1 ? text_.size() : kMaxOutboundLength - 1;
        std::uint8_t* p = begin(kDebug, n);
        std::memcpy(p, text_.data(), n);
    }
    void accepted(std::uint64_t ts, std::uint64_t token, char side, std::uint32_t qty, const Symbol& sym,
                  std::uint32_t price, char tif, char type, std::uint64_t ref) {
        std::uint8_t* p = begin(kSequenced, kAcceptedSize);
        p[0] = kAccepted;
        put_be(p + 1, ts, 8);
        put_be(p + 9, token, 8);
        p[17] = static_cast<std::uint8_t>(side);
        put_be(p + 18, qty, 4);
        std::memcpy(p + 22, sym.data(), 8);
        put_be(p + 30, price, 4);
        p[34] = static_cast<std::uint8_t>(tif);
        p[35] = static_cast<std::uint8_t>(type);
        put_be(p + 36, ref, 8);
    }
    void replaced(std::uint64_t ts, std::uint64_t token, std::uint64_t prev_token, char side, std::uint32_t qty,
                  const Symbol& sym, std::uint32_t price, std::uint64_t ref) {
        std::uint8_t* p = begin(kSequenced, kReplacedSize);
        p[0] = kReplaced;
        put_be(p + 1, ts, 8);
        put_be(p + 9, token, 8);
        put_be(p + 17, prev_token, 8);
        p[25] = static_cast<std::uint8_t>(side);
        put_be(p + 26, qty, 4);
        std::memcpy(p + 30, sym.data(), 8);
        put_be(p + 38, price, 4);
        put_be(p + 42, ref, 8);
    }
    void cancelled(std::uint64_t ts, std::uint64_t token, std::uint32_t qty, char why) {
        std::uint8_t* p = begin(kSequenced, kCancelledSize);
        p[0] = kCancelled;
        put_be(p + 1, ts, 8);
        put_be(p + 9, token, 8);
        put_be(p + 17, qty, 4);
        p[21] = static_cast<std::uint8_t>(why);
    }
    void executed(std::uint64_t ts, std::uint64_t token, std::uint32_t qty, std::uint32_t price, char liquidity,
                  std::uint64_t match) {
        std::uint8_t* p = begin(kSequenced, kExecutedSize);
        p[0] = kExecuted;
        put_be(p + 1, ts, 8);
        put_be(p + 9, token, 8);
        put_be(p + 17, qty, 4);
        put_be(p + 21, price, 4);
        p[25] = static_cast<std::uint8_t>(liquidity);
        put_be(p + 26, match, 8);
    }
    void rejected(std::uint64_t ts, std::uint64_t token, char why) {
        std::uint8_t* p = begin(kSequenced, kRejectedSize);
        p[0] = kRejected;
        put_be(p + 1, ts, 8);
        put_be(p + 9, token, 8);
        p[17] = static_cast<std::uint8_t>(why);
    }

private:
    std::size_t grow(std::size_t n) {
        const std::size_t at = out_.size();
        out_.resize(at + n);
        return at;
    }
    // Writes the packet header; returns where the payload goes.
    std::uint8_t* begin(char type, std::size_t payload) {
        const std::size_t at = grow(prefix_len_ + 3 + payload);  // may move the buffer: take data() after
        std::uint8_t* p = out_.data() + at;
        if (prefix_len_ != 0) {
            std::memcpy(p, &prefix_, 4);
            p += 4;
        }
        put_be(p, 1 + payload, 2);
        p[2] = static_cast<std::uint8_t>(type);
        return p + 3;
    }
    static void text(std::uint8_t* p, std::string_view s, std::size_t n, bool right = false) {
        std::memset(p, ' ', n);
        const std::size_t k = s.size() < n ? s.size() : n;
        std::memcpy(p + (right ? n - k : 0), s.data(), k);
    }
    std::vector<std::uint8_t>& out_;
    std::uint32_t prefix_ = 0;
    std::size_t prefix_len_ = 0;
};

// ---- outbound decoding (clients, tests) -----------------------------------------

struct Outbound {
    char type = 0;  // kAccepted, kReplaced, ... or 0 if malformed
    std::uint64_t ts = 0;
    std::uint64_t token = 0;
    std::uint64_t prev_token = 0;  // Replaced
    char side = 0;
    std::uint32_t qty = 0;
    Symbol symbol{};
    std::uint32_t price = 0;
    char tif = 0, order_type = 0;
    std::uint64_t ref = 0;     // Accepted, Replaced: the order reference (ITCH order ref)
    char reason = 0;           // Cancelled, Rejected
    char liquidity = 0;        // Executed
    std::uint64_t match = 0;   // Executed
};

inline Outbound decode_outbound(std::span<const std::uint8_t> m) noexcept {
    Outbound o;
    if (m.empty()) return o;
    const std::uint8_t* p = m.data();
    const char t = static_cast<char>(p[0]);
    auto fits = [&](std::size_t n) { return m.size() == n; };
    switch (t) {
        case kAccepted:
            if (!fits(kAcceptedSize)) return o;
            o.ts = get_be(p + 1, 8); o.token = get_be(p + 9, 8); o.side = static_cast<char>(p[17]);
            o.qty = static_cast<std::uint32_t>(get_be(p + 18, 4)); std::memcpy(o.symbol.data(), p + 22, 8);
            o.price = static_cast<std::uint32_t>(get_be(p + 30, 4)); o.tif = static_cast<char>(p[34]);
            o.order_type = static_cast<char>(p[35]); o.ref = get_be(p + 36, 8);
            break;
        case kReplaced:
            if (!fits(kReplacedSize)) return o;
            o.ts = get_be(p + 1, 8); o.token = get_be(p + 9, 8); o.prev_token = get_be(p + 17, 8);
            o.side = static_cast<char>(p[25]); o.qty = static_cast<std::uint32_t>(get_be(p + 26, 4));
            std::memcpy(o.symbol.data(), p + 30, 8); o.price = static_cast<std::uint32_t>(get_be(p + 38, 4));
            o.ref = get_be(p + 42, 8);
            break;
        case kCancelled:
            if (!fits(kCancelledSize)) return o;
            o.ts = get_be(p + 1, 8); o.token = get_be(p + 9, 8); o.qty = static_cast<std::uint32_t>(get_be(p + 17, 4));
            o.reason = static_cast<char>(p[21]);
            break;
        case kExecuted:
            if (!fits(kExecutedSize)) return o;
            o.ts = get_be(p + 1, 8); o.token = get_be(p + 9, 8); o.qty = static_cast<std::uint32_t>(get_be(p + 17, 4));
            o.price = static_cast<std::uint32_t>(get_be(p + 21, 4)); o.liquidity = static_cast<char>(p[25]);
            o.match = get_be(p + 26, 8);
            break;
        case kRejected:
            if (!fits(kRejectedSize)) return o;
            o.ts = get_be(p + 1, 8); o.token = get_be(p + 9, 8); o.reason = static_cast<char>(p[17]);
            break;
        default:
            return o;
    }
    o.type = t;
    return o;
}

}  // namespace nexus::engine::wire

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
#include <initializer_list>
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
inline std::uint64_t symbol_key(const Symbol& s) noexcept {
    return get_be(reinterpret_cast<const std::uint8_t*>(s.data()), 8);
}
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

// ---- message layouts ----------------------------------------------------------

// Where a field lies in its message: offset and width in bytes. Every
// message's fields are listed once, here; the encoders and decoders below
// read and write only through these tables (docs/protocol.md shows the same
// layouts for people).
struct Field {
    std::size_t offset;
    std::size_t width;
};

namespace layout {

// True if `fields`, in order, cover [0, size) with no gap and no overlap.
constexpr bool tiles(std::initializer_list<Field> fields, std::size_t size) {
    std::size_t at = 0;
    for (const Field& f : fields) {
        if (f.offset != at || f.width == 0) return false;
        at += f.width;
    }
    return at == size;
}

// Every packet: a big-endian length (of the type byte and the payload), the
// type byte, the payload.
namespace packet {
constexpr Field length{0, 2}, type{2, 1};
constexpr std::size_t header = 3;
static_assert(tiles({length, type}, header));
}  // namespace packet

// Login Request payload (text fields, space-padded; sequence right-justified digits).
namespace login {
constexpr Field user{0, 6}, password{6, 10}, session{16, 10}, sequence{26, 20};
constexpr std::size_t size = 46;
static_assert(tiles({user, password, session, sequence}, size));
}  // namespace login
// Login Accepted payload.
namespace login_accepted {
constexpr Field session{0, 10}, sequence{10, 20};
constexpr std::size_t size = 30;
static_assert(tiles({session, sequence}, size));
}  // namespace login_accepted
// Login Rejected payload.
namespace login_rejected {
constexpr Field reason{0, 1};
constexpr std::size_t size = 1;
}  // namespace login_rejected

// Order messages, client to server (the Unsequenced payload).
namespace enter {
constexpr Field type{0, 1}, token{1, 8}, side{9, 1}, qty{10, 4}, symbol{14, 8}, price{22, 4}, tif{26, 1},
    order_type{27, 1}, post_only{28, 1}, stp{29, 1};
constexpr std::size_t size = 30;
static_assert(tiles({type, token, side, qty, symbol, price, tif, order_type, post_only, stp}, size));
}  // namespace enter
namespace replace {
constexpr Field type{0, 1}, token{1, 8}, new_token{9, 8}, qty{17, 4}, price{21, 4};
constexpr std::size_t size = 25;
static_assert(tiles({type, token, new_token, qty, price}, size));
}  // namespace replace
namespace cancel {
constexpr Field type{0, 1}, token{1, 8}, qty{9, 4};
constexpr std::size_t size = 13;
static_assert(tiles({type, token, qty}, size));
}  // namespace cancel

// Order messages, server to client (the Sequenced payload).
namespace accepted {
constexpr Field type{0, 1}, ts{1, 8}, token{9, 8}, side{17, 1}, qty{18, 4}, symbol{22, 8}, price{30, 4}, tif{34, 1},
    order_type{35, 1}, ref{36, 8};
constexpr std::size_t size = 44;
static_assert(tiles({type, ts, token, side, qty, symbol, price, tif, order_type, ref}, size));
}  // namespace accepted
namespace replaced {
constexpr Field type{0, 1}, ts{1, 8}, token{9, 8}, prev_token{17, 8}, side{25, 1}, qty{26, 4}, symbol{30, 8},
    price{38, 4}, ref{42, 8};
constexpr std::size_t size = 50;
static_assert(tiles({type, ts, token, prev_token, side, qty, symbol, price, ref}, size));
}  // namespace replaced
namespace cancelled {
constexpr Field type{0, 1}, ts{1, 8}, token{9, 8}, qty{17, 4}, reason{21, 1};
constexpr std::size_t size = 22;
static_assert(tiles({type, ts, token, qty, reason}, size));
}  // namespace cancelled
namespace executed {
constexpr Field type{0, 1}, ts{1, 8}, token{9, 8}, qty{17, 4}, price{21, 4}, liquidity{25, 1}, match{26, 8};
constexpr std::size_t size = 34;
static_assert(tiles({type, ts, token, qty, price, liquidity, match}, size));
}  // namespace executed
namespace rejected {
constexpr Field type{0, 1}, ts{1, 8}, token{9, 8}, reason{17, 1};
constexpr std::size_t size = 18;
static_assert(tiles({type, ts, token, reason}, size));
}  // namespace rejected

}  // namespace layout

// Field access through a layout: numbers big-endian, letters one byte,
// byte strings (symbols) as they are.
inline std::uint64_t get(const std::uint8_t* m, Field f) noexcept {
    return get_be(m + f.offset, static_cast<int>(f.width));
}
inline void put(std::uint8_t* m, Field f, std::uint64_t v) noexcept {
    put_be(m + f.offset, v, static_cast<int>(f.width));
}
inline char get_char(const std::uint8_t* m, Field f) noexcept { return static_cast<char>(m[f.offset]); }
inline void put_char(std::uint8_t* m, Field f, char c) noexcept { m[f.offset] = static_cast<std::uint8_t>(c); }
inline void get_bytes(const std::uint8_t* m, Field f, char* out) noexcept { std::memcpy(out, m + f.offset, f.width); }
inline void put_bytes(std::uint8_t* m, Field f, const char* in) noexcept { std::memcpy(m + f.offset, in, f.width); }

constexpr std::size_t kLoginPayload = layout::login::size;
constexpr std::size_t kLoginAcceptedPayload = layout::login_accepted::size;
// The longest packet a client may send (the login request); a length field
// above it is refused at once, before any of the body is read.
constexpr std::size_t kMaxInboundLength = 1 + kLoginPayload;
// The longest packet the server sends (a debug text is cut to fit).
constexpr std::size_t kMaxOutboundLength = 128;

// Order messages, client to server (first byte of the Unsequenced payload).
constexpr char kEnterOrder = 'O';
constexpr char kReplaceOrder = 'U';
constexpr char kCancelOrder = 'X';
constexpr std::size_t kEnterOrderSize = layout::enter::size;
constexpr std::size_t kReplaceOrderSize = layout::replace::size;
constexpr std::size_t kCancelOrderSize = layout::cancel::size;

// Order messages, server to client (first byte of the Sequenced payload).
constexpr char kAccepted = 'A';
constexpr char kReplaced = 'U';
constexpr char kCancelled = 'C';
constexpr char kExecuted = 'E';
constexpr char kRejected = 'J';
constexpr std::size_t kAcceptedSize = layout::accepted::size;
constexpr std::size_t kReplacedSize = layout::replaced::size;
constexpr std::size_t kCancelledSize = layout::cancelled::size;
constexpr std::size_t kExecutedSize = layout::executed::size;
constexpr std::size_t kRejectedSize = layout::rejected::size;

// Reject reasons (the Rejected message's last byte).
namespace reason {
constexpr char UnknownSymbol = 'S';
constexpr char InvalidQty = 'Z';    // zero, above the instrument's or the user's maximum, or a bad cancel size
constexpr char InvalidPrice = 'X';  // outside the instrument's range, or non-zero on a market order
constexpr char InvalidSide = 'B';
constexpr char InvalidFlags = 'Y';    // time in force, order type, post-only or STP code, or a bad combination
constexpr char DuplicateToken = 'D';  // the token was already used by this user today
constexpr char UnknownToken = 'T';    // cancel/replace of a token never seen, or of an order no longer live
constexpr char WouldCross = 'P';      // post-only order that would take liquidity
constexpr char BookFull = 'F';        // the shard's order or level pool is full
constexpr char OverLimit = 'L';       // notional above the user's limit
constexpr char Halted = 'H';          // the engine is shutting down
}  // namespace reason

// Cancelled reasons.
namespace cancel_reason {
constexpr char User = 'U';      // cancel request (or the original of a refused replace)
constexpr char Unfilled = 'I';  // IOC / market remainder
constexpr char FokUnfilled = 'F';
constexpr char SelfTrade = 'Q';  // self-trade prevention
}  // namespace cancel_reason

// ---- inbound messages --------------------------------------------------------

struct Login {
    std::string user;            // trailing spaces removed
    std::string password;        // trailing spaces removed
    std::string session;         // trailing spaces removed; empty: the current session
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
            in.enter.token = get(p, layout::enter::token);
            in.enter.side = get_char(p, layout::enter::side);
            in.enter.qty = static_cast<std::uint32_t>(get(p, layout::enter::qty));
            get_bytes(p, layout::enter::symbol, in.enter.symbol.data());
            in.enter.price = static_cast<std::uint32_t>(get(p, layout::enter::price));
            in.enter.tif = get_char(p, layout::enter::tif);
            in.enter.type = get_char(p, layout::enter::order_type);
            in.enter.post_only = get_char(p, layout::enter::post_only);
            in.enter.stp = get_char(p, layout::enter::stp);
            return in;
        case kReplaceOrder:
            if (m.size() != kReplaceOrderSize) {
                in.error = "replace order: wrong length";
                return in;
            }
            in.kind = InKind::Replace;
            in.replace.token = get(p, layout::replace::token);
            in.replace.new_token = get(p, layout::replace::new_token);
            in.replace.qty = static_cast<std::uint32_t>(get(p, layout::replace::qty));
            in.replace.price = static_cast<std::uint32_t>(get(p, layout::replace::price));
            return in;
        case kCancelOrder:
            if (m.size() != kCancelOrderSize) {
                in.error = "cancel order: wrong length";
                return in;
            }
            in.kind = InKind::Cancel;
            in.cancel.token = get(p, layout::cancel::token);
            in.cancel.qty = static_cast<std::uint32_t>(get(p, layout::cancel::qty));
            return in;
        default: in.error = "unknown order message type"; return in;
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
        if (avail < layout::packet::length.width) return Status::NeedMore;
        const std::uint8_t* p = buf.data() + consumed;
        namespace f = layout::packet;
        const std::size_t len = static_cast<std::size_t>(get(p, f::length));
        if (len == 0) return fail("zero packet length");
        if (len > max_) return fail("packet length above the maximum");
        if (avail < f::length.width + len) return Status::NeedMore;
        out.type = get_char(p, f::type);
        out.payload = std::span<const std::uint8_t>(p + f::header, len - f::type.width);
        consumed += f::length.width + len;
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
    auto field = [&](Field f) {
        std::string s(reinterpret_cast<const char*>(pl.data() + f.offset), f.width);
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s;
    };
    out.user = field(layout::login::user);
    out.password = field(layout::login::password);
    out.session = field(layout::login::session);
    if (!parse_numeric(pl.subspan(layout::login::sequence.offset, layout::login::sequence.width), out.sequence))
        return "login request: the requested sequence number is not a number";
    return nullptr;
}

// Login Accepted: the session and the number of the next Sequenced Data message.
struct LoginAccepted {
    std::string session;
    std::uint64_t sequence = 0;
};
inline bool decode_login_accepted(std::span<const std::uint8_t> pl, LoginAccepted& out) {
    if (pl.size() != kLoginAcceptedPayload) return false;
    const Field session = layout::login_accepted::session, sequence = layout::login_accepted::sequence;
    out.session.assign(reinterpret_cast<const char*>(pl.data() + session.offset), session.width);
    while (!out.session.empty() && out.session.back() == ' ') out.session.pop_back();
    return parse_numeric(pl.subspan(sequence.offset, sequence.width), out.sequence);
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
    void login(std::string_view user, std::string_view password, std::string_view session = "",
               std::uint64_t sequence = 0) {
        std::uint8_t* p = begin(kLoginRequest, kLoginPayload);
        text(p, layout::login::user, user);
        text(p, layout::login::password, password);
        text(p, layout::login::session, session);
        text(p, layout::login::sequence, std::to_string(sequence), true);
    }
    void enter(const EnterOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kEnterOrderSize);
        namespace f = layout::enter;
        put_char(p, f::type, kEnterOrder);
        put(p, f::token, o.token);
        put_char(p, f::side, o.side);
        put(p, f::qty, o.qty);
        put_bytes(p, f::symbol, o.symbol.data());
        put(p, f::price, o.price);
        put_char(p, f::tif, o.tif);
        put_char(p, f::order_type, o.type);
        put_char(p, f::post_only, o.post_only);
        put_char(p, f::stp, o.stp);
    }
    void replace(const ReplaceOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kReplaceOrderSize);
        namespace f = layout::replace;
        put_char(p, f::type, kReplaceOrder);
        put(p, f::token, o.token);
        put(p, f::new_token, o.new_token);
        put(p, f::qty, o.qty);
        put(p, f::price, o.price);
    }
    void cancel(const CancelOrder& o) {
        std::uint8_t* p = begin(kUnsequenced, kCancelOrderSize);
        namespace f = layout::cancel;
        put_char(p, f::type, kCancelOrder);
        put(p, f::token, o.token);
        put(p, f::qty, o.qty);
    }

    // Server side.
    void login_accepted(std::string_view session, std::uint64_t next_seq) {
        std::uint8_t* p = begin(kLoginAccepted, kLoginAcceptedPayload);
        text(p, layout::login_accepted::session, session);
        text(p, layout::login_accepted::sequence, std::to_string(next_seq), true);
    }
    void login_rejected(char why) {
        std::uint8_t* p = begin(kLoginRejected, layout::login_rejected::size);
        put_char(p, layout::login_rejected::reason, why);
    }
    void debug(std::string_view text_) {
        const std::size_t n = text_.size() < kMaxOutboundLength - 1 ? text_.size() : kMaxOutboundLength - 1;
        std::uint8_t* p = begin(kDebug, n);
        std::memcpy(p, text_.data(), n);
    }
    void accepted(std::uint64_t ts, std::uint64_t token, char side, std::uint32_t qty, const Symbol& sym,
                  std::uint32_t price, char tif, char type, std::uint64_t ref) {
        std::uint8_t* p = begin(kSequenced, kAcceptedSize);
        namespace f = layout::accepted;
        put_char(p, f::type, kAccepted);
        put(p, f::ts, ts);
        put(p, f::token, token);
        put_char(p, f::side, side);
        put(p, f::qty, qty);
        put_bytes(p, f::symbol, sym.data());
        put(p, f::price, price);
        put_char(p, f::tif, tif);
        put_char(p, f::order_type, type);
        put(p, f::ref, ref);
    }
    void replaced(std::uint64_t ts, std::uint64_t token, std::uint64_t prev_token, char side, std::uint32_t qty,
                  const Symbol& sym, std::uint32_t price, std::uint64_t ref) {
        std::uint8_t* p = begin(kSequenced, kReplacedSize);
        namespace f = layout::replaced;
        put_char(p, f::type, kReplaced);
        put(p, f::ts, ts);
        put(p, f::token, token);
        put(p, f::prev_token, prev_token);
        put_char(p, f::side, side);
        put(p, f::qty, qty);
        put_bytes(p, f::symbol, sym.data());
        put(p, f::price, price);
        put(p, f::ref, ref);
    }
    void cancelled(std::uint64_t ts, std::uint64_t token, std::uint32_t qty, char why) {
        std::uint8_t* p = begin(kSequenced, kCancelledSize);
        namespace f = layout::cancelled;
        put_char(p, f::type, kCancelled);
        put(p, f::ts, ts);
        put(p, f::token, token);
        put(p, f::qty, qty);
        put_char(p, f::reason, why);
    }
    void executed(std::uint64_t ts, std::uint64_t token, std::uint32_t qty, std::uint32_t price, char liquidity,
                  std::uint64_t match) {
        std::uint8_t* p = begin(kSequenced, kExecutedSize);
        namespace f = layout::executed;
        put_char(p, f::type, kExecuted);
        put(p, f::ts, ts);
        put(p, f::token, token);
        put(p, f::qty, qty);
        put(p, f::price, price);
        put_char(p, f::liquidity, liquidity);
        put(p, f::match, match);
    }
    void rejected(std::uint64_t ts, std::uint64_t token, char why) {
        std::uint8_t* p = begin(kSequenced, kRejectedSize);
        namespace f = layout::rejected;
        put_char(p, f::type, kRejected);
        put(p, f::ts, ts);
        put(p, f::token, token);
        put_char(p, f::reason, why);
    }

private:
    std::size_t grow(std::size_t n) {
        const std::size_t at = out_.size();
        out_.resize(at + n);
        return at;
    }
    // Writes the packet header; returns where the payload goes.
    std::uint8_t* begin(char type, std::size_t payload) {
        const std::size_t at =
            grow(prefix_len_ + layout::packet::header + payload);  // may move the buffer: take data() after
        std::uint8_t* p = out_.data() + at;
        if (prefix_len_ != 0) {
            std::memcpy(p, &prefix_, 4);
            p += 4;
        }
        put(p, layout::packet::length, layout::packet::type.width + payload);
        put_char(p, layout::packet::type, type);
        return p + layout::packet::header;
    }
    // A text field: space-padded, left-justified (or right-justified digits).
    static void text(std::uint8_t* m, Field f, std::string_view s, bool right = false) {
        std::uint8_t* p = m + f.offset;
        std::memset(p, ' ', f.width);
        const std::size_t k = s.size() < f.width ? s.size() : f.width;
        std::memcpy(p + (right ? f.width - k : 0), s.data(), k);
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
    std::uint64_t ref = 0;    // Accepted, Replaced: the order reference (ITCH order ref)
    char reason = 0;          // Cancelled, Rejected
    char liquidity = 0;       // Executed
    std::uint64_t match = 0;  // Executed
};

inline Outbound decode_outbound(std::span<const std::uint8_t> m) noexcept {
    Outbound o;
    if (m.empty()) return o;
    const std::uint8_t* p = m.data();
    const char t = static_cast<char>(p[0]);
    auto fits = [&](std::size_t n) { return m.size() == n; };
    switch (t) {
        case kAccepted: {
            namespace f = layout::accepted;
            if (!fits(f::size)) return o;
            o.ts = get(p, f::ts);
            o.token = get(p, f::token);
            o.side = get_char(p, f::side);
            o.qty = static_cast<std::uint32_t>(get(p, f::qty));
            get_bytes(p, f::symbol, o.symbol.data());
            o.price = static_cast<std::uint32_t>(get(p, f::price));
            o.tif = get_char(p, f::tif);
            o.order_type = get_char(p, f::order_type);
            o.ref = get(p, f::ref);
            break;
        }
        case kReplaced: {
            namespace f = layout::replaced;
            if (!fits(f::size)) return o;
            o.ts = get(p, f::ts);
            o.token = get(p, f::token);
            o.prev_token = get(p, f::prev_token);
            o.side = get_char(p, f::side);
            o.qty = static_cast<std::uint32_t>(get(p, f::qty));
            get_bytes(p, f::symbol, o.symbol.data());
            o.price = static_cast<std::uint32_t>(get(p, f::price));
            o.ref = get(p, f::ref);
            break;
        }
        case kCancelled: {
            namespace f = layout::cancelled;
            if (!fits(f::size)) return o;
            o.ts = get(p, f::ts);
            o.token = get(p, f::token);
            o.qty = static_cast<std::uint32_t>(get(p, f::qty));
            o.reason = get_char(p, f::reason);
            break;
        }
        case kExecuted: {
            namespace f = layout::executed;
            if (!fits(f::size)) return o;
            o.ts = get(p, f::ts);
            o.token = get(p, f::token);
            o.qty = static_cast<std::uint32_t>(get(p, f::qty));
            o.price = static_cast<std::uint32_t>(get(p, f::price));
            o.liquidity = get_char(p, f::liquidity);
            o.match = get(p, f::match);
            break;
        }
        case kRejected: {
            namespace f = layout::rejected;
            if (!fits(f::size)) return o;
            o.ts = get(p, f::ts);
            o.token = get(p, f::token);
            o.reason = get_char(p, f::reason);
            break;
        }
        default: return o;
    }
    o.type = t;
    return o;
}

}  // namespace nexus::engine::wire

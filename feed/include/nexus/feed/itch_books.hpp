// nexus/feed/itch_books.hpp — rebuilds the venue's books from ITCH 5.0 messages.
//
// Books are indexed by stock locate; the stock directory (R) names them, and
// trading actions (H) are tracked per locate. A/F/E/C/X/D/U are applied with
// ITCH semantics (no matching: the feed is the venue's own book); P, Q and B
// are counted as trades without touching the visible book.
//
// The books are MarketBooks (orderbook/market_book.hpp): full L3, every order
// in time priority at its level, in slabs that grow with the day's live set
// and one WindowIndex from order reference to order shared by every book
// (ITCH assigns references in sequence across all stocks, so an order's entry
// lies next to those of the orders added around it).
//
// Order-flow anomalies (a reference the book does not know, an execution or
// cancel larger than what is left, an order for a locate the directory never
// announced) are counted by message type and the replay goes on. A stock
// message with locate 0 or an add with a side other than B/S is a format
// error, and an order the books cannot make room for (past the slab's key
// space) a capacity error: apply() returns false, error() says what and where
// and error_kind() which. std::bad_alloc from growth propagates.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nexus/orderbook/market_book.hpp>

#include "nexus/feed/itch.hpp"

namespace nexus::feed {

// Called by ItchBookBuilder::apply_block around every message it applies
// (derive and hide what you need): before() just before, after() just after,
// returning false to stop; skip() for a message of a locate it does not own.
struct ItchObserver {
    void before(const itch::Message&) noexcept {}
    bool after(const itch::Message&) noexcept { return true; }
    void skip(const itch::Message&) noexcept {}
};

// Which locates apply_block() applies: all of them, or (a worker of a
// multi-threaded replay) those a table gives to one owner.
struct AllLocates {
    static constexpr bool kAll = true;
    bool operator()(std::uint16_t) const noexcept { return true; }
};
struct LocateShare {
    static constexpr bool kAll = false;
    const std::uint8_t* owner;  // 65536 entries: the owner of each locate
    std::uint8_t me;
    bool operator()(std::uint16_t locate) const noexcept { return owner[locate] == me; }
};

struct ItchStats {
    std::uint64_t messages = 0;
    std::array<std::uint64_t, 256> by_type{};    // messages of each type
    std::array<std::uint64_t, 256> anomalies{};  // order-flow anomalies of each type
    std::uint64_t unannounced_locates = 0;       // order messages for a locate without R
    std::uint64_t trades_off_book = 0;           // P and Q
    std::uint64_t broken_trades = 0;             // B
    std::uint64_t peak_live_orders = 0;          // most orders resting at once, over all books
    std::uint64_t peak_levels = 0;               // most price levels at once, over all books
    std::uint64_t filtered = 0;                  // messages of symbols left out by select_symbols()

    [[nodiscard]] std::uint64_t total_anomalies() const noexcept {
        std::uint64_t n = 0;
        for (auto a : anomalies) n += a;
        return n;
    }
};

// Why apply() returned false.
enum class ItchError : std::uint8_t { None, Format, Capacity };

template <class Listener = orderbook::NullListener>
class ItchBookBuilder {
    // Forwards every event to the caller's listener and notes a reject for
    // lack of room, which the builder reports as a capacity error.
    struct Watch {
        Listener& inner;
        bool full = false;
        void on_accepted(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Side s, orderbook::Price p,
                         orderbook::Qty q) {
            inner.on_accepted(i, id, s, p, q);
        }
        void on_rejected(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Reject r) {
            full = full || r == orderbook::Reject::BookFull;
            inner.on_rejected(i, id, r);
        }
        void on_trade(orderbook::InstrumentId i, const orderbook::Trade& t) { inner.on_trade(i, t); }
        void on_cancelled(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Qty q,
                          orderbook::CancelReason r) {
            inner.on_cancelled(i, id, q, r);
        }
        void on_modified(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Price p, orderbook::Qty q,
                         bool kept) {
            inner.on_modified(i, id, p, q, kept);
        }
        void on_level(orderbook::InstrumentId i, orderbook::Side s, orderbook::Price p, orderbook::Qty q,
                      std::uint32_t n) {
            inner.on_level(i, s, p, q, n);
        }
    };

public:
    using Books = orderbook::MarketBooks<Watch>;

    // `reserve`: order and level cells to allocate up front (the books grow
    // past them as the day needs).
    explicit ItchBookBuilder(Listener& listener, const orderbook::MarketPoolConfig& reserve = {})
        : watch_{listener}, books_(watch_, reserve) {}

    // Frames `data` (`offset`: the stream offset of data[0]) and applies
    // every message of a locate `owns` gives it, calling obs.before(m) and
    // obs.after(m) around each (obs.skip(m) for the others, which are only
    // checked for format errors, so that every share stops where the whole
    // replay would). Stops at the end of the data, at a framing error or a
    // message cut off by the end (BlockResult::error; read_itch_blocks
    // carries the cut message into the next block), when obs.after()
    // returns false, or at a format or capacity error (BlockResult::stop,
    // error() set). kLookAhead: prefetch for the messages ahead (LookAhead).
    template <class Observer, bool kLookAhead = true, class Owns = AllLocates>
    itch::BlockResult apply_block(std::span<const std::uint8_t> data, std::uint64_t offset, Observer& obs,
                                  Owns owns = {}) {
        const std::uint8_t* const base = data.data();
        const std::size_t size = data.size();
        itch::BlockResult r;
        std::size_t pos = 0;
        std::uint64_t messages = 0;  // kept in a register, not in r
        LookAhead<Owns> ahead(base, size, owns);
        if constexpr (kLookAhead) ahead.start(books_);
        for (;;) {
            std::uint16_t len;
            if (size - pos >= kLongestFrame) [[likely]] {
                // Room for any message: one comparison frames it, or sends
                // it to the checked path (unknown type, bad length).
                len = itch::be16(base + pos);
                if (len != itch::kLengths[base[pos + 2]]) [[unlikely]] {
                    if (!frame_odd(base, size, pos, len, r)) break;
                    continue;
                }
            } else {
                if (!frame_checked(base, size, pos, len, r)) break;
                if (len == 0) continue;  // an unknown type was skipped
            }
            if constexpr (kLookAhead) ahead.step(books_);
            const itch::Message m{base + pos + 2, len, offset + pos};
            ++messages;
            if constexpr (!Owns::kAll) {
                if (!owns(m.locate())) {
                    if (!format_plainly_ok(m) && !check_format(m)) [[unlikely]] {
                        r.stop = true;
                        break;
                    }
                    pos += 2 + std::size_t{len};
                    obs.skip(m);
                    continue;
                }
            }
            obs.before(m);
            if (!apply(m)) [[unlikely]] {
                r.stop = true;
                break;
            }
            pos += 2 + std::size_t{len};
            if (!obs.after(m)) [[unlikely]] {
                r.stop = true;
                break;
            }
        }
        r.consumed = pos;
        r.messages = messages;
        return r;
    }

    // Builds books only for these symbols: the messages of other locates
    // (from their directory entry on) are counted as filtered, not applied.
    // Call before the first message.
    void select_symbols(std::set<std::string> symbols) {
        selection_ = std::move(symbols);
        filtering_ = true;
    }

    // Applies one framed message. False only on a format or capacity error
    // (see error(), error_kind()).
    [[gnu::always_inline]] bool apply(const itch::Message& m) {
        const auto t = static_cast<unsigned char>(m.type());
        if (filtering_) [[unlikely]] {
            if (left_out(m)) return true;
        }
        ++stats_.by_type[t];
        switch (t) {
            case 'R': ++per_locate_[m.locate()]; return apply_directory(m);
            case 'H': ++per_locate_[m.locate()]; return apply_trading_action(m);
            case 'A':
            case 'F': return apply_add(m, t);
            case 'E': return apply_execute(m, t);
            case 'C': return apply_execute_at(m, t);
            case 'X': return apply_cancel(m, t);
            case 'D': return apply_delete(m, t);
            case 'U': return apply_replace(m, t);
            default: return apply_other(m);
        }
    }

    // Back to the state of a new builder (no books, no directory, no
    // counts), keeping the memory the books have grown into.
    void reset() {
        books_.clear();
        stats_ = ItchStats{};
        symbols_.assign(1, std::string());
        states_.assign(1, ' ');
        std::fill(per_locate_.begin(), per_locate_.end(), 0);
        std::fill(left_out_.begin(), left_out_.end(), 0);
        error_.clear();
        error_kind_ = ItchError::None;
        watch_.full = false;
    }

    [[nodiscard]] const ItchStats& stats() const noexcept {
        stats_.messages = 0;
        for (auto n : stats_.by_type) stats_.messages += n;
        stats_.peak_live_orders = books_.peak_orders();
        stats_.peak_levels = books_.peak_levels();
        return stats_;
    }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] ItchError error_kind() const noexcept { return error_kind_; }
    [[nodiscard]] Books& books() noexcept { return books_; }
    [[nodiscard]] const Books& books() const noexcept { return books_; }
    [[nodiscard]] std::size_t live_orders() const noexcept { return books_.live_orders(); }
    [[nodiscard]] std::size_t live_levels() const noexcept { return books_.live_levels(); }
    // The directory's symbol for a locate ("" if never announced).
    [[nodiscard]] std::string_view symbol(std::uint16_t locate) const noexcept {
        return locate < symbols_.size() ? std::string_view(symbols_[locate]) : std::string_view{};
    }
    // The last trading state (H) of a locate: 'H', 'P', 'Q', 'T', or ' ' if none.
    [[nodiscard]] char trading_state(std::uint16_t locate) const noexcept {
        return locate < states_.size() ? states_[locate] : ' ';
    }
    // Messages applied for a locate (every type, the directory entry included).
    [[nodiscard]] std::uint64_t messages_for(std::uint16_t locate) const noexcept {
        const auto* b = books_.get(locate);
        return per_locate_[locate] + (b != nullptr ? b->user_word() : 0);
    }
    [[nodiscard]] std::size_t directory_size() const noexcept {
        std::size_t n = 0;
        for (const auto& s : symbols_) n += !s.empty();
        return n;
    }

private:
    // The longest known message and its length prefix.
    static constexpr std::size_t kLongestFrame = 2 + 50;

    // Walks the block ahead of the message being applied and, for the order
    // messages there, asks the books to prefetch what applying them will
    // read, in three stages a few messages apart: the book's line and the
    // index entry kFar messages ahead; the order's cell (or, for an add,
    // the touch of its side) kMid ahead, when the entry has arrived; the
    // order's level kNear ahead, when the cell has. The
    // walk only reads lengths (the message being applied is framed and
    // checked as usual), so a bad length ends the look-ahead, nothing else.
    template <class Owns>
    class LookAhead {
    public:
        static constexpr unsigned kFar = 16, kMid = 8, kNear = 4;

        // Offsets are kept in 32 bits: a larger block is applied without look-ahead.
        LookAhead(const std::uint8_t* base, std::size_t size, Owns owns) noexcept
            : base_(base), size_(size < (std::size_t{1} << 31) ? size : 0), owns_(owns) {}

        // Stage 1 for the first kFar messages.
        template <class B>
        void start(const B& books) noexcept {
            for (unsigned i = 0; i < kFar; ++i) advance(books);
        }
        // One message on: stage 1 for the message kFar ahead, 2 for kMid, 3 for kNear.
        template <class B>
        [[gnu::always_inline]] void step(const B& books) noexcept {
            advance(books);
            Slot& mid = slot(kFar - kMid);
            if (mid.kind == Kind::Add) {
                const std::uint8_t* m = base_ + mid.pos + 2;
                books.prefetch_side(itch::be16(m + 1), m[19] == 'B' ? orderbook::Side::Buy : orderbook::Side::Sell);
            } else if (mid.kind == Kind::Refers) {
                mid.key = books.prefetch_order(itch::be64(base_ + mid.pos + 2 + 11));
            }
            const Slot& near = slot(kFar - kNear);
            if (near.kind == Kind::Refers && near.key.has_value()) books.prefetch_level(near.key);
        }

    private:
        static constexpr unsigned kRing = 32;  // > kFar, a power of two
        enum class Kind : std::uint8_t { None, Add, Refers };
        // Refers: E, C, X, D and U name a resting order (at byte 11).
        static constexpr std::array<Kind, 256> kKinds = [] {
            std::array<Kind, 256> k{};
            k['A'] = k['F'] = Kind::Add;
            k['E'] = k['C'] = k['X'] = k['D'] = k['U'] = Kind::Refers;
            return k;
        }();
        struct Slot {
            std::uint32_t pos;  // of the message's length prefix in the block
            Kind kind;          // Refers: E, C, X, D or U (the order at byte 11)
            slab::Key key;      // its order's cell, from stage 2
        };

        // The message `back` places behind the newest one walked.
        [[gnu::always_inline]] Slot& slot(unsigned back) noexcept { return ring_[(walked_ - 1 - back) & (kRing - 1)]; }
        // Walks one message further and runs stage 1 on it.
        template <class B>
        [[gnu::always_inline]] void advance(const B& books) noexcept {
            Slot& s = ring_[walked_++ & (kRing - 1)];
            s.kind = Kind::None;
            s.key = slab::Key::NONE;
            if (size_ - cursor_ < kLongestFrame) [[unlikely]]
                return;
            const std::uint8_t* m = base_ + cursor_;
            const std::uint16_t len = itch::be16(m);
            const std::uint8_t t = m[2];
            if (len == 0 || len != itch::kLengths[t]) {
                cursor_ = size_;  // an unknown type or a bad length: stop looking ahead
                return;
            }
            s.pos = static_cast<std::uint32_t>(cursor_);
            cursor_ += 2 + std::size_t{len};
            if constexpr (!Owns::kAll) {
                if (!owns_(itch::be16(m + 3))) return;  // another share's books
            }
            s.kind = kKinds[t];
            if (s.kind == Kind::Add)
                books.prefetch_book_and_entry(itch::be16(m + 3), 0);
            else if (s.kind == Kind::Refers)
                books.prefetch_book_and_entry(itch::be16(m + 3), itch::be64(m + 13));
        }

        const std::uint8_t* base_;
        std::size_t size_;
        [[no_unique_address]] Owns owns_;
        std::size_t cursor_ = 0;    // the next message to walk
        std::uint32_t walked_ = 0;  // messages walked (ring_ holds the last kRing)
        Slot ring_[kRing];
    };

    // A frame whose length is not its type's: an unknown type (skipped by
    // its length, counted) or a framing error. True to go on.
    [[gnu::noinline]] static bool frame_odd(const std::uint8_t* base, std::size_t size, std::size_t& pos,
                                            std::uint16_t len, itch::BlockResult& r) {
        // The checks in Framer::next()'s order, so both report the same error.
        if (len == 0) return fail(r, itch::FrameError::ZeroLength);
        if (size - pos - 2 < len) return fail(r, itch::FrameError::TruncatedMessage);
        if (itch::kLengths[base[pos + 2]] != 0) return fail(r, itch::FrameError::LengthMismatch);
        ++r.unknown;
        pos += 2 + std::size_t{len};
        return true;
    }
    // Framing near the end of the data, every bound checked. True with
    // `len` set for a known message, true with len 0 after skipping an
    // unknown one, false at the end or on an error.
    [[gnu::noinline]] static bool frame_checked(const std::uint8_t* base, std::size_t size, std::size_t& pos,
                                                std::uint16_t& len, itch::BlockResult& r) {
        const std::size_t left = size - pos;
        if (left == 0) return false;
        if (left < 2) return fail(r, itch::FrameError::TruncatedLength);
        len = itch::be16(base + pos);
        if (len == 0) return fail(r, itch::FrameError::ZeroLength);
        if (left - 2 < len) return fail(r, itch::FrameError::TruncatedMessage);
        const std::uint8_t want = itch::kLengths[base[pos + 2]];
        if (want == 0) {
            ++r.unknown;
            pos += 2 + std::size_t{len};
            len = 0;
            return true;
        }
        if (len != want) return fail(r, itch::FrameError::LengthMismatch);
        return true;
    }
    static bool fail(itch::BlockResult& r, itch::FrameError e) noexcept {
        r.error = e;
        return false;
    }

    // With select_symbols(): a directory entry marks its locate in or out;
    // any other message of a locate marked out is counted and skipped.
    // `count`: count a left-out message as filtered (its locate's owner does).
    [[gnu::noinline]] bool left_out(const itch::Message& m, bool count = true) {
        const std::uint16_t loc = m.locate();
        if (m.type() == 'R') {
            left_out_[loc] = loc != 0 && selection_.count(std::string(itch::StockDirectory(m).stock())) == 0;
            return false;
        }
        if (!left_out_[loc]) return false;
        if (count) ++stats_.filtered;
        return true;
    }

    // The format errors apply() would report for a message, without applying
    // it: for the messages of other shares (see apply_block). True if none.
    // Most messages: no filter, a locate other than 0, and for an add a side
    // of B or S — nothing for check_format() to look at.
    [[gnu::always_inline]] bool format_plainly_ok(const itch::Message& m) const noexcept {
        const char t = m.type();
        const bool add = t == 'A' || t == 'F';
        return !filtering_ && m.locate() != 0 && (!add || m.data[19] == 'B' || m.data[19] == 'S');
    }
    // The checks in apply()'s order, with its filter.
    [[gnu::noinline]] bool check_format(const itch::Message& m) {
        if (filtering_ && left_out(m, false)) return true;
        const char t = m.type();
        if (t == 'A' || t == 'F') {
            const char side = itch::AddOrder(m).side();
            if (side != 'B' && side != 'S') return format_error(m, "add order with side not B/S");
        }
        if (m.locate() == 0) {
            if (t == 'R') return format_error(m, "stock directory with locate 0");
            if (t == 'H') return format_error(m, "trading action with locate 0");
            if (t == 'A' || t == 'F' || t == 'E' || t == 'C' || t == 'X' || t == 'D' || t == 'U')
                return format_error(m, "order message with locate 0");
        }
        return true;
    }

    // Messages that do not touch a book: counted for their locate here (an
    // order message is counted in its book's user word).
    [[gnu::noinline]] bool apply_other(const itch::Message& m) {
        ++per_locate_[m.locate()];
        switch (m.type()) {
            case 'P':
            case 'Q': ++stats_.trades_off_book; return true;
            case 'B': ++stats_.broken_trades; return true;
            default: return true;  // S, Y, L, V, W, K, J, h, I, N, O: counted, no book effect
        }
    }

    // Once per symbol a day: kept out of apply(), whose order-message paths
    // then need fewer registers saved on every call.
    [[gnu::noinline]] bool apply_directory(const itch::Message& m) {
        const itch::StockDirectory r(m);
        if (r.locate() == 0) return format_error(m, "stock directory with locate 0");
        grow_directory(r.locate());
        symbols_[r.locate()] = std::string(r.stock());
        if (!left_out_[r.locate()]) books_.open(r.locate());
        return true;
    }
    [[gnu::noinline]] bool apply_trading_action(const itch::Message& m) {
        const itch::StockTradingAction h(m);
        if (h.locate() == 0) return format_error(m, "trading action with locate 0");
        grow_directory(h.locate());
        states_[h.locate()] = h.trading_state();
        return true;
    }
    // One function per order message: apply() only dispatches (tail calls),
    // and each path saves only the registers it uses.
    [[gnu::noinline]] bool apply_add(const itch::Message& m, unsigned t) {
        const itch::AddOrder a(m);
        if (a.side() != 'B' && a.side() != 'S') return format_error(m, "add order with side not B/S");
        const auto side = a.side() == 'B' ? orderbook::Side::Buy : orderbook::Side::Sell;
        return on_book(m, t, [&](auto& b) { return b.add(a.ref(), side, a.price(), a.shares()); });
    }
    [[gnu::noinline]] bool apply_execute(const itch::Message& m, unsigned t) {
        const itch::OrderExecuted e(m);
        return on_book(m, t, [&](auto& b) { return b.execute(e.ref(), e.shares()); });
    }
    [[gnu::noinline]] bool apply_execute_at(const itch::Message& m, unsigned t) {
        const itch::OrderExecutedWithPrice c(m);
        return on_book(m, t, [&](auto& b) { return b.execute_at(c.ref(), c.shares(), c.price()); });
    }
    [[gnu::noinline]] bool apply_cancel(const itch::Message& m, unsigned t) {
        const itch::OrderCancel x(m);
        return on_book(m, t, [&](auto& b) { return b.cancel_qty(x.ref(), x.shares()); });
    }
    [[gnu::noinline]] bool apply_delete(const itch::Message& m, unsigned t) {
        const itch::OrderDelete d(m);
        return on_book(m, t, [&](auto& b) { return b.remove(d.ref()); });
    }
    [[gnu::noinline]] bool apply_replace(const itch::Message& m, unsigned t) {
        const itch::OrderReplace u(m);
        return on_book(m, t, [&](auto& b) { return b.replace(u.old_ref(), u.new_ref(), u.shares(), u.price()); });
    }
    // Applies `op` to the message's book; counts an anomaly if it refuses,
    // and after an add or a replace (the only messages that add orders or
    // levels) the peaks. False only on a format or capacity error.
    template <class Op>
    [[gnu::always_inline]] bool on_book(const itch::Message& m, unsigned t, Op&& op) {
        auto* b = book_for(m);
        if (b == nullptr) [[unlikely]]
            return false;  // locate 0: a format error
        ++b->user_word();  // the book's message count
        if (!op(*b)) [[unlikely]]
            return refused(m, t);
        return true;
    }
    [[gnu::noinline, gnu::cold]] bool refused(const itch::Message& m, unsigned t) {
        if (watch_.full) return capacity_error(m);
        ++stats_.anomalies[t];
        return true;
    }
    void grow_directory(std::uint16_t locate) {
        if (locate >= symbols_.size()) {
            symbols_.resize(locate + std::size_t{1});
            states_.resize(locate + std::size_t{1}, ' ');
        }
    }
    [[gnu::always_inline]] typename Books::BookType* book_for(const itch::Message& m) {
        const std::uint16_t loc = m.locate();
        auto* b = books_.get(loc);
        if (b != nullptr && loc != 0) [[likely]]
            return b;
        return book_for_slow(m);
    }
    // Locate 0 (a format error: nullptr) or a locate the directory never announced.
    [[gnu::noinline, gnu::cold]] typename Books::BookType* book_for_slow(const itch::Message& m) {
        const std::uint16_t loc = m.locate();
        if (loc == 0) {
            format_error(m, "order message with locate 0");
            return nullptr;
        }
        ++stats_.unannounced_locates;
        return &books_.open(loc);
    }
    bool format_error(const itch::Message& m, const char* what) {
        error_ = std::string(what) + " (message type '" + m.type() + "') at byte offset " + std::to_string(m.offset);
        error_kind_ = ItchError::Format;
        return false;
    }
    [[gnu::noinline, gnu::cold]] bool capacity_error(const itch::Message& m) {
        error_ = "no room for an order (message type '" + std::string(1, m.type()) + "') at byte offset " +
                 std::to_string(m.offset) + ": " + std::to_string(books_.live_orders()) + " orders and " +
                 std::to_string(books_.live_levels()) + " levels live, the slabs' key space";
        error_kind_ = ItchError::Capacity;
        return false;
    }

    Watch watch_;  // declared before the books: outlives them
    Books books_;
    mutable ItchStats stats_;  // the total and the peaks are filled in when asked for
    std::vector<std::string> symbols_{1};
    std::vector<char> states_{std::vector<char>(1, ' ')};
    std::string error_;
    ItchError error_kind_ = ItchError::None;
    std::vector<std::uint64_t> per_locate_ = std::vector<std::uint64_t>(65536);  // messages by locate
    bool filtering_ = false;                                                     // select_symbols() was called
    std::set<std::string> selection_;
    std::vector<std::uint8_t> left_out_ = std::vector<std::uint8_t>(65536);  // locates whose R was not selected
};

}  // namespace nexus::feed

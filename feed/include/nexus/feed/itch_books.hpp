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

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nexus/orderbook/market_book.hpp>

#include "nexus/feed/itch.hpp"

namespace nexus::feed {

struct ItchStats {
    std::uint64_t messages = 0;
    std::array<std::uint64_t, 256> by_type{};    // messages of each type
    std::array<std::uint64_t, 256> anomalies{};  // order-flow anomalies of each type
    std::uint64_t unannounced_locates = 0;       // order messages for a locate without R
    std::uint64_t trades_off_book = 0;           // P and Q
    std::uint64_t broken_trades = 0;             // B
    std::uint64_t peak_live_orders = 0;          // most orders resting at once, over all books
    std::uint64_t peak_levels = 0;               // most price levels at once, over all books

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
        void on_cancelled(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Qty q, orderbook::CancelReason r) {
            inner.on_cancelled(i, id, q, r);
        }
        void on_modified(orderbook::InstrumentId i, orderbook::OrderId id, orderbook::Price p, orderbook::Qty q, bool kept) {
            inner.on_modified(i, id, p, q, kept);
        }
        void on_level(orderbook::InstrumentId i, orderbook::Side s, orderbook::Price p, orderbook::Qty q, std::uint32_t n) {
            inner.on_level(i, s, p, q, n);
        }
    };

public:
    using Books = orderbook::MarketBooks<Watch>;

    // `reserve`: order and level cells to allocate up front (the books grow
    // past them as the day needs).
    explicit ItchBookBuilder(Listener& listener, const orderbook::MarketPoolConfig& reserve = {})
        : watch_{listener}, books_(watch_, reserve) {}

    // Applies one framed message. False only on a format or capacity error
    // (see error(), error_kind()).
    bool apply(const itch::Message& m) {
        const auto t = static_cast<unsigned char>(m.type());
        ++stats_.messages;
        ++stats_.by_type[t];
        switch (m.type()) {
            case 'R': return apply_directory(m);
            case 'H': return apply_trading_action(m);
            case 'A':
            case 'F': return apply_add(m, t);
            case 'E': return apply_execute(m, t);
            case 'C': return apply_execute_at(m, t);
            case 'X': return apply_cancel(m, t);
            case 'D': return apply_delete(m, t);
            case 'U': return apply_replace(m, t);
            case 'P':
            case 'Q': ++stats_.trades_off_book; return true;
            case 'B': ++stats_.broken_trades; return true;
            default: return true;  // S, Y, L, V, W, K, J, h, I, N, O: counted, no book effect
        }
    }

    // Back to the state of a new builder (no books, no directory, no
    // counts), keeping the memory the books have grown into.
    void reset() {
        books_.clear();
        stats_ = ItchStats{};
        symbols_.assign(1, std::string());
        states_.assign(1, ' ');
        error_.clear();
        error_kind_ = ItchError::None;
        watch_.full = false;
    }

    [[nodiscard]] const ItchStats& stats() const noexcept { return stats_; }
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
    [[nodiscard]] std::size_t directory_size() const noexcept {
        std::size_t n = 0;
        for (const auto& s : symbols_) n += !s.empty();
        return n;
    }

private:
    // Once per symbol a day: kept out of apply(), whose order-message paths
    // then need fewer registers saved on every call.
    [[gnu::noinline]] bool apply_directory(const itch::Message& m) {
        const itch::StockDirectory r(m);
        if (r.locate() == 0) return format_error(m, "stock directory with locate 0");
        grow_directory(r.locate());
        symbols_[r.locate()] = std::string(r.stock());
        books_.open(r.locate());
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
            return false;
        if (!op(*b)) [[unlikely]]
            return refused(m, t);
        if (t == 'A' || t == 'F' || t == 'U') {
            const std::uint64_t orders = books_.live_orders(), levels = books_.live_levels();
            if (orders > stats_.peak_live_orders) stats_.peak_live_orders = orders;
            if (levels > stats_.peak_levels) stats_.peak_levels = levels;
        }
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

    Watch watch_;   // declared before the books: outlives them
    Books books_;
    ItchStats stats_;
    std::vector<std::string> symbols_{1};
    std::vector<char> states_{std::vector<char>(1, ' ')};
    std::string error_;
    ItchError error_kind_ = ItchError::None;
};

}  // namespace nexus::feed

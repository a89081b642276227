// nexus/feed/lobster_exporter.hpp — LOBSTER files written from ITCH 5.0.
//
// Each exported symbol has its own Book, rebuilt from every order message
// of the day; inside the time window [from, to) an event is written, with
// the book's N best levels after it, when it touches those levels: its price
// lies within the N levels shown before it (or the side shows fewer than N).
// Events elsewhere cannot change the N best levels, and are left out, as
// LOBSTER leaves them out. Types 5-7 are always written (with the book as it
// stands).
//
//   ITCH  LOBSTER
//   A F   1 add
//   X     2 partial cancel (size: the shares cancelled)
//   D     3 delete (size: what the order had left)
//   E C   4 execution, at the order's own price (the level that changes;
//         C's printed price is not the book's)
//   U     3 delete of the old order, then 1 add of the new one (same time),
//         each written if it touches the view
//   P     5 hidden execution (id, size, price and side as ITCH gives them;
//         none for 0 shares or price 0, which the format has no row for)
//   Q     6 cross trade, with LOBSTER's pseudo ids: -1 opening, -2 closing,
//         -3 IPO or halt, -4 other crosses; direction -1; a cross of 0
//         shares is not written
//   H     7 trading halt indicator: price -1 halted or paused, 0 quoting,
//         1 trading; id and size 0, direction -1
//
// ITCH files are in time order: the first message at or after `to` ends the
// export (apply() returns false). Order-flow anomalies (an unknown reference,
// a size larger than the order) are counted and not written. Running out of
// the pools' capacity is an error: apply() returns false, capacity_exhausted().
//
// Output goes through an ExportSink in blocks (a file per symbol and kind, or
// memory in tests and benchmarks); a sink's failure stops the export.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nexus/orderbook/book.hpp>

#include "nexus/feed/itch.hpp"
#include "nexus/feed/lobster_format.hpp"
#include "nexus/feed/lobster_writer.hpp"

namespace nexus::feed::lobster {

enum class FileKind : std::uint8_t { Message, Orderbook };

// Where the exporter's bytes go: appended to one file per symbol and kind.
class ExportSink {
public:
    virtual ~ExportSink() = default;
    // Appends `bytes` (possibly none: the file must then exist); false on failure.
    virtual bool write(std::string_view symbol, FileKind kind, std::string_view bytes) = 0;
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

protected:
    std::string error_;
};

// Keeps every file in memory (tests, benchmarks).
class MemorySink : public ExportSink {
public:
    struct Files {
        std::string messages, orderbook;
    };
    bool write(std::string_view symbol, FileKind kind, std::string_view bytes) override {
        Files& f = files_[std::string(symbol)];
        (kind == FileKind::Message ? f.messages : f.orderbook).append(bytes);
        return true;
    }
    [[nodiscard]] const std::map<std::string, Files>& files() const noexcept { return files_; }
    [[nodiscard]] std::map<std::string, Files>& files() noexcept { return files_; }

private:
    std::map<std::string, Files> files_;
};

struct ExportConfig {
    std::size_t levels = 10;
    std::int64_t from_ns = 34'200 * kNanosPerSecond;  // 09:30:00, as LOBSTER's files start
    std::int64_t to_ns = 57'600 * kNanosPerSecond;    // 16:00:00
    std::vector<std::string> symbols;                 // empty: every symbol of the directory
    orderbook::PoolConfig pools{.orders = std::size_t{4} << 20, .levels = std::size_t{1} << 20};
};

struct ExportStats {
    std::uint64_t messages = 0;   // ITCH messages seen
    std::uint64_t applied = 0;    // ... of exported symbols
    std::uint64_t rows = 0;       // rows written (each in both files)
    std::uint64_t anomalies = 0;  // order messages the book refused (unknown reference, bad size)
};

class Exporter {
public:
    Exporter(const ExportConfig& cfg, ExportSink& sink)
        : cfg_(cfg), sink_(sink), pools_(cfg.pools), by_locate_(65536, nullptr), scratch_(cfg.levels) {
        wanted_.insert(cfg.symbols.begin(), cfg.symbols.end());
        flush_at_ = cfg.symbols.empty() ? std::size_t{64} << 10
                                        : std::clamp<std::size_t>((std::size_t{16} << 20) / cfg.symbols.size(),
                                                                  std::size_t{64} << 10, std::size_t{1} << 20);
    }

    // Applies one ITCH message; false once the window has ended or on an error.
    bool apply(const itch::Message& m) {
        ++stats_.messages;
        const char t = m.type();
        if (t == 'R') [[unlikely]]
            return directory(m);
        const auto ts = static_cast<std::int64_t>(m.timestamp());
        if (ts >= cfg_.to_ns) [[unlikely]]
            return false;
        Symbol* s = by_locate_[m.locate()];
        if (!s) return true;
        ++stats_.applied;
        const bool live = ts >= cfg_.from_ns;
        if (live && !s->view_ready) ready(*s);
        switch (t) {
            case 'A':
            case 'F': {
                const itch::AddOrder a(m);
                if (a.side() != 'B' && a.side() != 'S') return anomaly();
                const Side side = a.side() == 'B' ? Side::Buy : Side::Sell;
                const bool touch = live && touches(*s, side, a.price());
                if (!s->book.add(a.ref(), side, a.price(), a.shares())) return refused();
                if (touch)
                    emit(*s,
                         Message{ts, EventType::Add, static_cast<std::int64_t>(a.ref()), a.shares(), a.price(), side});
                return ok();
            }
            case 'E': {
                const itch::OrderExecuted e(m);
                return reduce(*s, live, ts, EventType::Execute, e.ref(), e.shares(),
                              [&] { return s->book.execute(e.ref(), e.shares()); });
            }
            case 'C': {
                const itch::OrderExecutedWithPrice c(m);
                return reduce(*s, live, ts, EventType::Execute, c.ref(), c.shares(),
                              [&] { return s->book.execute_at(c.ref(), c.shares(), c.price()); });
            }
            case 'X': {
                const itch::OrderCancel x(m);
                return reduce(*s, live, ts, EventType::Cancel, x.ref(), x.shares(),
                              [&] { return s->book.cancel_qty(x.ref(), x.shares()); });
            }
            case 'D': {
                const itch::OrderDelete d(m);
                const orderbook::Order* o = s->book.find(d.ref());
                const Qty left = o ? o->qty : 0;
                return reduce(*s, live, ts, EventType::Delete, d.ref(), left, [&] { return s->book.remove(d.ref()); });
            }
            case 'U': return replace(*s, live, ts, itch::OrderReplace(m));
            case 'P': {
                const itch::Trade p(m);
                if (live && p.shares() > 0 && p.price() > 0)  // (a row LOBSTER's format allows)
                    emit(*s, Message{ts, EventType::HiddenExecute, static_cast<std::int64_t>(p.ref()), p.shares(),
                                     p.price(), p.side() == 'S' ? Side::Sell : Side::Buy});
                return ok();
            }
            case 'Q': {
                const itch::CrossTrade q(m);
                if (live && q.shares() > 0 && q.shares() <= kMaxSize && q.cross_price() > 0)
                    emit(*s, Message{ts, EventType::Cross, cross_id(q.cross_type()), q.shares(), q.cross_price(),
                                     Side::Sell});
                return ok();
            }
            case 'H': {
                const itch::StockTradingAction h(m);
                if (live)
                    emit(*s, Message{ts, EventType::Halt, 0, 0, static_cast<Price>(halt_code(h.trading_state())),
                                     Side::Sell});
                return ok();
            }
            default: return true;
        }
    }

    // Flushes every symbol's rows; creates the (empty) files of requested
    // symbols that had none. False if the sink failed.
    bool finish() {
        for (auto& s : symbols_)
            if (!flush(*s) || (!s->wrote && !wanted_.empty() && !create(*s))) return false;
        return error_.empty();
    }

    [[nodiscard]] const ExportStats& stats() const noexcept { return stats_; }
    // Why apply() or finish() returned false, if not the end of the window.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] bool capacity_exhausted() const noexcept { return capacity_exhausted_; }
    // Requested symbols the directory has not named (so far).
    [[nodiscard]] std::vector<std::string> missing_symbols() const {
        std::vector<std::string> out;
        for (const auto& w : cfg_.symbols)
            if (std::none_of(symbols_.begin(), symbols_.end(), [&](const auto& s) { return s->name == w; }))
                out.push_back(w);
        return out;
    }
    // Calls f(symbol, rows) for every exported symbol, in directory order.
    template <class F>
    void for_each_symbol(F&& f) const {
        for (const auto& s : symbols_) f(std::string_view(s->name), s->rows);
    }

private:
    // Remembers why the book refused an operation: a full pool is fatal.
    struct RejectListener : orderbook::NullListener {
        orderbook::Reject last = orderbook::Reject::UnknownId;
        void on_rejected(orderbook::InstrumentId, orderbook::OrderId, orderbook::Reject r) { last = r; }
    };
    struct Symbol {
        Symbol(std::string n, orderbook::Pools& pools, RejectListener& l, std::size_t levels)
            : name(std::move(n)),
              book(pools, l, 0, orderbook::BookLimits{.min_price = 1, .max_price = kMaxPrice, .max_qty = kMaxSize}, 64),
              view{SideText(Side::Buy, levels), SideText(Side::Sell, levels)} {}
        std::string name;
        orderbook::Book<RejectListener> book;
        SideText view[2];  // the N best levels now, as text (Buy = bids, Sell = asks)
        bool view_ready = false;
        TextBuffer messages, orderbook;
        std::uint64_t rows = 0;
        bool wrote = false;  // the sink has seen this symbol
    };
    static constexpr int idx(Side s) noexcept { return static_cast<int>(s); }

    static std::int64_t cross_id(char cross_type) noexcept {
        switch (cross_type) {
            case 'O': return -1;
            case 'C': return -2;
            case 'H': return -3;
            default: return -4;
        }
    }
    static HaltCode halt_code(char state) noexcept {
        switch (state) {
            case 'T': return HaltCode::Trading;
            case 'Q': return HaltCode::Quoting;
            default: return HaltCode::Halted;  // 'H' halted, 'P' paused
        }
    }

    bool directory(const itch::Message& m) {
        const itch::StockDirectory r(m);
        if (by_locate_[r.locate()] || r.locate() == 0) return true;
        std::string name(r.stock());
        if (!wanted_.empty() && !wanted_.count(name)) return true;
        symbols_.push_back(std::make_unique<Symbol>(std::move(name), pools_, listener_, cfg_.levels));
        by_locate_[r.locate()] = symbols_.back().get();
        return true;
    }

    // The price is within the N levels shown (or the side shows fewer).
    bool touches(const Symbol& s, Side side, Price price) const noexcept {
        const SideText& v = s.view[idx(side)];
        return v.occupied() < cfg_.levels || !better(side, v[v.occupied() - 1].price, price);
    }
    void ready(Symbol& s) {
        refresh(s, Side::Buy);
        refresh(s, Side::Sell);
        s.view_ready = true;
    }
    void refresh(Symbol& s, Side side) {
        const std::size_t k = s.book.depth(side, std::span<orderbook::LevelInfo>(scratch_));
        s.view[idx(side)].assign(scratch_.data(), k);
    }

    // X, D, E, C: the order's price and side are read before `op` changes it.
    template <class Op>
    bool reduce(Symbol& s, bool live, std::int64_t ts, EventType type, std::uint64_t ref, Qty size, Op&& op) {
        const orderbook::Order* o = s.book.find(ref);
        if (!o) return anomaly();
        const Price price = o->price;
        const Side side = o->side;
        const bool touch = live && touches(s, side, price);
        if (!op()) return refused();
        if (touch) {
            refresh(s, side);
            write_row(s, Message{ts, type, static_cast<std::int64_t>(ref), size, price, side});
        }
        return ok();
    }

    bool replace(Symbol& s, bool live, std::int64_t ts, const itch::OrderReplace& u) {
        const orderbook::Order* o = s.book.find(u.old_ref());
        if (!o || u.shares() == 0 || u.price() == 0 || s.book.find(u.new_ref()) || u.new_ref() == 0) return anomaly();
        const Price old_price = o->price;
        const Side side = o->side;
        const Qty left = o->qty;
        const bool touch_old = live && touches(s, side, old_price);
        s.book.remove(u.old_ref());
        if (touch_old)
            emit(s, Message{ts, EventType::Delete, static_cast<std::int64_t>(u.old_ref()), left, old_price, side});
        const bool touch_new = live && touches(s, side, u.price());
        if (!s.book.add(u.new_ref(), side, u.price(), u.shares())) return refused();
        if (touch_new)
            emit(s, Message{ts, EventType::Add, static_cast<std::int64_t>(u.new_ref()), u.shares(), u.price(), side});
        return ok();
    }

    // Writes a book-changing event (after refreshing its side) or a 5-7.
    void emit(Symbol& s, const Message& m) {
        if (changes_book(m.type)) refresh(s, m.side);
        write_row(s, m);
    }
    void write_row(Symbol& s, const Message& m) {
        s.messages.commit(put_message(s.messages.reserve(kMessageRowBytes), m));
        s.orderbook.commit(put_book_row(s.orderbook.reserve(book_row_bytes(cfg_.levels) + kRowSlack),
                                        s.view[idx(Side::Sell)], s.view[idx(Side::Buy)]));
        ++s.rows;
        ++stats_.rows;
        if (s.orderbook.size() >= flush_at_) [[unlikely]]
            flush(s);
    }

    bool flush(Symbol& s) {
        if (s.messages.empty() || !error_.empty()) return error_.empty();
        if (!sink_.write(s.name, FileKind::Message, s.messages.view()) ||
            !sink_.write(s.name, FileKind::Orderbook, s.orderbook.view())) {
            error_ = sink_.error();
            return false;
        }
        s.wrote = true;
        s.messages.clear();
        s.orderbook.clear();
        return true;
    }
    bool create(Symbol& s) {
        if (!sink_.write(s.name, FileKind::Message, {}) || !sink_.write(s.name, FileKind::Orderbook, {})) {
            error_ = sink_.error();
            return false;
        }
        s.wrote = true;
        return true;
    }

    bool ok() const noexcept { return error_.empty(); }
    bool anomaly() noexcept {
        ++stats_.anomalies;
        return true;
    }
    bool refused() {
        if (listener_.last != orderbook::Reject::BookFull) return anomaly();
        capacity_exhausted_ = true;
        error_ = "the book's pools are full (" + std::to_string(pools_.orders.capacity()) + " orders, " +
                 std::to_string(pools_.levels.capacity()) + " price levels)";
        return false;
    }

    ExportConfig cfg_;
    ExportSink& sink_;
    orderbook::Pools pools_;
    RejectListener listener_;
    std::unordered_set<std::string> wanted_;
    std::vector<std::unique_ptr<Symbol>> symbols_;  // declared after the pools: destroyed before them
    std::vector<Symbol*> by_locate_;
    std::vector<orderbook::LevelInfo> scratch_;
    std::size_t flush_at_;
    ExportStats stats_;
    std::string error_;
    bool capacity_exhausted_ = false;
};

}  // namespace nexus::feed::lobster

// nexus/engine/core.hpp — one shard's matching: commands in, events out.
//
// A ShardCore owns the books of its instruments (every order and level a cell
// of the shard's own slabs) and applies validated Commands to them. It does
// no I/O: each apply() appends the resulting client messages (already
// encoded as Sequenced Data packets, each preceded by the 4-byte user index
// it is for) to `CoreOut::events`, and the public market data as ITCH 5.0 to
// `CoreOut::itch`. The caller journals the command, applies it, commits the
// journal, and only then releases both (engine/src/shard.cpp). Replaying a journal
// through a fresh ShardCore gives the same books, events and ITCH bytes.
//
// ITCH output per command:
//   a resting remainder       A  (order ref = the engine's order ID)
//   a trade                   E  against the resting order (taker side is not printed)
//   a cancel of a resting order D (all of it) or X (part of it)
//   replace                   D of the original, then as an enter
// Stock locate = instrument index + 1, as in the directory the server writes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include <nexus/feed/synth.hpp>
#include <nexus/orderbook/book_set.hpp>

#include "nexus/engine/config.hpp"
#include "nexus/engine/command.hpp"
#include "nexus/engine/protocol.hpp"

namespace nexus::engine {

namespace ob = nexus::orderbook;

// An ITCH timestamp: nanoseconds since midnight, from nanoseconds since the epoch.
inline std::uint64_t itch_time(std::uint64_t epoch_ns) noexcept { return epoch_ns % 86'400'000'000'000ull; }

struct CoreOut {
    std::vector<std::uint8_t> events;  // [u32 user, native order][packet] ...
    feed::ItchEncoder itch;
    std::uint64_t trades = 0;
    std::uint64_t rejects = 0;
    void clear() {
        events.clear();
        itch.clear_bytes();
    }
};

// Calls f(user, packet span) for every event in `events`.
template <class F>
void for_each_event(const std::vector<std::uint8_t>& events, F&& f) {
    std::size_t i = 0;
    while (i + 6 <= events.size()) {
        std::uint32_t user;
        std::memcpy(&user, events.data() + i, 4);
        const std::size_t len = 2 + static_cast<std::size_t>(wire::get_be(events.data() + i + 4, 2));
        f(user, std::span<const std::uint8_t>(events.data() + i + 4, len));
        i += 4 + len;
    }
}

inline char map_reject(ob::Reject r) noexcept {
    switch (r) {
        case ob::Reject::InvalidQty: return wire::reason::InvalidQty;
        case ob::Reject::PriceOutOfRange: return wire::reason::InvalidPrice;
        case ob::Reject::BookFull: return wire::reason::BookFull;
        case ob::Reject::WouldCross: return wire::reason::WouldCross;
        case ob::Reject::UnknownId: return wire::reason::UnknownToken;
        case ob::Reject::SideMismatch: return wire::reason::InvalidSide;
        default: return wire::reason::InvalidFlags;
    }
}

class ShardCore {
public:
    ShardCore(const Config& cfg, unsigned shard)
        : shard_(shard),
          pools_(ob::PoolConfig{.orders = cfg.pool_orders, .levels = cfg.pool_levels}),
          listener_{this},
          books_(pools_, listener_, Index(&order_index_)) {
        symbols_.resize(cfg.instruments.size() + 1);
        wire_symbols_.resize(cfg.instruments.size() + 1);
        for (std::size_t i = 0; i < cfg.instruments.size(); ++i) {
            const auto& ic = cfg.instruments[i];
            symbols_[i + 1] = ic.symbol;
            wire_symbols_[i + 1] = wire::make_symbol(ic.symbol);
            if (i % cfg.shards != shard) continue;
            books_.open(static_cast<ob::InstrumentId>(i + 1),
                        ob::BookLimits{.min_price = ic.min_price, .max_price = ic.max_price, .max_qty = ic.max_qty}, 1024);
        }
    }
    ShardCore(const ShardCore&) = delete;
    ShardCore& operator=(const ShardCore&) = delete;

    [[nodiscard]] unsigned shard() const noexcept { return shard_; }

    void apply(const Command& c, CoreOut& out) {
        out_ = &out;
        cmd_ = &c;
        Book* book = books_.get(c.instrument);
        book_ = book;
        const std::uint64_t reply_token = c.kind == 'U' ? c.new_token : c.token;
        if (!book) {  // the router never sends this; a hand-edited journal could
            rejected(c.user, reply_token, wire::reason::UnknownSymbol);
            return;
        }
        sym_ = &wire_symbols_[c.instrument];
        switch (c.kind) {
            case 'O': enter(c, *book, c.order_id, c.token, c.side == 'S' ? ob::Side::Sell : ob::Side::Buy, c.stp,
                            Phase::Enter);
                      break;
            case 'U': replace(c, *book); break;
            case 'X': cancel(c, *book); break;
            default: rejected(c.user, reply_token, wire::reason::InvalidFlags); break;
        }
        phase_ = Phase::Idle;
    }

    // Orders resting in this shard, for snapshots and tests:
    // f(symbol, side, price, open qty, order id, user, token) in book order.
    template <class F>
    void for_each_order(F&& f) const {
        for (std::size_t i = 1; i < symbols_.size(); ++i) {
            const Book* b = books_.get(static_cast<ob::InstrumentId>(i));
            if (!b) continue;
            for (ob::Side side : {ob::Side::Buy, ob::Side::Sell})
                for (const auto& lv : b->depth(side))
                    b->for_each_order(side, lv.price, [&](const ob::Order& o) {
                        f(symbols_[i], side, o.price, o.qty, o.id, o.owner - 1, o.tag);
                    });
        }
    }
    template <class F>
    void for_each_book(F&& f) const {
        for (std::size_t i = 1; i < symbols_.size(); ++i)
            if (const Book* b = books_.get(static_cast<ob::InstrumentId>(i))) f(static_cast<std::uint16_t>(i), symbols_[i], *b);
    }
    [[nodiscard]] std::size_t live_orders() const noexcept { return order_index_.size(); }
    [[nodiscard]] std::string check() const {
        std::string bad;
        for_each_book([&](std::uint16_t, const std::string& s, const auto& b) {
            if (bad.empty()) {
                const std::string r = b.check_invariants();
                if (!r.empty()) bad = s + ": " + r;
            }
        });
        return bad;
    }

private:
    enum class Phase : std::uint8_t { Idle, Enter, ReplaceCancel, ReplaceEnter, Cancel };
    struct Listener {
        ShardCore* core;
        void on_accepted(ob::InstrumentId, ob::OrderId id, ob::Side side, ob::Price price, ob::Qty qty) {
            core->accepted(id, side, price, qty);
        }
        void on_rejected(ob::InstrumentId, ob::OrderId, ob::Reject r) { core->refused(r); }
        void on_trade(ob::InstrumentId, const ob::Trade& t) { core->trade(t); }
        void on_cancelled(ob::InstrumentId, ob::OrderId id, ob::Qty qty, ob::CancelReason why) {
            core->cancelled(id, qty, why);
        }
        void on_modified(ob::InstrumentId, ob::OrderId, ob::Price, ob::Qty, bool) {}
        void on_level(ob::InstrumentId, ob::Side, ob::Price, ob::Qty, std::uint32_t) {}
    };
    // Order IDs come from the router in sequence, so the books of a shard
    // share one WindowIndex (see order_index.hpp). A resting order's owner
    // is its user + 1 and its tag is the client's token: the book keeps both,
    // and the listener reads them from the order (events about an order come
    // before the book changes it).
    using Index = ob::SharedIndex<ob::WindowIndex>;
    using Book = ob::Book<Listener, Index>;


    // Encodes one event for `user`: [u32 user][packet] appended to the events.
    wire::Encoder enc(std::uint32_t user) { return wire::Encoder(out_->events, user); }
    void rejected(std::uint32_t user, std::uint64_t token, char why) {
        ++out_->rejects;
        enc(user).rejected(cmd_->ts, token, why);
    }

    void enter(const Command& c, Book& book, ob::OrderId id, std::uint64_t token, ob::Side side, char stp, Phase phase) {
        phase_ = phase;
        cur_id_ = id;
        cur_token_ = token;
        ob::OrderRequest rq;
        rq.id = id;
        rq.owner = c.user + 1;
        rq.side = side;
        rq.type = c.type == 'M' ? ob::OrderType::Market : ob::OrderType::Limit;
        rq.tif = c.tif == 'I' ? ob::TimeInForce::IOC : c.tif == 'F' ? ob::TimeInForce::FOK : ob::TimeInForce::GTC;
        rq.post_only = c.post_only == 'Y';
        rq.stp = stp == 'O' ? ob::SelfTrade::CancelResting : stp == 'B' ? ob::SelfTrade::CancelBoth : ob::SelfTrade::CancelIncoming;
        rq.price = c.price;
        rq.qty = c.qty;
        rq.tag = token;
        // What is left of the incoming order after submit() is what rests: the
        // listener counts it down (accepted sets it, trades and the cancel of a
        // remainder take from it), so no second index lookup is needed here.
        incoming_left_ = 0;
        book.submit(rq);
        if (incoming_left_ > 0 && rq.type == ob::OrderType::Limit && rq.tif == ob::TimeInForce::GTC) {
            out_->itch.add(c.instrument, itch_time(c.ts), id, side == ob::Side::Buy ? 'B' : 'S',
                           static_cast<std::uint32_t>(incoming_left_), symbols_[c.instrument], c.price);
        }
    }

    void replace(const Command& c, Book& book) {
        const ob::Order* o = book.find(c.order_id);
        if (!o || o->owner != c.user + 1) {
            rejected(c.user, c.new_token, wire::reason::UnknownToken);
            return;
        }
        const ob::Side side = o->side;
        const char stp = o->stp == ob::SelfTrade::CancelResting ? 'O' : o->stp == ob::SelfTrade::CancelBoth ? 'B' : 'N';
        phase_ = Phase::ReplaceCancel;
        book.cancel(c.order_id);
        Command as_new = c;
        as_new.type = 'L';
        as_new.tif = 'D';
        as_new.post_only = 'N';
        enter(as_new, book, c.new_order_id, c.new_token, side, stp, Phase::ReplaceEnter);
    }

    void cancel(const Command& c, Book& book) {
        const ob::Order* o = book.find(c.order_id);
        if (!o || o->owner != c.user + 1) {
            rejected(c.user, c.token, wire::reason::UnknownToken);
            return;
        }
        phase_ = Phase::Cancel;
        if (c.qty == 0) book.cancel(c.order_id);
        else if (c.qty < o->qty) book.cancel_qty(c.order_id, static_cast<ob::Qty>(o->qty - c.qty));
        else rejected(c.user, c.token, wire::reason::InvalidQty);
    }

    // ---- listener callbacks ----
    void accepted(ob::OrderId id, ob::Side side, ob::Price price, ob::Qty qty) {
        const char s = side == ob::Side::Buy ? 'B' : 'S';
        const auto p = static_cast<std::uint32_t>(price);
        const auto q = static_cast<std::uint32_t>(qty);
        incoming_left_ = static_cast<std::uint64_t>(qty);
        if (phase_ == Phase::ReplaceEnter)
            enc(cmd_->user).replaced(cmd_->ts, cur_token_, cmd_->token, s, q, *sym_, p, id);
        else
            enc(cmd_->user).accepted(cmd_->ts, cur_token_, s, q, *sym_, p, cmd_->tif, cmd_->type, id);
    }
    void refused(ob::Reject r) {
        if (phase_ == Phase::ReplaceEnter)  // the original is gone already: say so
            enc(cmd_->user).cancelled(cmd_->ts, cmd_->token, static_cast<std::uint32_t>(replaced_qty_), wire::cancel_reason::User);
        rejected(cmd_->user, cur_token_, map_reject(r));
    }
    void trade(const ob::Trade& t) {
        ++out_->trades;
        incoming_left_ -= static_cast<std::uint64_t>(t.qty);  // the taker is always the incoming order
        const std::uint64_t match = (static_cast<std::uint64_t>(shard_) << 48) | ++matches_;
        const auto q = static_cast<std::uint32_t>(t.qty);
        const auto p = static_cast<std::uint32_t>(t.price);
        const ob::Order& m = *book_->find(t.maker);  // still resting, before the fill
        out_->itch.execute(cmd_->instrument, itch_time(cmd_->ts), t.maker, q, match);
        enc(m.owner - 1).executed(cmd_->ts, m.tag, q, p, 'A', match);
        enc(cmd_->user).executed(cmd_->ts, cur_token_, q, p, 'R', match);
    }
    void cancelled(ob::OrderId id, ob::Qty qty, ob::CancelReason why) {
        const auto q = static_cast<std::uint32_t>(qty);
        const char reason = why == ob::CancelReason::Unfilled        ? wire::cancel_reason::Unfilled
                            : why == ob::CancelReason::FokUnfillable ? wire::cancel_reason::FokUnfilled
                            : why == ob::CancelReason::SelfTrade     ? wire::cancel_reason::SelfTrade
                                                                     : wire::cancel_reason::User;
        if ((phase_ == Phase::Enter || phase_ == Phase::ReplaceEnter) && id == cur_id_) {
            enc(cmd_->user).cancelled(cmd_->ts, cur_token_, q, reason);  // the incoming order's remainder
            incoming_left_ -= static_cast<std::uint64_t>(qty);
            return;
        }
        const ob::Order& o = *book_->find(id);  // still resting, before the cancel
        if (static_cast<std::uint64_t>(qty) == o.qty) out_->itch.remove(cmd_->instrument, itch_time(cmd_->ts), id);
        else out_->itch.cancel(cmd_->instrument, itch_time(cmd_->ts), id, q);
        if (phase_ == Phase::ReplaceCancel) replaced_qty_ = qty;
        else enc(o.owner - 1).cancelled(cmd_->ts, o.tag, q, reason);
    }

    unsigned shard_;
    ob::Pools pools_;
    Listener listener_;
    ob::WindowIndex order_index_;  // order ID -> order, for every book of the shard
    ob::BookSet<Listener, Index> books_;
    std::vector<std::string> symbols_;         // by instrument (1-based)
    std::vector<wire::Symbol> wire_symbols_;  // the same, as protocol fields
    std::uint64_t matches_ = 0;
    // The command being applied.
    CoreOut* out_ = nullptr;
    const Command* cmd_ = nullptr;
    Book* book_ = nullptr;
    const wire::Symbol* sym_ = nullptr;
    Phase phase_ = Phase::Idle;
    ob::OrderId cur_id_ = 0;
    std::uint64_t incoming_left_ = 0;  // of the order being entered
    std::uint64_t cur_token_ = 0;
    ob::Qty replaced_qty_ = 0;
};

}  // namespace nexus::engine

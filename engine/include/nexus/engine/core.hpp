// nexus/engine/core.hpp — one shard's matching: commands in, events out.
//
// A ShardCore owns the books of its instruments (every order and level a cell
// of the shard's own slabs) and applies validated Commands to them. It does
// no I/O and decides nothing about the wire: each apply() makes typed Events
// (event.hpp) and hands them to `CoreOut::emit` (kept, or encoded there by
// the wire's EventEncoder), and appends the public market data as ITCH 5.0
// to `CoreOut::itch`. The caller journals the command, applies it, commits the
// journal, and only then releases both (engine/src/shard.cpp). Replaying a
// journal through a fresh ShardCore gives the same books, events and ITCH bytes.
//
// How a command becomes events: the book reports what it did through its
// listener, which only records those facts (with the owner and token of any
// resting order they touch, read before the book changes it). Once the book
// call returns, the core reads the facts with the command in hand: which
// order was the incoming one, whether this is a replace, what is left to rest.
//
// ITCH output per command:
//   a resting remainder       A  (order ref = the engine's order ID)
//   a trade                   E  against the resting order (taker side is not printed)
//   a cancel of a resting order D (all of it) or X (part of it)
//   replace                   D of the original, then as an enter
// Stock locate = instrument index + 1, as in the directory the server writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nexus/feed/itch_encoder.hpp>
#include <nexus/orderbook/book_set.hpp>

#include "nexus/engine/command.hpp"
#include "nexus/engine/config.hpp"
#include "nexus/engine/event.hpp"
#include "nexus/engine/event_codec.hpp"

namespace nexus::engine {

namespace ob = nexus::orderbook;

// An ITCH timestamp: nanoseconds since midnight, from nanoseconds since the epoch.
inline std::uint64_t itch_time(std::uint64_t epoch_ns) noexcept { return epoch_ns % 86'400'000'000'000ull; }

// Where a ShardCore's output goes. Events are kept typed (tests and tools
// read them) unless an encoder is given, in which case each is encoded as it
// is made, into `encoded` (what the shard hands the I/O thread): the event
// never goes through memory in between.
struct CoreOut {
    CoreOut() = default;
    explicit CoreOut(const EventEncoder& enc) : encoder(&enc) {}

    const EventEncoder* encoder = nullptr;
    std::vector<Event> events;          // without an encoder
    std::vector<std::uint8_t> encoded;  // with one: [u32 user][packet] records (event_codec.hpp)
    feed::ItchEncoder itch;
    std::uint64_t trades = 0;
    std::uint64_t rejects = 0;

    void emit(const Event& e) {
        if (encoder)
            encoder->encode(e, encoded);
        else
            events.push_back(e);
    }
    void clear() {
        events.clear();
        encoded.clear();
        itch.clear_bytes();
    }
};

class ShardCore {
public:
    ShardCore(const Config& cfg, unsigned shard);
    ShardCore(const ShardCore&) = delete;
    ShardCore& operator=(const ShardCore&) = delete;

    [[nodiscard]] unsigned shard() const noexcept { return shard_; }

    void apply(const Command& c, CoreOut& out);

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
            if (const Book* b = books_.get(static_cast<ob::InstrumentId>(i)))
                f(static_cast<std::uint16_t>(i), symbols_[i], *b);
    }
    [[nodiscard]] std::size_t live_orders() const noexcept { return order_index_.size(); }
    [[nodiscard]] std::string check() const;

private:
    // One thing the book reported during a call, in the order it happened.
    struct BookFact {
        enum class Kind : std::uint8_t { Accepted, Refused, Trade, Cancelled };
        Kind kind = Kind::Accepted;
        ob::Side side = ob::Side::Buy;                  // accepted
        ob::Reject reject = ob::Reject::InvalidOrder;   // refused
        ob::CancelReason why = ob::CancelReason::User;  // cancelled
        bool whole = false;     // cancelled: the resting order leaves the book (else it shrinks)
        ob::OrderId id = 0;     // accepted, cancelled: the order; trade: the resting (maker) order
        ob::Price price = 0;    // accepted, trade
        ob::Qty qty = 0;        // accepted: what rests; trade, cancelled: the size concerned
        ob::OwnerId owner = 0;  // trade, cancelled: the resting order's owner (0 if it was not resting)
        std::uint64_t tag = 0;  // ... and its token
    };
    struct Listener {
        ShardCore* core;
        void on_accepted(ob::InstrumentId, ob::OrderId id, ob::Side side, ob::Price price, ob::Qty qty) {
            core->facts_.push_back(
                {.kind = BookFact::Kind::Accepted, .side = side, .id = id, .price = price, .qty = qty});
        }
        void on_rejected(ob::InstrumentId, ob::OrderId, ob::Reject r) {
            core->facts_.push_back({.kind = BookFact::Kind::Refused, .reject = r});
        }
        void on_trade(ob::InstrumentId, const ob::Trade& t) { core->record_trade(t); }
        void on_cancelled(ob::InstrumentId, ob::OrderId id, ob::Qty qty, ob::CancelReason why) {
            core->record_cancel(id, qty, why);
        }
        void on_modified(ob::InstrumentId, ob::OrderId, ob::Price, ob::Qty, bool) {}
        void on_level(ob::InstrumentId, ob::Side, ob::Price, ob::Qty, std::uint32_t) {}
    };
    // Order IDs come from the router in sequence, so the books of a shard
    // share one WindowIndex (see order_index.hpp). A resting order's owner
    // is its user + 1 and its tag is the client's token: the book keeps both.
    using Index = ob::SharedIndex<ob::WindowIndex>;
    using Book = ob::Book<Listener, Index>;

    // The order `id` if it rests in any book of the shard, else nullptr.
    [[nodiscard]] const ob::Order* resting(ob::OrderId id) const noexcept {
        const slab::Key k = order_index_.find(id);
        return k.has_value() ? &pools_.orders[k] : nullptr;
    }
    void record_trade(const ob::Trade& t);
    void record_cancel(ob::OrderId id, ob::Qty qty, ob::CancelReason why);

    void enter(const Command& c, Book& book, CoreOut& out);
    void replace(const Command& c, Book& book, CoreOut& out);
    void cancel(const Command& c, Book& book, CoreOut& out);
    // Submits `rq` for the command and turns what the book did into events
    // and market data. `replaced_qty` is set when rq replaces an order that
    // is already gone from the book (its size, for the refusal's Cancelled).
    void submit(const Command& c, Book& book, const ob::OrderRequest& rq, CoreOut& out, const ob::Qty* replaced_qty);
    // A resting order cancelled in full or in part: market data, and (unless
    // it is being replaced) a Cancelled for its owner.
    void resting_cancelled(const Command& c, const BookFact& f, CoreOut& out, bool tell_owner);
    void reject(const Command& c, std::uint64_t token, RejectReason why, CoreOut& out);

    unsigned shard_;
    ob::Pools pools_;
    Listener listener_;
    ob::WindowIndex order_index_;  // order ID -> order, for every book of the shard
    ob::BookSet<Listener, Index> books_;
    std::vector<std::string> symbols_;  // by instrument (1-based)
    std::uint64_t matches_ = 0;
    std::vector<BookFact> facts_;  // of the current book call
};

}  // namespace nexus::engine

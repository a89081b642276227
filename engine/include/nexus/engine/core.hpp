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

#include <nexus/feed/itch_encoder.hpp>
#include <nexus/orderbook/book_set.hpp>

#include "nexus/engine/command.hpp"
#include "nexus/engine/config.hpp"
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
    void rejected(std::uint32_t user, std::uint64_t token, char why);
    void enter(const Command& c, Book& book, ob::OrderId id, std::uint64_t token, ob::Side side, char stp, Phase phase);
    void replace(const Command& c, Book& book);
    void cancel(const Command& c, Book& book);

    // ---- listener callbacks ----
    void accepted(ob::OrderId id, ob::Side side, ob::Price price, ob::Qty qty);
    void refused(ob::Reject r);
    void trade(const ob::Trade& t);
    void cancelled(ob::OrderId id, ob::Qty qty, ob::CancelReason why);

    unsigned shard_;
    ob::Pools pools_;
    Listener listener_;
    ob::WindowIndex order_index_;  // order ID -> order, for every book of the shard
    ob::BookSet<Listener, Index> books_;
    std::vector<std::string> symbols_;        // by instrument (1-based)
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

// engine/src/core.cpp — one shard's matching: commands applied to the books,
// what the books did turned into events and market data (see core.hpp).
#include "nexus/engine/core.hpp"

namespace nexus::engine {

namespace {

RejectReason reject_reason(ob::Reject r) noexcept {
    switch (r) {
        case ob::Reject::InvalidQty: return RejectReason::InvalidQty;
        case ob::Reject::PriceOutOfRange: return RejectReason::InvalidPrice;
        case ob::Reject::BookFull: return RejectReason::BookFull;
        case ob::Reject::WouldCross: return RejectReason::WouldCross;
        case ob::Reject::UnknownId: return RejectReason::UnknownToken;
        case ob::Reject::SideMismatch: return RejectReason::InvalidSide;
        case ob::Reject::DuplicateId:
        case ob::Reject::InvalidId:
        case ob::Reject::InvalidOrder: break;
    }
    return RejectReason::InvalidFlags;
}

// A Cancelled event for `user`'s order `token`, at the command's time.
Event cancelled(const Command& c, std::uint32_t user, std::uint64_t token, std::uint32_t qty,
                ob::CancelReason why) noexcept {
    return {.kind = EventKind::Cancelled, .cancel_reason = why, .user = user, .qty = qty, .ts = c.ts, .token = token};
}

// Protocol fields are 32 bits; the router and the book limits keep every
// size and price of the engine below 2^32.
template <class Int>
std::uint32_t u32(Int v) noexcept {
    return static_cast<std::uint32_t>(v);
}

}  // namespace

ShardCore::ShardCore(const Config& cfg, unsigned shard)
    : shard_(shard),
      pools_(ob::PoolConfig{.orders = cfg.pool_orders, .levels = cfg.pool_levels}),
      listener_{this},
      books_(pools_, listener_, Index(&order_index_)) {
    symbols_.resize(cfg.instruments.size() + 1);
    for (std::size_t i = 0; i < cfg.instruments.size(); ++i) {
        const auto& ic = cfg.instruments[i];
        symbols_[i + 1] = ic.symbol;
        if (i % cfg.shards != shard) continue;
        books_.open(static_cast<ob::InstrumentId>(i + 1),
                    ob::BookLimits{.min_price = ic.min_price, .max_price = ic.max_price, .max_qty = ic.max_qty}, 1024);
    }
    facts_.reserve(64);
}

void ShardCore::apply(const Command& c, CoreOut& out) {
    Book* book = books_.get(c.instrument);
    if (!book) {  // the router never sends this; a hand-edited journal could
        reject(c, c.reply_token(), RejectReason::UnknownSymbol, out);
        return;
    }
    switch (c.kind) {
        case CommandKind::Enter: enter(c, *book, out); break;
        case CommandKind::Replace: replace(c, *book, out); break;
        case CommandKind::Cancel: cancel(c, *book, out); break;
    }
}

std::string ShardCore::check() const {
    std::string bad;
    for_each_book([&](std::uint16_t, const std::string& s, const auto& b) {
        if (bad.empty()) {
            const std::string r = b.check_invariants();
            if (!r.empty()) bad = s + ": " + r;
        }
    });
    return bad;
}

// ---- what the book reports ----

void ShardCore::record_trade(const ob::Trade& t) {
    const ob::Order& maker = *resting(t.maker);  // still resting: the book reports before it fills
    facts_.push_back({.kind = BookFact::Kind::Trade,
                      .id = t.maker,
                      .price = t.price,
                      .qty = t.qty,
                      .owner = maker.owner,
                      .tag = maker.tag});
}

void ShardCore::record_cancel(ob::OrderId id, ob::Qty qty, ob::CancelReason why) {
    BookFact f{.kind = BookFact::Kind::Cancelled, .why = why, .id = id, .qty = qty};
    // An incoming order's remainder never rested, so it is not in the index.
    if (const ob::Order* o = resting(id)) {
        f.whole = qty == o->qty;
        f.owner = o->owner;
        f.tag = o->tag;
    }
    facts_.push_back(f);
}

// ---- commands ----

void ShardCore::reject(const Command& c, std::uint64_t token, RejectReason why, CoreOut& out) {
    ++out.rejects;
    out.emit({.kind = EventKind::Rejected, .reject_reason = why, .user = c.user, .ts = c.ts, .token = token});
}

void ShardCore::enter(const Command& c, Book& book, CoreOut& out) {
    const ob::OrderRequest rq{.id = c.order_id,
                              .owner = c.user + 1,
                              .side = c.side,
                              .type = c.type,
                              .tif = c.tif,
                              .post_only = c.post_only,
                              .stp = c.stp,
                              .price = c.price,
                              .qty = c.qty,
                              .tag = c.token};
    submit(c, book, rq, out, nullptr);
}

void ShardCore::replace(const Command& c, Book& book, CoreOut& out) {
    const ob::Order* o = book.find(c.order_id);
    if (!o || o->owner != c.user + 1) {
        reject(c, c.new_token, RejectReason::UnknownToken, out);
        return;
    }
    // The replacement keeps the original's side and self-trade rule, and is
    // a plain day limit order.
    const ob::OrderRequest rq{.id = c.new_order_id,
                              .owner = c.user + 1,
                              .side = o->side,
                              .type = ob::OrderType::Limit,
                              .tif = ob::TimeInForce::GTC,
                              .post_only = false,
                              .stp = o->stp,
                              .price = c.price,
                              .qty = c.qty,
                              .tag = c.new_token};
    facts_.clear();
    book.cancel(c.order_id);
    ob::Qty replaced_qty = 0;
    for (const BookFact& f : facts_) {
        if (f.kind != BookFact::Kind::Cancelled) continue;
        resting_cancelled(c, f, out, false);
        replaced_qty = f.qty;
    }
    submit(c, book, rq, out, &replaced_qty);
}

void ShardCore::cancel(const Command& c, Book& book, CoreOut& out) {
    const ob::Order* o = book.find(c.order_id);
    if (!o || o->owner != c.user + 1) {
        reject(c, c.token, RejectReason::UnknownToken, out);
        return;
    }
    if (c.qty != 0 && c.qty >= o->qty) {  // only a smaller size can be left open
        reject(c, c.token, RejectReason::InvalidQty, out);
        return;
    }
    facts_.clear();
    if (c.qty == 0)
        book.cancel(c.order_id);
    else
        book.cancel_qty(c.order_id, o->qty - c.qty);
    for (const BookFact& f : facts_)
        if (f.kind == BookFact::Kind::Cancelled) resting_cancelled(c, f, out, true);
}

void ShardCore::submit(const Command& c, Book& book, const ob::OrderRequest& rq, CoreOut& out,
                       const ob::Qty* replaced_qty) {
    facts_.clear();
    book.submit(rq);
    // What is left of the incoming order is what rests: acceptance sets it,
    // trades and the cancel of a remainder take from it.
    ob::Qty left = 0;
    for (const BookFact& f : facts_) {
        switch (f.kind) {
            case BookFact::Kind::Accepted: {
                left = f.qty;
                Event e{.side = f.side,
                        .instrument = c.instrument,
                        .user = c.user,
                        .qty = u32(f.qty),
                        .price = u32(f.price),
                        .ts = c.ts,
                        .token = rq.tag,
                        .order_id = f.id};
                if (replaced_qty) {
                    e.kind = EventKind::Replaced;
                    e.prev_token = c.token;
                } else {
                    e.kind = EventKind::Accepted;
                    e.tif = rq.tif;
                    e.type = rq.type;
                }
                out.emit(e);
                break;
            }
            case BookFact::Kind::Refused:
                if (replaced_qty)  // the original is gone already: say so before the refusal
                    out.emit(cancelled(c, c.user, c.token, u32(*replaced_qty), ob::CancelReason::User));
                reject(c, rq.tag, reject_reason(f.reject), out);
                break;
            case BookFact::Kind::Trade: {
                ++out.trades;
                left -= f.qty;  // the taker is always the incoming order
                const std::uint64_t match = (static_cast<std::uint64_t>(shard_) << 48) | ++matches_;
                out.itch.execute(c.instrument, itch_time(c.ts), f.id, u32(f.qty), match);
                Event e{.kind = EventKind::Executed,
                        .liquidity = Liquidity::Added,
                        .user = f.owner - 1,
                        .qty = u32(f.qty),
                        .price = u32(f.price),
                        .ts = c.ts,
                        .token = f.tag,
                        .match = match};
                out.emit(e);
                e.liquidity = Liquidity::Removed;
                e.user = c.user;
                e.token = rq.tag;
                out.emit(e);
                break;
            }
            case BookFact::Kind::Cancelled:
                if (f.id == rq.id) {  // the incoming order's remainder
                    left -= f.qty;
                    out.emit(cancelled(c, c.user, rq.tag, u32(f.qty), f.why));
                } else {  // a resting order, removed by self-trade prevention
                    resting_cancelled(c, f, out, true);
                }
                break;
        }
    }
    if (left > 0 && rq.type == ob::OrderType::Limit && rq.tif == ob::TimeInForce::GTC)
        out.itch.add(c.instrument, itch_time(c.ts), rq.id, rq.side == ob::Side::Buy ? 'B' : 'S', u32(left),
                     symbols_[c.instrument], c.price);
}

void ShardCore::resting_cancelled(const Command& c, const BookFact& f, CoreOut& out, bool tell_owner) {
    if (f.whole)
        out.itch.remove(c.instrument, itch_time(c.ts), f.id);
    else
        out.itch.cancel(c.instrument, itch_time(c.ts), f.id, u32(f.qty));
    if (tell_owner) out.emit(cancelled(c, f.owner - 1, f.tag, u32(f.qty), f.why));
}

}  // namespace nexus::engine

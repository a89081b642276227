// engine/src/core.cpp — one shard's matching: commands applied to the books,
// answers and market data encoded (see core.hpp).
#include "nexus/engine/core.hpp"

namespace nexus::engine {

ShardCore::ShardCore(const Config& cfg, unsigned shard)
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

void ShardCore::apply(const Command& c, CoreOut& out) {
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
        case 'O':
            enter(c, *book, c.order_id, c.token, c.side == 'S' ? ob::Side::Sell : ob::Side::Buy, c.stp, Phase::Enter);
            break;
        case 'U': replace(c, *book); break;
        case 'X': cancel(c, *book); break;
        default: rejected(c.user, reply_token, wire::reason::InvalidFlags); break;
    }
    phase_ = Phase::Idle;
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

void ShardCore::rejected(std::uint32_t user, std::uint64_t token, char why) {
    ++out_->rejects;
    enc(user).rejected(cmd_->ts, token, why);
}

void ShardCore::enter(const Command& c, Book& book, ob::OrderId id, std::uint64_t token, ob::Side side, char stp,
                      Phase phase) {
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
    rq.stp = stp == 'O'   ? ob::SelfTrade::CancelResting
             : stp == 'B' ? ob::SelfTrade::CancelBoth
                          : ob::SelfTrade::CancelIncoming;
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

void ShardCore::replace(const Command& c, Book& book) {
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

void ShardCore::cancel(const Command& c, Book& book) {
    const ob::Order* o = book.find(c.order_id);
    if (!o || o->owner != c.user + 1) {
        rejected(c.user, c.token, wire::reason::UnknownToken);
        return;
    }
    phase_ = Phase::Cancel;
    if (c.qty == 0)
        book.cancel(c.order_id);
    else if (c.qty < o->qty)
        book.cancel_qty(c.order_id, static_cast<ob::Qty>(o->qty - c.qty));
    else
        rejected(c.user, c.token, wire::reason::InvalidQty);
}

void ShardCore::accepted(ob::OrderId id, ob::Side side, ob::Price price, ob::Qty qty) {
    const char s = side == ob::Side::Buy ? 'B' : 'S';
    const auto p = static_cast<std::uint32_t>(price);
    const auto q = static_cast<std::uint32_t>(qty);
    incoming_left_ = static_cast<std::uint64_t>(qty);
    if (phase_ == Phase::ReplaceEnter)
        enc(cmd_->user).replaced(cmd_->ts, cur_token_, cmd_->token, s, q, *sym_, p, id);
    else
        enc(cmd_->user).accepted(cmd_->ts, cur_token_, s, q, *sym_, p, cmd_->tif, cmd_->type, id);
}

void ShardCore::refused(ob::Reject r) {
    if (phase_ == Phase::ReplaceEnter)  // the original is gone already: say so
        enc(cmd_->user)
            .cancelled(cmd_->ts, cmd_->token, static_cast<std::uint32_t>(replaced_qty_), wire::cancel_reason::User);
    rejected(cmd_->user, cur_token_, map_reject(r));
}

void ShardCore::trade(const ob::Trade& t) {
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

void ShardCore::cancelled(ob::OrderId id, ob::Qty qty, ob::CancelReason why) {
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
    if (static_cast<std::uint64_t>(qty) == o.qty)
        out_->itch.remove(cmd_->instrument, itch_time(cmd_->ts), id);
    else
        out_->itch.cancel(cmd_->instrument, itch_time(cmd_->ts), id, q);
    if (phase_ == Phase::ReplaceCancel)
        replaced_qty_ = qty;
    else
        enc(o.owner - 1).cancelled(cmd_->ts, o.tag, q, reason);
}

}  // namespace nexus::engine

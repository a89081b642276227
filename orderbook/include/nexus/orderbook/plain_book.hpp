// nexus/orderbook/plain_book.hpp — the same book written the ordinary way:
// std::map of price to a std::list of orders, std::unordered_map from ID to
// position, a node allocated by new for every order and level.
//
// It exists twice over: as the oracle of the differential tests (written to
// be obviously right, not fast) and as the ordinary book the benchmarks race.
// Same operations, same semantics, same Listener calls as Book, with no
// capacity limit (it never rejects BookFull).
#pragma once

#include <algorithm>
#include <functional>
#include <iterator>
#include <list>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "nexus/orderbook/book.hpp"
#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

template <class Listener = NullListener>
class PlainBook {
public:
    PlainBook(Listener& listener, InstrumentId instrument = 0, BookLimits limits = {})
        : listener_(listener), instrument_(instrument), limits_(checked_limits(limits)) {}

    bool add(OrderId id, Side side, Price price, Qty qty, OwnerId owner = 0) {
        if (auto r = validate_new(id, price, qty)) return reject(id, *r);
        rest(PlainOrder{id, owner, side, SelfTrade::CancelIncoming, qty}, price);
        listener_.on_accepted(instrument_, id, side, price, qty);
        return true;
    }
    bool execute(OrderId id, Qty qty) { return execute_impl(id, qty, std::nullopt); }
    bool execute_at(OrderId id, Qty qty, Price price) { return execute_impl(id, qty, price); }
    bool cancel_qty(OrderId id, Qty qty) {
        auto it = where_.find(id);
        if (it == where_.end()) return reject(id, Reject::UnknownId);
        if (qty == 0 || qty > it->second.pos->qty) return reject(id, Reject::InvalidQty);
        take(id, qty);
        listener_.on_cancelled(instrument_, id, qty, CancelReason::MarketData);
        return true;
    }
    bool remove(OrderId id) {
        auto it = where_.find(id);
        if (it == where_.end()) return reject(id, Reject::UnknownId);
        const Qty left = it->second.pos->qty;
        erase(id);
        listener_.on_cancelled(instrument_, id, left, CancelReason::MarketData);
        return true;
    }
    bool replace(OrderId old_id, OrderId new_id, Qty qty, Price price) {
        auto it = where_.find(old_id);
        if (it == where_.end()) return reject(old_id, Reject::UnknownId);
        if (auto r = validate_new(new_id, price, qty)) return reject(new_id, *r);
        const Side side = it->second.side;
        const OwnerId owner = it->second.pos->owner;
        const Qty old_left = it->second.pos->qty;
        erase(old_id);
        listener_.on_cancelled(instrument_, old_id, old_left, CancelReason::MarketData);
        rest(PlainOrder{new_id, owner, side, SelfTrade::CancelIncoming, qty}, price);
        listener_.on_accepted(instrument_, new_id, side, price, qty);
        return true;
    }

    bool submit(const OrderRequest& rq) {
        if (rq.id == 0) return reject(rq.id, Reject::InvalidId);
        if (rq.qty == 0 || rq.qty > limits_.max_qty) return reject(rq.id, Reject::InvalidQty);
        const bool market = rq.type == OrderType::Market;
        if (market && rq.post_only) return reject(rq.id, Reject::InvalidOrder);
        if (!market && (rq.price < limits_.min_price || rq.price > limits_.max_price))
            return reject(rq.id, Reject::PriceOutOfRange);
        if (where_.count(rq.id)) return reject(rq.id, Reject::DuplicateId);
        if (rq.post_only && would_trade(rq.side, rq.price, false)) return reject(rq.id, Reject::WouldCross);
        listener_.on_accepted(instrument_, rq.id, rq.side, market ? 0 : rq.price, rq.qty);
        if (rq.tif == TimeInForce::FOK && fillable(rq) < rq.qty) {
            listener_.on_cancelled(instrument_, rq.id, rq.qty, CancelReason::FokUnfillable);
            return true;
        }
        auto [left, cancelled] = match(rq.id, rq.owner, rq.side, market, rq.price, rq.stp, rq.qty);
        if (left == 0 || cancelled) return true;
        if (!market && rq.tif == TimeInForce::GTC)
            rest(PlainOrder{rq.id, rq.owner, rq.side, rq.stp, left}, rq.price);
        else
            listener_.on_cancelled(instrument_, rq.id, left, CancelReason::Unfilled);
        return true;
    }
    bool cancel(OrderId id) {
        auto it = where_.find(id);
        if (it == where_.end()) return reject(id, Reject::UnknownId);
        const Qty left = it->second.pos->qty;
        erase(id);
        listener_.on_cancelled(instrument_, id, left, CancelReason::User);
        return true;
    }
    bool modify(OrderId id, Side side, Price price, Qty qty) {
        auto it = where_.find(id);
        if (it == where_.end()) return reject(id, Reject::UnknownId);
        Where w = it->second;
        if (w.side != side) return reject(id, Reject::SideMismatch);
        if (qty == 0 || qty > limits_.max_qty) return reject(id, Reject::InvalidQty);
        if (price < limits_.min_price || price > limits_.max_price) return reject(id, Reject::PriceOutOfRange);
        PlainOrder o = *w.pos;
        if (price == w.price) {
            if (qty <= o.qty) {
                if (qty < o.qty) take(id, o.qty - qty);
                listener_.on_modified(instrument_, id, price, qty, true);
            } else {
                erase(id);
                o.qty = qty;
                rest(o, price);
                listener_.on_modified(instrument_, id, price, qty, false);
            }
            return true;
        }
        erase(id);
        listener_.on_modified(instrument_, id, price, qty, false);
        auto [left, cancelled] = match(id, o.owner, side, false, price, o.stp, qty);
        if (left != 0 && !cancelled) {
            o.qty = left;
            rest(o, price);
        }
        return true;
    }

    [[nodiscard]] std::vector<LevelInfo> depth(Side side, std::size_t n = ~std::size_t{0}) const {
        std::vector<LevelInfo> out;
        auto emit = [&](const auto& book) {
            for (const auto& [price, lv] : book) {
                if (out.size() == n) break;
                out.push_back(LevelInfo{price, lv.total, static_cast<std::uint32_t>(lv.orders.size())});
            }
        };
        if (side == Side::Buy)
            emit(bids_);
        else
            emit(asks_);
        return out;
    }
    [[nodiscard]] std::optional<LevelInfo> best(Side side) const {
        auto d = depth(side, 1);
        if (d.empty()) return std::nullopt;
        return d[0];
    }
    [[nodiscard]] std::size_t order_count() const { return where_.size(); }

private:
    struct PlainOrder {
        OrderId id;
        OwnerId owner;
        Side side;
        SelfTrade stp;
        Qty qty;
    };
    struct PlainLevel {
        std::list<PlainOrder> orders;
        Qty total = 0;
    };
    struct Where {
        Side side;
        Price price;
        typename std::list<PlainOrder>::iterator pos;
    };

    bool reject(OrderId id, Reject r) {
        listener_.on_rejected(instrument_, id, r);
        return false;
    }
    std::optional<Reject> validate_new(OrderId id, Price price, Qty qty) const {
        if (id == 0) return Reject::InvalidId;
        if (qty == 0 || qty > limits_.max_qty) return Reject::InvalidQty;
        if (price < limits_.min_price || price > limits_.max_price) return Reject::PriceOutOfRange;
        if (where_.count(id)) return Reject::DuplicateId;
        return std::nullopt;
    }

    template <class F>
    decltype(auto) with_side(Side side, F&& f) {
        if (side == Side::Buy) return f(bids_);
        return f(asks_);
    }
    template <class F>
    decltype(auto) with_side(Side side, F&& f) const {
        if (side == Side::Buy) return f(bids_);
        return f(asks_);
    }

    void rest(const PlainOrder& o, Price price) {
        with_side(o.side, [&](auto& book) {
            PlainLevel& lv = book[price];
            lv.orders.push_back(o);
            lv.total += o.qty;
            where_[o.id] = Where{o.side, price, std::prev(lv.orders.end())};
            listener_.on_level(instrument_, o.side, price, lv.total, static_cast<std::uint32_t>(lv.orders.size()));
        });
    }

    // Removes an order; drops its level when empty.
    void erase(OrderId id) {
        const Where w = where_.at(id);
        with_side(w.side, [&](auto& book) {
            auto lit = book.find(w.price);
            lit->second.total -= w.pos->qty;
            lit->second.orders.erase(w.pos);
            const auto n = lit->second.orders.size();
            const auto total = lit->second.total;
            if (n == 0) book.erase(lit);
            listener_.on_level(instrument_, w.side, w.price, total, static_cast<std::uint32_t>(n));
        });
        where_.erase(id);
    }

    // Takes qty off an order (removing it at zero).
    void take(OrderId id, Qty qty) {
        const Where w = where_.at(id);
        if (qty == w.pos->qty) {
            erase(id);
            return;
        }
        w.pos->qty -= qty;
        with_side(w.side, [&](auto& book) {
            PlainLevel& lv = book.at(w.price);
            lv.total -= qty;
            listener_.on_level(instrument_, w.side, w.price, lv.total, static_cast<std::uint32_t>(lv.orders.size()));
        });
    }

    bool execute_impl(OrderId id, Qty qty, std::optional<Price> printed) {
        auto it = where_.find(id);
        if (it == where_.end()) return reject(id, Reject::UnknownId);
        if (qty == 0 || qty > it->second.pos->qty) return reject(id, Reject::InvalidQty);
        if (printed && (*printed < limits_.min_price || *printed > limits_.max_price))
            return reject(id, Reject::PriceOutOfRange);
        listener_.on_trade(instrument_,
                           Trade{id, 0, printed ? *printed : it->second.price, qty, opposite(it->second.side)});
        take(id, qty);
        return true;
    }

    static bool tradable(Side incoming, Price price, Price level_price, bool market) {
        if (market) return true;
        return incoming == Side::Buy ? level_price <= price : level_price >= price;
    }
    bool would_trade(Side side, Price price, bool market) const {
        return with_side(opposite(side), [&](const auto& book) {
            return !book.empty() && tradable(side, price, book.begin()->first, market);
        });
    }

    Qty fillable(const OrderRequest& rq) const {
        return with_side(opposite(rq.side), [&](const auto& book) {
            Qty sum = 0;
            for (const auto& [price, lv] : book) {
                if (!tradable(rq.side, rq.price, price, rq.type == OrderType::Market)) break;
                for (const PlainOrder& o : lv.orders) {
                    if (rq.owner != 0 && o.owner == rq.owner) {
                        if (rq.stp == SelfTrade::CancelResting) continue;
                        return sum;
                    }
                    sum += o.qty;
                    if (sum >= rq.qty) return sum;
                }
            }
            return sum;
        });
    }

    // Returns (quantity left, incoming cancelled by self-trade prevention).
    std::pair<Qty, bool> match(OrderId id, OwnerId owner, Side side, bool market, Price price, SelfTrade stp,
                               Qty left) {
        return with_side(opposite(side), [&](auto& book) -> std::pair<Qty, bool> {
            while (left > 0 && !book.empty()) {
                auto lit = book.begin();
                const Price lp = lit->first;
                if (!tradable(side, price, lp, market)) break;
                PlainLevel& lv = lit->second;
                bool stop = false;
                for (auto oit = lv.orders.begin(); oit != lv.orders.end() && left > 0;) {
                    if (owner != 0 && oit->owner == owner) {
                        if (stp != SelfTrade::CancelIncoming) {
                            const OrderId rid = oit->id;
                            const Qty gone = oit->qty;
                            lv.total -= oit->qty;
                            oit = lv.orders.erase(oit);
                            where_.erase(rid);
                            listener_.on_cancelled(instrument_, rid, gone, CancelReason::SelfTrade);
                        }
                        if (stp != SelfTrade::CancelResting) {
                            stop = true;
                            break;
                        }
                        continue;
                    }
                    const Qty fill = std::min(left, oit->qty);
                    listener_.on_trade(instrument_, Trade{oit->id, id, lp, fill, side});
                    left -= fill;
                    oit->qty -= fill;
                    lv.total -= fill;
                    if (oit->qty == 0) {
                        where_.erase(oit->id);
                        oit = lv.orders.erase(oit);
                    } else {
                        ++oit;
                    }
                }
                const auto n = lv.orders.size();
                const auto total = lv.total;
                if (n == 0) book.erase(lit);
                listener_.on_level(instrument_, opposite(side), lp, total, static_cast<std::uint32_t>(n));
                if (stop) {
                    listener_.on_cancelled(instrument_, id, left, CancelReason::SelfTrade);
                    return {left, true};
                }
            }
            return {left, false};
        });
    }

    Listener& listener_;
    InstrumentId instrument_;
    BookLimits limits_;
    std::map<Price, PlainLevel, std::greater<Price>> bids_;  // best (highest) first
    std::map<Price, PlainLevel, std::less<Price>> asks_;     // best (lowest) first
    std::unordered_map<OrderId, Where> where_;
};

}  // namespace nexus::orderbook

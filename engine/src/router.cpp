// engine/src/router.cpp — validation, token maps and order IDs (see router.hpp).
#include "nexus/engine/router.hpp"

#include "nexus/engine/wire_codes.hpp"

namespace nexus::engine {

namespace ob = nexus::orderbook;

Router::Router(const Config& cfg) : cfg_(cfg), tokens_(cfg.users.size()) {
    std::size_t cap = 16;
    while (cap < cfg_.instruments.size() * 4) cap *= 2;
    symbols_.assign(cap, SymbolSlot{});
    for (std::size_t i = 0; i < cfg_.instruments.size(); ++i) {
        const std::uint64_t key = wire::symbol_key(wire::make_symbol(cfg_.instruments[i].symbol));
        std::size_t at = symbol_home(key);
        while (symbols_[at].instrument != 0) at = (at + 1) & (symbols_.size() - 1);
        symbols_[at] = SymbolSlot{key, static_cast<std::uint16_t>(i + 1)};
    }
}

void Router::restore(const Command& c) {
    if (c.kind == CommandKind::Enter) remember(c.user, c.token, c.order_id, c.instrument);
    if (c.kind == CommandKind::Replace) remember(c.user, c.new_token, c.new_order_id, c.instrument);
    next_id_ = std::max({next_id_, c.order_id + 1, c.new_order_id + 1});
}

Router::Refusal Router::enter(std::uint32_t user, const wire::EnterOrder& o, Command& c) {
    const std::uint16_t instrument = instrument_of_symbol(wire::symbol_key(o.symbol));
    if (instrument == 0) return RejectReason::UnknownSymbol;
    const InstrumentConfig& ic = cfg_.instruments[instrument - 1];
    const UserConfig& uc = cfg_.users[user];
    const auto side = wire::side_of(o.side);
    if (!side) return RejectReason::InvalidSide;
    const auto type = wire::order_type_of(o.type);
    const auto tif = wire::tif_of(o.tif);
    const auto post_only = wire::post_only_of(o.post_only);
    const auto stp = wire::stp_of(o.stp);
    if (!type || !tif || !post_only || !stp) return RejectReason::InvalidFlags;
    if (*type == ob::OrderType::Market) {
        if (*post_only) return RejectReason::InvalidFlags;  // a market order always takes
        if (const Refusal why = check_qty(ic, uc, o.qty)) return why;
        if (o.price != 0) return RejectReason::InvalidPrice;
    } else if (const Refusal why = check_limit(ic, uc, o.qty, o.price)) {
        return why;
    }
    // The last check: a new token is remembered in the same probe.
    if (!tokens_[user].insert_new(o.token, next_id_)) return RejectReason::DuplicateToken;
    c = Command{};
    c.kind = CommandKind::Enter;
    c.side = *side;
    c.tif = *tif;
    c.type = *type;
    c.post_only = *post_only;
    c.stp = *stp;
    c.instrument = instrument;
    c.user = user;
    c.qty = o.qty;
    c.price = o.price;
    c.token = o.token;
    c.order_id = next_id_++;
    note_instrument(c.order_id, c.instrument);
    return std::nullopt;
}

Router::Refusal Router::replace(std::uint32_t user, const wire::ReplaceOrder& r, Command& c) {
    auto& tokens = tokens_[user];
    const std::uint64_t target = tokens.find(r.token);
    if (target == 0) return RejectReason::UnknownToken;
    if (tokens.contains(r.new_token)) return RejectReason::DuplicateToken;
    const std::uint16_t instrument = instrument_of_[target];
    const InstrumentConfig& ic = cfg_.instruments[instrument - 1];
    const UserConfig& uc = cfg_.users[user];
    if (const Refusal why = check_limit(ic, uc, r.qty, r.price)) return why;
    c = Command{};
    c.kind = CommandKind::Replace;
    c.instrument = instrument;
    c.user = user;
    c.qty = r.qty;
    c.price = r.price;
    c.token = r.token;
    c.new_token = r.new_token;
    c.order_id = target;
    c.new_order_id = next_id_++;
    remember(user, r.new_token, c.new_order_id, c.instrument);
    return std::nullopt;
}

Router::Refusal Router::cancel(std::uint32_t user, const wire::CancelOrder& x, Command& c) {
    auto& tokens = tokens_[user];
    const std::uint64_t target = tokens.find(x.token);
    if (target == 0) return RejectReason::UnknownToken;
    c = Command{};
    c.kind = CommandKind::Cancel;
    c.instrument = instrument_of_[target];
    c.user = user;
    c.qty = x.qty;
    c.token = x.token;
    c.order_id = target;
    return std::nullopt;
}

}  // namespace nexus::engine

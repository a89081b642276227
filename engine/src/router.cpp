// engine/src/router.cpp — validation, token maps and order IDs (see router.hpp).
#include "nexus/engine/router.hpp"

namespace nexus::engine {

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
    if (c.kind == 'O') remember(c.user, c.token, c.order_id, c.instrument);
    if (c.kind == 'U') remember(c.user, c.new_token, c.new_order_id, c.instrument);
    next_id_ = std::max({next_id_, c.order_id + 1, c.new_order_id + 1});
}

char Router::enter(std::uint32_t user, const wire::EnterOrder& o, Command& c) {
    const std::uint16_t instrument = instrument_of_symbol(wire::symbol_key(o.symbol));
    if (instrument == 0) return wire::reason::UnknownSymbol;
    const InstrumentConfig& ic = cfg_.instruments[instrument - 1];
    const UserConfig& uc = cfg_.users[user];
    if (o.side != 'B' && o.side != 'S') return wire::reason::InvalidSide;
    if ((o.type != 'L' && o.type != 'M') || (o.tif != 'D' && o.tif != 'I' && o.tif != 'F') ||
        (o.post_only != 'Y' && o.post_only != 'N') || (o.stp != 'N' && o.stp != 'O' && o.stp != 'B') ||
        (o.type == 'M' && o.post_only == 'Y'))
        return wire::reason::InvalidFlags;
    if (o.type == 'M') {
        if (const char why = check_qty(ic, uc, o.qty)) return why;
        if (o.price != 0) return wire::reason::InvalidPrice;
    } else if (const char why = check_limit(ic, uc, o.qty, o.price)) {
        return why;
    }
    // The last check: a new token is remembered in the same probe.
    if (!tokens_[user].insert_new(o.token, next_id_)) return wire::reason::DuplicateToken;
    c = Command{};
    c.kind = 'O';
    c.side = o.side;
    c.tif = o.tif;
    c.type = o.type;
    c.post_only = o.post_only;
    c.stp = o.stp;
    c.instrument = instrument;
    c.user = user;
    c.qty = o.qty;
    c.price = o.price;
    c.token = o.token;
    c.order_id = next_id_++;
    note_instrument(c.order_id, c.instrument);
    return 0;
}

char Router::replace(std::uint32_t user, const wire::ReplaceOrder& r, Command& c) {
    auto& tokens = tokens_[user];
    const std::uint64_t target = tokens.find(r.token);
    if (target == 0) return wire::reason::UnknownToken;
    if (tokens.contains(r.new_token)) return wire::reason::DuplicateToken;
    const std::uint16_t instrument = instrument_of_[target];
    const InstrumentConfig& ic = cfg_.instruments[instrument - 1];
    const UserConfig& uc = cfg_.users[user];
    if (const char why = check_limit(ic, uc, r.qty, r.price)) return why;
    c = Command{};
    c.kind = 'U';
    c.instrument = instrument;
    c.user = user;
    c.qty = r.qty;
    c.price = r.price;
    c.token = r.token;
    c.new_token = r.new_token;
    c.order_id = target;
    c.new_order_id = next_id_++;
    remember(user, r.new_token, c.new_order_id, c.instrument);
    return 0;
}

char Router::cancel(std::uint32_t user, const wire::CancelOrder& x, Command& c) {
    auto& tokens = tokens_[user];
    const std::uint64_t target = tokens.find(x.token);
    if (target == 0) return wire::reason::UnknownToken;
    c = Command{};
    c.kind = 'X';
    c.instrument = instrument_of_[target];
    c.user = user;
    c.qty = x.qty;
    c.token = x.token;
    c.order_id = target;
    return 0;
}

}  // namespace nexus::engine

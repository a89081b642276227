// nexus/engine/event_codec.hpp — typed Events to the bytes the I/O thread
// sends and the outbound store keeps.
//
// A batch of encoded events is a run of [u32 user, native order][Sequenced
// Data packet] records: the user says whose stream the packet joins.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/event.hpp"
#include "nexus/engine/protocol.hpp"
#include "nexus/engine/wire_codes.hpp"

namespace nexus::engine {

class EventEncoder {
public:
    // Instruments are named on the wire by their symbol, kept here padded
    // as the protocol sends it (index = instrument, 1-based).
    explicit EventEncoder(const Config& cfg) : symbols_(cfg.instruments.size() + 1) {
        for (std::size_t i = 0; i < cfg.instruments.size(); ++i)
            symbols_[i + 1] = wire::make_symbol(cfg.instruments[i].symbol);
    }

    // Appends one event as [u32 user][packet].
    void encode(const Event& e, std::vector<std::uint8_t>& out) const {
        wire::Encoder enc(out, e.user);
        switch (e.kind) {
            case EventKind::Accepted:
                enc.accepted(e.ts, e.token, wire::code(e.side), e.qty, symbols_[e.instrument], e.price,
                             wire::code(e.tif), wire::code(e.type), e.order_id);
                break;
            case EventKind::Replaced:
                enc.replaced(e.ts, e.token, e.prev_token, wire::code(e.side), e.qty, symbols_[e.instrument], e.price,
                             e.order_id);
                break;
            case EventKind::Executed:
                enc.executed(e.ts, e.token, e.qty, e.price, wire::code(e.liquidity), e.match);
                break;
            case EventKind::Cancelled: enc.cancelled(e.ts, e.token, e.qty, wire::code(e.cancel_reason)); break;
            case EventKind::Rejected: enc.rejected(e.ts, e.token, wire::code(e.reject_reason)); break;
        }
    }
    void encode(std::span<const Event> events, std::vector<std::uint8_t>& out) const {
        for (const Event& e : events) encode(e, out);
    }

private:
    std::vector<wire::Symbol> symbols_;
};

// Calls f(user, packet span) for every record of an encoded batch.
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

}  // namespace nexus::engine

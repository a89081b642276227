// libFuzzer target: a client's byte stream through the server's decoding,
// validation and matching path, without sockets. Deframing (inbound limits),
// login parsing (session and requested sequence number), order-message
// decoding, the Router's validation and token maps, the journal record codec
// (every accepted command must come back from its record unchanged), and the
// shard core's matching; every event the core produces must decode, and the
// books must keep their invariants.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <nexus/engine/core.hpp>
#include <nexus/engine/event_codec.hpp>
#include <nexus/engine/journal_format.hpp>
#include <nexus/engine/router.hpp>

namespace en = nexus::engine;
namespace wire = nexus::engine::wire;

namespace {
const en::Config& config() {
    static const en::Config cfg = [] {
        std::istringstream in(
            "pool_orders 512\npool_levels 64\nshards 1\n"
            "instrument AAPL min_price=0.0100 max_price=1000.0000 max_qty=100000\n"
            "instrument TINY min_price=1.0000 max_price=1.0500 max_qty=50\n"
            "user alice password=pw1 max_notional=1000000\nuser bob password=pw2\n");
        return en::parse_config(in, "fuzz");
    }();
    return cfg;
}
void fail(const char* what) {
    std::fprintf(stderr, "fuzz_protocol: %s\n", what);
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const en::Config& cfg = config();
    en::Router router(cfg);
    en::ShardCore core(cfg, 0);
    en::CoreOut out;
    wire::Deframer deframer(wire::kMaxInboundLength);
    const std::span<const std::uint8_t> stream(data, size);
    std::size_t used = 0;
    int user = -1;
    std::uint64_t ts = 1;
    wire::Packet pk;
    while (deframer.next(stream, used, pk) == wire::Deframer::Status::Packet) {
        (void)wire::decode_outbound(pk.payload);  // the client-side decoder must not trip on anything either
        if (pk.type == wire::kLoginRequest) {
            wire::Login login;
            if (wire::decode_login(pk.payload, login)) break;  // the server disconnects here
            user = -1;
            for (std::size_t i = 0; i < cfg.users.size(); ++i)
                if (cfg.users[i].name == login.user && cfg.users[i].password == login.password)
                    user = static_cast<int>(i);
            continue;
        }
        if (pk.type != wire::kUnsequenced) continue;
        if (user < 0) break;  // orders before login: disconnect
        const wire::Inbound in = wire::decode_order(pk.payload);
        en::Command c;
        en::Router::Refusal why;
        const auto u = static_cast<std::uint32_t>(user);
        switch (in.kind) {
            case wire::InKind::Enter: why = router.enter(u, in.enter, c); break;
            case wire::InKind::Replace: why = router.replace(u, in.replace, c); break;
            case wire::InKind::Cancel: why = router.cancel(u, in.cancel, c); break;
            case wire::InKind::Bad: return 0;  // protocol error: disconnect
        }
        if (why) continue;
        c.ts = ++ts;
        std::uint8_t record[en::journal_format::kRecordSize];
        en::journal_format::encode_record(c, static_cast<std::uint32_t>(ts), record);
        en::Command back;
        std::uint32_t number = 0;
        if (en::journal_format::decode_record(record, back, number) != en::journal_format::RecordStatus::Good ||
            number != static_cast<std::uint32_t>(ts) || std::memcmp(&back, &c, 6) != 0 ||
            back.instrument != c.instrument || back.user != c.user || back.qty != c.qty || back.price != c.price ||
            back.ts != c.ts || back.token != c.token || back.new_token != c.new_token || back.order_id != c.order_id ||
            back.new_order_id != c.new_order_id)
            fail("a journal record does not decode to its command");
        core.apply(c, out);
        if (const std::string bad = core.check(); !bad.empty()) fail(bad.c_str());
    }
    // Every event encodes to the message it stands for.
    std::vector<std::uint8_t> encoded;
    en::EventEncoder(cfg).encode(out.events, encoded);
    std::size_t at = 0;
    en::for_each_event(encoded, [&](std::uint32_t who, std::span<const std::uint8_t> packet) {
        if (at >= out.events.size()) fail("more messages than events");
        const en::Event& e = out.events[at++];
        if (who >= cfg.users.size() || who != e.user) fail("event for a user that does not exist");
        if (packet.size() < 4 || packet[2] != wire::kSequenced) fail("event is not a Sequenced Data packet");
        const wire::Outbound o = wire::decode_outbound(packet.subspan(3));
        constexpr char kTypes[] = {wire::kAccepted, wire::kReplaced, wire::kExecuted, wire::kCancelled,
                                   wire::kRejected};
        if (o.type != kTypes[static_cast<int>(e.kind)] || o.token != e.token || o.ts != e.ts)
            fail("an event does not encode to its message");
    });
    if (at != out.events.size()) fail("fewer messages than events");
    return 0;
}

// libFuzzer target: arbitrary bytes as an ITCH 5.0 stream, framed, decoded
// through every typed view, and applied to books. Must never crash, hang or
// trip a sanitizer, whatever the input.
#include <nexus/feed/itch.hpp>
#include <nexus/feed/itch_books.hpp>

#include <cstddef>
#include <cstdint>

using namespace nexus::feed;

namespace {
std::uint64_t touch(const itch::Message& m) {
    using namespace itch;
    std::uint64_t h = m.locate() ^ m.tracking() ^ m.timestamp();
    switch (m.type()) {
        case 'S': h ^= SystemEvent(m).event_code(); break;
        case 'R': {
            StockDirectory r(m);
            h ^= r.stock().size() ^ r.round_lot_size() ^ r.etp_leverage() ^ r.issue_subtype().size();
            break;
        }
        case 'H': h ^= StockTradingAction(m).reason().size(); break;
        case 'Y': h ^= RegShoRestriction(m).action(); break;
        case 'L': h ^= MarketParticipantPosition(m).mpid().size(); break;
        case 'V': h ^= MwcbDeclineLevel(m).level3(); break;
        case 'W': h ^= MwcbStatus(m).breached_level(); break;
        case 'K': h ^= IpoQuotingPeriod(m).ipo_price(); break;
        case 'J': h ^= LuldAuctionCollar(m).extension(); break;
        case 'h': h ^= OperationalHalt(m).action(); break;
        case 'A':
        case 'F': {
            AddOrder a(m);
            h ^= a.ref() ^ a.price() ^ a.attribution().size();
            break;
        }
        case 'E': h ^= OrderExecuted(m).match(); break;
        case 'C': h ^= OrderExecutedWithPrice(m).price(); break;
        case 'X': h ^= OrderCancel(m).shares(); break;
        case 'D': h ^= OrderDelete(m).ref(); break;
        case 'U': h ^= OrderReplace(m).new_ref(); break;
        case 'P': h ^= Trade(m).match(); break;
        case 'Q': h ^= CrossTrade(m).cross_type(); break;
        case 'B': h ^= BrokenTrade(m).match(); break;
        case 'I': h ^= Noii(m).price_variation(); break;
        case 'N': h ^= RetailPriceImprovement(m).interest_flag(); break;
        case 'O': h ^= DlcrPriceDiscovery(m).upper_price_collar(); break;
        default: break;
    }
    return h;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> books(nl);
    itch::Framer f({data, size});
    itch::Message m;
    std::uint64_t h = 0;
    while (f.next(m)) {
        h ^= touch(m);
        if (!books.apply(m)) break;
    }
    books.books().for_each([](auto& b) {
        if (!b.check_invariants(true).empty()) __builtin_trap();  // a book must stay consistent on any input
    });
    return static_cast<int>(h & 0);
}

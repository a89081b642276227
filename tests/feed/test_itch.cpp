// ITCH 5.0: every message type decoded from hand-built bytes, framing errors
// with their offsets, the real NASDAQ sample, and book building.
#include <catch2/catch.hpp>

#include <nexus/feed/itch.hpp>
#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/synth.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "itch_builder.hpp"

using namespace nexus::feed;
using namespace nexus::feed::itch;
using nexus::test::ItchMsg;

namespace {

Message frame_one(const ItchMsg& m, std::vector<std::uint8_t>& buf) {
    buf.clear();
    m.frame_into(buf);
    Framer f(buf);
    Message out;
    REQUIRE(f.next(out));
    REQUIRE_FALSE(f.next(out));
    REQUIRE(f.error() == FrameError::None);
    return out;
}

}  // namespace

TEST_CASE("itch: every message type decodes from its bytes", "[itch]") {
    std::vector<std::uint8_t> buf;
    SECTION("header fields") {
        const Message m = frame_one(ItchMsg('S', 12, 0, 0x0000'1234'5678'9ABCull).ch(11, 'O'), buf);
        CHECK(m.type() == 'S');
        CHECK(m.size == 12);
        CHECK(m.locate() == 0);
        CHECK(m.tracking() == 7);
        CHECK(m.timestamp() == 0x1234'5678'9ABCull);
        CHECK(SystemEvent(m).event_code() == 'O');
    }
    SECTION("R stock directory") {
        const StockDirectory r(frame_one(nexus::test::itch_directory(42, "MSFT"), buf));
        CHECK(r.locate() == 42);
        CHECK(r.stock() == "MSFT");
        CHECK(r.market_category() == 'Q');
        CHECK(r.financial_status() == 'N');
        CHECK(r.round_lot_size() == 100);
        CHECK(r.round_lots_only() == 'N');
        CHECK(r.issue_classification() == 'C');
        CHECK(r.issue_subtype() == "Z");
        CHECK(r.authenticity() == 'P');
        CHECK(r.short_sale_threshold() == 'N');
        CHECK(r.ipo_flag() == ' ');
        CHECK(r.luld_tier() == '1');
        CHECK(r.etp_flag() == 'N');
        CHECK(r.etp_leverage() == 0);
        CHECK(r.inverse() == 'N');
    }
    SECTION("H trading action") {
        const StockTradingAction h(
            frame_one(ItchMsg('H', 25, 5).str(11, "AAPL", 8).ch(19, 'T').str(21, "IPO1", 4), buf));
        CHECK(h.stock() == "AAPL");
        CHECK(h.trading_state() == 'T');
        CHECK(h.reason() == "IPO1");
    }
    SECTION("Y Reg SHO") {
        const RegShoRestriction y(frame_one(ItchMsg('Y', 20, 5).str(11, "AAPL", 8).ch(19, '1'), buf));
        CHECK(y.stock() == "AAPL");
        CHECK(y.action() == '1');
    }
    SECTION("L market participant position") {
        const MarketParticipantPosition l(frame_one(
            ItchMsg('L', 26, 5).str(11, "GSCO", 4).str(15, "AAPL", 8).ch(23, 'Y').ch(24, 'N').ch(25, 'A'), buf));
        CHECK(l.mpid() == "GSCO");
        CHECK(l.stock() == "AAPL");
        CHECK(l.primary_market_maker() == 'Y');
        CHECK(l.market_maker_mode() == 'N');
        CHECK(l.participant_state() == 'A');
    }
    SECTION("V and W circuit breakers") {
        const MwcbDeclineLevel v(frame_one(ItchMsg('V', 35).u64(11, 1).u64(19, 2).u64(27, 300'000'000'000ull), buf));
        CHECK(v.level1() == 1);
        CHECK(v.level2() == 2);
        CHECK(v.level3() == 300'000'000'000ull);
        CHECK(MwcbStatus(frame_one(ItchMsg('W', 12).ch(11, '2'), buf)).breached_level() == '2');
    }
    SECTION("K IPO quoting period") {
        const IpoQuotingPeriod k(
            frame_one(ItchMsg('K', 28, 9).str(11, "NEWCO", 8).u32(19, 34200).ch(23, 'A').u32(24, 150000), buf));
        CHECK(k.stock() == "NEWCO");
        CHECK(k.release_time() == 34200);
        CHECK(k.release_qualifier() == 'A');
        CHECK(k.ipo_price() == 150000);
    }
    SECTION("J LULD collar") {
        const LuldAuctionCollar j(
            frame_one(ItchMsg('J', 35, 9).str(11, "X", 8).u32(19, 100).u32(23, 110).u32(27, 90).u32(31, 3), buf));
        CHECK(j.reference_price() == 100);
        CHECK(j.upper_price() == 110);
        CHECK(j.lower_price() == 90);
        CHECK(j.extension() == 3);
    }
    SECTION("h operational halt") {
        const OperationalHalt h(frame_one(ItchMsg('h', 21, 9).str(11, "X", 8).ch(19, 'Q').ch(20, 'H'), buf));
        CHECK(h.stock() == "X");
        CHECK(h.market_code() == 'Q');
        CHECK(h.action() == 'H');
    }
    SECTION("A and F add order") {
        const AddOrder a(
            frame_one(nexus::test::itch_add(3, 0x0102'0304'0506'0708ull, 'S', 250, "IBM", 1'234'500), buf));
        CHECK(a.locate() == 3);
        CHECK(a.ref() == 0x0102'0304'0506'0708ull);
        CHECK(a.side() == 'S');
        CHECK(a.shares() == 250);
        CHECK(a.stock() == "IBM");
        CHECK(a.price() == 1'234'500);
        CHECK(a.attribution().empty());
        const AddOrder f(frame_one(
            ItchMsg('F', 40, 3).u64(11, 9).ch(19, 'B').u32(20, 1).str(24, "IBM", 8).u32(32, 5).str(36, "MSCO", 4),
            buf));
        CHECK(f.attribution() == "MSCO");
        CHECK(f.side() == 'B');
    }
    SECTION("E, C, X, D, U") {
        const OrderExecuted e(frame_one(nexus::test::itch_exec(3, 77, 40, 555), buf));
        CHECK(e.ref() == 77);
        CHECK(e.shares() == 40);
        CHECK(e.match() == 555);
        const OrderExecutedWithPrice c(
            frame_one(ItchMsg('C', 36, 3).u64(11, 77).u32(19, 5).u64(23, 556).ch(31, 'Y').u32(32, 999), buf));
        CHECK(c.ref() == 77);
        CHECK(c.shares() == 5);
        CHECK(c.match() == 556);
        CHECK(c.printable() == 'Y');
        CHECK(c.price() == 999);
        const OrderCancel x(frame_one(nexus::test::itch_cancel(3, 77, 11), buf));
        CHECK(x.ref() == 77);
        CHECK(x.shares() == 11);
        CHECK(OrderDelete(frame_one(nexus::test::itch_delete(3, 78), buf)).ref() == 78);
        const OrderReplace u(frame_one(nexus::test::itch_replace(3, 78, 79, 300, 1000), buf));
        CHECK(u.old_ref() == 78);
        CHECK(u.new_ref() == 79);
        CHECK(u.shares() == 300);
        CHECK(u.price() == 1000);
    }
    SECTION("P, Q, B trades") {
        const Trade p(frame_one(
            ItchMsg('P', 44, 3).u64(11, 1).ch(19, 'B').u32(20, 10).str(24, "IBM", 8).u32(32, 7).u64(36, 8), buf));
        CHECK(p.ref() == 1);
        CHECK(p.side() == 'B');
        CHECK(p.shares() == 10);
        CHECK(p.stock() == "IBM");
        CHECK(p.price() == 7);
        CHECK(p.match() == 8);
        const CrossTrade q(frame_one(
            ItchMsg('Q', 40, 3).u64(11, 5'000'000'000ull).str(19, "IBM", 8).u32(27, 6).u64(31, 9).ch(39, 'O'), buf));
        CHECK(q.shares() == 5'000'000'000ull);
        CHECK(q.cross_price() == 6);
        CHECK(q.match() == 9);
        CHECK(q.cross_type() == 'O');
        CHECK(BrokenTrade(frame_one(ItchMsg('B', 19, 3).u64(11, 12), buf)).match() == 12);
    }
    SECTION("I, N, O") {
        const Noii i(frame_one(ItchMsg('I', 50, 3)
                                   .u64(11, 1)
                                   .u64(19, 2)
                                   .ch(27, 'B')
                                   .str(28, "IBM", 8)
                                   .u32(36, 3)
                                   .u32(40, 4)
                                   .u32(44, 5)
                                   .ch(48, 'C')
                                   .ch(49, 'L'),
                               buf));
        CHECK(i.paired_shares() == 1);
        CHECK(i.imbalance_shares() == 2);
        CHECK(i.imbalance_direction() == 'B');
        CHECK(i.stock() == "IBM");
        CHECK(i.far_price() == 3);
        CHECK(i.near_price() == 4);
        CHECK(i.reference_price() == 5);
        CHECK(i.cross_type() == 'C');
        CHECK(i.price_variation() == 'L');
        const RetailPriceImprovement n(frame_one(ItchMsg('N', 20, 3).str(11, "IBM", 8).ch(19, 'A'), buf));
        CHECK(n.interest_flag() == 'A');
        const DlcrPriceDiscovery o(frame_one(ItchMsg('O', 48, 3)
                                                 .str(11, "IBM", 8)
                                                 .ch(19, 'Y')
                                                 .u32(20, 1)
                                                 .u32(24, 2)
                                                 .u32(28, 3)
                                                 .u64(32, 4)
                                                 .u32(40, 5)
                                                 .u32(44, 6),
                                             buf));
        CHECK(o.open_eligibility() == 'Y');
        CHECK(o.min_allowed_price() == 1);
        CHECK(o.max_allowed_price() == 2);
        CHECK(o.near_execution_price() == 3);
        CHECK(o.near_execution_time() == 4);
        CHECK(o.lower_price_collar() == 5);
        CHECK(o.upper_price_collar() == 6);
    }
}

TEST_CASE("itch: every listed type has its length, others are unknown", "[itch]") {
    for (char t : kKnownTypes) CHECK(kLengths[static_cast<unsigned char>(t)] != 0);
    CHECK(kKnownTypes.size() == 23);
    CHECK(kLengths['Z'] == 0);
    CHECK(kLengths['a'] == 0);
}

TEST_CASE("itch: framing errors stop with the offset, unknown types are skipped and counted", "[itch][bad]") {
    std::vector<std::uint8_t> s;
    nexus::test::itch_delete(1, 5).frame_into(s);  // 21 bytes with its prefix
    SECTION("an unknown type is skipped by its length") {
        ItchMsg('Z', 9).frame_into(s);
        nexus::test::itch_delete(1, 6).frame_into(s);
        Framer f(s);
        Message m;
        REQUIRE(f.next(m));
        REQUIRE(f.next(m));
        CHECK(OrderDelete(m).ref() == 6);
        CHECK(m.offset == 21 + 11);
        CHECK_FALSE(f.next(m));
        CHECK(f.error() == FrameError::None);
        CHECK(f.unknown_skipped() == 1);
    }
    SECTION("a zero length") {
        s.push_back(0);
        s.push_back(0);
        Framer f(s);
        Message m;
        REQUIRE(f.next(m));
        CHECK_FALSE(f.next(m));
        CHECK(f.error() == FrameError::ZeroLength);
        CHECK(f.offset() == 21);
        CHECK(f.error_message() == "zero message length at byte offset 21");
    }
    SECTION("a length that disagrees with the type") {
        ItchMsg bad('D', 20, 1);  // D is 19 bytes
        bad.frame_into(s);
        Framer f(s);
        Message m;
        REQUIRE(f.next(m));
        CHECK_FALSE(f.next(m));
        CHECK(f.error() == FrameError::LengthMismatch);
        CHECK(f.offset() == 21);
    }
    SECTION("a truncated last message") {
        nexus::test::itch_delete(1, 7).frame_into(s);
        s.pop_back();
        Framer f(s);
        Message m;
        REQUIRE(f.next(m));
        CHECK_FALSE(f.next(m));
        CHECK(f.error() == FrameError::TruncatedMessage);
        CHECK(f.offset() == 21);
    }
    SECTION("a cut-off length prefix") {
        s.push_back(0);
        Framer f(s);
        Message m;
        REQUIRE(f.next(m));
        CHECK_FALSE(f.next(m));
        CHECK(f.error() == FrameError::TruncatedLength);
    }
}

namespace {
std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
// Real data lives outside the repository: fail under CI when it is missing, skip elsewhere.
bool have_shared(const std::string& path) {
    if (std::ifstream(path)) return true;
    if (std::getenv("CI")) FAIL("real data missing under CI: " << path);
    WARN("skipped: real data not found at " << path << " (tests use ../shared/data when present)");
    return false;
}
}  // namespace

TEST_CASE("itch: the real NASDAQ sample frames cleanly and fills the stock directory", "[itch][real]") {
    const std::string path = std::string(NEXUS_SHARED_DATA) + "/itch/directory_head_1000.itch";
    if (!have_shared(path)) return;
    const auto bytes = read_file(path);
    REQUIRE(bytes.size() == 40874);
    Framer f(bytes);
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> builder(nl);
    std::map<char, int> types;
    Message m;
    std::uint64_t last_ts = 0;
    bool ordered = true;
    while (f.next(m)) {
        ++types[m.type()];
        ordered = ordered && m.timestamp() >= last_ts;
        last_ts = m.timestamp();
        REQUIRE(builder.apply(m));
    }
    CHECK(f.error() == FrameError::None);
    CHECK(f.offset() == bytes.size());
    CHECK(f.unknown_skipped() == 0);
    CHECK(types == std::map<char, int>{{'H', 3}, {'R', 993}, {'S', 1}, {'Y', 3}});
    CHECK(ordered);
    CHECK(builder.stats().messages == 1000);
    CHECK(builder.directory_size() == 993);
    CHECK(builder.symbol(1) == "A");
    CHECK(builder.symbol(2) == "AA");
    CHECK(builder.symbol(3) == "AAAU");
    CHECK(builder.books().size() == 993);
    CHECK(builder.stats().total_anomalies() == 0);
}

TEST_CASE("itch: books are built with ITCH semantics, anomalies are counted and the replay goes on", "[itch][books]") {
    using namespace nexus::test;
    std::vector<std::uint8_t> s;
    itch_directory(1, "AAPL").frame_into(s);
    itch_directory(2, "MSFT").frame_into(s);
    itch_add(1, 100, 'B', 300, "AAPL", 1'500'000).frame_into(s);
    itch_add(1, 101, 'B', 200, "AAPL", 1'500'000).frame_into(s);
    itch_add(1, 102, 'S', 100, "AAPL", 1'501'000).frame_into(s);
    itch_add(2, 200, 'S', 50, "MSFT", 3'000'000).frame_into(s);
    itch_exec(1, 100, 100).frame_into(s);   // 200 left, keeps priority
    itch_cancel(1, 101, 50).frame_into(s);  // 150 left
    itch_replace(1, 102, 103, 80, 1'502'000).frame_into(s);
    itch_delete(2, 200).frame_into(s);
    itch_exec(1, 999, 10).frame_into(s);                   // unknown reference: anomaly
    itch_delete(1, 999).frame_into(s);                     // another
    itch_add(7, 300, 'B', 10, "NEW", 1000).frame_into(s);  // locate without a directory entry
    Framer f(s);
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> b(nl);
    Message m;
    while (f.next(m)) REQUIRE(b.apply(m));
    REQUIRE(f.error() == FrameError::None);
    auto* aapl = b.books().get(1);
    REQUIRE(aapl != nullptr);
    CHECK(aapl->best(nexus::orderbook::Side::Buy)->qty == 350);
    CHECK(aapl->best(nexus::orderbook::Side::Buy)->count == 2);
    CHECK(aapl->find(100)->qty == 200);
    CHECK(aapl->find(101)->qty == 150);
    CHECK_FALSE(aapl->find(102));
    CHECK(aapl->find(103)->price == 1'502'000);
    CHECK(b.books().get(2)->order_count() == 0);
    CHECK(b.stats().anomalies['E'] == 1);
    CHECK(b.stats().anomalies['D'] == 1);
    CHECK(b.stats().total_anomalies() == 2);
    CHECK(b.stats().unannounced_locates == 1);
    CHECK(b.books().get(7)->order_count() == 1);
    CHECK(b.stats().peak_live_orders ==
          4);  // 3 AAPL + 1 MSFT; the replace keeps the count; locate 7 comes after the MSFT delete
    CHECK(b.stats().by_type['A'] == 5);
    CHECK(b.symbol(2) == "MSFT");
    CHECK(aapl->check_invariants(true) == "");
}

TEST_CASE("itch: a stock message with locate 0 is a format error naming the offset", "[itch][bad]") {
    std::vector<std::uint8_t> s;
    nexus::test::itch_directory(1, "AAPL").frame_into(s);
    nexus::test::itch_add(0, 100, 'B', 300, "AAPL", 1).frame_into(s);
    Framer f(s);
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> b(nl);
    Message m;
    REQUIRE(f.next(m));
    REQUIRE(b.apply(m));
    REQUIRE(f.next(m));
    CHECK_FALSE(b.apply(m));
    CHECK(b.error() == "order message with locate 0 (message type 'A') at byte offset 41");
}

namespace {

// Records the offsets of the messages apply_block applies.
struct Offsets : ItchObserver {
    std::vector<std::uint64_t> seen;
    bool after(const Message& m) {
        seen.push_back(m.offset);
        return true;
    }
};

// A stream of valid order messages on a few locates, with unknown types
// between them and, sometimes, one framing fault: a zero length, a length
// that disagrees with the type, or a cut.
std::vector<std::uint8_t> faulty_stream(std::mt19937_64& rng, int& fault) {
    using namespace nexus::test;
    std::vector<std::uint8_t> s;
    const char* names[] = {"", "S1", "S2", "S3", "S4"};
    for (std::uint16_t l = 1; l <= 4; ++l) itch_directory(l, names[l]).frame_into(s);
    const int n = 20 + static_cast<int>(rng() % 300);
    std::uint64_t ref = 1;
    for (int i = 0; i < n; ++i) {
        const auto loc = static_cast<std::uint16_t>(1 + rng() % 4);
        switch (rng() % 5) {
            case 0: {  // an unknown type, any length
                const std::size_t len = 1 + rng() % 70;
                s.push_back(static_cast<std::uint8_t>(len >> 8));
                s.push_back(static_cast<std::uint8_t>(len));
                s.push_back('z');
                for (std::size_t k = 1; k < len; ++k) s.push_back(static_cast<std::uint8_t>(rng()));
                break;
            }
            case 1: itch_delete(loc, ref > 1 ? 1 + rng() % (ref - 1) : 1).frame_into(s); break;
            default:
                itch_add(loc, ref++, rng() % 2 ? 'B' : 'S', 100, "S", 1000 + static_cast<std::uint32_t>(rng() % 20))
                    .frame_into(s);
                break;
        }
    }
    fault = static_cast<int>(rng() % 4);
    if (fault == 1) s.insert(s.end(), {0, 0, 'A'});                          // zero length
    if (fault == 2) itch_delete(1, 1).frame_into(s), s[s.size() - 20] = 18;  // D with length 18
    if (fault == 3) s.resize(s.size() - 1 - rng() % 10);                     // cut inside the last message
    return s;
}

}  // namespace

TEST_CASE("itch: apply_block frames exactly as Framer does, with and without its look-ahead", "[itch][bad]") {
    std::mt19937_64 rng(20261128);
    std::map<FrameError, int> errors;
    for (int round = 0; round < 400; ++round) {
        int fault = 0;
        const auto s = faulty_stream(rng, fault);
        // The reference: Framer over the whole stream.
        Framer f(s);
        Message m;
        std::vector<std::uint64_t> want;
        while (f.next(m)) want.push_back(m.offset);
        ++errors[f.error()];
        for (const bool look_ahead : {true, false}) {
            nexus::orderbook::NullListener nl;
            ItchBookBuilder<> b(nl);
            Offsets seen;
            const auto r =
                look_ahead ? b.apply_block<Offsets, true>(s, 0, seen) : b.apply_block<Offsets, false>(s, 0, seen);
            INFO("round " << round << ", fault " << fault << ", look-ahead " << look_ahead);
            REQUIRE_FALSE(r.stop);
            CHECK(seen.seen == want);
            CHECK(r.messages == want.size());
            CHECK(r.consumed == f.consumed());
            CHECK(r.error == f.error());
            CHECK(r.unknown == f.unknown_skipped());
        }
    }
    // Every kind of stop was exercised.
    CHECK(errors[FrameError::None] > 0);
    CHECK(errors[FrameError::ZeroLength] > 0);
    CHECK(errors[FrameError::LengthMismatch] > 0);
    CHECK(errors[FrameError::TruncatedMessage] > 0);
}

TEST_CASE("itch: locates shared out between builders give the same books as one builder", "[itch][books]") {
    SynthConfig cfg;
    cfg.symbols = 60;
    cfg.order_messages = 60'000;
    std::vector<std::uint8_t> day;
    {
        const auto path =
            std::filesystem::temp_directory_path() / ("nexus-shares-" + std::to_string(::getpid()) + ".itch");
        {
            ItchWriter w(path.string(), false);
            generate_day(cfg, w);
        }
        std::ifstream in(path, std::ios::binary);
        day.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        std::filesystem::remove(path);
    }
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> whole(nl);
    ItchObserver none;
    REQUIRE(whole.apply_block(day, 0, none).error == FrameError::None);
    std::vector<std::uint8_t> owner(65536);
    for (std::size_t l = 0; l < owner.size(); ++l) owner[l] = static_cast<std::uint8_t>((l * 7 + l / 3) % 3);
    owner[0] = 0;
    std::vector<std::unique_ptr<ItchBookBuilder<>>> parts;
    std::size_t live = 0;
    std::uint64_t adds = 0;
    for (std::uint8_t w = 0; w < 3; ++w) {
        parts.push_back(std::make_unique<ItchBookBuilder<>>(nl));
        const auto r = parts.back()->apply_block(day, 0, none, LocateShare{owner.data(), w});
        REQUIRE_FALSE(r.stop);
        CHECK(r.messages == whole.stats().messages);  // every share frames every message
        live += parts.back()->live_orders();
        adds += parts.back()->stats().by_type['A'];
    }
    CHECK(live == whole.live_orders());
    CHECK(adds == whole.stats().by_type['A']);
    std::size_t compared = 0;
    for (std::uint16_t l = 1; l <= 60; ++l) {
        const auto* a = whole.books().get(l);
        const auto* b = parts[owner[l]]->books().get(l);
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
        for (auto side : {nexus::orderbook::Side::Buy, nexus::orderbook::Side::Sell})
            CHECK(a->depth(side) == b->depth(side));
        CHECK(parts[owner[l]]->messages_for(l) == whole.messages_for(l));
        for (std::uint8_t w = 0; w < 3; ++w)
            if (w != owner[l]) CHECK(parts[w]->books().get(l) == nullptr);  // no share opens another's book
        ++compared;
    }
    CHECK(compared == 60);
}

// LOBSTER files written from ITCH and read back: whole generated days at
// several depths and windows verify with zero true mismatches; a corrupted
// row (size, price, a row missing, the book) is caught at that row; the
// exporter agrees with a derivation from a deeper export and with an
// independent book; a crafted day checks every ITCH -> LOBSTER mapping.
#include <catch2/catch.hpp>

#include <nexus/feed/itch_books.hpp>

#include <random>
#include <string>
#include <vector>

#include "itch_builder.hpp"
#include "lobster_util.hpp"

namespace lob = nexus::feed::lobster;
namespace feed = nexus::feed;
using nexus::test::seconds;

namespace {

// One symbol's exported pair, verified from memory.
lob::VerifyResult verify_files(const lob::MemorySink::Files& f) {
    return nexus::test::verify_text(f.messages, f.orderbook);
}

std::string describe(const lob::VerifyResult& r) {
    std::string s = r.ok ? "" : "error: " + r.error + "\n";
    for (const auto& m : r.stats.first_mismatches) s += "row " + std::to_string(m.row) + ": " + m.what + "\n";
    return s;
}

struct Day {
    nexus::test::TempDir tmp{"lobster-day"};
    std::string itch;
    Day(std::uint32_t symbols, std::uint64_t messages, std::uint64_t seed) : itch(tmp.path("day.itch")) {
        nexus::test::synth_day(itch, symbols, messages, seed);
    }
};

lob::ExportConfig config(std::size_t levels, std::int64_t from, std::int64_t to,
                         std::vector<std::string> symbols = {}) {
    lob::ExportConfig c;
    c.levels = levels;
    c.from_ns = from;
    c.to_ns = to;
    c.symbols = std::move(symbols);
    c.pools = {.orders = std::size_t{1} << 20, .levels = std::size_t{1} << 16};
    return c;
}

int message_type(const std::string& row) { return row[row.find(',') + 1] - '0'; }

// Field i of a CSV row as an integer (a time's whole seconds).
long long field(const std::string& row, std::size_t i) {
    std::size_t p = 0;
    for (std::size_t j = 0; j < i; ++j) p = row.find(',', p) + 1;
    return std::strtoll(row.c_str() + p, nullptr, 10);
}

// Rows [from, to) of a pair, as a pair of its own (a file that starts later).
lob::MemorySink::Files slice(const std::vector<std::string>& m, const std::vector<std::string>& b, std::size_t from,
                             std::size_t to) {
    lob::MemorySink::Files f;
    for (std::size_t i = from; i < to; ++i) {
        f.messages += m[i] + "\n";
        f.orderbook += b[i] + "\n";
    }
    return f;
}

}  // namespace

TEST_CASE("lobster round trip: generated days verify with zero true mismatches at every depth",
          "[lobster][roundtrip]") {
    const Day day(6, 150'000, 11);
    // Windows starting mid-day: the books already hold orders from before.
    const std::pair<std::int64_t, std::int64_t> windows[] = {{seconds(11, 0, 0), seconds(15, 0, 0)},
                                                             {seconds(9, 30, 0), seconds(16, 0, 0)},
                                                             {seconds(13, 17, 23), seconds(13, 47, 0)}};
    for (const auto& [from, to] : windows) {
        for (std::size_t levels : {1, 2, 5, 10, 50}) {
            if (levels == 50 && from != windows[0].first) continue;  // wide rows: one window is enough
            const auto files = nexus::test::export_day(day.itch, config(levels, from, to));
            REQUIRE(files.files().size() == 6);
            for (const auto& [symbol, f] : files.files()) {
                const auto r = verify_files(f);
                INFO(symbol << " at " << levels << " levels from " << from << ": " << describe(r));
                REQUIRE(r.ok);
                CHECK(r.levels == levels);
                CHECK(r.stats.rows > 0);
                CHECK(r.stats.true_mismatches == 0);
                CHECK(r.stats.out_of_view == 0);  // the exporter writes only what touches the view
                if (levels <= 2 && from > seconds(9, 30, 0) && r.stats.rows > 2000) {
                    CHECK(r.stats.unknown_orders > 0);   // orders added before the window
                    CHECK(r.stats.revealed_levels > 0);  // liquidity re-entering the view
                }
            }
        }
    }
}

TEST_CASE("lobster round trip: a corrupted row is caught at that row", "[lobster][roundtrip][mutation]") {
    const Day day(3, 120'000, 5);
    std::mt19937_64 rng(99);
    for (std::size_t levels : {1, 2, 5, 10}) {
        const auto files =
            nexus::test::export_day(day.itch, config(levels, seconds(10, 30, 0), seconds(16, 0, 0), {"AAAA"}));
        const auto& f = files.files().at("AAAA");
        const auto m = nexus::test::lines(f.messages);
        const auto b = nexus::test::lines(f.orderbook);
        REQUIRE(m.size() > 5000);
        for (int trial = 0; trial < 40; ++trial) {
            // A row of type 1-4 (5-7 leave no trace in the book) with rows around it;
            // the file is cut to [k - 300, k + 5): a file starting there is a file too.
            std::size_t k;
            do k = 400 + rng() % (m.size() - 500);
            while (message_type(m[k]) > 4);
            const std::size_t from = k - 300, to = k + 5, at = k - from + 1;  // 1-based row in the slice
            auto mm = std::vector<std::string>(m.begin() + static_cast<std::ptrdiff_t>(from),
                                               m.begin() + static_cast<std::ptrdiff_t>(to));
            auto bb = std::vector<std::string>(b.begin() + static_cast<std::ptrdiff_t>(from),
                                               b.begin() + static_cast<std::ptrdiff_t>(to));
            REQUIRE(verify_files(slice(mm, bb, 0, mm.size())).stats.true_mismatches == 0);
            // Field i of a CSV row, replaced.
            auto set_field = [](std::string& row, std::size_t i, const std::string& v) {
                std::size_t p = 0;
                for (std::size_t j = 0; j < i; ++j) p = row.find(',', p) + 1;
                const std::size_t q = std::min(row.find(',', p), row.size());
                row.replace(p, q - p, v);
            };
            const int kind = trial % 4;
            std::string what;
            if (kind == 0) {  // the size
                const auto size = field(mm[at - 1], 3);
                set_field(mm[at - 1], 3, std::to_string(size > 1 && rng() % 2 ? size - 1 : size + 1));
                what = "size";
            } else if (kind == 1) {  // the price, a tick or a few away
                const auto price = field(mm[at - 1], 4);
                const long long tick =
                    rng() % 2 ? 100 : -100;  // (one draw per statement: argument order is the compiler's)
                set_field(mm[at - 1], 4, std::to_string(price + tick * static_cast<long long>(1 + rng() % 3)));
                what = "price";
            } else if (kind == 2) {  // the row is missing from both files
                // Not when the next row adds on the same side: a better price pushes
                // this row's level out of view, and the file without the row is a
                // consistent one (docs/lobster.md §6).
                if (message_type(mm[at]) == 1 && field(mm[at], 5) == field(mm[at - 1], 5)) continue;
                mm.erase(mm.begin() + static_cast<std::ptrdiff_t>(at - 1));
                bb.erase(bb.begin() + static_cast<std::ptrdiff_t>(at - 1));
                what = "missing row";
            } else {  // a size in the book row, at a level the row before shows too
                const bool ask = field(mm[at - 1], 5) == -1;
                std::size_t level = 0;
                const auto before = bb[at - 2];
                for (std::size_t l = 0; l < levels; ++l) {
                    const auto p = field(bb[at - 1], 4 * l + (ask ? 0 : 2));
                    for (std::size_t j = 0; j < levels; ++j)
                        if (field(before, 4 * j + (ask ? 0 : 2)) == p && std::abs(p) != 9'999'999'999) level = l + 1;
                    if (level) break;
                }
                if (!level) continue;
                const std::size_t col = 4 * (level - 1) + (ask ? 1 : 3);
                set_field(bb[at - 1], col, std::to_string(field(bb[at - 1], col) + 1));
                what = "book size";
            }
            const auto r = verify_files(slice(mm, bb, 0, mm.size()));
            INFO(levels << " levels, " << what << " corrupted at row " << at << " (file row " << k + 1
                        << "): " << describe(r));
            REQUIRE(r.ok);
            REQUIRE(r.stats.true_mismatches >= 1);
            CHECK(r.stats.first_mismatches[0].row == at);
            CHECK(r.stats.true_mismatches <= 2);  // a bad book row also disagrees with the row after it
        }
    }
}

TEST_CASE("lobster round trip: a file of more than a million rows verifies, in bounded memory",
          "[lobster][roundtrip][long]") {
    // One symbol, every message its own: about 1.08 rows per ITCH message at 10 levels.
    const Day day(1, 960'000, 3);
    const auto files = nexus::test::export_day(day.itch, config(10, seconds(9, 30, 0), seconds(16, 0, 0)));
    const auto& f = files.files().at("AAAA");
    lob::MessageReader m("m.csv", f.messages);
    lob::OrderbookReader b("b.csv", f.orderbook);
    const auto r = lob::verify(m, b);
    INFO(describe(r));
    REQUIRE(r.ok);
    CHECK(r.stats.rows >= 1'000'000);
    CHECK(r.stats.true_mismatches == 0);
    CHECK(r.stats.peak_known_orders < 5'000);  // orders of the book's top levels, not of the file
}

TEST_CASE("lobster round trip: files on disk read as the same rows (buffer refills, CRLF)", "[lobster][roundtrip]") {
    const Day day(2, 60'000, 8);
    const auto files = nexus::test::export_day(day.itch, config(10, seconds(9, 30, 0), seconds(16, 0, 0), {"AAAA"}));
    const auto& f = files.files().at("AAAA");
    REQUIRE(f.orderbook.size() > 2 * nexus::feed::LineReader::kBufferBytes);
    const auto mem = verify_files(f);
    auto crlf = [](const std::string& s) {
        std::string out;
        for (const char c : s) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
        return out;
    };
    nexus::test::TempDir tmp("lobster-disk");
    const auto disk = lob::verify_files(tmp.write("AAAA_message_10.csv", crlf(f.messages)),
                                        tmp.write("AAAA_orderbook_10.csv", crlf(f.orderbook)));
    REQUIRE(disk.ok);
    CHECK(disk.stats.rows == mem.stats.rows);
    CHECK(disk.stats.true_mismatches == 0);
    CHECK(disk.stats.unknown_orders == mem.stats.unknown_orders);
    CHECK(disk.stats.revealed_levels == mem.stats.revealed_levels);
}

// The level-N file is the level-M file (M > N) with the rows that do not
// touch the N best levels left out and every row cut to N levels: derived
// here from a deeper export of the whole day, the state before the window
// included, and compared byte for byte.
TEST_CASE("lobster round trip: a shallow export is a deep export filtered and cut",
          "[lobster][roundtrip][differential]") {
    const Day day(4, 100'000, 21);
    const std::size_t deep = 50;
    const auto full = nexus::test::export_day(day.itch, config(deep, 0, seconds(15, 30, 0)));
    for (std::size_t n : {1, 2, 5, 10}) {
        const std::int64_t from = seconds(11, 0, 0);
        const auto got = nexus::test::export_day(day.itch, config(n, from, seconds(15, 30, 0)));
        for (const auto& [symbol, f] : full.files()) {
            const auto dm = nexus::test::lines(f.messages);
            const auto db = nexus::test::lines(f.orderbook);
            std::string want_m, want_b;
            std::string prev;  // the deep row before (empty: the day's empty book)
            for (std::size_t k = 0; k < dm.size(); ++k) {
                const int type = static_cast<int>(field(dm[k], 1));
                bool touches = true;
                if (type <= 4) {  // within the n levels the row before shows, or that side shows fewer
                    const bool ask = field(dm[k], 5) == -1;
                    const long long last =
                        prev.empty() ? lob::kEmptyAskPrice : field(prev, 4 * (n - 1) + (ask ? 0 : 2));
                    const long long price = field(dm[k], 4);
                    touches = std::abs(last) == lob::kEmptyAskPrice || (ask ? price <= last : price >= last);
                }
                const std::int64_t t =
                    field(dm[k], 0) * lob::kNanosPerSecond + std::stoll(dm[k].substr(dm[k].find('.') + 1, 9));
                if (t >= from && touches) {
                    want_m += dm[k] + "\n";
                    std::size_t cut = 0;
                    for (std::size_t c = 0; c < 4 * n; ++c) cut = db[k].find(',', cut) + 1;
                    want_b += (cut ? db[k].substr(0, cut - 1) : db[k]) + "\n";
                }
                prev = db[k];
            }
            const auto it = got.files().find(symbol);
            const std::string got_m = it == got.files().end() ? "" : it->second.messages;
            const std::string got_b = it == got.files().end() ? "" : it->second.orderbook;
            INFO(symbol << " at " << n << " levels");
            CHECK(got_m == want_m);
            CHECK(got_b == want_b);
        }
    }
}

// The last row of each symbol is the top of an independent replay's book
// (ItchBookBuilder: replace() for U, its own add/execute paths) at the end of
// the window.
TEST_CASE("lobster round trip: the last row is the independent replay's book at the window's end",
          "[lobster][roundtrip][differential]") {
    const Day day(8, 80'000, 17);
    const std::int64_t to = seconds(14, 0, 0);
    const std::size_t n = 5;
    const auto files = nexus::test::export_day(day.itch, config(n, seconds(10, 0, 0), to));
    nexus::orderbook::NullListener nl;
    feed::ItchBookBuilder<> builder(nl);
    feed::read_itch(day.itch, [&](const feed::itch::Message& m) {
        if (static_cast<std::int64_t>(m.timestamp()) >= to) return false;
        return builder.apply(m);
    });
    for (std::uint16_t loc = 1; loc <= 8; ++loc) {
        const std::string symbol(builder.symbol(loc));
        const auto& f = files.files().at(symbol);
        const auto rows = nexus::test::lines(f.orderbook);
        REQUIRE_FALSE(rows.empty());
        const auto* book = builder.books().get(loc);
        std::vector<lob::Level> asks, bids;
        for (const auto& l : book->depth(nexus::orderbook::Side::Sell, n)) asks.push_back({l.price, l.qty});
        for (const auto& l : book->depth(nexus::orderbook::Side::Buy, n)) bids.push_back({l.price, l.qty});
        nexus::test::FilePair want{n};
        want.row("", asks, bids);
        INFO(symbol);
        CHECK(rows.back() + "\n" == want.books);
    }
}

// Every ITCH message type the exporter maps, with the exact lines it writes.
TEST_CASE("lobster export: each ITCH message maps to its LOBSTER row", "[lobster][export]") {
    using nexus::test::ItchMsg;
    std::vector<std::uint8_t> s;
    auto at = [](ItchMsg m, std::uint64_t ts) { return m.u48(5, ts); };
    const std::uint64_t t0 = static_cast<std::uint64_t>(seconds(10, 0, 0));
    nexus::test::itch_directory(1, "AAPL").frame_into(s);
    nexus::test::itch_directory(2, "MSFT").frame_into(s);
    at(nexus::test::itch_add(1, 1, 'B', 100, "AAPL", 1000000), t0 - 5).frame_into(s);  // before the window: not written
    at(nexus::test::itch_add(1, 2, 'S', 300, "AAPL", 1010000), t0 - 4).frame_into(s);
    at(nexus::test::itch_add(2, 3, 'S', 300, "MSFT", 2010000), t0 + 1).frame_into(s);  // another symbol
    at(nexus::test::itch_add(1, 4, 'B', 50, "AAPL", 1000000), t0 + 10).frame_into(s);  // A -> 1
    at(nexus::test::itch_cancel(1, 1, 30), t0 + 20).frame_into(s);                     // X -> 2
    at(nexus::test::itch_exec(1, 4, 50), t0 + 30).frame_into(s);                       // E -> 4
    at(ItchMsg('C', 36, 1, 0).u64(11, 2).u32(19, 100).u64(23, 9).ch(31, 'Y').u32(32, 1009000), t0 + 40)
        .frame_into(s);                                                          // C -> 4 at the order's price
    at(nexus::test::itch_replace(1, 2, 5, 80, 1020000), t0 + 50).frame_into(s);  // U -> 3 + 1
    at(nexus::test::itch_delete(1, 99), t0 + 55).frame_into(s);                  // unknown: an anomaly, not written
    at(ItchMsg('P', 44, 1, 0).u64(11, 0).ch(19, 'B').u32(20, 70).str(24, "AAPL", 8).u32(32, 1005000).u64(36, 10),
       t0 + 60)
        .frame_into(s);  // P -> 5
    at(ItchMsg('P', 44, 1, 0).u64(11, 0).ch(19, 'B').u32(20, 70).str(24, "AAPL", 8).u32(32, 0).u64(36, 12), t0 + 65)
        .frame_into(s);                                                                // P at price 0: none
    at(ItchMsg('H', 25, 1, 0).str(11, "AAPL", 8).ch(19, 'H'), t0 + 70).frame_into(s);  // H -> 7, -1
    at(ItchMsg('H', 25, 1, 0).str(11, "AAPL", 8).ch(19, 'Q'), t0 + 80).frame_into(s);  // 7, 0
    at(ItchMsg('Q', 40, 1, 0).u64(11, 500).str(19, "AAPL", 8).u32(27, 1004000).u64(31, 11).ch(39, 'H'), t0 + 85)
        .frame_into(s);                                                                // Q -> 6, id -3
    at(ItchMsg('H', 25, 1, 0).str(11, "AAPL", 8).ch(19, 'T'), t0 + 90).frame_into(s);  // 7, 1
    at(nexus::test::itch_delete(1, 1), t0 + 100).frame_into(s);                        // D -> 3 with what is left (70)
    at(nexus::test::itch_add(1, 6, 'S', 10, "AAPL", 1030000), t0 + 110)
        .frame_into(s);  // beyond the 1-level view: not written
    at(nexus::test::itch_add(1, 7, 'S', 10, "AAPL", 1030000), seconds(11, 0, 0))
        .frame_into(s);  // at the window's end: stops
    nexus::test::TempDir tmp("lobster-map");
    const std::string path = tmp.path("map.itch");
    nexus::test::write_file(path, s);
    const auto files = nexus::test::export_day(path, config(1, seconds(10, 0, 0), seconds(11, 0, 0), {"AAPL"}));
    REQUIRE(files.files().size() == 1);
    const auto& f = files.files().at("AAPL");
    CHECK(f.messages ==
          "36000.000000010,1,4,50,1000000,1\n"
          "36000.000000020,2,1,30,1000000,1\n"
          "36000.000000030,4,4,50,1000000,1\n"
          "36000.000000040,4,2,100,1010000,-1\n"
          "36000.000000050,3,2,200,1010000,-1\n"
          "36000.000000050,1,5,80,1020000,-1\n"
          "36000.000000060,5,0,70,1005000,1\n"
          "36000.000000070,7,0,0,-1,-1\n"
          "36000.000000080,7,0,0,0,-1\n"
          "36000.000000085,6,-3,500,1004000,-1\n"
          "36000.000000090,7,0,0,1,-1\n"
          "36000.000000100,3,1,70,1000000,1\n");
    CHECK(f.orderbook ==
          "1010000,300,1000000,150\n"
          "1010000,300,1000000,120\n"
          "1010000,300,1000000,70\n"
          "1010000,200,1000000,70\n"
          "9999999999,0,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,1000000,70\n"
          "1020000,80,-9999999999,0\n");
    const auto r = verify_files(f);
    CHECK(r.ok);
    CHECK(r.stats.true_mismatches == 0);
}

TEST_CASE("lobster export: requested symbols get files even when empty, missing ones are named", "[lobster][export]") {
    std::vector<std::uint8_t> s;
    nexus::test::itch_directory(1, "AAPL").frame_into(s);
    nexus::test::TempDir tmp("lobster-empty");
    const std::string path = tmp.path("e.itch");
    nexus::test::write_file(path, s);
    lob::MemorySink sink;
    lob::Exporter ex(config(10, 0, seconds(16, 0, 0), {"AAPL", "NOPE"}), sink);
    feed::read_itch(path, [&](const feed::itch::Message& m) { return ex.apply(m); });
    REQUIRE(ex.finish());
    REQUIRE(sink.files().count("AAPL"));
    CHECK(sink.files().at("AAPL").messages.empty());
    CHECK(ex.missing_symbols() == std::vector<std::string>{"NOPE"});
}

TEST_CASE("lobster export: a full pool is an error, not an anomaly", "[lobster][export][bad]") {
    const Day day(1, 20'000, 2);
    lob::MemorySink sink;
    auto cfg = config(5, 0, seconds(16, 0, 0));
    cfg.pools = {.orders = 16, .levels = 1 << 10};
    lob::Exporter ex(cfg, sink);
    const auto r = feed::read_itch(day.itch, [&](const feed::itch::Message& m) { return ex.apply(m); });
    CHECK(r.stopped);
    CHECK(ex.capacity_exhausted());
    CHECK(ex.error() == "the book's pools are full (16 orders, 1024 price levels)");
}

TEST_CASE("lobster writer: integers, times and placeholders as LOBSTER writes them", "[lobster][export]") {
    std::mt19937_64 rng(5);
    char buf[32];
    auto text = [&](std::int64_t v) { return std::string(buf, lob::detail::put_int(buf, v)); };
    for (std::int64_t p = 1; p > 0 && p <= INT64_MAX / 10; p *= 10)
        for (const std::int64_t v : {p - 1, p, p + 1, -p, -(p - 1)}) CHECK(text(v) == std::to_string(v));
    CHECK(text(INT64_MIN) == std::to_string(INT64_MIN));
    CHECK(text(INT64_MAX) == std::to_string(INT64_MAX));
    for (int i = 0; i < 100000; ++i) {
        const auto v = static_cast<std::int64_t>(rng() >> (rng() % 64)) * (i % 2 ? 1 : -1);
        REQUIRE(text(v) == std::to_string(v));
    }
    const lob::Message m{
        57'599 * lob::kNanosPerSecond + 1'020, lob::EventType::Cross, -2, 300, 1'004'000, lob::Side::Sell};
    char row[256];
    CHECK(std::string(row, lob::put_message(row, m)) == "57599.000001020,6,-2,300,1004000,-1\n");
    // The exporter's sides: one ask level, no bid, at two levels.
    lob::SideText asks(lob::Side::Sell, 2), bids(lob::Side::Buy, 2);
    const nexus::orderbook::LevelInfo ask{.price = 1'010'000, .qty = 5};
    asks.assign(&ask, 1);
    bids.assign(&ask, 0);
    CHECK(std::string(row, lob::put_book_row(row, asks, bids)) ==
          "1010000,5,-9999999999,0,9999999999,0,-9999999999,0\n");
}

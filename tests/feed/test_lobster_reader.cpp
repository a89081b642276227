// LOBSTER readers: everything outside the format is an error naming the
// file, the line and the column; headers, CRLF and empty lines are accepted;
// the orderbook reader's incremental parse agrees with a full parse.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "lobster_util.hpp"

namespace lob = nexus::feed::lobster;
using nexus::test::verify_text;

namespace {

const std::string kBook1 = "10100,400,9900,500\n";

// The error for a one-row message file against a consistent one-level book.
std::string message_error(const std::string& row) {
    const auto r = verify_text(row + "\n", kBook1);
    return r.ok ? "ok" : r.error;
}
std::string book_error(const std::string& messages, const std::string& books) {
    const auto r = verify_text(messages, books);
    return r.ok ? "ok" : r.error;
}

}  // namespace

TEST_CASE("lobster reader: a header line, CRLF line ends and empty lines are accepted", "[lobster][reader]") {
    const auto r = verify_text("Time,Type,OrderID,Size,Price,Direction\r\n34200.1,1,5,400,10100,-1\r\n\r\n",
                               "AskPrice1,AskSize1,BidPrice1,BidSize1\r\n10100,400,9900,500\r\n");
    REQUIRE(r.ok);
    CHECK(r.stats.rows == 1);
    CHECK(r.stats.true_mismatches == 0);
    // A last line without its newline.
    CHECK(verify_text("34200.1,1,5,400,10100,-1", "10100,400,9900,500").ok);
    // A UTF-8 byte order mark (spreadsheet programs' "CSV UTF-8") before line 1,
    // whether that is data or a header.
    const auto bom = verify_text(
        "\xEF\xBB\xBF"
        "34200.1,1,5,400,10100,-1\n",
        "\xEF\xBB\xBF"
        "AskPrice1,AskSize1,BidPrice1,BidSize1\n10100,400,9900,500\n");
    CHECK(bom.ok);
    CHECK(bom.error.empty());
    CHECK(bom.stats.rows == 1);
    CHECK(bom.stats.true_mismatches == 0);
    // ... but only there.
    CHECK_FALSE(verify_text("34200.1,1,5,400,10100,-1\n\xEF\xBB\xBF"
                            "34200.2,1,6,1,10100,-1\n",
                            kBook1 + "10100,401,9900,500\n")
                    .ok);
    // A first line that looks numeric is data, not a header.
    CHECK(message_error("nan,1,5,400,10100,-1") ==
          "m.csv: line 1, column 1: not a time in seconds after midnight: 'nan'");
}

TEST_CASE("lobster reader: times are read as exact nanoseconds, at any precision", "[lobster][reader]") {
    const std::pair<const char*, std::int64_t> cases[] = {{"34200.004241176", 34'200'004'241'176},
                                                          {"34200.00426064", 34'200'004'260'640},
                                                          {"34200.1", 34'200'100'000'000},
                                                          {"34200", 34'200'000'000'000},
                                                          {"34200.", 34'200'000'000'000},
                                                          {".5", 500'000'000},
                                                          {"0.000000001", 1},
                                                          {"86400.000000000", 86'400'000'000'000},
                                                          {"7.123456789", 7'123'456'789},
                                                          {"57599.9999999999", 57'599'999'999'999},
                                                          {"034200.5", 34'200'500'000'000},
                                                          {"0000000000034200.5", 34'200'500'000'000},
                                                          {"000.25", 250'000'000}};
    for (const auto& [text, ns] : cases) {
        const std::string row = std::string(text) + ",5,0,100,10000,1\n";
        lob::MessageReader r("m.csv", row);
        lob::Message m;
        INFO(text);
        REQUIRE(r.next(m));
        CHECK(m.time_ns == ns);
    }
    for (const char* bad : {"86400.000000001", "99999.999999999", "123456.1"}) {
        const std::string row = std::string(bad) + ",5,0,100,10000,1\n";
        lob::MessageReader r("m.csv", row);
        lob::Message m;
        CHECK_FALSE(r.next(m));
        CHECK_THAT(r.error(), Catch::Contains("time out of range"));
    }
}

TEST_CASE("lobster reader: leading zeros do not count as digits, a field shown in an error is printable",
          "[lobster][reader]") {
    const std::string zeros =
        "34200.1,1,000000000000000000000000000005,0000000000000000000000100,000000000000000000010000,1\n";
    lob::MessageReader ok("m.csv", zeros);
    lob::Message m;
    REQUIRE(ok.next(m));
    CHECK(m.id == 5);
    CHECK(m.size == 100);
    CHECK(m.price == 10000);
    const std::string nineteen = "34200.1,1,5,1234567890123456789,10000,1\n";
    lob::MessageReader big("m.csv", nineteen);
    CHECK_FALSE(big.next(m));
    CHECK_THAT(big.error(), Catch::Contains("number out of range"));
    std::string binary = "34200.1,1,5,";
    for (int i = 0; i < 200; ++i) binary += static_cast<char>(i % 7 == 0 ? 0x01 : 0xC3);
    binary += ",10000,1\n";
    lob::MessageReader bin("m.csv", binary);
    CHECK_FALSE(bin.next(m));
    CHECK_THAT(bin.error(), Catch::Contains("\\x01\\xc3") && Catch::Contains("..."));
    for (char c : bin.error()) CHECK((static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f));
}

TEST_CASE("lobster reader: message rows outside the format name the file, line and column", "[lobster][reader][bad]") {
    CHECK(message_error("34200.1,1,5,400,10100,-1") == "ok");
    // Columns.
    CHECK(message_error("34200.1,1,5,400,10100") == "m.csv: line 1: expected 6 columns, found 5");
    CHECK(message_error("34200.1,1,5,400,10100,-1,7") == "m.csv: line 1: expected 6 columns, found 7");
    CHECK(message_error("") == "b.csv: line 1: more rows than the 0 of m.csv");
    // Not numbers.
    CHECK(message_error("inf,1,5,400,10100,-1") ==
          "m.csv: line 1, column 1: not a time in seconds after midnight: 'inf'");
    CHECK(message_error("-3.5,1,5,400,10100,-1") ==
          "m.csv: line 1, column 1: not a time in seconds after midnight: '-3.5'");
    CHECK(message_error("3.4e4,1,5,400,10100,-1") ==
          "m.csv: line 1, column 1: not a time in seconds after midnight: '3.4e4'");
    CHECK(message_error("34200.1,x,5,400,10100,-1") == "m.csv: line 1, column 2: not a number: 'x'");
    CHECK(message_error("34200.1,1,5a,400,10100,-1") == "m.csv: line 1, column 3: not a number: '5a'");
    CHECK(message_error("34200.1,1,5,,10100,-1") == "m.csv: line 1, column 4: not a number: ''");
    CHECK(message_error("34200.1,1,5,400,101.5,-1") == "m.csv: line 1, column 5: not a number: '101.5'");
    CHECK(message_error("34200.1,1,5,400,10100,+1") == "m.csv: line 1, column 6: not a number: '+1'");
    CHECK(message_error("34200.1,1,5,400,1234567890123456789,-1") ==
          "m.csv: line 1, column 5: number out of range: '1234567890123456789'");
    // Values LOBSTER never writes.
    CHECK(message_error("90000.5,1,5,400,10100,-1") ==
          "m.csv: line 1, column 1: time out of range (0 to 86400 seconds after midnight): '90000.5'");
    CHECK(message_error("34200.1,9,5,400,10100,-1") ==
          "m.csv: line 1, column 2: event type 9 is not one of LOBSTER's 1 to 7");
    CHECK(message_error("34200.1,0,5,400,10100,-1") ==
          "m.csv: line 1, column 2: event type 0 is not one of LOBSTER's 1 to 7");
    CHECK(message_error("34200.1,1,0,400,10100,-1") == "m.csv: line 1, column 3: order id 0 is not positive");
    CHECK(message_error("34200.1,1,5,0,10100,-1") == "m.csv: line 1, column 4: size 0 is not positive");
    CHECK(message_error("34200.1,3,5,-400,10100,-1") == "m.csv: line 1, column 4: size -400 is not positive");
    CHECK(message_error("34200.1,1,5,99999999999,10100,-1") ==
          "m.csv: line 1, column 4: size 99999999999 out of range (at most 4294967295)");
    CHECK(message_error("34200.1,1,5,400,0,-1") ==
          "m.csv: line 1, column 5: price 0 out of range (1 to 4294967295, dollars x 10000)");
    CHECK(message_error("34200.1,4,5,400,-10100,-1") ==
          "m.csv: line 1, column 5: price -10100 out of range (1 to 4294967295, dollars x 10000)");
    CHECK(message_error("34200.1,5,0,400,99999999999,1") ==
          "m.csv: line 1, column 5: price 99999999999 out of range (1 to 4294967295, dollars x 10000)");
    CHECK(message_error("34200.1,1,5,400,10100,0") ==
          "m.csv: line 1, column 6: direction 0 is neither 1 (buy order) nor -1 (sell order)");
    CHECK(message_error("34200.1,1,5,400,10100,2") ==
          "m.csv: line 1, column 6: direction 2 is neither 1 (buy order) nor -1 (sell order)");
    CHECK(message_error("34200.1,7,0,0,2,-1") ==
          "m.csv: line 1, column 5: a trading halt indicator (type 7) has price -1, 0 or 1, not 2");
    CHECK(message_error("34200.1,7,0,0,-1,-1") == "ok");
    CHECK(message_error("34200.1,6,-2,100,10000,-1") == "ok");  // a closing cross's pseudo id
    CHECK(message_error("34200.1,6,-1,0,0,-1") == "ok");        // a cross that did not trade
    CHECK(message_error("34200.1,6,-1,-3,10000,-1") == "m.csv: line 1, column 4: size -3 is not positive");
    CHECK(message_error("34200.1,6,-1,0,-5,-1") ==
          "m.csv: line 1, column 5: price -5 out of range (1 to 4294967295, dollars x 10000)");
    CHECK(message_error("34200.1,5,0,0,10000,1") == "m.csv: line 1, column 4: size 0 is not positive");
    // Time must not go backwards.
    CHECK(book_error("34200.2,1,5,400,10100,-1\n34200.1,1,6,1,10100,-1\n", kBook1 + "10100,401,9900,500\n") ==
          "m.csv: line 2, column 1: time 34200.100000000 is earlier than the row before (34200.200000000)");
}

TEST_CASE("lobster reader: orderbook rows outside the format name the file, line and column",
          "[lobster][reader][bad]") {
    const std::string m1 = "34200.1,1,5,400,10100,-1\n";
    const std::string m2 = m1 + "34200.2,1,6,100,10100,-1\n";
    CHECK(book_error(m1, "10100,400,9900\n") ==
          "b.csv: line 1: 3 columns: an orderbook row has 4 per level (ask price, ask size, bid price, bid size)");
    CHECK(book_error(m2, kBook1 + "10100,500,9900,500,1,1\n") == "b.csv: line 2: expected 4 columns, found 6");
    CHECK(book_error(m1, "10100,400,99x0,500\n") == "b.csv: line 1, column 3: not a number: '99x0'");
    CHECK(book_error(m1, "10100,400,9900,0\n") ==
          "b.csv: line 1, column 4: bid size 0 at price 9900: an occupied level has a positive size");
    CHECK(book_error(m1, "10100,400,-9999999999,5\n") ==
          "b.csv: line 1, column 4: bid size 5 at the empty-level price -9999999999 (must be 0)");
    CHECK(book_error(m1, "10100,400,-5,5\n") ==
          "b.csv: line 1, column 3: bid price -5 out of range (1 to 4294967295, or -9999999999 for an empty level)");
    CHECK(book_error(m1, "10100,400,9900,500,10000,5,9800,5\n") ==
          "b.csv: line 1, column 5: ask level 2 (price 10000) is not above level 1 (10100)");
    CHECK(book_error(m1, "10100,400,9900,500,10200,5,9950,5\n") ==
          "b.csv: line 1, column 7: bid level 2 (price 9950) is not below level 1 (9900)");
    CHECK(book_error(m1, "10100,400,-9999999999,0,10200,5,9800,5\n") ==
          "b.csv: line 1, column 7: bid level 2 is occupied after an empty level");
    // The files' lengths.
    CHECK(book_error(m2, kBook1) == "b.csv: ends after 1 rows, fewer than m.csv (whose row 2 is line 2)");
    CHECK(book_error(m1, kBook1 + kBook1) == "b.csv: line 2: more rows than the 1 of m.csv");
    // The message file's errors come first when both files are bad.
    CHECK(book_error("34200.1,1,5,400\n", "x,y\n") == "m.csv: line 1: expected 6 columns, found 4");
}

TEST_CASE("lobster reader: a missing file is named, the message file first", "[lobster][reader][bad]") {
    nexus::test::TempDir tmp("lobster-reader");
    const std::string books = tmp.write("b.csv", kBook1);
    const std::string messages = tmp.write("m.csv", "34200.1,1,5,400,10100,-1\n");
    auto r = lob::verify_files(tmp.path("none_message_1.csv"), books);
    CHECK_FALSE(r.ok);
    CHECK(r.io_error);
    CHECK_THAT(r.error, Catch::StartsWith("cannot open " + tmp.path("none_message_1.csv") + ": "));
    r = lob::verify_files(tmp.path("none_message_1.csv"), tmp.path("none_orderbook_1.csv"));
    CHECK_THAT(r.error, Catch::StartsWith("cannot open " + tmp.path("none_message_1.csv") + ": "));
    r = lob::verify_files(messages, tmp.path("none_orderbook_1.csv"));
    CHECK(r.io_error);
    CHECK_THAT(r.error, Catch::StartsWith("cannot open " + tmp.path("none_orderbook_1.csv") + ": "));
    r = lob::verify_files(messages, books);
    CHECK(r.ok);
    CHECK(r.stats.rows == 1);
    // A directory where a file belongs is named as such, and before the other file.
    std::filesystem::create_directories(tmp.path("dir_message_1.csv"));
    r = lob::verify_files(tmp.path("dir_message_1.csv"), tmp.path("none_orderbook_1.csv"));
    CHECK(r.io_error);
    CHECK(r.error == "cannot open " + tmp.path("dir_message_1.csv") + ": Is a directory");
    r = lob::verify_files(messages, tmp.path("dir_message_1.csv"));
    CHECK(r.error == "cannot open " + tmp.path("dir_message_1.csv") + ": Is a directory");
    // A line longer than the reader's buffer is an error, not a crash.
    const std::string huge = tmp.write("huge.csv", std::string(nexus::feed::LineReader::kBufferBytes + 10, '1') + "\n");
    r = lob::verify_files(messages, huge);
    CHECK_FALSE(r.ok);
    CHECK(r.error == huge + ": line 1: longer than 4 MiB (not a LOBSTER file?)");
}

// The orderbook reader parses only the fields that differ from the row
// before; random rows with random edits (sizes, levels inserted and removed,
// identical rows, damaged bytes) must read exactly as each line alone does.
TEST_CASE("lobster reader: the incremental orderbook parse agrees with a full parse of every line",
          "[lobster][reader]") {
    std::mt19937_64 rng(42);
    for (std::size_t levels : {1, 2, 5, 10}) {
        std::vector<lob::Level> asks, bids;
        for (std::size_t i = 0; i < levels; ++i) {
            asks.push_back({10000 + 10 * static_cast<lob::Price>(i), 100});
            bids.push_back({9990 - 10 * static_cast<lob::Price>(i), 100});
        }
        std::vector<std::string> rows;
        for (int k = 0; k < 3000; ++k) {
            auto& side = rng() % 2 ? asks : bids;
            const bool ask = &side == &asks;
            switch (rng() % 5) {
                case 0:  // a size changes, sometimes by a digit's worth
                    if (!side.empty())
                        side[rng() % side.size()].size = 1 + static_cast<lob::Qty>(rng() % (rng() % 2 ? 99 : 99999));
                    break;
                case 1: {  // a new best level
                    const lob::Price p = side.empty() ? 10000 : side.front().price + (ask ? -1 : 1);
                    side.insert(side.begin(), {p, 1 + static_cast<lob::Qty>(rng() % 500)});
                    if (side.size() > levels) side.pop_back();
                    break;
                }
                case 2:  // a level leaves
                    if (!side.empty()) side.erase(side.begin() + static_cast<std::ptrdiff_t>(rng() % side.size()));
                    break;
                default: break;  // the same row again
            }
            std::string line = nexus::test::book_line(levels, asks, bids);
            if (rng() % 50 == 0) {  // damage a byte
                const char junk[] = {'x', ',', '-', '0', '9', ' '};
                line[rng() % line.size()] = junk[rng() % sizeof junk];
            }
            rows.push_back(line);
        }
        // Read the rows one after the other; after an error, start a new reader
        // at the next row (so the damaged rows are compared too).
        std::size_t i = 0;
        while (i < rows.size()) {
            std::string text;
            for (std::size_t j = i; j < rows.size(); ++j) text += rows[j] + "\n";
            lob::OrderbookReader all("b.csv", text, levels);
            lob::BookRow got;
            while (i < rows.size()) {
                const std::string alone = rows[i] + "\n";
                lob::OrderbookReader one("b.csv", alone, levels);
                lob::BookRow want;
                const bool want_ok = one.next(want);
                const bool got_ok = all.next(got);
                INFO("levels " << levels << ", row " << i << ": " << rows[i]);
                REQUIRE(got_ok == want_ok);
                if (!got_ok) {
                    // The same message, but for the line number.
                    const auto tail = [](const std::string& e) { return e.substr(e.find(':', e.find("line"))); };
                    CHECK(tail(all.error()) == tail(one.error()));
                    ++i;
                    break;
                }
                CHECK(got.asks == want.asks);
                CHECK(got.bids == want.bids);
                ++i;
            }
        }
    }
}

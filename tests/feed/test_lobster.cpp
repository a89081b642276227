// LOBSTER: the real AAPL sample replays with zero true mismatches; a tampered
// copy is caught at the right row; format errors name the line and column.
#include <catch2/catch.hpp>

#include <nexus/feed/lobster.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lob = nexus::feed::lobster;
namespace fs = std::filesystem;

namespace {
const std::string kDir = std::string(NEXUS_SHARED_DATA) + "/lobster/AAPL_2012-06-21_34200000_57600000_";

bool have_shared(const std::string& path) {
    if (std::ifstream(path)) return true;
    if (std::getenv("CI")) FAIL("real data missing under CI: " << path);
    WARN("skipped: real data not found at " << path << " (tests use ../shared/data when present)");
    return false;
}
std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
struct Tmp {
    fs::path dir = fs::temp_directory_path() / ("nexus-lob-" + std::to_string(::getpid()));
    Tmp() { fs::create_directories(dir); }
    ~Tmp() { fs::remove_all(dir); }
    std::string write(const char* name, const std::string& text) const {
        const std::string p = (dir / name).string();
        std::ofstream(p) << text;
        return p;
    }
};
}  // namespace

TEST_CASE("lobster: the real AAPL 10-level sample replays with zero true mismatches", "[lobster][real]") {
    if (!have_shared(kDir + "message_10.csv")) return;
    const auto r = lob::verify(kDir + "message_10.csv", kDir + "orderbook_10.csv", 10);
    REQUIRE(r.ok);
    CHECK(r.messages == 999);
    CHECK(r.checked == 999);
    CHECK(r.true_mismatches == 0);
    CHECK(r.reconciliations > 0);  // the book at 09:30 already held orders placed earlier
    CHECK(r.unknown_ids > 0);
}

TEST_CASE("lobster: a tampered message is a true mismatch at its row", "[lobster][real]") {
    if (!have_shared(kDir + "message_10.csv")) return;
    Tmp tmp;
    std::string msgs = slurp(kDir + "message_10.csv");
    // Row 2 adds 18 shares at 585.32 on the bid; claim 19 instead.
    const std::string row2 = "34200.00426064,1,16113584,18,5853200,1";
    const auto at = msgs.find(row2);
    REQUIRE(at != std::string::npos);
    msgs.replace(at, row2.size(), "34200.00426064,1,16113584,19,5853200,1");
    const auto r = lob::verify(tmp.write("m.csv", msgs), kDir + "orderbook_10.csv", 10);
    REQUIRE(r.ok);
    CHECK(r.true_mismatches >= 1);
    REQUIRE_FALSE(r.first_mismatches.empty());
    CHECK(r.first_mismatches[0].row == 2);
    CHECK(r.first_mismatches[0].what == "bid 5853200: file 18, book 19");
}

TEST_CASE("lobster: format errors name the line and column, and a header row is skipped", "[lobster][bad]") {
    Tmp tmp;
    const std::string book1 = "5859400,200,5853300,18\n";
    SECTION("header accepted") {
        const auto r = lob::verify(tmp.write("m.csv", "Time,Type,OrderID,Size,Price,Direction\n34200.1,1,5,18,5853300,1\n"),
                                   tmp.write("b.csv", "5859400,200,5853300,18\n"), 1);
        REQUIRE(r.ok);
        CHECK(r.messages == 1);
        CHECK(r.true_mismatches == 0);
        CHECK(r.reconciliations == 1);  // the ask was never added: out of view
    }
    SECTION("wrong column count") {
        const auto r = lob::verify(tmp.write("m.csv", "34200.1,1,5,18,5853300,1\n34200.2,1,6,18,5853300\n"),
                                   tmp.write("b.csv", book1 + book1), 1);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::EndsWith("m.csv: line 2: expected 6 columns, found 5"));
    }
    SECTION("not a number") {
        const auto r = lob::verify(tmp.write("m.csv", "34200.1,1,5,18,58x3300,1\n"), tmp.write("b.csv", book1), 1);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::EndsWith("m.csv: line 1, column 5: not a number: '58x3300'"));
    }
    SECTION("orderbook row malformed") {
        const auto r = lob::verify(tmp.write("m.csv", "34200.1,1,5,18,5853300,1\n"), tmp.write("b.csv", "5859400,200,5853300\n"), 1);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::EndsWith("b.csv: line 1: expected 4 columns, found 3"));
    }
    SECTION("files of different lengths") {
        const auto r = lob::verify(tmp.write("m.csv", "34200.1,1,5,18,5853300,1\n34200.2,3,5,18,5853300,1\n"),
                                   tmp.write("b.csv", book1), 1);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::Contains("fewer rows"));
    }
}

TEST_CASE("lobster: events on unseen orders draw on anonymous liquidity without a mismatch", "[lobster]") {
    Tmp tmp;
    // Row 1: the file shows 100 at 1000 on the bid that no message added.
    // Row 2: a delete of an unknown order of 40 at 1000 leaves 60.
    const auto r = lob::verify(tmp.write("m.csv", "1.0,1,7,5,990,1\n2.0,3,999,40,1000,1\n"),
                               tmp.write("b.csv", "9999999999,0,1000,100\n9999999999,0,1000,60\n"), 1);
    REQUIRE(r.ok);
    CHECK(r.true_mismatches == 0);
    CHECK(r.unknown_ids == 1);
}

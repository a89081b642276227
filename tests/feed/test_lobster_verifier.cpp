// The unseen-liquidity model (docs/lobster.md), case by case: each case of
// the page as a small file pair that must verify, and its corrupted twin that
// must be a true mismatch at the right row with the right reason. Then the
// real AAPL sample.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "lobster_util.hpp"

namespace lob = nexus::feed::lobster;
using nexus::test::FilePair;

namespace {

const std::string kAapl = std::string(NEXUS_SHARED_DATA) + "/lobster/AAPL_2012-06-21_34200000_57600000_";

bool have_shared(const std::string& path) {
    if (std::ifstream(path)) return true;
    if (std::getenv("CI")) FAIL("real data missing under CI: " << path);
    WARN("skipped: real data not found at " << path << " (tests use ../shared/data when present)");
    return false;
}

// The first mismatch's row and reasons, for CHECKs.
std::string first(const lob::VerifyResult& r) {
    return r.stats.first_mismatches.empty()
               ? "none"
               : std::to_string(r.stats.first_mismatches[0].row) + ": " + r.stats.first_mismatches[0].what;
}

// The case at depth 1: a known order shrinks while its price is out
// of view, comes back into view smaller, and is deleted with its true size.
FilePair shrunk_out_of_view(const std::string& last_delete) {
    FilePair f{1};
    f.row("34200.1,1,1,400,10100,-1", {{10100, 400}}, {{9900, 500}});  // bid 9900: orders from before the file
    f.row("34200.2,1,2,100,10000,-1", {{10000, 100}}, {{9900, 500}});  // 10100 leaves the view
    // (out of view: 200 of order 1 cancelled; a 1-level file does not carry it)
    f.row("34200.3,3,2,100,10000,-1", {{10100, 200}}, {{9900, 500}});  // 10100 comes back, 200 left
    f.row(last_delete, {{10200, 300}}, {{9900, 500}});                 // 10200 enters from beyond
    return f;
}

}  // namespace

TEST_CASE("lobster model: a known order that shrank out of view is deleted with its true size", "[lobster][model]") {
    const auto ok = shrunk_out_of_view("34200.4,3,1,200,10100,-1").verify();
    REQUIRE(ok.ok);
    CHECK(ok.stats.true_mismatches == 0);
    CHECK(ok.stats.shrunk_out_of_view == 1);
    CHECK(ok.stats.revealed_levels == 2);
    CHECK(ok.stats.unknown_orders == 0);

    // The stale size would take the level below zero: a true mismatch, with that reason.
    const auto bad = shrunk_out_of_view("34200.4,3,1,400,10100,-1").verify();
    REQUIRE(bad.ok);
    CHECK(bad.stats.true_mismatches == 1);
    CHECK(first(bad) == "4: delete of 400 at ask 10100, where the row before shows 200");
    // ... and a delete larger than the order ever was is named as such.
    const auto worse = shrunk_out_of_view("34200.4,3,1,500,10100,-1").verify();
    CHECK(worse.stats.true_mismatches == 1);
    CHECK_THAT(first(worse), Catch::StartsWith("4: delete of 500 from order 1, which has at most 400 left"));
}

TEST_CASE("lobster model: orders added before the file draw on the unseen liquidity, never below zero",
          "[lobster][model]") {
    FilePair f{2};
    f.row("36000.0,1,7,5,990,1", {}, {{1000, 100}, {990, 5}});  // 100 at bid 1000: no message added it
    f.row("36000.1,3,999,40,1000,1", {}, {{1000, 60}, {990, 5}});
    f.row("36000.2,4,998,60,1000,1", {}, {{990, 5}});  // the level empties; the side shows everything
    auto r = f.verify();
    REQUIRE(r.ok);
    CHECK(r.stats.true_mismatches == 0);
    CHECK(r.stats.unknown_orders == 2);

    // An execution larger than the level shows.
    FilePair g{2};
    g.row("36000.0,1,7,5,990,1", {}, {{1000, 100}, {990, 5}});
    g.row("36000.1,4,999,150,1000,1", {}, {{990, 5}});
    r = g.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: execution of 150 at bid 1000, where the row before shows 100");

    // A cancel at a price inside the shown levels where none is shown.
    FilePair h{2};
    h.row("36000.0,1,7,5,990,1", {}, {{1000, 100}, {990, 5}});
    h.row("36000.1,2,999,10,995,1", {}, {{1000, 100}, {990, 5}});
    r = h.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK_THAT(first(r),
               Catch::StartsWith("2: partial cancel of 10 at bid 995, where the row before shows no liquidity"));
}

TEST_CASE("lobster model: the unseen liquidity at a price is the level minus the file's exact orders",
          "[lobster][model]") {
    // Bid 1000 shows 300: 200 of them the file's own order 1, 100 unseen.
    FilePair f{1};
    f.row("36000.0,1,1,200,1000,1", {}, {{1000, 300}});
    f.row("36000.1,3,50,100,1000,1", {}, {{1000, 200}});  // the unseen 100 leaves: fine
    auto r = f.verify();
    CHECK(r.stats.true_mismatches == 0);

    // An unknown order of 200 cannot leave: only 100 are not order 1's.
    FilePair g{1};
    g.row("36000.0,1,1,200,1000,1", {}, {{1000, 300}});
    g.row("36000.1,3,50,200,1000,1", {}, {{1000, 100}});
    r = g.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) ==
          "2: bid 1000: the file shows 100, less than the 200 of the orders this file added there (unseen liquidity "
          "-100)");

    // On the first row already: an add larger than its level.
    FilePair h{1};
    h.row("36000.0,1,1,200,1000,1", {}, {{1000, 150}});
    r = h.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK_THAT(first(r), Catch::StartsWith("1: bid 1000: the file shows 150, less than the 200"));
}

TEST_CASE("lobster model: liquidity leaves the view and re-enters it only from beyond the last level",
          "[lobster][model]") {
    // Two levels; an add at a better price pushes 1020 out, a delete brings it back.
    FilePair f{2};
    f.row("36000.0,1,1,100,1010,-1", {{1010, 100}, {1020, 50}}, {});
    f.row("36000.1,1,2,30,1005,-1", {{1005, 30}, {1010, 100}}, {});
    f.row("36000.2,3,2,30,1005,-1", {{1010, 100}, {1020, 70}}, {});  // 1020 grew while out of view: allowed
    f.row("36000.3,3,1,100,1010,-1", {{1020, 70}}, {});              // the side now shows all it has
    auto r = f.verify();
    CHECK(r.stats.true_mismatches == 0);
    CHECK(r.stats.revealed_levels == 1);

    // A level cannot appear inside the previous row's range.
    FilePair g{2};
    g.row("36000.0,1,1,100,1010,-1", {{1010, 100}, {1020, 50}}, {});
    g.row("36000.1,3,1,100,1010,-1", {{1015, 10}, {1020, 50}}, {});
    r = g.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: ask 1015: file 10, expected no level");

    // Nor change size there without a message.
    FilePair h{2};
    h.row("36000.0,1,1,100,1010,-1", {{1010, 100}, {1020, 50}}, {});
    h.row("36000.1,2,1,10,1010,-1", {{1010, 90}, {1020, 40}}, {});
    r = h.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: ask 1020: file 40, expected 50");

    // A side with fewer levels than the file's shows all it has: nothing enters.
    FilePair k{3};
    k.row("36000.0,1,1,100,1010,-1", {{1010, 100}, {1020, 50}}, {});
    k.row("36000.1,3,1,100,1010,-1", {{1020, 50}, {1030, 5}}, {});
    r = k.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: ask 1030: file 5, expected no level");
}

TEST_CASE("lobster model: halts, hidden executions and crosses leave the book as it was", "[lobster][model]") {
    FilePair f{1};
    f.row("36000.0,1,1,100,1010,-1", {{1010, 100}}, {{990, 10}});
    f.row("36000.1,7,0,0,-1,-1", {{1010, 100}}, {{990, 10}});        // halt
    f.row("36000.2,7,0,0,0,-1", {{1010, 100}}, {{990, 10}});         // quoting
    f.row("36000.3,5,0,300,1000,1", {{1010, 100}}, {{990, 10}});     // hidden execution
    f.row("36000.4,6,-1,5000,1000,-1", {{1010, 100}}, {{990, 10}});  // opening cross (pseudo id -1)
    f.row("36000.5,7,0,0,1,-1", {{1010, 100}}, {{990, 10}});         // trading
    auto r = f.verify();
    CHECK(r.ok);
    CHECK(r.stats.true_mismatches == 0);

    FilePair g{1};
    g.row("36000.0,1,1,100,1010,-1", {{1010, 100}}, {{990, 10}});
    g.row("36000.1,5,0,300,1010,-1", {{1010, 90}}, {{990, 10}});
    r = g.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: ask 1010: file 90, expected 100");
}

TEST_CASE("lobster model: what a row says about a known order must fit it", "[lobster][model]") {
    auto base = [] {
        FilePair f{2};
        f.row("36000.0,1,1,100,1010,-1", {{1010, 100}}, {});
        f.row("36000.1,1,2,50,1010,-1", {{1010, 150}}, {});
        return f;
    };
    {
        auto f = base();
        f.row("36000.2,3,1,60,1010,-1", {{1010, 90}}, {});
        CHECK(first(f.verify()) == "3: delete of 60 from order 1, which has 100 left");
    }
    {
        auto f = base();
        f.row("36000.2,2,2,70,1010,-1", {{1010, 80}}, {});
        CHECK(first(f.verify()) == "3: partial cancel of 70 from order 2, which has 50 left");
    }
    {
        auto f = base();
        f.row("36000.2,4,1,10,1020,-1", {{1010, 150}, {1020, 0}}, {});
        // (the row's own values are checked first: a size 0 level is a format error)
        const auto r = f.verify();
        CHECK_FALSE(r.ok);
        CHECK(r.error == "b.csv: line 3, column 6: ask size 0 at price 1020: an occupied level has a positive size");
    }
    {
        auto f = base();
        f.row("36000.2,4,1,10,1020,-1", {{1010, 150}}, {});
        CHECK_THAT(first(f.verify()), Catch::StartsWith("3: order 1 rests at ask 1010, this row names ask 1020"));
    }
    {
        auto f = base();
        f.row("36000.2,1,1,10,1010,-1", {{1010, 160}}, {});
        CHECK(first(f.verify()) == "3: order 1 is added again while it rests at ask 1010");
    }
    {
        auto f = base();
        f.row("36000.2,4,1,100,1010,-1", {{1010, 50}}, {});
        f.row("36000.3,3,2,50,1010,-1", {}, {});
        const auto r = f.verify();
        CHECK(r.stats.true_mismatches == 0);
        CHECK(r.stats.unknown_orders == 0);
    }
}

TEST_CASE("lobster model: one bad row is one report, the rows after it check against the file", "[lobster][model]") {
    FilePair f{1};
    f.row("36000.0,1,1,100,1010,-1", {{1010, 100}}, {});
    f.row("36000.1,1,2,50,1010,-1", {{1010, 160}}, {});  // the file says 160: 10 too many
    f.row("36000.2,3,2,50,1010,-1", {{1010, 110}}, {});
    f.row("36000.3,3,1,100,1010,-1", {{1010, 10}}, {});
    const auto r = f.verify();
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: ask 1010: file 160, expected 150");
}

TEST_CASE("lobster model: memory stays bounded when known orders pile up out of view", "[lobster][model]") {
    // One level; every row adds a better ask, pushing the one before out of
    // view for good: each leaves a known order (a bound) behind.
    lob::Verifier v(1);
    lob::BookRow row;
    const std::int64_t rows = 600'000;
    for (std::int64_t k = 0; k < rows; ++k) {
        const lob::Message m{
            36'000 * lob::kNanosPerSecond + k, lob::EventType::Add, k + 1, 100, 2'000'000 - k, lob::Side::Sell};
        row.asks = {{m.price, 100}};
        v.check(m, row);
    }
    CHECK(v.stats().true_mismatches == 0);
    CHECK(v.stats().forgotten_orders > 0);
    CHECK(v.stats().peak_known_orders <= 2 * (std::size_t{1} << 17));
    CHECK(v.known_orders() <= 2 * (std::size_t{1} << 17));
    // The bounds kept are the nearest to the touch (the latest orders): a
    // recent one is still known (150 is more than it had), the first is not.
    lob::BookRow after;
    after.asks = {{2'000'000 - rows + 1, 100}};
    const auto t = 37'000 * lob::kNanosPerSecond;
    v.check({t, lob::EventType::Delete, rows - 1, 150, 2'000'000 - rows + 2, lob::Side::Sell}, after);
    CHECK(v.stats().true_mismatches == 1);
    REQUIRE(v.stats().first_mismatches.size() == 1);
    CHECK(v.stats().first_mismatches[0].what ==
          "delete of 150 from order " + std::to_string(rows - 1) + ", which has at most 100 left");
    const auto unknown = v.stats().unknown_orders;
    after.asks = {{2'000'000 - rows + 1, 100}};  // (check() took the row before)
    v.check({t, lob::EventType::Delete, 1, 150, 2'000'000, lob::Side::Sell}, after);
    CHECK(v.stats().true_mismatches == 1);
    CHECK(v.stats().unknown_orders == unknown + 1);
}

TEST_CASE("lobster: the real AAPL 10-level sample verifies with zero true mismatches", "[lobster][real]") {
    if (!have_shared(kAapl + "message_10.csv")) return;
    const auto r = lob::verify_files(kAapl + "message_10.csv", kAapl + "orderbook_10.csv");
    REQUIRE(r.ok);
    CHECK(r.levels == 10);
    CHECK(r.stats.rows == 999);
    CHECK(r.stats.true_mismatches == 0);
    CHECK(r.stats.out_of_view == 0);
    CHECK(r.stats.revealed_levels > 0);  // the book at 09:30 already held orders placed earlier
    CHECK(r.stats.unknown_orders > 0);
}

TEST_CASE("lobster: a tampered AAPL row is a true mismatch at that row", "[lobster][real]") {
    if (!have_shared(kAapl + "message_10.csv")) return;
    const std::string books = nexus::test::slurp(kAapl + "orderbook_10.csv");
    std::string msgs = nexus::test::slurp(kAapl + "message_10.csv");
    // Row 2 adds 18 shares at 585.32 on the bid; claim 19 instead.
    const std::string row2 = "34200.00426064,1,16113584,18,5853200,1";
    const auto at = msgs.find(row2);
    REQUIRE(at != std::string::npos);
    msgs.replace(at, row2.size(), "34200.00426064,1,16113584,19,5853200,1");
    const auto r = nexus::test::verify_text(msgs, books);
    REQUIRE(r.ok);
    CHECK(r.stats.true_mismatches == 1);
    CHECK(first(r) == "2: bid 5853200: file 18, expected 19");
}

// What a shallower LOBSTER file of the same day would hold, derived from the
// real 10-level sample: the rows that touch the N best levels of the row
// before (docs/lobster.md §1), cut to N levels; and files starting at a
// later row, whose orders from before are unknown to them.
TEST_CASE("lobster: the real AAPL sample seen at fewer levels and from later rows verifies", "[lobster][real]") {
    if (!have_shared(kAapl + "message_10.csv")) return;
    const auto msgs = nexus::test::lines(nexus::test::slurp(kAapl + "message_10.csv"));
    const auto books = nexus::test::lines(nexus::test::slurp(kAapl + "orderbook_10.csv"));
    REQUIRE(msgs.size() == 999);
    REQUIRE(books.size() == 999);
    auto field = [](const std::string& row, std::size_t i) {
        std::size_t p = 0;
        for (std::size_t j = 0; j < i; ++j) p = row.find(',', p) + 1;
        return std::stoll(row.substr(p, row.find(',', p) - p));
    };
    for (const std::size_t n : {1, 2, 5}) {
        for (const std::size_t start : {0, 137, 500}) {
            std::string m, b;
            std::size_t kept = 0;
            for (std::size_t k = start; k < msgs.size(); ++k) {
                bool touches = true;
                if (k > start && field(msgs[k], 1) <= 4) {
                    const bool ask = field(msgs[k], 5) == -1;
                    const long long last = field(books[k - 1], 4 * (n - 1) + (ask ? 0 : 2));
                    const long long price = field(msgs[k], 4);
                    touches = std::abs(last) == lob::kEmptyAskPrice || (ask ? price <= last : price >= last);
                }
                if (!touches) continue;
                std::size_t cut = 0;
                for (std::size_t c = 0; c < 4 * n; ++c) cut = books[k].find(',', cut) + 1;
                m += msgs[k] + "\n";
                b += books[k].substr(0, cut - 1) + "\n";
                ++kept;
            }
            const auto r = nexus::test::verify_text(m, b);
            INFO(n << " levels from row " << start + 1 << ": " << first(r));
            REQUIRE(r.ok);
            CHECK(r.levels == n);
            CHECK(r.stats.rows == kept);
            CHECK(r.stats.true_mismatches == 0);
            CHECK(r.stats.out_of_view == 0);
            if (n < 10) CHECK(kept < msgs.size() - start);  // rows deeper than N were left out
        }
    }
}

// The verifier against files it did not help to write: a plain full-depth
// book (ordered maps of levels, a map of orders) driven by random order flow
// writes level-N LOBSTER files by the rule of docs/lobster.md §1 alone, with
// what real days hold and the ITCH exporter does not make: executions away
// from the best and of orders in several parts, crossed and locked books,
// deletes and cancels deep in the book, replaces, hidden executions with id
// 0 or an id, crosses with LOBSTER's pseudo ids (of 0 shares too), halts, bursts
// at one timestamp, times with their trailing zeros dropped or in milliseconds,
// and a long history before the file starts. Every such file must verify with
// zero true mismatches; one corrupted row must be caught at that row.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "lobster_util.hpp"

namespace lob = nexus::feed::lobster;
using lob::Price;
using lob::Qty;
using lob::Side;

namespace {

enum class TimeShape { Nanos, Trimmed, Millis };

struct DayShape {
    std::size_t levels = 5;
    std::uint64_t seed = 1;
    int events = 20'000;  // in the file's window
    int history = 8'000;  // before it: never written
    double move = 0.1;    // chance per event that the mid price moves
    double spread = 1.0;  // mean distance of a new order from the mid, in ticks
    double near = 0.9;    // chance that a cancel or delete picks an order near the touch
    TimeShape times = TimeShape::Trimmed;
};

class PlainDay {
public:
    explicit PlainDay(const DayShape& d) : d_(d), rng_(d.seed) {
        std::int64_t t = 4 * 3600 * lob::kNanosPerSecond;
        for (int k = 0; k < d.history + d.events; ++k) {
            if (k == d.history) t = std::max(t, std::int64_t{34'200} * lob::kNanosPerSecond);
            live_ = k >= d.history;
            const std::int64_t steps[] = {0, 0, 1, 17, 1'000, 50'000, 2'000'000};  // bursts at one time too
            t += steps[rng_() % 7];
            step(t);
        }
    }
    std::vector<std::string> messages, books;
    std::vector<lob::EventType> types;

private:
    struct Order {
        Side side;
        Price price;
        Qty size;
    };
    static int idx(Side s) { return static_cast<int>(s); }
    // Draws by hand: the standard distributions' results differ between libraries.
    double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
    std::int64_t pick(std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    // A size in [lo, hi]: the same draw as pick(), in the books' unsigned Qty.
    Qty pick_size(Qty lo, Qty hi) { return lo + rng_() % (hi - lo + 1); }
    Side any_side() { return rng_() % 2 ? Side::Buy : Side::Sell; }

    // The prices of a side from the best outwards, at most n.
    std::vector<Price> top(Side s, std::size_t n) const {
        std::vector<Price> out;
        const auto& q = qty_[idx(s)];
        if (s == Side::Buy)
            for (auto it = q.rbegin(); it != q.rend() && out.size() < n; ++it) out.push_back(it->first);
        else
            for (auto it = q.begin(); it != q.end() && out.size() < n; ++it) out.push_back(it->first);
        return out;
    }
    // docs/lobster.md §1: at least as good as the N-th level, or the side shows fewer.
    bool touches(Side s, Price p) const {
        const auto t = top(s, d_.levels);
        return t.size() < d_.levels || !lob::better(s, t.back(), p);
    }

    void add(std::int64_t id, Side s, Price p, Qty size) {
        orders_[id] = {s, p, size};
        qty_[idx(s)][p] += size;
        at_[idx(s)][p].push_back(id);
        pos_[id] = ids_.size();
        ids_.push_back(id);
    }
    // Takes `size` from an order; at 0 it leaves the book.
    void take(std::int64_t id, Qty size) {
        Order& o = orders_.at(id);
        auto& q = qty_[idx(o.side)];
        o.size -= size;
        if ((q[o.price] -= size) == 0) q.erase(o.price);
        if (o.size > 0) return;
        auto& ids = at_[idx(o.side)][o.price];
        ids.erase(std::find(ids.begin(), ids.end(), id));
        if (ids.empty()) at_[idx(o.side)].erase(o.price);
        const std::size_t i = pos_.at(id);
        pos_[ids_.back()] = i;
        ids_[i] = ids_.back();
        ids_.pop_back();
        pos_.erase(id);
        orders_.erase(id);
    }
    // Mostly an order at one of the levels near the touch; else any.
    std::int64_t some_order() {
        if (uniform() < d_.near) {
            const Side s = any_side();
            const auto t = top(s, d_.levels + 3);
            if (!t.empty()) {
                const auto& ids = at_[idx(s)].at(t[rng_() % t.size()]);
                return ids[rng_() % ids.size()];
            }
        }
        return ids_[rng_() % ids_.size()];
    }

    void step(std::int64_t t) {
        // (one draw per statement: the order of a call's arguments is the compiler's)
        if (uniform() < d_.move) {
            const Price step = rng_() % 2 ? 100 : -100;
            mid_ += step * pick(1, 3);
        }
        const double r = uniform();
        if (r < 0.45 || ids_.size() < 20) {
            const Side s = any_side();
            // Mostly near the mid on its own side; sometimes across it (a crossed or locked book).
            std::int64_t off =
                static_cast<std::int64_t>(-std::log1p(-uniform()) * d_.spread);  // exponential, mean `spread`
            if (uniform() < 0.03) off -= pick(1, 3);
            const Price p = s == Side::Buy ? mid_ - 100 * off : mid_ + 100 * off;
            if (p <= 0) return;
            const Qty sizes[] = {1, 5, 100, 100, 200, 300, 1000, pick_size(1, 5000)};
            const Qty size = sizes[rng_() % 8];
            next_id_ += pick(1, 7);
            const bool w = touches(s, p);
            add(next_id_, s, p, size);
            if (w) write(t, lob::EventType::Add, next_id_, size, p, s);
        } else if (r < 0.62) {  // a partial cancel
            const std::int64_t id = some_order();
            const Order o = orders_.at(id);
            if (o.size < 2) return;
            const Qty c = pick_size(1, o.size - 1);
            const bool w = touches(o.side, o.price);
            take(id, c);
            if (w) write(t, lob::EventType::Cancel, id, c, o.price, o.side);
        } else if (r < 0.80) {  // a delete
            const std::int64_t id = some_order();
            const Order o = orders_.at(id);
            const bool w = touches(o.side, o.price);
            take(id, o.size);
            if (w) write(t, lob::EventType::Delete, id, o.size, o.price, o.side);
        } else if (r < 0.90) {  // an execution, in full or in part, mostly at the best
            const Side s = any_side();
            const auto levels = top(s, d_.levels);
            if (levels.empty()) return;
            const Price p = uniform() < 0.8 ? levels.front() : levels[rng_() % levels.size()];
            const std::int64_t id = at_[idx(s)].at(p).front();
            const Qty left = orders_.at(id).size;
            const Qty e = uniform() < 0.5 ? left : pick_size(1, left);
            const bool w = touches(s, p);
            take(id, e);
            if (w) write(t, lob::EventType::Execute, id, e, p, s);
        } else if (r < 0.95) {  // a replace: the old order deleted, a new one added, at one time
            const std::int64_t id = some_order();
            const Order o = orders_.at(id);
            const bool w = touches(o.side, o.price);
            take(id, o.size);
            if (w) write(t, lob::EventType::Delete, id, o.size, o.price, o.side);
            const Price p = o.price + 100 * pick(-2, 2);
            if (p <= 0) return;
            const Qty size = pick_size(1, 2000);
            next_id_ += 1;
            const bool wn = touches(o.side, p);
            add(next_id_, o.side, p, size);
            if (wn) write(t, lob::EventType::Add, next_id_, size, p, o.side);
        } else if (r < 0.98) {  // a hidden execution: id 0 since 2010, an id before
            const std::int64_t id = uniform() < 0.8 ? 0 : pick(1, 1'000'000);
            const Qty size = pick_size(1, 500);
            const Price p = mid_ + 50 * pick(-1, 1);
            write(t, lob::EventType::HiddenExecute, id, size, p, any_side());
        } else if (r < 0.99) {  // a cross, -1 opening ... -4 others; one that did not trade has 0 shares
            const std::int64_t id = -pick(1, 4);
            if (uniform() < 0.2)
                write(t, lob::EventType::Cross, id, 0, 0, Side::Sell);
            else
                write(t, lob::EventType::Cross, id, pick_size(1, 10'000'000), mid_, Side::Sell);
        } else {  // a halt indicator: -1 halted, 0 quoting, 1 trading
            write(t, lob::EventType::Halt, 0, 0, pick(-1, 1), Side::Sell);
        }
    }

    std::string time_text(std::int64_t ns) const {
        char buf[40];
        const long long s = ns / lob::kNanosPerSecond, f = ns % lob::kNanosPerSecond;
        if (d_.times == TimeShape::Millis) {
            std::snprintf(buf, sizeof buf, "%lld.%03lld", s, f / 1'000'000);
            return buf;
        }
        std::snprintf(buf, sizeof buf, "%lld.%09lld", s, f);
        std::string out = buf;
        if (d_.times == TimeShape::Trimmed) {  // "34200.00426064", "34200"
            while (out.back() == '0') out.pop_back();
            if (out.back() == '.') out.pop_back();
        }
        return out;
    }

    void write(std::int64_t t, lob::EventType type, std::int64_t id, Qty size, Price price, Side s) {
        if (!live_) return;
        messages.push_back(time_text(t) + "," + std::to_string(static_cast<int>(type)) + "," + std::to_string(id) +
                           "," + std::to_string(size) + "," + std::to_string(price) + "," +
                           (s == Side::Buy ? "1" : "-1"));
        types.push_back(type);
        std::vector<lob::Level> sides[2];
        for (const Side s : {Side::Buy, Side::Sell})
            for (const Price p : top(s, d_.levels)) sides[idx(s)].push_back({p, qty_[idx(s)].at(p)});
        books.push_back(nexus::test::book_line(d_.levels, sides[idx(Side::Sell)], sides[idx(Side::Buy)]));
    }

    DayShape d_;
    std::mt19937_64 rng_;
    bool live_ = false;
    Price mid_ = 1'000'000;
    std::int64_t next_id_ = 1'000;
    std::unordered_map<std::int64_t, Order> orders_;
    std::map<Price, Qty> qty_[2];
    std::map<Price, std::vector<std::int64_t>> at_[2];  // ids per price, in time priority
    std::vector<std::int64_t> ids_;                     // every live order, for uniform picks
    std::unordered_map<std::int64_t, std::size_t> pos_;
};

std::string describe(const lob::VerifyResult& r) {
    std::string s = r.ok ? "" : "error: " + r.error + "\n";
    for (const auto& m : r.stats.first_mismatches) s += "row " + std::to_string(m.row) + ": " + m.what + "\n";
    return s;
}

std::string field(const std::string& row, std::size_t i) {
    std::size_t p = 0;
    for (std::size_t j = 0; j < i; ++j) p = row.find(',', p) + 1;
    return row.substr(p, row.find(',', p) - p);
}
void set_field(std::string& row, std::size_t i, const std::string& v) {
    std::size_t p = 0;
    for (std::size_t j = 0; j < i; ++j) p = row.find(',', p) + 1;
    row.replace(p, std::min(row.find(',', p), row.size()) - p, v);
}

}  // namespace

TEST_CASE("lobster plain day: files written from a plain full-depth book verify with zero true mismatches",
          "[lobster][model][plain]") {
    struct Case {
        double move, spread, near;
    };
    // A restless touch near a thin book; a calm, wide one; between the two.
    const Case cases[] = {{0.2, 0.7, 0.95}, {0.01, 4.0, 0.5}, {0.1, 1.0, 0.9}};
    const TimeShape shapes[] = {TimeShape::Nanos, TimeShape::Trimmed, TimeShape::Millis};
    std::uint64_t seed = 1;
    for (const std::size_t levels : {1, 2, 3, 5, 10, 50}) {
        for (const auto& c : cases) {
            DayShape d;
            d.levels = levels;
            d.seed = seed++;
            d.move = c.move;
            d.spread = c.spread;
            d.near = c.near;
            d.times = shapes[seed % 3];
            d.events = levels == 50 ? 8'000 : 20'000;
            const PlainDay day(d);
            const auto r = nexus::test::verify_text(nexus::test::join(day.messages), nexus::test::join(day.books));
            INFO(levels << " levels, seed " << d.seed << ": " << describe(r));
            REQUIRE(r.ok);
            CHECK(r.stats.rows == day.messages.size());
            CHECK(r.stats.true_mismatches == 0);
            CHECK(r.stats.out_of_view == 0);
            CHECK(r.stats.unknown_orders > 0);
            if (levels <= 10) CHECK(r.stats.revealed_levels > 0);
        }
    }
}

TEST_CASE("lobster plain day: known orders shrinking out of view are common on a restless day",
          "[lobster][model][plain]") {
    DayShape d;
    d.levels = 1;
    d.seed = 77;
    d.move = 0.2;
    d.spread = 0.7;
    d.near = 0.95;
    d.events = 40'000;
    const PlainDay day(d);
    const auto r = nexus::test::verify_text(nexus::test::join(day.messages), nexus::test::join(day.books));
    INFO(describe(r));
    CHECK(r.stats.true_mismatches == 0);
    CHECK(r.stats.shrunk_out_of_view > 10);  // the case, many times over
}

TEST_CASE("lobster plain day: one corrupted row is caught at that row", "[lobster][model][plain][mutation]") {
    std::mt19937_64 rng(2024);
    for (const std::size_t levels : {1, 2, 5, 10}) {
        DayShape d;
        d.levels = levels;
        d.seed = 100 + levels;
        d.events = 8'000;
        const PlainDay day(d);
        for (int trial = 0; trial < 50; ++trial) {
            std::size_t k;  // a row that changes the book, after the first (the others leave no trace)
            do k = 1 + rng() % (day.messages.size() - 1);
            while (!lob::changes_book(day.types[k]));
            auto m = day.messages;
            auto b = day.books;
            std::string what;
            switch (trial % 5) {
                case 0: {
                    const long long size = std::stoll(field(m[k], 3));
                    set_field(m[k], 3, std::to_string(size > 1 && rng() % 2 ? size - 1 : size + 1));
                    what = "size";
                    break;
                }
                case 1:
                    set_field(m[k], 4, std::to_string(std::stoll(field(m[k], 4)) + (rng() % 2 ? 100 : -100)));
                    what = "price";
                    break;
                case 2:
                    set_field(m[k], 5, field(m[k], 5) == "1" ? "-1" : "1");
                    what = "direction";
                    break;
                case 3:
                    // Not when the next row adds on the same side: a better price
                    // pushes this row's level out of view, and the file without
                    // the row is a consistent one (docs/lobster.md §6).
                    if (k + 1 < m.size() && day.types[k + 1] == lob::EventType::Add &&
                        field(m[k + 1], 5) == field(m[k], 5))
                        continue;
                    m.erase(m.begin() + static_cast<std::ptrdiff_t>(k));
                    b.erase(b.begin() + static_cast<std::ptrdiff_t>(k));
                    what = "missing row";
                    break;
                default: {  // a size in the book, at a price the row before shows on that side
                    std::vector<std::size_t> cols;
                    for (std::size_t c = 0; c < 4 * levels; c += 2) {
                        if (field(b[k], c + 1) == "0") continue;
                        for (std::size_t j = c % 4; j < 4 * levels; j += 4)
                            if (field(b[k - 1], j) == field(b[k], c)) cols.push_back(c + 1);
                    }
                    if (cols.empty()) continue;
                    const std::size_t c = cols[rng() % cols.size()];
                    set_field(b[k], c, std::to_string(std::stoll(field(b[k], c)) + 1));
                    what = "book size";
                }
            }
            const auto r = nexus::test::verify_text(nexus::test::join(m), nexus::test::join(b));
            INFO(levels << " levels, " << what << " corrupted at row " << k + 1 << " (" << day.messages[k]
                        << "): " << describe(r));
            REQUIRE(r.ok);
            REQUIRE(r.stats.true_mismatches >= 1);
            CHECK(r.stats.first_mismatches[0].row == k + 1);
            CHECK_FALSE(r.stats.first_mismatches[0].what.empty());
            CHECK(r.stats.true_mismatches <= 2);  // a bad book row also disagrees with the row after it
        }
    }
}

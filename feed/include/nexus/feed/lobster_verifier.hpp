// nexus/feed/lobster_verifier.hpp — checks a LOBSTER file pair row by row
// against the unseen-liquidity model of docs/lobster.md.
//
// Two layers, both exact for a correct file at any depth N:
//
// 1. Levels. A level-N file carries every event that touches the N best
//    levels of a side and no other, so between two rows nothing else changes
//    them. Row k must therefore equal row k-1 with message k applied at its
//    price: an add raises (or inserts) the level, a cancel, delete or
//    execution lowers it, types 5-7 change nothing. What the previous row
//    cannot know is only what lies beyond its last level: when a full side
//    loses a level, one may enter from beyond with any size, priced worse
//    than the previous row's last level. A removal larger than the level
//    shows, or at a price inside the shown levels where none is shown, would
//    make a quantity negative: a true mismatch, with that reason.
//
// 2. Orders. Orders the file adds are "known"; a known order is exact while
//    its price has stayed in view since it was added (every event on it is
//    then in the file) and an upper bound once its price has left the view
//    (events there are not in the file; orders only shrink). At a shown price
//    the unseen liquidity is the level's size minus its exact known orders:
//    what orders added before the file, and known orders whose price has
//    left the view, hold there. Events on such orders draw on it; it may
//    never go negative. A delete of an exact order must name its size; no
//    event may take more than a known order has, or name it at another
//    price or side, or name it after its level emptied.
//
// After a mismatch the file's row is taken as the truth and the known orders
// at the prices involved become bounds, so one bad row is one report.
//
// Cost per row: O(N) for the levels, O(1) expected for the orders. Known
// orders leave the model when they reach zero, when their level empties, and
// (bounds far from the touch, beyond a fixed number) in an amortized sweep,
// so memory does not grow with the file's length.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nexus/feed/lobster_format.hpp"
#include "nexus/feed/lobster_reader.hpp"

namespace nexus::feed::lobster {

struct Mismatch {
    std::uint64_t row = 0;  // data row, 1-based (the line number of a file without a header)
    Message message;        // the row's message
    std::string what;       // the reasons, "; "-separated
};

struct VerifyStats {
    std::uint64_t rows = 0;                  // rows checked
    std::uint64_t true_mismatches = 0;       // rows the model cannot explain
    std::vector<Mismatch> first_mismatches;  // the first kKeptMismatches of them
    std::uint64_t unknown_orders = 0;        // events on orders the file did not add (added before it starts)
    std::uint64_t revealed_levels = 0;       // levels that entered the view from beyond its last level
    std::uint64_t out_of_view = 0;           // order events priced beyond the view (a correct file has none)
    std::uint64_t shrunk_out_of_view = 0;    // deletes of known orders smaller than when their price left the view
    std::uint64_t forgotten_orders = 0;      // known orders dropped far out of view (memory bound)
    std::uint64_t peak_known_orders = 0;
    static constexpr std::size_t kKeptMismatches = 20;
};

class Verifier {
public:
    // Known orders whose price is out of view kept at most (the nearest to the touch).
    static constexpr std::size_t kKeptBounds = std::size_t{1} << 16;

    explicit Verifier(std::size_t levels) : n_(levels) {
        for (auto& p : prev_) p.reserve(levels + 1);
        expect_.reserve(levels + 1);
    }

    [[nodiscard]] std::size_t levels() const noexcept { return n_; }
    [[nodiscard]] const VerifyStats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t known_orders() const noexcept { return known_.size(); }

    // Checks one row: its message and the book after it. The row is
    // swapped into the model (kept as the row before for the next call):
    // `row` is left holding an earlier row, for the reader to overwrite.
    void check(const Message& m, BookRow& row) {
        ++stats_.rows;
        why_.clear();
        const bool order_event = changes_book(m.type);
        if (order_event) apply_to_orders(m);
        if (have_prev_) check_levels(m, row);
        if (order_event) check_unseen(m, row);
        for (const Side s : {Side::Buy, Side::Sell}) prev_[idx(s)].swap(row.side(s));
        have_prev_ = true;
        if (!why_.empty()) {
            // The row's own order is not trusted either: it is forgotten
            // (later events on it draw on the unseen liquidity).
            if (order_event)
                if (const auto it = known_.find(m.id); it != known_.end()) forget(it);
            ++stats_.true_mismatches;
            if (stats_.first_mismatches.size() < VerifyStats::kKeptMismatches)
                stats_.first_mismatches.push_back({stats_.rows, m, why_});
        }
        stats_.peak_known_orders = std::max<std::uint64_t>(stats_.peak_known_orders, known_.size());
        if (known_.size() > sweep_at_) sweep();
    }

private:
    struct Known {
        Price price;
        Qty size;             // exact, or an upper bound (see Verifier's comment)
        std::uint64_t epoch;  // its level's epoch when its size was last exact
        Side side;
    };
    // What the model keeps per price that has known orders.
    struct LevelState {
        std::uint64_t epoch;       // renewed whenever the price leaves the view
        std::uint64_t dead_below;  // orders of an earlier epoch are gone
        Qty exact;                 // sum of the exact known orders
        std::uint32_t orders;      // known orders here (exact, bounds and dead)
    };
    using KnownMap = std::unordered_map<std::int64_t, Known>;

    static constexpr int idx(Side s) noexcept { return static_cast<int>(s); }
    std::string side_price(Side s, Price p) const { return std::string(book_side(s)) + " " + std::to_string(p); }
    void reason(const std::string& r) {
        if (!why_.empty()) why_ += "; ";
        why_ += r;
    }

    LevelState* find_level(Side s, Price p) {
        auto& map = levels_[idx(s)];
        const auto it = map.find(p);
        return it == map.end() ? nullptr : &it->second;
    }
    LevelState& level(Side s, Price p) {
        auto [it, fresh] = levels_[idx(s)].try_emplace(p);
        if (fresh) it->second = LevelState{next_epoch_++, 0, 0, 0};
        return it->second;
    }
    // The price is out of view (or its orders are no longer trusted): its
    // exact orders become bounds; if the level emptied, they are all gone.
    void leave_view(Side s, Price p, bool emptied) {
        LevelState* l = find_level(s, p);
        if (!l) return;
        l->epoch = next_epoch_++;
        l->exact = 0;
        if (emptied) l->dead_below = l->epoch;
    }
    KnownMap::iterator forget(KnownMap::iterator it) {
        const Known& k = it->second;
        auto& map = levels_[idx(k.side)];
        const auto lit = map.find(k.price);
        LevelState& l = lit->second;
        if (k.epoch == l.epoch) l.exact -= k.size;
        if (--l.orders == 0) map.erase(lit);
        return known_.erase(it);
    }

    // Layer 2, before the row: what the message says about a known order.
    void apply_to_orders(const Message& m) {
        if (m.type == EventType::Add) {
            const auto it = known_.find(m.id);
            if (it != known_.end()) {
                const Known& k = it->second;
                const LevelState& l = *find_level(k.side, k.price);
                // An exact live order cannot be added again; a bound may have
                // left the book out of view (its id is then free).
                if (k.epoch == l.epoch)
                    reason("order " + std::to_string(m.id) + " is added again while it rests at " +
                           side_price(k.side, k.price));
                forget(it);
            }
            LevelState& l = level(m.side, m.price);
            known_.emplace(m.id, Known{m.price, m.size, l.epoch, m.side});
            l.exact += m.size;
            ++l.orders;
            return;
        }
        const auto it = known_.find(m.id);
        if (it == known_.end()) {
            ++stats_.unknown_orders;  // draws on the unseen liquidity, checked with the row
            return;
        }
        Known& k = it->second;
        LevelState& l = *find_level(k.side, k.price);
        const bool exact = k.epoch == l.epoch;
        if (k.side != m.side || k.price != m.price || k.epoch < l.dead_below || m.size > k.size ||
            (m.type == EventType::Delete && exact && m.size != k.size)) [[unlikely]] {
            order_mismatch(m, k, l);
            forget(it);
            return;
        }
        if (!exact && m.type == EventType::Delete && m.size < k.size) ++stats_.shrunk_out_of_view;
        if (exact) l.exact -= m.size;
        k.size -= m.size;
        if (m.type == EventType::Delete || k.size == 0) forget(it);
    }

    // Why the message does not fit the known order (out of line: errors only).
    [[gnu::noinline, gnu::cold]] void order_mismatch(const Message& m, const Known& k, const LevelState& l) {
        const std::string order = "order " + std::to_string(m.id);
        if (k.side != m.side || k.price != m.price)
            reason(order + " rests at " + side_price(k.side, k.price) + ", this row names " +
                   side_price(m.side, m.price));
        else if (k.epoch < l.dead_below)
            reason(order + " is gone: its level at " + side_price(k.side, k.price) + " emptied after it was added");
        else
            reason(std::string(to_string(m.type)) + " of " + std::to_string(m.size) + " from " + order +
                   ", which has " + (k.epoch == l.epoch ? "" : "at most ") + std::to_string(k.size) + " left");
    }

    // Layer 1: row k against row k-1 and message k.
    void check_levels(const Message& m, const BookRow& row) {
        for (const Side s : {Side::Buy, Side::Sell}) {
            const auto& before = prev_[idx(s)];
            const auto& after = row.side(s);
            if (!changes_book(m.type) || s != m.side) {
                compare(s, before, after, nullptr);
                continue;
            }
            const bool full = before.size() == n_;
            expect_ = before;
            auto at = std::find_if(expect_.begin(), expect_.end(), [&](const Level& l) { return l.price == m.price; });
            bool freed = false;  // a full side lost a level: one may enter from beyond
            // An add raises its level by m.size; the other types lower it by m.size.
            const bool adds = m.type == EventType::Add;
            if (at != expect_.end()) {
                if (!adds && m.size > at->size) {
                    reason(std::string(to_string(m.type)) + " of " + std::to_string(m.size) + " at " +
                           side_price(s, m.price) + ", where the row before shows " + std::to_string(at->size));
                    distrust(s, before, after);
                    continue;
                }
                at->size = adds ? at->size + m.size : at->size - m.size;
                if (at->size == 0) {
                    expect_.erase(at);
                    freed = full;
                }
            } else if (!full || better(s, m.price, before.back().price)) {
                if (!adds && m.size > 0) {
                    reason(std::string(to_string(m.type)) + " of " + std::to_string(m.size) + " at " +
                           side_price(s, m.price) +
                           ", where the row before shows no liquidity (the price is inside its levels)");
                    distrust(s, before, after);
                    continue;
                }
                const auto pos = std::find_if(expect_.begin(), expect_.end(),
                                              [&](const Level& l) { return better(s, m.price, l.price); });
                expect_.insert(pos, Level{m.price, m.size});
                if (expect_.size() > n_) {  // the last level leaves the view
                    leave_view(s, expect_.back().price, false);
                    expect_.pop_back();
                }
            } else {
                ++stats_.out_of_view;  // beyond the view: no visible change
            }
            compare(s, expect_, after, freed ? &before.back() : nullptr);
        }
    }

    // The row's side against the expected levels. `freed`: the level beyond
    // which one new level may appear (the row before's last), or null.
    void compare(Side s, const std::vector<Level>& want, const std::vector<Level>& got, const Level* freed) {
        const std::size_t common = std::min(want.size(), got.size());
        std::size_t i = 0;
        while (i < common && want[i] == got[i]) ++i;
        if (i == want.size() && i == got.size()) return;
        if (freed && i == want.size() && got.size() == want.size() + 1) {
            if (better(s, freed->price, got[i].price)) {
                ++stats_.revealed_levels;
                return;
            }
            reason("a level enters the view at " + side_price(s, got[i].price) +
                   ", not beyond the row before's last level (" + std::to_string(freed->price) + ")");
            distrust(s, want, got);
            return;
        }
        // Describe the first difference.
        Price p;
        std::string file = "no level", expected = "no level";
        if (i < common && want[i].price == got[i].price) {
            p = got[i].price;
            file = std::to_string(got[i].size);
            expected = std::to_string(want[i].size);
        } else if (i < got.size() && (i >= want.size() || better(s, got[i].price, want[i].price))) {
            p = got[i].price;
            file = std::to_string(got[i].size);
        } else {
            p = want[i].price;
            expected = std::to_string(want[i].size);
        }
        reason(side_price(s, p) + ": file " + file + ", expected " + expected);
        distrust(s, want, got);
    }
    // After a mismatch on a side, the known orders at every price either
    // row shows there become bounds: the rows after are checked against the
    // file, not against what the model made of the bad row.
    void distrust(Side s, const std::vector<Level>& a, const std::vector<Level>& b) {
        for (const Level& l : a) leave_view(s, l.price, false);
        for (const Level& l : b) leave_view(s, l.price, false);
    }

    // Layer 2, with the row: the unseen liquidity at the touched price.
    void check_unseen(const Message& m, const BookRow& row) {
        const auto& side = row.side(m.side);
        if (!why_.empty()) {  // the row is already reported: only stop trusting the price
            leave_view(m.side, m.price, false);
            return;
        }
        LevelState* l = find_level(m.side, m.price);
        const Qty exact = l ? l->exact : 0;
        const auto at = std::find_if(side.begin(), side.end(), [&](const Level& v) { return v.price == m.price; });
        if (at != side.end()) {
            if (at->size < exact) {
                reason(side_price(m.side, m.price) + ": the file shows " + std::to_string(at->size) +
                       ", less than the " + std::to_string(exact) +
                       " of the orders this file added there (unseen liquidity -" + std::to_string(exact - at->size) +
                       ")");
                leave_view(m.side, m.price, false);
            } else if (at->size == exact && l) {
                l->dead_below = l->epoch;  // nothing unseen: the bounds here are gone
            }
            return;
        }
        const bool inside = side.size() < n_ || better(m.side, m.price, side.back().price);
        if (inside && exact > 0)
            reason(side_price(m.side, m.price) + ": the file shows no level, but orders this file added there hold " +
                   std::to_string(exact));
        leave_view(m.side, m.price, inside && why_.empty());
    }

    // Drops known orders that are gone, then the bounds farthest from the
    // touch beyond kKeptBounds. Runs when the map has doubled: amortized O(1).
    void sweep() {
        std::vector<std::pair<Price, std::int64_t>> bounds;  // (distance from the touch, id)
        for (auto it = known_.begin(); it != known_.end();) {
            const Known& k = it->second;
            const LevelState& l = *find_level(k.side, k.price);
            if (k.epoch < l.dead_below) {
                it = forget(it);
                continue;
            }
            if (k.epoch != l.epoch) {
                const auto& view = prev_[idx(k.side)];
                const Price touch = view.empty() ? k.price : view.front().price;
                bounds.emplace_back(touch > k.price ? touch - k.price : k.price - touch, it->first);
            }
            ++it;
        }
        if (bounds.size() > kKeptBounds) {
            std::nth_element(bounds.begin(), bounds.begin() + kKeptBounds, bounds.end());
            for (auto b = bounds.begin() + kKeptBounds; b != bounds.end(); ++b) {
                forget(known_.find(b->second));
                ++stats_.forgotten_orders;
            }
        }
        sweep_at_ = std::max(kSweepMin, 2 * known_.size());
    }

    static constexpr std::size_t kSweepMin = std::size_t{1} << 17;

    std::size_t n_;
    std::vector<Level> prev_[2];  // the row before, per side (Buy = bids, Sell = asks)
    std::vector<Level> expect_;
    bool have_prev_ = false;
    KnownMap known_;
    std::unordered_map<Price, LevelState> levels_[2];
    std::uint64_t next_epoch_ = 1;
    std::size_t sweep_at_ = kSweepMin;
    std::string why_;
    VerifyStats stats_;
};

struct VerifyResult {
    bool ok = true;         // false: the files could not be read to the end (see error)
    bool io_error = false;  // ... because of the system (open, read), not the content
    std::string error;      // names the file, the line and the column
    std::size_t levels = 0;
    VerifyStats stats;
};

// Reads both files to the end, checking every row. `stop` (optional) ends
// the run early; the result then covers the rows read.
inline VerifyResult verify(MessageReader& messages, OrderbookReader& books, const std::atomic<bool>* stop = nullptr) {
    VerifyResult r;
    auto fail = [&](const detail::RowSource& src) {
        r.ok = false;
        r.io_error = src.io_error();
        r.error = src.error();
    };
    Message m;
    BookRow row;
    std::optional<Verifier> v;
    for (;;) {
        if (!messages.next(m)) {
            if (!messages.error().empty()) {
                fail(messages);
            } else if (books.next(row)) {
                r.ok = false;
                r.error = books.name() + ": line " + std::to_string(books.line()) + ": more rows than the " +
                          std::to_string(messages.rows()) + " of " + messages.name();
            } else if (!books.error().empty()) {
                fail(books);
            }
            break;
        }
        if (!books.next(row)) {
            if (!books.error().empty()) {
                fail(books);
            } else {
                r.ok = false;
                r.error = books.name() + ": ends after " + std::to_string(books.rows()) + " rows, fewer than " +
                          messages.name() + " (whose row " + std::to_string(messages.rows()) + " is line " +
                          std::to_string(messages.line()) + ")";
            }
            break;
        }
        if (!v) v.emplace(books.levels());
        v->check(m, row);
        if (stop && (v->stats().rows & 0xFFFF) == 0 && stop->load(std::memory_order_relaxed)) break;
    }
    r.levels = books.levels();
    if (v) r.stats = v->stats();
    return r;
}

// Opens both files (the message file first, so that a missing one is named)
// and verifies them. levels 0: taken from the orderbook file's first row.
inline VerifyResult verify_files(const std::string& message_path, const std::string& orderbook_path,
                                 std::size_t levels = 0, const std::atomic<bool>* stop = nullptr) {
    MessageReader messages(message_path);
    if (!messages.is_open()) return VerifyResult{false, true, messages.error(), 0, {}};
    OrderbookReader books(orderbook_path, levels);
    if (!books.is_open()) return VerifyResult{false, true, books.error(), 0, {}};
    return verify(messages, books, stop);
}

}  // namespace nexus::feed::lobster

// nexus/feed/lobster.hpp — LOBSTER message and orderbook files, and the
// verification of a rebuilt book against them (../shared/docs/lobster.md).
//
// Message file rows: time, type, order_id, size, price, direction.
// Orderbook file rows: ask_price_1, ask_size_1, bid_price_1, bid_size_1, ...
// (row k is the book after message k). A header row, if present, is skipped.
// A row with the wrong number of columns or a field that is not a number is a
// format error naming the file's line and column.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <istream>
#include <utility>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nexus/orderbook/book.hpp>

namespace nexus::feed::lobster {

struct Message {
    double time = 0;
    int type = 0;  // 1 add, 2 partial cancel, 3 delete, 4 visible execution, 5 hidden execution, 6 cross, 7 halt
    std::uint64_t id = 0;
    std::int64_t size = 0;
    std::int64_t price = 0;  // dollars x 10000
    int direction = 0;       // 1 buy order, -1 sell order
};

// Splits comma-separated integer (or decimal) fields with from_chars.
class CsvReader {
public:
    explicit CsvReader(const std::string& path) : path_(path), file_(path), in_(file_) {}
    // Reads from a stream (named `name` in errors), e.g. for tests and fuzzing.
    CsvReader(std::string name, std::istream& in) : path_(std::move(name)), in_(in) {}
    [[nodiscard]] bool is_open() const { return static_cast<bool>(in_); }
    [[nodiscard]] const std::string& error() const { return error_; }
    [[nodiscard]] std::uint64_t line() const { return line_; }

    // Reads the next data row into `fields` (as text); false at the end or
    // on an error (error() non-empty). Skips a header on line 1.
    bool next(std::vector<std::string_view>& fields, std::size_t want) {
        while (std::getline(in_, buf_)) {
            ++line_;
            if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
            if (buf_.empty()) continue;
            fields.clear();
            std::size_t p = 0;
            for (;;) {
                const std::size_t q = buf_.find(',', p);
                fields.emplace_back(buf_.data() + p, (q == std::string::npos ? buf_.size() : q) - p);
                if (q == std::string::npos) break;
                p = q + 1;
            }
            if (line_ == 1 && !fields.empty() && !looks_numeric(fields[0])) continue;  // header
            if (fields.size() != want) {
                error_ = path_ + ": line " + std::to_string(line_) + ": expected " + std::to_string(want) +
                         " columns, found " + std::to_string(fields.size());
                return false;
            }
            return true;
        }
        return false;
    }

    template <class T>
    bool number(std::string_view f, std::size_t column, T& out) {
        const char* b = f.data();
        const char* e = f.data() + f.size();
        const auto [ptr, ec] = std::from_chars(b, e, out);
        if (ec != std::errc() || ptr != e) {
            error_ = path_ + ": line " + std::to_string(line_) + ", column " + std::to_string(column + 1) +
                     ": not a number: '" + std::string(f) + "'";
            return false;
        }
        return true;
    }

private:
    static bool looks_numeric(std::string_view f) {
        return !f.empty() && (f[0] == '-' || f[0] == '.' || (f[0] >= '0' && f[0] <= '9'));
    }
    std::string path_;
    std::ifstream file_;
    std::istream& in_;
    std::string buf_;
    std::uint64_t line_ = 0;
    std::string error_;
};

class MessageReader {
public:
    explicit MessageReader(const std::string& path) : csv_(path) {}
    MessageReader(std::string name, std::istream& in) : csv_(std::move(name), in) {}
    [[nodiscard]] bool is_open() const { return csv_.is_open(); }
    [[nodiscard]] const std::string& error() const { return csv_.error(); }
    [[nodiscard]] std::uint64_t line() const { return csv_.line(); }
    bool next(Message& m) {
        if (!csv_.next(f_, 6)) return false;
        return csv_.number(f_[0], 0, m.time) && csv_.number(f_[1], 1, m.type) && csv_.number(f_[2], 2, m.id) &&
               csv_.number(f_[3], 3, m.size) && csv_.number(f_[4], 4, m.price) && csv_.number(f_[5], 5, m.direction);
    }

private:
    CsvReader csv_;
    std::vector<std::string_view> f_;
};

// One orderbook row: per side, up to `levels` (price, size) pairs from the
// best outwards, the empty-level placeholders dropped.
struct BookRow {
    std::vector<orderbook::LevelInfo> asks, bids;
};

class OrderbookReader {
public:
    OrderbookReader(const std::string& path, std::size_t levels) : csv_(path), levels_(levels) {}
    OrderbookReader(std::string name, std::istream& in, std::size_t levels) : csv_(std::move(name), in), levels_(levels) {}
    [[nodiscard]] bool is_open() const { return csv_.is_open(); }
    [[nodiscard]] const std::string& error() const { return csv_.error(); }
    [[nodiscard]] std::uint64_t line() const { return csv_.line(); }
    bool next(BookRow& row) {
        if (!csv_.next(f_, 4 * levels_)) return false;
        row.asks.clear();
        row.bids.clear();
        for (std::size_t l = 0; l < levels_; ++l) {
            std::int64_t ap, as, bp, bs;
            if (!csv_.number(f_[4 * l], 4 * l, ap) || !csv_.number(f_[4 * l + 1], 4 * l + 1, as) ||
                !csv_.number(f_[4 * l + 2], 4 * l + 2, bp) || !csv_.number(f_[4 * l + 3], 4 * l + 3, bs))
                return false;
            if (as > 0 && ap != 9'999'999'999) row.asks.push_back({ap, as, 0});
            if (bs > 0 && bp != -9'999'999'999) row.bids.push_back({bp, bs, 0});
        }
        return true;
    }

private:
    CsvReader csv_;
    std::size_t levels_;
    std::vector<std::string_view> f_;
};

struct Mismatch {
    std::uint64_t row;  // message number, 1-based (= line of a headerless file)
    std::string what;
};

struct VerifyResult {
    bool ok = true;       // false: a format error (see error)
    std::string error;
    std::uint64_t messages = 0;
    std::uint64_t checked = 0;          // rows compared
    std::uint64_t true_mismatches = 0;  // differences at the touched price the message cannot explain
    std::uint64_t reconciliations = 0;  // out-of-view changes absorbed into unseen liquidity
    std::uint64_t unknown_ids = 0;      // events on orders added before the file starts
    std::vector<Mismatch> first_mismatches;  // up to 20
};

// Replays LOBSTER messages through a Book and checks them against the
// matching orderbook rows, one by one, as lobster.md describes.
inline VerifyResult verify(MessageReader& msgs, const std::string& message_path, OrderbookReader& rows,
                           const std::string& orderbook_path, std::size_t levels) {
    using orderbook::Side;
    VerifyResult r;
    if (levels == 0) {
        r.ok = false;
        r.error = orderbook_path + ": no levels";
        return r;
    }
    orderbook::Pools pools(orderbook::PoolConfig{.orders = 1 << 18, .levels = 1 << 14});
    orderbook::NullListener nl;
    orderbook::Book<> book(pools, nl, 0, orderbook::BookLimits{.min_price = 1, .max_price = 9'999'999'998, .max_qty = 1'000'000'000});
    std::map<orderbook::Price, std::int64_t> unseen[2];  // anonymous liquidity per side and price

    // Known book + unseen, one side, best first, every level.
    auto merged = [&](Side s) {
        std::map<orderbook::Price, std::int64_t> sum;
        for (const auto& l : book.depth(s)) sum[l.price] += l.qty;
        for (const auto& [p, q] : unseen[static_cast<int>(s)]) sum[p] += q;
        std::vector<orderbook::LevelInfo> v;
        for (const auto& [p, q] : sum)
            if (q != 0) v.push_back({p, q, 0});
        if (s == Side::Buy) std::reverse(v.begin(), v.end());
        return v;
    };
    auto note = [&](std::uint64_t row, std::string what) {
        ++r.true_mismatches;
        if (r.first_mismatches.size() < 20) r.first_mismatches.push_back({row, std::move(what)});
    };

    Message m;
    BookRow row;
    while (msgs.next(m)) {
        ++r.messages;
        if (!rows.next(row)) {
            r.ok = false;
            r.error = rows.error().empty() ? orderbook_path + ": fewer rows than " + message_path : rows.error();
            return r;
        }
        const Side side = m.direction == 1 ? Side::Buy : Side::Sell;
        auto take_unseen = [&](std::int64_t q) { unseen[static_cast<int>(side)][m.price] -= q; ++r.unknown_ids; };
        switch (m.type) {
            case 1: book.add(m.id, side, m.price, m.size); break;
            case 2:
                if (!book.find(m.id)) take_unseen(m.size);
                else book.cancel_qty(m.id, std::min<std::int64_t>(m.size, static_cast<std::int64_t>(book.find(m.id)->qty)));
                break;
            case 3:
                if (!book.find(m.id)) take_unseen(m.size);
                else book.remove(m.id);
                break;
            case 4:
                if (!book.find(m.id)) take_unseen(m.size);
                else book.execute(m.id, std::min<std::int64_t>(m.size, static_cast<std::int64_t>(book.find(m.id)->qty)));
                break;
            default: break;  // 5 hidden, 6 cross, 7 halt: no visible change
        }
        // Compare the top `levels` of each side with the file's row.
        ++r.checked;
        for (Side s : {Side::Sell, Side::Buy}) {
            const auto& want = s == Side::Sell ? row.asks : row.bids;
            const auto have = merged(s);
            const bool full_side = want.size() < levels;  // the file shows the whole side
            auto in_view = [&](orderbook::Price p) {
                if (full_side || want.empty()) return true;
                return s == Side::Sell ? p <= want.back().price : p >= want.back().price;
            };
            std::map<orderbook::Price, std::pair<std::int64_t, std::int64_t>> diff;  // price -> (want, have)
            for (const auto& l : want) diff[l.price].first = l.qty;
            for (const auto& l : have)
                if (in_view(l.price)) diff[l.price].second = l.qty;
            for (const auto& [p, wh] : diff) {
                if (wh.first == wh.second) continue;
                const bool touched = (m.type >= 1 && m.type <= 4) && p == m.price && s == side;
                if (touched)
                    note(r.messages, std::string(s == Side::Sell ? "ask" : "bid") + " " + std::to_string(p) + ": file " +
                                         std::to_string(wh.first) + ", book " + std::to_string(wh.second));
                else
                    ++r.reconciliations;
                unseen[static_cast<int>(s)][p] += wh.first - wh.second;  // absorb, so errors do not cascade
            }
        }
    }
    if (!msgs.error().empty()) {
        r.ok = false;
        r.error = msgs.error();
    } else if (rows.next(row)) {
        r.ok = false;
        r.error = orderbook_path + ": more rows than " + message_path;
    } else if (!rows.error().empty()) {
        r.ok = false;
        r.error = rows.error();
    }
    return r;
}

inline VerifyResult verify(const std::string& message_path, const std::string& orderbook_path, std::size_t levels) {
    MessageReader msgs(message_path);
    OrderbookReader rows(orderbook_path, levels);
    if (!msgs.is_open() || !rows.is_open()) {
        VerifyResult r;
        r.ok = false;
        r.error = "cannot open " + (msgs.is_open() ? orderbook_path : message_path);
        return r;
    }
    return verify(msgs, message_path, rows, orderbook_path, levels);
}

}  // namespace nexus::feed::lobster

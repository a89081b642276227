// nexus/feed/lobster_reader.hpp — reads LOBSTER message and orderbook files.
//
// Rows are parsed in place from the line reader's buffer, one pass over each
// line, integers by hand and times as exact nanoseconds (no floating point).
// A header line (line 1, no field starting like a number) is skipped, as are
// empty lines; CRLF line ends are accepted.
//
// Anything outside the format is an error that names the file, the line and,
// where there is one, the column (1-based): a wrong number of columns, a field
// that is not a number, and values LOBSTER never writes:
//   message rows  time not a decimal number of seconds within the day, or
//                 earlier than the row before; type not 1..7; direction not
//                 1 or -1; size not positive; price not in 1..kMaxPrice;
//                 types 1-4 with an order id that is not positive. Type 7
//                 has price -1, 0 or 1 and a size of 0 or more; a type 6
//                 cross that did not trade may have size 0 (and price 0);
//   orderbook     a column count that is not a multiple of 4; a level that is
//                 neither occupied (price in range, positive size) nor the
//                 placeholder (9999999999 / -9999999999 with size 0); an
//                 occupied level after a placeholder; prices not running from
//                 the best outwards (asks rising, bids falling).
// next() then returns false and error() holds the message; io_error() tells
// a system error (cannot open or read) from a content error.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "nexus/feed/line_reader.hpp"
#include "nexus/feed/lobster_format.hpp"

namespace nexus::feed::lobster {

namespace detail {

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
// How many of the eight bytes in v (first byte lowest) are ASCII digits
// before the first that is not. A byte is a digit when its high nibble is 3
// and adding 6 keeps it 3; a carry out of a non-digit byte only reaches the
// bytes after it.
inline unsigned digit_run(std::uint64_t v) noexcept {
    const std::uint64_t other =
        ((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ^
        0x3333333333333333ull;
    return other ? static_cast<unsigned>(__builtin_ctzll(other)) >> 3 : 8;
}
// The value of the first n (1 to 8) bytes of v, all digits: shifted so they
// end at the top byte (the bytes below become leading zeros), then combined
// in pairs, fours and eights with multiplications.
inline std::uint64_t digits_value(std::uint64_t v, unsigned n) noexcept {
    v = (v << (8 * (8 - n))) & 0x0F0F0F0F0F0F0F0Full;
    v = (v * 10) + (v >> 8);
    v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
        32;
    return v;
}

// The fields of one CSV line, parsed left to right. A failed call leaves
// problem() (what) and column() (where; 0 for the whole line) set.
class Fields {
public:
    explicit Fields(std::string_view line) noexcept : line_(line), p_(line.data()), e_(line.data() + line.size()) {}
    // Resumes at byte `pos`: the ',' that ends field `column` (1-based), or 0.
    Fields(std::string_view line, std::size_t pos, std::size_t column) noexcept
        : line_(line), p_(line.data() + pos), e_(line.data() + line.size()), column_(column) {}

    // A decimal integer with an optional '-', at most 18 significant digits
    // (leading zeros are allowed and do not count).
    [[gnu::always_inline]] bool integer(std::int64_t& out) {
        if (!begin_field()) return false;
        const char* start = p_;
        const bool negative = p_ < e_ && *p_ == '-';
        if (negative) ++p_;
        const char* digits = p_;
        std::uint64_t v = 0;
        unsigned n;
        // Up to eight digits at once, when what follows them is known not to be one.
        if (e_ - p_ >= 8 && (n = digit_run(load8(p_))) >= 1 && (n < 8 || e_ - p_ == 8 || !is_digit(p_[8]))) {
            v = digits_value(load8(p_), n);
            p_ += n;
        } else {
            while (p_ < e_) {
                const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(*p_)) - '0';
                if (d > 9) break;
                v = v * 10 + d;
                ++p_;
            }
        }
        if (p_ == digits || (p_ < e_ && *p_ != ',')) [[unlikely]]
            return fail_field(start, "not a number");
        if (p_ - digits > 18) [[unlikely]] {
            const char* significant = digits;
            while (significant + 1 < p_ && *significant == '0') ++significant;
            if (p_ - significant > 18) return fail_field(start, "number out of range");
        }
        out = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
        return true;
    }

    // Seconds after midnight as a decimal ("34200.004241176") -> nanoseconds.
    // Digits past the ninth decimal must be digits and are dropped.
    bool seconds(std::int64_t& ns) {
        if (!begin_field()) return false;
        const char* start = p_;
        // The shape LOBSTER writes at nanosecond precision, "SSSSS.FFFFFFFFF",
        // eight bytes at a time; anything else takes the general path below.
        if (e_ - p_ >= 16) {
            const std::uint64_t head = load8(p_);
            const unsigned n = digit_run(head);
            const char* f = p_ + n + 1;
            if (n >= 1 && n <= 5 && p_[n] == '.' && digit_run(load8(f)) == 8 && is_digit(f[8]) &&
                (f + 9 == e_ || f[9] == ',')) {
                ns = static_cast<std::int64_t>(digits_value(head, n)) * kNanosPerSecond +
                     static_cast<std::int64_t>(digits_value(load8(f), 8)) * 10 + (f[8] - '0');
                p_ = f + 9;
                if (ns > kDayNanos) return fail_field(start, "time out of range (0 to 86400 seconds after midnight)");
                return true;
            }
        }
        std::int64_t whole = 0;
        int whole_digits = 0;  // significant ones: leading zeros do not count
        bool any_whole = false;
        while (p_ < e_ && *p_ >= '0' && *p_ <= '9') {
            any_whole = true;
            if ((whole_digits > 0 || *p_ != '0') && ++whole_digits <= 6) whole = whole * 10 + (*p_ - '0');
            ++p_;
        }
        std::int64_t frac = 0;
        int frac_digits = 0;
        if (p_ < e_ && *p_ == '.') {
            ++p_;
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') {
                if (frac_digits < 9) frac = frac * 10 + (*p_ - '0');
                ++frac_digits;
                ++p_;
            }
        }
        if ((!any_whole && frac_digits == 0) || (p_ < e_ && *p_ != ','))
            return fail_field(start, "not a time in seconds after midnight");
        for (int i = std::min(frac_digits, 9); i < 9; ++i) frac *= 10;
        if (whole_digits > 6 || whole * kNanosPerSecond + frac > kDayNanos)
            return fail_field(start, "time out of range (0 to 86400 seconds after midnight)");
        ns = whole * kNanosPerSecond + frac;
        return true;
    }

    // After the last field: nothing may follow.
    bool finish() {
        if (p_ == e_) return true;
        return fail_columns();
    }

    // Byte offset of the field last begun, and of the parser now.
    [[nodiscard]] std::size_t field_start() const noexcept { return start_; }
    [[nodiscard]] std::size_t position() const noexcept { return static_cast<std::size_t>(p_ - line_.data()); }
    // 1-based column of the field last begun.
    [[nodiscard]] std::size_t column() const noexcept { return column_; }
    [[nodiscard]] const std::string& problem() const noexcept { return problem_; }
    [[nodiscard]] bool whole_line() const noexcept { return whole_line_; }
    [[nodiscard]] std::size_t count_columns() const noexcept {
        return 1 + static_cast<std::size_t>(std::count(line_.begin(), line_.end(), ','));
    }
    void expect(std::size_t columns) noexcept { expected_ = columns; }

private:
    bool begin_field() {
        if (column_ > 0) {
            if (p_ == e_) return fail_columns();
            ++p_;  // the ','
        }
        ++column_;
        start_ = static_cast<std::size_t>(p_ - line_.data());
        return true;
    }
    bool fail_field(const char* start, const char* what) {
        const char* end = start;
        while (end < e_ && *end != ',') ++end;
        problem_ = std::string(what) + ": '" + printable(start, end) + "'";
        return false;
    }
    // A field as it may be shown on a terminal: bytes outside printable
    // ASCII as \xNN, and a long field cut (a binary file read as CSV has
    // fields of any length and content).
    static std::string printable(const char* start, const char* end) {
        constexpr std::ptrdiff_t kShown = 40;
        std::string out;
        const std::ptrdiff_t shown = std::min(end - start, kShown);
        for (std::ptrdiff_t i = 0; i < shown; ++i) {
            const auto b = static_cast<unsigned char>(start[i]);
            if (b >= 0x20 && b < 0x7f) {
                out += start[i];
            } else {
                static constexpr char kHex[] = "0123456789abcdef";
                out += "\\x";
                out += kHex[b >> 4];
                out += kHex[b & 15];
            }
        }
        if (end - start > kShown) out += "...";
        return out;
    }
    bool fail_columns() {
        problem_ = "expected " + std::to_string(expected_) + " columns, found " + std::to_string(count_columns());
        whole_line_ = true;
        return false;
    }

    std::string_view line_;
    const char* p_;
    const char* e_;
    std::size_t column_ = 0;
    std::size_t start_ = 0;
    std::size_t expected_ = 0;
    bool whole_line_ = false;
    std::string problem_;
};

// Line 1 is a header if none of its fields starts like a number.
inline bool is_header(std::string_view line) {
    bool field_start = true;
    for (const char c : line) {
        if (field_start && ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.')) return false;
        field_start = c == ',';
    }
    return true;
}

// The shared half of both readers: lines, the header, errors with a place.
class RowSource {
public:
    explicit RowSource(std::string path) : lines_(std::move(path)) {
        if (!lines_.is_open()) error_ = lines_.error();
    }
    RowSource(std::string name, std::string_view text) : lines_(std::move(name), text) {}
    RowSource(std::string, std::string&&) = delete;  // the text would not outlive the reader

    [[nodiscard]] bool is_open() const noexcept { return lines_.is_open(); }
    [[nodiscard]] const std::string& name() const noexcept { return lines_.name(); }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] bool io_error() const noexcept { return lines_.io_error(); }
    [[nodiscard]] std::uint64_t line() const noexcept { return lines_.line(); }
    [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return lines_.bytes(); }

protected:
    // The next data line; false at the end or on an error.
    bool next_line(std::string_view& line) {
        if (!error_.empty()) return false;
        for (;;) {
            if (!lines_.next(line)) {
                if (!lines_.error().empty()) error_ = lines_.error();
                return false;
            }
            if (line.empty()) continue;
            if (lines_.line() == 1 && is_header(line)) continue;
            ++rows_;
            return true;
        }
    }
    bool fail(const Fields& f) { return fail(f.whole_line() ? 0 : f.column(), f.problem()); }
    bool fail(std::size_t column, const std::string& what) {
        error_ = lines_.name() + ": line " + std::to_string(lines_.line()) +
                 (column ? ", column " + std::to_string(column) : std::string()) + ": " + what;
        return false;
    }

private:
    LineReader lines_;
    std::string error_;
    std::uint64_t rows_ = 0;
};

}  // namespace detail

class MessageReader : public detail::RowSource {
public:
    static constexpr std::size_t kColumns = 6;
    using RowSource::RowSource;

    bool next(Message& m) {
        std::string_view line;
        if (!next_line(line)) return false;
        detail::Fields f(line);
        f.expect(kColumns);
        std::int64_t time = 0, type = 0, id = 0, size = 0, price = 0, direction = 0;
        if (!f.seconds(time) || !f.integer(type) || !f.integer(id) || !f.integer(size) || !f.integer(price) ||
            !f.integer(direction) || !f.finish())
            return fail(f);
        if (type < 1 || type > 7)
            return fail(2, "event type " + std::to_string(type) + " is not one of LOBSTER's 1 to 7");
        if (direction != 1 && direction != -1)
            return fail(6, "direction " + std::to_string(direction) + " is neither 1 (buy order) nor -1 (sell order)");
        const auto t = static_cast<EventType>(type);
        if (t == EventType::Halt) {
            if (price < -1 || price > 1)
                return fail(5, "a trading halt indicator (type 7) has price -1, 0 or 1, not " + std::to_string(price));
            if (size < 0) return fail(4, "size " + std::to_string(size) + " is negative");
        } else {
            // A cross may report no shares (NASDAQ announces crosses that did not trade).
            const bool may_be_empty = t == EventType::Cross && size == 0;
            if (size <= 0 && !may_be_empty) return fail(4, "size " + std::to_string(size) + " is not positive");
            if (size > std::int64_t{kMaxSize})
                return fail(
                    4, "size " + std::to_string(size) + " out of range (at most " + std::to_string(kMaxSize) + ")");
            if ((price < 1 && !(may_be_empty && price == 0)) || price > kMaxPrice)
                return fail(5, "price " + std::to_string(price) + " out of range (1 to " + std::to_string(kMaxPrice) +
                                   ", dollars x 10000)");
            if (changes_book(t) && id <= 0) return fail(3, "order id " + std::to_string(id) + " is not positive");
        }
        if (time < last_time_)
            return fail(
                1, "time " + format_time(time) + " is earlier than the row before (" + format_time(last_time_) + ")");
        last_time_ = time;
        // The file's signed field, found not negative above, becomes a Qty here.
        m = Message{time, t, id, static_cast<Qty>(size), price, direction == 1 ? Side::Buy : Side::Sell};
        return true;
    }

private:
    std::int64_t last_time_ = 0;
};

class OrderbookReader : public detail::RowSource {
public:
    // levels 0: taken from the first data row's column count.
    explicit OrderbookReader(std::string path, std::size_t levels = 0) : RowSource(std::move(path)), levels_(levels) {}
    OrderbookReader(std::string name, std::string_view text, std::size_t levels = 0)
        : RowSource(std::move(name), text), levels_(levels) {}
    OrderbookReader(std::string, std::string&&, std::size_t = 0) = delete;

    // Levels per side (0 until the first row when not given).
    [[nodiscard]] std::size_t levels() const noexcept { return levels_; }

    bool next(BookRow& row) {
        std::string_view line;
        if (!next_line(line)) return false;
        if (levels_ == 0) {
            const std::size_t columns = detail::Fields(line).count_columns();
            if (columns % 4 != 0)
                return fail(
                    0, std::to_string(columns) +
                           " columns: an orderbook row has 4 per level (ask price, ask size, bid price, bid size)");
            levels_ = columns / 4;
        }
        if (!(have_prev_ && parse_changed(line)) && !parse_all(line)) return false;
        prev_line_.assign(line);
        have_prev_ = true;
        BadLevel bad[2];
        const bool asks_ok = build(row, Side::Sell, bad[0]);
        const bool bids_ok = build(row, Side::Buy, bad[1]);
        if (asks_ok && bids_ok) [[likely]]
            return true;
        have_prev_ = false;
        // The error of the lower column, as a reader going left to right finds it.
        return report(asks_ok ? bad[1] : !bids_ok && bad[1].column < bad[0].column ? bad[1] : bad[0]);
    }

private:
    struct BadLevel {
        Side side = Side::Buy;
        std::size_t level = 0, column = 0;  // column: the level's price column
        Price price = 0, before = 0;        // before: the price of the level before it
        std::int64_t size = 0;              // as the file wrote it (it may be negative)
        bool ended = false;
    };

    // One side of the row from the parsed fields: the occupied levels, then
    // placeholders only, prices running from the best outwards.
    bool build(BookRow& row, Side s, BadLevel& bad) {
        scratch_.resize(levels_);  // (a no-op after the first row)
        Level* out = scratch_.data();
        const std::size_t offset = s == Side::Sell ? 0 : 2;
        const Price empty = s == Side::Sell ? kEmptyAskPrice : kEmptyBidPrice;
        std::size_t n = 0;
        bool ended = false;
        for (std::size_t l = 0; l < levels_; ++l) {
            const Price price = values_[4 * l + offset];
            const std::int64_t size = values_[4 * l + offset + 1];
            if (price == empty && size == 0) {
                ended = true;
                continue;
            }
            if (ended || price < 1 || price > kMaxPrice || size < 1 || size > std::int64_t{kMaxLevelSize} ||
                (n > 0 && !better(s, out[n - 1].price, price))) [[unlikely]] {
                bad = BadLevel{s, l, 4 * l + offset + 1, price, n ? out[n - 1].price : 0, size, ended};
                return false;
            }
            out[n++] = Level{price, static_cast<Qty>(size)};  // checked to 1..kMaxLevelSize
        }
        row.side(s).assign(out, out + n);
        return true;
    }

    // Every field of the line, with the errors a user is shown.
    bool parse_all(std::string_view line) {
        const std::size_t n = 4 * levels_;
        values_.resize(n);
        starts_.resize(n);
        detail::Fields f(line);
        f.expect(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (!f.integer(values_[i])) return fail(f);
            starts_[i] = f.field_start();
        }
        return f.finish() || fail(f);
    }

    // Consecutive rows mostly differ in a level or two. Fields whose text is
    // byte for byte the previous row's (those that end before the first
    // differing byte, or start after the last one) keep their values; only
    // the fields between are parsed. False if that does not line up: the
    // caller then parses the whole line.
    bool parse_changed(std::string_view line) {
        const std::string_view old = prev_line_;
        const std::size_t n = 4 * levels_;
        const std::size_t shortest = std::min(line.size(), old.size());
        std::size_t head = 0;  // common prefix
        while (head + 8 <= shortest && detail::load8(line.data() + head) == detail::load8(old.data() + head)) head += 8;
        while (head < shortest && line[head] == old[head]) ++head;
        if (head == line.size() && head == old.size()) return true;  // the same row
        std::size_t tail = 0;                                        // common suffix, not overlapping the prefix
        const std::size_t room = shortest - head;
        while (tail + 8 <= room &&
               detail::load8(line.data() + line.size() - tail - 8) == detail::load8(old.data() + old.size() - tail - 8))
            tail += 8;
        while (tail < room && line[line.size() - tail - 1] == old[old.size() - tail - 1]) ++tail;
        // Fields [first, last) are parsed: those before end with a ',' inside
        // the common prefix, those after start after a ',' inside the suffix.
        const auto begin = starts_.begin();
        const std::size_t first =
            static_cast<std::size_t>(std::upper_bound(begin + 1, starts_.end(), head) - (begin + 1));
        const std::size_t last = static_cast<std::size_t>(
            std::lower_bound(begin + static_cast<std::ptrdiff_t>(first) + 1, starts_.end(), old.size() - tail + 1) -
            begin);
        const std::size_t shift_from = last;
        detail::Fields f(line, first ? starts_[first] - 1 : 0, first);
        for (std::size_t i = first; i < last; ++i) {
            if (!f.integer(values_[i])) return false;
            starts_[i] = f.field_start();
        }
        const std::size_t end = line.size() - (old.size() - (last < n ? starts_[last] - 1 : old.size()));
        if (f.position() != end) return false;
        for (std::size_t i = shift_from; i < n; ++i) starts_[i] = starts_[i] + line.size() - old.size();
        return true;
    }
    // Says what is wrong with a level (out of line: errors only).
    [[gnu::noinline, gnu::cold]] bool report(const BadLevel& b) {
        const Side s = b.side;
        const std::size_t l = b.level, column = b.column;
        const Price price = b.price, before = b.before;
        const std::int64_t size = b.size;
        const bool ended = b.ended;
        const std::string name(book_side(s));
        const Price empty = s == Side::Sell ? kEmptyAskPrice : kEmptyBidPrice;
        if (price == empty)
            return fail(column + 1, name + " size " + std::to_string(size) + " at the empty-level price " +
                                        std::to_string(empty) + " (must be 0)");
        if (ended) return fail(column, name + " level " + std::to_string(l + 1) + " is occupied after an empty level");
        if (price < 1 || price > kMaxPrice)
            return fail(column, name + " price " + std::to_string(price) + " out of range (1 to " +
                                    std::to_string(kMaxPrice) + ", or " + std::to_string(empty) +
                                    " for an empty level)");
        if (size < 1 || size > std::int64_t{kMaxLevelSize})
            return fail(column + 1, name + " size " + std::to_string(size) + " at price " + std::to_string(price) +
                                        (size < 1 ? ": an occupied level has a positive size" : " out of range"));
        return fail(column, name + " level " + std::to_string(l + 1) + " (price " + std::to_string(price) +
                                ") is not " + (s == Side::Sell ? "above" : "below") + " level " + std::to_string(l) +
                                " (" + std::to_string(before) + ")");
    }

    std::size_t levels_;
    std::vector<std::int64_t> values_;  // the row's fields, in file order
    std::vector<Level> scratch_;        // one side's levels being built
    std::vector<std::size_t> starts_;   // byte offset of each field in its line
    std::string prev_line_;
    bool have_prev_ = false;
};

}  // namespace nexus::feed::lobster

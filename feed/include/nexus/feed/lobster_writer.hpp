// nexus/feed/lobster_writer.hpp — formats LOBSTER rows as text.
//
// Rows are written with to_chars into a byte buffer that grows without
// zero-filling; the caller hands the buffer's bytes to a file when it likes.
// Times get nine decimals ("34200.004241176"); an empty level is written as
// LOBSTER writes it: 9999999999,0 on the ask side, -9999999999,0 on the bid.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "nexus/feed/lobster_format.hpp"

namespace nexus::feed::lobster {

// Bytes of text, appended through a raw cursor.
class TextBuffer {
public:
    // A cursor with room for `n` more bytes; finish with commit(cursor).
    [[nodiscard]] char* reserve(std::size_t n) {
        if (size_ + n > cap_) grow(size_ + n);
        return data_.get() + size_;
    }
    void commit(const char* end) noexcept { size_ = static_cast<std::size_t>(end - data_.get()); }
    [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; }

private:
    [[gnu::noinline]] void grow(std::size_t need) {
        std::size_t cap = cap_ ? cap_ : 4096;
        while (cap < need) cap *= 2;
        auto bigger = std::make_unique_for_overwrite<char[]>(cap);
        if (size_) std::memcpy(bigger.get(), data_.get(), size_);
        data_ = std::move(bigger);
        cap_ = cap;
    }
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

namespace detail {
// Decimal digits of v, written backwards two at a time from a table (the
// rows are mostly prices and sizes of a few digits; std::to_chars spends
// more on its generality than on the digits).
inline constexpr char kDigitPairs[] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
    "5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
inline constexpr std::uint64_t kPowers10[20] = {1ull,
                                                10ull,
                                                100ull,
                                                1000ull,
                                                10000ull,
                                                100000ull,
                                                1000000ull,
                                                10000000ull,
                                                100000000ull,
                                                1000000000ull,
                                                10000000000ull,
                                                100000000000ull,
                                                1000000000000ull,
                                                10000000000000ull,
                                                100000000000000ull,
                                                1000000000000000ull,
                                                10000000000000000ull,
                                                100000000000000000ull,
                                                1000000000000000000ull,
                                                10000000000000000000ull};
// Decimal digits of v: from its bit length (log10(2) ~ 1233 / 4096), less
// one if v is below that power of ten.
inline std::size_t decimal_digits(std::uint64_t v) noexcept {
    const std::size_t t = (static_cast<std::size_t>(64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return t + ((v | 1) >= kPowers10[t]);
}
inline void put_pair(char* p, std::size_t v) noexcept {
    p[0] = kDigitPairs[2 * v];
    p[1] = kDigitPairs[2 * v + 1];
}
inline char* put_uint(char* p, std::uint64_t v) noexcept {
    const std::size_t n = decimal_digits(v);
    char* out = p + n;
    while (v >= 100) {
        const std::size_t r = static_cast<std::size_t>(v % 100) * 2;
        v /= 100;
        out -= 2;
        out[0] = kDigitPairs[r];
        out[1] = kDigitPairs[r + 1];
    }
    if (v >= 10) {
        out[-2] = kDigitPairs[2 * v];
        out[-1] = kDigitPairs[2 * v + 1];
    } else {
        out[-1] = static_cast<char>('0' + v);
    }
    return p + n;
}
inline char* put_int(char* p, std::int64_t v) noexcept {
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(v));
    }
    return put_uint(p, static_cast<std::uint64_t>(v));
}
inline char* put_level(char* p, Price price, Qty size) noexcept {
    p = put_int(p, price);
    *p++ = ',';
    return put_uint(p, size);
}
}  // namespace detail

// Bytes a message row needs at most.
inline constexpr std::size_t kMessageRowBytes = 6 * 21;
// Bytes an orderbook row of `levels` levels needs at most.
constexpr std::size_t book_row_bytes(std::size_t levels) noexcept { return levels * 4 * 21 + 1; }

// "time,type,id,size,price,direction\n"
inline char* put_message(char* p, const Message& m) noexcept {
    p = detail::put_int(p, m.time_ns / kNanosPerSecond);
    *p++ = '.';
    const auto frac = static_cast<std::size_t>(m.time_ns % kNanosPerSecond);  // nine digits: one, then four pairs
    p[0] = static_cast<char>('0' + frac / 100'000'000);
    const std::size_t low = frac % 100'000'000;
    detail::put_pair(p + 1, low / 1'000'000);
    detail::put_pair(p + 3, low / 10'000 % 100);
    detail::put_pair(p + 5, low / 100 % 100);
    detail::put_pair(p + 7, low % 100);
    p += 9;
    *p++ = ',';
    p = detail::put_int(p, static_cast<int>(m.type));
    *p++ = ',';
    p = detail::put_int(p, m.id);
    *p++ = ',';
    p = detail::put_uint(p, m.size);
    *p++ = ',';
    p = detail::put_int(p, m.price);
    *p++ = ',';
    if (m.side == Side::Sell) *p++ = '-';
    *p++ = '1';
    *p++ = '\n';
    return p;
}

// One side's N levels, each kept as its "price,size" text between rows. An
// exporter's consecutive rows differ in a level or two, or by a shift of one
// level at the touch: assign() reformats only a level whose (price, size)
// is not at the same position, or one position away, in the text it
// replaces, so a row costs copies of short strings rather than 4N number
// conversions.
class SideText {
public:
    struct Cell {
        Price price;
        Qty size;
        std::uint32_t len;
        char text[44];  // "price,size": at most 20 + 1 + 20 characters
    };
    static_assert(sizeof(Cell) == 64, "a cell is one cache line");

    SideText(Side side, std::size_t levels) : side_(side), cells_(levels), spare_(levels) {
        for (auto& c : cells_) set(c, empty_price(), 0);
    }

    [[nodiscard]] std::size_t levels() const noexcept { return cells_.size(); }
    // Occupied levels (the others are placeholders).
    [[nodiscard]] std::size_t occupied() const noexcept { return occupied_; }
    [[nodiscard]] const Cell& operator[](std::size_t i) const noexcept { return cells_[i]; }

    // The side's best levels now, best first (k at most levels()); L has
    // members price and qty (orderbook::LevelInfo).
    template <class L>
    void assign(const L* levels, std::size_t k) {
        const std::size_t n = cells_.size();
        for (std::size_t i = 0; i < n; ++i) {
            const Price price = i < k ? levels[i].price : empty_price();
            const Qty size = i < k ? levels[i].qty : 0;
            Cell& out = spare_[i];
            if (same(i, price, size))
                out = cells_[i];
            else if (i > 0 && same(i - 1, price, size))
                out = cells_[i - 1];
            else if (i + 1 < n && same(i + 1, price, size))
                out = cells_[i + 1];
            else
                set(out, price, size);
        }
        cells_.swap(spare_);
        occupied_ = std::min(k, n);
    }

private:
    Price empty_price() const noexcept { return side_ == Side::Sell ? kEmptyAskPrice : kEmptyBidPrice; }
    bool same(std::size_t i, Price price, Qty size) const noexcept {
        return cells_[i].price == price && cells_[i].size == size;
    }
    static void set(Cell& c, Price price, Qty size) noexcept {
        c.price = price;
        c.size = size;
        c.len = static_cast<std::uint32_t>(detail::put_level(c.text, price, size) - c.text);
    }

    Side side_;
    std::vector<Cell> cells_, spare_;
    std::size_t occupied_ = 0;
};

// "ask_price_1,ask_size_1,bid_price_1,bid_size_1,...\n" from the two sides'
// texts (of the same number of levels). Copies
// whole cells' text arrays: the cursor needs book_row_bytes(levels) +
// kRowSlack bytes of room.
inline constexpr std::size_t kRowSlack = sizeof(SideText::Cell::text);
inline char* put_book_row(char* p, const SideText& asks, const SideText& bids) noexcept {
    const std::size_t n = asks.levels();
    for (std::size_t l = 0; l < n; ++l) {
        std::memcpy(p, asks[l].text, sizeof asks[l].text);
        p += asks[l].len;
        *p++ = ',';
        std::memcpy(p, bids[l].text, sizeof bids[l].text);
        p += bids[l].len;
        *p++ = ',';
    }
    p[-1] = '\n';
    return p;
}

}  // namespace nexus::feed::lobster

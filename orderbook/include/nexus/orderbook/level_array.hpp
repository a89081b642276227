// nexus/orderbook/level_array.hpp — one side's price levels in price order.
//
// A sorted array of (price, level key) pairs, worst price first and best
// price last, so the touch is at the back: the best level is one load, and
// adding or removing a level near the touch moves few entries. The price and
// its key sit side by side, so finding a price and reading its key touch the
// same cache line, and a new level is one insertion, not one per array.
//
// Lookup scans the entries nearest the touch (where most activity is), then
// bisects the rest. The side decides what "better" means: a higher bid, a
// lower ask. The Book keeps one LevelArray per side (book.hpp); the level
// benchmark times this class directly (bench/levels_bench.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include <nexus/slab/key.hpp>

#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

// The Book's direct-mapped price -> level cache in front of each side's
// LevelArray: its size and slot function, shared with the level benchmark
// so that both measure the same thing. 64 entries (the top 6 bits of a
// Fibonacci hash of the price): the live levels near the touch, where most
// orders arrive, then rarely share a slot, so a hit is the common case; the
// whole cache is one 256-byte array of Keys per side, small enough to stay
// in L1 beside the level array itself.
inline constexpr std::size_t kLevelCacheEntries = 64;
[[nodiscard]] constexpr std::size_t level_cache_slot(Price price) noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(price) * 0x9E37'79B9'7F4A'7C15ull) >> 58);
}
static_assert(kLevelCacheEntries == 64, "level_cache_slot keeps the top 6 bits");

class LevelArray {
public:
    struct Entry {
        Price price;
        slab::Key key;
    };
    static_assert(std::is_trivially_copyable_v<Entry>, "entries are moved with memmove");

    // Entries scanned from the touch before bisecting.
    static constexpr std::size_t kLinearScan = 8;

    explicit LevelArray(Side side, std::size_t reserve = 64) : side_(side) { entries_.reserve(reserve); }

    [[nodiscard]] Side side() const noexcept { return side_; }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
    // By position, worst first: [0] is the worst price, [size() - 1] the best.
    [[nodiscard]] const Entry& operator[](std::size_t i) const noexcept { return entries_[i]; }
    // The i-th level from the touch (0 = best).
    [[nodiscard]] const Entry& from_touch(std::size_t i) const noexcept { return entries_[entries_.size() - 1 - i]; }
    [[nodiscard]] const Entry& best() const noexcept { return entries_.back(); }  // not empty()
    [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }
    [[nodiscard]] auto end() const noexcept { return entries_.end(); }

    // Is a a better price than b on this side?
    [[nodiscard]] bool better(Price a, Price b) const noexcept { return side_ == Side::Buy ? a > b : a < b; }

    // Position of `price`: (index, found). When not found, the index is where
    // it would be inserted.
    [[nodiscard]] std::pair<std::size_t, bool> locate(Price price) const noexcept {
        return side_ == Side::Buy ? locate_on<Side::Buy>(price) : locate_on<Side::Sell>(price);
    }

    // Inserts at `pos` (from locate()); may allocate when the array is full.
    void insert(std::size_t pos, Price price, slab::Key key) {
        entries_.push_back(Entry{price, key});
        Entry* e = entries_.data();
        const std::size_t tail = entries_.size() - 1 - pos;  // entries that move up by one
        if (tail != 0) {
            std::memmove(e + pos + 1, e + pos, tail * sizeof(Entry));
            e[pos] = Entry{price, key};
        }
    }
    // Removes the entry at `pos`.
    void erase(std::size_t pos) noexcept {
        Entry* e = entries_.data();
        std::memmove(e + pos, e + pos + 1, (entries_.size() - 1 - pos) * sizeof(Entry));
        entries_.pop_back();
    }
    void pop_best() noexcept { entries_.pop_back(); }
    void clear() noexcept { entries_.clear(); }

private:
    // locate() with the side fixed, so its loops compare without asking.
    template <Side S>
    std::pair<std::size_t, bool> locate_on(Price price) const noexcept {
        // Does an entry at price p sort before `price` (is it worse)?
        const auto worse = [price](Price p) { return S == Side::Buy ? p < price : p > price; };
        const Entry* e = entries_.data();
        const std::size_t n = entries_.size();
        // Near the touch first.
        const std::size_t stop = n > kLinearScan ? n - kLinearScan : 0;
        std::size_t i = n;
        while (i > stop) {
            const Price p = e[i - 1].price;
            if (p == price) return {i - 1, true};
            if (worse(p)) return {i, false};
            --i;
        }
        // Deeper: bisect [0, i) for the first entry that is not worse.
        std::size_t lo = 0, len = i;
        while (len > 0) {
            const std::size_t half = len / 2;
            if (worse(e[lo + half].price)) {
                lo += half + 1;
                len -= half + 1;
            } else {
                len = half;
            }
        }
        return {lo, lo < i && e[lo].price == price};
    }

    std::vector<Entry> entries_;
    Side side_;
};

}  // namespace nexus::orderbook

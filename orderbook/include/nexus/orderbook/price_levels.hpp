// nexus/orderbook/price_levels.hpp — one side's price levels of a market-data
// book, in price order.
//
// The same idea as LevelArray (level_array.hpp), sized for market data: an
// entry is a 4-byte price (ITCH's Price(4)) and the level's 4-byte Key, eight
// to a cache line, worst price first and best price last, so the touch is at
// the back and the best level is one load. Lookup scans the entries nearest
// the touch, where most activity is, then bisects. The array is a pointer and
// two 32-bit counts (16 bytes), so a book with both sides and its counters
// fits one cache line; storage grows by doubling with realloc (entries are
// trivially copyable) and is never shrunk while the book lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include <nexus/slab/key.hpp>

#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

class PriceLevels {
public:
    struct Entry {
        std::uint32_t price;
        slab::Key key;
    };

    // Entries scanned from the touch before bisecting.
    static constexpr std::uint32_t kLinearScan = 8;

    PriceLevels() noexcept = default;
    PriceLevels(PriceLevels&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), cap_(std::exchange(o.cap_, 0)) {}
    PriceLevels& operator=(PriceLevels&& o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            cap_ = std::exchange(o.cap_, 0);
        }
        return *this;
    }
    PriceLevels(const PriceLevels&) = delete;
    PriceLevels& operator=(const PriceLevels&) = delete;
    ~PriceLevels() { std::free(data_); }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    // By position, worst first: [0] is the worst price, [size() - 1] the best.
    [[nodiscard]] const Entry& operator[](std::size_t i) const noexcept { return data_[i]; }
    // The i-th level from the touch (0 = best).
    [[nodiscard]] const Entry& from_touch(std::size_t i) const noexcept { return data_[size_ - 1 - i]; }
    [[nodiscard]] const Entry& best() const noexcept { return data_[size_ - 1]; }  // not empty()
    [[nodiscard]] const Entry* begin() const noexcept { return data_; }
    [[nodiscard]] const Entry* end() const noexcept { return data_ + size_; }

    // Position of `price` on side S: (index, found). When not found, the
    // index is where it would be inserted.
    template <Side S>
    [[nodiscard, gnu::always_inline]] std::pair<std::uint32_t, bool> locate(std::uint32_t price) const noexcept {
        // Does an entry at price p sort before `price` (is it worse)?
        const auto worse = [price](std::uint32_t p) { return S == Side::Buy ? p < price : p > price; };
        const Entry* e = data_;
        const std::uint32_t n = size_;
        const std::uint32_t stop = n > kLinearScan ? n - kLinearScan : 0;
        std::uint32_t i = n;
        while (i > stop) {
            const std::uint32_t p = e[i - 1].price;
            if (p == price) return {i - 1, true};
            if (worse(p)) return {i, false};
            --i;
        }
        if (i == 0) return {0, false};  // worse than every level
        return bisect<S>(price, i);
    }
    [[nodiscard]] std::pair<std::uint32_t, bool> locate(Side side, std::uint32_t price) const noexcept {
        return side == Side::Buy ? locate<Side::Buy>(price) : locate<Side::Sell>(price);
    }

    // Inserts at `pos` (from locate()); may allocate (std::bad_alloc leaves
    // the array as it was).
    void insert(std::uint32_t pos, std::uint32_t price, slab::Key key) {
        if (size_ == cap_) [[unlikely]]
            grow();
        // A new best level (the commonest insertion) moves nothing: no call.
        if (pos != size_) std::memmove(data_ + pos + 1, data_ + pos, (size_ - pos) * sizeof(Entry));
        data_[pos] = Entry{price, key};
        ++size_;
    }
    // Removes the entry at `pos`.
    void erase(std::uint32_t pos) noexcept {
        std::memmove(data_ + pos, data_ + pos + 1, (size_ - 1 - pos) * sizeof(Entry));
        --size_;
    }
    void pop_best() noexcept { --size_; }
    void clear() noexcept { size_ = 0; }

private:
    template <Side S>
    [[gnu::noinline]] std::pair<std::uint32_t, bool> bisect(std::uint32_t price, std::uint32_t end) const noexcept {
        const auto worse = [price](std::uint32_t p) { return S == Side::Buy ? p < price : p > price; };
        std::uint32_t lo = 0, len = end;
        while (len > 0) {
            const std::uint32_t half = len / 2;
            if (worse(data_[lo + half].price)) {
                lo += half + 1;
                len -= half + 1;
            } else {
                len = half;
            }
        }
        return {lo, lo < end && data_[lo].price == price};
    }
    [[gnu::noinline, gnu::cold]] void grow() {
        if (cap_ >= 0x8000'0000u) throw std::bad_alloc();  // more levels than the slab's key space
        const std::uint32_t cap = cap_ ? cap_ * 2 : 8;
        void* p = std::realloc(data_, std::size_t{cap} * sizeof(Entry));
        if (p == nullptr) throw std::bad_alloc();
        data_ = static_cast<Entry*>(p);
        cap_ = cap;
    }

    Entry* data_ = nullptr;  // cap_ entries, [0, size_) in use, worst price first
    std::uint32_t size_ = 0;
    std::uint32_t cap_ = 0;
};

}  // namespace nexus::orderbook

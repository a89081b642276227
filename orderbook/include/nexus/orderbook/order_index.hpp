// nexus/orderbook/order_index.hpp — exchange order ID -> slab Key.
//
// Interchangeable indexes, one per shape of ID stream (the Book takes the
// index as a template parameter):
//   OpenAddressingIndex  linear probing, Fibonacci hashing, backward-shift
//                        deletion (no tombstones), load factor <= 1/2. The default.
//   PagedIndex           a direct map of pages of 4096 keys indexed by id >> 12;
//                        fastest for dense IDs, unbounded memory for sparse ones.
//   StdIndex             std::unordered_map, the ordinary choice.
//   WindowIndex          a direct map over a sliding window of recent IDs
//                        (pages of 4096 keys in a ring), backed by an
//                        OpenAddressingIndex for IDs outside it: built for
//                        IDs that mostly increase (ITCH order references,
//                        the engine's own IDs), with bounded memory.
// Interface: find(id) -> Key (NONE if absent), insert(id, key) for an absent id,
// erase(id) for a present id, size(), reserve(n). ID 0 is never stored.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "nexus/orderbook/types.hpp"

namespace nexus::orderbook {

class OpenAddressingIndex {
public:
    explicit OpenAddressingIndex(std::size_t expected = 64) { rehash(capacity_for(expected)); }

    [[nodiscard]] slab::Key find(OrderId id) const noexcept {
        std::size_t i = slot(id);
        for (;;) {
            const Entry& e = table_[i];
            // Emptiness first: an empty slot's id is 0, so find(0) must not match it.
            if (e.id == 0) return slab::Key::NONE;
            if (e.id == id) return slab::Key::from_index(e.key);
            i = (i + 1) & mask_;
        }
    }

    void insert(OrderId id, slab::Key key) {
        if (size_ >= grow_at_) [[unlikely]]
            rehash(table_.size() * 2);
        place(id, key.index());
        ++size_;
    }

    void erase(OrderId id) noexcept {
        std::size_t i = slot(id);
        while (table_[i].id != id) i = (i + 1) & mask_;
        // Backward-shift: pull later entries of the probe run into the hole.
        std::size_t hole = i;
        for (std::size_t j = (i + 1) & mask_; table_[j].id != 0; j = (j + 1) & mask_) {
            const std::size_t home = slot(table_[j].id);
            // Move j into the hole unless its home lies cyclically in (hole, j].
            const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                table_[hole] = table_[j];
                hole = j;
            }
        }
        table_[hole] = Entry{};
        --size_;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void reserve(std::size_t n) {
        if (capacity_for(n) > table_.size()) rehash(capacity_for(n));
    }
    // Brings the cache line of an ID's home slot closer, for a find() soon after.
    void prefetch(OrderId id) const noexcept { __builtin_prefetch(&table_[slot(id)]); }

private:
    struct Entry {
        OrderId id = 0;  // 0 = empty
        std::uint32_t key = 0;
    };
    static std::size_t capacity_for(std::size_t n) {
        std::size_t c = 16;
        while (c < n * 2) c *= 2;
        return c;
    }
    std::size_t slot(OrderId id) const noexcept {
        return static_cast<std::size_t>((id * 0x9E37'79B9'7F4A'7C15ull) >> shift_);
    }
    void place(OrderId id, std::uint32_t key) noexcept {
        std::size_t i = slot(id);
        while (table_[i].id != 0) i = (i + 1) & mask_;
        table_[i] = Entry{id, key};
    }
    // Out of line and cold: inlined, its register pressure would make every
    // insert save and restore registers it only needs when the table grows.
    [[gnu::noinline, gnu::cold]] void rehash(std::size_t cap) {
        std::vector<Entry> old = std::move(table_);
        table_.assign(cap, Entry{});
        mask_ = cap - 1;
        grow_at_ = cap / 2;
        shift_ = 64;
        for (std::size_t c = cap; c > 1; c >>= 1) --shift_;
        for (const Entry& e : old)
            if (e.id != 0) place(e.id, e.key);
    }

    std::vector<Entry> table_;  // power-of-two size, at most half full
    std::size_t mask_ = 0;
    std::size_t grow_at_ = 0;  // size at which the next insert doubles the table (half its capacity)
    unsigned shift_ = 64;      // 64 - log2(capacity): top bits of the product pick the slot
    std::size_t size_ = 0;
};

class PagedIndex {
public:
    explicit PagedIndex(std::size_t = 0) {}
    [[nodiscard]] slab::Key find(OrderId id) const noexcept {
        const std::size_t p = static_cast<std::size_t>(id >> kBits);
        if (p >= pages_.size() || !pages_[p]) return slab::Key::NONE;
        return pages_[p][id & kMask];
    }
    void insert(OrderId id, slab::Key key) {
        const std::size_t p = static_cast<std::size_t>(id >> kBits);
        if (p >= pages_.size()) pages_.resize(p + 1);
        if (!pages_[p]) pages_[p] = std::make_unique<slab::Key[]>(kPage);  // Key() is NONE
        pages_[p][id & kMask] = key;
        ++size_;
    }
    void erase(OrderId id) noexcept {
        pages_[static_cast<std::size_t>(id >> kBits)][id & kMask] = slab::Key::NONE;
        --size_;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void reserve(std::size_t) {}

private:
    static constexpr unsigned kBits = 12;
    static constexpr std::size_t kPage = std::size_t{1} << kBits;
    static constexpr OrderId kMask = kPage - 1;
    std::vector<std::unique_ptr<slab::Key[]>> pages_;
    std::size_t size_ = 0;
};

// Exchange IDs that increase through the day (ITCH assigns order references
// in sequence across all stocks) make a direct map the natural index: an
// order's entry sits next to the entries of the orders added just before and
// after it, so orders that die young find theirs in a cache line that is
// still hot (orders that live long gain only the missing hash and probe). PagedIndex does that without bound (a sparse
// or hostile ID space allocates a page per ID); WindowIndex keeps the direct map for a window of n pages only
// (`Pages{n}`, 256 by default):
//  * the window is a ring of page pointers covering page numbers
//    [low, low + n); a page is taken from a free list when its
//    first entry arrives and given back when its last entry leaves;
//  * an ID above the window slides it up; the entries of pages that fall off
//    the bottom move into `overflow_` (an OpenAddressingIndex), and so do IDs
//    below the window. Each entry moves at most once.
// Memory: at most n pages (16 KiB each) plus an overflow table (16-byte
// entries, at most half full) for the live orders that left the window.
class WindowIndex {
public:
    static constexpr unsigned kPageBits = 12;
    static constexpr std::size_t kPage = std::size_t{1} << kPageBits;

    // The window's size in pages (rounded up to a power of two).
    struct Pages {
        std::size_t n;
    };
    static constexpr std::size_t kDefaultPages = 256;  // 4 MiB, the last million IDs

    WindowIndex() : WindowIndex(Pages{kDefaultPages}) {}
    explicit WindowIndex(Pages window) : ring_(round_up(window.n)), counts_(ring_.size(), 0), mask_(ring_.size() - 1) {}
    // The other indexes' constructor: the expected order count does not size
    // a window (what matters is how far IDs spread), so it takes the default.
    explicit WindowIndex(std::size_t /*expected orders*/) : WindowIndex() {}
    WindowIndex(const WindowIndex&) = delete;
    WindowIndex& operator=(const WindowIndex&) = delete;
    WindowIndex(WindowIndex&&) noexcept = default;
    WindowIndex& operator=(WindowIndex&&) noexcept = default;

    [[nodiscard, gnu::always_inline]] slab::Key find(OrderId id) const noexcept {
        const std::uint64_t p = id >> kPageBits;
        if (p - low_ <= mask_) {
            const slab::Key* page = ring_[p & mask_];
            return page != nullptr ? page[id & (kPage - 1)] : slab::Key::NONE;
        }
        return overflow_.find(id);
    }
    [[gnu::always_inline]] void insert(OrderId id, slab::Key key) {
        const std::uint64_t p = id >> kPageBits;
        slab::Key* page = p - low_ <= mask_ ? ring_[p & mask_] : nullptr;
        if (page == nullptr) [[unlikely]] {
            insert_slow(id, key);
            return;
        }
        page[id & (kPage - 1)] = key;
        ++counts_[p & mask_];
        ++size_;
    }

    [[gnu::always_inline]] void erase(OrderId id) noexcept {
        const std::uint64_t p = id >> kPageBits;
        const std::size_t r = static_cast<std::size_t>(p & mask_);
        if (p - low_ > mask_ || --counts_[r] == 0) [[unlikely]] {
            erase_slow(id);
            return;
        }
        ring_[r][id & (kPage - 1)] = slab::Key::NONE;
        --size_;
    }

    // Brings the cache line of an ID's entry closer, for a find() soon
    // after. Returns the entry's address when it is on a window page (the
    // page may be given up before it is read: read it only while the index
    // is unchanged), nullptr otherwise.
    [[gnu::always_inline]] const slab::Key* prefetch(OrderId id) const noexcept {
        const std::uint64_t p = id >> kPageBits;
        if (p - low_ <= mask_) {
            const slab::Key* page = ring_[p & mask_];
            if (page == nullptr) return nullptr;
            const slab::Key* entry = page + (id & (kPage - 1));
            __builtin_prefetch(entry);
            return entry;
        }
        overflow_.prefetch(id);
        return nullptr;
    }

    // Where find(id, spot) saw an ID's entry on a page of the window, so that
    // the insert or erase of that ID which follows, with no other change to
    // the index in between, writes it without walking the window again.
    struct Spot {
        slab::Key* entry = nullptr;      // nullptr: the ID is not on a present window page
        std::uint32_t* count = nullptr;  // its page's live entries
    };
    [[nodiscard, gnu::always_inline]] slab::Key find(OrderId id, Spot& spot) noexcept {
        const std::uint64_t p = id >> kPageBits;
        if (p - low_ <= mask_) {
            const std::size_t r = static_cast<std::size_t>(p & mask_);
            slab::Key* page = ring_[r];
            if (page == nullptr) return slab::Key::NONE;
            spot = Spot{page + (id & (kPage - 1)), &counts_[r]};
            return *spot.entry;
        }
        return overflow_.find(id);
    }
    // Inserts an absent ID, `spot` from its find().
    [[gnu::always_inline]] void insert(OrderId id, slab::Key key, Spot spot) {
        if (spot.entry == nullptr) [[unlikely]] {
            insert_slow(id, key);
            return;
        }
        *spot.entry = key;
        ++*spot.count;
        ++size_;
    }
    // Erases a present ID, `spot` from its find().
    [[gnu::always_inline]] void erase(OrderId id, Spot spot) noexcept {
        if (spot.entry == nullptr || --*spot.count == 0) [[unlikely]] {
            erase_slow(id);
            return;
        }
        *spot.entry = slab::Key::NONE;
        --size_;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void reserve(std::size_t) {}  // the window needs none; the overflow grows as orders leave it
    // Forgets every entry and starts over at ID 0, keeping the pages it has
    // (on the free list) but not the overflow table.
    void clear() {
        for (std::size_t r = 0; r < ring_.size(); ++r) {
            if (ring_[r] == nullptr) continue;
            std::fill(ring_[r], ring_[r] + kPage, slab::Key::NONE);
            free_.push_back(ring_[r]);
            ring_[r] = nullptr;
            counts_[r] = 0;
        }
        low_ = 0;
        overflow_ = OpenAddressingIndex(1024);
        size_ = 0;
    }
    // Pages allocated so far (in the window or free), and entries outside it.
    [[nodiscard]] std::size_t pages_allocated() const noexcept { return storage_.size(); }
    [[nodiscard]] std::size_t overflow_size() const noexcept { return overflow_.size(); }

private:
    static std::size_t round_up(std::size_t n) {
        std::size_t c = 1;
        while (c < n) c *= 2;
        return c;
    }
    // An ID below the window, above it (the window slides), or on a page
    // not yet taken.
    [[gnu::noinline]] void insert_slow(OrderId id, slab::Key key) {
        const std::uint64_t p = id >> kPageBits;
        ++size_;
        if (p < low_) {
            overflow_.insert(id, key);
            return;
        }
        if (p - low_ > mask_) slide(p - mask_);
        slab::Key*& page = ring_[p & mask_];
        if (page == nullptr) page = take_page();
        page[id & (kPage - 1)] = key;
        ++counts_[p & mask_];
    }
    // An ID outside the window, or the last entry of its page (the fast
    // path has already counted it down).
    [[gnu::noinline]] void erase_slow(OrderId id) noexcept {
        const std::uint64_t p = id >> kPageBits;
        --size_;
        if (p - low_ > mask_) {
            overflow_.erase(id);
            return;
        }
        const std::size_t r = static_cast<std::size_t>(p & mask_);
        ring_[r][id & (kPage - 1)] = slab::Key::NONE;
        free_.push_back(ring_[r]);  // every entry is NONE again
        ring_[r] = nullptr;
    }
    slab::Key* take_page() {
        if (free_.empty()) {
            storage_.push_back(std::make_unique<slab::Key[]>(kPage));  // Key() is NONE
            free_.reserve(storage_.size());
            return storage_.back().get();
        }
        slab::Key* page = free_.back();
        free_.pop_back();
        return page;
    }
    // Moves the window so that it starts at page `new_low`.
    void slide(std::uint64_t new_low) {
        const std::uint64_t gone = std::min<std::uint64_t>(new_low - low_, ring_.size());
        for (std::uint64_t q = low_; q < low_ + gone; ++q) {
            const std::size_t r = static_cast<std::size_t>(q & mask_);
            slab::Key* page = ring_[r];
            if (page == nullptr) continue;
            for (std::size_t i = 0; i < kPage && counts_[r] > 0; ++i) {
                if (!page[i].has_value()) continue;
                overflow_.insert((q << kPageBits) | i, page[i]);
                page[i] = slab::Key::NONE;
                --counts_[r];
            }
            free_.push_back(page);
            ring_[r] = nullptr;
        }
        low_ = new_low;
    }

    std::vector<slab::Key*> ring_;       // page of page number p at [p & mask_], or nullptr
    std::vector<std::uint32_t> counts_;  // live entries of each ring page
    std::size_t mask_;
    std::uint64_t low_ = 0;         // first page number of the window
    std::vector<slab::Key*> free_;  // pages with every entry NONE
    std::vector<std::unique_ptr<slab::Key[]>> storage_;
    OpenAddressingIndex overflow_{1024};
    std::size_t size_ = 0;
};

class StdIndex {
public:
    explicit StdIndex(std::size_t expected = 64) { map_.reserve(expected); }
    [[nodiscard]] slab::Key find(OrderId id) const noexcept {
        const auto it = map_.find(id);
        return it == map_.end() ? slab::Key::NONE : it->second;
    }
    void insert(OrderId id, slab::Key key) { map_.emplace(id, key); }
    void erase(OrderId id) noexcept { map_.erase(id); }
    [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
    void reserve(std::size_t n) { map_.reserve(n); }

private:
    std::unordered_map<OrderId, slab::Key> map_;
};

// One index shared by several books (for example all books of an ITCH feed,
// whose order references are unique across the day): each book holds this
// pointer wrapper; the books check that a found order is theirs.
template <class Base>
class SharedIndex {
public:
    explicit SharedIndex(Base* base) noexcept : base_(base) {}
    [[nodiscard, gnu::always_inline]] slab::Key find(OrderId id) const noexcept { return base_->find(id); }
    [[gnu::always_inline]] void insert(OrderId id, slab::Key key) { base_->insert(id, key); }
    [[gnu::always_inline]] void erase(OrderId id) noexcept { base_->erase(id); }
    [[nodiscard]] std::size_t size() const noexcept { return base_->size(); }
    void reserve(std::size_t n) { base_->reserve(n); }

private:
    Base* base_;
};

template <class T>
inline constexpr bool kIsSharedIndex = false;
template <class Base>
inline constexpr bool kIsSharedIndex<SharedIndex<Base>> = true;

}  // namespace nexus::orderbook

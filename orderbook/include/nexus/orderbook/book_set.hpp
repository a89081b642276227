// nexus/orderbook/book_set.hpp — many instruments: books indexed by a small
// dense ID (ITCH's stock locate), all drawing nodes from one Pools.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "nexus/orderbook/book.hpp"

namespace nexus::orderbook {

template <class Listener = NullListener, class Index = OpenAddressingIndex>
class BookSet {
public:
    using BookType = Book<Listener, Index>;

    // Each book builds its own index from the expected order count.
    BookSet(Pools& pools, Listener& listener) requires std::is_constructible_v<Index, std::size_t>
        : pools_(pools), listener_(listener) {}
    // Every book gets a copy of `prototype` as its index (a SharedIndex makes
    // them all use one table).
    BookSet(Pools& pools, Listener& listener, Index prototype)
        : pools_(pools), listener_(listener), prototype_(std::move(prototype)) {}

    // Creates the book of `id` (or returns the existing one).
    BookType& open(InstrumentId id, BookLimits limits = {}, std::size_t expected_orders = 64) {
        if (id >= books_.size()) books_.resize(static_cast<std::size_t>(id) + 1);
        if (!books_[id]) {
            if constexpr (std::is_constructible_v<Index, std::size_t>) {
                if (!prototype_) {
                    books_[id] = std::make_unique<BookType>(pools_, listener_, id, limits, expected_orders);
                    return *books_[id];
                }
            }
            books_[id] = std::make_unique<BookType>(pools_, listener_, id, limits, Index(*prototype_));
        }
        return *books_[id];
    }
    // The book of `id`, or nullptr if it was never opened.
    [[nodiscard]] BookType* get(InstrumentId id) noexcept { return id < books_.size() ? books_[id].get() : nullptr; }
    [[nodiscard]] const BookType* get(InstrumentId id) const noexcept {
        return id < books_.size() ? books_[id].get() : nullptr;
    }
    // Calls f(BookType&) for every open book, in ID order.
    template <class F>
    void for_each(F&& f) {
        for (auto& b : books_)
            if (b) f(*b);
    }
    [[nodiscard]] Pools& pools() noexcept { return pools_; }
    [[nodiscard]] const Pools& pools() const noexcept { return pools_; }
    [[nodiscard]] std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const auto& b : books_) n += b != nullptr;
        return n;
    }

private:
    Pools& pools_;
    Listener& listener_;
    std::vector<std::unique_ptr<BookType>> books_;
    std::optional<Index> prototype_;
};

}  // namespace nexus::orderbook

// Operations shared by the two owning handles (Slot and Handle). Internal.
#pragma once

#include <utility>

#include "nexus/slab/detail/core.hpp"

namespace nexus::slab::detail {

// Derived supplies:
//   void free_cell(Cell<T>*) noexcept  destroy the value and free the cell
//   void disown() noexcept             the handle stops owning (leak/free)
template <class Derived, class T>
class OwnerBase {
public:
    using value_type = T;

    [[nodiscard]] const T& get() const noexcept { return *checked()->value(); }
    [[nodiscard]] T& get_mut() noexcept { return *checked()->value(); }
    [[nodiscard]] T& operator*() noexcept { return get_mut(); }
    [[nodiscard]] const T& operator*() const noexcept { return get(); }
    T* operator->() noexcept { return checked()->value(); }
    const T* operator->() const noexcept { return checked()->value(); }
    [[nodiscard]] const T* as_ptr() const noexcept { return cell_ ? cell_->value() : nullptr; }
    [[nodiscard]] T* as_mut_ptr() noexcept { return cell_ ? cell_->value() : nullptr; }

    // Swaps in a new value in place (same cell, same key); returns the old one.
    T replace(T value) { return std::exchange(*checked()->value(), std::move(value)); }

    // Moves the value out and frees the cell; the handle is empty afterwards.
    [[nodiscard]] T into_inner() {
        CellT* c = checked();
        T out(std::move(*c->value()));
        cell_ = nullptr;
        self().free_cell(c);
        return out;
    }

    [[nodiscard]] Key key() const noexcept { return Key::from_raw(checked()->key); }

    // Gives up ownership without freeing: the value stays in the slab under the
    // returned key until it is removed by key (or the slab is torn down).
    [[nodiscard]] Key leak() noexcept {
        const Key k = key();
        cell_ = nullptr;
        self().disown();
        return k;
    }

    // False for a moved-from, leaked, consumed or default-constructed handle.
    [[nodiscard]] bool is_valid() const noexcept { return cell_ != nullptr; }
    explicit operator bool() const noexcept { return cell_ != nullptr; }

    // Destroys the value and frees the cell now.
    void reset() noexcept {
        if (cell_ != nullptr) self().free_cell(std::exchange(cell_, nullptr));
    }

protected:
    using CellT = Cell<T>;

    constexpr OwnerBase() noexcept = default;
    explicit OwnerBase(CellT* c) noexcept : cell_(c) {}

    CellT* checked() const noexcept {
        if constexpr (kChecks) {
            if (cell_ == nullptr) [[unlikely]]
                fatal("access through an empty handle (moved-from, leaked or consumed)");
        }
        return cell_;
    }

    CellT* cell_ = nullptr;  // the owned cell; nullptr = empty handle

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace nexus::slab::detail

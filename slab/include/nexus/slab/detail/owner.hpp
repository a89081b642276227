// Operations shared by the two owning handles (Slot and Handle). Internal.
#pragma once

#include <type_traits>
#include <utility>

#include "nexus/slab/detail/core.hpp"

namespace nexus::slab::detail {

// Derived supplies:
//   void free_cell(Cell<T>*) noexcept       destroy the value and free the cell
//   void disown() noexcept                  the handle stops owning (leak)
//   void check_thread(const char*) noexcept checks builds: abort if the calling
//                                           thread is not the one the handle
//                                           belongs to (the verb says how it
//                                           was used)
template <class Derived, class T>
class OwnerBase {
    static_assert(check_value_shape<T>());

public:
    using value_type = T;

    [[nodiscard]] const T& value() const noexcept { return *checked("used")->value(); }
    [[nodiscard]] T& value() noexcept { return *checked("used")->value(); }
    [[nodiscard]] T& operator*() noexcept { return value(); }
    [[nodiscard]] const T& operator*() const noexcept { return value(); }
    T* operator->() noexcept { return checked("used")->value(); }
    const T* operator->() const noexcept { return checked("used")->value(); }
    [[nodiscard]] const T* get() const noexcept { return cell_ ? checked("used")->value() : nullptr; }
    [[nodiscard]] T* get() noexcept { return cell_ ? checked("used")->value() : nullptr; }

    // Swaps in a new value in place (same cell, same key); returns the old one.
    // Never throws once `value` is built, so the slab is never left without
    // a value in the cell (the strong guarantee, trivially): the old value is
    // moved out and the new one moved in, by assignment when that cannot
    // throw, else by destroying the moved-from old value and constructing
    // the new one in its place.
    T replace(T value) noexcept {
        static_assert(std::is_nothrow_move_constructible_v<T>,
                      "nexus::slab: replace() needs T's move constructor to be noexcept, so that it can never "
                      "leave the cell without a value; for such a type assign through value() or use "
                      "take() and insert");
        T* p = checked("used")->value();
        T old(std::move(*p));
        if constexpr (std::is_nothrow_move_assignable_v<T>) {
            *p = std::move(value);
        } else {
            p->~T();
            ::new (static_cast<void*>(p)) T(std::move(value));
        }
        return old;
    }

    // Moves the value out and frees the cell; the handle is empty afterwards.
    [[nodiscard]] T take() {
        CellT* c = checked("used");
        T out(std::move(*c->value()));
        cell_ = nullptr;
        self().free_cell(c);
        return out;
    }

    [[nodiscard]] Key key() const noexcept { return Key::from_index(checked("used")->key); }

    // Gives up ownership without freeing: the value stays in the slab under the
    // returned key until it is removed by key (or the slab is torn down).
    [[nodiscard]] Key release() noexcept {
        CellT* c = checked("leaked");
        c->state &= ~kHeldByHandle;  // the slab owns it now (a teardown's doomed mark stays)
        cell_ = nullptr;
        self().disown();
        return Key::from_index(c->key);
    }

    // False for a moved-from, leaked, consumed or default-constructed handle.
    [[nodiscard]] bool has_value() const noexcept { return cell_ != nullptr; }
    explicit operator bool() const noexcept { return cell_ != nullptr; }

    // Destroys the value and frees the cell now.
    void reset() noexcept {
        if (cell_ != nullptr) {
            if constexpr (kChecks) self().check_thread("dropped");
            self().free_cell(std::exchange(cell_, nullptr));
        }
    }

protected:
    using CellT = Cell<T>;

    constexpr OwnerBase() noexcept = default;
    explicit OwnerBase(CellT* c) noexcept : cell_(c) {}

    CellT* checked(const char* verb) const noexcept {
        if constexpr (kChecks) {
            if (cell_ == nullptr) [[unlikely]]
                fatal("access through an empty handle (moved-from, leaked or consumed)");
            self().check_thread(verb);
        } else {
            (void)verb;
        }
        return cell_;
    }

    CellT* cell_ = nullptr;  // the owned cell; nullptr = empty handle

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
};

}  // namespace nexus::slab::detail

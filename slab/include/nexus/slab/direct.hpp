// nexus/slab/direct.hpp — slabs you own: BoundedSlab<T> and UnboundedSlab<T>.
//
//   nexus::slab::BoundedSlab<Order> orders(1024);          // one allocation, all pages touched
//   auto h = orders.emplace(42, 100);                      // Handle<Order>, RAII
//   nexus::slab::Key k = orders.emplace_key(43, 101);      // key-based: the slab owns the value
//   orders[k].qty = 7;
//   orders.remove(k);
//
//   nexus::slab::UnboundedSlab<Node> nodes({.chunk_capacity = 4096, .capacity = 10'000});
//
// Any number per thread, created at run time. A slab is used by one thread at a
// time (no internal locking) and never moves (it is neither copyable nor
// movable: handles point into it; hold it by unique_ptr to move it around).
// A slab with no live Handle may be handed to another thread (with the usual
// synchronisation) and used there. Its Handles, though, belong to one thread:
// the one that made the first of those now alive; each must be made, used
// and dropped there. Checks builds abort, naming the slab and both threads,
// when one is not; release builds do not check.
//
// Two ways to own a value, pick per use:
//  * Handle<T> (insert/emplace): 16 bytes, a cell pointer plus a pointer to the
//    slab. Access costs what a raw pointer costs. Destruction frees the cell
//    through the slab pointer: one extra dependent load compared with the
//    key-based remove. Use it where RAII ownership matters more than size.
//  * Keys (insert_key/emplace_key, remove/take): 4 bytes, the slab owns the
//    value and destroys whatever is still alive when the slab is destroyed.
//    Lookup is a shift, a mask and two loads. This is what linked node
//    structures (the order book) use.
// Handle::release() turns a handle into a key; adopt(key) turns it back. While a
// Handle owns a value, remove/take/adopt of its key are misuse (a second
// owner): checks builds abort naming the key.
//
// Failure: insert/emplace throw SlabFull (bounded, full) or CapacityError
// (unbounded at max_capacity or the key space); try_* hand the value back
// untouched (nullopt / Key::NONE). remove/take/operator[] require a live key:
// checks builds (NEXUS_SLAB_CHECKS) abort naming the problem, release builds
// trust the caller. contains() and get() are always checked.
//
// Teardown: the destructor and clear() destroy every value exactly once,
// even when values own Handles or keys of other values in the same slab
// (see detail/core.hpp), and the destructor frees the storage only after the
// last one. Meanwhile an insert is refused (TeardownInProgress; try_* return
// empty). Handles from outside the slab must be gone first: checks builds
// abort if any is still alive once the slab's own values are destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "nexus/slab/detail/core.hpp"
#include "nexus/slab/detail/owner.hpp"
#include "nexus/slab/detail/threads.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {

template <class T>
class Handle : public detail::OwnerBase<Handle<T>, T> {
    using Base = detail::OwnerBase<Handle<T>, T>;
    using typename Base::CellT;
    friend Base;
    template <class, bool>
    friend class BasicSlab;

public:
    constexpr Handle() noexcept = default;
    Handle(Handle&& o) noexcept : Base(std::exchange(o.cell_, nullptr)), core_(o.core_) {}
    // Takes o's value before letting go of the old one, as unique_ptr does:
    // the old value's destructor may destroy `o` itself (`head = std::move(head->next)`).
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            Handle old(std::move(*this));
            this->cell_ = std::exchange(o.cell_, nullptr);
            core_ = o.core_;
        }  // `old` frees the previous value here
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { this->reset(); }

private:
    Handle(CellT* c, detail::SlabCore<T>* core) noexcept : Base(c), core_(core) {
        if constexpr (detail::kChecks) {
            // The first live handle binds the slab's handles to this thread.
            const std::uint32_t here = detail::this_thread_id();
            if (core_->live_handles_ == 0)
                core_->owner_thread_ = here;
            else if (core_->owner_thread_ != here) [[unlikely]]
                wrong_thread(core_->owner_thread_, "made");
            ++core_->live_handles_;
        }
    }
    void free_cell(CellT* c) noexcept {
        disown();
        core_->template erase<detail::kHeldByHandle>(c, nullptr);
    }
    void disown() noexcept {
        if constexpr (detail::kChecks) --core_->live_handles_;
    }
    void check_thread(const char* verb) const noexcept {
        if constexpr (detail::kChecks) {
            if (core_->owner_thread_ != detail::this_thread_id()) [[unlikely]]
                wrong_thread(core_->owner_thread_, verb);
        } else {
            (void)verb;
        }
    }
    [[noreturn, gnu::cold, gnu::noinline]] void wrong_thread(std::uint32_t owner, const char* verb) const noexcept {
        const detail::ThreadLabel here(detail::kernel_thread_id()), there(owner);
        const std::string_view type = detail::type_name<T>();
        detail::fatalf(
            "a Handle of the slab of %.*s at %p was %s on %s, but the slab's live handles belong to %s "
            "(a Handle must be made, used and dropped on one thread)",
            static_cast<int>(type.size()), type.data(), static_cast<const void*>(core_), verb, here.text, there.text);
    }

    detail::SlabCore<T>* core_ = nullptr;  // the slab the cell belongs to
};

static_assert(sizeof(Handle<int>) == 16);

// The API of both direct slabs; construct a BoundedSlab or UnboundedSlab.
// kBounded (one chunk, known at compile time) makes key lookup a single
// indexed access instead of a chunk-table read plus an indexed access.
template <class T, bool kBounded>
class BasicSlab {
    static_assert(detail::check_value_shape<T>());
    using KeyOp = typename detail::SlabCore<T>::KeyOp;

public:
    using value_type = T;
    using handle_type = Handle<T>;

    BasicSlab(const BasicSlab&) = delete;
    BasicSlab& operator=(const BasicSlab&) = delete;

    // Destroys the values still in the slab, each once, then frees its
    // storage.
    ~BasicSlab() {
        core_.destroy_values(nullptr);
        expect_no_handles("destroyed");
        core_.release_storage();
    }

    // ---- handles ----
    Handle<T> insert(const T& v) { return emplace(v); }
    Handle<T> insert(T&& v) { return emplace(std::move(v)); }
    template <class... Args>
    Handle<T> emplace(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByHandle>(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]]
            core_.throw_no_room(nullptr);
        return Handle<T>(c, &core_);
    }
    // On failure `v` is left exactly as it was: the caller still has it.
    std::optional<Handle<T>> try_insert(T&& v) { return try_emplace(std::move(v)); }
    std::optional<Handle<T>> try_insert(const T& v) { return try_emplace(v); }
    template <class... Args>
    std::optional<Handle<T>> try_emplace(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByHandle>(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]]
            return std::nullopt;
        return Handle<T>(c, &core_);
    }
    // Takes ownership of a live key (for example one from Handle::release()).
    Handle<T> adopt(Key k) noexcept {
        auto* c = core_.template live_cell<kBounded>(k, KeyOp::adopt, nullptr);
        c->state |= detail::kHeldByHandle;
        return Handle<T>(c, &core_);
    }

    // ---- keys ----
    Key insert_key(const T& v) { return emplace_key(v); }
    Key insert_key(T&& v) { return emplace_key(std::move(v)); }
    // Always inlined, like the core's claim and construct beneath them, so
    // that a caller's hot loop holds the whole insert.
    template <class... Args>
    [[gnu::always_inline]] Key emplace_key(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByKey>(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]]
            core_.throw_no_room(nullptr);
        return Key::from_index(c->key);
    }
    // Key::NONE, arguments untouched, when there is no room.
    template <class... Args>
    [[gnu::always_inline]] Key try_emplace_key(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByKey>(std::forward<Args>(args)...);
        return c ? Key::from_index(c->key) : Key::NONE;
    }

    // Destroys the value under a live key and frees its cell.
    void remove(Key k) noexcept {
        core_.template erase<detail::kHeldByKey>(core_.template live_cell<kBounded>(k, KeyOp::remove, nullptr),
                                                 nullptr);
    }
    // Moves the value out from under a live key and frees its cell.
    [[nodiscard]] T take(Key k) {
        auto* c = core_.template live_cell<kBounded>(k, KeyOp::take, nullptr);
        T out(std::move(*c->value()));
        core_.template erase<detail::kHeldByKey>(c, nullptr);
        return out;
    }

    [[nodiscard]] bool contains(Key k) const noexcept { return core_.template find<kBounded>(k) != nullptr; }
    [[nodiscard]] T* get(Key k) noexcept {
        auto* c = core_.template find<kBounded>(k);
        return c ? c->value() : nullptr;
    }
    [[nodiscard]] const T* get(Key k) const noexcept {
        auto* c = core_.template find<kBounded>(k);
        return c ? c->value() : nullptr;
    }
    [[nodiscard]] T& operator[](Key k) noexcept {
        return *core_.template live_cell<kBounded>(k, KeyOp::access, nullptr)->value();
    }
    [[nodiscard]] const T& operator[](Key k) const noexcept {
        return *core_.template live_cell<kBounded>(k, KeyOp::access, nullptr)->value();
    }
    [[nodiscard]] const T& get_unchecked(Key k) const noexcept { return (*this)[k]; }
    [[nodiscard]] T& get_unchecked(Key k) noexcept { return (*this)[k]; }

    [[nodiscard]] std::size_t size() const noexcept { return core_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return core_.capacity(); }
    [[nodiscard]] bool empty() const noexcept { return core_.size() == 0; }

    // Destroys every value still in the slab, each once, and starts over with
    // the storage it has: the next inserts get keys 0, 1, 2... in order, as
    // from a new slab, without giving memory back to the OS and mapping it
    // again. Every key of the slab is dead afterwards; no handle from outside
    // the slab may be alive (the checks build stops the process if one is).
    // Costs a pass over every cell.
    void clear() noexcept {
        core_.destroy_values(nullptr);
        expect_no_handles("cleared (clear())");
        core_.restart();
    }

protected:
    BasicSlab() = default;
    detail::SlabCore<T> core_;

private:
    // The checks build stops the process, naming the slab and what was done
    // to it, if a handle to it is still alive.
    void expect_no_handles(const char* done) const noexcept {
        if constexpr (detail::kChecks) {
            if (core_.live_handles_ != 0) [[unlikely]] {
                const std::string_view type = detail::type_name<T>();
                detail::fatalf(
                    "the slab of %.*s at %p was %s while %zu handles to it from outside it were alive "
                    "(drop or release() them first)",
                    static_cast<int>(type.size()), type.data(), static_cast<const void*>(&core_), done,
                    core_.live_handles_);
            }
        }
    }
};

// Fixed capacity: one contiguous allocation made (and every page touched) by
// the constructor; inserts never allocate; full means full.
template <class T>
class BoundedSlab : public BasicSlab<T, true> {
public:
    explicit BoundedSlab(std::size_t capacity) { this->core_.init_bounded(capacity, nullptr); }
};

// Grows by whole chunks when the free list runs dry; never moves or copies a
// value. `capacity` cells are allocated up front.
template <class T>
class UnboundedSlab : public BasicSlab<T, false> {
public:
    explicit UnboundedSlab(const UnboundedConfig& cfg = {}) { this->core_.init_unbounded(cfg, nullptr); }
};

}  // namespace nexus::slab

// nexus/slab/allocator.hpp — a per-thread, per-type slab allocator made by a macro.
//
//   NEXUS_SLAB_ALLOCATOR(order_alloc, Order);           // at namespace scope
//
//   order_alloc::init().bounded(1024).build();          // once per thread
//   // or: order_alloc::init().unbounded().chunk_capacity(4096).capacity(10'000).build();
//   order_alloc::Slot s = order_alloc::emplace(1, 100); // 8-byte owning handle
//   s->qty = 50;
//   nexus::slab::Key k = s.key();                       // 4-byte link for other nodes
//   s.reset();                                          // or let it go out of scope
//   auto r = order_alloc::shutdown();                   // r.slots_remaining == 0
//
// Every thread that calls init() gets its own slab; nothing is shared and
// nothing is locked. A Slot must be dropped on the thread that made it.
//
// Why a Slot is 8 bytes: it holds only the cell pointer. Its destructor finds
// the slab through the thread-local core named by the Slot's type, and the
// cell's key from the cell's header.
//
// Errors: insert/emplace before init() or after shutdown() throw NotInitialized
// in every build; on a full bounded slab they throw SlabFull, and try_* hand the
// value back. A Slot destroyed after its allocator was torn down (thread exit,
// for instance a Slot kept in a thread_local or a global) aborts with
// "a Slot outlived its allocator" in every build. Key-based access
// (get_unchecked, remove, take, adopt) requires a live key, verified in checks
// builds only; contains_key() and get() are always safe.
//
// Teardown: values still in the slab when the thread exits are destroyed and
// the storage is freed. shutdown() refuses while slots are in use and reports
// how many.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>

#include "nexus/slab/detail/core.hpp"
#include "nexus/slab/detail/owner.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {

template <class Tag, class T>
class ThreadAllocator;

// The owning handle of the allocator `Tag` (spelled `Tag::Slot`).
template <class Tag, class T>
class Slot : public detail::OwnerBase<Slot<Tag, T>, T> {
    using Base = detail::OwnerBase<Slot<Tag, T>, T>;
    using typename Base::CellT;
    friend Base;
    friend class ThreadAllocator<Tag, T>;

public:
    constexpr Slot() noexcept = default;
    Slot(Slot&& o) noexcept : Base(std::exchange(o.cell_, nullptr)) {}
    Slot& operator=(Slot&& o) noexcept {
        if (this != &o) {
            this->reset();
            this->cell_ = std::exchange(o.cell_, nullptr);
        }
        return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { this->reset(); }

private:
    explicit Slot(CellT* c) noexcept : Base(c) {}
    static void free_cell(CellT* c) noexcept { ThreadAllocator<Tag, T>::free_cell(c); }
    void disown() noexcept {}
};

// Returned by shutdown(): it refuses while values are still in the slab.
struct [[nodiscard]] ShutdownResult {
    std::size_t slots_remaining = 0;
    [[nodiscard]] bool ok() const noexcept { return slots_remaining == 0; }
    explicit operator bool() const noexcept { return ok(); }
};

template <class Tag, class T>
class BoundedBuilder {
public:
    explicit BoundedBuilder(std::size_t capacity) noexcept : capacity_(capacity) {}
    void build() const { ThreadAllocator<Tag, T>::init_bounded(capacity_); }

private:
    std::size_t capacity_;
};

template <class Tag, class T>
class UnboundedBuilder {
public:
    UnboundedBuilder& chunk_capacity(std::size_t n) noexcept {
        cfg_.chunk_capacity = n;
        return *this;
    }
    UnboundedBuilder& capacity(std::size_t n) noexcept {
        cfg_.capacity = n;
        return *this;
    }
    UnboundedBuilder& max_capacity(std::size_t n) noexcept {
        cfg_.max_capacity = n;
        return *this;
    }
    void build() const { ThreadAllocator<Tag, T>::init_unbounded(cfg_); }

private:
    UnboundedConfig cfg_{};
};

template <class Tag, class T>
class InitBuilder {
public:
    [[nodiscard]] BoundedBuilder<Tag, T> bounded(std::size_t capacity) const noexcept {
        return BoundedBuilder<Tag, T>(capacity);
    }
    [[nodiscard]] UnboundedBuilder<Tag, T> unbounded() const noexcept { return {}; }
};

// The allocator behind NEXUS_SLAB_ALLOCATOR; all members are static and act on
// the calling thread's slab.
template <class Tag, class T>
class ThreadAllocator {
public:
    using value_type = T;
    using Slot = nexus::slab::Slot<Tag, T>;

    [[nodiscard]] static InitBuilder<Tag, T> init() noexcept { return {}; }
    // What the builders call; throws AlreadyInitialized if this thread's slab is live.
    static void init_bounded(std::size_t capacity) {
        if (core_.initialized()) throw_already();
        arm_teardown();
        core_.init_bounded(capacity);
    }
    static void init_unbounded(const UnboundedConfig& cfg) {
        if (core_.initialized()) throw_already();
        arm_teardown();
        core_.init_unbounded(cfg);
    }

    [[nodiscard]] static bool is_initialized() noexcept { return core_.initialized(); }

    static Slot insert(const T& v) { return emplace(v); }
    static Slot insert(T&& v) { return emplace(std::move(v)); }
    template <class... Args>
    static Slot emplace(Args&&... args) {
        auto* c = core_.try_emplace(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]]
            core_.throw_no_room(Tag::allocator_name());
        return Slot(c);
    }

    // On a full slab: nullopt, and `v` is left exactly as it was.
    static std::optional<Slot> try_insert(T&& v) { return try_emplace(std::move(v)); }
    static std::optional<Slot> try_insert(const T& v) { return try_emplace(v); }
    template <class... Args>
    static std::optional<Slot> try_emplace(Args&&... args) {
        auto* c = core_.try_emplace(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]] {
            if (!core_.initialized()) core_.throw_no_room(Tag::allocator_name());
            return std::nullopt;
        }
        return Slot(c);
    }

    [[nodiscard]] static bool contains_key(Key k) noexcept { return core_.find(k) != nullptr; }
    [[nodiscard]] static T* get(Key k) noexcept {
        auto* c = core_.find(k);
        return c ? c->value() : nullptr;
    }
    [[nodiscard]] static const T& get_unchecked(Key k) noexcept {
        return *core_.live_cell(k, "get_unchecked of a vacant key")->value();
    }
    [[nodiscard]] static T& get_unchecked_mut(Key k) noexcept {
        return *core_.live_cell(k, "get_unchecked_mut of a vacant key")->value();
    }
    // Removal by key, for values whose Slot was leaked.
    static void remove(Key k) noexcept {
        if (!core_.initialized()) [[unlikely]]
            detail::fatal("remove on an allocator that is not initialised");
        core_.erase(core_.live_cell(k, "remove of a vacant or out-of-range key"));
    }
    [[nodiscard]] static T take(Key k) {
        if (!core_.initialized()) [[unlikely]]
            core_.throw_no_room(Tag::allocator_name());
        auto* c = core_.live_cell(k, "take of a vacant or out-of-range key");
        T out(std::move(*c->value()));
        core_.erase(c);
        return out;
    }
    [[nodiscard]] static Slot adopt(Key k) noexcept {
        if (!core_.initialized()) [[unlikely]]
            detail::fatal("adopt on an allocator that is not initialised");
        return Slot(core_.live_cell(k, "adopt of a vacant key"));
    }

    [[nodiscard]] static std::size_t len() noexcept { return core_.len(); }
    [[nodiscard]] static std::size_t capacity() noexcept { return core_.capacity(); }
    [[nodiscard]] static bool is_empty() noexcept { return core_.len() == 0; }

    // Frees this thread's slab if it holds no values; otherwise leaves it alone
    // and reports how many slots are still in use. A no-op when not initialised.
    static ShutdownResult shutdown() noexcept {
        if (core_.len() != 0) return ShutdownResult{core_.len()};
        core_.destroy();
        return ShutdownResult{0};
    }

private:
    friend Slot;
    using CellT = detail::Cell<T>;

    static void free_cell(CellT* c) noexcept {
        if (!core_.initialized()) [[unlikely]]
            detail::fatal("a Slot outlived its allocator (dropped after shutdown or thread exit)");
        core_.erase(c);
    }

    [[noreturn]] static void throw_already() {
        throw AlreadyInitialized(std::string("nexus::slab: allocator '") + Tag::allocator_name() +
                                 "' is already initialised on this thread");
    }

    // At thread exit, destroy what is left and free the storage.
    struct Teardown {
        Teardown() = default;
        Teardown(const Teardown&) = delete;
        Teardown& operator=(const Teardown&) = delete;
        ~Teardown() { core_.destroy(); }
    };
    // Touched only by init: its lazy guard and destructor registration cost
    // nothing on the hot path.
    static void arm_teardown() {
        static thread_local Teardown teardown;
        (void)&teardown;
    }

    // The per-operation state: the only thread-local the hot path reads.
    // `constinit` + a trivially destructible type means the compiler can
    // neither need a first-use guard nor register a destructor, so every
    // access is one %fs-relative load or store (local-exec TLS in an
    // executable): no __tls_get_addr, no TLS wrapper call. A thread-local with
    // a lazy initialiser or a destructor would cost a call and a branch on
    // every insert and remove. Ownership of the storage is carried by
    // Teardown above instead of a destructor here.
    static_assert(std::is_trivially_destructible_v<detail::SlabCore<T>>);
    constinit static inline thread_local detail::SlabCore<T> core_{};
};

}  // namespace nexus::slab

// Defines `name`, a per-thread slab allocator for the type given after it.
// Use at namespace scope. The type may contain commas.
#define NEXUS_SLAB_ALLOCATOR(name, ...)                                              \
    struct name final : ::nexus::slab::ThreadAllocator<name, __VA_ARGS__> {          \
        static constexpr const char* allocator_name() noexcept { return #name; }     \
    }

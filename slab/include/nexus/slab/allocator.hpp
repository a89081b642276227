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
// nothing is locked.
//
// Threads: a Slot belongs to the thread that made it (insert, emplace, adopt)
// and must be used and dropped on that thread; its destructor frees the cell
// into the slab of whichever thread runs it. Checks builds (NEXUS_SLAB_CHECKS)
// remember the thread in the Slot and abort, naming the allocator and both
// threads, if it is used or dropped anywhere else; release builds keep the
// Slot at 8 bytes and do not check. Move the value, not the Slot:
// take() on one thread, insert on the other.
//
// Why a Slot is 8 bytes: it holds only the cell pointer. Its destructor finds
// the slab through the thread-local core named by the Slot's type, and the
// cell's key from the cell's header.
//
// Errors: insert/emplace before init() or after shutdown() throw NotInitialized
// in every build; on a full bounded slab they throw SlabFull, and try_* hand the
// value back. A Slot destroyed after its allocator was torn down (thread exit,
// for instance a Slot kept in a thread_local made before the first init(), or
// in a global) aborts with "a Slot of allocator 'NAME' outlived its allocator"
// in every build. Key-based access
// (get_unchecked, remove, take, adopt) requires a live key, verified in checks
// builds only; there remove, take and adopt also require that no live Slot
// owns the value. contains() and get() are always safe.
//
// Teardown: values still in the slab when the thread exits are destroyed,
// each exactly once, together with those of the thread's other allocators
// (see detail/thread_exit.hpp), and only then is the storage freed. A value's
// destructor may drop Slots, remove keys and use the slab meanwhile; an
// insert then is refused (TeardownInProgress; try_* return empty).
// shutdown() refuses while slots are in use and reports how many.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "nexus/slab/detail/core.hpp"
#include "nexus/slab/detail/owner.hpp"
#include "nexus/slab/detail/thread_exit.hpp"
#include "nexus/slab/detail/threads.hpp"
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
    Slot(Slot&& o) noexcept : Base(std::exchange(o.cell_, nullptr)), thread_(o.thread_) {}
    // Takes o's value before letting go of the old one, as unique_ptr does:
    // the old value's destructor may destroy `o` itself, as in popping a
    // list's head with `head = std::move(head->next)`.
    Slot& operator=(Slot&& o) noexcept {
        if (this != &o) {
            Slot old(std::move(*this));
            this->cell_ = std::exchange(o.cell_, nullptr);
            thread_ = o.thread_;
        }  // `old` frees the previous value here
        return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { this->reset(); }

private:
    explicit Slot(CellT* c) noexcept : Base(c) {
        if constexpr (detail::kChecks) thread_.id = detail::this_thread_id();
    }
    static void free_cell(CellT* c) noexcept { ThreadAllocator<Tag, T>::free_cell(c); }
    void disown() noexcept {}
    void check_thread(const char* verb) const noexcept {
        if constexpr (detail::kChecks) {
            if (thread_.id != detail::this_thread_id()) [[unlikely]]
                ThreadAllocator<Tag, T>::wrong_thread(thread_.id, verb);
        } else {
            (void)verb;
        }
    }

    // Checks builds: the thread whose slab holds the value. Empty (and, with
    // no_unique_address, sizeless) otherwise.
    struct MadeOn {
        std::uint32_t id = 0;
    };
    struct NotTracked {};
    [[no_unique_address]] std::conditional_t<detail::kChecks, MadeOn, NotTracked> thread_;
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
    static_assert(detail::check_value_shape<T>());
    using Core = detail::SlabCore<T>;
    using KeyOp = typename Core::KeyOp;

public:
    using value_type = T;
    using Slot = nexus::slab::Slot<Tag, T>;

    [[nodiscard]] static InitBuilder<Tag, T> init() noexcept { return {}; }
    // What the builders call; throws AlreadyInitialized if this thread's slab
    // is live, NotInitialized once the thread has begun to exit.
    static void init_bounded(std::size_t capacity) {
        prepare_init();
        core_.init_bounded(capacity, name());
    }
    static void init_unbounded(const UnboundedConfig& cfg) {
        prepare_init();
        core_.init_unbounded(cfg, name());
    }

    [[nodiscard]] static bool is_initialized() noexcept { return core_.initialized(); }

    static Slot insert(const T& v) { return emplace(v); }
    static Slot insert(T&& v) { return emplace(std::move(v)); }
    template <class... Args>
    static Slot emplace(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByHandle>(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]]
            core_.throw_no_room(name());
        return Slot(c);
    }

    // On a full slab (or one being torn down): nullopt, and `v` is left
    // exactly as it was.
    static std::optional<Slot> try_insert(T&& v) { return try_emplace(std::move(v)); }
    static std::optional<Slot> try_insert(const T& v) { return try_emplace(v); }
    template <class... Args>
    static std::optional<Slot> try_emplace(Args&&... args) {
        auto* c = core_.template try_emplace<detail::kHeldByHandle>(std::forward<Args>(args)...);
        if (c == nullptr) [[unlikely]] {
            if (!core_.initialized()) core_.throw_no_room(name());
            return std::nullopt;
        }
        return Slot(c);
    }

    [[nodiscard]] static bool contains(Key k) noexcept { return core_.find(k) != nullptr; }
    [[nodiscard]] static T* get(Key k) noexcept {
        auto* c = core_.find(k);
        return c ? c->value() : nullptr;
    }
    [[nodiscard]] static T& get_unchecked(Key k) noexcept {
        return *core_.live_cell(k, KeyOp::access, name())->value();
    }
    // Removal by key, for values whose Slot was leaked.
    static void remove(Key k) noexcept {
        if (!core_.initialized()) [[unlikely]]
            not_initialized("remove", k);
        core_.template erase<detail::kHeldByKey>(core_.live_cell(k, KeyOp::remove, name()), name());
    }
    [[nodiscard]] static T take(Key k) {
        if (!core_.initialized()) [[unlikely]]
            core_.throw_no_room(name());
        auto* c = core_.live_cell(k, KeyOp::take, name());
        T out(std::move(*c->value()));
        core_.template erase<detail::kHeldByKey>(c, name());
        return out;
    }
    // Takes ownership of a live key (for example one from Slot::release()).
    [[nodiscard]] static Slot adopt(Key k) noexcept {
        if (!core_.initialized()) [[unlikely]]
            not_initialized("adopt", k);
        auto* c = core_.live_cell(k, KeyOp::adopt, name());
        c->state |= detail::kHeldByHandle;
        return Slot(c);
    }

    [[nodiscard]] static std::size_t size() noexcept { return core_.size(); }
    [[nodiscard]] static std::size_t capacity() noexcept { return core_.capacity(); }
    [[nodiscard]] static bool empty() noexcept { return core_.size() == 0; }

    // Frees this thread's slab if it holds no values; otherwise leaves it alone
    // and reports how many slots are still in use. A no-op when not
    // initialised, and when called by a destructor while the thread's exit is
    // tearing the slab down (the exit frees it).
    static ShutdownResult shutdown() noexcept {
        if (core_.size() != 0 || core_.tearing_down()) return ShutdownResult{core_.size()};
        core_.destroy(name());
        return ShutdownResult{0};
    }

private:
    friend Slot;
    using CellT = detail::Cell<T>;

    static constexpr const char* name() noexcept { return Tag::allocator_name(); }

    static void free_cell(CellT* c) noexcept {
        if (!core_.initialized()) [[unlikely]]
            detail::fatalf(
                "a Slot of allocator '%s' outlived its allocator (dropped after shutdown or after the "
                "thread's exit destroyed its values)",
                name());
        core_.template erase<detail::kHeldByHandle>(c, name());
    }

    [[noreturn, gnu::cold, gnu::noinline]] static void not_initialized(const char* op, Key k) noexcept {
        detail::fatalf(
            "%s of key %u on allocator '%s', which is not initialised on this thread (before init() or "
            "after shutdown())",
            op, k.index(), name());
    }

    [[noreturn, gnu::cold, gnu::noinline]] static void wrong_thread(std::uint32_t owner, const char* verb) noexcept {
        const detail::ThreadLabel here(detail::kernel_thread_id()), there(owner);
        detail::fatalf(
            "a Slot of allocator '%s' was %s on %s, but its value lives in the slab of %s (a Slot must "
            "be used and dropped on the thread that made it)",
            name(), verb, here.text, there.text);
    }

    static void prepare_init() {
        if (core_.initialized())
            throw AlreadyInitialized(std::string("nexus::slab: allocator '") + name() +
                                     "' is already initialised on this thread");
        if (detail::thread_phase() != detail::ThreadPhase::running)
            throw NotInitialized(std::string("nexus::slab: allocator '") + name() +
                                 "': init() on a thread that is exiting (its allocators are being or have been "
                                 "torn down)");
        // Once per thread: the thread's exit tears this allocator down with
        // the thread's others. Touched only by init, so its lazy guard costs
        // nothing on the hot path.
        static constexpr detail::ExitSteps steps{
            []() noexcept { core_.begin_teardown(name()); },
            []() noexcept { core_.destroy_roots(); },
            []() noexcept { core_.destroy_rest(); },
            []() noexcept { core_.release_storage(); },
        };
        static thread_local const bool registered = (detail::tear_down_at_thread_exit(&steps), true);
        (void)registered;
    }

    // The per-operation state: the only thread-local the hot path reads.
    // `constinit` + a trivially destructible type means the compiler can
    // neither need a first-use guard nor register a destructor, so every
    // access is one %fs-relative load or store (local-exec TLS in an
    // executable): no __tls_get_addr, no TLS wrapper call. A thread-local with
    // a lazy initialiser or a destructor would cost a call and a branch on
    // every insert and remove. Ownership of the storage is carried by the
    // thread's exit teardown (detail/thread_exit.hpp) instead of a destructor here.
    static_assert(std::is_trivially_destructible_v<Core>);
    constinit static inline thread_local Core core_{};
};

}  // namespace nexus::slab

// Defines `name`, a per-thread slab allocator for the type given after it.
// Use at namespace scope. The type may contain commas.
#define NEXUS_SLAB_ALLOCATOR(name, ...)                                          \
    struct name final : ::nexus::slab::ThreadAllocator<name, __VA_ARGS__> {      \
        static constexpr const char* allocator_name() noexcept { return #name; } \
    }

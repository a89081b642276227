// The allocators compared in the benchmarks, behind one small interface:
//
//   Impl impl(capacity);            // room for `capacity` live objects, warmed up
//   H h = impl.acquire(v);          // allocate an Obj<S> and write v into it
//   impl.read(h)                    // read it back
//   impl.release(h);                // free it
//
// Every implementation constructs the object the same way (placement new of
// Obj<S>(v), which writes one word), so the comparison is of allocation alone.
#pragma once

#include <nexus/slab/slab.hpp>

#include <plf_colony.h>
#include <boost/pool/object_pool.hpp>
#include <foonathan/memory/memory_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <memory_resource>
#include <new>
#include <string_view>
#include <vector>

namespace nexus::bench {

// A value of S bytes whose constructor writes only its first word.
template <std::size_t S>
struct Obj {
    static_assert(S % 8 == 0 && S >= 8);
    explicit Obj(std::uint64_t v) noexcept { w[0] = v; }
    std::uint64_t w[S / 8];
};

// The floor: the smallest LIFO free-list pool one would write by hand. One
// contiguous array, the free link kept in the free object, an empty check.
template <std::size_t S>
class FloorPool {
public:
    using H = Obj<S>*;
    static constexpr std::string_view name = "floor (hand-written free list)";
    explicit FloorPool(std::size_t capacity) : storage_(capacity) {
        for (std::size_t i = capacity; i-- > 0;) push(&storage_[i]);
    }
    [[gnu::always_inline]] H acquire(std::uint64_t v) {
        Node* n = head_;
        if (n == nullptr) [[unlikely]]
            throw std::bad_alloc();
        head_ = n->next;
        return ::new (static_cast<void*>(n)) Obj<S>(v);
    }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) { push(reinterpret_cast<Cell*>(h)); }

private:
    union alignas(8) Cell {
        Cell* next;
        unsigned char bytes[S];
    };
    using Node = Cell;
    void push(Cell* c) {
        c->next = head_;
        head_ = c;
    }
    std::vector<Cell> storage_;
    Cell* head_ = nullptr;
};

// The floor plus the two things nexus keeps that the floor does not: a live
// count (for an O(1) size()) and a per-cell vacancy word (for contains and
// the debug checks). Shows where the gap between floor and nexus comes from.
template <std::size_t S>
class FloorPlusPool {
public:
    using H = Obj<S>*;
    explicit FloorPlusPool(std::size_t capacity) : storage_(capacity) {
        for (std::size_t i = capacity; i-- > 0;) push(&storage_[i]);
        len_ = 0;
    }
    [[gnu::always_inline]] H acquire(std::uint64_t v) {
        Cell* c = head_;
        if (c == nullptr) [[unlikely]]
            throw std::bad_alloc();
        head_ = c->u.next;
        c->vacant = 0;
        ++len_;
        return ::new (static_cast<void*>(c->u.bytes)) Obj<S>(v);
    }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) {
        push(reinterpret_cast<Cell*>(reinterpret_cast<unsigned char*>(h) - offsetof(Cell, u)));
    }

private:
    struct Cell {
        std::uint32_t key;
        std::uint32_t vacant;
        union alignas(8) {
            Cell* next;
            unsigned char bytes[S];
        } u;
    };
    void push(Cell* c) {
        c->vacant = 1;
        c->u.next = head_;
        head_ = c;
        --len_;
    }
    std::vector<Cell> storage_;
    Cell* head_ = nullptr;
    std::size_t len_ = 0;
};

// nexus through the per-thread allocator: 8-byte Slot, RAII release.
template <class Alloc>
class NexusThread {
public:
    using H = typename Alloc::Slot;
    static constexpr std::string_view name = "nexus per-thread (Slot)";
    explicit NexusThread(std::size_t capacity) {
        if (Alloc::is_initialized()) (void)Alloc::shutdown();
        Alloc::init().bounded(capacity).build();
    }
    ~NexusThread() { (void)Alloc::shutdown(); }
    NexusThread(const NexusThread&) = delete;
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return Alloc::emplace(v); }
    [[gnu::always_inline]] static std::uint64_t read(const H& h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H& h) { h.reset(); }
};

// nexus through a direct bounded slab with 16-byte Handles.
template <std::size_t S>
class NexusDirect {
public:
    using H = nexus::slab::Handle<Obj<S>>;
    static constexpr std::string_view name = "nexus direct (Handle)";
    explicit NexusDirect(std::size_t capacity) : slab_(capacity) {}
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return slab_.emplace(v); }
    [[gnu::always_inline]] static std::uint64_t read(const H& h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H& h) { h.reset(); }

private:
    nexus::slab::BoundedSlab<Obj<S>> slab_;
};

// The process's operator new/delete: glibc, or jemalloc/tcmalloc/mimalloc
// when preloaded (the row is labelled by the run script).
template <std::size_t S>
class Malloc {
public:
    using H = Obj<S>*;
    static constexpr std::string_view name = "new/delete";
    explicit Malloc(std::size_t) {}
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return new Obj<S>(v); }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) { delete h; }
};

template <std::size_t S>
class PmrPool {
public:
    using H = Obj<S>*;
    static constexpr std::string_view name = "std::pmr::unsynchronized_pool_resource";
    explicit PmrPool(std::size_t capacity)
        : res_(std::pmr::pool_options{.max_blocks_per_chunk = 0, .largest_required_pool_block = 8192}) {
        warm(capacity);
    }
    [[gnu::always_inline]] H acquire(std::uint64_t v) {
        return ::new (res_.allocate(sizeof(Obj<S>), alignof(Obj<S>))) Obj<S>(v);
    }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) { res_.deallocate(h, sizeof(Obj<S>), alignof(Obj<S>)); }

private:
    void warm(std::size_t n) {
        std::vector<H> hs;
        hs.reserve(n);
        for (std::size_t i = 0; i < n; ++i) hs.push_back(acquire(i));
        for (H h : hs) release(h);
    }
    std::pmr::unsynchronized_pool_resource res_;
};

template <std::size_t S>
class BoostObjectPool {
public:
    using H = Obj<S>*;
    static constexpr std::string_view name = "boost::object_pool";
    explicit BoostObjectPool(std::size_t capacity) : pool_(capacity) {
        std::vector<H> hs;
        hs.reserve(capacity);
        for (std::size_t i = 0; i < capacity; ++i) hs.push_back(acquire(i));
        for (auto it = hs.rbegin(); it != hs.rend(); ++it) release(*it);
    }
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return ::new (pool_.malloc()) Obj<S>(v); }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    // object_pool::free is ordered_free: O(free-list length).
    [[gnu::always_inline]] void release(H h) { pool_.free(h); }

private:
    boost::object_pool<Obj<S>> pool_;
};

template <std::size_t S>
class FoonathanPool {
public:
    using H = Obj<S>*;
    static constexpr std::string_view name = "foonathan::memory_pool";
    explicit FoonathanPool(std::size_t capacity)
        : pool_(sizeof(Obj<S>), foonathan::memory::memory_pool<>::min_block_size(sizeof(Obj<S>), capacity)) {}
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return ::new (pool_.allocate_node()) Obj<S>(v); }
    [[gnu::always_inline]] static std::uint64_t read(H h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) { pool_.deallocate_node(h); }

private:
    foonathan::memory::memory_pool<> pool_;
};

template <std::size_t S>
class Colony {
public:
    using H = typename plf::colony<Obj<S>>::iterator;
    static constexpr std::string_view name = "plf::colony";
    explicit Colony(std::size_t capacity) {
        c_.reserve(capacity + 1);
        // One element stays for the colony's lifetime: an emptied colony
        // resets or gives back its group, which is not the steady state.
        (void)acquire(0);
        std::vector<H> hs;
        hs.reserve(capacity);
        for (std::size_t i = 0; i < capacity; ++i) hs.push_back(acquire(i));
        for (H h : hs) release(h);
    }
    [[gnu::always_inline]] H acquire(std::uint64_t v) { return c_.emplace(v); }
    [[gnu::always_inline]] static std::uint64_t read(const H& h) { return h->w[0]; }
    [[gnu::always_inline]] void release(H h) { c_.erase(h); }

private:
    plf::colony<Obj<S>> c_;
};

}  // namespace nexus::bench

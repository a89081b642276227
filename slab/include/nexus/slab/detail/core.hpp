// The storage engine shared by every slab flavour. Internal: include
// <nexus/slab/slab.hpp> instead.
//
// A slab is a table of chunks of cells. A bounded slab is one chunk; an
// unbounded slab adds chunks as it fills and never moves a cell. Vacant cells,
// across all chunks, form one LIFO free list threaded through their storage, so
// claiming and releasing a cell is identical for both flavours: pop or push a
// pointer. Only key -> cell lookup needs the chunk table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "nexus/slab/detail/asan.hpp"
#include "nexus/slab/errors.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {

// How an unbounded slab grows.
struct UnboundedConfig {
    // Cells per chunk; rounded up to a power of two so a key splits into
    // chunk and offset with a shift and a mask.
    std::size_t chunk_capacity = 4096;
    // Cells allocated (and their pages touched) up front, in whole chunks.
    std::size_t capacity = 0;
    // Growth stops here (rounded up to whole chunks); past it inserts fail
    // like a full bounded slab. Never more than kMaxCells, the key space.
    std::size_t max_capacity = kMaxCells;
};

namespace detail {

// A vacant cell's `vacant` word.
inline constexpr std::uint32_t kVacantBit = 0x8000'0000u;
// Chunks start on a cache line, whatever T's alignment.
inline constexpr std::size_t kChunkAlign = 64;

template <class T>
struct Cell {
    static constexpr std::size_t kAlign = alignof(T) > alignof(void*) ? alignof(T) : alignof(void*);
    static constexpr std::size_t kSize = sizeof(T) > sizeof(void*) ? sizeof(T) : sizeof(void*);

    // The cell's key, written once when its chunk is made. The 8-byte Slot
    // reads it here to know its key and to free itself.
    std::uint32_t key;
    // 0 = occupied, kVacantBit = vacant. Kept apart from `key` (in padding that
    // the value's alignment leaves anyway) so that claim and release are plain
    // stores rather than read-modify-writes of the key. Read together with
    // `key` as one 8-byte word by find(): equal to the key only when occupied.
    std::uint32_t vacant;
    // The value, at the same offset for handle access and key access: one
    // struct defines it, so the two cannot disagree for over-aligned types.
    // A vacant cell keeps the next vacant cell's address in its first bytes.
    alignas(kAlign) unsigned char storage[kSize];

    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    const T* value() const noexcept { return std::launder(reinterpret_cast<const T*>(storage)); }

    Cell* next_vacant() const noexcept {
        Cell* next;
        std::memcpy(&next, storage, sizeof next);
        return next;
    }
    void set_next_vacant(Cell* next) noexcept { std::memcpy(storage, &next, sizeof next); }

    bool occupied() const noexcept { return vacant == 0; }
    // key | vacant << 32 in one load: the raw key exactly when occupied.
    std::uint64_t key_and_state() const noexcept {
        std::uint64_t w;
        std::memcpy(&w, &key, sizeof w);
        return w;
    }
};

static_assert(offsetof(Cell<char>, vacant) == 4 && offsetof(Cell<char>, storage) == 8);

// Bytes a slab spends per live value beyond the value itself.
template <class T>
inline constexpr std::size_t kOverheadPerValue = sizeof(Cell<T>) - sizeof(T);

// The geometry of an unbounded slab, computed from its configuration.
struct UnboundedPlan {
    std::uint32_t shift;           // log2(cells per chunk)
    std::uint64_t max_chunks;      // growth limit
    std::uint64_t initial_chunks;  // allocated by init
};

// Chunk c holds keys [c << shift, (c + 1) << shift). Allowing at most
// kMaxCells >> shift chunks keeps every key below 2^31: never equal to
// Key::NONE, never wrapping. This is the key-space check for growth.
// chunk_capacity must be in [1, kMaxCells].
constexpr UnboundedPlan plan_unbounded(const UnboundedConfig& cfg) noexcept {
    std::uint32_t shift = 0;
    while ((std::uint64_t{1} << shift) < cfg.chunk_capacity) ++shift;
    const std::uint64_t cells = std::uint64_t{1} << shift;
    const std::uint64_t key_space_chunks = kMaxCells >> shift;
    const std::uint64_t wanted_max = cfg.max_capacity < kMaxCells ? cfg.max_capacity : kMaxCells;
    std::uint64_t max_chunks = (wanted_max + cells - 1) / cells;
    if (max_chunks > key_space_chunks) max_chunks = key_space_chunks;
    if (max_chunks == 0) max_chunks = 1;
    return {shift, max_chunks, (cfg.capacity + cells - 1) / cells};
}

template <class T>
class SlabCore {
public:
    using CellT = Cell<T>;

    // Constant-initialisable and trivially destructible, so a per-thread core
    // can be a plain thread-local (see allocator.hpp). Storage is owned through
    // explicit init_*() / destroy() instead of a constructor and destructor.
    constexpr SlabCore() noexcept = default;

    [[nodiscard]] bool initialized() const noexcept { return chunks_ != nullptr; }
    [[nodiscard]] std::size_t len() const noexcept { return len_; }
    [[nodiscard]] std::size_t capacity() const noexcept {
        return std::size_t{num_chunks_} * chunk_cells_;
    }
    [[nodiscard]] bool growable() const noexcept { return growable_; }

    void init_bounded(std::size_t capacity) {
        throw_if_initialized();
        if (capacity == 0) throw CapacityError("nexus::slab: a bounded slab needs a capacity of at least 1");
        if (capacity > kMaxCells)
            throw CapacityError("nexus::slab: bounded capacity " + std::to_string(capacity) +
                                " exceeds the key space of " + std::to_string(kMaxCells) + " cells");
        SlabCore fresh;
        fresh.shift_ = 31;  // every valid key is in chunk 0
        fresh.mask_ = static_cast<std::uint32_t>(kMaxCells - 1);
        fresh.chunk_cells_ = static_cast<std::uint32_t>(capacity);
        fresh.max_chunks_ = 1;
        fresh.growable_ = false;
        try {
            fresh.add_chunks(1);
        } catch (...) {
            fresh.destroy();
            throw;
        }
        *this = fresh;
    }

    void init_unbounded(const UnboundedConfig& cfg) {
        throw_if_initialized();
        if (cfg.chunk_capacity == 0) throw CapacityError("nexus::slab: chunk_capacity must be at least 1");
        if (cfg.chunk_capacity > kMaxCells)
            throw CapacityError("nexus::slab: chunk_capacity " + std::to_string(cfg.chunk_capacity) +
                                " exceeds the key space of " + std::to_string(kMaxCells) + " cells");
        const UnboundedPlan plan = plan_unbounded(cfg);
        if (plan.initial_chunks > plan.max_chunks)
            throw CapacityError("nexus::slab: initial capacity " + std::to_string(cfg.capacity) +
                                " exceeds the slab's maximum of " +
                                std::to_string(std::uint64_t{plan.max_chunks} << plan.shift) + " cells");
        const std::uint64_t cells = std::uint64_t{1} << plan.shift;
        SlabCore fresh;
        fresh.shift_ = plan.shift;
        fresh.mask_ = static_cast<std::uint32_t>(cells - 1);
        fresh.chunk_cells_ = static_cast<std::uint32_t>(cells);
        fresh.max_chunks_ = static_cast<std::uint32_t>(plan.max_chunks);
        fresh.growable_ = true;
        fresh.reserve_table(plan.initial_chunks > 4 ? static_cast<std::uint32_t>(plan.initial_chunks) : 4);
        if (plan.initial_chunks > 0) {
            try {
                fresh.add_chunks(static_cast<std::uint32_t>(plan.initial_chunks));
            } catch (...) {
                fresh.destroy();
                throw;
            }
        }
        *this = fresh;
    }

    // Destroys every live value, frees all storage and returns to the
    // uninitialised state. O(capacity).
    void destroy() noexcept {
        for (std::uint32_t ch = 0; ch < num_chunks_; ++ch) {
            destroy_values(ch);
            ::operator delete(chunks_[ch], std::align_val_t{kChunkAlign});
        }
        delete[] chunks_;
        *this = SlabCore{};
    }

    // Destroys every value and makes every cell vacant again, the free list
    // back in key order, so the slab hands out cells as a new one would (keys
    // from 0 up, neighbouring cells together). Keeps its storage. O(capacity):
    // it writes every cell's header, as the constructor does.
    void clear() noexcept {
        for (std::uint32_t ch = 0; ch < num_chunks_; ++ch) {
            destroy_values(ch);
            mark_vacant(ch);
        }
        free_head_ = nullptr;
        len_ = 0;
        for (std::uint32_t ch = num_chunks_; ch-- > 0;) thread(ch);
    }

    // Destroys the live values of one chunk (and unpoisons it), leaving its
    // cell headers as they were.
    void destroy_values(std::uint32_t chunk) noexcept {
        CellT* cells = chunks_[chunk];
        unpoison(cells, sizeof(CellT) * chunk_cells_);
        if constexpr (!std::is_trivially_destructible_v<T>) {
            for (std::uint32_t i = 0; i < chunk_cells_; ++i)
                if (cells[i].occupied()) cells[i].value()->~T();
        }
    }

    // ---- hot path ---------------------------------------------------------

    // A vacant cell, now marked occupied (its storage is raw), or nullptr when
    // the slab cannot make room (full, at its growth limit, or uninitialised).
    [[gnu::always_inline]] CellT* claim() {
        CellT* c = free_head_;
        if (c == nullptr) [[unlikely]]
            return grow_and_claim();
        unpoison(c->storage, sizeof c->storage);
        free_head_ = c->next_vacant();
        c->vacant = 0;
        ++len_;
        return c;
    }

    // Claims a cell and constructs the value in it; nullptr (and the arguments
    // untouched) when there is no room. If the constructor throws, the cell is
    // given back and the exception propagates.
    template <class... Args>
    [[gnu::always_inline]] CellT* try_emplace(Args&&... args) {
        CellT* c = claim();
        if (c == nullptr) [[unlikely]]
            return nullptr;
        if constexpr (std::is_nothrow_constructible_v<T, Args...>) {
            construct(c, std::forward<Args>(args)...);
        } else {
            try {
                construct(c, std::forward<Args>(args)...);
            } catch (...) {
                release(c);
                throw;
            }
        }
        return c;
    }

    // Destroys the value in an occupied cell and frees the cell.
    [[gnu::always_inline]] void erase(CellT* c) noexcept {
        if constexpr (kChecks) {
            if (!c->occupied()) [[unlikely]]
                fatal("double free: the cell is already vacant; key", c->key);
        }
        c->value()->~T();
        release(c);
    }

    // Frees an occupied cell whose value is already destroyed (or never built).
    [[gnu::always_inline]] void release(CellT* c) noexcept {
        c->vacant = kVacantBit;
        c->set_next_vacant(free_head_);
        free_head_ = c;
        --len_;
        poison(c->storage, sizeof c->storage);
    }

    // Key -> cell with no validation: the key must be live. `kSingleChunk`
    // (a BoundedSlab, known at compile time) indexes the one chunk directly;
    // otherwise the chunk table is read first: one more dependent load.
    template <bool kSingleChunk = false>
    [[nodiscard, gnu::always_inline]] CellT* cell_at(Key k) const noexcept {
        const std::uint32_t raw = k.into_raw();
        if constexpr (kSingleChunk) return first_chunk_ + raw;
        else return chunks_[raw >> shift_] + (raw & mask_);
    }

    // Key -> occupied cell, or nullptr for NONE, out-of-range and vacant keys.
    template <bool kSingleChunk = false>
    [[nodiscard]] CellT* find(Key k) const noexcept {
        const std::uint32_t raw = k.into_raw();
        CellT* c;
        if constexpr (kSingleChunk) {
            if (raw >= chunk_cells_) return nullptr;
            c = first_chunk_ + raw;
        } else {
            const std::uint32_t chunk = raw >> shift_;
            if (chunk >= num_chunks_) return nullptr;  // also catches an uninitialised slab
            const std::uint32_t offset = raw & mask_;
            if (offset >= chunk_cells_) return nullptr;
            c = chunks_[chunk] + offset;
        }
        return c->key_and_state() == raw ? c : nullptr;  // equal only when occupied
    }

    // cell_at(), validated in checks builds (the caller promised a live key).
    template <bool kSingleChunk = false>
    [[nodiscard, gnu::always_inline]] CellT* live_cell(Key k, const char* what) const noexcept {
        if constexpr (kChecks) {
            CellT* c = find<kSingleChunk>(k);
            if (c == nullptr) [[unlikely]]
                fatal(what, k.into_raw());
            return c;
        } else {
            (void)what;
            return cell_at<kSingleChunk>(k);
        }
    }

    // Why claim() returned nullptr, as an exception.
    [[noreturn, gnu::cold, gnu::noinline]] void throw_no_room(const char* who) const {
        const std::string name = who ? std::string(who) : std::string("slab");
        if (!initialized())
            throw NotInitialized("nexus::slab: allocator '" + name +
                                 "' used before init() or after shutdown() on this thread");
        if (growable_)
            throw CapacityError("nexus::slab: unbounded slab '" + name + "' cannot grow past " +
                                std::to_string(capacity()) + " cells (max_capacity or the 2^31-cell key space)");
        throw SlabFull("nexus::slab: bounded slab '" + name + "' is full (capacity " +
                       std::to_string(capacity()) + ")");
    }

    // Handles alive on a direct slab; counted only in checks builds.
    std::size_t live_handles_ = 0;

private:
    void throw_if_initialized() const {
        if (initialized()) throw AlreadyInitialized("nexus::slab: init on a slab that is already initialised");
    }

    template <class... Args>
    static void construct(CellT* c, Args&&... args) {
        if constexpr (std::is_constructible_v<T, Args...>)
            ::new (static_cast<void*>(c->storage)) T(std::forward<Args>(args)...);
        else  // aggregates (clang 14 lacks parenthesised aggregate init)
            ::new (static_cast<void*>(c->storage)) T{std::forward<Args>(args)...};
    }

    [[gnu::noinline, gnu::cold]] CellT* grow_and_claim() {
        if (!growable_ || num_chunks_ >= max_chunks_) return nullptr;
        add_chunks(1);
        return claim();
    }

    void reserve_table(std::uint32_t n) {
        if (n <= table_cap_) return;
        auto** table = new CellT*[n];
        for (std::uint32_t i = 0; i < num_chunks_; ++i) table[i] = chunks_[i];
        delete[] chunks_;
        chunks_ = table;
        table_cap_ = n;
    }

    // Allocates n chunks and puts their cells on the free list so that the
    // lowest new key is handed out first. Writing every cell's header touches
    // every page now rather than on a later insert.
    void add_chunks(std::uint32_t n) {
        if (num_chunks_ + n > table_cap_) {
            std::uint64_t cap = table_cap_ ? std::uint64_t{table_cap_} * 2 : 4;
            if (cap < std::uint64_t{num_chunks_} + n) cap = std::uint64_t{num_chunks_} + n;
            if (cap > max_chunks_) cap = max_chunks_;
            reserve_table(static_cast<std::uint32_t>(cap));
        }
        const std::uint32_t first = num_chunks_;
        for (std::uint32_t i = 0; i < n; ++i) {
            chunks_[first + i] = static_cast<CellT*>(
                ::operator new(sizeof(CellT) * chunk_cells_, std::align_val_t{kChunkAlign}));
            ++num_chunks_;  // counted at once, so destroy() frees it if a later one throws
            mark_vacant(first + i);
        }
        for (std::uint32_t i = n; i-- > 0;) thread(first + i);
        first_chunk_ = chunks_[0];
    }

    // Keys every cell of a fresh chunk and marks it vacant (so destroy() skips them even if
    // a later allocation in add_chunks throws before threading).
    void mark_vacant(std::uint32_t chunk) noexcept {
        CellT* cells = chunks_[chunk];
        const std::uint32_t base = chunk << shift_;
        for (std::uint32_t i = 0; i < chunk_cells_; ++i) {
            cells[i].key = base + i;
            cells[i].vacant = kVacantBit;
        }
    }

    void thread(std::uint32_t chunk) noexcept {
        CellT* cells = chunks_[chunk];
        CellT* next = free_head_;
        for (std::uint32_t i = chunk_cells_; i-- > 0;) {
            cells[i].set_next_vacant(next);
            poison(cells[i].storage, sizeof cells[i].storage);
            next = &cells[i];
        }
        free_head_ = next;
    }

    // Hot: read and written by every claim/release.
    CellT* free_head_ = nullptr;  // top of the LIFO list of vacant cells; nullptr = none
    std::size_t len_ = 0;         // occupied cells, kept so len() is O(1)
    // Warm: read by key lookups.
    CellT** chunks_ = nullptr;    // chunk table; nullptr exactly when uninitialised
    CellT* first_chunk_ = nullptr;  // chunks_[0], for single-chunk (bounded) lookups
    std::uint32_t shift_ = 0;     // key >> shift_ = chunk index
    std::uint32_t mask_ = 0;      // key & mask_ = offset in the chunk
    std::uint32_t chunk_cells_ = 0;  // cells per chunk (a bounded slab: its capacity)
    std::uint32_t num_chunks_ = 0;   // chunks allocated; all of them are threaded
    // Cold: growth only.
    std::uint32_t max_chunks_ = 0;   // growth limit (key space or max_capacity)
    std::uint32_t table_cap_ = 0;    // slots in chunks_
    bool growable_ = false;          // unbounded?
};

}  // namespace detail
}  // namespace nexus::slab

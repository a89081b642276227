// The storage engine shared by every slab flavour. Internal: include
// <nexus/slab/slab.hpp> instead.
//
// A slab is a table of chunks of cells. A bounded slab is one chunk; an
// unbounded slab adds chunks as it fills and never moves a cell. Vacant cells,
// across all chunks, form one LIFO free list threaded through their storage, so
// claiming and releasing a cell is identical for both flavours: pop or push a
// pointer. Only key -> cell lookup needs the chunk table.
//
// Teardown (a direct slab's destructor, clear(), a thread's exit) runs in
// steps so that a value's destructor may do anything to the same slab that a
// destructor can reasonably do -- drop Slots and Handles, remove keys, try to
// insert -- and every value is still destroyed exactly once:
//   1. begin_teardown   every live value is marked doomed; no cell is handed
//                       out any more (inserts are refused)
//   2. destroy_roots    values the slab owns by key are destroyed; what their
//                       destructors let go of (a child's Slot, a removed key)
//                       is destroyed there and then, owner before owned
//   3. destroy_rest     values still alive (owned by handles outside any value,
//                       or by one another in a cycle) are destroyed in key
//                       order: nothing tells an owner from what it owns here
//   4. release_storage  (or restart, for clear()) only now is memory touched
// A value is marked retired just before its destructor runs; a later attempt
// to free it (its owner letting go after the teardown reached it first) is
// then a no-op rather than a second destruction. Nothing of this runs for a
// type with a trivial destructor: no code of its own can re-enter the slab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "nexus/slab/detail/asan.hpp"
#include "nexus/slab/detail/threads.hpp"
#include "nexus/slab/errors.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {

// How an unbounded slab grows.
struct UnboundedConfig {
    // Cells per chunk, exactly. Keys split into chunk and offset with a shift
    // and a mask, so each chunk takes the next power of two of key space.
    std::size_t chunk_capacity = 4096;
    // Cells allocated (and their pages touched) up front, in whole chunks.
    std::size_t capacity = 0;
    // Growth stops at exactly this many cells (at least 1); past it inserts
    // fail like a full bounded slab. The key space (2^31 keys, fewer cells
    // when chunk_capacity is not a power of two) is a lower limit if reached
    // first.
    std::size_t max_capacity = kMaxCells;
};

namespace detail {

// A slab value must be an object type the slab can construct in place and
// destroy. Checked where the slab's class templates are instantiated, so a
// misuse fails with these messages first rather than deep inside the cell
// layout. What can be asked of a type that is still incomplete (a node type
// whose allocator is declared before it) is checked there; the rest where
// the cell is laid out.
template <class T>
constexpr bool check_value_shape() {
    static_assert(!std::is_array_v<T>,
                  "nexus::slab: a raw array T[N] cannot be a slab value (it cannot be returned, moved or "
                  "assigned); use std::array<T, N>");
    static_assert(!std::is_reference_v<T>, "nexus::slab: a reference cannot be a slab value; store a pointer");
    static_assert(!std::is_void_v<T> && !std::is_function_v<T>, "nexus::slab: the value type must be an object type");
    static_assert(!std::is_const_v<T> && !std::is_volatile_v<T>,
                  "nexus::slab: the value type must not be const or volatile (the slab writes its free list into "
                  "vacant cells); drop the qualifier");
    return true;
}

template <class T>
constexpr bool check_value_type() {
    static_assert(check_value_shape<T>());
    static_assert(!std::is_abstract_v<T>, "nexus::slab: an abstract class cannot be a slab value");
    static_assert(std::is_destructible_v<T>, "nexus::slab: the value type needs a public, non-deleted destructor");
    return true;
}

// A cell's `state` word. The occupied states are the four smallest values,
// so "is there a value here" is one compare against a constant.
inline constexpr std::uint32_t kHeldByKey = 0;     // the slab owns the value (emplace_key, leak)
inline constexpr std::uint32_t kHeldByHandle = 1;  // a live Slot or Handle owns it
inline constexpr std::uint32_t kDoomed = 2;        // or-ed in by begin_teardown: destroyed before the teardown ends
inline constexpr std::uint32_t kLastOccupied = kDoomed | kHeldByHandle;
inline constexpr std::uint32_t kVacant = 0x8000'0000u;   // on the free list
inline constexpr std::uint32_t kRetired = 0x8000'0001u;  // destroyed by a teardown still running; off the free list

// Chunks start on a cache line, or on the value's own alignment if larger.
inline constexpr std::size_t kChunkAlign = 64;

template <class T>
struct Cell {
    static_assert(check_value_type<T>());
    static constexpr std::size_t kAlign = alignof(T) > alignof(void*) ? alignof(T) : alignof(void*);
    static constexpr std::size_t kSize = sizeof(T) > sizeof(void*) ? sizeof(T) : sizeof(void*);

    // The cell's key, written once when its chunk is made. The 8-byte Slot
    // reads it here to know its key and to free itself.
    std::uint32_t key;
    // kHeldByKey / kHeldByHandle (maybe | kDoomed), kVacant or kRetired. Kept
    // apart from `key` (in padding that the value's alignment leaves anyway)
    // so that claim and release are plain stores of a constant.
    std::uint32_t state;
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

    bool occupied() const noexcept { return state <= kLastOccupied; }
};

static_assert(offsetof(Cell<char>, state) == 4 && offsetof(Cell<char>, storage) == 8);

// Bytes a slab spends per live value beyond the value itself: the 8-byte
// header padded to the value's alignment (so 8 for most types, 128 for a
// 128-byte-aligned one, 4096 for a page-aligned one), plus the rounding of a
// value smaller than a pointer up to 8 bytes.
template <class T>
inline constexpr std::size_t kOverheadPerValue = sizeof(Cell<T>) - sizeof(T);

// The chunk allocation's alignment for T.
template <class T>
inline constexpr std::size_t kChunkAlignFor = alignof(Cell<T>) > kChunkAlign ? alignof(Cell<T>) : kChunkAlign;

// The geometry of an unbounded slab, computed from its configuration.
struct UnboundedPlan {
    std::uint32_t shift;           // log2 of the key space per chunk
    std::uint64_t max_cells;       // growth limit in cells: max_capacity or the key space
    std::uint64_t max_chunks;      // chunks that hold max_cells (the last may be partly used)
    std::uint64_t initial_chunks;  // allocated by init
};

// Chunk c holds keys [c << shift, (c << shift) + chunk_capacity). Allowing at
// most kMaxCells >> shift chunks keeps every key below 2^31: never equal to
// Key::NONE, never wrapping. This is the key-space check for growth.
// chunk_capacity must be in [1, kMaxCells] and max_capacity at least 1.
constexpr UnboundedPlan plan_unbounded(const UnboundedConfig& cfg) noexcept {
    std::uint32_t shift = 0;
    while ((std::uint64_t{1} << shift) < cfg.chunk_capacity) ++shift;
    const std::uint64_t per_chunk = cfg.chunk_capacity;
    const std::uint64_t key_space_cells = (kMaxCells >> shift) * per_chunk;
    const std::uint64_t max_cells = cfg.max_capacity < key_space_cells ? cfg.max_capacity : key_space_cells;
    // Rounded-up divisions that cannot overflow, whatever the inputs.
    const auto chunks_for = [per_chunk](std::uint64_t cells) {
        return cells / per_chunk + (cells % per_chunk != 0 ? 1 : 0);
    };
    return {shift, max_cells, chunks_for(max_cells), chunks_for(cfg.capacity)};
}

template <class T>
class SlabCore {
    static constexpr bool kTrivialDestructor = std::is_trivially_destructible_v<T>;

public:
    using CellT = Cell<T>;

    // Constant-initialisable and trivially destructible, so a per-thread core
    // can be a plain thread-local (see allocator.hpp). Storage is owned through
    // explicit init_*() / destroy() instead of a constructor and destructor.
    constexpr SlabCore() noexcept = default;

    [[nodiscard]] bool initialized() const noexcept { return chunks_ != nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return len_; }
    [[nodiscard]] std::size_t capacity() const noexcept {
        const std::uint64_t allocated = std::uint64_t{num_chunks_} * chunk_cells_;
        return allocated < max_cells_ ? allocated : max_cells_;
    }
    [[nodiscard]] bool growable() const noexcept { return growable_; }
    // True from begin_teardown() until the teardown has finished.
    [[nodiscard]] bool tearing_down() const noexcept { return tearing_down_; }

    // `who` names the slab in messages ("allocator 'x'" or "slab of T").
    void init_bounded(std::size_t capacity, const char* who) {
        throw_if_initialized(who);
        if (capacity == 0) throw CapacityError(prefix(who) + ": bounded capacity 0; a slab needs at least 1 cell");
        if (capacity > kMaxCells)
            throw CapacityError(prefix(who) + ": bounded capacity " + std::to_string(capacity) +
                                " exceeds the key space of " + std::to_string(kMaxCells) + " cells");
        check_chunk_bytes(capacity, who, "bounded capacity");
        SlabCore fresh;
        fresh.shift_ = 31;  // every valid key is in chunk 0
        fresh.mask_ = static_cast<std::uint32_t>(kMaxCells - 1);
        fresh.chunk_cells_ = static_cast<std::uint32_t>(capacity);
        fresh.max_chunks_ = 1;
        fresh.max_cells_ = capacity;
        fresh.growable_ = false;
        fresh.allocate_initial(1, who, "bounded capacity", capacity);
        adopt_fresh(fresh);
    }

    void init_unbounded(const UnboundedConfig& cfg, const char* who) {
        throw_if_initialized(who);
        if (cfg.chunk_capacity == 0)
            throw CapacityError(prefix(who) + ": chunk_capacity 0; a chunk needs at least 1 cell");
        if (cfg.chunk_capacity > kMaxCells)
            throw CapacityError(prefix(who) + ": chunk_capacity " + std::to_string(cfg.chunk_capacity) +
                                " exceeds the key space of " + std::to_string(kMaxCells) + " cells");
        if (cfg.max_capacity == 0)
            throw CapacityError(prefix(who) + ": max_capacity 0; an unbounded slab needs room for at least 1 cell");
        check_chunk_bytes(cfg.chunk_capacity, who, "chunk_capacity");
        const UnboundedPlan plan = plan_unbounded(cfg);
        if (cfg.capacity > plan.max_cells) {
            // The key space limits the slab when it is below max_capacity,
            // or equal to it because max_capacity was left at its default.
            const bool key_space = plan.max_cells < cfg.max_capacity || cfg.max_capacity == kMaxCells;
            throw CapacityError(prefix(who) + ": initial capacity " + std::to_string(cfg.capacity) +
                                " exceeds the slab's maximum of " + std::to_string(plan.max_cells) + " cells (" +
                                (key_space ? "the key space at chunk_capacity " + std::to_string(cfg.chunk_capacity)
                                           : std::string("max_capacity")) +
                                ")");
        }
        SlabCore fresh;
        fresh.shift_ = plan.shift;
        fresh.mask_ = static_cast<std::uint32_t>((std::uint64_t{1} << plan.shift) - 1);
        fresh.chunk_cells_ = static_cast<std::uint32_t>(cfg.chunk_capacity);
        fresh.max_chunks_ = static_cast<std::uint32_t>(plan.max_chunks);
        fresh.max_cells_ = plan.max_cells;
        fresh.growable_ = true;
        fresh.reserve_table(plan.initial_chunks > 4 ? static_cast<std::uint32_t>(plan.initial_chunks) : 4);
        fresh.allocate_initial(static_cast<std::uint32_t>(plan.initial_chunks), who, "initial capacity", cfg.capacity);
        adopt_fresh(fresh);
    }

    // ---- teardown (see the top of this file) ----------------------------

    // Destroys every live value, then frees all storage and returns to the
    // uninitialised state. O(capacity). `who` names the slab in messages.
    void destroy(const char* who) noexcept {
        destroy_values(who);
        release_storage();
    }

    // Steps 1-3.
    void destroy_values(const char* who) noexcept {
        begin_teardown(who);
        destroy_roots();
        destroy_rest();
    }

    void begin_teardown(const char* who) noexcept {
        if (tearing_down_ || (kChecks && destroying_ != 0)) [[unlikely]]
            fatalf("%s was cleared or destroyed from inside the destructor of one of its own values",
                   label(who).c_str());
        if constexpr (kTrivialDestructor) return;
        if (!initialized()) return;
        tearing_down_ = true;
        free_head_ = nullptr;  // claim() now fails: the slow path sees tearing_down_
        for_each_cell([](CellT& c) {
            if (c.occupied()) c.state |= kDoomed;
        });
    }

    void destroy_roots() noexcept {
        if constexpr (!kTrivialDestructor) {
            for_each_cell([this](CellT& c) {
                if (c.state == (kDoomed | kHeldByKey)) retire(&c);
            });
        }
    }

    void destroy_rest() noexcept {
        if constexpr (!kTrivialDestructor) {
            for_each_cell([this](CellT& c) {
                if (c.occupied() && (c.state & kDoomed) != 0) retire(&c);
            });
        }
    }

    // Step 4: frees the storage; the core is uninitialised afterwards.
    void release_storage() noexcept {
        for (std::uint32_t ch = 0; ch < num_chunks_; ++ch) {
            unpoison(chunks_[ch], sizeof(CellT) * chunk_cells_);
            ::operator delete (chunks_[ch], std::align_val_t{kChunkAlignFor<T>});
        }
        delete[] chunks_;
        *this = SlabCore{};
    }

    // Step 4 for clear(): every cell vacant, the free list in key order.
    void restart() noexcept {
        if (!initialized()) return;
        for (std::uint32_t ch = 0; ch < num_chunks_; ++ch) {
            unpoison(chunks_[ch], sizeof(CellT) * chunk_cells_);
            mark_vacant(ch);
        }
        free_head_ = nullptr;
        len_ = 0;
        for (std::uint32_t ch = num_chunks_; ch-- > 0;) thread(ch);
        tearing_down_ = false;
    }

    // ---- hot path ---------------------------------------------------------

    // Claims a cell and constructs the value in it, owned as `kState` says;
    // nullptr (and the arguments untouched) when there is no room. If the
    // constructor throws, the cell is given back and the exception propagates.
    template <std::uint32_t kState, class... Args>
    [[gnu::always_inline]] CellT* try_emplace(Args&&... args) {
        CellT* c = claim();
        if (c == nullptr) [[unlikely]]
            return nullptr;
        c->state = kState;
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

    // Destroys the value in a cell held as `kExpected` says and frees the
    // cell. The state test is there in checks builds, and in every build for a
    // type whose destructor runs code: only such a destructor can re-enter the
    // slab during a teardown, and the test sends that case (and misuse) to the
    // slow path. A trivially destructible type pays nothing for it.
    template <std::uint32_t kExpected>
    [[gnu::always_inline]] void erase(CellT* c, const char* who) noexcept {
        if constexpr (kChecks || !kTrivialDestructor) {
            if (c->state != kExpected) [[unlikely]] {
                erase_unusual(c, kExpected, who);
                return;
            }
        }
        // Vacant before the destructor runs: a destructor that reaches this
        // cell again (a second owner, its own key) lands on the slow path.
        c->state = kVacant;
        if constexpr (kChecks) ++destroying_;
        c->value()->~T();
        if constexpr (kChecks) --destroying_;
        push_vacant(c);
    }

    // A vacant cell, taken off the free list (its storage is raw), or nullptr
    // when the slab cannot make room (full, at its growth limit, tearing
    // down, or uninitialised).
    [[gnu::always_inline]] CellT* claim() {
        CellT* c = free_head_;
        if (c == nullptr) [[unlikely]]
            return grow_and_claim();  // a whole slow path of its own: the fast path keeps no stack frame
        unpoison(c->storage, sizeof c->storage);
        free_head_ = c->next_vacant();
        ++len_;
        return c;
    }

    // Frees a claimed cell whose value was never built.
    void release(CellT* c) noexcept {
        c->state = kVacant;
        push_vacant(c);
    }

    // Key -> cell with no validation: the key must be live. `kSingleChunk`
    // (a BoundedSlab, known at compile time) indexes the one chunk directly;
    // otherwise the chunk table is read first: one more dependent load.
    template <bool kSingleChunk = false>
    [[nodiscard, gnu::always_inline]] CellT* cell_at(Key k) const noexcept {
        const std::uint32_t raw = k.index();
        if constexpr (kSingleChunk)
            return first_chunk_ + raw;
        else
            return chunks_[raw >> shift_] + (raw & mask_);
    }

    // Key -> the cell the key addresses (occupied or not), or nullptr for NONE
    // and out-of-range keys.
    template <bool kSingleChunk = false>
    [[nodiscard, gnu::always_inline]] CellT* cell_in_range(Key k) const noexcept {
        const std::uint32_t raw = k.index();
        if constexpr (kSingleChunk) {
            if (raw >= chunk_cells_) return nullptr;
            return first_chunk_ + raw;
        } else {
            const std::uint32_t chunk = raw >> shift_;
            if (chunk >= num_chunks_) return nullptr;  // also catches an uninitialised slab
            const std::uint32_t offset = raw & mask_;
            if (offset >= chunk_cells_) return nullptr;
            return chunks_[chunk] + offset;
        }
    }

    // Key -> occupied cell, or nullptr for NONE, out-of-range and vacant keys.
    template <bool kSingleChunk = false>
    [[nodiscard]] CellT* find(Key k) const noexcept {
        const std::uint32_t raw = k.index();
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
        return c->occupied() ? c : nullptr;
    }

    // What a key-based operation is, for its checks and messages.
    enum class KeyOp : std::uint8_t { access, remove, take, adopt };

    // cell_at(), validated in checks builds: the key must be live, and for
    // remove/take/adopt the slab (not a handle) must own the value. `who`
    // names the slab in the message.
    template <bool kSingleChunk = false>
    [[nodiscard, gnu::always_inline]] CellT* live_cell(Key k, KeyOp op, const char* who) const noexcept {
        if constexpr (kChecks) {
            CellT* c = cell_in_range<kSingleChunk>(k);
            if (c == nullptr || c->state != kHeldByKey) [[unlikely]]
                return unusual_key(c, k, op, who);
            return c;
        } else {
            (void)op;
            (void)who;
            return cell_at<kSingleChunk>(k);
        }
    }

    // Why try_emplace() returned nullptr, as an exception.
    [[noreturn, gnu::cold, gnu::noinline]] void throw_no_room(const char* who) const {
        if (tearing_down_)
            throw TeardownInProgress(prefix(who) +
                                     ": insert refused while its values are being destroyed (thread exit, the "
                                     "slab's destructor or clear()); try_insert returns empty instead");
        if (!initialized())
            throw NotInitialized(prefix(who) + " used before init() or after shutdown() on this thread");
        if (growable_)
            throw CapacityError(prefix(who) + ": unbounded slab cannot grow past " + std::to_string(capacity()) +
                                " cells (max_capacity or the 2^31-cell key space)");
        throw SlabFull(prefix(who) + ": bounded slab is full (capacity " + std::to_string(capacity()) + ")");
    }

private:
    // "allocator 'name'" for a per-thread allocator, "slab of T" for a direct one.
    static std::string label(const char* who) {
        if (who != nullptr) return std::string("allocator '") + who + "'";
        return "slab of " + std::string(type_name<T>());
    }
    static std::string prefix(const char* who) { return "nexus::slab: " + label(who); }

    void throw_if_initialized(const char* who) const {
        if (initialized()) throw AlreadyInitialized(prefix(who) + ": init on a slab that is already initialised");
    }

    // A chunk of n cells must have a size in bytes that an allocation can have.
    static void check_chunk_bytes(std::size_t n, const char* who, const char* what) {
        constexpr std::size_t kMaxBytes = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
        if (n > kMaxBytes / sizeof(CellT))
            throw CapacityError(prefix(who) + ": " + what + " " + std::to_string(n) + " cells of " +
                                std::to_string(sizeof(CellT)) + " bytes is more memory than can be addressed");
    }

    // Allocates the chunks a new slab starts with; a failure to allocate
    // them is the capacity not being honoured.
    void allocate_initial(std::uint32_t n, const char* who, const char* what, std::size_t asked) {
        const std::uint64_t cells = std::uint64_t{n} * chunk_cells_;  // before release_storage() forgets the geometry
        try {
            add_chunks(n);
        } catch (const std::bad_alloc&) {
            release_storage();
            throw CapacityError(prefix(who) + ": " + what + " " + std::to_string(asked) + " cannot be allocated (" +
                                std::to_string(cells) + " cells of " + std::to_string(sizeof(CellT)) + " bytes)");
        } catch (...) {
            release_storage();
            throw;
        }
    }

    void adopt_fresh(const SlabCore& fresh) noexcept {
        *this = fresh;
        if constexpr (kChecks) owner_thread_ = this_thread_id();
    }

    template <class... Args>
    static void construct(CellT* c, Args&&... args) {
        if constexpr (std::is_constructible_v<T, Args...>)
            ::new (static_cast<void*>(c->storage)) T(std::forward<Args>(args)...);
        else  // aggregates (clang 14 lacks parenthesised aggregate init)
            ::new (static_cast<void*>(c->storage)) T{std::forward<Args>(args)...};
    }

    [[gnu::always_inline]] void push_vacant(CellT* c) noexcept {
        c->set_next_vacant(free_head_);
        free_head_ = c;
        --len_;
        poison(c->storage, sizeof c->storage);
    }

    // The empty free list's slow path: a new chunk if the slab may grow;
    // nullptr when full, at its limit, tearing down or uninitialised.
    [[gnu::noinline, gnu::cold]] CellT* grow_and_claim() {
        if (!growable_ || tearing_down_ || num_chunks_ >= max_chunks_) return nullptr;
        add_chunks(1);
        return claim();
    }

    // Marks a doomed value retired and destroys it (teardown only).
    void retire(CellT* c) noexcept {
        c->state = kRetired;
        --len_;
        c->value()->~T();
        poison(c->storage, sizeof c->storage);
    }

    // erase() of a cell not in the expected state: a doomed value whose owner
    // lets go during a teardown (destroyed now), one the teardown already
    // destroyed (nothing to do), or a misuse.
    [[gnu::cold, gnu::noinline]] void erase_unusual(CellT* c, std::uint32_t expected, const char* who) noexcept {
        const std::uint32_t s = c->state;
        if (c->occupied() && (s & kDoomed) != 0 && (s & kHeldByHandle) == expected) {
            retire(c);
            return;
        }
        if (s == kRetired && tearing_down_) return;
        const std::string name = label(who);
        if (!c->occupied()) fatalf("double free of key %u on %s: the cell is already vacant", c->key, name.c_str());
        if (expected == kHeldByKey)
            fatalf(
                "remove of key %u on %s, whose value a live Slot or Handle owns (drop or release() the handle first)",
                c->key, name.c_str());
        fatalf("a handle freed key %u on %s, a cell the slab owns by key (the cell has a second owner)", c->key,
               name.c_str());
    }

    // live_cell()'s checks-build failure path: a key that is not live and
    // held by key. A remove of a value the running teardown already
    // destroyed is allowed (the value is gone, as asked); the rest abort.
    [[gnu::cold, gnu::noinline]] CellT* unusual_key(CellT* c, Key k, KeyOp op, const char* who) const noexcept {
        static constexpr const char* kVerb[] = {"access through", "remove of", "take of", "adopt of"};
        const char* verb = kVerb[static_cast<int>(op)];
        const std::string described = label(who);
        const char* name = described.c_str();
        const unsigned key = k.index();
        if (!initialized())
            fatalf("%s key %u on %s before init() or after shutdown() (on this thread, for a per-thread allocator)",
                   verb, key, name);
        if (c == nullptr) fatalf("%s a vacant or out-of-range key (%u) on %s", verb, key, name);
        if (c->occupied()) {
            if (op == KeyOp::access || (c->state & kHeldByHandle) == 0) return const_cast<CellT*>(c);
            fatalf("%s key %u on %s, whose value a live Slot or Handle owns (drop or release() the handle first)", verb,
                   key, name);
        }
        if (c->state == kRetired && tearing_down_) {
            if (op == KeyOp::remove) return const_cast<CellT*>(c);
            fatalf("%s key %u on %s, whose value the teardown in progress has already destroyed", verb, key, name);
        }
        fatalf("%s a vacant or out-of-range key (%u) on %s", verb, key, name);
    }

    template <class F>
    void for_each_cell(F&& f) noexcept {
        for (std::uint32_t ch = 0; ch < num_chunks_; ++ch) {
            CellT* cells = chunks_[ch];
            for (std::uint32_t i = 0; i < chunk_cells_; ++i) f(cells[i]);
        }
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
            chunks_[first + i] =
                static_cast<CellT*>(::operator new (sizeof(CellT) * chunk_cells_, std::align_val_t{kChunkAlignFor<T>}));
            ++num_chunks_;  // counted at once, so release_storage() frees it if a later one throws
            mark_vacant(first + i);
        }
        for (std::uint32_t i = n; i-- > 0;) thread(first + i);
        first_chunk_ = chunks_[0];
    }

    // Keys every cell of a chunk and marks it vacant (so a teardown skips
    // them even if a later allocation in add_chunks throws before threading).
    void mark_vacant(std::uint32_t chunk) noexcept {
        CellT* cells = chunks_[chunk];
        const std::uint32_t base = chunk << shift_;
        for (std::uint32_t i = 0; i < chunk_cells_; ++i) {
            cells[i].key = base + i;
            cells[i].state = kVacant;
        }
    }

    // Pushes a chunk's usable cells on the free list, lowest key on top. The
    // last chunk of an unbounded slab may be usable only in part, so that
    // max_capacity is exact; its other cells stay vacant and off the list.
    void thread(std::uint32_t chunk) noexcept {
        CellT* cells = chunks_[chunk];
        const std::uint64_t before = std::uint64_t{chunk} * chunk_cells_;
        const std::uint32_t usable =
            max_cells_ - before < chunk_cells_ ? static_cast<std::uint32_t>(max_cells_ - before) : chunk_cells_;
        CellT* next = free_head_;
        for (std::uint32_t i = usable; i-- > 0;) {
            cells[i].set_next_vacant(next);
            next = &cells[i];
        }
        for (std::uint32_t i = 0; i < chunk_cells_; ++i) poison(cells[i].storage, sizeof cells[i].storage);
        free_head_ = next;
    }

    // Hot: read and written by every claim/release.
    CellT* free_head_ = nullptr;  // top of the LIFO list of vacant cells; nullptr = none
    std::size_t len_ = 0;         // live values (doomed ones included), kept so size() is O(1)
    // Warm: read by key lookups.
    CellT** chunks_ = nullptr;       // chunk table; nullptr exactly when uninitialised
    CellT* first_chunk_ = nullptr;   // chunks_[0], for single-chunk (bounded) lookups
    std::uint32_t shift_ = 0;        // key >> shift_ = chunk index
    std::uint32_t mask_ = 0;         // key & mask_ = offset in the chunk
    std::uint32_t chunk_cells_ = 0;  // cells per chunk (a bounded slab: its capacity)
    std::uint32_t num_chunks_ = 0;   // chunks allocated; all of them are threaded
    // Cold: growth, teardown and the checks build.
    std::uint32_t max_chunks_ = 0;  // growth limit (key space or max_capacity)
    std::uint32_t table_cap_ = 0;   // slots in chunks_
    std::uint64_t max_cells_ = 0;   // cells the slab may ever hold; the last chunk may be used in part
    bool growable_ = false;         // unbounded?
    bool tearing_down_ = false;     // between begin_teardown() and the end of the teardown
    std::uint32_t destroying_ = 0;  // checks builds: value destructors running inside erase()

public:
    // ---- checks-build bookkeeping (unused otherwise) ----------------------
    // Declared last so that the hot fields above start the object.

    // Handles alive on a direct slab.
    std::size_t live_handles_ = 0;
    // The thread whose handles those are (direct slab), or the thread that
    // initialised the slab (per-thread allocator): named in messages.
    std::uint32_t owner_thread_ = 0;
};

}  // namespace detail
}  // namespace nexus::slab

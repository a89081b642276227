// slab-hot-paths: one out-of-line function per slab fast path, each called
// kCalls times, so that callgrind can count the instructions of each path
// exactly (the counts are deterministic, unlike timings on a shared machine):
//
//   valgrind --tool=callgrind --callgrind-out-file=cg.out build/<tree>/tests/slab-hot-paths
//   callgrind_annotate cg.out | grep 'hp::'
//
// Each function's "Ir" divided by kCalls is the instructions of one
// operation, call and return included. Values are 64-byte objects like the
// benchmarks' (trivially destructible), plus a type with a destructor, whose
// removal paths carry the re-entrancy guard of the teardown.
#include <nexus/slab/slab.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

namespace hp {

struct Obj {
    explicit Obj(std::uint64_t v) noexcept { w[0] = v; }
    std::uint64_t w[8];
};
inline std::uint64_t g_sink = 0;
struct WithDtor {
    explicit WithDtor(std::uint64_t v) noexcept { w[0] = v; }
    ~WithDtor() { g_sink += w[1]; }
    std::uint64_t w[8] = {};
};

NEXUS_SLAB_ALLOCATOR(obj_alloc, Obj);
NEXUS_SLAB_ALLOCATOR(dtor_alloc, WithDtor);

using nexus::slab::Key;
constexpr int kCalls = 1000;
constexpr int kBatch = 100;

#define HP_NOINLINE [[gnu::noinline]]

HP_NOINLINE obj_alloc::Slot slot_insert(std::uint64_t v) { return obj_alloc::emplace(v); }
HP_NOINLINE void slot_drop(obj_alloc::Slot& s) { s.reset(); }
HP_NOINLINE std::uint64_t slot_get(const obj_alloc::Slot& s) { return s->w[0]; }
HP_NOINLINE bool slot_contains(Key k) { return obj_alloc::contains(k); }
HP_NOINLINE std::uint64_t slot_get_by_key(Key k) { return obj_alloc::get_unchecked(k).w[0]; }

HP_NOINLINE dtor_alloc::Slot dslot_insert(std::uint64_t v) { return dtor_alloc::emplace(v); }
HP_NOINLINE void dslot_drop(dtor_alloc::Slot& s) { s.reset(); }

using Bounded = nexus::slab::BoundedSlab<Obj>;
using Unbounded = nexus::slab::UnboundedSlab<Obj>;
using DBounded = nexus::slab::BoundedSlab<WithDtor>;

HP_NOINLINE nexus::slab::Handle<Obj> handle_insert(Bounded& s, std::uint64_t v) { return s.emplace(v); }
HP_NOINLINE void handle_drop(nexus::slab::Handle<Obj>& h) { h.reset(); }
HP_NOINLINE std::uint64_t handle_get(const nexus::slab::Handle<Obj>& h) { return h->w[0]; }

HP_NOINLINE Key key_insert(Bounded& s, std::uint64_t v) { return s.emplace_key(v); }
HP_NOINLINE void key_remove(Bounded& s, Key k) { s.remove(k); }
HP_NOINLINE std::uint64_t key_get(Bounded& s, Key k) { return s[k].w[0]; }
HP_NOINLINE bool key_contains(const Bounded& s, Key k) { return s.contains(k); }

HP_NOINLINE Key ukey_insert(Unbounded& s, std::uint64_t v) { return s.emplace_key(v); }
HP_NOINLINE void ukey_remove(Unbounded& s, Key k) { s.remove(k); }
HP_NOINLINE std::uint64_t ukey_get(Unbounded& s, Key k) { return s[k].w[0]; }
HP_NOINLINE bool ukey_contains(const Unbounded& s, Key k) { return s.contains(k); }

HP_NOINLINE Key dkey_insert(DBounded& s, std::uint64_t v) { return s.emplace_key(v); }
HP_NOINLINE void dkey_remove(DBounded& s, Key k) { s.remove(k); }

}  // namespace hp

int main() {
    using namespace hp;
    std::uint64_t sink = 0;
    obj_alloc::init().bounded(4096).build();
    dtor_alloc::init().bounded(4096).build();
    Bounded bounded(4096);
    Unbounded unbounded({.chunk_capacity = 1024});
    DBounded dbounded(4096);
    std::vector<Key> keys(kBatch);
    for (int round = 0; round < kCalls / kBatch; ++round) {
        {
            std::vector<obj_alloc::Slot> slots;
            slots.reserve(kBatch);
            for (int i = 0; i < kBatch; ++i) slots.push_back(slot_insert(i));
            for (int i = 0; i < kBatch; ++i) {
                sink += slot_get(slots[i]);
                sink += slot_contains(slots[i].key());
                sink += slot_get_by_key(slots[i].key());
            }
            for (int i = 0; i < kBatch; ++i) slot_drop(slots[i]);
        }
        {
            std::vector<dtor_alloc::Slot> slots;
            slots.reserve(kBatch);
            for (int i = 0; i < kBatch; ++i) slots.push_back(dslot_insert(i));
            for (int i = 0; i < kBatch; ++i) dslot_drop(slots[i]);
        }
        {
            std::vector<nexus::slab::Handle<Obj>> hs;
            hs.reserve(kBatch);
            for (int i = 0; i < kBatch; ++i) hs.push_back(handle_insert(bounded, i));
            for (int i = 0; i < kBatch; ++i) sink += handle_get(hs[i]);
            for (int i = 0; i < kBatch; ++i) handle_drop(hs[i]);
        }
        for (int i = 0; i < kBatch; ++i) keys[i] = key_insert(bounded, i);
        for (int i = 0; i < kBatch; ++i) sink += key_get(bounded, keys[i]) + key_contains(bounded, keys[i]);
        for (int i = 0; i < kBatch; ++i) key_remove(bounded, keys[i]);
        for (int i = 0; i < kBatch; ++i) keys[i] = ukey_insert(unbounded, i);
        for (int i = 0; i < kBatch; ++i) sink += ukey_get(unbounded, keys[i]) + ukey_contains(unbounded, keys[i]);
        for (int i = 0; i < kBatch; ++i) ukey_remove(unbounded, keys[i]);
        for (int i = 0; i < kBatch; ++i) keys[i] = dkey_insert(dbounded, i);
        for (int i = 0; i < kBatch; ++i) dkey_remove(dbounded, keys[i]);
    }
    (void)obj_alloc::shutdown();
    (void)dtor_alloc::shutdown();
    std::printf("%llu\n", static_cast<unsigned long long>(sink + g_sink));
    return 0;
}

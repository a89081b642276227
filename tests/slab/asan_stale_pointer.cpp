// Run under AddressSanitizer, this must be reported: a pointer kept into a
// cell after the cell was freed. ctest expects the "use-after-poison" report.
#include <nexus/slab/slab.hpp>

#include <cstdint>
#include <cstdio>

NEXUS_SLAB_ALLOCATOR(stale_alloc, std::uint64_t);

int main(int argc, char**) {
    volatile std::uint64_t sink = 0;
    if (argc > 1) {  // the per-thread allocator
        stale_alloc::init().bounded(8).build();
        auto s = stale_alloc::insert(42);
        const std::uint64_t* stale = s.get();
        s.reset();
        sink = *stale;
    } else {  // a direct slab
        nexus::slab::UnboundedSlab<std::uint64_t> slab({.chunk_capacity = 8});
        auto h = slab.insert(42);
        const std::uint64_t* stale = h.get();
        h.reset();
        sink = *stale;
    }
    std::printf("read %llu through a stale pointer without a report\n", static_cast<unsigned long long>(sink));
    return 0;
}

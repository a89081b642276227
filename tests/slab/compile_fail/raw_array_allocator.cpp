// Must not compile: a raw array as a per-thread allocator's value type.
// expect: a raw array T\[N\] cannot be a slab value
#include <nexus/slab/slab.hpp>

NEXUS_SLAB_ALLOCATOR(bytes_alloc, char[64]);

int main() { return static_cast<int>(bytes_alloc::size()); }

// Must compile: the control for the compile-fail cases (same flags, same
// include path), so that a broken command line cannot pass for a refusal.
// expect: OK
#include <nexus/slab/slab.hpp>

#include <array>

NEXUS_SLAB_ALLOCATOR(bytes_alloc, std::array<char, 64>);

int main() {
    nexus::slab::BoundedSlab<std::array<int, 4>> slab(8);
    return static_cast<int>(slab.size() + bytes_alloc::size());
}

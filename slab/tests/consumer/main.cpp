// Built against an installed nexus_slab package by the install test.
#include <nexus/slab/slab.hpp>

#include <cstdio>
#include <string>

NEXUS_SLAB_ALLOCATOR(name_alloc, std::string);

int main() {
    name_alloc::init().bounded(4).build();
    auto s = name_alloc::insert(std::string("installed"));
    nexus::slab::UnboundedSlab<int> ints({.chunk_capacity = 2});
    const auto k = ints.insert_key(41);
    ints[k] += 1;
    const bool ok = *s == "installed" && ints[k] == 42 && name_alloc::size() == 1;
    s.reset();
    if (!name_alloc::shutdown().ok()) return 2;
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}

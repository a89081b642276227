// Misuse that every build stops, checks on or off: this file is compiled with
// the build type's own NEXUS_SLAB_CHECKS, so the Release tree tests the
// release build's safety net (the state test on the removal path of a type
// whose destructor runs code). Each runs in a forked child, and each message
// must name the key and the slab.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <string>

#include "death.hpp"

using nexus::slab::Key;
using nexus::test::run_in_child;

namespace {
NEXUS_SLAB_ALLOCATOR(misuse_alloc, std::string);
}  // namespace

TEST_CASE("misuse: remove of a key a live Slot or Handle owns aborts, naming key and slab", "[misuse]") {
    const auto by_slot = run_in_child([] {
        misuse_alloc::init().bounded(4).build();
        auto other = misuse_alloc::insert(std::string("other"));
        auto s = misuse_alloc::insert(std::string("owned by the Slot"));  // key 1
        misuse_alloc::remove(s.key());
    });
    CHECK(by_slot.aborted);
    CHECK_THAT(by_slot.err, Catch::Contains("nexus::slab: remove of key 1 on allocator 'misuse_alloc', whose value "
                                            "a live Slot or Handle owns"));

    const auto by_handle = run_in_child([] {
        nexus::slab::BoundedSlab<std::string> slab(4);
        auto h = slab.insert(std::string("owned by the Handle"));  // key 0
        slab.remove(h.key());
    });
    CHECK(by_handle.aborted);
    CHECK_THAT(by_handle.err, Catch::Contains("nexus::slab: remove of key 0 on slab of std::") &&
                                  Catch::Contains(", whose value a live Slot or Handle owns"));
}

TEST_CASE("misuse: a key removed twice aborts, naming key and slab", "[misuse]") {
    const auto d = run_in_child([] {
        misuse_alloc::init().bounded(4).build();
        const Key k = misuse_alloc::insert(std::string("once")).release();
        misuse_alloc::remove(k);
        misuse_alloc::remove(k);  // the cell is vacant (nothing was inserted in between)
    });
    CHECK(d.aborted);
    // Checks builds stop it at the key's validation, release builds at the free.
    const std::string want = NEXUS_SLAB_CHECKS
                                 ? "remove of a vacant or out-of-range key (0) on allocator 'misuse_alloc'"
                                 : "double free of key 0 on allocator 'misuse_alloc'";
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: " + want));
}

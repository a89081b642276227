// Misuse that the debug checks (NEXUS_SLAB_CHECKS, forced on for this file)
// must catch with a message naming the problem, and the thread-exit case that
// every build catches. Each runs in a forked child.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <optional>
#include <thread>

#include "death.hpp"

static_assert(NEXUS_SLAB_CHECKS == 1, "this file tests the checks build");

using nexus::slab::Key;
using nexus::test::run_in_child;

namespace {
NEXUS_SLAB_ALLOCATOR(checked_alloc, int);
NEXUS_SLAB_ALLOCATOR(late_alloc, int);
}  // namespace

TEST_CASE("checks: the death helper sees a clean exit as no death", "[checks]") {
    const auto d = run_in_child([] {});
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

TEST_CASE("checks: removing the same key twice is caught", "[checks]") {
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        const Key k = slab.insert_key(1);
        slab.remove(k);
        slab.remove(k);
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: remove of a vacant or out-of-range key (0)"));
}

TEST_CASE("checks: a double free through two owners of one cell is caught", "[checks]") {
    const auto d = run_in_child([] {
        checked_alloc::init().bounded(4).build();
        const Key k = checked_alloc::insert(5).leak();
        auto a = checked_alloc::adopt(k);
        auto b = checked_alloc::adopt(k);  // a second owner of the same cell
        a.reset();
        b.reset();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("double free"));
}

TEST_CASE("checks: clearing a slab while a handle to it is alive is caught", "[checks]") {
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        auto h = slab.insert(1);
        slab.clear();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("clear() while handles to the slab are alive; handles (1)"));
}

TEST_CASE("checks: freeing a key that was never inserted is caught", "[checks]") {
    const auto d1 = run_in_child([] {
        nexus::slab::UnboundedSlab<int> slab({.chunk_capacity = 8});
        (void)slab.insert_key(1);
        slab.remove(Key::from_raw(5));  // in range, vacant
    });
    CHECK(d1.aborted);
    CHECK_THAT(d1.err, Catch::Contains("remove of a vacant or out-of-range key (5)"));

    const auto d2 = run_in_child([] {
        checked_alloc::init().bounded(4).build();
        checked_alloc::remove(Key::from_raw(3));
    });
    CHECK(d2.aborted);
    CHECK_THAT(d2.err, Catch::Contains("remove of a vacant or out-of-range key (3)"));

    const auto d3 = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        (void)slab.take(Key::from_raw(100));  // out of range
    });
    CHECK(d3.aborted);
    CHECK_THAT(d3.err, Catch::Contains("take of a vacant or out-of-range key (100)"));
}

TEST_CASE("checks: a Slot that outlives its allocator is reported", "[checks]") {
    // The Slot lives in a thread_local created before the allocator's teardown
    // object, so it is destroyed after the thread's slab is gone.
    const auto d = run_in_child([] {
        std::thread([] {
            thread_local std::optional<late_alloc::Slot> kept;
            kept.reset();  // construct it first
            late_alloc::init().bounded(2).build();
            kept.emplace(late_alloc::insert(1));
        }).join();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("a Slot outlived its allocator"));
}

TEST_CASE("checks: a direct slab destroyed under live handles is reported", "[checks]") {
    const auto d = run_in_child([] {
        auto slab = std::make_unique<nexus::slab::BoundedSlab<int>>(4);
        // Two handles kept on the heap (never destroyed here) so nothing but
        // the slab's destructor touches them.
        auto* h1 = new nexus::slab::Handle<int>(slab->insert(1));
        auto* h2 = new nexus::slab::Handle<int>(slab->insert(2));
        (void)h1;
        (void)h2;
        slab.reset();  // h1 and h2 would now dangle
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("slab destroyed while handles to it are alive; handles (2)"));
}

TEST_CASE("checks: handles given back before the slab goes are fine", "[checks]") {
    const auto d = run_in_child([] {
        auto slab = std::make_unique<nexus::slab::BoundedSlab<int>>(4);
        auto h1 = slab->insert(1);
        const Key k = slab->insert(2).leak();  // leaked: owned by the slab now
        (void)k;
        h1.reset();
        slab.reset();
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

TEST_CASE("checks: access through an empty handle is reported", "[checks]") {
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(2);
        auto h = slab.insert(1);
        auto moved = std::move(h);
        (void)*h;
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("access through an empty handle"));
}

TEST_CASE("checks: remove on an allocator that was never initialised", "[checks]") {
    const auto d = run_in_child([] { checked_alloc::remove(Key::from_raw(0)); });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("remove on an allocator that is not initialised"));
}

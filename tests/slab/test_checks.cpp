// Misuse that the debug checks (NEXUS_SLAB_CHECKS, forced on for this file)
// must catch with a message naming the problem, and the thread-exit case that
// every build catches. Each runs in a forked child.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <pthread.h>

#include <optional>
#include <string>
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

TEST_CASE("checks: a second owner of a cell is refused when it is made", "[checks][ownership]") {
    const auto d = run_in_child([] {
        checked_alloc::init().bounded(4).build();
        const Key k = checked_alloc::insert(5).release();
        auto a = checked_alloc::adopt(k);
        auto b = checked_alloc::adopt(k);  // a second owner of the same cell
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: adopt of key 0 on allocator 'checked_alloc', whose value a "
                                      "live Slot or Handle owns"));
}

TEST_CASE("checks: remove, take and adopt of a key a live handle owns abort naming the key", "[checks][ownership]") {
    // Per-thread allocator: the Slot is alive, its key is used as if leaked.
    const char* const ops[] = {"remove", "take", "adopt"};
    for (int op = 0; op < 3; ++op) {
        const auto d = run_in_child([op] {
            checked_alloc::init().bounded(8).build();
            auto other = checked_alloc::insert(1);
            auto s = checked_alloc::insert(2);  // key 1
            if (op == 0) checked_alloc::remove(s.key());
            if (op == 1) (void)checked_alloc::take(s.key());
            if (op == 2) (void)checked_alloc::adopt(s.key());
        });
        CHECK(d.aborted);
        CHECK_THAT(d.err, Catch::Contains(std::string("nexus::slab: ") + ops[op] +
                                          " of key 1 on allocator "
                                          "'checked_alloc', whose value a live Slot or Handle owns"));
    }
    // Direct slab: the same through a Handle.
    for (int op = 0; op < 3; ++op) {
        const auto d = run_in_child([op] {
            nexus::slab::UnboundedSlab<int> slab({.chunk_capacity = 4});
            for (int i = 0; i < 6; ++i) (void)slab.insert_key(i);
            auto h = slab.insert(9);  // key 6
            if (op == 0) slab.remove(h.key());
            if (op == 1) (void)slab.take(h.key());
            if (op == 2) (void)slab.adopt(h.key());
        });
        CHECK(d.aborted);
        CHECK_THAT(d.err, Catch::Contains(std::string("nexus::slab: ") + ops[op] +
                                          " of key 6 on slab of int, whose value a live Slot or Handle owns"));
    }
}

TEST_CASE("checks: a leaked handle's key may be removed, taken and adopted", "[checks][ownership]") {
    const auto d = run_in_child([] {
        checked_alloc::init().bounded(8).build();
        checked_alloc::remove(checked_alloc::insert(1).release());
        (void)checked_alloc::take(checked_alloc::insert(2).release());
        auto back = checked_alloc::adopt(checked_alloc::insert(3).release());
        back.reset();
        nexus::slab::BoundedSlab<int> slab(4);
        slab.remove(slab.insert(1).release());
        (void)slab.take(slab.insert(2).release());
        auto h = slab.adopt(slab.insert(3).release());
        if (!checked_alloc::empty() || slab.size() != 1) std::_Exit(3);
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

TEST_CASE("checks: clearing a slab while a handle to it is alive is caught", "[checks]") {
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        auto h = slab.insert(1);
        slab.clear();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: the slab of int at 0x") &&
                          Catch::Contains(" was cleared (clear()) while 1 handles to it from outside it were alive"));
}

TEST_CASE("checks: freeing a key that was never inserted is caught", "[checks]") {
    const auto d1 = run_in_child([] {
        nexus::slab::UnboundedSlab<int> slab({.chunk_capacity = 8});
        (void)slab.insert_key(1);
        slab.remove(Key::from_index(5));  // in range, vacant
    });
    CHECK(d1.aborted);
    CHECK_THAT(d1.err, Catch::Contains("remove of a vacant or out-of-range key (5) on slab of int"));

    const auto d2 = run_in_child([] {
        checked_alloc::init().bounded(4).build();
        checked_alloc::remove(Key::from_index(3));
    });
    CHECK(d2.aborted);
    CHECK_THAT(d2.err, Catch::Contains("remove of a vacant or out-of-range key (3) on allocator 'checked_alloc'"));

    const auto d3 = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        (void)slab.take(Key::from_index(100));  // out of range
    });
    CHECK(d3.aborted);
    CHECK_THAT(d3.err, Catch::Contains("take of a vacant or out-of-range key (100) on slab of int"));
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
    CHECK_THAT(d.err, Catch::Contains("a Slot of allocator 'late_alloc' outlived its allocator"));
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
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: the slab of int at 0x") &&
                          Catch::Contains(" was destroyed while 2 handles to it from outside it were alive"));
}

TEST_CASE("checks: handles given back before the slab goes are fine", "[checks]") {
    const auto d = run_in_child([] {
        auto slab = std::make_unique<nexus::slab::BoundedSlab<int>>(4);
        auto h1 = slab->insert(1);
        const Key k = slab->insert(2).release();  // leaked: owned by the slab now
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

TEST_CASE("checks: remove on an allocator that was never initialised names it", "[checks]") {
    const auto d = run_in_child([] { checked_alloc::remove(Key::from_index(0)); });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("remove of key 0 on allocator 'checked_alloc', which is not initialised on "
                                      "this thread"));
}

TEST_CASE("checks: get_unchecked before init() says so", "[checks]") {
    const auto d = run_in_child([] { (void)checked_alloc::get_unchecked(Key::from_index(3)); });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("access through key 3 on allocator 'checked_alloc' before init() or after "
                                      "shutdown()"));
    const auto d2 = run_in_child([] {
        checked_alloc::init().bounded(2).build();
        (void)checked_alloc::shutdown();
        (void)checked_alloc::get_unchecked(Key::from_index(0));
    });
    CHECK(d2.aborted);
    CHECK_THAT(d2.err, Catch::Contains("before init() or after shutdown()"));
}

TEST_CASE("checks: clearing a slab from one of its own values' destructors is caught", "[checks][teardown]") {
    struct Clearer {
        nexus::slab::BoundedSlab<Clearer>* slab = nullptr;
        ~Clearer() {
            if (slab != nullptr) slab->clear();
        }
    };
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<Clearer> slab(4);
        const Key k = slab.emplace_key();
        slab[k].slab = &slab;
        slab.remove(k);
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("cleared or destroyed from inside the destructor of one of its own values"));
}

TEST_CASE("checks: take of a value the teardown already destroyed is caught", "[checks][teardown]") {
    struct Taker {
        nexus::slab::BoundedSlab<Taker>* slab = nullptr;
        Key victim;
        ~Taker() {
            if (slab != nullptr) (void)slab->take(victim);
        }
    };
    const auto d = run_in_child([] {
        nexus::slab::BoundedSlab<Taker> slab(4);
        const Key first = slab.emplace_key();  // destroyed first by the teardown
        const Key second = slab.emplace_key();
        slab[second].slab = &slab;
        slab[second].victim = first;
        slab.clear();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("take of key 0 on slab of") &&
                          Catch::Contains("whose value the teardown in progress has already destroyed"));
}

// ---- threads ----------------------------------------------------------------

namespace {
NEXUS_SLAB_ALLOCATOR(threaded_alloc, std::string);

void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }
}  // namespace

TEST_CASE("checks: a Slot dropped on another thread aborts naming the allocator and both threads",
          "[checks][threads]") {
    const auto d = run_in_child([] {
        name_this_thread("slab-owner");
        threaded_alloc::init().bounded(4).build();
        auto s = threaded_alloc::insert(std::string("made here"));
        std::thread([moved = std::move(s)]() mutable {
            name_this_thread("slab-other");
            moved.reset();
        }).join();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("nexus::slab: a Slot of allocator 'threaded_alloc' was dropped on thread ") &&
                          Catch::Contains("'slab-other', but its value lives in the slab of thread ") &&
                          Catch::Contains("'slab-owner'"));
}

TEST_CASE("checks: a Slot used on another thread aborts, even when its own thread has a slab", "[checks][threads]") {
    const auto d = run_in_child([] {
        name_this_thread("slab-owner");
        threaded_alloc::init().bounded(4).build();
        auto s = threaded_alloc::insert(std::string("made here"));
        std::thread([&s] {
            name_this_thread("slab-other");
            threaded_alloc::init().bounded(4).build();  // a slab of its own: the Slot is still not its
            (void)s->size();
        }).join();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("a Slot of allocator 'threaded_alloc' was used on thread ") &&
                          Catch::Contains("'slab-other'") && Catch::Contains("'slab-owner'"));
}

TEST_CASE("checks: a Slot whose thread has exited names that thread as gone", "[checks][threads]") {
    const auto d = run_in_child([] {
        threaded_alloc::Slot escaped;
        std::thread([&escaped] {
            threaded_alloc::init().bounded(4).build();
            escaped = threaded_alloc::insert(std::string("left behind"));
        }).join();
        escaped.reset();
    });
    CHECK(d.aborted);
    CHECK_THAT(d.err, Catch::Contains("was dropped on thread") && Catch::Contains("(no longer running)"));
}

TEST_CASE("checks: a Slot moved to another thread and back is fine", "[checks][threads]") {
    const auto d = run_in_child([] {
        threaded_alloc::init().bounded(4).build();
        auto s = threaded_alloc::insert(std::string("travels"));
        threaded_alloc::Slot back;
        std::thread([&] { back = std::move(s); }).join();  // moved, never used there
        if (*back != "travels") std::_Exit(3);
        back.reset();
        if (!threaded_alloc::shutdown().ok()) std::_Exit(4);
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

TEST_CASE("checks: a direct slab's Handles are bound to one thread", "[checks][threads]") {
    // Dropped elsewhere.
    const auto d1 = run_in_child([] {
        name_this_thread("slab-owner");
        nexus::slab::BoundedSlab<int> slab(4);
        auto h = slab.insert(1);
        std::thread([moved = std::move(h)]() mutable {
            name_this_thread("slab-other");
            moved.reset();
        }).join();
    });
    CHECK(d1.aborted);
    CHECK_THAT(d1.err, Catch::Contains("a Handle of the slab of int at 0x") &&
                           Catch::Contains("was dropped on thread ") && Catch::Contains("'slab-other'") &&
                           Catch::Contains("but the slab's live handles belong to thread ") &&
                           Catch::Contains("'slab-owner'"));
    // Made elsewhere while handles are alive here.
    const auto d2 = run_in_child([] {
        nexus::slab::BoundedSlab<int> slab(4);
        auto h = slab.insert(1);
        std::thread([&slab] { auto h2 = slab.insert(2); }).join();
    });
    CHECK(d2.aborted);
    CHECK_THAT(d2.err, Catch::Contains("a Handle of the slab of int") && Catch::Contains("was made on thread"));
    // Used elsewhere, by value or by raw pointer.
    for (int how = 0; how < 2; ++how) {
        const auto d3 = run_in_child([how] {
            nexus::slab::BoundedSlab<int> slab(4);
            auto h = slab.insert(1);
            std::thread([&h, how] {
                if (how == 0)
                    (void)*h;
                else
                    (void)h.get();
            }).join();
        });
        CHECK(d3.aborted);
        CHECK_THAT(d3.err, Catch::Contains("was used on thread"));
    }
}

TEST_CASE("checks: a direct slab without live Handles may move to another thread", "[checks][threads]") {
    const auto d = run_in_child([] {
        auto slab = std::make_unique<nexus::slab::BoundedSlab<int>>(8);
        const Key k = slab->insert_key(1);
        auto h = slab->insert(2);
        h.reset();
        std::thread([&] {  // handed over: keys, handles made and dropped there, destroyed there
            slab->remove(k);
            auto h2 = slab->insert(3);
            const Key k2 = h2.release();
            auto h3 = slab->adopt(k2);
            h3.reset();
            slab.reset();
        })
            .join();
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

namespace {
NEXUS_SLAB_ALLOCATOR(forked_alloc, std::string);
}  // namespace

TEST_CASE("checks: a fork()ed child uses and drops what its thread made before the fork", "[checks][threads]") {
    // The child's only thread carries on the thread that forked: its copies
    // of that thread's Slots and Handles are its own, whatever its kernel id.
    forked_alloc::init().bounded(4).build();
    auto slot = forked_alloc::insert(std::string("made before the fork"));
    nexus::slab::BoundedSlab<std::string> slab(4);
    auto handle = slab.insert(std::string("also made before the fork"));
    const auto d = run_in_child([&] {
        const bool ok = *slot == "made before the fork" && *handle == "also made before the fork";
        slot.reset();
        handle.reset();
        auto more = slab.insert(std::string("made in the child"));
        std::_Exit(ok && forked_alloc::size() == 0 && slab.size() == 1 ? 0 : 3);
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.err.empty());
    CHECK(d.exit_code == 0);
    slot.reset();
    handle.reset();
    CHECK(forked_alloc::shutdown().ok());
}

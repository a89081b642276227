// Teardown: every value is destroyed exactly once, whatever its destructor does
// to the same slab, at thread exit, shutdown, a direct slab's destruction and
// clear(); storage goes back only after the last value is gone; an insert
// during teardown is refused.
//
// Each value records its own life in a ledger (serial number -> alive), so a
// second destruction is caught even when the memory was reused, and a value
// that is never destroyed shows up as still alive.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "death.hpp"
#include "ledger.hpp"

using nexus::slab::BoundedSlab;
using nexus::slab::Handle;
using nexus::slab::Key;
using nexus::slab::TeardownInProgress;
using nexus::slab::UnboundedConfig;
using nexus::slab::UnboundedSlab;
using nexus::test::Ledger;
using nexus::test::ledger;
using nexus::test::LedgerScope;
using nexus::test::Life;

namespace {

// The shape from the issue: a node owns its child through the allocator's own
// Slot (parent owns child), and carries a string so that a double destruction
// is also a double free.
struct Node;
NEXUS_SLAB_ALLOCATOR(node_alloc, Node);
struct Node {
    Life life;
    std::string name;
    node_alloc::Slot child;
    explicit Node(std::string n, node_alloc::Slot c = {}) : name(std::move(n)), child(std::move(c)) {}
};

// The same through a direct slab: a node owns its child by Handle, or by key
// (removing it in its destructor).
struct DNode {
    Life life;
    std::string name;
    Handle<DNode> child;
    Key child_key;
    BoundedSlab<DNode>* slab = nullptr;  // for removal by key
    explicit DNode(std::string n) : name(std::move(n)) {}
    ~DNode() {
        if (slab != nullptr && child_key.has_value()) slab->remove(child_key);
    }
};

}  // namespace

TEST_CASE("teardown: the issue's parent-owns-child program destroys the child once at thread exit", "[teardown]") {
    LedgerScope scope;
    std::thread([] {
        node_alloc::init().bounded(16).build();
        auto child = node_alloc::insert(Node("child"));                      // key 0
        auto parent = node_alloc::insert(Node("parent", std::move(child)));  // key 1, owns key 0
        (void)parent.release();                                              // left in the slab for the thread's exit
    }).join();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
    CHECK(ledger().constructed() == ledger().destroyed());
}

TEST_CASE("teardown: a chain of children, parents at lower and higher keys, every order", "[teardown]") {
    LedgerScope scope;
    std::thread([] {
        node_alloc::init().unbounded().chunk_capacity(2).build();  // the chain spans many chunks
        // root(0) owns n(1) owns n(2) ... and a second chain built the other way round.
        std::optional<node_alloc::Slot> tail;
        for (int i = 0; i < 9; ++i) {
            auto n = node_alloc::insert(Node("low-" + std::to_string(i)));
            if (tail) n->child = std::move(*tail);
            tail = std::move(n);
        }
        (void)tail->release();
        node_alloc::Slot root = node_alloc::insert(Node("high-root"));
        node_alloc::Slot* at = &root;
        for (int i = 0; i < 9; ++i) {
            at->value().child = node_alloc::insert(Node("high-" + std::to_string(i)));
            at = &at->value().child;
        }
        (void)root.release();
    }).join();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
}

TEMPLATE_TEST_CASE("teardown: a direct slab's destruction destroys each node once", "[teardown]", std::true_type,
                   std::false_type) {
    LedgerScope scope;
    {
        BoundedSlab<DNode> slab(64);
        const bool by_handle = TestType::value;
        // Children first (lower keys), then parents that own them.
        for (int i = 0; i < 10; ++i) {
            Handle<DNode> child = slab.emplace("child");
            Handle<DNode> parent = slab.emplace("parent");
            if (by_handle) {
                parent->child = std::move(child);
            } else {
                parent->child_key = child.release();
                parent->slab = &slab;
            }
            (void)parent.release();
        }
    }
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
}

TEMPLATE_TEST_CASE("teardown: clear() destroys each node once and the slab starts over", "[teardown]", std::true_type,
                   std::false_type) {
    LedgerScope scope;
    BoundedSlab<DNode> slab(64);
    const bool by_handle = TestType::value;
    for (int i = 0; i < 10; ++i) {
        Handle<DNode> child = slab.emplace("child");
        Handle<DNode> parent = slab.emplace("parent");
        if (by_handle) {
            parent->child = std::move(child);
        } else {
            parent->child_key = child.release();
            parent->slab = &slab;
        }
        (void)parent.release();
    }
    slab.clear();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
    CHECK(slab.size() == 0);
    CHECK(slab.emplace_key("again").index() == 0);
}

namespace {

// A parent type and a child type in two allocators, the parent's allocator
// initialised first (so torn down last, were allocators torn down one by one).
struct Child;
struct Parent;
NEXUS_SLAB_ALLOCATOR(child_alloc, Child);
NEXUS_SLAB_ALLOCATOR(parent_alloc, Parent);
struct Child {
    Life life;
    std::string tag = "child";
    parent_alloc::Slot back;  // a child may own a parent too: ownership across allocators both ways
};
struct Parent {
    Life life;
    std::vector<child_alloc::Slot> children;
};

// Destructors that do everything a destructor may do to its own slab during
// a teardown: drop owned Slots, remove owned keys, and try to insert.
struct Busy;
NEXUS_SLAB_ALLOCATOR(busy_alloc, Busy);
struct TeardownReport {
    int inserts_refused = 0;    // try_insert returned empty
    int inserts_threw = 0;      // insert threw TeardownInProgress
    int inserts_succeeded = 0;  // must stay 0
    int shutdowns_refused = 0;  // shutdown() from a destructor during the exit
};
TeardownReport& report() {
    static TeardownReport r;
    return r;
}
struct Busy {
    Life life;
    busy_alloc::Slot owned;
    Key owned_key;
    bool insert_on_destroy = false;
    Busy() = default;
    Busy(Busy&&) = default;
    ~Busy() {
        if (owned_key.has_value()) busy_alloc::remove(owned_key);
        if (!insert_on_destroy) return;
        auto s = busy_alloc::try_insert(Busy{});
        if (s)
            ++report().inserts_succeeded;
        else
            ++report().inserts_refused;
        try {
            (void)busy_alloc::insert(Busy{});
            ++report().inserts_succeeded;
        } catch (const nexus::slab::TeardownInProgress& e) {
            ++report().inserts_threw;
            CHECK_THAT(e.what(), Catch::Contains("busy_alloc") && Catch::Contains("refused"));
        }
        if (!busy_alloc::shutdown().ok() || busy_alloc::is_initialized()) ++report().shutdowns_refused;
    }
};

}  // namespace

TEST_CASE("teardown: values owning Slots across two allocators, initialised in either order", "[teardown]") {
    LedgerScope scope;
    const bool parents_first = GENERATE(true, false);
    std::thread([parents_first] {
        if (parents_first) {
            parent_alloc::init().bounded(8).build();
            child_alloc::init().bounded(32).build();
        } else {
            child_alloc::init().bounded(32).build();
            parent_alloc::init().bounded(8).build();
        }
        for (int p = 0; p < 3; ++p) {
            auto parent = parent_alloc::emplace();
            for (int c = 0; c < 4; ++c) parent->children.push_back(child_alloc::emplace());
            (void)parent.release();
        }
        // A child owning a parent that owns children.
        auto orphan = child_alloc::emplace();
        orphan->back = parent_alloc::emplace();
        orphan->back->children.push_back(child_alloc::emplace());
        (void)orphan.release();
    }).join();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
}

TEST_CASE("teardown: destructors that remove keys, drop Slots and insert, at thread exit", "[teardown]") {
    LedgerScope scope;
    report() = {};
    std::thread([] {
        busy_alloc::init().unbounded().chunk_capacity(3).build();
        std::vector<Key> keys;
        for (int i = 0; i < 12; ++i) keys.push_back(busy_alloc::emplace().release());
        // Owners by key at higher and lower keys than what they own.
        busy_alloc::get_unchecked(keys[5]).owned_key = keys[1];
        busy_alloc::get_unchecked(keys[2]).owned_key = keys[9];
        busy_alloc::get_unchecked(keys[9]).owned_key = keys[10];  // a chain of removals
        // Owners by Slot, and a cycle of two Slots nobody else owns.
        busy_alloc::get_unchecked(keys[0]).owned = busy_alloc::emplace();
        auto a = busy_alloc::emplace();
        a->owned = busy_alloc::emplace();  // a owns b
        Busy& b = a->owned.value();
        b.owned = busy_alloc::adopt(a.release());  // b owns a: a cycle nothing outside owns
        busy_alloc::get_unchecked(keys[3]).insert_on_destroy = true;
        busy_alloc::get_unchecked(keys[11]).insert_on_destroy = true;
    }).join();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
    CHECK(report().inserts_succeeded == 0);
    CHECK(report().inserts_refused == 2);
    CHECK(report().inserts_threw == 2);
    CHECK(report().shutdowns_refused == 2);
}

TEST_CASE("teardown: a Slot kept by a thread_local made after the first init is dropped normally", "[teardown]") {
    LedgerScope scope;
    std::thread([] {
        node_alloc::init().bounded(4).build();
        thread_local std::optional<node_alloc::Slot> kept;  // made after the allocator: destroyed before it
        kept.emplace(node_alloc::insert(Node("kept")));
    }).join();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
}

namespace {
struct Reiniter;
NEXUS_SLAB_ALLOCATOR(reiniter_alloc, Reiniter);
struct Reiniter {
    Life life;
    int* outcome = nullptr;  // 1: init refused as the thread exits; 2: init worked
    ~Reiniter() {
        if (outcome == nullptr) return;
        try {
            child_alloc::init().bounded(4).build();
            *outcome = 2;
        } catch (const nexus::slab::NotInitialized& e) {
            *outcome = std::string(e.what()).find("exiting") != std::string::npos ? 1 : 3;
        }
    }
};
}  // namespace

TEST_CASE("teardown: init() from a destructor while the thread exits is refused", "[teardown]") {
    LedgerScope scope;
    int outcome = 0;
    std::thread([&outcome] {
        reiniter_alloc::init().bounded(4).build();
        auto r = reiniter_alloc::emplace();
        r->outcome = &outcome;
        (void)r.release();
    }).join();
    CHECK(outcome == 1);
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
}

TEST_CASE("teardown: a direct slab's values owning keys and Handles, and values inserted meanwhile", "[teardown]") {
    LedgerScope scope;
    struct Tree {
        Life life;
        std::vector<Handle<Tree>> kids;
        std::vector<Key> keyed_kids;
        UnboundedSlab<Tree>* slab = nullptr;
        bool* refused = nullptr;
        ~Tree() {
            for (Key k : keyed_kids) slab->remove(k);
            if (refused != nullptr) {
                const Key k = slab->try_emplace_key();
                *refused = !k.has_value();
                try {
                    (void)slab->emplace_key();
                    *refused = false;
                } catch (const TeardownInProgress& e) {
                    *refused = *refused && std::string(e.what()).find("refused") != std::string::npos;
                }
            }
        }
    };
    bool refused_at_clear = false, refused_at_destruction = false;
    auto slab = std::make_unique<UnboundedSlab<Tree>>(UnboundedConfig{.chunk_capacity = 4});
    auto build = [&](bool* refused) {
        std::vector<Key> all;
        for (int i = 0; i < 20; ++i) {
            const Key k = slab->emplace_key();
            (*slab)[k].slab = slab.get();
            all.push_back(k);
        }
        for (int i = 0; i < 20; i += 4) {
            Tree& t = (*slab)[all[i]];
            t.kids.push_back(slab->adopt(all[i + 1]));
            t.keyed_kids.push_back(all[i + 2]);
            t.kids.push_back(slab->emplace());
        }
        (*slab)[all[3]].refused = refused;
    };
    build(&refused_at_clear);
    slab->clear();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
    CHECK(refused_at_clear);
    CHECK(slab->size() == 0);
    build(&refused_at_destruction);
    slab.reset();
    CHECK(ledger().double_destroyed() == 0);
    CHECK(ledger().alive() == 0);
    CHECK(refused_at_destruction);
}

TEST_CASE("teardown: values left in the main thread's allocators are destroyed when the process exits", "[teardown]") {
    // In a child process whose main thread exits with values still in two
    // allocators; an atexit handler, which runs after the main thread's
    // thread_local teardown, reports what the ledger saw.
    const auto d = nexus::test::run_in_child([] {
        ledger().reset();
        std::atexit([] { std::_Exit(ledger().alive() == 0 && ledger().double_destroyed() == 0 ? 0 : 7); });
        parent_alloc::init().bounded(4).build();
        child_alloc::init().bounded(8).build();
        auto p = parent_alloc::emplace();
        p->children.push_back(child_alloc::emplace());
        p->children.push_back(child_alloc::emplace());
        (void)p.release();
        std::exit(0);
    });
    CHECK_FALSE(d.aborted);
    CHECK(d.exit_code == 0);
}

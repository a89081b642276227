// The per-thread allocator made by NEXUS_SLAB_ALLOCATOR.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tracker.hpp"
#include "value_types.hpp"

#include <sys/mman.h>
#include <unistd.h>

using nexus::slab::AlreadyInitialized;
using nexus::slab::CapacityError;
using nexus::slab::Key;
using nexus::slab::NotInitialized;
using nexus::slab::SlabFull;
using nexus::test::Aligned128;
using nexus::test::Aligned16;
using nexus::test::Aligned64;
using nexus::test::AlignedPage;
using nexus::test::counts;
using nexus::test::CountScope;
using nexus::test::Empty;
using nexus::test::Page;
using nexus::test::Tracked;

namespace {

NEXUS_SLAB_ALLOCATOR(str_alloc, std::string);
NEXUS_SLAB_ALLOCATOR(u64_alloc, std::uint64_t);
NEXUS_SLAB_ALLOCATOR(tracked_alloc, Tracked);
NEXUS_SLAB_ALLOCATOR(uptr_alloc, std::unique_ptr<std::string>);
NEXUS_SLAB_ALLOCATOR(a16_alloc, Aligned16);
NEXUS_SLAB_ALLOCATOR(a64_alloc, Aligned64);
NEXUS_SLAB_ALLOCATOR(a128_alloc, Aligned128);
NEXUS_SLAB_ALLOCATOR(page_aligned_alloc, AlignedPage);
NEXUS_SLAB_ALLOCATOR(empty_alloc, Empty);
NEXUS_SLAB_ALLOCATOR(page_alloc, Page);
NEXUS_SLAB_ALLOCATOR(vec_alloc, std::vector<int>);
NEXUS_SLAB_ALLOCATOR(pair_alloc, std::pair<int, long>);  // a type with a comma

// A singly linked list owning its next node, the Slot first so that a freed
// cell's free-list link lands on it.
struct ListNode;
NEXUS_SLAB_ALLOCATOR(list_alloc, ListNode);
struct ListNode {
    list_alloc::Slot next;
    std::string name;
    explicit ListNode(int i) : name("node " + std::to_string(i) + " with a name too long for SSO") {}
};

// Builds allocator A in the given mode with room for at least n values.
enum class Mode { bounded, unbounded };
template <class A>
void init(Mode m, std::size_t n) {
    if (m == Mode::bounded)
        A::init().bounded(n).build();
    else
        A::init().unbounded().chunk_capacity(4).max_capacity(n).build();
}
template <class A>
void require_clean_shutdown() {
    REQUIRE(A::size() == 0);
    REQUIRE(A::shutdown().ok());
    REQUIRE_FALSE(A::is_initialized());
}

}  // namespace

TEST_CASE("allocator: Slot is 8 bytes (16 in checks builds, which record its thread) and move-only", "[alloc]") {
    constexpr std::size_t expected = NEXUS_SLAB_CHECKS ? 16 : 8;
    STATIC_REQUIRE(sizeof(str_alloc::Slot) == expected);
    STATIC_REQUIRE(sizeof(a64_alloc::Slot) == expected);
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<str_alloc::Slot>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<str_alloc::Slot>);
}

TEST_CASE("allocator: every Slot and allocator operation", "[alloc]") {
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    init<str_alloc>(mode, 8);
    REQUIRE(str_alloc::is_initialized());
    CHECK(str_alloc::empty());

    auto s = str_alloc::insert(std::string("alpha"));
    CHECK(s.value() == "alpha");
    s.value() += "!";
    CHECK(*s == "alpha!");
    CHECK(s->size() == 6);
    CHECK(s.has_value());
    CHECK(std::as_const(s).get() == &std::as_const(s).value());
    CHECK(s.get() == &s.value());
    const Key k = s.key();
    CHECK(str_alloc::contains(k));
    CHECK(&str_alloc::get_unchecked(k) == s.get());
    CHECK(&str_alloc::get_unchecked(k) == s.get());
    CHECK(str_alloc::get(k) == s.get());

    CHECK(s.replace("beta") == "alpha!");
    CHECK(s.key() == k);
    const std::string copy = "gamma";
    auto c = str_alloc::insert(copy);
    auto e = str_alloc::emplace(2, 'z');
    CHECK(*e == "zz");
    CHECK(str_alloc::size() == 3);
    CHECK(str_alloc::capacity() == (mode == Mode::bounded ? 8u : 4u));  // unbounded: one chunk of 4 so far

    auto t = str_alloc::try_insert(std::string("delta"));
    REQUIRE(t.has_value());
    auto te = str_alloc::try_emplace("epsilon");
    REQUIRE(te.has_value());
    CHECK(**te == "epsilon");

    str_alloc::Slot moved = std::move(*t);
    CHECK_FALSE(t->has_value());
    CHECK(*moved == "delta");
    CHECK(moved.take() == "delta");
    CHECK_FALSE(moved.has_value());

    const Key leaked = c.release();
    CHECK_FALSE(c.has_value());
    CHECK(str_alloc::contains(leaked));
    CHECK(str_alloc::take(leaked) == "gamma");
    CHECK_FALSE(str_alloc::contains(leaked));

    const Key leaked2 = e.release();
    str_alloc::remove(leaked2);
    CHECK(str_alloc::get(leaked2) == nullptr);

    auto back = str_alloc::adopt(te->release());
    CHECK(*back == "epsilon");

    s.reset();
    back.reset();
    te.reset();
    require_clean_shutdown<str_alloc>();
}

TEST_CASE("allocator: a Slot assigned from inside the value it owns, as in popping a list's head", "[alloc]") {
    // `head = std::move(head->next)`: the old head's destructor destroys the
    // very Slot being moved from, so the assignment must take it first.
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    init<list_alloc>(mode, 8);
    list_alloc::Slot head;
    for (int i = 4; i >= 0; --i) {
        auto n = list_alloc::emplace(i);
        n->next = std::move(head);
        head = std::move(n);
    }
    std::vector<std::string> seen;
    while (head) {
        seen.push_back(head->name.substr(0, 6));
        head = std::move(head->next);
        CHECK(list_alloc::size() == 5 - seen.size());
    }
    CHECK(seen == std::vector<std::string>{"node 0", "node 1", "node 2", "node 3", "node 4"});
    // Self-assignment keeps the value.
    head = list_alloc::emplace(9);
    auto& alias = head;
    head = std::move(alias);
    REQUIRE(head.has_value());
    CHECK(head->name.substr(0, 6) == "node 9");
    head.reset();
    require_clean_shutdown<list_alloc>();
}

TEST_CASE("allocator: capacity 1, fill, LIFO reuse", "[alloc]") {
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    if (mode == Mode::bounded)
        u64_alloc::init().bounded(1).build();
    else
        u64_alloc::init().unbounded().chunk_capacity(1).max_capacity(1).build();
    {
        auto a = u64_alloc::insert(1);
        CHECK_FALSE(u64_alloc::try_insert(2).has_value());
        const Key ka = a.key();
        a.reset();
        CHECK(u64_alloc::insert(3).key() == ka);
    }
    require_clean_shutdown<u64_alloc>();

    init<u64_alloc>(mode, 100);
    {
        std::vector<u64_alloc::Slot> slots;
        for (std::uint64_t i = 0; i < 100; ++i) slots.push_back(u64_alloc::insert(i));
        CHECK(u64_alloc::size() == 100);
        std::set<Key> keys;
        for (auto& s : slots) keys.insert(s.key());
        CHECK(keys.size() == 100);
        CHECK_FALSE(u64_alloc::try_insert(7).has_value());
        if (mode == Mode::bounded)
            CHECK_THROWS_AS(u64_alloc::insert(7), SlabFull);
        else
            CHECK_THROWS_AS(u64_alloc::insert(7), CapacityError);
        const Key k10 = slots[10].key(), k50 = slots[50].key();
        slots[10].reset();
        slots[50].reset();
        CHECK(u64_alloc::insert(1000).release() == k50);
        CHECK(u64_alloc::insert(1001).release() == k10);
        u64_alloc::remove(k50);
        u64_alloc::remove(k10);
    }
    require_clean_shutdown<u64_alloc>();
}

TEST_CASE("allocator: try_insert on a full slab hands the value back", "[alloc]") {
    uptr_alloc::init().bounded(1).build();
    {
        auto held = uptr_alloc::insert(std::make_unique<std::string>("resting"));
        auto incoming = std::make_unique<std::string>("incoming");
        auto* raw = incoming.get();
        CHECK_FALSE(uptr_alloc::try_insert(std::move(incoming)).has_value());
        REQUIRE(incoming.get() == raw);
        CHECK(*incoming == "incoming");
    }
    require_clean_shutdown<uptr_alloc>();
}

TEST_CASE("allocator: use before init or after shutdown throws in every build", "[alloc][errors]") {
    REQUIRE_FALSE(str_alloc::is_initialized());
    CHECK(str_alloc::size() == 0);
    CHECK(str_alloc::capacity() == 0);
    CHECK(str_alloc::empty());
    CHECK_FALSE(str_alloc::contains(Key::from_index(0)));
    CHECK(str_alloc::get(Key::from_index(0)) == nullptr);
    CHECK_THROWS_AS(str_alloc::insert(std::string("x")), NotInitialized);
    CHECK_THROWS_AS(str_alloc::emplace("x"), NotInitialized);
    CHECK_THROWS_AS(str_alloc::try_insert(std::string("x")), NotInitialized);
    CHECK_THROWS_AS(str_alloc::try_emplace("x"), NotInitialized);
    CHECK_THROWS_AS((void)str_alloc::take(Key::from_index(0)), NotInitialized);
    try {
        (void)str_alloc::insert(std::string("x"));
    } catch (const NotInitialized& e) {
        CHECK_THAT(e.what(), Catch::Contains("str_alloc") && Catch::Contains("before init()"));
    }
    CHECK(str_alloc::shutdown().ok());  // shutting down an idle allocator is harmless

    str_alloc::init().bounded(4).build();
    CHECK_THROWS_AS(str_alloc::init().bounded(4).build(), AlreadyInitialized);
    CHECK_THROWS_AS(str_alloc::init().unbounded().build(), AlreadyInitialized);
    { auto s = str_alloc::insert(std::string("x")); }
    REQUIRE(str_alloc::shutdown().ok());
    CHECK_THROWS_AS(str_alloc::insert(std::string("after")), NotInitialized);
    CHECK_THROWS_AS(str_alloc::try_emplace("after"), NotInitialized);
}

TEST_CASE("allocator: shutdown with slots in use refuses and counts them, then re-init", "[alloc]") {
    CountScope scope;
    tracked_alloc::init().bounded(8).build();
    auto a = tracked_alloc::emplace(1u);
    auto b = tracked_alloc::emplace(2u);
    const Key leaked = tracked_alloc::emplace(3u).release();
    const auto r = tracked_alloc::shutdown();
    CHECK_FALSE(r.ok());
    CHECK(r.slots_remaining == 3);
    CHECK(tracked_alloc::is_initialized());  // untouched
    CHECK(a->value() == 1);
    a.reset();
    b.reset();
    tracked_alloc::remove(leaked);
    REQUIRE(tracked_alloc::shutdown().ok());
    CHECK(counts().live() == 0);

    // Re-init in the other mode.
    tracked_alloc::init().unbounded().chunk_capacity(2).capacity(3).build();
    CHECK(tracked_alloc::capacity() == 4);
    {
        auto c = tracked_alloc::emplace(4u);
        auto d = tracked_alloc::emplace(5u);
        CHECK(c->value() + d->value() == 9);
    }
    require_clean_shutdown<tracked_alloc>();
    CHECK(counts().live() == 0);
}

TEST_CASE("allocator: every value is destroyed exactly once", "[alloc][tracker]") {
    CountScope scope;
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    init<tracked_alloc>(mode, 32);
    { auto dropped = tracked_alloc::emplace(1u); }
    {
        Tracked out = tracked_alloc::emplace(2u).take();
        CHECK(out.value() == 2);
    }
    {
        auto s = tracked_alloc::emplace(3u);
        Tracked old = s.replace(Tracked(4));
        CHECK(old.value() == 3);
    }
    const Key leaked = tracked_alloc::emplace(5u).release();
    CHECK(counts().live() == 1);
    tracked_alloc::remove(leaked);
    CHECK(tracked_alloc::take(tracked_alloc::emplace(6u).release()).value() == 6);
    CHECK(counts().live() == 0);
    CHECK(counts().constructed == counts().destroyed);
    require_clean_shutdown<tracked_alloc>();
}

TEST_CASE("allocator: values left at thread exit are destroyed and the storage freed", "[alloc][tracker]") {
    CountScope scope;
    std::thread([] {
        tracked_alloc::init().unbounded().chunk_capacity(2).build();
        for (std::uint64_t i = 0; i < 5; ++i) (void)tracked_alloc::emplace(i).release();
        auto s = tracked_alloc::emplace(9u);  // dropped normally before teardown
        CHECK(counts().live() == 6);
    }).join();
    CHECK(counts().live() == 0);                   // LeakSanitizer checks the storage went back too
    CHECK_FALSE(tracked_alloc::is_initialized());  // this thread's allocator was never touched
}

TEST_CASE("allocator: over-aligned, empty and 4 KiB values, handle and key agree", "[alloc][align]") {
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    init<a16_alloc>(mode, 9);
    init<a64_alloc>(mode, 9);
    {
        std::vector<a16_alloc::Slot> s16;
        std::vector<a64_alloc::Slot> s64;
        for (std::uint64_t i = 0; i < 9; ++i) {
            s16.push_back(a16_alloc::insert(Aligned16{i, ~i}));
            s64.push_back(a64_alloc::insert(Aligned64{{i, i + 1, i + 2}}));
        }
        for (std::uint64_t i = 0; i < 9; ++i) {
            CHECK(reinterpret_cast<std::uintptr_t>(s16[i].get()) % 16 == 0);
            CHECK(reinterpret_cast<std::uintptr_t>(s64[i].get()) % 64 == 0);
            CHECK(&a16_alloc::get_unchecked(s16[i].key()) == s16[i].get());
            CHECK(&a64_alloc::get_unchecked(s64[i].key()) == s64[i].get());
            a16_alloc::get_unchecked(s16[i].key()).hi = 500 + i;
            CHECK(s16[i]->hi == 500 + i);
            CHECK(s16[i]->lo == i);
            CHECK(s64[i]->words[2] == i + 2);
        }
    }
    require_clean_shutdown<a16_alloc>();
    require_clean_shutdown<a64_alloc>();

    init<empty_alloc>(mode, 4);
    init<page_alloc>(mode, 4);
    {
        auto e1 = empty_alloc::insert(Empty{});
        auto e2 = empty_alloc::emplace();
        CHECK(e1.key() != e2.key());
        Page p;
        p.bytes.fill(0xAB);
        auto pg = page_alloc::insert(p);
        CHECK(pg->bytes[0] == 0xAB);
        CHECK(pg->bytes[4095] == 0xAB);
    }
    require_clean_shutdown<empty_alloc>();
    require_clean_shutdown<page_alloc>();
}

TEST_CASE("allocator: values aligned to 128 and 4096 bytes are aligned", "[alloc][align]") {
    const Mode mode = GENERATE(Mode::bounded, Mode::unbounded);
    init<a128_alloc>(mode, 9);  // unbounded: chunks of 4, so three chunks
    init<page_aligned_alloc>(mode, 6);
    {
        std::vector<a128_alloc::Slot> s128;
        std::vector<page_aligned_alloc::Slot> pages;
        for (std::uint64_t i = 0; i < 9; ++i) s128.push_back(a128_alloc::insert(Aligned128{{i, i, i, i, i}}));
        for (std::uint64_t i = 0; i < 6; ++i) pages.push_back(page_aligned_alloc::emplace());
        for (auto& s : s128) {
            CHECK(reinterpret_cast<std::uintptr_t>(s.get()) % 128 == 0);
            CHECK(&a128_alloc::get_unchecked(s.key()) == s.get());
        }
        for (auto& p : pages) {
            CHECK(reinterpret_cast<std::uintptr_t>(p.get()) % 4096 == 0);
            CHECK(&page_aligned_alloc::get_unchecked(p.key()) == p.get());
        }
    }
    require_clean_shutdown<a128_alloc>();
    require_clean_shutdown<page_aligned_alloc>();
}

TEST_CASE("allocator: the builders refuse what they cannot honour, naming the number", "[alloc][capacity]") {
    try {
        u64_alloc::init().unbounded().capacity(std::numeric_limits<std::size_t>::max()).build();
        FAIL("no exception");
    } catch (const CapacityError& e) {
        CHECK_THAT(e.what(), Catch::Contains("allocator 'u64_alloc'") &&
                                 Catch::Contains("initial capacity 18446744073709551615"));
    }
    try {
        u64_alloc::init().unbounded().max_capacity(0).build();
        FAIL("no exception");
    } catch (const CapacityError& e) {
        CHECK_THAT(e.what(), Catch::Contains("max_capacity 0"));
    }
    try {
        u64_alloc::init().bounded(0).build();
        FAIL("no exception");
    } catch (const CapacityError& e) {
        CHECK_THAT(e.what(), Catch::Contains("bounded capacity 0"));
    }
    CHECK_FALSE(u64_alloc::is_initialized());  // a refused build leaves nothing behind
    u64_alloc::init().unbounded().chunk_capacity(5).max_capacity(12).build();
    {
        std::vector<u64_alloc::Slot> all;
        for (std::uint64_t i = 0; i < 12; ++i) all.push_back(u64_alloc::insert(i));
        CHECK(u64_alloc::capacity() == 12);
        CHECK_FALSE(u64_alloc::try_insert(13).has_value());
    }
    require_clean_shutdown<u64_alloc>();
}

TEST_CASE("allocator: owning standard types", "[alloc]") {
    vec_alloc::init().unbounded().chunk_capacity(8).build();
    pair_alloc::init().bounded(2).build();
    {
        auto v = vec_alloc::emplace(std::vector<int>{1, 2, 3});
        v->push_back(4);
        CHECK(v->size() == 4);
        auto old = v.replace(std::vector<int>(100, 7));
        CHECK(old.size() == 4);
        auto p = pair_alloc::emplace(1, 2L);
        CHECK(p->second == 2);
    }
    require_clean_shutdown<vec_alloc>();
    require_clean_shutdown<pair_alloc>();
}

TEST_CASE("allocator: unbounded growth keeps addresses across chunk boundaries", "[alloc][unbounded]") {
    u64_alloc::init().unbounded().chunk_capacity(1024).build();
    {
        std::vector<u64_alloc::Slot> slots;
        slots.reserve(100'000);
        std::vector<const std::uint64_t*> where;
        for (std::uint64_t i = 0; i < 100'000; ++i) {
            slots.push_back(u64_alloc::insert(i));
            where.push_back(slots.back().get());
        }
        bool stable = true;
        for (std::uint64_t i = 0; i < slots.size(); ++i)
            stable = stable && slots[i].get() == where[i] && *slots[i] == i &&
                     &u64_alloc::get_unchecked(slots[i].key()) == where[i];
        CHECK(stable);
        CHECK(u64_alloc::capacity() == 98 * 1024);
    }
    require_clean_shutdown<u64_alloc>();
}

TEST_CASE("allocator: two threads use their own slabs at once", "[alloc][threads]") {
    std::atomic<int> failures{0};
    std::atomic<int> ready{0};
    auto work = [&](std::uint64_t tag, Mode mode) {
        init<u64_alloc>(mode, 4096);
        ready.fetch_add(1);
        while (ready.load() < 2) {}
        std::mt19937_64 rng(tag);
        std::vector<u64_alloc::Slot> live;
        for (int op = 0; op < 200'000; ++op) {
            if (live.size() < 4000 && (live.empty() || rng() % 2 == 0)) {
                live.push_back(u64_alloc::insert(tag << 32 | static_cast<std::uint64_t>(op)));
            } else {
                const std::size_t i = rng() % live.size();
                if ((*live[i] >> 32) != tag) failures.fetch_add(1);
                std::swap(live[i], live.back());
                live.pop_back();
            }
            if (u64_alloc::size() != live.size()) failures.fetch_add(1);
        }
        for (auto& s : live)
            if ((*s >> 32) != tag || &u64_alloc::get_unchecked(s.key()) != s.get()) failures.fetch_add(1);
        live.clear();
        if (!u64_alloc::shutdown().ok()) failures.fetch_add(1);
    };
    std::thread t1(work, 1, Mode::bounded);
    std::thread t2(work, 2, Mode::unbounded);
    t1.join();
    t2.join();
    CHECK(failures.load() == 0);
    CHECK_FALSE(u64_alloc::is_initialized());
}

TEST_CASE("allocator: size() and empty() do not visit cells", "[alloc]") {
    // The cells of a two-million-cell slab are made inaccessible: a size() or
    // empty() that scanned them (the reference crate's O(capacity) scan)
    // would crash here instead of returning the counter.
    constexpr std::size_t n = 2'000'000;
    u64_alloc::init().bounded(n).build();
    {
        auto a = u64_alloc::insert(1);
        auto b = u64_alloc::insert(2);
        const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        const auto first = reinterpret_cast<std::uintptr_t>(a.get());
        const std::uintptr_t lo = (first + 2 * page) & ~(page - 1);                   // past the two live cells
        const std::uintptr_t hi = (first + n * sizeof(std::uint64_t)) & ~(page - 1);  // well inside the chunk
        REQUIRE(hi > lo);
        REQUIRE(mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_NONE) == 0);
        const std::size_t len = u64_alloc::size();
        const bool empty = u64_alloc::empty();
        const std::size_t cap = u64_alloc::capacity();
        REQUIRE(mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_WRITE) == 0);
        CHECK(len == 2);
        CHECK_FALSE(empty);
        CHECK(cap == n);
        a.reset();
        CHECK(u64_alloc::size() == 1);
    }
    CHECK(u64_alloc::empty());
    require_clean_shutdown<u64_alloc>();
}

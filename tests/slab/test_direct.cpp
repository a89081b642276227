// The direct API: BoundedSlab<T>, UnboundedSlab<T>, Handle<T> and key access.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tracker.hpp"
#include "value_types.hpp"

using nexus::slab::BoundedSlab;
using nexus::slab::CapacityError;
using nexus::slab::Handle;
using nexus::slab::Key;
using nexus::slab::SlabFull;
using nexus::slab::UnboundedConfig;
using nexus::slab::UnboundedSlab;
using nexus::test::Aligned128;
using nexus::test::Aligned16;
using nexus::test::Aligned16K;
using nexus::test::Aligned64;
using nexus::test::AlignedPage;
using nexus::test::counts;
using nexus::test::CountScope;
using nexus::test::Empty;
using nexus::test::Page;
using nexus::test::Tracked;

namespace {

// A slab of exactly `n` usable cells in each flavour. The unbounded one is
// capped with max_capacity so "full" means the same thing for both.
struct Bounded {
    template <class T>
    static std::unique_ptr<BoundedSlab<T>> make(std::size_t n) {
        return std::make_unique<BoundedSlab<T>>(n);
    }
    using FullError = SlabFull;
};
struct Unbounded {
    template <class T>
    static std::unique_ptr<UnboundedSlab<T>> make(std::size_t n) {
        // chunk of 1 so max_capacity is exact; growth happens on every insert
        return std::make_unique<UnboundedSlab<T>>(
            UnboundedConfig{.chunk_capacity = 1, .capacity = 0, .max_capacity = n});
    }
    using FullError = CapacityError;
};

// A singly linked list owning its next node, the Handle first so that a
// freed cell's free-list link lands on it.
struct ListNode {
    Handle<ListNode> next;
    std::string name;
    explicit ListNode(int i) : name("node " + std::to_string(i) + " with a name too long for SSO") {}
};

struct Throws {
    explicit Throws(bool fail) {
        if (fail) throw std::runtime_error("constructor failed");
    }
};

}  // namespace

TEMPLATE_TEST_CASE("direct slab: handle operations", "[direct]", Bounded, Unbounded) {
    auto slab = TestType::template make<std::string>(8);
    REQUIRE(slab->empty());

    auto h = slab->insert(std::string("alpha"));
    REQUIRE(h.has_value());
    CHECK(h.value() == "alpha");
    h.value() += "!";
    CHECK(*h == "alpha!");
    CHECK(h->size() == 6);
    CHECK(std::as_const(h).get() == &std::as_const(h).value());
    CHECK(h.get() == &h.value());
    CHECK(slab->size() == 1);

    // The handle and the key reach the same object.
    const Key k = h.key();
    CHECK(slab->contains(k));
    CHECK(&(*slab)[k] == h.get());
    CHECK(slab->get(k) == h.get());
    CHECK(&slab->get_unchecked(k) == h.get());

    CHECK(h.replace("beta") == "alpha!");
    CHECK(*h == "beta");
    CHECK(h.key() == k);  // replace keeps the cell

    auto e = slab->emplace(3, 'x');
    CHECK(*e == "xxx");
    CHECK(slab->size() == 2);

    // Moving transfers ownership; the source is empty.
    Handle<std::string> moved = std::move(e);
    CHECK_FALSE(e.has_value());
    CHECK_FALSE(static_cast<bool>(e));
    CHECK(e.get() == nullptr);
    CHECK(*moved == "xxx");

    CHECK(moved.take() == "xxx");
    CHECK_FALSE(moved.has_value());
    CHECK(slab->size() == 1);

    // leak keeps the value under its key; adopt takes it back.
    const Key leaked = h.release();
    CHECK_FALSE(h.has_value());
    CHECK(slab->contains(leaked));
    CHECK(slab->size() == 1);
    auto again = slab->adopt(leaked);
    CHECK(*again == "beta");
    again.reset();
    CHECK_FALSE(slab->contains(leaked));
    CHECK(slab->empty());
}

TEMPLATE_TEST_CASE("direct slab: a Handle assigned from inside the value it owns, as in popping a list's head",
                   "[direct]", Bounded, Unbounded) {
    // `head = std::move(head->next)`: the old head's destructor destroys the
    // very Handle being moved from, so the assignment must take it first.
    auto slab = TestType::template make<ListNode>(8);
    Handle<ListNode> head;
    for (int i = 4; i >= 0; --i) {
        auto n = slab->emplace(i);
        n->next = std::move(head);
        head = std::move(n);
    }
    std::vector<std::string> seen;
    while (head) {
        seen.push_back(head->name.substr(0, 6));
        head = std::move(head->next);
        CHECK(slab->size() == 5 - seen.size());
    }
    CHECK(seen == std::vector<std::string>{"node 0", "node 1", "node 2", "node 3", "node 4"});
    // Self-assignment keeps the value.
    head = slab->emplace(9);
    auto& alias = head;
    head = std::move(alias);
    REQUIRE(head.has_value());
    CHECK(head->name.substr(0, 6) == "node 9");
}

TEMPLATE_TEST_CASE("direct slab: key operations", "[direct]", Bounded, Unbounded) {
    auto slab = TestType::template make<std::string>(4);
    const Key a = slab->insert_key(std::string("a"));
    const std::string b_value = "b";
    const Key b = slab->insert_key(b_value);
    const Key c = slab->emplace_key(2, 'c');
    const Key d = slab->try_emplace_key("d");
    CHECK(std::set<Key>{a, b, c, d}.size() == 4);
    CHECK(slab->size() == 4);
    CHECK((*slab)[c] == "cc");
    (*slab)[c] = "changed";
    CHECK(slab->get_unchecked(c) == "changed");
    slab->get_unchecked(a) += "+";
    CHECK(*slab->get(a) == "a+");

    CHECK(slab->try_emplace_key("e") == Key::NONE);  // full
    CHECK(slab->take(b) == "b");
    CHECK_FALSE(slab->contains(b));
    CHECK(slab->get(b) == nullptr);
    slab->remove(a);
    CHECK(slab->size() == 2);
    const auto& const_slab = *slab;
    CHECK(*const_slab.get(c) == "changed");
    CHECK(const_slab.get(a) == nullptr);
}

TEMPLATE_TEST_CASE("direct slab: capacity 1", "[direct]", Bounded, Unbounded) {
    auto slab = TestType::template make<int>(1);
    auto h = slab->insert(7);
    CHECK(slab->capacity() == 1);
    CHECK_FALSE(slab->try_insert(8).has_value());
    CHECK_THROWS_AS(slab->insert(9), typename TestType::FullError);
    const Key first = h.key();
    h.reset();
    auto h2 = slab->insert(10);
    CHECK(h2.key() == first);
    CHECK(*h2 == 10);
}

TEMPLATE_TEST_CASE("direct slab: fill to capacity, then fail cleanly", "[direct]", Bounded, Unbounded) {
    constexpr std::size_t n = 1000;
    auto slab = TestType::template make<std::uint64_t>(n);
    std::set<Key> keys;
    for (std::uint64_t i = 0; i < n; ++i) keys.insert(slab->insert_key(i * 3));
    CHECK(keys.size() == n);
    CHECK(slab->size() == n);
    CHECK(slab->capacity() == n);
    std::uint64_t i = 0;
    for (Key k : keys) CHECK((*slab)[k] == 3 * i++);  // keys are handed out in ascending order
    CHECK(slab->try_emplace_key(std::uint64_t{1}) == Key::NONE);
    CHECK_FALSE(slab->try_insert(std::uint64_t{1}));
    CHECK_THROWS_AS(slab->insert_key(std::uint64_t{1}), typename TestType::FullError);
    CHECK(slab->size() == n);  // failed inserts changed nothing
    for (Key k : keys) slab->remove(k);
    CHECK(slab->empty());
}

TEMPLATE_TEST_CASE("direct slab: LIFO reuse of freed cells", "[direct]", Bounded, Unbounded) {
    auto slab = TestType::template make<int>(16);
    std::vector<Key> keys;
    for (int i = 0; i < 10; ++i) keys.push_back(slab->insert_key(i));
    slab->remove(keys[2]);
    slab->remove(keys[7]);
    slab->remove(keys[4]);
    CHECK(slab->insert_key(100) == keys[4]);
    CHECK(slab->insert_key(101) == keys[7]);
    CHECK(slab->insert_key(102) == keys[2]);
}

TEMPLATE_TEST_CASE("direct slab: try_insert on a full slab hands the value back", "[direct]", Bounded, Unbounded) {
    {
        auto slab = TestType::template make<std::unique_ptr<std::string>>(1);
        auto held = slab->insert(std::make_unique<std::string>("resting"));
        auto incoming = std::make_unique<std::string>("incoming");
        const std::string* raw = incoming.get();
        CHECK_FALSE(slab->try_insert(std::move(incoming)).has_value());
        REQUIRE(incoming);
        CHECK(incoming.get() == raw);
        CHECK(*incoming == "incoming");
        CHECK(**held == "resting");
    }
    {
        CountScope scope;
        auto slab = TestType::template make<Tracked>(1);
        auto held = slab->emplace(1u);
        Tracked incoming(2);
        CHECK_FALSE(slab->try_insert(std::move(incoming)).has_value());
        CHECK(incoming.value() == 2);
        CHECK(incoming.name.find("-2") != std::string::npos);
        CHECK_FALSE(slab->try_emplace(3u).has_value());
        CHECK(counts().constructed == 2);  // nothing was built for the failed emplace
    }
    CHECK(counts().live() == 0);
}

TEMPLATE_TEST_CASE("direct slab: contains for none, out-of-range, vacant and occupied keys", "[direct]", Bounded,
                   Unbounded) {
    auto slab = TestType::template make<int>(8);
    const Key k = slab->insert_key(1);
    const Key vacant = slab->insert_key(2);
    slab->remove(vacant);
    CHECK(slab->contains(k));
    CHECK_FALSE(slab->contains(vacant));
    CHECK_FALSE(slab->contains(Key::NONE));
    CHECK_FALSE(slab->contains(Key::from_index(8)));
    CHECK_FALSE(slab->contains(Key::from_index(1000)));
    CHECK_FALSE(slab->contains(Key::from_index(0x7FFF'FFFF)));
    CHECK_FALSE(slab->contains(Key::from_index(0x8000'0000)));
    CHECK_FALSE(slab->contains(Key::from_index(0x8000'0000 | k.index())));  // a vacant tag pattern
    CHECK(slab->get(Key::NONE) == nullptr);
}

TEMPLATE_TEST_CASE("direct slab: over-aligned values land aligned, handle and key agree", "[direct][align]", Bounded,
                   Unbounded) {
    auto s16 = TestType::template make<Aligned16>(9);
    auto s64 = TestType::template make<Aligned64>(9);
    std::vector<Handle<Aligned16>> h16;
    std::vector<Handle<Aligned64>> h64;
    for (std::uint64_t i = 0; i < 9; ++i) {
        h16.push_back(s16->insert(Aligned16{i, ~i}));
        h64.push_back(s64->insert(Aligned64{{i, i * 2, ~i}}));
    }
    for (std::uint64_t i = 0; i < 9; ++i) {
        CHECK(reinterpret_cast<std::uintptr_t>(h16[i].get()) % 16 == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(h64[i].get()) % 64 == 0);
        CHECK(&(*s16)[h16[i].key()] == h16[i].get());
        CHECK(&(*s64)[h64[i].key()] == h64[i].get());
        // written through the key, read through the handle
        (*s16)[h16[i].key()].hi = i + 100;
        (*s64)[h64[i].key()].words[2] = i + 200;
        CHECK(h16[i]->lo == i);
        CHECK(h16[i]->hi == i + 100);
        CHECK(h64[i]->words[1] == i * 2);
        CHECK(h64[i]->words[2] == i + 200);
    }
    CHECK(nexus::slab::kOverheadPerValue<Aligned64> == 64);
    CHECK(nexus::slab::kOverheadPerValue<Aligned16> == 16);
}

// Values aligned past a cache line: every cell of every chunk (several chunks
// for the unbounded flavour) lands on the value's alignment, reached through
// the handle and the key alike.
template <class Flavour, class V>
void check_alignment(std::size_t n) {
    auto slab = Flavour::template make<V>(n);
    std::vector<Handle<V>> hs;
    std::vector<Key> keys;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 2) {
            hs.push_back(slab->emplace());
        } else {
            keys.push_back(slab->emplace_key());
        }
    }
    for (auto& h : hs) {
        CHECK(reinterpret_cast<std::uintptr_t>(h.get()) % alignof(V) == 0);
        CHECK(&(*slab)[h.key()] == h.get());
    }
    for (Key k : keys) CHECK(reinterpret_cast<std::uintptr_t>(&(*slab)[k]) % alignof(V) == 0);
}

TEMPLATE_TEST_CASE("direct slab: values aligned to 128, 4096 and 16384 bytes are aligned", "[direct][align]", Bounded,
                   Unbounded) {
    check_alignment<TestType, Aligned128>(9);
    check_alignment<TestType, AlignedPage>(5);
    check_alignment<TestType, Aligned16K>(3);
    // What it costs: the 8-byte header takes a whole alignment unit.
    STATIC_REQUIRE(nexus::slab::kOverheadPerValue<Aligned128> == 128);
    STATIC_REQUIRE(nexus::slab::kOverheadPerValue<AlignedPage> == 4096);
    STATIC_REQUIRE(nexus::slab::kOverheadPerValue<Aligned16K> == 16384);
}

TEMPLATE_TEST_CASE("direct slab: empty and 4 KiB values", "[direct]", Bounded, Unbounded) {
    auto empties = TestType::template make<Empty>(3);
    auto a = empties->insert(Empty{});
    auto b = empties->emplace();
    CHECK(a.get() != b.get());
    CHECK(a.key() != b.key());

    auto pages = TestType::template make<Page>(4);
    std::vector<Handle<Page>> hs;
    for (std::uint8_t i = 0; i < 4; ++i) {
        Page p;
        p.bytes.fill(i);
        hs.push_back(pages->insert(p));
    }
    for (std::uint8_t i = 0; i < 4; ++i) {
        CHECK(hs[i]->bytes.front() == i);
        CHECK(hs[i]->bytes.back() == i);
        CHECK(reinterpret_cast<std::uintptr_t>(hs[i].get()) % alignof(Page) == 0);
    }
}

TEMPLATE_TEST_CASE("direct slab: every value is destroyed exactly once", "[direct][tracker]", Bounded, Unbounded) {
    CountScope scope;
    {
        auto slab = TestType::template make<Tracked>(64);
        { auto dropped = slab->emplace(1u); }  // drop
        {
            Tracked out = slab->emplace(2u).take();
            CHECK(out.value() == 2);
        }  // take
        {
            auto h = slab->emplace(3u);
            Tracked old = h.replace(Tracked(4));  // replace
            CHECK(old.value() == 3);
            CHECK(h->value() == 4);
        }
        const Key leaked = slab->emplace(5u).release();  // leak, then remove by key
        CHECK(counts().live() == 1);
        slab->remove(leaked);
        const Key taken = slab->emplace_key(6u);  // take by key
        CHECK(slab->take(taken).value() == 6);
        CHECK(counts().live() == 0);
        for (std::uint64_t i = 0; i < 10; ++i) (void)slab->emplace_key(i);  // left for the destructor
        (void)slab->emplace(99u).release();
        CHECK(counts().live() == 11);
    }
    CHECK(counts().live() == 0);
    CHECK(counts().constructed == counts().destroyed);
}

TEMPLATE_TEST_CASE("direct slab: clear destroys every value and hands keys out as a new slab would",
                   "[direct][tracker]", Bounded, Unbounded) {
    CountScope scope;
    auto slab = TestType::template make<Tracked>(32);
    std::vector<Key> keys;
    for (std::uint64_t i = 0; i < 20; ++i) keys.push_back(slab->emplace_key(i));
    for (std::size_t i = 0; i < keys.size(); i += 3) slab->remove(keys[i]);  // a scrambled free list
    const std::size_t cap = slab->capacity();
    CHECK(counts().live() == 13);
    slab->clear();
    CHECK(counts().live() == 0);
    CHECK(slab->size() == 0);
    CHECK(slab->empty());
    CHECK(slab->capacity() == cap);
    for (const Key k : keys) CHECK_FALSE(slab->contains(k));
    // Keys come out from 0 up again, and the whole capacity is usable.
    for (std::uint32_t i = 0; i < 32; ++i) {
        const Key k = slab->emplace_key(std::uint64_t{100} + i);
        CHECK(k.index() == i);
        CHECK(slab->get(k)->value() == 100 + i);
    }
    CHECK(slab->size() == 32);
    CHECK_THROWS_AS(slab->emplace_key(std::uint64_t{1}), typename TestType::FullError);
    slab->clear();
    CHECK(counts().live() == 0);
    CHECK(slab->emplace_key(std::uint64_t{7}).index() == 0);
}

// Move construction cannot throw; move assignment always does (a type that
// allocates when assigned, say).
struct AssignThrows {
    int v;
    explicit AssignThrows(int x) noexcept : v(x) {}
    AssignThrows(AssignThrows&& o) noexcept : v(o.v) {}
    AssignThrows& operator=(AssignThrows&&) { throw std::runtime_error("assignment failed"); }
};

TEMPLATE_TEST_CASE("direct slab: replace never loses a value, even when assignment throws", "[direct][replace]",
                   Bounded, Unbounded) {
    auto slab = TestType::template make<AssignThrows>(2);
    auto h = slab->emplace(1);
    const Key k = h.key();
    AssignThrows old = h.replace(AssignThrows(2));  // built in place, not assigned
    CHECK(old.v == 1);
    CHECK(h->v == 2);
    CHECK(h.key() == k);
    STATIC_REQUIRE(noexcept(h.replace(std::declval<AssignThrows>())));
}

TEMPLATE_TEST_CASE("direct slab: a throwing constructor gives its cell back", "[direct]", Bounded, Unbounded) {
    auto slab = TestType::template make<Throws>(2);
    auto ok = slab->emplace(false);
    CHECK_THROWS_AS(slab->emplace(true), std::runtime_error);
    CHECK(slab->size() == 1);
    auto ok2 = slab->emplace(false);  // the cell was returned: room for one more
    CHECK(slab->size() == 2);
}

TEST_CASE("unbounded slab: addresses stay put while it grows by a million entries", "[direct][unbounded]") {
    UnboundedSlab<std::uint64_t> slab({.chunk_capacity = 1000});  // exactly 1000 cells a chunk, 1024 keys
    constexpr std::uint64_t n = 1'000'000;
    std::vector<const std::uint64_t*> where;
    std::vector<Key> keys;
    where.reserve(n);
    keys.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        const Key k = slab.insert_key(i);
        keys.push_back(k);
        where.push_back(&slab[k]);
        if (i == 999 || i == 1000) CHECK(slab.capacity() == 1000 * (i / 1000 + 1));
    }
    CHECK(slab.size() == n);
    CHECK(slab.capacity() == n);
    bool all_stable = true;
    for (std::uint64_t i = 0; i < n; ++i) {
        all_stable = all_stable && &slab[keys[i]] == where[i] && *where[i] == i;
        all_stable = all_stable && keys[i].index() == ((i / 1000) << 10 | (i % 1000));  // chunk << shift | offset
    }
    CHECK(all_stable);
}

TEST_CASE("unbounded slab: capacity pre-allocates whole chunks", "[direct][unbounded]") {
    UnboundedSlab<int> slab({.chunk_capacity = 100, .capacity = 1000});
    CHECK(slab.capacity() == 1000);  // 10 chunks of exactly 100
    UnboundedSlab<int> rounded({.chunk_capacity = 100, .capacity = 950});
    CHECK(rounded.capacity() == 1000);  // whole chunks: at least what was asked
    UnboundedSlab<int> lazy({.chunk_capacity = 64});
    CHECK(lazy.capacity() == 0);
    (void)lazy.insert_key(1);
    CHECK(lazy.capacity() == 64);
}

// A type so large that no slab of 2^31 of them fits in the address space.
struct Huge {
    unsigned char bytes[std::size_t{1} << 40];
};

// The message of the CapacityError that `make` throws ("" if it throws none).
template <class F>
std::string capacity_error(F&& make) {
    try {
        make();
    } catch (const CapacityError& e) {
        return e.what();
    }
    return "";
}

TEST_CASE("every capacity that cannot be honoured is a CapacityError naming the number", "[direct][capacity]") {
    using Catch::Contains;
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    // Bounded.
    CHECK_THAT(capacity_error([] { BoundedSlab<int> s(0); }), Contains("bounded capacity 0"));
    CHECK_THAT(capacity_error([] { BoundedSlab<int> s(kMax); }),
               Contains("bounded capacity 18446744073709551615") && Contains("key space"));
    CHECK_THAT(capacity_error([] { BoundedSlab<Huge> s(std::size_t{1} << 30); }),
               Contains("bounded capacity 1073741824") && Contains("more memory than can be addressed"));
    // Unbounded: the initial capacity near SIZE_MAX must not wrap to zero chunks.
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.capacity = kMax}); }),
               Contains("initial capacity 18446744073709551615 exceeds the slab's maximum of 2147483648 cells (the "
                        "key space at chunk_capacity 4096)"));
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.capacity = kMax - 4095}); }),
               Contains("initial capacity 18446744073709547520"));
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.chunk_capacity = 4, .capacity = 9, .max_capacity = 8}); }),
               Contains("initial capacity 9 exceeds the slab's maximum of 8 cells (max_capacity)"));
    // chunk_capacity 3 leaves a quarter of the key space unused: 3 * 2^29 cells at most.
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.chunk_capacity = 3, .capacity = std::size_t{1} << 31}); }),
               Contains("initial capacity 2147483648 exceeds the slab's maximum of 1610612736 cells (the key space "
                        "at chunk_capacity 3)"));
    // max_capacity(0) is refused, not read as one chunk.
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.max_capacity = 0}); }), Contains("max_capacity 0"));
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.chunk_capacity = 0}); }), Contains("chunk_capacity 0"));
    CHECK_THAT(capacity_error([] { UnboundedSlab<int> s({.chunk_capacity = kMax}); }),
               Contains("chunk_capacity 18446744073709551615"));
    CHECK_THAT(capacity_error([] { UnboundedSlab<Huge> s({.chunk_capacity = std::size_t{1} << 30}); }),
               Contains("chunk_capacity 1073741824") && Contains("more memory than can be addressed"));
    // Values that can be honoured are, exactly.
    CHECK(capacity_error([] { UnboundedSlab<int> s({.chunk_capacity = 3, .max_capacity = kMax}); }).empty());
    CHECK(capacity_error([] { BoundedSlab<int> s(1); }).empty());
}

// 1 GiB values: a million of them (a petabyte) can be addressed in principle,
// but no system maps that much.
struct Gigabyte {
    unsigned char bytes[std::size_t{1} << 30];
};

TEST_CASE("storage that cannot be allocated is a CapacityError naming the cells asked for", "[direct][capacity]") {
#ifdef NEXUS_SLAB_ASAN
    // AddressSanitizer's operator new reports and aborts instead of throwing std::bad_alloc.
    WARN("skipped under AddressSanitizer");
#else
    using Catch::Contains;
    CHECK_THAT(capacity_error([] { BoundedSlab<Gigabyte> s(std::size_t{1} << 20); }),
               Contains("bounded capacity 1048576 cannot be allocated (1048576 cells of 1073741832 bytes)"));
    CHECK_THAT(
        capacity_error([] {
            UnboundedSlab<Gigabyte> s({.chunk_capacity = std::size_t{1} << 19, .capacity = std::size_t{1} << 20});
        }),
        Contains("initial capacity 1048576 cannot be allocated (1048576 cells of 1073741832 bytes)"));
#endif
}

TEST_CASE("unbounded slab: max_capacity is exact, chunk sizes need not be powers of two", "[direct][capacity]") {
    UnboundedSlab<int> slab({.chunk_capacity = 3, .max_capacity = 7});  // chunks of 3, 3, and 1 usable cell
    std::set<Key> keys;
    for (int i = 0; i < 7; ++i) keys.insert(slab.insert_key(i));
    CHECK(slab.size() == 7);
    CHECK(slab.capacity() == 7);
    CHECK(slab.try_emplace_key(8) == Key::NONE);
    CHECK_THROWS_AS(slab.insert_key(8), CapacityError);
    // chunk << 2 | offset, offsets below 3
    CHECK(keys == std::set<Key>{Key::from_index(0), Key::from_index(1), Key::from_index(2), Key::from_index(4),
                                Key::from_index(5), Key::from_index(6), Key::from_index(8)});
    CHECK_FALSE(slab.contains(Key::from_index(3)));  // between chunks: no cell
    CHECK_FALSE(slab.contains(Key::from_index(9)));  // the last chunk's unusable cells
    slab.clear();
    for (int i = 0; i < 7; ++i) (void)slab.insert_key(i);
    CHECK(slab.try_emplace_key(8) == Key::NONE);  // still exact after clear()
}

TEST_CASE("capacities the key space cannot hold are refused, never truncated", "[direct][capacity]") {
    CHECK_THROWS_AS(BoundedSlab<int>(0), CapacityError);
    CHECK_THROWS_AS(BoundedSlab<int>((std::size_t{1} << 32) + 5), CapacityError);
    CHECK_THROWS_AS(BoundedSlab<int>(nexus::slab::kMaxCells + 1), CapacityError);
    CHECK_THROWS_AS(UnboundedSlab<int>({.chunk_capacity = 0}), CapacityError);
    CHECK_THROWS_AS(UnboundedSlab<int>({.chunk_capacity = nexus::slab::kMaxCells + 1}), CapacityError);
    CHECK_THROWS_AS(UnboundedSlab<int>({.chunk_capacity = 4, .capacity = 100, .max_capacity = 8}), CapacityError);
    try {
        BoundedSlab<int> too_big(std::size_t{1} << 32);
        FAIL("no exception");
    } catch (const CapacityError& e) {
        CHECK_THAT(e.what(), Catch::Contains("4294967296") && Catch::Contains("key space"));
    }
}

TEST_CASE("unbounded key space: the growth limit keeps every key below 2^31", "[direct][capacity]") {
    using nexus::slab::detail::plan_unbounded;
    for (std::uint64_t shift = 0; shift <= 31; ++shift) {
        const auto plan = plan_unbounded({.chunk_capacity = std::size_t{1} << shift});
        CHECK(plan.shift == shift);
        // The last key the slab can ever hand out:
        const std::uint64_t last_key = (plan.max_chunks << plan.shift) - 1;
        CHECK(last_key == nexus::slab::kMaxCells - 1);
        CHECK(last_key < Key::kNoneIndex);
        CHECK(last_key < 0x8000'0000u);  // below the vacant bit: no collision, no wrap
    }
    // Non-power-of-two chunk sizes round up; max_capacity rounds up to whole chunks.
    CHECK(plan_unbounded({.chunk_capacity = 3000}).shift == 12);
    CHECK(plan_unbounded({.chunk_capacity = 4096, .max_capacity = 10'000}).max_chunks == 3);
}

TEST_CASE("unbounded slab: growth stops at max_capacity with a clear error", "[direct][capacity]") {
    UnboundedSlab<int> slab({.chunk_capacity = 4, .max_capacity = 8});
    for (int i = 0; i < 8; ++i) (void)slab.insert_key(i);
    CHECK(slab.try_emplace_key(9) == Key::NONE);
    try {
        (void)slab.insert_key(9);
        FAIL("no exception");
    } catch (const CapacityError& e) {
        CHECK_THAT(e.what(), Catch::Contains("cannot grow past 8 cells"));
    }
    CHECK(slab.size() == 8);
}

TEST_CASE("bounded slab: the full error says so and names the capacity", "[direct][capacity]") {
    BoundedSlab<int> slab(2);
    (void)slab.insert_key(1);
    (void)slab.insert_key(2);
    try {
        (void)slab.insert_key(3);
        FAIL("no exception");
    } catch (const SlabFull& e) {
        CHECK_THAT(e.what(), Catch::Contains("full") && Catch::Contains("capacity 2"));
    }
}

TEST_CASE("handles are 16 bytes, cells pay a small fixed overhead", "[direct]") {
    STATIC_REQUIRE(sizeof(Handle<std::uint64_t>) == 16);
    CHECK(nexus::slab::kOverheadPerValue<std::uint64_t> == 8);
    CHECK(nexus::slab::kOverheadPerValue<std::array<char, 64>> == 8);
    CHECK(nexus::slab::kOverheadPerValue<std::array<char, 4096>> == 8);
    CHECK(nexus::slab::kOverheadPerValue<std::uint32_t> == 12);  // 16-byte cell for a 4-byte value
}

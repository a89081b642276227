#include <catch2/catch.hpp>

#include <nexus/slab/key.hpp>

#include <type_traits>
#include <unordered_set>

using nexus::slab::Key;

TEST_CASE("Key is a 4-byte trivially copyable index", "[key]") {
    STATIC_REQUIRE(sizeof(Key) == 4);
    STATIC_REQUIRE(std::is_trivially_copyable_v<Key>);
}

TEST_CASE("Key round-trips through its raw form", "[key]") {
    const Key k = Key::from_raw(12345);
    CHECK(k.index() == 12345);
    CHECK(k.into_raw() == 12345);
    CHECK(Key::from_raw(k.into_raw()) == k);
    CHECK(k.is_some());
    CHECK_FALSE(k.is_none());
}

TEST_CASE("Key::NONE is the sentinel and the default", "[key]") {
    CHECK(Key::NONE.is_none());
    CHECK_FALSE(Key::NONE.is_some());
    CHECK(Key{} == Key::NONE);
    CHECK(Key::from_raw(Key::kNoneRaw) == Key::NONE);
    CHECK(Key::from_raw(0).is_some());
    // Every valid key is below kMaxCells, so none can be NONE.
    CHECK(Key::NONE.into_raw() >= nexus::slab::kMaxCells);
}

TEST_CASE("Keys compare and hash by index", "[key]") {
    CHECK(Key::from_raw(1) < Key::from_raw(2));
    CHECK(Key::from_raw(7) != Key::from_raw(8));
    CHECK(Key::from_raw(3) <= Key::from_raw(3));
    std::unordered_set<Key> set{Key::from_raw(1), Key::from_raw(2), Key::from_raw(1)};
    CHECK(set.size() == 2);
    CHECK(set.count(Key::from_raw(2)) == 1);
    CHECK(std::hash<Key>{}(Key::from_raw(9)) == std::hash<Key>{}(Key::from_raw(9)));
}

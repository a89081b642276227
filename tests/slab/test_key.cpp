#include <catch2/catch.hpp>

#include <nexus/slab/key.hpp>

#include <type_traits>
#include <unordered_set>

using nexus::slab::Key;

TEST_CASE("Key is a 4-byte trivially copyable index", "[key]") {
    STATIC_REQUIRE(sizeof(Key) == 4);
    STATIC_REQUIRE(std::is_trivially_copyable_v<Key>);
}

TEST_CASE("Key round-trips through its index", "[key]") {
    const Key k = Key::from_index(12345);
    CHECK(k.index() == 12345);
    CHECK(Key::from_index(k.index()) == k);
    CHECK(k.has_value());
}

TEST_CASE("Key::NONE is the sentinel and the default", "[key]") {
    CHECK_FALSE(Key::NONE.has_value());
    CHECK(Key{} == Key::NONE);
    CHECK(Key::from_index(Key::kNoneIndex) == Key::NONE);
    CHECK(Key::from_index(0).has_value());
    // Every valid key is below kMaxCells, so none can be NONE.
    CHECK(Key::NONE.index() >= nexus::slab::kMaxCells);
}

TEST_CASE("Keys compare and hash by index", "[key]") {
    CHECK(Key::from_index(1) < Key::from_index(2));
    CHECK(Key::from_index(7) != Key::from_index(8));
    CHECK(Key::from_index(3) <= Key::from_index(3));
    std::unordered_set<Key> set{Key::from_index(1), Key::from_index(2), Key::from_index(1)};
    CHECK(set.size() == 2);
    CHECK(set.count(Key::from_index(2)) == 1);
    CHECK(std::hash<Key>{}(Key::from_index(9)) == std::hash<Key>{}(Key::from_index(9)));
}

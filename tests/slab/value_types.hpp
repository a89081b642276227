// Value types with awkward shapes, shared by the slab tests.
#pragma once

#include <array>
#include <cstdint>

namespace nexus::test {

struct alignas(16) Aligned16 {
    std::uint64_t lo, hi;
};
struct alignas(64) Aligned64 {
    std::uint64_t words[3];
};
struct Empty {};
struct Page {
    std::array<std::uint8_t, 4096> bytes;
};

}  // namespace nexus::test

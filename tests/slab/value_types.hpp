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
struct alignas(128) Aligned128 {
    std::uint64_t words[5];
};
struct alignas(4096) AlignedPage {  // a page buffer, aligned as one
    std::array<std::uint8_t, 4096> bytes;
};
struct alignas(16384) Aligned16K {
    std::uint64_t first;
};
struct Empty {};
struct Page {
    std::array<std::uint8_t, 4096> bytes;
};

}  // namespace nexus::test

// nexus/engine/crc32c.hpp — CRC-32C (Castagnoli), the checksum of every
// file the engine writes: journal records, outbound-store records, headers
// and the manifest. The SSE4.2 instruction where the CPU has it, a bitwise
// loop otherwise (the two agree; a test checks them against each other).
#pragma once

#include <nmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nexus::engine {

namespace detail {
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_hw(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint64_t c = 0xFFFF'FFFFu;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    if (n >= 4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        c32 = _mm_crc32_u32(c32, w);
        p += 4;
        n -= 4;
    }
    for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
    return ~c32;
}
template <std::size_t N>
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_hw_fixed(const std::uint8_t* p) noexcept {
    std::uint64_t c = 0xFFFF'FFFFu;
    for (std::size_t i = 0; i + 8 <= N; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        c = _mm_crc32_u64(c, w);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    if constexpr (N % 8 >= 4) {
        std::uint32_t w;
        std::memcpy(&w, p + N / 8 * 8, 4);
        c32 = _mm_crc32_u32(c32, w);
    }
    for (std::size_t i = N / 8 * 8 + (N % 8 >= 4 ? 4 : 0); i < N; ++i) c32 = _mm_crc32_u8(c32, p[i]);
    return ~c32;
}
inline std::uint32_t crc32c_sw(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint32_t c = 0xFFFF'FFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F6'3B78u & (0u - (c & 1u)));
    }
    return ~c;
}
}  // namespace detail

// The same for a length known at compile time (a journal record): the
// hardware loop fully unrolled.
template <std::size_t N>
inline std::uint32_t crc32c_fixed(const std::uint8_t* p) noexcept {
    static const bool hw = __builtin_cpu_supports("sse4.2");
    return hw ? detail::crc32c_hw_fixed<N>(p) : detail::crc32c_sw(p, N);
}

inline std::uint32_t crc32c(const void* data, std::size_t n) noexcept {
    static const bool hw = __builtin_cpu_supports("sse4.2");
    const auto* p = static_cast<const std::uint8_t*>(data);
    return hw ? detail::crc32c_hw(p, n) : detail::crc32c_sw(p, n);
}

}  // namespace nexus::engine

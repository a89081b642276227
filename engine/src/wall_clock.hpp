// engine/src/wall_clock.hpp — the time stamps the engine puts on commands
// and ITCH messages (private to the engine library).
#pragma once

#include <cstdint>
#include <ctime>

namespace nexus::engine {

// Nanoseconds since the epoch (CLOCK_REALTIME: stamps must mean the same
// thing after a restart, which a monotonic clock does not).
inline std::uint64_t wall_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace nexus::engine

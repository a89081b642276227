// nexus/engine/start_mode.hpp — what opening a journal directory is for.
#pragma once

#include <cstdint>

namespace nexus::engine {

enum class StartMode : std::uint8_t {
    Serve,    // recover, repair and open for appending
    Inspect,  // read and check only (--recover-only)
};

}  // namespace nexus::engine

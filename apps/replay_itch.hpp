// nexus-replay's ITCH 5.0 mode: replays a file, pipe or FIFO (plain or
// gzipped) through the order books and prints a summary.
#pragma once

#include <atomic>

#include "replay_options.hpp"

namespace nexus::apps {

// Runs the replay; returns the process's exit status. `stop` is raised by
// SIGINT/SIGTERM.
int run_itch(const ReplayOptions& opt, const std::atomic<bool>& stop);

}  // namespace nexus::apps

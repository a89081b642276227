// nexus-replay, ITCH 5.0 mode, several threads (--threads N).
#pragma once

#include <atomic>

#include "output_file.hpp"
#include "replay_options.hpp"
#include "replay_report.hpp"

namespace nexus::apps {

// Replays opt.file with opt.threads workers; `run` has the input's name,
// `bbo` and `snapshot` are open (or off). Returns the exit status.
int run_itch_parallel(const ReplayOptions& opt, const std::atomic<bool>& stop, ReplayRun& run, OutputFile& bbo,
                      OutputFile& snapshot);

}  // namespace nexus::apps

// The benchmarks' view of nexus::timing (timing/): its TSC reads and samples
// are named here as nexus::bench::..., beside the harness's own helpers.
#pragma once

#include <nexus/timing/stats.hpp>
#include <nexus/timing/tsc.hpp>

namespace nexus::bench {
using namespace nexus::timing;
}  // namespace nexus::bench

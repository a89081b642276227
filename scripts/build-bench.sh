#!/usr/bin/env bash
# scripts/build-bench.sh: installs what is missing, builds the Release
# benchmarks into build/bench, and prints the folder of their binaries
# (bench/run.sh and bench/engine.sh call it when not given --bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" >&2
"$root/scripts/build.sh" bench -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DNEXUS_BUILD_TESTS=OFF >&2
echo "$root/build/bench/bench"

#!/usr/bin/env bash
# scripts/build.sh NAME [cmake args...]: configure and build into build/NAME.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1
shift
jobs=${NEXUS_JOBS:-$(nproc)}
cmake -S "$root" -B "$root/build/$name" -G Ninja "$@" >/dev/null
cmake --build "$root/build/$name" -j "$jobs"

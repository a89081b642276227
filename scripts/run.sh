#!/usr/bin/env bash
# The main job: install what is missing, build Release, run it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh" release -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DNEXUS_BUILD_TESTS=OFF
# The main job: replay the bundled synthetic day (or the file given) through the books.
if [ $# -eq 0 ]; then
  exec "$root/build/release/apps/nexus-replay" "$root/data/sample-day.itch.gz"
fi
exec "$root/build/release/apps/nexus-replay" "$@"

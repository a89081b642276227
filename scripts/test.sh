#!/usr/bin/env bash
# The whole test suite, twice: Release with g++, then AddressSanitizer +
# UndefinedBehaviorSanitizer with clang (debug checks on). Warnings are errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
jobs=${NEXUS_JOBS:-$(nproc)}
status=0

run_suite() {
  local name=$1
  shift
  echo "=== $name: build"
  "$root/scripts/build.sh" "$name" -DNEXUS_WERROR=ON "$@"
  echo "=== $name: test"
  if ! (cd "$root/build/$name" && ctest --output-on-failure -j "$jobs"); then
    status=1
  fi
}

run_suite test-release -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite test-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_CXX_COMPILER=clang++ -DNEXUS_SANITIZE=ON

if [ $status -ne 0 ]; then
  echo "test.sh: FAILED"
else
  echo "test.sh: all suites passed"
fi
exit $status

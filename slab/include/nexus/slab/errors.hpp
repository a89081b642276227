// nexus/slab/errors.hpp — what the slab throws, and the checks switch.
//
// Recoverable conditions throw (so a caller can keep serving):
//   SlabFull          insert into a full bounded slab (try_* return empty instead)
//   CapacityError     a size the slab cannot represent: a capacity above
//                     kMaxCells, or unbounded growth that would run out of keys
//                     or past the configured max_capacity
//   NotInitialized    a per-thread allocator used before init() or after shutdown()
//   AlreadyInitialized init() on an allocator that is already live
// Programming errors that cannot be reported by exception (a destructor, or a
// double free deep in a remove) print "nexus::slab: <what>" and abort.
//
// NEXUS_SLAB_CHECKS (default: on unless NDEBUG) adds the debug checks: double
// free, removal of a vacant key, and handles outliving a direct slab. Define it
// the same way in every translation unit of a program.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#ifndef NEXUS_SLAB_CHECKS
#ifdef NDEBUG
#define NEXUS_SLAB_CHECKS 0
#else
#define NEXUS_SLAB_CHECKS 1
#endif
#endif

namespace nexus::slab {

struct SlabFull : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct CapacityError : std::length_error {
    using std::length_error::length_error;
};
struct NotInitialized : std::logic_error {
    using std::logic_error::logic_error;
};
struct AlreadyInitialized : std::logic_error {
    using std::logic_error::logic_error;
};

namespace detail {

inline constexpr bool kChecks = NEXUS_SLAB_CHECKS != 0;

[[noreturn, gnu::cold, gnu::noinline]] inline void fatal(const char* what) noexcept {
    std::fprintf(stderr, "nexus::slab: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

// The same, naming the key (or count) involved: "nexus::slab: <what> (<n>)".
[[noreturn, gnu::cold, gnu::noinline]] inline void fatal(const char* what, unsigned long long n) noexcept {
    std::fprintf(stderr, "nexus::slab: %s (%llu)\n", what, n);
    std::fflush(stderr);
    std::abort();
}

}  // namespace detail
}  // namespace nexus::slab

// nexus/slab/errors.hpp — what the slab throws, and the checks switch.
//
// Recoverable conditions throw (so a caller can keep serving):
//   SlabFull          insert into a full bounded slab (try_* return empty instead)
//   CapacityError     a size the slab cannot represent: a capacity above
//                     kMaxCells, or unbounded growth that would run out of keys
//                     or past the configured max_capacity
//                     or past the configured max_capacity; a capacity of 0, or
//                     one whose storage cannot be allocated. The message
//                     carries the number.
//   NotInitialized    a per-thread allocator used before init() or after shutdown(),
//                     or init() on a thread whose allocators were already torn down
//   AlreadyInitialized init() on an allocator that is already live
//   TeardownInProgress insert/emplace while the slab is destroying its values
//                     (thread exit, a direct slab's destructor, clear()); try_*
//                     return empty instead
// Programming errors that cannot be reported by exception (a destructor, or a
// double free deep in a remove) print "nexus::slab: <what>" and abort.
//
// NEXUS_SLAB_CHECKS (default: on unless NDEBUG) adds the debug checks: double
// free, removal of a vacant key, a key removed, taken or adopted while a live
// handle owns its cell, a Slot or Handle used on a thread other than its
// slab's, and handles outliving a direct slab. Define it the same way in
// every translation unit of a program (it changes the size of a Slot).
#pragma once

#include <cstdarg>
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
struct TeardownInProgress : std::logic_error {
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

// The same with a printf-style message.
[[noreturn, gnu::cold, gnu::noinline, gnu::format(printf, 1, 2)]] inline void fatalf(const char* fmt, ...) noexcept {
    std::va_list args;
    va_start(args, fmt);
    std::fputs("nexus::slab: ", stderr);
    std::vfprintf(stderr, fmt, args);
    std::fputc('\n', stderr);
    va_end(args);
    std::fflush(stderr);
    std::abort();
}

}  // namespace detail
}  // namespace nexus::slab

// nexus/timing/tsc.hpp — serialised TSC reads and their calibrated overhead,
// for the benchmarks and nexus-loadgen.
//
// start(): lfence; rdtsc     — earlier instructions have finished before the read
// stop():  rdtscp; lfence    — the timed code has finished before the read, and
//                              later code cannot start before it
// rdtscp is probed at start-up (some hypervisors hide its CPUID bit); where it
// faults, stop() is lfence; rdtsc; lfence instead. Results are TSC ticks, not
// core cycles: the TSC runs at a fixed rate whatever the core's clock.
//
// One read pair costs tens of ticks here, more than a slab operation, so
// operations are timed in batches and divided (see BENCHMARKS.md).
#pragma once

#include <x86intrin.h>
#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <ctime>

namespace nexus::timing {

namespace detail {
inline sigjmp_buf probe_env;
inline void on_sigill(int) { siglongjmp(probe_env, 1); }
}  // namespace detail

// Does rdtscp execute here? Runs it once under a SIGILL handler.
inline bool rdtscp_works() {
    static const bool works = [] {
        struct sigaction sa {
        }, old{};
        sa.sa_handler = detail::on_sigill;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGILL, &sa, &old);
        bool ok = false;
        if (sigsetjmp(detail::probe_env, 1) == 0) {
            unsigned aux;
            (void)__rdtscp(&aux);
            ok = true;
        }
        sigaction(SIGILL, &old, nullptr);
        return ok;
    }();
    return works;
}

inline bool g_use_rdtscp = false;

[[gnu::always_inline]] inline std::uint64_t tsc_start() noexcept {
    _mm_lfence();
    const std::uint64_t t = __rdtsc();
    _mm_lfence();  // the timed code does not start before the read
    return t;
}

[[gnu::always_inline]] inline std::uint64_t tsc_stop() noexcept {
    std::uint64_t t;
    if (g_use_rdtscp) [[likely]] {
        unsigned aux;
        t = __rdtscp(&aux);
    } else {
        _mm_lfence();
        t = __rdtsc();
    }
    _mm_lfence();
    return t;
}

// Keeps a value alive without a store the compiler could drop.
template <class T>
[[gnu::always_inline]] inline void keep(T const& v) noexcept {
    asm volatile("" : : "r,m"(v) : "memory");
}
template <class T>
[[gnu::always_inline]] inline void clobber(T& v) noexcept {
    asm volatile("" : "+r,m"(v) : : "memory");
}

// A compiler barrier: memory must be up to date here, as it would be if the
// object escaped into code the compiler cannot see (it does not order the CPU).
[[gnu::always_inline]] inline void barrier() noexcept { asm volatile("" : : : "memory"); }

struct TscInfo {
    double overhead = 0;      // median ticks of an empty start/stop pair
    double ticks_per_ns = 0;  // TSC rate against CLOCK_MONOTONIC
    bool rdtscp = false;
};

inline double monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

inline double median_of(std::uint64_t* v, std::size_t n) {
    std::nth_element(v, v + n / 2, v + n);
    return static_cast<double>(v[n / 2]);
}

// Probes rdtscp, measures the read overhead and the TSC rate.
inline TscInfo calibrate() {
    TscInfo info;
    info.rdtscp = g_use_rdtscp = rdtscp_works();
    static std::uint64_t samples[20001];
    for (int warm = 0; warm < 1000; ++warm) keep(tsc_stop() - tsc_start());
    for (auto& s : samples) {
        const std::uint64_t a = tsc_start();
        const std::uint64_t b = tsc_stop();
        s = b - a;
    }
    info.overhead = median_of(samples, sizeof samples / sizeof samples[0]);
    const double n0 = monotonic_ns();
    const std::uint64_t t0 = __rdtsc();
    while (monotonic_ns() - n0 < 100e6) {}
    const double n1 = monotonic_ns();
    const std::uint64_t t1 = __rdtsc();
    info.ticks_per_ns = static_cast<double>(t1 - t0) / (n1 - n0);
    return info;
}

}  // namespace nexus::timing

// nexus-gbench: the same operations as the cycle harness, through Google
// Benchmark, so the figures can be checked with a tool everyone knows
// (ns per operation and operations per second).
//
//   nexus-gbench [--benchmark_filter=...] [--benchmark_min_time=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "common/impls.hpp"

namespace nb = nexus::bench;

namespace {

NEXUS_SLAB_ALLOCATOR(g64_alloc, nb::Obj<64>);
NEXUS_SLAB_ALLOCATOR(g4096_alloc, nb::Obj<4096>);

template <std::size_t S>
struct ThreadAllocFor;
template <>
struct ThreadAllocFor<64> {
    using type = g64_alloc;
};
template <>
struct ThreadAllocFor<4096> {
    using type = g4096_alloc;
};

constexpr std::size_t kCap = 8192;

// allocate, write, read, free — one operation per iteration.
template <class Impl>
void BM_Lifecycle(benchmark::State& state) {
    Impl im(kCap);
    benchmark::DoNotOptimize(&im);  // the pool escapes: ClobberMemory() then covers its state
    std::uint64_t i = 0;
    for (auto _ : state) {
        auto h = im.acquire(i++);
        benchmark::ClobberMemory();
        benchmark::DoNotOptimize(Impl::read(h));
        im.release(h);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}

// 64 objects live; each iteration allocates one and frees the oldest.
template <class Impl>
void BM_RingPairs(benchmark::State& state) {
    Impl im(kCap);
    benchmark::DoNotOptimize(&im);
    std::vector<typename Impl::H> ring(64);
    for (std::size_t j = 0; j < ring.size(); ++j) ring[j] = im.acquire(j);
    std::size_t pos = 0;
    std::uint64_t i = 0;
    for (auto _ : state) {
        auto h = im.acquire(i++);
        benchmark::ClobberMemory();
        im.release(ring[pos]);
        ring[pos] = std::move(h);
        pos = (pos + 1) & 63;
    }
    for (auto& h : ring) im.release(h);
    state.SetItemsProcessed(state.iterations());
}

template <std::size_t S>
using TA = typename ThreadAllocFor<S>::type;

#define NEXUS_ALL_IMPLS(BM, S)                                                             \
    BENCHMARK_TEMPLATE(BM, nb::FloorPool<S>)->Name(#BM "/" #S "/floor");                   \
    BENCHMARK_TEMPLATE(BM, nb::NexusThread<TA<S>>)->Name(#BM "/" #S "/nexus");             \
    BENCHMARK_TEMPLATE(BM, nb::NexusDirect<S>)->Name(#BM "/" #S "/nexus-direct");          \
    BENCHMARK_TEMPLATE(BM, nb::Malloc<S>)->Name(#BM "/" #S "/new-delete");                 \
    BENCHMARK_TEMPLATE(BM, nb::PmrPool<S>)->Name(#BM "/" #S "/pmr-pool");                  \
    BENCHMARK_TEMPLATE(BM, nb::BoostObjectPool<S>)->Name(#BM "/" #S "/boost-object-pool"); \
    BENCHMARK_TEMPLATE(BM, nb::FoonathanPool<S>)->Name(#BM "/" #S "/foonathan-pool");      \
    BENCHMARK_TEMPLATE(BM, nb::Colony<S>)->Name(#BM "/" #S "/plf-colony")

NEXUS_ALL_IMPLS(BM_Lifecycle, 64);
NEXUS_ALL_IMPLS(BM_Lifecycle, 4096);
NEXUS_ALL_IMPLS(BM_RingPairs, 64);
NEXUS_ALL_IMPLS(BM_RingPairs, 4096);

// Key access on a direct slab: random reads among 4096 live values.
void BM_KeyGet(benchmark::State& state) {
    nexus::slab::BoundedSlab<nb::Obj<64>> slab(kCap);
    std::vector<nexus::slab::Key> keys;
    for (std::uint64_t i = 0; i < 4096; ++i) keys.push_back(slab.emplace_key(i));
    std::uint64_t x = 88172645463325252ull, sum = 0;
    for (auto _ : state) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += slab[keys[x & 4095]].w[0];
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyGet)->Name("BM_KeyGet/64/nexus-direct-key");

}  // namespace

BENCHMARK_MAIN();

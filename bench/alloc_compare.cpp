// nexus-bench-alloc: allocation latency of nexus::slab against the allocators
// a user would pick instead, in TSC ticks per operation, every comparison in
// this process with rounds interleaved. See BENCHMARKS.md for the method.
//
//   nexus-bench-alloc [--quick] [--impls=a,b,...] [--malloc-label=NAME] [--out=FILE]
//                     [--sizes=64,256,...] [--scenarios=hot,cold,...] [--evict-mib=N]
//
// Impl ids: floor floor+ nexus nexus-direct malloc pmr boost foonathan colony.
// The malloc row is whatever operator new resolves to in this process; the
// run script preloads jemalloc, tcmalloc and mimalloc and names them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include "common/impls.hpp"
#include "harness/timing.hpp"

namespace nb = nexus::bench;
using nb::Samples;

namespace {

NEXUS_SLAB_ALLOCATOR(obj64_alloc, nb::Obj<64>);
NEXUS_SLAB_ALLOCATOR(obj256_alloc, nb::Obj<256>);
NEXUS_SLAB_ALLOCATOR(obj1024_alloc, nb::Obj<1024>);
NEXUS_SLAB_ALLOCATOR(obj4096_alloc, nb::Obj<4096>);

template <std::size_t S>
struct ThreadAllocFor;
template <>
struct ThreadAllocFor<64> {
    using type = obj64_alloc;
};
template <>
struct ThreadAllocFor<256> {
    using type = obj256_alloc;
};
template <>
struct ThreadAllocFor<1024> {
    using type = obj1024_alloc;
};
template <>
struct ThreadAllocFor<4096> {
    using type = obj4096_alloc;
};

struct Config {
    bool quick = false;
    std::set<std::string> impls{"floor", "floor+", "nexus",     "nexus-direct", "malloc",
                                "pmr",   "boost",  "foonathan", "colony"};
    std::set<std::string> scenarios{"hot", "cold", "cold_burst", "burst", "churn", "flood", "tail"};
    std::vector<std::size_t> sizes{64, 256, 1024, 4096};
    std::string malloc_label = "glibc";
    std::string out;
    std::size_t evict_bytes = std::size_t{128} << 20;
    int rounds = 5;
    std::size_t hot_batches = 20'000;  // x100 operations
    std::size_t cold_reps = 100;
    std::size_t burst_reps = 20;  // bursts of kBurst
    std::size_t churn_ops = 10'000'000;
    std::size_t boost_churn_ops = 20'000;  // boost::object_pool frees in O(n): fewer operations
    std::size_t flood_reps = 100;
    std::size_t tail_pairs = 1'000'000;
};

constexpr int kBatch = 100;
constexpr std::size_t kBurst = 5000;
constexpr std::size_t kTailRing = 64;
constexpr std::size_t kColdBurst = 10;

nb::TscInfo g_tsc;
std::uint64_t g_sink = 0;

std::size_t churn_capacity(std::size_t size) {
    const std::size_t by_memory = (std::size_t{64} << 20) / size;
    return by_memory < 100'000 ? by_memory : 100'000;
}

double per_op(std::uint64_t t0, std::uint64_t t1, std::size_t n) {
    return (static_cast<double>(t1 - t0) - g_tsc.overhead) / static_cast<double>(n);
}

// Fragments the process heap: mixed sizes, three quarters kept for the whole run.
void fragment_heap(std::vector<std::unique_ptr<char[]>>& keep) {
    std::mt19937_64 rng(42);
    std::vector<std::unique_ptr<char[]>> all;
    for (int i = 0; i < 200'000; ++i) {
        const std::size_t n = 16 + rng() % 2032;
        all.emplace_back(new char[n]);
        all.back()[0] = static_cast<char>(i);
    }
    for (auto& p : all)
        if (rng() % 4 != 0) keep.push_back(std::move(p));
}

class Evictor {
public:
    explicit Evictor(std::size_t bytes) : buf_(bytes, 1) {}
    void evict() {
        std::uint64_t s = 0;
        for (std::size_t i = 0; i < buf_.size(); i += 64) s += buf_[i];
        g_sink += s;
    }

private:
    std::vector<std::uint8_t> buf_;
};

// ---- scenarios: each appends per-operation samples -----------------------

template <class Impl>
void hot(Impl& im, std::size_t batches, Samples& out) {
    std::uint64_t sink = 0;
    for (std::size_t b = 0; b < batches; ++b) {
        const std::uint64_t t0 = nb::tsc_start();
        for (int i = 0; i < kBatch; ++i) {
            auto h = im.acquire(static_cast<std::uint64_t>(i));
            nb::barrier();
            sink += Impl::read(h);
            im.release(h);
            nb::barrier();
        }
        const std::uint64_t t1 = nb::tsc_stop();
        out.add(per_op(t0, t1, kBatch));
    }
    g_sink += sink;
}

template <class Impl>
void cold(Impl& im, Evictor& ev, Samples& out) {
    ev.evict();
    const std::uint64_t t0 = nb::tsc_start();
    auto h = im.acquire(7);
    nb::keep(Impl::read(h));
    im.release(h);
    const std::uint64_t t1 = nb::tsc_stop();
    out.add(per_op(t0, t1, 1));
}

template <class Impl>
void cold_burst(Impl& im, Evictor& ev, Samples& out) {
    typename Impl::H hs[kColdBurst];
    ev.evict();
    const std::uint64_t t0 = nb::tsc_start();
    for (std::size_t i = 0; i < kColdBurst; ++i) hs[i] = im.acquire(i);
    std::uint64_t sink = 0;
    for (std::size_t i = 0; i < kColdBurst; ++i) {
        sink += Impl::read(hs[i]);
        im.release(hs[i]);
    }
    const std::uint64_t t1 = nb::tsc_stop();
    g_sink += sink;
    out.add(per_op(t0, t1, kColdBurst));
}

template <class Impl>
void burst(Impl& im, std::vector<typename Impl::H>& hs, Samples& out) {
    hs.resize(kBurst);
    for (std::size_t b = 0; b < kBurst; b += kBatch) {
        const std::uint64_t t0 = nb::tsc_start();
        for (std::size_t i = b; i < b + kBatch; ++i) hs[i] = im.acquire(i);
        const std::uint64_t t1 = nb::tsc_stop();
        out.add(per_op(t0, t1, kBatch));
    }
    for (std::size_t b = 0; b < kBurst; b += kBatch) {
        const std::uint64_t t0 = nb::tsc_start();
        for (std::size_t i = b; i < b + kBatch; ++i) im.release(hs[i]);
        const std::uint64_t t1 = nb::tsc_stop();
        out.add(per_op(t0, t1, kBatch));
    }
}

// Random indices into a table of n places, half of them occupied: an op frees
// an occupied place or fills an empty one, so the fill level stays near 50%.
template <class Impl>
void churn(Impl& im, std::size_t n, std::size_t ops, const std::vector<std::uint32_t>& idx, Samples& out) {
    std::vector<typename Impl::H> hs(n);
    std::vector<std::uint8_t> occ(n, 0);
    for (std::size_t i = 0; i < n; i += 2) {
        hs[i] = im.acquire(i);
        occ[i] = 1;
    }
    std::size_t k = 0;
    for (std::size_t done = 0; done < ops; done += kBatch) {
        const std::uint64_t t0 = nb::tsc_start();
        for (int j = 0; j < kBatch; ++j) {
            const std::uint32_t i = idx[k++ % idx.size()] % n;
            if (occ[i]) {
                im.release(hs[i]);
                occ[i] = 0;
            } else {
                hs[i] = im.acquire(i);
                occ[i] = 1;
            }
        }
        const std::uint64_t t1 = nb::tsc_stop();
        out.add(per_op(t0, t1, kBatch));
    }
    for (std::size_t i = 0; i < n; ++i)
        if (occ[i]) im.release(hs[i]);
}

// The first allocation after the heap was flooded with large blocks (allocated,
// touched, freed).
template <class Impl>
void flood(Impl& im, std::mt19937_64& rng, Samples& out) {
    std::vector<char*> big;
    for (int i = 0; i < 64; ++i) {
        const std::size_t n = (64u << 10) + rng() % (960u << 10);
        char* p = static_cast<char*>(std::malloc(n));
        for (std::size_t o = 0; o < n; o += 4096) p[o] = 1;
        big.push_back(p);
    }
    for (char* p : big) std::free(p);
    const std::uint64_t t0 = nb::tsc_start();
    auto h = im.acquire(3);
    nb::keep(Impl::read(h));
    const std::uint64_t t1 = nb::tsc_stop();
    im.release(h);
    out.add(per_op(t0, t1, 1));
}

// Alloc+free pairs with 64 objects live (free the oldest): the tail over many pairs.
template <class Impl>
void tail(Impl& im, std::vector<typename Impl::H>& ring, std::size_t pairs, Samples& out) {
    ring.resize(kTailRing);
    for (std::size_t i = 0; i < kTailRing; ++i) ring[i] = im.acquire(i);
    std::size_t pos = 0;
    for (std::size_t done = 0; done < pairs; done += kBatch) {
        const std::uint64_t t0 = nb::tsc_start();
        for (int j = 0; j < kBatch; ++j) {
            auto h = im.acquire(done + j);
            nb::barrier();
            im.release(ring[pos]);
            nb::barrier();
            ring[pos] = std::move(h);
            pos = (pos + 1) % kTailRing;
        }
        const std::uint64_t t1 = nb::tsc_stop();
        out.add(per_op(t0, t1, kBatch));
    }
    for (auto& h : ring) im.release(h);
}

// ---- the driver ------------------------------------------------------------

struct Entry {
    std::string id;     // impl id on the command line
    std::string label;  // row label
    std::function<void(const std::string& scenario, int round, Samples& out)> run;
};

template <std::size_t S>
void run_size(const Config& cfg, nb::Report& report, Evictor& ev) {
    const std::size_t n_churn = churn_capacity(S);
    const std::size_t cap = (n_churn > kBurst + kTailRing ? n_churn : kBurst + kTailRing) + 128;
    std::vector<std::uint32_t> idx(1 << 20);
    {
        std::mt19937 rng(7);
        for (auto& i : idx) i = rng();
    }
    auto rng = std::make_shared<std::mt19937_64>(11);

    std::vector<Entry> entries;
    auto add = [&]<class Impl>(std::string id, std::string label, std::shared_ptr<Impl> im) {
        if (!cfg.impls.count(id)) return;
        auto scratch = std::make_shared<std::vector<typename Impl::H>>();
        entries.push_back(
            {id, label, [&cfg, &ev, im, scratch, n_churn, rng, &idx, id](const std::string& sc, int, Samples& out) {
                 const int r = cfg.rounds;
                 if (sc == "hot")
                     hot(*im, cfg.hot_batches / r, out);
                 else if (sc == "cold")
                     for (std::size_t i = 0; i < cfg.cold_reps / r; ++i) cold(*im, ev, out);
                 else if (sc == "cold_burst")
                     for (std::size_t i = 0; i < cfg.cold_reps / r; ++i) cold_burst(*im, ev, out);
                 else if (sc == "burst")
                     for (std::size_t i = 0; i < cfg.burst_reps / r; ++i) burst(*im, *scratch, out);
                 else if (sc == "churn")
                     churn(*im, n_churn, (id == "boost" ? cfg.boost_churn_ops : cfg.churn_ops) / r, idx, out);
                 else if (sc == "flood")
                     for (std::size_t i = 0; i < cfg.flood_reps / r; ++i) flood(*im, *rng, out);
                 else if (sc == "tail")
                     tail(*im, *scratch, cfg.tail_pairs / r, out);
             }});
    };
    using TA = typename ThreadAllocFor<S>::type;
    if (cfg.impls.count("floor"))
        add("floor", "floor (hand-written free list)", std::make_shared<nb::FloorPool<S>>(cap));
    if (cfg.impls.count("floor+"))
        add("floor+", "floor + len counter + vacancy word", std::make_shared<nb::FloorPlusPool<S>>(cap));
    if (cfg.impls.count("nexus")) add("nexus", "nexus per-thread (Slot)", std::make_shared<nb::NexusThread<TA>>(cap));
    if (cfg.impls.count("nexus-direct"))
        add("nexus-direct", "nexus direct (Handle)", std::make_shared<nb::NexusDirect<S>>(cap));
    if (cfg.impls.count("malloc"))
        add("malloc", cfg.malloc_label + " new/delete", std::make_shared<nb::Malloc<S>>(cap));
    if (cfg.impls.count("pmr"))
        add("pmr", "std::pmr::unsynchronized_pool_resource", std::make_shared<nb::PmrPool<S>>(cap));
    if (cfg.impls.count("boost")) add("boost", "boost::object_pool", std::make_shared<nb::BoostObjectPool<S>>(cap));
    if (cfg.impls.count("foonathan"))
        add("foonathan", "foonathan::memory_pool", std::make_shared<nb::FoonathanPool<S>>(cap));
    if (cfg.impls.count("colony")) add("colony", "plf::colony", std::make_shared<nb::Colony<S>>(cap));

    static const char* order[] = {"hot", "cold", "cold_burst", "burst", "churn", "flood", "tail"};
    for (const char* sc : order) {
        if (!cfg.scenarios.count(sc)) continue;
        std::vector<Samples> all(entries.size());
        for (int round = 1; round <= cfg.rounds; ++round) {
            // Interleaved: every impl once per round, each round starting
            // with the next one, so that each runs in every position.
            for (std::size_t i = 0; i < entries.size(); ++i) {
                const std::size_t e = (i + static_cast<std::size_t>(round - 1)) % entries.size();
                Samples s;
                entries[e].run(sc, round, s);
                report.row("alloc", sc, S, entries[e].label, round, s);
                all[e].append(s);
            }
        }
        for (std::size_t e = 0; e < entries.size(); ++e) {
            report.row("alloc", sc, S, entries[e].label, 0, all[e]);
            report.curve("alloc", sc, S, entries[e].label, all[e]);
        }
        report.flush();
        std::fprintf(stderr, "  %zu B %-10s done\n", S, sc);
    }
}

// Bytes the process heap has handed out (glibc's counters; every pool here
// gets its storage from operator new, so its blocks are counted).
std::size_t heap_in_use() {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

// Memory per live value: heap growth while an allocator is built and filled
// with n values, divided by n, minus the value's size. Everything the
// allocator spends (headers, padding, size-class rounding, bookkeeping) counts.
// Only meaningful with glibc's malloc; with a preloaded malloc the malloc row
// reports malloc_usable_size() - S instead (mallinfo does not see it).
template <class Impl, std::size_t S>
double overhead_per_value(std::size_t n, bool glibc) {
    std::vector<typename Impl::H> hs(n);
    const std::size_t before = heap_in_use();
    auto im = std::make_unique<Impl>(n);
    for (std::size_t i = 0; i < n; ++i) hs[i] = im->acquire(i);
    double per;
    if (glibc) {
        per =
            (static_cast<double>(heap_in_use() - before) - static_cast<double>(sizeof(Impl))) / static_cast<double>(n) -
            static_cast<double>(S);
    } else {
        per = static_cast<double>(malloc_usable_size(static_cast<void*>(&*hs[0]))) - static_cast<double>(S);
    }
    // Newest first: boost::object_pool's ordered free is then O(1) per call.
    for (auto it = hs.rbegin(); it != hs.rend(); ++it) im->release(*it);
    return per;
}

template <std::size_t S>
void memory_size(const Config& cfg, nb::Report& report) {
    const std::size_t n = (std::size_t{32} << 20) / S;  // 32 MiB of values
    using TA = typename ThreadAllocFor<S>::type;
    const bool glibc = cfg.malloc_label == "glibc";
    auto put = [&](const char* id, const std::string& label, double v) {
        if (cfg.impls.count(id)) report.info("overhead\t" + std::to_string(S) + "\t" + label, std::to_string(v));
    };
    if (!glibc) {  // only the malloc row means something here
        if (cfg.impls.count("malloc"))
            put("malloc", cfg.malloc_label + " new/delete", overhead_per_value<nb::Malloc<S>, S>(n, false));
        return;
    }
    if (cfg.impls.count("floor"))
        put("floor", "floor (hand-written free list)", overhead_per_value<nb::FloorPool<S>, S>(n, glibc));
    if (cfg.impls.count("nexus"))
        put("nexus", "nexus per-thread (Slot)", overhead_per_value<nb::NexusThread<TA>, S>(n, glibc));
    if (cfg.impls.count("malloc"))
        put("malloc", cfg.malloc_label + " new/delete", overhead_per_value<nb::Malloc<S>, S>(n, glibc));
    if (cfg.impls.count("pmr"))
        put("pmr", "std::pmr::unsynchronized_pool_resource", overhead_per_value<nb::PmrPool<S>, S>(n, glibc));
    if (cfg.impls.count("boost"))
        put("boost", "boost::object_pool", overhead_per_value<nb::BoostObjectPool<S>, S>(n, glibc));
    if (cfg.impls.count("foonathan"))
        put("foonathan", "foonathan::memory_pool", overhead_per_value<nb::FoonathanPool<S>, S>(n, glibc));
    if (cfg.impls.count("colony")) put("colony", "plf::colony", overhead_per_value<nb::Colony<S>, S>(n, glibc));
}

std::set<std::string> split(const std::string& s) {
    std::set<std::string> out;
    std::size_t p = 0;
    while (p <= s.size()) {
        const std::size_t q = s.find(',', p);
        const std::string item = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (!item.empty()) out.insert(item);
        if (q == std::string::npos) break;
        p = q + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&](const char* key) -> const char* {
            const std::size_t n = std::strlen(key);
            return a.compare(0, n, key) == 0 ? a.c_str() + n : nullptr;
        };
        if (a == "--quick")
            cfg.quick = true;
        else if (auto v = val("--impls="))
            cfg.impls = split(v);
        else if (auto v = val("--scenarios="))
            cfg.scenarios = split(v);
        else if (auto v = val("--malloc-label="))
            cfg.malloc_label = v;
        else if (auto v = val("--out="))
            cfg.out = v;
        else if (auto v = val("--evict-mib="))
            cfg.evict_bytes = std::strtoull(v, nullptr, 10) << 20;
        else if (auto v = val("--sizes=")) {
            cfg.sizes.clear();
            for (const auto& s : split(v)) cfg.sizes.push_back(std::strtoull(s.c_str(), nullptr, 10));
        } else {
            std::fprintf(stderr,
                         "usage: %s [--quick] [--impls=..] [--scenarios=..] [--sizes=..] "
                         "[--malloc-label=NAME] [--evict-mib=N] [--out=FILE]\n",
                         argv[0]);
            return 2;
        }
    }
    if (cfg.quick) {
        cfg.rounds = 2;
        cfg.hot_batches = 200;
        cfg.cold_reps = 4;
        cfg.burst_reps = 2;
        cfg.churn_ops = 20'000;
        cfg.boost_churn_ops = 2'000;
        cfg.flood_reps = 4;
        cfg.tail_pairs = 10'000;
        cfg.evict_bytes = std::size_t{8} << 20;
    }
    std::FILE* out = cfg.out.empty() ? stdout : std::fopen(cfg.out.c_str(), "w");
    if (!out) {
        std::perror(cfg.out.c_str());
        return 1;
    }
    g_tsc = nb::calibrate();
    nb::Report report(out);
    report.info("tsc_overhead", std::to_string(g_tsc.overhead));
    report.info("tsc_ghz", std::to_string(g_tsc.ticks_per_ns));
    report.info("stop_instruction", g_tsc.rdtscp ? "rdtscp; lfence" : "lfence; rdtsc; lfence");
    report.info("evict_mib", std::to_string(cfg.evict_bytes >> 20));
    report.info("rounds", std::to_string(cfg.rounds));
    std::fprintf(stderr, "nexus-bench-alloc: %s, TSC %.3f GHz, read overhead %.0f ticks\n", cfg.malloc_label.c_str(),
                 g_tsc.ticks_per_ns, g_tsc.overhead);

    // Memory first, on a clean heap; then fragment the heap for the timings.
    if (!cfg.quick || cfg.scenarios.count("memory")) {
        for (std::size_t s : cfg.sizes) {
            if (s == 64)
                memory_size<64>(cfg, report);
            else if (s == 256)
                memory_size<256>(cfg, report);
            else if (s == 1024)
                memory_size<1024>(cfg, report);
            else if (s == 4096)
                memory_size<4096>(cfg, report);
        }
        report.flush();
    }
    std::vector<std::unique_ptr<char[]>> noise;
    fragment_heap(noise);
    Evictor ev(cfg.evict_bytes);
    for (std::size_t s : cfg.sizes) {
        switch (s) {
            case 64: run_size<64>(cfg, report, ev); break;
            case 256: run_size<256>(cfg, report, ev); break;
            case 1024: run_size<1024>(cfg, report, ev); break;
            case 4096: run_size<4096>(cfg, report, ev); break;
            default: std::fprintf(stderr, "unsupported size %zu (64, 256, 1024, 4096)\n", s); return 2;
        }
    }
    report.info("sink", std::to_string(g_sink & 1));
    if (out != stdout) std::fclose(out);
    return 0;
}

// nexus-bench-ops: the reference crate's per-operation table re-measured for
// nexus, through the per-thread allocator (Slot), a direct slab with Handles,
// and a direct slab with keys, with the hand-written free list as the floor.
// TSC ticks per operation, batches of 100, rounds interleaved.
//
//   nexus-bench-ops [--quick] [--out=FILE]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/impls.hpp"
#include "harness/cli.hpp"
#include "harness/timing.hpp"

namespace nb = nexus::bench;
using nb::Samples;
using nexus::slab::Key;
using Val = nb::Obj<64>;

namespace {

NEXUS_SLAB_ALLOCATOR(val_alloc, Val);

constexpr int kBatch = 100;
constexpr std::size_t kLive = 4096;  // objects alive for the access benchmarks
nb::TscInfo g_tsc;

double per_op(std::uint64_t t0, std::uint64_t t1) { return (static_cast<double>(t1 - t0) - g_tsc.overhead) / kBatch; }

// Times `body(i)` for i in [0, 100) as one batch; `before`/`after` run untimed.
template <class Before, class Body, class After>
void batch(Samples& out, Before&& before, Body&& body, After&& after) {
    before();
    const std::uint64_t t0 = nb::tsc_start();
    for (int i = 0; i < kBatch; ++i) body(i);
    const std::uint64_t t1 = nb::tsc_stop();
    after();
    out.add(per_op(t0, t1));
}
constexpr auto nothing = [] {};

// One API under test. Each op function adds one batch sample.
struct Api {
    std::string label;
    std::function<void(const std::string& op, Samples& out)> run;
};

std::vector<std::uint32_t> shuffled(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint32_t> v(n);
    std::iota(v.begin(), v.end(), 0u);
    std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
    return v;
}

// The per-thread allocator.
struct ThreadOps {
    std::vector<val_alloc::Slot> live;
    std::vector<std::uint32_t> order = shuffled(kLive, 1);
    std::vector<Key> probe;  // half live keys, half vacant
    alignas(64) unsigned char scratch[kBatch * sizeof(val_alloc::Slot)];
    std::size_t pos = 0;

    ThreadOps() {
        val_alloc::init().bounded(2 * kLive + 2 * kBatch).build();
        for (std::size_t i = 0; i < kLive; ++i) live.push_back(val_alloc::emplace(i));
        std::vector<val_alloc::Slot> tmp;
        for (std::size_t i = 0; i < kLive; ++i) tmp.push_back(val_alloc::emplace(i));
        for (std::size_t i = 0; i < kLive; ++i) probe.push_back(i % 2 ? live[order[i]].key() : tmp[i].key());
        tmp.clear();  // those keys are now vacant
    }
    ~ThreadOps() {
        live.clear();
        (void)val_alloc::shutdown();
    }
    val_alloc::Slot* slots() { return std::launder(reinterpret_cast<val_alloc::Slot*>(scratch)); }
    const val_alloc::Slot& next_live() { return live[order[pos++ % kLive]]; }

    void run(const std::string& op, Samples& out) {
        std::uint64_t sink = 0;
        if (op == "GET") {
            batch(
                out, nothing, [&](int) { sink += next_live()->w[0]; }, nothing);
        } else if (op == "GET hot") {
            const auto& s = live[0];
            batch(
                out, nothing,
                [&](int) {
                    sink += s->w[0];
                    nb::barrier();
                },
                nothing);
        } else if (op == "GET_MUT") {
            batch(
                out, nothing, [&](int i) { const_cast<val_alloc::Slot&>(next_live()).value().w[1] = i; }, nothing);
        } else if (op == "INSERT") {
            batch(
                out, nothing, [&](int i) { ::new (&slots()[i]) val_alloc::Slot(val_alloc::emplace(i)); },
                [&] {
                    for (int i = 0; i < kBatch; ++i) slots()[i].~Slot();
                });
        } else if (op == "REMOVE") {
            batch(
                out,
                [&] {
                    for (int i = 0; i < kBatch; ++i) ::new (&slots()[i]) val_alloc::Slot(val_alloc::emplace(i));
                },
                [&](int i) { slots()[i].~Slot(); }, nothing);
        } else if (op == "REPLACE") {
            batch(
                out, nothing, [&](int i) { sink += const_cast<val_alloc::Slot&>(next_live()).replace(Val(i)).w[0]; },
                nothing);
        } else if (op == "CONTAINS") {
            batch(
                out, nothing, [&](int) { sink += val_alloc::contains(probe[pos++ % kLive]); }, nothing);
        } else if (op == "LIFECYCLE") {
            batch(
                out, nothing,
                [&](int i) {
                    auto s = val_alloc::emplace(i);
                    nb::barrier();
                    sink += s->w[0];
                },
                nothing);
        }
        nb::keep(sink);
    }
};

// A direct slab, handles or keys.
template <bool UseKeys>
struct DirectOps {
    nexus::slab::BoundedSlab<Val> slab{2 * kLive + 2 * kBatch};
    std::vector<nexus::slab::Handle<Val>> live;
    std::vector<Key> keys;
    std::vector<std::uint32_t> order = shuffled(kLive, 1);
    std::vector<Key> probe;
    std::vector<nexus::slab::Handle<Val>> hs = std::vector<nexus::slab::Handle<Val>>(kBatch);
    Key ks[kBatch];
    std::size_t pos = 0;

    DirectOps() {
        for (std::size_t i = 0; i < kLive; ++i) {
            live.push_back(slab.emplace(i));
            keys.push_back(live.back().key());
        }
        std::vector<Key> tmp;
        for (std::size_t i = 0; i < kLive; ++i) tmp.push_back(slab.emplace_key(i));
        for (std::size_t i = 0; i < kLive; ++i) probe.push_back(i % 2 ? keys[order[i]] : tmp[i]);
        for (Key k : tmp) slab.remove(k);
    }
    ~DirectOps() { live.clear(); }

    Val& next_live() {
        const std::uint32_t i = order[pos++ % kLive];
        if constexpr (UseKeys)
            return slab[keys[i]];
        else
            return live[i].value();
    }

    void run(const std::string& op, Samples& out) {
        std::uint64_t sink = 0;
        if (op == "GET") {
            batch(
                out, nothing, [&](int) { sink += next_live().w[0]; }, nothing);
        } else if (op == "GET hot") {
            batch(
                out, nothing,
                [&](int) {
                    if constexpr (UseKeys)
                        sink += slab[keys[0]].w[0];
                    else
                        sink += live[0]->w[0];
                    nb::barrier();
                },
                nothing);
        } else if (op == "GET_MUT") {
            batch(
                out, nothing, [&](int i) { next_live().w[1] = i; }, nothing);
        } else if (op == "INSERT") {
            if constexpr (UseKeys)
                batch(
                    out, nothing, [&](int i) { ks[i] = slab.emplace_key(i); },
                    [&] {
                        for (Key k : ks) slab.remove(k);
                    });
            else
                batch(
                    out, nothing, [&](int i) { hs[i] = slab.emplace(i); },
                    [&] {
                        for (auto& h : hs) h.reset();
                    });
        } else if (op == "REMOVE") {
            if constexpr (UseKeys)
                batch(
                    out,
                    [&] {
                        for (int i = 0; i < kBatch; ++i) ks[i] = slab.emplace_key(i);
                    },
                    [&](int i) { slab.remove(ks[i]); }, nothing);
            else
                batch(
                    out,
                    [&] {
                        for (int i = 0; i < kBatch; ++i) hs[i] = slab.emplace(i);
                    },
                    [&](int i) { hs[i].reset(); }, nothing);
        } else if (op == "REPLACE") {
            if constexpr (UseKeys)
                batch(
                    out, nothing, [&](int i) { sink += std::exchange(next_live(), Val(i)).w[0]; }, nothing);
            else
                batch(
                    out, nothing, [&](int i) { sink += live[order[pos++ % kLive]].replace(Val(i)).w[0]; }, nothing);
        } else if (op == "CONTAINS") {
            batch(
                out, nothing, [&](int) { sink += slab.contains(probe[pos++ % kLive]); }, nothing);
        } else if (op == "LIFECYCLE") {
            if constexpr (UseKeys)
                batch(
                    out, nothing,
                    [&](int i) {
                        const Key k = slab.emplace_key(i);
                        nb::barrier();
                        sink += slab[k].w[0];
                        slab.remove(k);
                    },
                    nothing);
            else
                batch(
                    out, nothing,
                    [&](int i) {
                        auto h = slab.emplace(i);
                        nb::barrier();
                        sink += h->w[0];
                    },
                    nothing);
        }
        nb::keep(sink);
    }
};

// The floor, for the operations it has.
struct FloorOps {
    nb::FloorPool<64> pool{2 * kLive + 2 * kBatch};
    std::vector<Val*> live;
    std::vector<std::uint32_t> order = shuffled(kLive, 1);
    Val* ps[kBatch];
    std::size_t pos = 0;
    FloorOps() {
        for (std::size_t i = 0; i < kLive; ++i) live.push_back(pool.acquire(i));
    }
    void run(const std::string& op, Samples& out) {
        std::uint64_t sink = 0;
        if (op == "GET") {
            batch(
                out, nothing, [&](int) { sink += live[order[pos++ % kLive]]->w[0]; }, nothing);
        } else if (op == "GET hot") {
            batch(
                out, nothing,
                [&](int) {
                    sink += live[0]->w[0];
                    nb::barrier();
                },
                nothing);
        } else if (op == "GET_MUT") {
            batch(
                out, nothing, [&](int i) { live[order[pos++ % kLive]]->w[1] = i; }, nothing);
        } else if (op == "INSERT") {
            batch(
                out, nothing, [&](int i) { ps[i] = pool.acquire(i); },
                [&] {
                    for (Val* p : ps) pool.release(p);
                });
        } else if (op == "REMOVE") {
            batch(
                out,
                [&] {
                    for (int i = 0; i < kBatch; ++i) ps[i] = pool.acquire(i);
                },
                [&](int i) { pool.release(ps[i]); }, nothing);
        } else if (op == "REPLACE") {
            batch(
                out, nothing, [&](int i) { sink += std::exchange(*live[order[pos++ % kLive]], Val(i)).w[0]; }, nothing);
        } else if (op == "LIFECYCLE") {
            batch(
                out, nothing,
                [&](int i) {
                    Val* p = pool.acquire(i);
                    nb::barrier();
                    sink += p->w[0];
                    pool.release(p);
                },
                nothing);
        }
        nb::keep(sink);
    }
};

}  // namespace

int main(int argc, char** argv) {
    const nb::Cli cli = nb::parse_cli(argc, argv);
    const bool quick = cli.quick;
    std::FILE* out = cli.out;
    const int rounds = quick ? 2 : 5;
    const int batches_per_round = quick ? 50 : 4000;
    g_tsc = nb::calibrate();
    nb::Report report(out);
    report.info("tsc_overhead", std::to_string(g_tsc.overhead));
    report.info("tsc_ghz", std::to_string(g_tsc.ticks_per_ns));

    auto floor = std::make_unique<FloorOps>();
    auto thread = std::make_unique<ThreadOps>();
    auto direct = std::make_unique<DirectOps<false>>();
    auto keyed = std::make_unique<DirectOps<true>>();
    struct Row {
        const char* label;
        std::function<void(const std::string&, Samples&)> run;
        bool has_contains;
    };
    std::vector<Row> rows{
        {"floor (hand-written free list)", [&](const std::string& op, Samples& s) { floor->run(op, s); }, false},
        {"nexus per-thread (Slot)", [&](const std::string& op, Samples& s) { thread->run(op, s); }, true},
        {"nexus direct (Handle)", [&](const std::string& op, Samples& s) { direct->run(op, s); }, true},
        {"nexus direct (Key)", [&](const std::string& op, Samples& s) { keyed->run(op, s); }, true},
    };
    const char* ops[] = {"GET", "GET hot", "GET_MUT", "INSERT", "REMOVE", "REPLACE", "CONTAINS", "LIFECYCLE"};
    for (const char* op : ops) {
        std::vector<Samples> all(rows.size());
        for (int r = 1; r <= rounds; ++r) {
            for (std::size_t j = 0; j < rows.size(); ++j) {
                const std::size_t i =
                    (j + static_cast<std::size_t>(r - 1)) % rows.size();  // each round starts with the next row
                if (std::string(op) == "CONTAINS" && !rows[i].has_contains) continue;
                Samples s;
                for (int b = 0; b < batches_per_round; ++b) rows[i].run(op, s);
                report.row("ops", op, 64, rows[i].label, r, s);
                all[i].append(s);
            }
        }
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (!all[i].empty()) report.row("ops", op, 64, rows[i].label, 0, all[i]);
        report.flush();
    }
    if (out != stdout) std::fclose(out);
    return 0;
}

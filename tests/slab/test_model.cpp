// Random sequences of every slab operation against a plain model, for each
// flavour (direct bounded, direct unbounded, per-thread allocator), with
// values that own handles and keys of the same slab, cycles, destructors
// that insert, clear(), destroying and re-creating the slab, shutdown and
// re-init, and the thread's exit. In checks builds some steps also move a
// handle to another thread and drop it there, in a forked child that must
// abort (a few seeds only: a fork under AddressSanitizer is slow). See
// slab_model.hpp for what is checked after every step.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <thread>

#include "ledger.hpp"
#include "slab_model.hpp"

namespace sm = nexus::test::slab_model;
using nexus::test::ledger;
using nexus::test::LedgerScope;

namespace {

struct RandomSource {
    std::mt19937_64 rng;
    explicit RandomSource(std::uint64_t seed) : rng(seed) {}
    std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); }
    bool done() const { return false; }
};

constexpr int kSeeds = 200;
constexpr long kOpsPerSeed = 3000;
constexpr bool kDeathTests = NEXUS_SLAB_CHECKS != 0;
constexpr std::size_t kOps = static_cast<std::size_t>(sm::Op::count);

// Every operation that can apply to the flavour did, many times over.
void check_coverage(const std::array<long, kOps>& applied, bool per_thread) {
    for (std::size_t i = 0; i < kOps; ++i) {
        const auto op = static_cast<sm::Op>(i);
        if (!sm::applies(op, per_thread, kDeathTests)) continue;
        INFO(sm::op_name(op) << " applied " << applied[i] << " times");
        CHECK(applied[i] >= (op == sm::Op::cross_thread_drop ? 1 : 20));
    }
}

void add(std::array<long, kOps>& total, const std::array<long, kOps>& more) {
    for (std::size_t i = 0; i < kOps; ++i) total[i] += more[i];
}

template <class Traits>
void run_direct(bool bounded, std::uint64_t seed_base) {
    long ops = 0, teardowns = 0, deaths = 0;
    std::array<long, kOps> applied{};
    for (int seed = 0; seed < kSeeds; ++seed) {
        LedgerScope scope;
        sm::teardown_inserts().refused = 0;
        sm::teardown_inserts().succeeded = 0;
        sm::teardown_inserts().owned_died_first = 0;
        RandomSource src(seed_base + static_cast<std::uint64_t>(seed));
        sm::Driver<Traits, RandomSource> driver(src, bounded, kDeathTests && seed % 10 == 0);
        const long failures = driver.run(kOpsPerSeed);
        INFO("seed " << seed_base + static_cast<std::uint64_t>(seed) << ": " << driver.first_failure());
        REQUIRE(failures == 0);
        REQUIRE(ledger().alive() == 0);
        REQUIRE(ledger().double_destroyed() == 0);
        REQUIRE(ledger().constructed() == ledger().destroyed());
        ops += driver.operations();
        teardowns += driver.teardowns();
        deaths += driver.deaths();
        add(applied, driver.applied());
    }
    CHECK(ops == kSeeds * kOpsPerSeed);
    CHECK(teardowns > kSeeds);  // clear() and re-creation happened along the way, not only at the end
    if (kDeathTests) CHECK(deaths > 0);
    check_coverage(applied, false);
}

}  // namespace

TEST_CASE("model: direct bounded slab, random operation sequences", "[model]") {
    run_direct<sm::DirectTraits<true>>(true, 1000);
}

TEST_CASE("model: direct unbounded slab, random operation sequences", "[model]") {
    run_direct<sm::DirectTraits<false>>(false, 2000);
}

TEST_CASE("model: per-thread allocator, random sequences ending in the thread's exit", "[model]") {
    long ops = 0, teardowns = 0, deaths = 0;
    std::array<long, kOps> applied{};
    for (int seed = 0; seed < kSeeds; ++seed) {
        LedgerScope scope;
        sm::teardown_inserts().refused = 0;
        sm::teardown_inserts().succeeded = 0;
        sm::teardown_inserts().owned_died_first = 0;
        long failures = 0, inserters = 0;
        std::string first;
        std::thread([&] {
            RandomSource src(3000 + static_cast<std::uint64_t>(seed));
            sm::Driver<sm::ThreadTraits, RandomSource> driver(src, seed % 2 == 0, kDeathTests && seed % 10 == 0);
            failures = driver.run(kOpsPerSeed);
            first = driver.first_failure();
            inserters = driver.inserters_at_exit();
            ops += driver.operations();
            teardowns += driver.teardowns();
            deaths += driver.deaths();
            add(applied, driver.applied());
        }).join();  // the thread's exit destroyed what was left
        sm::teardown_inserts().in_teardown = false;
        INFO("seed " << 3000 + seed << ": " << first);
        REQUIRE(failures == 0);
        REQUIRE(ledger().alive() == 0);
        REQUIRE(ledger().double_destroyed() == 0);
        REQUIRE(sm::teardown_inserts().succeeded == 0);
        REQUIRE(sm::teardown_inserts().refused == inserters);
        REQUIRE(sm::teardown_inserts().owned_died_first == 0);
    }
    CHECK(ops == kSeeds * kOpsPerSeed);
    CHECK(teardowns > 0);  // some shutdown succeeded and the allocator was initialised again
    if (kDeathTests) CHECK(deaths > 0);
    check_coverage(applied, true);
    CHECK_FALSE(sm::model_item_alloc::is_initialized());
}

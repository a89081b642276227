// libFuzzer target: the input bytes choose a slab flavour and a sequence of
// slab operations (the same driver as tests/slab/test_model.cpp: values that
// own handles and keys of the same slab, cycles, destructors that insert,
// clear(), re-creation, shutdown and re-init, thread exit), checked against
// the plain model after every step. Any disagreement, a value destroyed
// twice or never, or a sanitizer report is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "../slab/slab_model.hpp"

namespace sm = nexus::test::slab_model;

namespace {

// Draws choices from the input; once it runs out the sequence ends.
struct ByteSource {
    const std::uint8_t* p;
    const std::uint8_t* end;
    std::uint32_t pick(std::uint32_t n) {
        if (p == end) return 0;
        std::uint32_t v = *p++;
        if (n > 256 && p != end) v = v << 8 | *p++;
        return v % n;
    }
    bool done() const { return p == end; }
};

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_slab: %s: %s\n", what, detail.c_str());
    std::abort();
}

void reset_counters() {
    nexus::test::ledger().reset();
    sm::teardown_inserts().in_teardown = false;
    sm::teardown_inserts().refused = 0;
    sm::teardown_inserts().succeeded = 0;
    sm::teardown_inserts().owned_died_first = 0;
}

void expect_clean(const char* flavour) {
    auto& l = nexus::test::ledger();
    if (l.alive() != 0 || l.double_destroyed() != 0 || sm::teardown_inserts().succeeded != 0 ||
        sm::teardown_inserts().owned_died_first != 0)
        fail(flavour, "the final teardown left values alive, destroyed one twice, or let an insert through");
}

constexpr long kMaxOps = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    ByteSource src{data + 1, data + size};
    reset_counters();
    switch (data[0] % 3) {
        case 0: {
            sm::Driver<sm::DirectTraits<true>, ByteSource> d(src, true, false);
            if (d.run(kMaxOps) != 0) fail("direct bounded", d.first_failure());
            expect_clean("direct bounded");
            break;
        }
        case 1: {
            sm::Driver<sm::DirectTraits<false>, ByteSource> d(src, false, false);
            if (d.run(kMaxOps) != 0) fail("direct unbounded", d.first_failure());
            expect_clean("direct unbounded");
            break;
        }
        default: {
            long failures = 0, inserters = 0;
            std::string first;
            std::thread([&] {
                sm::Driver<sm::ThreadTraits, ByteSource> d(src, (data[0] / 3) % 2 == 0, false);
                failures = d.run(kMaxOps);
                first = d.first_failure();
                inserters = d.inserters_at_exit();
            }).join();
            if (failures != 0) fail("per-thread", first);
            expect_clean("per-thread");
            if (sm::teardown_inserts().refused != inserters)
                fail("per-thread", "an insert at thread exit was not refused");
            break;
        }
    }
    return 0;
}

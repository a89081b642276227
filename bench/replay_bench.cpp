// nexus-bench-replay: decode + book for a whole ITCH 5.0 file already in the
// page cache, nexus (ItchBookBuilder: slab Book per locate) against the same
// messages applied to the ordinary book (PlainBook per locate), same process,
// rounds interleaved, each round starting with the next replayer.
//
//   nexus-bench-replay FILE [--rounds N] [--out=FILE]
//
// Throughput passes are untimed inside (wall clock around the whole file);
// a separate pass times every message (serialised TSC reads, overhead
// subtracted) for the per-type percentiles.
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/orderbook/plain_book.hpp>
#include <nexus/slab/slab.hpp>

#include "harness/timing.hpp"

namespace nb = nexus::bench;
namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;

namespace {

nb::TscInfo g_tsc;

// The ordinary book behind the same ITCH semantics, one per locate.
class PlainItch {
public:
    void fresh() { books_.clear(); }
    bool apply(const itch::Message& m) {
        using namespace itch;
        switch (m.type()) {
            case 'A':
            case 'F': {
                const AddOrder a(m);
                return book(m.locate())
                    .add(a.ref(), a.side() == 'B' ? ob::Side::Buy : ob::Side::Sell, a.price(), a.shares());
            }
            case 'E': return book(m.locate()).execute(OrderExecuted(m).ref(), OrderExecuted(m).shares());
            case 'C': {
                const OrderExecutedWithPrice c(m);
                return book(m.locate()).execute_at(c.ref(), c.shares(), c.price());
            }
            case 'X': return book(m.locate()).cancel_qty(OrderCancel(m).ref(), OrderCancel(m).shares());
            case 'D': return book(m.locate()).remove(OrderDelete(m).ref());
            case 'U': {
                const OrderReplace u(m);
                return book(m.locate()).replace(u.old_ref(), u.new_ref(), u.shares(), u.price());
            }
            default: return true;
        }
    }
    std::size_t live() const {
        std::size_t n = 0;
        for (const auto& b : books_)
            if (b) n += b->order_count();
        return n;
    }

private:
    ob::PlainBook<>& book(std::uint16_t loc) {
        if (loc >= books_.size()) books_.resize(loc + std::size_t{1});
        if (!books_[loc]) books_[loc] = std::make_unique<ob::PlainBook<>>(nl_, loc);
        return *books_[loc];
    }
    ob::NullListener nl_;
    std::vector<std::unique_ptr<ob::PlainBook<>>> books_;
};

// The replayer is made once and kept across runs; each run starts from a
// reset builder, whose pools are cleared so that they hand out cells as new
// pools would (a day's replay starts from new pools; after a day of churn the
// free list is scattered) without freeing and mapping again the memory they
// grew into. Unmapping and mapping hundreds of MiB between runs would make
// whatever runs next pay for page faults and the kernel's reclaim, and a
// replay keeps its pools for its whole life.
struct Nexus {
    ob::NullListener nl;
    nexus::feed::ItchBookBuilder<> builder{nl};
    void fresh() { builder.reset(); }
    bool apply(const itch::Message& m) { return builder.apply(m); }
};

// A whole file through ItchBookBuilder::apply_block, with or without its look-ahead.
template <bool kLookAhead>
double run_blocks(Nexus& r, std::span<const std::uint8_t> data) {
    r.fresh();
    nexus::feed::ItchObserver none;
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t n = std::min<std::size_t>(data.size() - pos, std::size_t{4} << 20);
        const auto b =
            r.builder.template apply_block<nexus::feed::ItchObserver, kLookAhead>(data.subspan(pos, n), pos, none);
        pos += b.consumed;
        if (b.stop || (b.error != itch::FrameError::None && pos + n >= data.size())) break;
    }
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

template <class Replayer, class F>
double run(Replayer& r, std::span<const std::uint8_t> data, F&& per_message) {
    r.fresh();
    itch::Framer f(data);
    itch::Message m;
    const auto t0 = std::chrono::steady_clock::now();
    while (f.next(m)) per_message(r, m);
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

// The machine's cost of one dependent load from memory of `bytes`: a
// pointer chase over every cache line of a buffer, in one random cycle, so
// that each load's address comes from the one before (no overlap, no
// useful prefetch) and the lines of a large buffer also miss the TLB, as
// the books' cells do. Small buffers are walked once before timing, so
// they are measured from the cache they fit in. Median of 5 timed walks
// of `steps` loads each: the replay's per-message cost set against what a
// few dependent loads cost here, measured in the same process.
double chase_ns(std::size_t bytes, std::size_t steps) {
    struct alignas(64) Line {
        Line* next;
    };
    static_assert(sizeof(Line) == 64);
    const std::size_t lines = bytes / sizeof(Line);
    std::unique_ptr<Line[]> buf(new Line[lines]);
    std::vector<std::uint32_t> order(lines);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(lines));
    for (std::size_t i = 0; i < lines; ++i) buf[order[i]].next = &buf[order[(i + 1) % lines]];
    const Line* p = &buf[order[0]];
    if (lines <= steps)
        for (std::size_t i = 0; i < lines; ++i) p = p->next;
    nb::Samples ns;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < steps; ++i) p = p->next;
        const auto t1 = std::chrono::steady_clock::now();
        ns.add(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(steps));
    }
    const void* volatile keep = p;  // the walk's result is used
    (void)keep;
    return ns.quantile(0.5);
}

}  // namespace

int main(int argc, char** argv) {
    std::string file, out_path;
    int rounds = 3;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (std::strncmp(argv[i], "--out=", 6) == 0)
            out_path = argv[i] + 6;
        else
            file = argv[i];
    }
    if (file.empty()) {
        std::fprintf(stderr, "usage: %s FILE [--rounds N] [--out=FILE]\n", argv[0]);
        return 2;
    }
    // Map the (plain) file and touch it all, so it is in the page cache.
    std::vector<std::uint8_t> copy;
    std::span<const std::uint8_t> data;
    {
        const nexus::feed::ReadResult probe = nexus::feed::read_itch(file, [](const itch::Message&) { return false; });
        if (!probe.ok) {
            std::fprintf(stderr, "%s\n", probe.error.c_str());
            return 1;
        }
        if (probe.gzip) {
            std::fprintf(stderr, "give a plain (not gzipped) file: the benchmark measures decode + book, not zlib\n");
            return 2;
        }
    }
    FILE* fp = std::fopen(file.c_str(), "rb");
    std::fseek(fp, 0, SEEK_END);
    const auto size = static_cast<std::size_t>(std::ftell(fp));
    std::fclose(fp);
    const int fd = ::open(file.c_str(), O_RDONLY);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    ::close(fd);
    data = {static_cast<const std::uint8_t*>(p), size};
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < size; i += 4096) sum += data[i];

    std::FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
    g_tsc = nb::calibrate();
    nb::Report report(out);
    report.info("file", file);
    report.info("bytes", std::to_string(size));
    report.info("tsc_ghz", std::to_string(g_tsc.ticks_per_ns));

    std::uint64_t messages = 0;
    {
        itch::Framer f(data);
        itch::Message m;
        while (f.next(m)) ++messages;
    }
    report.info("messages", std::to_string(messages));
    // glibc keeps what the plain books free for their next run instead of
    // trimming it back to the OS (the same treatment the slab pools get).
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    auto nexus_r = std::make_unique<Nexus>();
    auto plain_r = std::make_unique<PlainItch>();
    nb::Samples fast_ns, noahead_ns, plain_ns;
    std::uint64_t anomalies = 0, peak_live = 0, plain_live = 0, fast_live = 0;
    for (int r = 0; r < rounds; ++r) {
        // Each round starts with the next replayer, so each runs in every
        // position and none always inherits the caches and clock of another.
        double f = 0, fn = 0, pl = 0;
        for (int i = 0; i < 3; ++i) {
            switch ((i + r) % 3) {
                case 0: f = run_blocks<true>(*nexus_r, data); break;
                case 1: fn = run_blocks<false>(*nexus_r, data); break;
                default: pl = run(*plain_r, data, [&](PlainItch& x, const itch::Message& m) { x.apply(m); }); break;
            }
        }
        const double per = 1e9 / static_cast<double>(messages);
        fast_ns.add(f * per);
        noahead_ns.add(fn * per);
        plain_ns.add(pl * per);
        std::fprintf(stderr, "round %d: nexus %.1f ns/msg, without look-ahead %.1f, plain %.1f\n", r + 1, f * per,
                     fn * per, pl * per);
    }
    report.row("replay", "ns per message", 0, "nexus (MarketBooks, blocks with look-ahead)", 0, fast_ns);
    report.row("replay", "ns per message", 0, "nexus without the look-ahead", 0, noahead_ns);
    report.row("replay", "ns per message", 0, "PlainBook per locate (std::map + std::list + unordered_map)", 0,
               plain_ns);

    // Per-message latency by type, and the end state, from one timed pass.
    {
        Nexus* x = nexus_r.get();
        x->fresh();
        std::vector<nb::Samples> by_type(256);
        itch::Framer f(data);
        itch::Message m;
        while (f.next(m)) {
            const std::uint64_t t0 = nb::tsc_start();
            x->apply(m);
            const std::uint64_t t1 = nb::tsc_stop();
            by_type[static_cast<unsigned char>(m.type())].add((static_cast<double>(t1 - t0) - g_tsc.overhead) /
                                                              g_tsc.ticks_per_ns);
        }
        for (char t : itch::kKnownTypes) {
            auto& s = by_type[static_cast<unsigned char>(t)];
            if (s.size() >= 100) report.row("replay", std::string("latency ns ") + t, 0, "nexus", 0, s);
        }
        anomalies = x->builder.stats().total_anomalies();
        peak_live = x->builder.stats().peak_live_orders;
        fast_live = x->builder.live_orders();
        const std::size_t cell = sizeof(ob::MarketOrder) + nexus::slab::kOverheadPerValue<ob::MarketOrder>;
        const std::size_t level_cell = sizeof(ob::MarketLevel) + nexus::slab::kOverheadPerValue<ob::MarketLevel>;
        report.info("order_cell_bytes", std::to_string(cell));
        report.info("level_cell_bytes", std::to_string(level_cell));
        report.info("live_levels_end", std::to_string(x->builder.live_levels()));
        report.info("peak_levels", std::to_string(x->builder.stats().peak_levels));
        const auto& window = x->builder.books().index();
        report.info("window_pages_allocated", std::to_string(window.pages_allocated()));
        report.info("window_page_bytes", std::to_string(ob::WindowIndex::kPage * sizeof(nexus::slab::Key)));
        report.info("window_overflow_end", std::to_string(window.overflow_size()));
    }
    {
        PlainItch& pl = *plain_r;
        pl.fresh();
        itch::Framer f(data);
        itch::Message m;
        while (f.next(m)) pl.apply(m);
        plain_live = pl.live();
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    // Last, after every replay: the kernel reclaims the freed large buffers
    // in the background, which must not land in a timed run.
    for (const std::size_t kib : {32, 1024, 4 * 1024, 16 * 1024, 64 * 1024, 512 * 1024})
        report.info("chase_ns_" + std::to_string(kib) + "k",
                    std::to_string(chase_ns(kib * std::size_t{1024}, 2'000'000)));
    report.info("anomalies", std::to_string(anomalies));
    report.info("peak_live_orders", std::to_string(peak_live));
    report.info("live_orders_end", std::to_string(fast_live));
    report.info("plain_live_orders_end", std::to_string(plain_live));
    report.info("max_rss_mib", std::to_string(ru.ru_maxrss / 1024));
    report.info("touch", std::to_string(sum & 1));
    if (out != stdout) std::fclose(out);
    return 0;
}

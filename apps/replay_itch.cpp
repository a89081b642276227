// nexus-replay, ITCH 5.0 mode, one thread: the stream read block by block
// (from a file, or from a JetStream stream: replay_nats.cpp) and applied by
// one ItchBookBuilder (replay_parallel.cpp runs several).
#include "replay_itch.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <x86intrin.h>
#include <nexus/slab/slab.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "output_file.hpp"
#include "replay_nats.hpp"
#include "replay_parallel.hpp"
#include "replay_report.hpp"

namespace nexus::apps {
namespace {

namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;

constexpr double kOrderCellBytes = sizeof(ob::MarketOrder) + nexus::slab::kOverheadPerValue<ob::MarketOrder>;
constexpr double kLevelCellBytes = sizeof(ob::MarketLevel) + nexus::slab::kOverheadPerValue<ob::MarketLevel>;

// Around every message: one in 16 timed, and with --bbo the best bid and
// offer compared with what was last written for the locate.
struct ReplayHooks : nexus::feed::ItchObserver {
    Latency& lat;
    const Builder& builder;
    OutputFile& bbo;
    std::vector<Top>& last_top;
    std::uint64_t count = 0;  // messages seen
    std::uint64_t t0 = 0;
    std::string line;
    [[gnu::always_inline]] void before(const itch::Message&) {
        if ((++count & 15) == 0) t0 = __rdtsc();
    }
    [[gnu::always_inline]] void sample(const itch::Message& m) {
        if ((count & 15) == 0) [[unlikely]]
            lat.by_type[static_cast<unsigned char>(m.type())].push_back(static_cast<std::uint32_t>(__rdtsc() - t0));
    }
    bool write_bbo(const itch::Message& m) {
        const std::uint16_t loc = m.locate();
        const auto* b = loc != 0 ? builder.books().get(loc) : nullptr;
        if (b == nullptr) return true;
        const Top now = top_of(*b);
        Top& was = last_top[loc];
        if (now == was) return true;
        was = now;
        line.clear();
        append_bbo_line(line, m.timestamp(), builder.symbol(loc), now);
        std::fwrite(line.data(), 1, line.size(), bbo.get());
        return std::ferror(bbo.get()) == 0;  // a lost output: no point going on
    }
};
// The BBO check compiled in or out, not tested per message.
template <bool kBbo>
struct Hooks : ReplayHooks {
    [[gnu::always_inline]] bool after(const itch::Message& m) {
        sample(m);
        if constexpr (kBbo) return write_bbo(m);
        return true;
    }
};

}  // namespace

int finish_itch(const ReplayOptions& opt, const std::atomic<bool>& stop, ReplayRun& run, const ReplayBooks& books,
                Latency& lat, OutputFile& bbo, OutputFile& snapshot, const std::string& book_error, bool capacity) {
    print_summary(opt, run, books, lat);
    int status = kExitOk;
    auto fail = [&](int s, const std::string& what) {
        spdlog::error("{}", what);
        if (status == kExitOk) status = s;
    };
    if (snapshot.enabled()) {
        if (const std::string err = write_snapshot(snapshot, run.name, books, opt.depth); !err.empty())
            fail(kExitUsageOrIo, err);
        else
            spdlog::info("wrote snapshot to {}", opt.snapshot_json);
    }
    if (const std::string err = bbo.close(); !err.empty()) fail(kExitUsageOrIo, err);
    const auto& result = run.read;
    if (result.io_error)
        fail(kExitUsageOrIo, run.name + ": " + result.error);
    else if (capacity)
        fail(kExitCapacity,
             run.name + ": " + book_error + "; the replay stopped there (the summary covers what was applied)");
    else if (result.bad_stream)  // the cause of any error the books saw in its last bytes
        fail(kExitMalformed, run.name + ": malformed input: " + result.error);
    else if (!book_error.empty() || !result.ok)
        fail(kExitMalformed, run.name + ": malformed input: " + (!book_error.empty() ? book_error : result.error));
    else if (result.stopped && stop.load()) {
        spdlog::warn("interrupted: the summary covers what was read");
        if (status == kExitOk) status = kExitInterrupted;
    }
    if (status == kExitOk) spdlog::info("done");
    return status;
}

// --orders and --levels only reserve: the books grow with the data anyway.
// A reservation larger than the machine's memory is a mistake that would
// otherwise be found by the kernel's OOM killer, so it is refused up front.
static std::string reservation_error(const ReplayOptions& opt) {
    const double bytes =
        static_cast<double>(opt.orders) * kOrderCellBytes + static_cast<double>(opt.levels) * kLevelCellBytes;
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return {};
    const double memory = static_cast<double>(pages) * static_cast<double>(page);
    if (bytes <= memory) return {};
    char text[200];
    std::snprintf(text, sizeof text,
                  "--orders %zu and --levels %zu reserve %.1f GiB up front, more than this machine's %.1f GiB",
                  opt.orders, opt.levels, bytes / 1073741824.0, memory / 1073741824.0);
    return std::string(text) + "; the books grow with the data, so a smaller reservation (or none) loses nothing";
}

int run_itch(const ReplayOptions& opt, const std::atomic<bool>& stop) {
    const std::string& file = opt.file;
    ReplayRun run;
    run.name = file == "-" ? std::string("standard input") : file;

    if (const std::string err = reservation_error(opt); !err.empty()) {
        spdlog::error("{}", err);
        return kExitUsageOrIo;
    }
    // Outputs first: a path that cannot be written fails before any work.
    OutputFile bbo, snapshot;
    for (auto [out, path, other] : {std::tuple{&bbo, &opt.bbo_csv, static_cast<OutputFile*>(nullptr)},
                                    std::tuple{&snapshot, &opt.snapshot_json, &bbo}}) {
        if (const std::string err = out->open(*path, file, other); !err.empty()) {
            spdlog::error("{}", err);
            return kExitUsageOrIo;
        }
    }
    if (bbo.enabled()) std::fputs(kBboHeader, bbo.get());
    if (opt.threads > 1) return run_itch_parallel(opt, stop, run, bbo, snapshot);

    ob::NullListener listener;
    std::unique_ptr<Builder> made;
    try {
        made = std::make_unique<Builder>(listener, ob::MarketPoolConfig{.orders = opt.orders, .levels = opt.levels});
    } catch (const std::exception& e) {  // CapacityError or bad_alloc: the reservation cannot be had
        spdlog::error("cannot reserve {} order and {} level cells up front (--orders, --levels): {}", opt.orders,
                      opt.levels, e.what());
        return kExitCapacity;
    }
    Builder& builder = *made;
    if (!opt.symbols.empty()) builder.select_symbols(opt.symbols);
    std::vector<Top> last_top(bbo.enabled() ? 65536 : 0);
    Latency lat;
    lat.ticks_per_ns = measure_tsc_rate();

    spdlog::info("replaying {}", run.name);
    const auto start = std::chrono::steady_clock::now();
    Hooks<false> plain{{{}, lat, builder, bbo, last_top, 0, 0, {}}};
    Hooks<true> with_bbo{{{}, lat, builder, bbo, last_top, 0, 0, {}}};
    ReplayHooks& hooks = bbo.enabled() ? static_cast<ReplayHooks&>(with_bbo) : static_cast<ReplayHooks&>(plain);

    nexus::feed::ReadOptions ropt;
    ropt.stop = &stop;
    ProgressBar bar(opt.progress, start);
    if (bar.enabled())
        ropt.progress = [&](std::uint64_t done, std::uint64_t total) { bar.show(done, total, hooks.count); };

    std::string book_error;
    bool capacity = false;
    const bool nats = nats_input(file);
    NatsPosition where;
    try {
        auto replay = [&](auto& h) {
            auto on_block = [&](std::span<const std::uint8_t> data, std::uint64_t offset) {
                return builder.apply_block(data, offset, h);
            };
            if (nats) return read_nats(opt, on_block, ropt, where);
            return nexus::feed::read_itch_blocks(file, on_block, ropt);
        };
        run.read = bbo.enabled() ? replay(with_bbo) : replay(plain);
        if (!builder.error().empty()) {
            book_error = builder.error();
            capacity = builder.error_kind() == nexus::feed::ItchError::Capacity;
            if (nats) book_error += " (in the batch at stream sequence " + std::to_string(where.last_sequence) + ")";
        }
    } catch (const std::bad_alloc&) {
        // The books could not grow. What was applied stays readable; the
        // replay itself cannot go on.
        capacity = true;
        book_error = "out of memory after " + std::to_string(hooks.count) + " messages";
        run.read.ok = true;
        run.read.messages = hooks.count;
    }
    run.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.clear();
    run.peak_orders = builder.stats().peak_live_orders;
    run.peak_levels = builder.stats().peak_levels;
    if (nats && where.batches != 0)
        spdlog::info("read {} batches, stream sequences {} to {}{}", where.batches, where.first_sequence,
                     where.last_sequence, where.end_of_session ? ", up to the end of the session" : "");
    return finish_itch(opt, stop, run, ReplayBooks(builder), lat, bbo, snapshot, book_error, capacity);
}

}  // namespace nexus::apps

// nexus-replay, ITCH 5.0 mode: the replay loop, its outputs and its summary.
#include "replay_itch.hpp"

#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "output_file.hpp"

namespace nexus::apps {
namespace {

namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;

double price_dollars(ob::Price p) { return static_cast<double>(p) / 10000.0; }

// Samples of per-message cost, in TSC ticks, by message type.
struct Latency {
    std::vector<std::uint32_t> by_type[256];
    double ticks_per_ns = 1;
};

double measure_tsc_rate() {
    const auto c0 = std::chrono::steady_clock::now();
    const auto t0 = __rdtsc();
    while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(50)) {
    }
    return static_cast<double>(__rdtsc() - t0) /
           std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - c0).count();
}

// A JSON string's contents: quotes, backslashes and control bytes escaped
// (symbols come from the input and may hold anything).
std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

// The last best bid/offer written per locate, for --bbo.
struct Top {
    ob::Price bid = 0, ask = 0;
    ob::Qty bid_qty = 0, ask_qty = 0;
    friend bool operator==(const Top&, const Top&) = default;
};

}  // namespace

int run_itch(const ReplayOptions& opt, const std::atomic<bool>& stop) {
    const std::string& file = opt.file;
    const std::string name = file == "-" ? std::string("standard input") : file;

    // Outputs first: a path that cannot be written fails before any work.
    OutputFile bbo, snapshot;
    for (auto [out, path] : {std::pair{&bbo, &opt.bbo_csv}, std::pair{&snapshot, &opt.snapshot_json}}) {
        if (const std::string err = out->open(*path, file); !err.empty()) {
            spdlog::error("{}", err);
            return kExitUsageOrIo;
        }
    }
    if (bbo.enabled()) std::fputs("timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size\n", bbo.get());

    ob::NullListener listener;
    nexus::feed::ItchBookBuilder<> builder(listener, ob::MarketPoolConfig{.orders = opt.orders, .levels = opt.levels});
    std::vector<std::uint64_t> per_locate(65536, 0);
    std::vector<std::uint8_t> selected(65536, opt.symbols.empty() ? 1 : 0);
    std::uint64_t filtered = 0;
    std::vector<Top> last_top(bbo.enabled() ? 65536 : 0);

    Latency lat;
    lat.ticks_per_ns = measure_tsc_rate();

    const bool tty = opt.progress && ::isatty(STDERR_FILENO);
    spdlog::info("replaying {}", name);
    const auto start = std::chrono::steady_clock::now();
    auto last_progress = start;
    std::string book_error;
    bool capacity = false;
    std::uint64_t count = 0;

    nexus::feed::ReadOptions ropt;
    ropt.stop = &stop;
    if (tty) {
        ropt.progress = [&](std::uint64_t done, std::uint64_t total) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_progress < std::chrono::milliseconds(200)) return;
            last_progress = now;
            const double secs = std::chrono::duration<double>(now - start).count();
            const double rate = static_cast<double>(count) / secs / 1e6;
            if (total == 0) {  // a pipe or FIFO: no size to measure against
                std::fprintf(stderr, "\r%.1f MB read  %.1f M msg/s ", static_cast<double>(done) / 1e6, rate);
            } else {
                const double frac = static_cast<double>(done) / static_cast<double>(total);
                const int width = 40, fill = static_cast<int>(frac * width);
                std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f M msg/s ", fill, "########################################",
                             width - fill, "", frac * 100, rate);
            }
            std::fflush(stderr);
        };
    }

    nexus::feed::ReadResult result;
    try {
        result = nexus::feed::read_itch(file, [&](const itch::Message& m) {
            ++count;
            const std::uint16_t loc = m.locate();
            ++per_locate[loc];
            if (m.type() == 'R' && !opt.symbols.empty())
                selected[loc] = opt.symbols.count(std::string(itch::StockDirectory(m).stock())) ? 1 : 0;
            if (loc != 0 && !selected[loc] && m.type() != 'R') {
                ++filtered;
                return true;
            }
            const bool sample = (count & 15) == 0;
            const std::uint64_t t0 = sample ? __rdtsc() : 0;
            const bool ok = builder.apply(m);
            if (sample) lat.by_type[static_cast<unsigned char>(m.type())].push_back(static_cast<std::uint32_t>(__rdtsc() - t0));
            if (!ok) {
                book_error = builder.error();
                capacity = builder.error_kind() == nexus::feed::ItchError::Capacity;
                return false;
            }
            if (bbo.enabled() && loc != 0) {
                if (const auto* b = builder.books().get(loc)) {
                    const auto bid = b->best(ob::Side::Buy), ask = b->best(ob::Side::Sell);
                    const Top now{bid ? bid->price : 0, ask ? ask->price : 0, bid ? bid->qty : 0, ask ? ask->qty : 0};
                    if (Top& was = last_top[loc]; !(now == was)) {
                        was = now;
                        const std::string sym(builder.symbol(loc));
                        std::fprintf(bbo.get(), "%llu,%s,%.4f,%lld,%.4f,%lld\n", static_cast<unsigned long long>(m.timestamp()),
                                     sym.c_str(), price_dollars(now.bid), static_cast<long long>(now.bid_qty),
                                     price_dollars(now.ask), static_cast<long long>(now.ask_qty));
                        if (std::ferror(bbo.get())) return false;  // the output is lost: no point going on
                    }
                }
            }
            return true;
        }, ropt);
    } catch (const std::bad_alloc&) {
        // The books could not grow. What was applied stays consistent enough
        // to summarise; the replay itself cannot go on.
        capacity = true;
        book_error = "out of memory after " + std::to_string(count) + " messages";
        result.ok = true;
        result.messages = count;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (tty) std::fputs("\r\033[K", stderr);

    // ---- summary -----------------------------------------------------------
    const auto& st = builder.stats();
    std::printf("nexus-replay: %s%s\n", name.c_str(), result.gzip ? " (gzip)" : "");
    std::printf("  messages          %llu in %.3f s: %.2f M msg/s, %.1f ns/message (decode + book)\n",
                static_cast<unsigned long long>(result.messages), secs, static_cast<double>(result.messages) / secs / 1e6,
                secs * 1e9 / static_cast<double>(std::max<std::uint64_t>(1, result.messages)));
    std::printf("  bytes             %llu%s\n", static_cast<unsigned long long>(result.bytes), result.gzip ? " (decompressed)" : "");
    std::printf("  by type          ");
    for (char t : itch::kKnownTypes) {
        const auto n = st.by_type[static_cast<unsigned char>(t)];
        if (n) std::printf(" %c=%llu", t, static_cast<unsigned long long>(n));
    }
    std::printf("\n  unknown types     %llu skipped\n", static_cast<unsigned long long>(result.unknown));
    std::printf("  anomalies         %llu", static_cast<unsigned long long>(st.total_anomalies()));
    for (char t : std::string("AFECXDU")) {
        const auto n = st.anomalies[static_cast<unsigned char>(t)];
        if (n) std::printf(" %c=%llu", t, static_cast<unsigned long long>(n));
    }
    std::printf(" (unknown references or sizes); %llu messages for unannounced locates\n",
                static_cast<unsigned long long>(st.unannounced_locates));
    if (!opt.symbols.empty()) std::printf("  filtered          %llu messages of other symbols\n", static_cast<unsigned long long>(filtered));
    std::size_t with_orders = 0;
    builder.books().for_each([&](auto& b) { with_orders += b.order_count() > 0; });
    std::printf("  instruments       %zu in the directory, %zu books with resting orders at the end\n",
                builder.directory_size(), with_orders);
    std::printf("  live orders       %zu at the end, peak %llu; price levels: %zu at the end, peak %llu\n",
                builder.live_orders(), static_cast<unsigned long long>(st.peak_live_orders), builder.live_levels(),
                static_cast<unsigned long long>(st.peak_levels));
    std::printf("  trades off book   %llu (P, Q); broken %llu\n", static_cast<unsigned long long>(st.trades_off_book),
                static_cast<unsigned long long>(st.broken_trades));
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("  peak memory       %.1f MiB resident\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
    std::printf("  latency by type   (1 message in 16 timed; ns p50 / p99 / p99.9)\n");
    for (char t : itch::kKnownTypes) {
        auto& v = lat.by_type[static_cast<unsigned char>(t)];
        if (v.size() < 10) continue;
        std::sort(v.begin(), v.end());
        auto q = [&](double f) {
            return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(f * static_cast<double>(v.size())))]) /
                   lat.ticks_per_ns;
        };
        std::printf("    %c  %9zu samples  %7.0f / %7.0f / %7.0f\n", t, v.size(), q(0.5), q(0.99), q(0.999));
    }
    // Busiest symbols and their final top of book.
    std::vector<std::uint16_t> locs;
    for (std::size_t l = 1; l < per_locate.size(); ++l)
        if (per_locate[l] && builder.books().get(static_cast<std::uint16_t>(l))) locs.push_back(static_cast<std::uint16_t>(l));
    std::sort(locs.begin(), locs.end(), [&](auto a, auto b) { return per_locate[a] > per_locate[b]; });
    if (locs.size() > opt.top) locs.resize(opt.top);
    std::printf("  busiest symbols   (messages; final best bid / best offer, size)\n");
    for (auto l : locs) {
        const auto* b = builder.books().get(l);
        const auto bid = b->best(ob::Side::Buy), ask = b->best(ob::Side::Sell);
        std::printf("    %-8s %9llu  %10.4f x %-7lld  %10.4f x %-7lld  (%zu orders)\n", std::string(builder.symbol(l)).c_str(),
                    static_cast<unsigned long long>(per_locate[l]), bid ? price_dollars(bid->price) : 0.0,
                    static_cast<long long>(bid ? bid->qty : 0), ask ? price_dollars(ask->price) : 0.0,
                    static_cast<long long>(ask ? ask->qty : 0), b->order_count());
    }
    std::fflush(stdout);

    int status = kExitOk;
    auto fail = [&](int s, const std::string& what) {
        spdlog::error("{}", what);
        if (status == kExitOk) status = s;
    };
    if (snapshot.enabled()) {
        std::FILE* js = snapshot.get();
        std::fprintf(js, "{\n  \"file\": \"%s\",\n  \"books\": [", json_escape(name).c_str());
        bool first = true;
        for (std::size_t l = 1; l < per_locate.size(); ++l) {
            const auto* b = builder.books().get(static_cast<std::uint16_t>(l));
            if (!b || b->order_count() == 0) continue;
            std::fprintf(js, "%s    {\"locate\": %zu, \"symbol\": \"%s\", \"orders\": %zu", first ? "\n" : ",\n", l,
                         json_escape(builder.symbol(static_cast<std::uint16_t>(l))).c_str(), b->order_count());
            for (auto side : {ob::Side::Buy, ob::Side::Sell}) {
                std::fputs(side == ob::Side::Buy ? ", \"bids\": [" : ", \"asks\": [", js);
                const auto d = b->depth(side, opt.depth);
                for (std::size_t i = 0; i < d.size(); ++i)
                    std::fprintf(js, "%s{\"price\": %lld, \"size\": %lld, \"orders\": %u}", i ? ", " : "",
                                 static_cast<long long>(d[i].price), static_cast<long long>(d[i].qty), d[i].count);
                std::fputs("]", js);
            }
            std::fputs("}", js);
            first = false;
        }
        std::fputs("\n  ]\n}\n", js);
        if (const std::string err = snapshot.close(); !err.empty()) fail(kExitUsageOrIo, err);
        else spdlog::info("wrote snapshot to {}", opt.snapshot_json);
    }
    if (const std::string err = bbo.close(); !err.empty()) fail(kExitUsageOrIo, err);

    if (result.io_error) fail(kExitUsageOrIo, name + ": " + result.error);
    else if (capacity)
        fail(kExitCapacity, name + ": " + book_error + "; the replay stopped there (the summary covers what was applied)");
    else if (!book_error.empty() || !result.ok)
        fail(kExitMalformed, name + ": malformed input: " + (!book_error.empty() ? book_error : result.error));
    else if (result.stopped && stop.load()) {
        spdlog::warn("interrupted: the summary covers what was read");
        if (status == kExitOk) status = kExitInterrupted;
    }
    if (status == kExitOk) spdlog::info("done");
    return status;
}

}  // namespace nexus::apps

// nexus-replay's ITCH outputs (see replay_report.hpp).
#include "replay_report.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "snapshot_json.hpp"

namespace nexus::apps {
namespace {

namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;

double price_dollars(ob::Price p) { return static_cast<double>(p) / 10000.0; }

}  // namespace

void Latency::merge(const Latency& other) {
    for (std::size_t t = 0; t < 256; ++t)
        by_type[t].insert(by_type[t].end(), other.by_type[t].begin(), other.by_type[t].end());
}

double measure_tsc_rate() {
    const auto c0 = std::chrono::steady_clock::now();
    const auto t0 = __rdtsc();
    while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(50)) {}
    return static_cast<double>(__rdtsc() - t0) /
           std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - c0).count();
}

Top top_of(const Builder::Books::BookType& b) {
    const auto bid = b.best(ob::Side::Buy), ask = b.best(ob::Side::Sell);
    return Top{bid ? bid->price : 0, ask ? ask->price : 0, bid ? bid->qty : 0, ask ? ask->qty : 0};
}

void append_bbo_line(std::string& out, std::uint64_t timestamp, std::string_view symbol, const Top& t) {
    char buf[160];
    const int n = std::snprintf(buf, sizeof buf, "%llu,%.*s,%.4f,%llu,%.4f,%llu\n",
                                static_cast<unsigned long long>(timestamp), static_cast<int>(symbol.size()),
                                symbol.data(), price_dollars(t.bid), static_cast<unsigned long long>(t.bid_qty),
                                price_dollars(t.ask), static_cast<unsigned long long>(t.ask_qty));
    out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
}

void print_summary(const ReplayOptions& opt, const ReplayRun& run, const ReplayBooks& books, Latency& lat) {
    const auto& result = run.read;
    // Counts summed over the builders: each counts the messages of its locates.
    nexus::feed::ItchStats st;
    std::size_t directory = 0, with_orders = 0, live_orders = 0, live_levels = 0;
    for (const Builder* b : books.all()) {
        const auto& s = b->stats();
        for (std::size_t t = 0; t < 256; ++t) {
            st.by_type[t] += s.by_type[t];
            st.anomalies[t] += s.anomalies[t];
        }
        st.unannounced_locates += s.unannounced_locates;
        st.trades_off_book += s.trades_off_book;
        st.broken_trades += s.broken_trades;
        st.filtered += s.filtered;
        directory += b->directory_size();
        b->books().for_each([&](const auto& book) { with_orders += book.order_count() > 0; });
        live_orders += b->live_orders();
        live_levels += b->live_levels();
    }
    const double secs = run.secs;
    std::printf("nexus-replay: %s%s\n", run.name.c_str(), result.gzip ? " (gzip)" : "");
    std::printf("  messages          %llu in %.3f s: %.2f M msg/s, %.1f ns/message (decode + book)%s\n",
                static_cast<unsigned long long>(result.messages), secs,
                static_cast<double>(result.messages) / secs / 1e6,
                secs * 1e9 / static_cast<double>(std::max<std::uint64_t>(1, result.messages)),
                run.threads > 1 ? (", " + std::to_string(run.threads) + " threads").c_str() : "");
    std::printf("  bytes             %llu%s\n", static_cast<unsigned long long>(result.bytes),
                result.gzip ? " (decompressed)" : "");
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
    if (!opt.symbols.empty())
        std::printf("  filtered          %llu messages of other symbols\n",
                    static_cast<unsigned long long>(st.filtered));
    std::printf("  instruments       %zu in the directory, %zu books with resting orders at the end\n", directory,
                with_orders);
    std::printf("  live orders       %zu at the end, peak %llu; price levels: %zu at the end, peak %llu\n", live_orders,
                static_cast<unsigned long long>(run.peak_orders), live_levels,
                static_cast<unsigned long long>(run.peak_levels));
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
            return static_cast<double>(
                       v[std::min(v.size() - 1, static_cast<std::size_t>(f * static_cast<double>(v.size())))]) /
                   lat.ticks_per_ns;
        };
        std::printf("    %c  %9zu samples  %7.0f / %7.0f / %7.0f\n", t, v.size(), q(0.5), q(0.99), q(0.999));
    }
    // Busiest symbols and their final top of book (ties in locate order).
    std::vector<std::uint16_t> locs;
    for (std::size_t l = 1; l < 65536; ++l) {
        const auto loc = static_cast<std::uint16_t>(l);
        if (books.of(loc).messages_for(loc) && books.of(loc).books().get(loc)) locs.push_back(loc);
    }
    auto count = [&](std::uint16_t l) { return books.of(l).messages_for(l); };
    std::stable_sort(locs.begin(), locs.end(), [&](auto a, auto b) { return count(a) > count(b); });
    if (locs.size() > opt.top) locs.resize(opt.top);
    std::printf("  busiest symbols   (messages; final best bid / best offer, size)\n");
    for (auto l : locs) {
        const Builder& owner = books.of(l);
        const auto* b = owner.books().get(l);
        const Top t = top_of(*b);
        std::printf("    %-8s %9llu  %10.4f x %-7llu  %10.4f x %-7llu  (%zu orders)\n",
                    std::string(owner.symbol(l)).c_str(), static_cast<unsigned long long>(count(l)),
                    price_dollars(t.bid), static_cast<unsigned long long>(t.bid_qty), price_dollars(t.ask),
                    static_cast<unsigned long long>(t.ask_qty), b->order_count());
    }
    std::fflush(stdout);
}

std::string write_snapshot(OutputFile& out, const std::string& name, const ReplayBooks& books, std::size_t depth) {
    SnapshotJson js(name);
    for (std::size_t l = 1; l < 65536; ++l) {
        const auto loc = static_cast<std::uint16_t>(l);
        const Builder& owner = books.of(loc);
        const auto* b = owner.books().get(loc);
        if (!b || b->order_count() == 0) continue;
        js.book(loc, owner.symbol(loc), b->order_count(), b->depth(ob::Side::Buy, depth),
                b->depth(ob::Side::Sell, depth));
    }
    const std::string text = std::move(js).finish();
    std::fwrite(text.data(), 1, text.size(), out.get());
    return out.close();
}

ProgressBar::ProgressBar(bool wanted, std::chrono::steady_clock::time_point start)
    : enabled_(wanted && ::isatty(STDERR_FILENO)), start_(start), last_(start) {}

void ProgressBar::show(std::uint64_t done, std::uint64_t total, std::uint64_t messages) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = static_cast<double>(messages) / secs / 1e6;
    if (total == 0) {  // a pipe or FIFO: no size to measure against
        std::fprintf(stderr, "\r%.1f MB read  %.1f M msg/s ", static_cast<double>(done) / 1e6, rate);
    } else {
        const double frac = static_cast<double>(done) / static_cast<double>(total);
        const int width = 40, fill = static_cast<int>(frac * width);
        std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f M msg/s ", fill, "########################################",
                     width - fill, "", frac * 100, rate);
    }
    std::fflush(stderr);
}

void ProgressBar::clear() {
    if (enabled_) std::fputs("\r\033[K", stderr);
}

}  // namespace nexus::apps

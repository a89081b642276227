// nexus-replay: replays a NASDAQ ITCH 5.0 file (plain or gzipped) through the
// order books and reports what happened. Run with --help for the options.
#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "replay_lobster.hpp"

namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Options {
    std::string file;
    std::set<std::string> symbols;  // empty: all
    std::size_t depth = 5;
    std::size_t top = 10;
    std::string bbo_csv;
    std::string snapshot_json;
    std::string lobster_book;  // LOBSTER orderbook file (default: derived from the message file's name)
    std::vector<std::string> itch_only;  // options given that only an ITCH replay takes
    std::size_t orders = std::size_t{4} << 20;
    std::size_t levels = std::size_t{1} << 20;
    bool progress = true;
};

void usage(std::FILE* out) {
    std::fprintf(out,
        "usage: nexus-replay [options] [FILE]\n"
        "Replays a NASDAQ TotalView-ITCH 5.0 file (length-prefixed messages, plain or\n"
        "gzipped; detected from the content) through nexus order books, one per stock\n"
        "locate, and prints a summary. With no FILE it replays the bundled synthetic day\n"
        "(" NEXUS_DEFAULT_DAY ").\n\n"
        "  --symbols A,B,...  only build books for these symbols (others are counted, not applied)\n"
        "  --depth N          levels per side in the snapshot and summary (default 5)\n"
        "  --top N            busiest symbols shown in the summary (default 10)\n"
        "  --bbo FILE         write every change of best bid/offer as CSV:\n"
        "                     timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size\n"
        "  --snapshot FILE    write the final books (top --depth levels) as JSON\n"
        "  --orders N         order slab capacity (default 4194304)\n"
        "  --levels N         price-level slab capacity (default 1048576)\n"
        "  --lobster-book F   the LOBSTER orderbook file to verify FILE against: FILE is then a\n"
        "                     LOBSTER message file, as is a FILE ending in .csv (see LOBSTER below)\n"
        "  --quiet            no progress bar\n"
        "  --help             this text\n\n"
        "Exit status: 0 done; 1 usage or I/O error; 2 malformed input (after the summary\n"
        "of what was read, with the byte offset or line); 3 LOBSTER verification found true\n"
        "mismatches; 130 interrupted (Ctrl-C; summary printed).\n"
        "Order-flow anomalies (unknown references) are counted and reported, not fatal.\n\n");
    nexus::replay::lobster_usage(out);
}

std::set<std::string> split(const std::string& s) {
    std::set<std::string> out;
    std::size_t p = 0;
    while (p <= s.size()) {
        const std::size_t q = s.find(',', p);
        std::string item = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (!item.empty()) out.insert(item);
        if (q == std::string::npos) break;
        p = q + 1;
    }
    return out;
}

// A LOBSTER message file to verify: named as one, or given an orderbook file.
bool lobster_input(const Options& o) { return !o.lobster_book.empty() || nexus::replay::lobster_file_name(o.file); }

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> std::size_t {
            const std::string v = next();
            char* end = nullptr;
            const auto n = std::strtoull(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0') throw std::invalid_argument(a + ": not a number: " + v);
            return n;
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        }
        if (a == "--symbols" || a == "--depth" || a == "--top" || a == "--bbo" || a == "--snapshot" || a == "--orders" ||
            a == "--levels")
            o.itch_only.push_back(a);
        if (a == "--symbols") o.symbols = split(next());
        else if (a == "--depth") o.depth = number();
        else if (a == "--top") o.top = number();
        else if (a == "--bbo") o.bbo_csv = next();
        else if (a == "--snapshot") o.snapshot_json = next();
        else if (a == "--orders") o.orders = number();
        else if (a == "--levels") o.levels = number();
        else if (a == "--quiet") o.progress = false;
        else if (a == "--lobster-book") o.lobster_book = next();
        else if (!a.empty() && a[0] == '-') throw std::invalid_argument("unknown option " + a);
        else if (o.file.empty()) o.file = a;
        else throw std::invalid_argument("more than one FILE given");
    }
    if (o.file.empty() && !o.lobster_book.empty()) throw std::invalid_argument("--lobster-book needs the MESSAGE.csv FILE to verify");
    if (o.file.empty()) o.file = NEXUS_DEFAULT_DAY;
    if (lobster_input(o) && !o.itch_only.empty())
        throw std::invalid_argument(o.itch_only.front() + " is an option of the ITCH replay, not of LOBSTER verification" +
                                    (o.itch_only.front() == "--levels" ? " (the levels are read from the orderbook rows)" : ""));
    return true;
}

double price_dollars(ob::Price p) { return static_cast<double>(p) / 10000.0; }

// Samples of per-message cost, in TSC ticks, by message type.
struct Latency {
    std::vector<std::uint32_t> by_type[256];
    double ticks_per_ns = 1;
};

}  // namespace

int main(int argc, char** argv) {
    if (nexus::replay::lobster_export_requested(argc, argv)) return nexus::replay::lobster_export_main(argc, argv);
    Options opt;
    try {
        parse(argc, argv, opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-replay: %s\n", e.what());
        usage(stderr);
        return 1;
    }
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    if (lobster_input(opt)) return nexus::replay::lobster_verify_main(opt.file, opt.lobster_book);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    ob::Pools pools(ob::PoolConfig{.orders = opt.orders, .levels = opt.levels});
    ob::NullListener listener;
    nexus::feed::ItchBookBuilder<> builder(pools, listener);
    std::vector<std::uint64_t> per_locate(65536, 0);
    std::vector<std::uint8_t> selected(65536, opt.symbols.empty() ? 1 : 0);
    std::uint64_t filtered = 0, peak_levels = 0;
    std::FILE* bbo = nullptr;
    if (!opt.bbo_csv.empty()) {
        bbo = std::fopen(opt.bbo_csv.c_str(), "w");
        if (!bbo) {
            spdlog::error("cannot write {}: {}", opt.bbo_csv, std::strerror(errno));
            return 1;
        }
        std::fputs("timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size\n", bbo);
    }
    struct Top {
        ob::Price bid = 0, ask = 0;
        ob::Qty bid_qty = 0, ask_qty = 0;
    };
    std::vector<Top> last_top(bbo ? 65536 : 0);

    // TSC rate for the latency samples.
    Latency lat;
    {
        const auto c0 = std::chrono::steady_clock::now();
        const auto t0 = __rdtsc();
        while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(50)) {
        }
        lat.ticks_per_ns = static_cast<double>(__rdtsc() - t0) /
                           std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - c0).count();
    }

    const bool tty = opt.progress && ::isatty(STDERR_FILENO);
    spdlog::info("replaying {}", opt.file);
    const auto start = std::chrono::steady_clock::now();
    auto last_progress = start;
    std::string format_error;
    std::uint64_t count = 0;

    nexus::feed::ReadOptions ropt;
    ropt.stop = &g_stop;
    if (tty) {
        ropt.progress = [&](std::uint64_t done, std::uint64_t total) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_progress < std::chrono::milliseconds(200) || total == 0) return;
            last_progress = now;
            const double frac = static_cast<double>(done) / static_cast<double>(total);
            const int width = 40, fill = static_cast<int>(frac * width);
            const double secs = std::chrono::duration<double>(now - start).count();
            std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f M msg/s ", fill, "########################################",
                         width - fill, "", frac * 100, static_cast<double>(count) / secs / 1e6);
            std::fflush(stderr);
        };
    }

    const auto result = nexus::feed::read_itch(opt.file, [&](const itch::Message& m) {
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
            format_error = builder.error();
            return false;
        }
        if (pools.levels.len() > peak_levels) peak_levels = pools.levels.len();
        if (bbo && loc != 0) {
            if (const auto* b = builder.books().get(loc)) {
                const auto bid = b->best(ob::Side::Buy), ask = b->best(ob::Side::Sell);
                Top now{bid ? bid->price : 0, ask ? ask->price : 0, bid ? bid->qty : 0, ask ? ask->qty : 0};
                Top& was = last_top[loc];
                if (now.bid != was.bid || now.ask != was.ask || now.bid_qty != was.bid_qty || now.ask_qty != was.ask_qty) {
                    was = now;
                    const std::string sym(builder.symbol(loc));
                    std::fprintf(bbo, "%llu,%s,%.4f,%lld,%.4f,%lld\n", static_cast<unsigned long long>(m.timestamp()),
                                 sym.c_str(), price_dollars(now.bid), static_cast<long long>(now.bid_qty),
                                 price_dollars(now.ask), static_cast<long long>(now.ask_qty));
                }
            }
        }
        return true;
    }, ropt);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (tty) std::fputs("\r\033[K", stderr);
    if (bbo) std::fclose(bbo);

    // ---- summary -----------------------------------------------------------
    const auto& st = builder.stats();
    std::printf("nexus-replay: %s%s\n", opt.file.c_str(), result.gzip ? " (gzip)" : "");
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
                pools.orders.len(), static_cast<unsigned long long>(st.peak_live_orders), pools.levels.len(),
                static_cast<unsigned long long>(peak_levels));
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
        auto q = [&](double f) { return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(f * static_cast<double>(v.size())))]) / lat.ticks_per_ns; };
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
    if (!opt.snapshot_json.empty()) {
        std::ofstream js(opt.snapshot_json);
        js << "{\n  \"file\": \"" << opt.file << "\",\n  \"books\": [";
        bool first = true;
        for (std::size_t l = 1; l < per_locate.size(); ++l) {
            const auto* b = builder.books().get(static_cast<std::uint16_t>(l));
            if (!b || b->order_count() == 0) continue;
            js << (first ? "\n" : ",\n") << "    {\"locate\": " << l << ", \"symbol\": \"" << builder.symbol(static_cast<std::uint16_t>(l))
               << "\", \"orders\": " << b->order_count();
            for (auto side : {ob::Side::Buy, ob::Side::Sell}) {
                js << (side == ob::Side::Buy ? ", \"bids\": [" : ", \"asks\": [");
                const auto d = b->depth(side, opt.depth);
                for (std::size_t i = 0; i < d.size(); ++i)
                    js << (i ? ", " : "") << "{\"price\": " << d[i].price << ", \"size\": " << d[i].qty << ", \"orders\": " << d[i].count << "}";
                js << "]";
            }
            js << "}";
            first = false;
        }
        js << "\n  ]\n}\n";
        spdlog::info("wrote snapshot to {}", opt.snapshot_json);
    }

    if (result.io_error) {
        spdlog::error("{}", result.error);
        return 1;
    }
    if (!format_error.empty() || !result.ok) {
        spdlog::error("malformed input: {}", !format_error.empty() ? format_error : result.error);
        return 2;
    }
    if (result.stopped && g_stop.load()) {
        spdlog::warn("interrupted: the summary covers what was read");
        return 130;
    }
    spdlog::info("done");
    return 0;
}

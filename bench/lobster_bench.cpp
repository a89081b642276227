// nexus-bench-lobster: the rates of the LOBSTER exporter and verifier.
//
//   nexus-bench-lobster [--quick] [--out=FILE] [--dir=DIR] [--rounds=N]
//   nexus-bench-lobster --verify-only=MESSAGE.csv,ORDERBOOK.csv
//   nexus-bench-lobster --export-only=DAY.itch
//
// Two synthetic days (nexus-synth's generator) are written to DIR: a market
// day of 3000 symbols (its busiest symbol carries about 15% of the order
// messages) and a day of one symbol (every message is that symbol's).
// Export: each day's ITCH file, already in the page cache, is read and its
// busiest symbol exported at 10 levels, rows formatted and handed to a sink
// that only counts them (the exporter's own cost) or written to files in
// DIR; the rate is ITCH messages of input per second. Verification: the
// exported 10-level files are read back from DIR (page cache) and verified,
// timing the first 10% of the rows, the whole file and the last 10%. Rounds
// alternate the scenarios; each figure is a median over rounds.
// --verify-only verifies one file pair once, --export-only exports a day's
// busiest symbol once to the counting sink: for callgrind (bench/lobster_callgrind.sh).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nexus/feed/lobster.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/feed/synth.hpp>

namespace lob = nexus::feed::lobster;
namespace feed = nexus::feed;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// CPU seconds of this thread: on a machine shared with other work, the rate
// the code would have had alone (wall time is reported beside it).
double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The 1-minute load average (other work on the machine while this runs).
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one;
    in >> one;
    return one.empty() ? "?" : one;
}

// Resident memory now, in KiB (VmRSS).
long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

// Counts the bytes it is given.
struct CountingSink : lob::ExportSink {
    std::uint64_t bytes = 0;
    bool write(std::string_view, lob::FileKind, std::string_view b) override {
        bytes += b.size();
        return true;
    }
};

struct ExportRun {
    double seconds = 0, cpu = 0;
    std::uint64_t messages = 0, rows = 0, bytes = 0;
};

ExportRun export_day(const std::string& itch, const std::string& symbol, std::size_t levels, lob::ExportSink& sink) {
    lob::ExportConfig cfg;
    cfg.levels = levels;
    cfg.from_ns = 34'200 * lob::kNanosPerSecond;
    cfg.to_ns = 57'600 * lob::kNanosPerSecond;
    cfg.symbols = {symbol};
    cfg.pools = {.orders = std::size_t{1} << 20, .levels = std::size_t{1} << 16};
    lob::Exporter ex(cfg, sink);  // (its pools are allocated before the clock starts)
    const auto t0 = Clock::now();
    const double c0 = cpu_now();
    const auto r = feed::read_itch(itch, [&](const feed::itch::Message& m) { return ex.apply(m); });
    ex.finish();
    ExportRun run;
    run.seconds = since(t0);
    run.cpu = cpu_now() - c0;
    run.messages = ex.stats().messages;
    run.rows = ex.stats().rows;
    if (!r.ok || !ex.error().empty()) {
        std::fprintf(stderr, "export failed: %s%s\n", r.error.c_str(), ex.error().c_str());
        std::exit(1);
    }
    return run;
}

struct VerifyRun {
    double first = 0, whole = 0, last = 0;  // seconds for the first 10%, all, the last 10% of the rows
    double cpu_first = 0, cpu_whole = 0, cpu_last = 0;
    std::uint64_t rows = 0, mismatches = 0, peak_known = 0;
    long rss_first = 0, rss_end = 0;
};

VerifyRun verify_pair(const std::string& messages, const std::string& books, std::uint64_t expected_rows) {
    VerifyRun run;
    const std::uint64_t tenth = expected_rows / 10, last_from = expected_rows - tenth;
    const auto t0 = Clock::now();
    const double c0 = cpu_now();
    double c_last = c0;
    lob::MessageReader mr(messages);
    lob::OrderbookReader br(books);
    lob::Message m;
    lob::BookRow row;
    std::optional<lob::Verifier> v;
    Clock::time_point t_last = t0;
    while (mr.next(m) && br.next(row)) {
        if (!v) v.emplace(br.levels());
        v->check(m, row);
        const std::uint64_t n = v->stats().rows;
        if (n == tenth) {
            run.first = since(t0);
            run.cpu_first = cpu_now() - c0;
            run.rss_first = rss_kib();
        }
        if (n == last_from) {
            t_last = Clock::now();
            c_last = cpu_now();
        }
    }
    run.whole = since(t0);
    run.last = since(t_last);
    run.cpu_whole = cpu_now() - c0;
    run.cpu_last = cpu_now() - c_last;
    run.rss_end = rss_kib();
    if (!mr.error().empty() || !br.error().empty() || !v) {
        std::fprintf(stderr, "verify failed: %s%s\n", mr.error().c_str(), br.error().c_str());
        std::exit(1);
    }
    run.rows = v->stats().rows;
    run.mismatches = v->stats().true_mismatches;
    run.peak_known = v->stats().peak_known_orders;
    return run;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::string out_path, dir = (fs::temp_directory_path() / "nexus-bench-lobster").string(), only, export_only;
    int rounds = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick")
            quick = true;
        else if (a.rfind("--out=", 0) == 0)
            out_path = a.substr(6);
        else if (a.rfind("--dir=", 0) == 0)
            dir = a.substr(6);
        else if (a.rfind("--rounds=", 0) == 0)
            rounds = std::max(1, std::atoi(a.c_str() + 9));
        else if (a.rfind("--verify-only=", 0) == 0)
            only = a.substr(14);
        else if (a.rfind("--export-only=", 0) == 0)
            export_only = a.substr(14);
        else {
            std::fprintf(stderr,
                         "usage: %s [--quick] [--out=FILE] [--dir=DIR] [--rounds=N] | --verify-only=M.csv,OB.csv | "
                         "--export-only=DAY.itch\n",
                         argv[0]);
            return 2;
        }
    }
    if (!only.empty()) {
        const auto comma = only.find(',');
        const auto t0 = Clock::now();
        const auto r = lob::verify_files(only.substr(0, comma), only.substr(comma + 1));
        std::printf("%s: %llu rows, %llu true mismatches, %.3f s\n", r.ok ? "ok" : r.error.c_str(),
                    static_cast<unsigned long long>(r.stats.rows),
                    static_cast<unsigned long long>(r.stats.true_mismatches), since(t0));
        return r.ok ? 0 : 1;
    }
    if (!export_only.empty()) {
        CountingSink counting;
        const auto run = export_day(export_only, "AAAA", 10, counting);
        std::printf("ok: %llu messages, %llu rows, %.3f s\n", static_cast<unsigned long long>(run.messages),
                    static_cast<unsigned long long>(run.rows), run.seconds);
        return 0;
    }
    if (quick) rounds = 1;
    std::FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
    if (!out) {
        std::perror(out_path.c_str());
        return 1;
    }
    fs::create_directories(dir);
    const std::string load_before = load_average();

    struct DaySpec {
        const char* name;
        std::uint32_t symbols;
        std::uint64_t messages;
    };
    const DaySpec days[] = {{"market", 3000, quick ? 200'000u : 10'000'000u},
                            {"one symbol", 1, quick ? 50'000u : 2'000'000u}};
    const std::size_t levels = 10;
    const std::string symbol = "AAAA";  // the busiest (rank 1 of the Zipf law)
    std::vector<std::string> paths;
    for (const auto& d : days) {
        const std::string path = dir + "/" + (d.symbols == 1 ? "one" : "market") + ".itch";
        feed::SynthConfig cfg;
        cfg.symbols = d.symbols;
        cfg.order_messages = d.messages;
        feed::ItchWriter w(path, false);
        feed::generate_day(cfg, w);
        w.close();
        feed::read_itch(path, [](const feed::itch::Message&) { return true; });  // into the page cache
        paths.push_back(path);
    }

    // Export: rounds alternate the days and the sinks.
    std::map<std::string, std::vector<double>> rate, cpu_rate;  // scenario -> input messages / s per round
    std::map<std::string, ExportRun> last;
    for (int r = 0; r < rounds; ++r) {
        for (std::size_t d = 0; d < 2; ++d) {
            CountingSink counting;
            const auto run = export_day(paths[d], symbol, levels, counting);
            const std::string key = std::string(days[d].name) + ", counting sink";
            rate[key].push_back(static_cast<double>(run.messages) / run.seconds);
            cpu_rate[key].push_back(static_cast<double>(run.messages) / run.cpu);
            last[key] = run;
            last[key].bytes = counting.bytes;
            const std::string out_dir = dir + "/" + (d ? "one" : "market");
            fs::create_directories(out_dir);
            lob::FileSink files(out_dir, "2000-01-01", 34'200 * lob::kNanosPerSecond, 57'600 * lob::kNanosPerSecond,
                                levels);
            const auto frun = export_day(paths[d], symbol, levels, files);
            files.close();
            const std::string fkey = std::string(days[d].name) + ", files";
            rate[fkey].push_back(static_cast<double>(frun.messages) / frun.seconds);
            cpu_rate[fkey].push_back(static_cast<double>(frun.messages) / frun.cpu);
            last[fkey] = frun;
        }
    }

    // Verification of the exported files.
    std::map<std::string, std::vector<VerifyRun>> verified;
    for (int r = 0; r < rounds; ++r) {
        for (std::size_t d = 0; d < 2; ++d) {
            const std::string base =
                dir + "/" + (d ? "one" : "market") + "/" + symbol + "_2000-01-01_34200000_57600000_";
            const std::string key = days[d].name;
            verified[key].push_back(verify_pair(base + "message_10.csv", base + "orderbook_10.csv",
                                                last[std::string(days[d].name) + ", files"].rows));
        }
    }

    std::string command = "nexus-bench-lobster";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    std::fprintf(out, "I\tcommand\t%s\n", command.c_str());
    std::fprintf(out, "I\tlevels\t%zu\n", levels);
    std::fprintf(out, "I\tload\t%s to %s\n", load_before.c_str(), load_average().c_str());
    std::fprintf(out, "I\trounds\t%d\n", rounds);
    for (std::size_t d = 0; d < 2; ++d) {
        std::fprintf(out, "I\tday\t%s\t%u symbols\t%llu order messages\n", days[d].name, days[d].symbols,
                     static_cast<unsigned long long>(days[d].messages));
    }
    for (const auto& [key, v] : rate) {
        const auto& run = last[key];
        std::fprintf(out, "E\t%s\t%.0f\t%.0f\t%.0f\t%llu\t%llu\t%llu\t%.0f\n", key.c_str(), median(v),
                     *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()),
                     static_cast<unsigned long long>(run.messages), static_cast<unsigned long long>(run.rows),
                     static_cast<unsigned long long>(run.bytes), median(cpu_rate[key]));
    }
    for (const auto& [key, runs] : verified) {
        std::vector<double> first, whole, lastp, cfirst, cwhole, clast;
        const std::uint64_t rows = runs.front().rows, tenth = rows / 10;
        for (const auto& r : runs) {
            first.push_back(static_cast<double>(tenth) / r.first);
            whole.push_back(static_cast<double>(rows) / r.whole);
            lastp.push_back(static_cast<double>(tenth) / r.last);
            cfirst.push_back(static_cast<double>(tenth) / r.cpu_first);
            cwhole.push_back(static_cast<double>(rows) / r.cpu_whole);
            clast.push_back(static_cast<double>(tenth) / r.cpu_last);
        }
        const auto& r0 = runs.back();
        std::fprintf(out, "V\t%s\t%llu\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%llu\t%llu\t%ld\t%ld\t%.0f\t%.0f\t%.0f\n",
                     key.c_str(), static_cast<unsigned long long>(rows), median(first), median(whole), median(lastp),
                     *std::min_element(whole.begin(), whole.end()), *std::max_element(whole.begin(), whole.end()),
                     static_cast<unsigned long long>(r0.mismatches), static_cast<unsigned long long>(r0.peak_known),
                     r0.rss_first, r0.rss_end, median(cfirst), median(cwhole), median(clast));
    }
    if (out != stdout) std::fclose(out);
    for (const auto& [key, runs] : verified)
        std::fprintf(stderr, "lobster bench: verify %s: %.2f M rows/s (first 10%% %.2f, last 10%% %.2f)\n", key.c_str(),
                     static_cast<double>(runs.back().rows) / runs.back().whole / 1e6,
                     static_cast<double>(runs.back().rows / 10) / runs.back().first / 1e6,
                     static_cast<double>(runs.back().rows / 10) / runs.back().last / 1e6);
    for (const auto& [key, v] : rate)
        std::fprintf(stderr, "lobster bench: export %s: %.2f M msg/s\n", key.c_str(), median(v) / 1e6);
    return 0;
}

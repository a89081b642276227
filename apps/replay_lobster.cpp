// nexus-replay's LOBSTER modes: verify a LOBSTER file pair, or write LOBSTER
// files from an ITCH day. See replay_lobster.hpp and docs/lobster.md.
#include "replay_lobster.hpp"

#include <nexus/feed/lobster.hpp>
#include <nexus/feed/source.hpp>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "replay_options.hpp"

namespace lob = nexus::feed::lobster;
namespace fs = std::filesystem;

namespace nexus::replay {
namespace {

// Exit statuses: replay_options.hpp's (also listed in lobster_usage).
using apps::kExitCapacity;
using apps::kExitInterrupted;
using apps::kExitMalformed;
using apps::kExitMismatch;
using apps::kExitOk;
constexpr int kExitUsage = apps::kExitUsageOrIo;  // usage, or a file that cannot be opened, read or written

constexpr std::size_t kMaxLevels = 1000;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }
void catch_signals() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The N of "..._message_N.csv" / "..._orderbook_N.csv", or 0.
std::size_t levels_in_name(const std::string& path) {
    const std::string base = lower(fs::path(path).filename().string());
    const auto us = base.rfind('_');
    const auto dot = base.rfind(".csv");
    if (us == std::string::npos || dot == std::string::npos || dot <= us + 1) return 0;
    std::size_t n = 0;
    for (std::size_t i = us + 1; i < dot; ++i) {
        if (base[i] < '0' || base[i] > '9' || n > kMaxLevels) return 0;
        n = n * 10 + static_cast<std::size_t>(base[i] - '0');
    }
    return n;
}

// ---- verification -----------------------------------------------------

void print_verify(const std::string& messages, const std::string& books, const lob::VerifyResult& r, double secs) {
    const auto& s = r.stats;
    auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("nexus-replay: LOBSTER %s\n", messages.c_str());
    std::printf("  rows checked      %llu against %s (%zu levels) in %.3f s, %.2f M rows/s\n", u(s.rows), books.c_str(),
                r.levels, secs, secs > 0 ? static_cast<double>(s.rows) / secs / 1e6 : 0.0);
    std::printf("  true mismatches   %llu\n", u(s.true_mismatches));
    for (const auto& m : s.first_mismatches)
        std::printf("    row %llu: %s [%s]\n", u(m.row), m.what.c_str(), lob::describe(m.message).c_str());
    if (s.true_mismatches > s.first_mismatches.size())
        std::printf("    ... and %llu more rows\n", u(s.true_mismatches - s.first_mismatches.size()));
    std::printf("  unknown orders    %llu events on orders added before the file starts\n", u(s.unknown_orders));
    std::printf("  revealed levels   %llu levels entered the view from beyond its last level\n", u(s.revealed_levels));
    std::printf("  shrunk unseen     %llu deletes of known orders that had shrunk while out of view\n",
                u(s.shrunk_out_of_view));
    std::printf("  out of view       %llu order events priced beyond the view (LOBSTER writes none)\n",
                u(s.out_of_view));
    std::printf("  known orders      peak %llu held, %llu dropped far out of view\n", u(s.peak_known_orders),
                u(s.forgotten_orders));
}

// ---- export -----------------------------------------------------------

struct ExportOptions {
    std::string itch;
    std::string out_dir;
    std::size_t levels = 0;
    std::vector<std::string> symbols;
    std::int64_t from_ns = 34'200 * lob::kNanosPerSecond;
    std::int64_t to_ns = 57'600 * lob::kNanosPerSecond;
    std::string date;  // YYYY-MM-DD; empty: from the file name
    std::size_t orders = std::size_t{4} << 20;
    std::size_t price_levels = std::size_t{1} << 20;
};

[[noreturn]] void usage_error(const std::string& what) { throw std::invalid_argument(what); }

std::size_t parse_count(const std::string& option, const std::string& v, std::size_t lo, std::size_t hi) {
    std::size_t n = 0;
    if (v.empty() || v.size() > 12)
        usage_error(option + ": not a number in " + std::to_string(lo) + ".." + std::to_string(hi) + ": '" + v + "'");
    for (const char c : v) {
        if (c < '0' || c > '9') usage_error(option + ": not a number: '" + v + "'");
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n < lo || n > hi)
        usage_error(option + ": " + v + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    return n;
}

// "HH:MM:SS" or "HH:MM" -> nanoseconds after midnight, 00:00:00 to 24:00:00.
std::int64_t parse_clock(const std::string& option, const std::string& v) {
    int h = 0, m = 0, s = 0;
    char extra = 0;
    const int got = std::sscanf(v.c_str(), "%2d:%2d:%2d%c", &h, &m, &s, &extra);
    const bool shape = (got == 3 && v.size() == 8) || (got == 2 && v.size() == 5);
    if (!shape || h < 0 || m < 0 || m > 59 || s < 0 || s > 59 || h > 24 || (h == 24 && (m || s)))
        usage_error(option + ": not a time of day HH:MM:SS (00:00:00 to 24:00:00): '" + v + "'");
    return ((std::int64_t{h} * 60 + m) * 60 + s) * lob::kNanosPerSecond;
}

// "09:30:00" for nanoseconds after midnight.
std::string clock_of(std::int64_t ns) {
    const std::int64_t s = ns / lob::kNanosPerSecond;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
    return buf;
}

bool valid_date(int y, int m, int d) {
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return false;
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}
std::string format_date(int y, int m, int d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    return buf;
}

// A date in an ITCH file's name: YYYY-MM-DD anywhere, or NASDAQ's own names
// MMDDYYYY.NASDAQ_ITCH50[.gz] and SMMDDYY-v50[.txt.gz]. Empty if none.
std::string date_from_name(const std::string& path) {
    const std::string base = fs::path(path).filename().string();
    auto digits = [&](std::size_t at, std::size_t n) {
        if (at + n > base.size()) return -1;
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (base[i] < '0' || base[i] > '9') return -1;
            v = v * 10 + (base[i] - '0');
        }
        return v;
    };
    for (std::size_t i = 0; i + 10 <= base.size(); ++i) {
        if (base[i + 4] != '-' || base[i + 7] != '-') continue;
        const int y = digits(i, 4), m = digits(i + 5, 2), d = digits(i + 8, 2);
        if (y >= 0 && m >= 0 && d >= 0 && valid_date(y, m, d)) return format_date(y, m, d);
    }
    if (base.size() >= 9 && base[8] == '.') {
        const int m = digits(0, 2), d = digits(2, 2), y = digits(4, 4);
        if (m >= 0 && d >= 0 && y >= 0 && valid_date(y, m, d)) return format_date(y, m, d);
    }
    if (base.size() >= 8 && base[0] == 'S' && base[7] == '-') {
        const int m = digits(1, 2), d = digits(3, 2), y = digits(5, 2);
        if (m >= 0 && d >= 0 && y >= 0 && valid_date(2000 + y, m, d)) return format_date(2000 + y, m, d);
    }
    return {};
}

std::vector<std::string> split_symbols(const std::string& s) {
    std::vector<std::string> out;
    std::size_t p = 0;
    while (p <= s.size()) {
        const std::size_t q = std::min(s.find(',', p), s.size());
        std::string item = s.substr(p, q - p);
        if (item.empty() || item.size() > 8)
            usage_error("--symbols: '" + item + "' is not a stock symbol (1 to 8 characters)");
        if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
        p = q + 1;
    }
    return out;
}

ExportOptions parse_export(int argc, char** argv) {
    ExportOptions o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            // "--lobster-out --levels 5": the next option is not this one's value.
            if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--")) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--lobster-out")
            o.out_dir = value();
        else if (a == "--levels")
            o.levels = parse_count(a, value(), 1, kMaxLevels);
        else if (a == "--symbols") {  // repeated: the lists add up
            for (auto& sym : split_symbols(value()))
                if (std::find(o.symbols.begin(), o.symbols.end(), sym) == o.symbols.end())
                    o.symbols.push_back(std::move(sym));
        } else if (a == "--from")
            o.from_ns = parse_clock(a, value());
        else if (a == "--to")
            o.to_ns = parse_clock(a, value());
        else if (a == "--date") {
            const std::string d = value();
            int y = 0, m = 0, day = 0;
            char extra = 0;
            if (d.size() != 10 || std::sscanf(d.c_str(), "%4d-%2d-%2d%c", &y, &m, &day, &extra) != 3 ||
                !valid_date(y, m, day))
                usage_error("--date: not a date YYYY-MM-DD: '" + d + "'");
            o.date = d;
        } else if (a == "--orders")
            o.orders = parse_count(a, value(), 1, apps::kMaxCells);
        else if (a == "--quiet") {
        } else if (!a.empty() && a[0] == '-' && a != "-")
            usage_error(a + " is not an option of the LOBSTER export (see --help)");
        else if (o.itch.empty())
            o.itch = a;
        else
            usage_error("more than one FILE given");
    }
    if (o.itch.empty()) usage_error("--lobster-out needs an ITCH FILE to read");
    if (lobster_file_name(o.itch))
        usage_error(o.itch + " is a LOBSTER file: --lobster-out writes LOBSTER files from an ITCH day");
    if (o.levels == 0)
        usage_error("--lobster-out needs --levels N (the levels per side in the files, 1.." +
                    std::to_string(kMaxLevels) + ")");
    if (o.from_ns >= o.to_ns) usage_error("--from must be earlier than --to");
    return o;
}

void print_export(const ExportOptions& o, const lob::Exporter& ex, const lob::FileSink& sink,
                  const feed::ReadResult& rr, double secs) {
    auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    const auto& s = ex.stats();
    std::printf("nexus-replay: LOBSTER export of %s%s\n", o.itch.c_str(), rr.gzip ? " (gzip)" : "");
    std::printf("  window            %s to %s, %zu levels, dated %s, files in %s\n", clock_of(o.from_ns).c_str(),
                clock_of(o.to_ns).c_str(), o.levels, o.date.c_str(), o.out_dir.c_str());
    std::printf("  messages          %llu read in %.3f s, %.2f M msg/s; %llu of the exported symbols\n", u(s.messages),
                secs, secs > 0 ? static_cast<double>(s.messages) / secs / 1e6 : 0.0, u(s.applied));
    std::printf("  rows written      %llu\n", u(s.rows));
    std::vector<std::pair<std::uint64_t, std::string>> by_rows;
    ex.for_each_symbol([&](std::string_view sym, std::uint64_t rows) { by_rows.emplace_back(rows, std::string(sym)); });
    std::stable_sort(by_rows.begin(), by_rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::size_t shown = std::min<std::size_t>(by_rows.size(), 20);
    for (std::size_t i = 0; i < shown; ++i)
        std::printf("    %-8s %10llu rows  %s\n", by_rows[i].second.c_str(), u(by_rows[i].first),
                    sink.path(by_rows[i].second, lob::FileKind::Message).c_str());
    if (by_rows.size() > shown) std::printf("    ... and %zu more symbols\n", by_rows.size() - shown);
    std::printf("  files             %zu\n", sink.files().size());
    std::printf("  anomalies         %llu order messages the book refused (unknown references or sizes)\n",
                u(s.anomalies));
}

}  // namespace

bool lobster_file_name(const std::string& path) {
    const std::string name = lower(fs::path(path).filename().string());
    return name.ends_with(".csv") || name.find(".csv.") != std::string::npos;
}

bool lobster_export_requested(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--lobster-out") return true;
    return false;
}

int lobster_export_main(int argc, char** argv) {
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            lobster_usage(stdout);
            return kExitOk;
        }
    }
    ExportOptions o;
    try {
        o = parse_export(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-replay: %s\n", e.what());
        lobster_usage(stderr);
        return kExitUsage;
    }
    // The input is checked, and the output directory made, before the day is read.
    std::error_code ec;
    const int unreadable = o.itch == "-"                         ? 0  // standard input, as for the replay
                           : ::access(o.itch.c_str(), R_OK) != 0 ? errno
                           : fs::is_directory(o.itch, ec)        ? EISDIR
                                                                 : 0;
    if (unreadable) {
        spdlog::error("cannot open {}: {}", o.itch, std::strerror(unreadable));
        return kExitUsage;
    }
    if (o.date.empty()) {
        o.date = date_from_name(o.itch);
        if (o.date.empty()) {
            o.date = "0000-00-00";
            spdlog::warn(
                "{}: no date in the file's name (ITCH files carry none): the files are named with {}; give --date",
                o.itch, o.date);
        }
    }
    fs::create_directories(o.out_dir, ec);
    if (ec || !fs::is_directory(o.out_dir) || ::access(o.out_dir.c_str(), W_OK) != 0) {
        spdlog::error("cannot write into {}: {}", o.out_dir, ec ? ec.message() : std::strerror(errno));
        return kExitUsage;
    }

    lob::ExportConfig cfg;
    cfg.levels = o.levels;
    cfg.from_ns = o.from_ns;
    cfg.to_ns = o.to_ns;
    cfg.symbols = o.symbols;
    cfg.pools = {.orders = o.orders, .levels = o.price_levels};
    lob::FileSink sink(o.out_dir, o.date, o.from_ns, o.to_ns, o.levels);
    std::unique_ptr<lob::Exporter> ex;
    try {
        ex = std::make_unique<lob::Exporter>(cfg, sink);
    } catch (const std::exception& e) {
        spdlog::error("cannot allocate the book pools ({} orders): {}; lower --orders", o.orders, e.what());
        return kExitUsage;
    }
    catch_signals();
    spdlog::info("exporting {} to {} ({} levels)", o.itch, o.out_dir, o.levels);
    const auto t0 = std::chrono::steady_clock::now();
    feed::ReadOptions ropt;
    ropt.stop = &g_stop;
    const auto rr = feed::read_itch(
        o.itch, [&](const feed::itch::Message& m) { return ex->apply(m); }, ropt);
    const bool finished = ex->finish();
    const bool closed = sink.close();
    const double secs = seconds_since(t0);
    print_export(o, *ex, sink, rr, secs);

    if (rr.io_error) {
        spdlog::error("{}", rr.error);
        return kExitUsage;
    }
    if (ex->capacity_exhausted()) {
        spdlog::error("{}: {}; raise --orders (the files hold the rows before it)", o.itch, ex->error());
        return kExitCapacity;
    }
    if (!finished || !closed) {
        spdlog::error("{}", !ex->error().empty() ? ex->error() : sink.error());
        return kExitUsage;
    }
    if (!rr.ok) {
        spdlog::error("malformed input: {}: {} (the files hold the rows before it)", o.itch, rr.error);
        return kExitMalformed;
    }
    if (g_stop.load()) {
        spdlog::warn("interrupted: the files hold the rows before the signal");
        return kExitInterrupted;
    }
    if (const auto missing = ex->missing_symbols(); !missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        spdlog::error("{}: not in the stock directory of {}", list, o.itch);
        return kExitUsage;
    }
    spdlog::info("done");
    return kExitOk;
}

int lobster_verify_main(const std::string& message_file, const std::string& orderbook_file) {
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    for (const auto& f : {message_file, orderbook_file}) {
        if (lower(f).find(".csv.") != std::string::npos) {
            spdlog::error("{}: LOBSTER files are read uncompressed; decompress it first", f);
            return kExitUsage;
        }
    }
    std::string books = orderbook_file;
    if (books.empty()) {
        const auto at = message_file.rfind("_message_");
        if (at == std::string::npos) {
            spdlog::error("{}: cannot derive the orderbook file's name (no _message_ in it); give --lobster-book",
                          message_file);
            return kExitUsage;
        }
        books = message_file;
        books.replace(at, 9, "_orderbook_");
    }
    catch_signals();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = lob::verify_files(message_file, books, 0, &g_stop);
    const double secs = seconds_since(t0);
    if (r.io_error) {
        spdlog::error("{}", r.error);
        return kExitUsage;
    }
    for (const auto& f : {message_file, books}) {
        const std::size_t named = levels_in_name(f);
        if (named && r.levels && named != r.levels)
            spdlog::warn("{}: the name says {} levels, the orderbook rows have {}", f, named, r.levels);
    }
    print_verify(message_file, books, r, secs);
    if (r.ok && r.stats.rows == 0)
        spdlog::warn("{}: no rows to verify (an empty pair, as an export writes for a symbol without events)",
                     message_file);
    if (!r.ok) {
        spdlog::error("malformed input: {}", r.error);
        return kExitMalformed;
    }
    if (g_stop.load()) {
        spdlog::warn("interrupted: the summary covers the rows read");
        return kExitInterrupted;
    }
    return r.stats.true_mismatches == 0 ? kExitOk : kExitMismatch;
}

void lobster_usage(std::FILE* out) {
    std::fprintf(out,
                 "LOBSTER (docs/lobster.md):\n"
                 "  nexus-replay [--lobster-book OB.csv] MESSAGE.csv\n"
                 "      verifies a LOBSTER message file against its orderbook file (default: the\n"
                 "      message file's name with _message_ replaced by _orderbook_; the levels are\n"
                 "      read from its rows), row by row, with the unseen-liquidity model.\n"
                 "      Exit status: 0 every row consistent; 1 a file cannot be opened or read;\n"
                 "      2 malformed input (file, line and column named: wrong column count, not a\n"
                 "      number, a value outside the format, the files' row counts differ);\n"
                 "      3 true mismatches (each row named with its reason); 130 interrupted.\n"
                 "  nexus-replay DAY.itch --lobster-out DIR --levels N [--symbols A,B]\n"
                 "               [--from HH:MM:SS] [--to HH:MM:SS] [--date YYYY-MM-DD] [--orders N]\n"
                 "      writes DIR/TICKER_DATE_START_END_message_N.csv and ..._orderbook_N.csv per\n"
                 "      symbol (all symbols without --symbols) in LOBSTER's format: events that\n"
                 "      touch the N best levels of a side between --from (default 09:30:00) and\n"
                 "      --to (default 16:00:00), START and END in ms after midnight. DATE: --date,\n"
                 "      else from the ITCH file's name (YYYY-MM-DD, or NASDAQ's MMDDYYYY.NASDAQ_ITCH50\n"
                 "      and SMMDDYY-v50), else 0000-00-00 with a warning. --levels 1..%zu.\n"
                 "      --orders N: the book's order capacity (default 4194304).\n"
                 "      Exit status: 0 done; 1 usage, an unreadable ITCH file, an output file that\n"
                 "      cannot be written, or a --symbols name not in the day's directory; 2\n"
                 "      malformed ITCH (byte offset named); 4 the order or level pool is full\n"
                 "      (raise --orders); 130 interrupted. After 2, 4 or 130 the files hold\n"
                 "      the rows written before it.\n",
                 kMaxLevels);
}

}  // namespace nexus::replay

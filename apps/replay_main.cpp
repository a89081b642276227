// nexus-replay: replays a NASDAQ ITCH 5.0 file, pipe or FIFO (plain or
// gzipped), or verifies a LOBSTER message file, through the order books and
// reports what happened. Run with --help for the options.
#include <nexus/feed/lobster.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "replay_itch.hpp"
#include "replay_options.hpp"

using namespace nexus::apps;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

// SIGINT/SIGTERM raise the stop flag. No SA_RESTART: a read blocked on a
// pipe or terminal returns (EINTR), so the replay stops even with no input.
void install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

void usage(std::FILE* out) {
    std::fprintf(out,
        "usage: nexus-replay [options] [FILE]\n"
        "Replays a NASDAQ TotalView-ITCH 5.0 stream (length-prefixed messages, plain or\n"
        "gzipped; gzip is recognised by its first bytes) through nexus order books, one\n"
        "per stock locate, and prints a summary. FILE may be a file, a pipe or a FIFO\n"
        "(e.g. /dev/stdin); \"-\" is standard input. With no FILE it replays the bundled\n"
        "synthetic day (" NEXUS_DEFAULT_DAY ").\n\n"
        "  --symbols A,B,...  only build books for these symbols (others are counted, not applied)\n"
        "  --depth N          levels per side in the snapshot (1 to 1000000, default 5)\n"
        "  --top N            busiest symbols shown in the summary (0 to 65535, default 10)\n"
        "  --bbo FILE         write every change of best bid/offer as CSV:\n"
        "                     timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size\n"
        "  --snapshot FILE    write the final books (top --depth levels) as JSON\n"
        "  --orders N         order cells to reserve up front (0 to 2147483647, default 0);\n"
        "                     a hint only: the books grow with the day's live orders\n"
        "  --levels N         price-level cells to reserve up front (0 to 2147483647, default 0)\n"
        "  --threads N        replay with N threads (1 to 256, default 1): the locates are shared\n"
        "                     out between them, each with its own books; outputs are the same\n"
        "                     as with one thread (a gzip or piped input is read on a thread of\n"
        "                     its own). ITCH input only\n"
        "  --lobster-book F   LOBSTER mode: the orderbook file to verify against (default: the\n"
        "                     message file's name with _message_ replaced by _orderbook_);\n"
        "                     a FILE ending in .csv is read as a LOBSTER message file\n"
        "  --quiet            no progress bar\n"
        "  --help             this text\n\n"
        "Output files are opened before the replay starts: one that cannot be written\n"
        "stops it at once.\n\n"
        "Exit status:\n"
        "  0    done\n"
        "  1    usage error (unknown option, a value out of range), or an input that\n"
        "       cannot be read or an output that cannot be written\n"
        "  2    malformed input: framing, gzip or message error (after the summary of\n"
        "       what was read, with the byte offset or line)\n"
        "  3    LOBSTER verification found true mismatches\n"
        "  4    out of capacity: the books could not grow (out of memory, or past 2^31\n"
        "       live orders or levels); summary of what was applied\n"
        "  130  interrupted by SIGINT or SIGTERM (summary of what was read)\n"
        "Order-flow anomalies (unknown references) are counted and reported, not fatal.\n"
        "Every error message starts with the file it is about.\n");
}

constexpr std::uint64_t kMaxCells = 2147483647;  // the slab's key space

void parse(int argc, char** argv, ReplayOptions& o) {
    bool have_file = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw UsageError(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(kExitOk);
        } else if (a == "--symbols") o.symbols = split_list(next());
        else if (a == "--depth") o.depth = parse_count(a, next(), 1, 1'000'000);
        else if (a == "--top") o.top = parse_count(a, next(), 0, 65535);
        else if (a == "--bbo") o.bbo_csv = next();
        else if (a == "--snapshot") o.snapshot_json = next();
        else if (a == "--orders") o.orders = parse_count(a, next(), 0, kMaxCells);
        else if (a == "--levels") o.levels = parse_count(a, next(), 0, kMaxCells);
        else if (a == "--threads") o.threads = static_cast<unsigned>(parse_count(a, next(), 1, 256));
        else if (a == "--quiet") o.progress = false;
        else if (a == "--lobster-book") o.lobster_book = next();
        else if (a.size() > 1 && a[0] == '-') throw UsageError("unknown option " + a);
        else if (!have_file) {
            if (a.empty()) throw UsageError("empty FILE name");
            o.file = a;
            have_file = true;
        } else throw UsageError("more than one FILE given");
    }
    if (!have_file) o.file = NEXUS_DEFAULT_DAY;
}

// LOBSTER: replay a message file through a book and verify it row by row
// against the orderbook file (see feed/lobster.hpp).
int run_lobster(const ReplayOptions& opt) {
    std::string book_path = opt.lobster_book;
    if (book_path.empty()) {
        const auto at = opt.file.rfind("_message_");
        if (at == std::string::npos) {
            spdlog::error("{}: cannot derive the orderbook file name; give --lobster-book", opt.file);
            return 1;
        }
        book_path = opt.file;
        book_path.replace(at, 9, "_orderbook_");
    }
    // Levels: the orderbook file's first row has 4 columns per level.
    std::size_t levels = 0;
    {
        std::ifstream in(book_path);
        if (!in) {
            spdlog::error("cannot open {}", book_path);
            return 1;
        }
        std::string line;
        std::getline(in, line);
        levels = (static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1) / 4;
    }
    spdlog::info("verifying {} against {} ({} levels)", opt.file, book_path, levels);
    const auto start = std::chrono::steady_clock::now();
    const auto r = nexus::feed::lobster::verify(opt.file, book_path, levels);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("nexus-replay: LOBSTER %s\n", opt.file.c_str());
    std::printf("  messages          %llu in %.3f s\n", static_cast<unsigned long long>(r.messages), secs);
    std::printf("  rows checked      %llu against %s\n", static_cast<unsigned long long>(r.checked), book_path.c_str());
    std::printf("  true mismatches   %llu\n", static_cast<unsigned long long>(r.true_mismatches));
    for (const auto& m : r.first_mismatches)
        std::printf("    row %llu: %s\n", static_cast<unsigned long long>(m.row), m.what.c_str());
    std::printf("  reconciliations   %llu (liquidity that changed out of view)\n", static_cast<unsigned long long>(r.reconciliations));
    std::printf("  unknown orders    %llu events on orders added before the file starts\n", static_cast<unsigned long long>(r.unknown_ids));
    if (!r.ok) {
        spdlog::error("malformed input: {}", r.error);
        return r.error.rfind("cannot open", 0) == 0 ? 1 : 2;
    }
    return r.true_mismatches == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
    ReplayOptions opt;
    try {
        parse(argc, argv, opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-replay: %s\n", e.what());
        std::fprintf(stderr, "(nexus-replay --help lists the options)\n");
        return kExitUsageOrIo;
    }
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    if (opt.file.size() > 4 && opt.file.compare(opt.file.size() - 4, 4, ".csv") == 0) {
        if (opt.threads > 1) {
            std::fprintf(stderr, "nexus-replay: --threads applies to ITCH input, not to a LOBSTER file\n");
            return kExitUsageOrIo;
        }
        return run_lobster(opt);
    }
    install_signals();
    return run_itch(opt, g_stop);
}

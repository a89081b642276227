// nexus-replay: replays a NASDAQ ITCH 5.0 file, pipe or FIFO (plain or
// gzipped), or verifies a LOBSTER message file, through the order books and
// reports what happened. Run with --help for the options.

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
#include "replay_lobster.hpp"
#include "replay_nats.hpp"
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
                 "synthetic day (" NEXUS_DEFAULT_DAY
                 ").\n"
                 "FILE may also be nats://HOST[:PORT]/STREAM[/SUBJECT]: the feed published to that\n"
                 "NATS JetStream stream (by nexus-itch-publish), read from its start until the\n"
                 "End of Messages system event, or SIGINT/SIGTERM. A batch that is not a nexus ITCH\n"
                 "batch, or is malformed, is refused naming its stream sequence (exit status 2).\n\n"
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
                 "                     as with one thread while order references are unique across\n"
                 "                     stocks, as ITCH promises (docs/replay.md); a gzip or piped input\n"
                 "                     is read on a thread of its own. ITCH input only\n"
                 "  --lobster-book F   the LOBSTER orderbook file to verify FILE against: FILE is then a\n"
                 "                     LOBSTER message file, as is a FILE ending in .csv (see LOBSTER below)\n"
                 "  --start-sequence N nats:// input: the first stream sequence to read (default 1)\n"
                 "  --nats-timeout S   nats:// input: seconds a lost server may take to come back before\n"
                 "                     the replay fails (1 to 86400, default 10)\n"
                 "  --quiet            no progress bar\n"
                 "  --help             this text\n\n"
                 "Output files are opened before the replay starts: one that cannot be written\n"
                 "stops it at once.\n\n"
                 "Exit status:\n"
                 "  0    done\n"
                 "  1    usage error (unknown option, a value out of range), or an input that\n"
                 "       cannot be read (a NATS server unreachable or lost) or an output that\n"
                 "       cannot be written\n"
                 "  2    malformed input: framing, gzip or message error (after the summary of\n"
                 "       what was read, with the byte offset or line)\n"
                 "  3    LOBSTER verification found true mismatches\n"
                 "  4    out of capacity: the books could not grow (out of memory, or past 2^31\n"
                 "       live orders or levels); summary of what was applied\n"
                 "  130  interrupted by SIGINT or SIGTERM (summary of what was read)\n"
                 "Order-flow anomalies (unknown references) are counted and reported, not fatal.\n"
                 "Every error message starts with the file it is about.\n\n");
    nexus::replay::lobster_usage(out);
}

// A LOBSTER message file to verify: named as one, or given an orderbook file.
bool lobster_input(const ReplayOptions& o) {
    return !nats_input(o.file) && (!o.lobster_book.empty() || nexus::replay::lobster_file_name(o.file));
}

void parse(int argc, char** argv, ReplayOptions& o) {
    bool have_file = false;
    std::string itch_only;  // the first option given that only an ITCH replay takes
    std::string nats_only;  // ... that only a nats:// input takes
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw UsageError(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(kExitOk);
        }
        if (nats_only.empty() && (a == "--start-sequence" || a == "--nats-timeout")) nats_only = a;
        if (itch_only.empty() && (a == "--symbols" || a == "--depth" || a == "--top" || a == "--bbo" ||
                                  a == "--snapshot" || a == "--orders" || a == "--levels" || a == "--threads"))
            itch_only = a;
        if (a == "--symbols")
            o.symbols.merge(split_list(next()));  // repeated: the lists add up
        else if (a == "--depth")
            o.depth = parse_count(a, next(), 1, 1'000'000);
        else if (a == "--top")
            o.top = parse_count(a, next(), 0, 65535);
        else if (a == "--bbo")
            o.bbo_csv = next();
        else if (a == "--snapshot")
            o.snapshot_json = next();
        else if (a == "--orders")
            o.orders = parse_count(a, next(), 0, kMaxCells);
        else if (a == "--levels")
            o.levels = parse_count(a, next(), 0, kMaxCells);
        else if (a == "--threads")
            o.threads = static_cast<unsigned>(parse_count(a, next(), 1, 256));
        else if (a == "--start-sequence")
            o.start_sequence = parse_count(a, next(), 1, UINT64_MAX);
        else if (a == "--nats-timeout")
            o.nats_timeout_ms = parse_count(a, next(), 1, 86400) * 1000;
        else if (a == "--quiet")
            o.progress = false;
        else if (a == "--lobster-book")
            o.lobster_book = next();
        else if (a.size() > 1 && a[0] == '-')
            throw UsageError("unknown option " + a);
        else if (!have_file) {
            if (a.empty()) throw UsageError("empty FILE name");
            o.file = a;
            have_file = true;
        } else
            throw UsageError("more than one FILE given");
    }
    if (!have_file && !o.lobster_book.empty()) throw UsageError("--lobster-book needs the MESSAGE.csv FILE to verify");
    if (!have_file) o.file = NEXUS_DEFAULT_DAY;
    if (nats_input(o.file)) {
        check_nats_url(o.file);
        if (o.threads > 1) throw UsageError("--threads: a nats:// input is replayed with one thread");
        if (!o.lobster_book.empty()) throw UsageError("--lobster-book: a nats:// input is an ITCH feed");
    } else if (!nats_only.empty()) {
        throw UsageError(nats_only + " is an option of a nats:// input");
    }
    if (lobster_input(o) && !itch_only.empty())
        throw UsageError(itch_only + " is an option of the ITCH replay, not of LOBSTER verification" +
                         (itch_only == "--levels" ? " (the levels are read from the orderbook rows)" : ""));
}

}  // namespace

int main(int argc, char** argv) {
    if (nexus::replay::lobster_export_requested(argc, argv)) return nexus::replay::lobster_export_main(argc, argv);
    ReplayOptions opt;
    try {
        parse(argc, argv, opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-replay: %s\n", e.what());
        std::fprintf(stderr, "(nexus-replay --help lists the options)\n");
        return kExitUsageOrIo;
    }
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    if (lobster_input(opt)) return nexus::replay::lobster_verify_main(opt.file, opt.lobster_book);
    install_signals();
    return run_itch(opt, g_stop);
}

// nexus-replay's command line: the options every mode shares, the exit
// statuses, and the strict parsing of numbers and lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>

namespace nexus::apps {

// Exit statuses (documented in --help).
enum ExitStatus : int {
    kExitOk = 0,
    kExitUsageOrIo = 1,      // bad command line, or an input or output that cannot be read or written
    kExitMalformed = 2,      // the input breaks its format (after the summary of what was read)
    kExitMismatch = 3,       // LOBSTER verification found true mismatches
    kExitCapacity = 4,       // the books could not grow (out of memory, or past the slab's key space)
    kExitInterrupted = 130,  // SIGINT or SIGTERM (summary of what was read)
};

constexpr std::uint64_t kMaxCells = 2147483647;  // the slab's key space: the most cells a count may ask for

struct ReplayOptions {
    std::string file;               // "-" is standard input; nats://... a JetStream stream
    std::set<std::string> symbols;  // empty: all
    std::size_t depth = 5;
    std::size_t top = 10;
    std::string bbo_csv;
    std::string snapshot_json;
    std::string lobster_book;  // LOBSTER orderbook file (default: derived from the message file's name)
    std::size_t orders = 0;    // order cells to reserve up front (0: grow from nothing)
    std::size_t levels = 0;    // level cells to reserve up front
    bool progress = true;
    unsigned threads = 1;  // ITCH: threads sharing the locates (1: no worker threads)
    // A nats:// input: the first stream sequence read, and how long a lost
    // server may take to come back before the replay fails.
    std::uint64_t start_sequence = 1;
    std::uint64_t nats_timeout_ms = 10000;
};

// A usage error: the message names the option and what was wrong.
struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// A whole decimal number in [lo, hi]: no sign, no spaces, no suffix, no
// overflow. `option` names it in the error.
inline std::uint64_t parse_count(const std::string& option, const std::string& text, std::uint64_t lo,
                                 std::uint64_t hi) {
    const auto range = [&] {
        return " (expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
    };
    if (text.empty()) throw UsageError(option + ": empty value" + range());
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') throw UsageError(option + ": not a whole number: '" + text + "'" + range());
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) throw UsageError(option + ": out of range: " + text + range());
        v = v * 10 + d;
    }
    if (v < lo || v > hi) throw UsageError(option + ": out of range: " + text + range());
    return v;
}

// A comma-separated list; empty items are skipped.
inline std::set<std::string> split_list(const std::string& s) {
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

}  // namespace nexus::apps

// nexus-replay's ITCH outputs: the summary, the --snapshot JSON and the
// --bbo lines, written the same way whether one builder replayed the stream
// or several threads each replayed a share of its locates.
#pragma once

#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "output_file.hpp"
#include "replay_options.hpp"

namespace nexus::apps {

using Builder = nexus::feed::ItchBookBuilder<>;

// The books of a replay: one builder, or one per worker with a table giving
// each locate's owner.
class ReplayBooks {
public:
    explicit ReplayBooks(const Builder& single) : builders_{&single} {}
    ReplayBooks(std::vector<const Builder*> workers, const std::uint8_t* owner)
        : builders_(std::move(workers)), owner_(owner) {}

    [[nodiscard]] const Builder& of(std::uint16_t locate) const noexcept {
        return *builders_[owner_ != nullptr ? owner_[locate] : 0];
    }
    [[nodiscard]] const std::vector<const Builder*>& all() const noexcept { return builders_; }

private:
    std::vector<const Builder*> builders_;
    const std::uint8_t* owner_ = nullptr;  // 65536 entries; nullptr: one builder
};

// Per-message cost samples, in TSC ticks, by message type.
struct Latency {
    std::vector<std::uint32_t> by_type[256];
    double ticks_per_ns = 1;
    void merge(const Latency& other);
};
double measure_tsc_rate();

// How the reading went, for the summary.
struct ReplayRun {
    std::string name;  // the input as the messages name it ("standard input" for "-")
    nexus::feed::ReadResult read;
    double secs = 0;
    std::uint64_t peak_orders = 0;
    std::uint64_t peak_levels = 0;
    unsigned threads = 1;
};

// The best bid and offer of a locate, as --bbo writes it.
struct Top {
    orderbook::Price bid = 0, ask = 0;
    orderbook::Qty bid_qty = 0, ask_qty = 0;
    friend bool operator==(const Top&, const Top&) = default;
};
Top top_of(const Builder::Books::BookType& book);
inline constexpr const char* kBboHeader = "timestamp_ns,symbol,bid_price,bid_size,ask_price,ask_size\n";
// Appends one --bbo line.
void append_bbo_line(std::string& out, std::uint64_t timestamp, std::string_view symbol, const Top& top);

// Prints the summary to standard output (timing lines depend on the run;
// every other line depends only on the input and the options).
void print_summary(const ReplayOptions& opt, const ReplayRun& run, const ReplayBooks& books, Latency& lat);

// Writes the --snapshot JSON and closes the file; "" or the error.
std::string write_snapshot(OutputFile& out, const std::string& name, const ReplayBooks& books, std::size_t depth);

// Prints the summary, writes the snapshot, closes --bbo and returns the exit
// status: the first failure (an output's, the input's, the books'), or the
// interruption, or 0.
int finish_itch(const ReplayOptions& opt, const std::atomic<bool>& stop, ReplayRun& run, const ReplayBooks& books,
                Latency& lat, OutputFile& bbo, OutputFile& snapshot, const std::string& book_error, bool capacity);

// The progress line on standard error, when it is a terminal: a bar when the
// input's size is known, bytes read otherwise; at most five updates a second.
class ProgressBar {
public:
    ProgressBar(bool wanted, std::chrono::steady_clock::time_point start);
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }
    void show(std::uint64_t done, std::uint64_t total, std::uint64_t messages);
    void clear();

private:
    bool enabled_;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace nexus::apps

// Helpers for the LOBSTER tests: file pairs written row by row, verified
// from memory; synthetic days exported from ITCH.
#pragma once

#include <nexus/feed/lobster.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/feed/synth.hpp>

#include <string>
#include <vector>

#include "temp_files.hpp"

namespace nexus::test {

namespace lob = nexus::feed::lobster;

// An orderbook row of `levels` levels, without its '\n': the sides best
// first, placeholders where a side has fewer levels.
inline std::string book_line(std::size_t levels, const std::vector<lob::Level>& asks,
                             const std::vector<lob::Level>& bids) {
    std::string line;
    for (std::size_t l = 0; l < levels; ++l) {
        if (l) line += ',';
        line += l < asks.size() ? std::to_string(asks[l].price) + "," + std::to_string(asks[l].size) : "9999999999,0";
        line += ',';
        line += l < bids.size() ? std::to_string(bids[l].price) + "," + std::to_string(bids[l].size) : "-9999999999,0";
    }
    return line;
}

// A LOBSTER file pair built row by row.
struct FilePair {
    explicit FilePair(std::size_t n) : levels(n) {}
    std::size_t levels;
    std::string messages, books;

    // One row: the message line and the book after it (best first per side).
    FilePair& row(const std::string& message, const std::vector<lob::Level>& asks,
                  const std::vector<lob::Level>& bids) {
        messages += message + "\n";
        books += book_line(levels, asks, bids) + "\n";
        return *this;
    }
    [[nodiscard]] lob::VerifyResult verify() const {
        lob::MessageReader m("m.csv", messages);
        lob::OrderbookReader b("b.csv", books);
        return lob::verify(m, b);
    }
};

inline lob::VerifyResult verify_text(const std::string& messages, const std::string& books) {
    lob::MessageReader m("m.csv", messages);
    lob::OrderbookReader b("b.csv", books);
    return lob::verify(m, b);
}

// A synthetic ITCH day written to `path`.
inline void synth_day(const std::string& path, std::uint32_t symbols, std::uint64_t messages, std::uint64_t seed) {
    feed::SynthConfig cfg;
    cfg.symbols = symbols;
    cfg.order_messages = messages;
    cfg.seed = seed;
    feed::ItchWriter w(path, false);
    feed::generate_day(cfg, w);
    w.close();
}

// Exports an ITCH file into memory.
inline lob::MemorySink export_day(const std::string& itch, const lob::ExportConfig& cfg) {
    lob::MemorySink sink;
    lob::Exporter ex(cfg, sink);
    const auto r = feed::read_itch(itch, [&](const feed::itch::Message& m) { return ex.apply(m); });
    if (!r.ok || !ex.finish() || !ex.error().empty())
        throw std::runtime_error("export failed: " + r.error + ex.error());
    return sink;
}

// Rows of a text file (without their '\n').
inline std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t p = 0;
    while (p < text.size()) {
        const std::size_t q = text.find('\n', p);
        out.push_back(text.substr(p, q - p));
        if (q == std::string::npos) break;
        p = q + 1;
    }
    return out;
}
inline std::string join(const std::vector<std::string>& rows) {
    std::string out;
    for (const auto& r : rows) out += r + "\n";
    return out;
}

inline std::int64_t seconds(int h, int m, int s) {
    return ((std::int64_t{h} * 60 + m) * 60 + s) * lob::kNanosPerSecond;
}

}  // namespace nexus::test

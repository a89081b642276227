// The final books as JSON: the one format that nexus-replay --snapshot and
// nexus-engine --snapshot both write, so that a test can compare the books
// the engine kept with those the replay rebuilt from its ITCH output.
//
//   {"file": ..., "books": [{"locate": L, "symbol": S, "orders": N,
//                            "bids": [{"price": P, "size": Q, "orders": C}, ...],
//                            "asks": [...]}, ...]}
//
// Books are written in the order they are given (both apps give them by
// locate); strings are escaped, so any file name or symbol gives valid JSON.
#pragma once

#include <nexus/orderbook/types.hpp>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace nexus::apps {

class SnapshotJson {
public:
    explicit SnapshotJson(std::string_view file) {
        text_ = "{\n  \"file\": ";
        append_string(file);
        text_ += ",\n  \"books\": [";
    }

    void book(std::uint16_t locate, std::string_view symbol, std::size_t orders,
              std::span<const orderbook::LevelInfo> bids, std::span<const orderbook::LevelInfo> asks) {
        text_ += books_ == 0 ? "\n" : ",\n";
        ++books_;
        text_ += "    {\"locate\": " + std::to_string(locate) + ", \"symbol\": ";
        append_string(symbol);
        text_ += ", \"orders\": " + std::to_string(orders);
        append_side(", \"bids\": [", bids);
        append_side(", \"asks\": [", asks);
        text_ += '}';
    }

    // The whole document; the writer is done.
    [[nodiscard]] std::string finish() && {
        text_ += "\n  ]\n}\n";
        return std::move(text_);
    }

private:
    void append_side(const char* head, std::span<const orderbook::LevelInfo> levels) {
        text_ += head;
        for (std::size_t i = 0; i < levels.size(); ++i) {
            if (i != 0) text_ += ", ";
            text_ += "{\"price\": " + std::to_string(levels[i].price) + ", \"size\": " + std::to_string(levels[i].qty) +
                     ", \"orders\": " + std::to_string(levels[i].count) + "}";
        }
        text_ += ']';
    }
    // A JSON string: quotes and backslashes escaped, control bytes as \u00XX.
    void append_string(std::string_view s) {
        text_ += '"';
        for (const char c : s) {
            if (c == '"' || c == '\\') {
                text_ += '\\';
                text_ += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                text_ += buf;
            } else {
                text_ += c;
            }
        }
        text_ += '"';
    }

    std::string text_;
    std::size_t books_ = 0;
};

}  // namespace nexus::apps

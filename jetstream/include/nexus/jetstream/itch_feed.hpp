// nexus/jetstream/itch_feed.hpp — an ITCH 5.0 feed carried by a JetStream
// stream.
//
// Each NATS message (a "batch") holds whole ITCH messages framed exactly as
// in a file (a 2-byte big-endian length, then the message), never a message
// cut in two, and two headers:
//   Nexus-Feed: ITCH-5.0       what the payload is (anything else on the
//                              subject is foreign and refused);
//   Nexus-Offset: N            the feed byte offset of the batch's first
//                              length prefix, so a reader knows the batches
//                              join up (a gap or a second feed is refused) and
//                              names byte offsets as for a file.
// The feed ends with ITCH's own end-of-session marker, the System Event
// message with event code 'C' (End of Messages).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nexus/feed/source.hpp"
#include "nexus/jetstream/connection.hpp"
#include "nexus/jetstream/publisher.hpp"
#include "nexus/jetstream/url.hpp"

namespace nexus::jetstream {

inline constexpr const char* kFeedHeader = "Nexus-Feed";
inline constexpr const char* kFeedFormat = "ITCH-5.0";
inline constexpr const char* kOffsetHeader = "Nexus-Offset";

// True for ITCH's End of Messages system event (type 'S', event code 'C').
bool is_end_of_session(std::span<const std::uint8_t> message) noexcept;

struct ItchPublisherOptions {
    std::size_t batch_bytes = 64 * 1024;  // payload per NATS message (capped by the server's max payload)
    std::size_t window = 64;              // batches awaiting acknowledgement
    std::chrono::milliseconds ack_timeout{5000};
    // The feed byte offset of the first message added: 0 for a new feed,
    // or where a feed already on the stream ends, to continue it.
    std::uint64_t start_offset = 0;
};

// Batches framed ITCH messages and publishes them, asynchronously and
// acknowledged, to one subject of one stream.
class ItchPublisher {
public:
    ItchPublisher(Connection& c, std::string stream, std::string subject, ItchPublisherOptions options = {});

    // Appends whole framed messages (length prefix and body each; Error(Invalid)
    // if `framed` ends inside one). A full batch is sent.
    void add(std::span<const std::uint8_t> framed);
    // Sends the batch being filled, if any.
    void send();
    // Sends, then waits until every batch is acknowledged (throws the first failure).
    void flush();

    // The feed offset reached: start_offset plus the bytes taken.
    [[nodiscard]] std::uint64_t bytes() const noexcept { return sent_ + batch_.size(); }
    [[nodiscard]] std::uint64_t batches() const noexcept { return batches_; }  // batches sent
    [[nodiscard]] std::uint64_t last_sequence() const noexcept { return pub_.last_sequence(); }
    [[nodiscard]] std::size_t batch_limit() const noexcept { return limit_; }

private:
    Publisher pub_;
    std::string subject_;
    std::size_t limit_;
    std::vector<std::uint8_t> batch_;
    std::uint64_t sent_;  // feed offset of the batch being filled
    std::uint64_t batches_ = 0;
};

struct ItchStreamOptions {
    std::uint64_t start_sequence = 1;  // the first stream sequence to read
    // How long a lost server may take to come back before the read fails.
    std::chrono::milliseconds reconnect_limit{10000};
    std::chrono::milliseconds connect_timeout{2000};
    std::function<void(const std::string&)> log;  // reconnection news, for the user
};

// Where the read went, beyond feed::ReadResult.
struct ItchStreamResult {
    std::uint64_t first_sequence = 0;  // of the first batch read (0: none)
    std::uint64_t last_sequence = 0;   // of the last batch handed to the consumer
    std::uint64_t batches = 0;
    bool end_of_session = false;  // the End of Messages event was read
};

using BlockConsumer = std::function<feed::itch::BlockResult(std::span<const std::uint8_t>, std::uint64_t)>;

// Reads the feed from `url` batch by batch into `on_block` (as
// feed::read_itch_blocks does for a file), until the end-of-session marker,
// the stop flag, or an error. The result's `error` says what and where (the
// stream sequence and subject of a refused batch, the server lost); a server
// or stream that cannot be reached is an io_error, a foreign or malformed
// batch a format error.
feed::ReadResult read_itch_stream(const FeedUrl& url, const BlockConsumer& on_block, const feed::ReadOptions& read,
                                  const ItchStreamOptions& options, ItchStreamResult* where = nullptr);

}  // namespace nexus::jetstream

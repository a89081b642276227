// nexus/jetstream/publisher.hpp — publishing to JetStream, acknowledged.
//
// A message counts as published only when the stream's acknowledgement says
// where it is stored (its stream sequence). publish() waits for that;
// publish_async() returns once the message is sent, keeping at most `window`
// messages waiting for their acknowledgement (it blocks while the window is
// full), and flush() waits for all of them. A failure — an error answer, or
// no answer within `ack_timeout` — is thrown by the next publish_async() or
// flush(), naming the subject and the first message that failed; nothing
// later than that point may be taken as published.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nexus/jetstream/connection.hpp"

namespace nexus::jetstream {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct PubAck {
    std::string stream;
    std::uint64_t sequence = 0;  // the message's stream sequence
    bool duplicate = false;      // the stream already had this message id
};

struct PublisherOptions {
    std::size_t window = 256;  // asynchronous publishes awaiting acknowledgement
    std::chrono::milliseconds ack_timeout{5000};
    std::string expect_stream;  // when set, an acknowledgement from another stream is an error
};

class Publisher {
public:
    explicit Publisher(Connection& c, PublisherOptions options = {});
    ~Publisher();  // waits for nothing: call flush() to know what was stored
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // `msg_id` (optional) lets the stream drop a re-sent duplicate.
    PubAck publish(const std::string& subject, std::span<const std::uint8_t> data, const Headers& headers = {},
                   const std::string& msg_id = {});
    void publish_async(const std::string& subject, std::span<const std::uint8_t> data, const Headers& headers = {},
                       const std::string& msg_id = {});
    // Waits until every asynchronous publish is acknowledged; throws the
    // first failure. Error(Timeout) if acknowledgements stop for `ack_timeout`.
    void flush();

    [[nodiscard]] std::uint64_t acknowledged() const noexcept;  // asynchronous publishes acknowledged
    [[nodiscard]] std::uint64_t in_flight() const noexcept;
    [[nodiscard]] std::uint64_t last_sequence() const noexcept;  // highest stream sequence acknowledged

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nexus::jetstream

// nexus/jetstream/consumer.hpp — reading a stream in order with a pull
// consumer.
//
// A PullConsumer is an ephemeral consumer on the server (removed when it is
// destroyed, or by the server after a while without interest) that starts at
// a given stream sequence and, with a subject, sees only that subject's
// messages. fetch() returns the next messages in stream order, each with its
// stream sequence; a message delivered twice (its acknowledgement lost, say)
// is dropped, so sequences only grow. Messages are acknowledged as they are
// handed out. After a reconnection the consumer is made again from the last
// message handed out, so that a message the server sent into the outage
// cannot come back later out of order.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexus/jetstream/connection.hpp"

namespace nexus::jetstream {

// A received message; owns the client's copy.
class Message {
public:
    Message() = default;
    explicit Message(void* native, std::uint64_t sequence) noexcept : native_(native), sequence_(sequence) {}
    Message(Message&& o) noexcept : native_(std::exchange(o.native_, nullptr)), sequence_(o.sequence_) {}
    Message& operator=(Message&& o) noexcept;
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    ~Message();

    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }  // in the stream
    [[nodiscard]] std::string_view subject() const noexcept;
    [[nodiscard]] std::span<const std::uint8_t> data() const noexcept;
    // The first value of a header, or nothing.
    [[nodiscard]] std::optional<std::string_view> header(const char* key) const;

private:
    void* native_ = nullptr;  // natsMsg*
    std::uint64_t sequence_ = 0;
};

struct ConsumerOptions {
    std::string stream;
    std::string subject;                        // "" = every subject of the stream
    std::uint64_t start_sequence = 1;           // the first stream sequence wanted
    int batch = 64;                             // messages asked for per fetch
    std::chrono::milliseconds fetch_wait{250};  // how long fetch() waits for a first message
};

class PullConsumer {
public:
    // Error(NotFound) when the stream does not exist.
    PullConsumer(Connection& c, ConsumerOptions options);
    ~PullConsumer();
    PullConsumer(const PullConsumer&) = delete;
    PullConsumer& operator=(const PullConsumer&) = delete;

    // The next messages in stream order: empty when none came within
    // fetch_wait (or the connection is being re-established: see
    // Connection::state()). Throws Error(Disconnected) once the connection
    // is closed, Error(NotFound) if the stream was deleted.
    std::vector<Message> fetch();

    // The stream sequence of the last message handed out (start - 1 before any).
    [[nodiscard]] std::uint64_t last_sequence() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nexus::jetstream

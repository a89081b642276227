// Reading an ITCH 5.0 feed from a JetStream stream (see itch_feed.hpp).
#include <charconv>
#include <memory>
#include <optional>

#include "nexus/feed/itch.hpp"
#include "nexus/jetstream/consumer.hpp"
#include "nexus/jetstream/error.hpp"
#include "nexus/jetstream/itch_feed.hpp"

namespace nexus::jetstream {
namespace {

namespace itch = nexus::feed::itch;
using Clock = std::chrono::steady_clock;

// What is wrong with a batch, or nothing; `cut` is how much of it to hand on
// (up to and including the end-of-session marker), `end` whether it has one.
struct Checked {
    std::string error;
    std::size_t cut = 0;
    bool end = false;
};

Checked check_batch(const Message& m, std::uint64_t offset) {
    Checked c;
    const auto data = m.data();
    if (data.empty()) {
        c.error = "an empty batch";
        return c;
    }
    itch::Framer f(data, offset);
    itch::Message msg;
    while (f.next(msg)) {
        if (is_end_of_session({msg.data, msg.size})) {
            c.cut = static_cast<std::size_t>(msg.offset - offset) + 2 + msg.size;
            c.end = true;
            return c;
        }
    }
    if (f.error() != itch::FrameError::None) {
        c.error = f.error_message() + " (a batch must hold whole ITCH messages)";
        return c;
    }
    c.cut = data.size();
    return c;
}

std::optional<std::uint64_t> parse_offset(std::string_view s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

}  // namespace

feed::ReadResult read_itch_stream(const FeedUrl& url, const BlockConsumer& on_block, const feed::ReadOptions& read,
                                  const ItchStreamOptions& options, ItchStreamResult* where) {
    feed::ReadResult r;
    r.streamed = true;
    ItchStreamResult info;
    auto io_fail = [&](std::string e) {
        r.ok = false;
        r.io_error = true;
        r.error = std::move(e);
    };
    auto malformed = [&](const Message& m, const std::string& what) {
        r.ok = false;
        r.error = "stream '" + url.stream + "' sequence " + std::to_string(m.sequence()) + " (subject " +
                  std::string(m.subject()) + "): " + what;
    };
    std::unique_ptr<Connection> conn;
    std::uint64_t last_seq = options.start_sequence - 1;  // of the last batch taken
    try {
        ConnectOptions co;
        co.servers = {url.server};
        co.name = "nexus-replay";
        co.connect_timeout = options.connect_timeout;
        co.max_reconnects = -1;  // the time limit below decides
        auto on_event = [&options](ConnectionEvent e, const std::string& server) {
            if (!options.log || e == ConnectionEvent::Closed) return;
            options.log(e == ConnectionEvent::Disconnected ? "lost the connection to the NATS server; reconnecting"
                                                           : "reconnected to " + server);
        };
        conn = std::make_unique<Connection>(co, on_event);
        ConsumerOptions cons;
        cons.stream = url.stream;
        cons.subject = url.subject;
        cons.start_sequence = options.start_sequence;
        cons.fetch_wait = std::chrono::milliseconds(200);  // the stop flag is seen this often
        PullConsumer consumer(*conn, cons);

        std::optional<std::uint64_t> expected;  // feed offset the next batch must start at
        std::optional<Clock::time_point> lost_since;
        bool done = false;
        while (!done) {
            if (read.stop != nullptr && read.stop->load(std::memory_order_relaxed)) {
                r.stopped = true;
                break;
            }
            std::vector<Message> batch = consumer.fetch();
            if (batch.empty()) {
                if (conn->state() == ConnectionState::Connected) {
                    lost_since.reset();
                } else if (!lost_since) {
                    lost_since = Clock::now();
                } else if (Clock::now() - *lost_since > options.reconnect_limit) {
                    io_fail("lost the connection to " + url.server + " while reading stream '" + url.stream +
                            "' (after sequence " + std::to_string(consumer.last_sequence()) + ", " +
                            std::to_string(r.bytes) + " feed bytes) and it did not come back within " +
                            std::to_string(options.reconnect_limit.count()) + " ms");
                    break;
                }
                continue;
            }
            lost_since.reset();
            for (const Message& m : batch) {
                const auto format = m.header(kFeedHeader);
                if (!format) {
                    malformed(m, "not a batch of an ITCH feed (no " + std::string(kFeedHeader) +
                                     " header): a foreign message on the subject");
                    done = true;
                    break;
                }
                if (*format != kFeedFormat) {
                    malformed(m, "feed format '" + std::string(*format) + "', not " + kFeedFormat);
                    done = true;
                    break;
                }
                const auto off_text = m.header(kOffsetHeader);
                const auto offset = off_text ? parse_offset(*off_text) : std::nullopt;
                if (!offset) {
                    malformed(m, "no valid " + std::string(kOffsetHeader) + " header");
                    done = true;
                    break;
                }
                if (expected && *offset != *expected) {
                    malformed(m, "the batch starts at feed byte offset " + std::to_string(*offset) +
                                     ", but the one before ended at " + std::to_string(*expected) +
                                     " (a gap in the feed, or a second feed on the subject)");
                    done = true;
                    break;
                }
                const Checked c = check_batch(m, *offset);
                if (!c.error.empty()) {
                    malformed(m, c.error);
                    done = true;
                    break;
                }
                if (info.first_sequence == 0) info.first_sequence = m.sequence();
                info.last_sequence = m.sequence();
                last_seq = m.sequence();
                ++info.batches;
                const itch::BlockResult b = on_block(m.data().first(c.cut), *offset);
                r.messages += b.messages;
                r.unknown += b.unknown;
                r.bytes += b.consumed;
                if (b.stop) {  // the consumer's own error (or its output failed): it says what
                    r.stopped = true;
                    done = true;
                    break;
                }
                if (b.error != itch::FrameError::None || b.consumed != c.cut) {
                    malformed(m, std::string(itch::to_string(b.error)) + " at byte offset " +
                                     std::to_string(*offset + b.consumed));
                    done = true;
                    break;
                }
                expected = *offset + m.data().size();
                if (c.end) {
                    info.end_of_session = true;
                    done = true;
                    break;
                }
            }
            if (read.progress) read.progress(r.bytes, 0);
        }
    } catch (const Error& e) {
        // A request that timed out because the server went away says so.
        if (conn && conn->state() != ConnectionState::Connected)
            io_fail("lost the connection to " + url.server + " while reading stream '" + url.stream +
                    "' (after sequence " + std::to_string(last_seq) + "): " + e.what());
        else
            io_fail(e.what());
    }
    if (where != nullptr) *where = info;
    return r;
}

}  // namespace nexus::jetstream

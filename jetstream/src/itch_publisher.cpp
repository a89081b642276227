// Publishing an ITCH 5.0 feed in batches (see itch_feed.hpp).
#include <algorithm>

#include "nexus/feed/itch.hpp"
#include "nexus/jetstream/error.hpp"
#include "nexus/jetstream/itch_feed.hpp"

namespace nexus::jetstream {

namespace itch = nexus::feed::itch;

bool is_end_of_session(std::span<const std::uint8_t> message) noexcept {
    return message.size() == itch::kLengths['S'] && message[0] == 'S' &&
           itch::SystemEvent(itch::Message{message.data(), 12, 0}).event_code() == 'C';
}

namespace {

// Room kept under the server's maximum payload for the headers.
constexpr std::size_t kHeaderRoom = 1024;

PublisherOptions publisher_options(const std::string& stream, const ItchPublisherOptions& o) {
    PublisherOptions p;
    p.window = o.window;
    p.ack_timeout = o.ack_timeout;
    p.expect_stream = stream;
    return p;
}

}  // namespace

ItchPublisher::ItchPublisher(Connection& c, std::string stream, std::string subject, ItchPublisherOptions options)
    : pub_(c, publisher_options(stream, options)), subject_(std::move(subject)), sent_(options.start_offset) {
    if (!valid_subject(subject_, false))
        throw Error(ErrorKind::Invalid,
                    "'" + subject_ + "' is not a subject to publish to (dot-separated tokens, no wildcards)");
    const auto max = static_cast<std::size_t>(std::max<std::int64_t>(c.max_payload(), 0));
    const std::size_t cap = max > kHeaderRoom ? max - kHeaderRoom : 0;
    // Any message must fit a batch of its own: ITCH's longest is 2 + 65535 bytes.
    if (cap < 2 + 65535)
        throw Error(ErrorKind::Invalid, "the server's maximum payload (" + std::to_string(max) + " bytes) on " +
                                            c.servers() + " cannot hold the longest ITCH message");
    // A message longer than the limit goes in a batch of its own.
    limit_ = std::clamp<std::size_t>(options.batch_bytes, 1, cap);
    batch_.reserve(limit_);
}

void ItchPublisher::add(std::span<const std::uint8_t> framed) {
    std::size_t pos = 0;
    while (pos < framed.size()) {
        if (framed.size() - pos < 2)
            throw Error(ErrorKind::Invalid,
                        "ITCH data ends inside a length prefix at feed byte offset " + std::to_string(bytes() + pos));
        const std::size_t whole = 2 + std::size_t{itch::be16(framed.data() + pos)};
        if (framed.size() - pos < whole)
            throw Error(ErrorKind::Invalid,
                        "ITCH data ends inside a message at feed byte offset " + std::to_string(bytes() + pos));
        if (batch_.size() + pos + whole > limit_ && batch_.size() + pos > 0) {
            // The batch is full without this message: the ones before it go.
            batch_.insert(batch_.end(), framed.begin(), framed.begin() + static_cast<std::ptrdiff_t>(pos));
            framed = framed.subspan(pos);
            pos = 0;
            send();
        }
        pos += whole;
    }
    batch_.insert(batch_.end(), framed.begin(), framed.end());
    if (batch_.size() >= limit_) send();
}

void ItchPublisher::send() {
    if (batch_.empty()) return;
    const Headers headers{{kFeedHeader, kFeedFormat}, {kOffsetHeader, std::to_string(sent_)}};
    pub_.publish_async(subject_, batch_, headers);
    sent_ += batch_.size();
    ++batches_;
    batch_.clear();
}

void ItchPublisher::flush() {
    send();
    pub_.flush();
}

}  // namespace nexus::jetstream

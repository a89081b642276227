// nexus-replay's nats:// input (see replay_nats.hpp).
#include "replay_nats.hpp"

#include <spdlog/spdlog.h>
#include <nexus/jetstream/error.hpp>
#include <nexus/jetstream/itch_feed.hpp>

namespace nexus::apps {

namespace js = nexus::jetstream;

void check_nats_url(const std::string& url) {
    try {
        js::parse_feed_url(url);
    } catch (const js::Error& e) {
        throw UsageError(e.what());
    }
}

nexus::feed::ReadResult read_nats(const ReplayOptions& opt, const BlockFn& on_block,
                                  const nexus::feed::ReadOptions& read, NatsPosition& where) {
    js::ItchStreamOptions so;
    so.start_sequence = opt.start_sequence;
    so.reconnect_limit = std::chrono::milliseconds(opt.nats_timeout_ms);
    so.log = [](const std::string& line) { spdlog::warn("{}", line); };
    js::ItchStreamResult r;
    auto result = js::read_itch_stream(js::parse_feed_url(opt.file), on_block, read, so, &r);
    where = NatsPosition{r.first_sequence, r.last_sequence, r.batches, r.end_of_session};
    return result;
}

}  // namespace nexus::apps

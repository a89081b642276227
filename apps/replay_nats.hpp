// nexus-replay's nats:// input: an ITCH feed read from a JetStream stream
// (nexus/jetstream/itch_feed.hpp) in place of a file, through the same
// block consumer.
#pragma once

#include <nexus/feed/source.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "replay_options.hpp"

namespace nexus::apps {

// A feed to read from NATS JetStream rather than a file.
inline bool nats_input(const std::string& file) noexcept { return file.starts_with("nats://"); }

// Where the read ended in the stream, for the messages.
struct NatsPosition {
    std::uint64_t first_sequence = 0;
    std::uint64_t last_sequence = 0;  // of the batch read last (the one an error is in)
    std::uint64_t batches = 0;
    bool end_of_session = false;
};

using BlockFn = std::function<nexus::feed::itch::BlockResult(std::span<const std::uint8_t>, std::uint64_t)>;

// Reads opt.file (a nats:// URL) from opt.start_sequence into on_block.
nexus::feed::ReadResult read_nats(const ReplayOptions& opt, const BlockFn& on_block,
                                  const nexus::feed::ReadOptions& read, NatsPosition& where);

// Throws UsageError when `url` is not a feed URL nexus-replay can read.
void check_nats_url(const std::string& url);

}  // namespace nexus::apps

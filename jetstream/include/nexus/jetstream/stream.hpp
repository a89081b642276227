// nexus/jetstream/stream.hpp — JetStream streams: made sure of, and described.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "nexus/jetstream/connection.hpp"

namespace nexus::jetstream {

enum class Storage { File, Memory };

struct StreamConfig {
    std::string name;                   // letters, digits, '-' and '_'
    std::vector<std::string> subjects;  // at least one
    Storage storage = Storage::File;
    int replicas = 1;  // copies kept by a cluster (1 to 5)
    // Publishes carrying the same message id within this window are stored once.
    std::chrono::seconds duplicate_window{120};
};

struct StreamInfo {
    std::string name;
    std::vector<std::string> subjects;
    Storage storage = Storage::File;
    int replicas = 1;
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t first_sequence = 0;  // 0 when empty
    std::uint64_t last_sequence = 0;
    std::uint64_t consumers = 0;  // readers attached now
};

// Creates the stream, or checks that the existing one takes every subject of
// `config` with the same storage (Error(Conflict) saying what differs
// otherwise; an existing stream is never changed).
StreamInfo ensure_stream(Connection& c, const StreamConfig& config);

// The stream's state; Error(NotFound) when there is none of that name.
StreamInfo stream_info(Connection& c, const std::string& name);

// Deletes the stream and everything in it; false when there was none.
bool delete_stream(Connection& c, const std::string& name);

}  // namespace nexus::jetstream

// What the .cpp files of nexus::jetstream share: the client's handles, and
// turning its status codes into Errors that say what and where.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "nexus/jetstream/connection.hpp"
#include "nexus/jetstream/error.hpp"

namespace nexus::jetstream {

struct Connection::Impl {
    ConnectOptions options;
    std::string servers;  // comma-separated, for messages
    natsOptions* opts = nullptr;
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;  // for stream management and consumers
    std::function<void(ConnectionEvent, const std::string&)> on_event;
    // The client calls its callbacks on a thread of its own, the closed one
    // last: the destructor waits for it before freeing what they use.
    std::mutex mutex;
    std::condition_variable closed_cv;
    bool closed = false;
    std::atomic<bool> closing{false};  // our own close: its disconnection is no news
    std::atomic<std::uint64_t> reconnects{0};
};

namespace detail {

// "<what> on <servers>: <status text> [(details)]"; the kind from the status.
[[noreturn]] void fail(natsStatus s, int code, const std::string& what, const std::string& servers);

// The client's text for the last error on this thread, or the status's.
std::string status_text(natsStatus s);

ErrorKind kind_of(natsStatus s, int code) noexcept;

inline std::int64_t ms(std::chrono::milliseconds d) noexcept { return static_cast<std::int64_t>(d.count()); }

}  // namespace detail
}  // namespace nexus::jetstream

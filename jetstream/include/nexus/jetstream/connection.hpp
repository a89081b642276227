// nexus/jetstream/connection.hpp — one connection to a NATS server (or a
// cluster) with JetStream.
//
// Connecting waits at most `connect_timeout` per server and throws
// Error(Connect) naming the servers when none answers. Once connected, a lost
// server is reconnected in the background (`reconnect_wait` between tries, at
// most `max_reconnects` tries, -1: forever); state() tells the caller, and
// on_event (called on a client thread) can log it. The destructor closes the
// connection; every object made from it (Publisher, PullConsumer) must be
// destroyed first.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nexus::jetstream {

struct ConnectOptions {
    std::vector<std::string> servers;  // "nats://host:port" (or "host:port"); several for a cluster
    std::string name = "nexus";        // shown by the server's monitoring
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds reconnect_wait{250};
    int max_reconnects = 40;
    // How long a JetStream request (stream management, a synchronous
    // publish's acknowledgement) may wait for its answer.
    std::chrono::milliseconds request_timeout{5000};
    // A silent server is declared lost after `max_pings_out` unanswered pings
    // sent every `ping_interval` (a server that dies closes the socket, which
    // is seen at once; this is for a host or network that goes quiet).
    std::chrono::milliseconds ping_interval{2000};
    int max_pings_out = 3;
};

enum class ConnectionState { Connected, Reconnecting, Closed };

enum class ConnectionEvent { Disconnected, Reconnected, Closed };
const char* to_string(ConnectionEvent e) noexcept;

class Connection {
public:
    // Throws Error(Connect) when no server answers, Error(Invalid) with no server.
    explicit Connection(ConnectOptions options,
                        std::function<void(ConnectionEvent, const std::string& url)> on_event = {});
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    [[nodiscard]] ConnectionState state() const noexcept;
    // The servers it was given, comma-separated (for messages).
    [[nodiscard]] const std::string& servers() const noexcept;
    // The URL of the server it is connected to ("" when not connected).
    [[nodiscard]] std::string connected_url() const;
    [[nodiscard]] const ConnectOptions& options() const noexcept;
    // How many times the connection was lost and regained.
    [[nodiscard]] std::uint64_t reconnects() const noexcept;
    // The largest message payload the server accepts.
    [[nodiscard]] std::int64_t max_payload() const noexcept;

    // Waits until the JetStream API answers (a cluster must elect its meta
    // leader first); throws Error(Timeout) naming the servers after `timeout`.
    void wait_for_jetstream(std::chrono::milliseconds timeout);

    struct Impl;
    [[nodiscard]] Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nexus::jetstream

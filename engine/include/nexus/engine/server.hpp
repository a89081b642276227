// nexus/engine/server.hpp — the matching engine server: its interface.
//
// Threads:
//  * one I/O thread accepts connections, reads and deframes client packets
//    (engine/src/session.*), has the Router validate every field, keep each
//    user's token map and assign order IDs, and queues the Commands for the
//    shards; it also numbers the shards' answers into each user's stream,
//    appends them to the outbound store and writes them to the clients
//    (engine/src/server_flow.cpp);
//  * one thread per shard (engine/src/shard.*): journals, matches, commits,
//    and only then hands the batch's answers to the I/O thread. Nothing a
//    client can do blocks a shard: the I/O thread never waits on a socket and
//    the shards never touch one. With `matching inline` the I/O thread does
//    the shards' work itself and no shard thread runs.
//
// Sequenced delivery (docs/protocol.md §5): every Sequenced Data message is
// appended to the outbound store (outbound_store.hpp) with its number in its
// user's stream, whether or not the user is logged in, and no byte leaves for
// a client before the store has been written. A login asks for the stream
// from a number: the session replays from the store, a chunk at a time as
// the client reads, then carries on live. A client whose queued outbound
// bytes pass `outbound_limit` is disconnected (with a log line); the others
// are not affected, and what it missed is in the store for its next login.
//
// Start-up (recovery.hpp, engine/src/server_startup.cpp) locks the journal
// directory, checks the configuration against the manifest, replays every
// shard's journal against the outbound store, and rewrites the ITCH file from
// the journal. SIGINT/SIGTERM: stop accepting and processing requests, let
// the shards finish and commit what they hold, answer all of it, send End of
// Session to every session once it has its answers, wait up to
// shutdown_timeout_ms for the clients to read them, write the ITCH trailer
// and the manifest, return 0. SIGUSR1 logs the counters.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/start_mode.hpp"

namespace nexus::engine {

struct ServerCounters {
    std::uint64_t sessions_total = 0, logins = 0, login_failures = 0, protocol_errors = 0, slow_disconnects = 0,
                  idle_disconnects = 0, refused_connections = 0, orders = 0, replaces = 0, cancels = 0, io_rejects = 0,
                  kept_for_absent = 0, replayed_logins = 0;
};

class ServerImpl;

class Server {
public:
    // Recovers the journal directory and (to serve) binds the listening
    // socket (port() is valid afterwards); run() serves. StartMode::Inspect
    // only reads and checks the journal: nothing is written and nothing
    // listens.
    explicit Server(Config cfg, StartMode mode = StartMode::Serve);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] const Config& config() const noexcept;
    [[nodiscard]] std::uint64_t recovered_commands() const noexcept;
    // What start-up found: answers in the store, answers journaled but never sent.
    [[nodiscard]] std::uint64_t recovered_answers() const noexcept;
    [[nodiscard]] std::uint64_t unsent_answers() const noexcept;
    // The SoupBinTCP session name of this journal.
    [[nodiscard]] const std::string& session_name() const noexcept;
    // The number the user's next Sequenced Data message will get (I/O thread,
    // or while the server is not running).
    [[nodiscard]] std::uint64_t next_sequence(std::uint32_t user) const noexcept;

    // Serves until SIGINT/SIGTERM or stop(); returns the exit status.
    int run();
    // Thread-safe: begins the same shutdown as SIGTERM.
    void stop();

    // Call only while the shards are not running (before run() or after it
    // returned). f as for ShardCore::for_each_order / for_each_book.
    template <class F>
    void for_each_order(F&& f) const {
        for_each_core([&](const ShardCore& c) { c.for_each_order(f); });
    }
    template <class F>
    void for_each_book(F&& f) const {
        for_each_core([&](const ShardCore& c) { c.for_each_book(f); });
    }
    // Every shard's core, in shard order (same condition).
    void for_each_core(const std::function<void(const ShardCore&)>& f) const;
    [[nodiscard]] const ServerCounters& counters() const noexcept;
    [[nodiscard]] std::uint64_t shard_trades() const;

private:
    std::unique_ptr<ServerImpl> impl_;
};

}  // namespace nexus::engine

// engine/src/server_impl.hpp — the server's state and its parts (private to
// the engine library). Its member functions live in three files, one job each:
//   server.cpp          the I/O loop, accept, signals, shutdown, counters;
//   server_startup.cpp  recovery of the journal directory and the ITCH file;
//   server_flow.cpp     requests in (validation, routing to the shards) and
//                       answers out (shards -> outbound store -> sessions).
#pragma once

#include <utility>  // before Asio: its headers use std::exchange without it

#include <boost/asio.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/dir_lock.hpp"
#include "nexus/engine/event.hpp"
#include "nexus/engine/outbound_store.hpp"
#include "nexus/engine/posix_file.hpp"
#include "nexus/engine/protocol.hpp"
#include "nexus/engine/router.hpp"
#include "nexus/engine/server.hpp"
#include "nexus/engine/start_mode.hpp"
#include "nexus/engine/venue.hpp"
#include "session.hpp"
#include "session_host.hpp"
#include "shard.hpp"

namespace nexus::engine {

class ServerImpl final : private ShardListener, private SessionHost {
public:
    ServerImpl(Config cfg, StartMode mode);
    ServerImpl(const ServerImpl&) = delete;
    ServerImpl& operator=(const ServerImpl&) = delete;
    ~ServerImpl();

    int run();
    void stop();

    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] const Config& config() const noexcept override { return cfg_; }
    [[nodiscard]] std::uint64_t recovered_commands() const noexcept { return recovered_.commands; }
    [[nodiscard]] std::uint64_t recovered_answers() const noexcept { return recovered_.stored; }
    [[nodiscard]] std::uint64_t unsent_answers() const noexcept { return recovered_.unsent; }
    [[nodiscard]] const std::string& session_name() const noexcept override { return manifest_.session; }
    [[nodiscard]] std::uint64_t next_sequence(std::uint32_t user) const noexcept { return store_.next_seq(user); }
    [[nodiscard]] const ServerCounters& server_counters() const noexcept { return counters_; }
    [[nodiscard]] const std::vector<std::unique_ptr<Shard>>& shards() const noexcept { return shards_; }

private:
    using tcp = boost::asio::ip::tcp;
    using SessionPtr = std::shared_ptr<Session>;

    // ---- server_startup.cpp
    void recover();
    void write_itch_header();
    void write_itch_trailer();

    // ---- server.cpp
    void accept();
    void wait_signal();
    void begin_shutdown(const char* why);
    void finish();
    void log_counters(const char* when);

    // ---- server_flow.cpp: answers out
    void events_ready(Shard& shard) override;
    void shard_failed(Shard& shard, const std::string& why) override;
    void drain(Shard& shard);
    void deliver(const std::vector<std::uint8_t>& events, std::uint8_t source);
    void sequence(std::uint32_t user, std::uint8_t source, std::span<const std::uint8_t> packet);
    void commit_outbound();
    void store_failed(const std::string& why);
    void journal_failed(Shard& shard, const std::string& why);
    void itch_timer();
    // ---- server_flow.cpp: requests in
    void io_reject(Session& s, std::uint64_t token, RejectReason why);
    template <class Msg, class Fn>
    void route(Session& s, const Msg& m, std::uint64_t reply_token, Fn fn);

    // ---- SessionHost (server_flow.cpp)
    [[nodiscard]] ServerCounters& counters() noexcept override { return counters_; }
    [[nodiscard]] bool shutting_down() const noexcept override { return shutting_down_; }
    [[nodiscard]] OutboundStore& store() noexcept override { return store_; }
    [[nodiscard]] std::optional<std::uint32_t> find_user(const std::string& name) const override;
    [[nodiscard]] bool logged_in(std::uint32_t user) const override { return user_sessions_[user] != nullptr; }
    void claim_user(std::uint32_t user, Session& s) override { user_sessions_[user] = &s; }
    void release_user(std::uint32_t user, const Session& s) override;
    void request(Session& s, const wire::Inbound& in) override;
    void commit_inline() override;
    void mark_dirty(Session& s) override;
    void session_closed(Session& s) override;

    Config cfg_;
    StartMode mode_;
    Router router_;
    OutboundStore store_;
    std::optional<DirectoryLock> lock_;
    Manifest manifest_;
    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    boost::asio::signal_set signals_;
    std::optional<boost::asio::steady_timer> shutdown_timer_;
    boost::asio::steady_timer itch_flush_timer_{io_};
    std::vector<std::unique_ptr<Shard>> shards_;
    PosixFile itch_file_;  // the market-data file (itch_out)
    int itch_fd_ = -1;     // its descriptor, or -1
    std::unordered_map<std::string, std::uint32_t> user_index_;
    std::vector<Session*> user_sessions_;  // per user: the logged-in session
    std::unordered_set<SessionPtr> sessions_;
    std::vector<SessionPtr> dirty_, dirty_list_;  // sessions with something to send
    std::uint64_t session_ids_ = 0;
    struct {
        std::uint64_t commands = 0, stored = 0, unsent = 0;
    } recovered_;
    std::vector<std::uint8_t> drain_buf_, reject_buf_;
    ServerCounters counters_;
    bool shutting_down_ = false, finished_ = false, store_failed_ = false;
    int status_ = 0;
};

}  // namespace nexus::engine

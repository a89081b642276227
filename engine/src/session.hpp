// engine/src/session.hpp — one client connection: SoupBinTCP framing, login,
// heartbeats, replay of the user's stream from the outbound store, and the
// writes to the socket (private to the engine library).
//
// A session only queues what it sends: the server commits the outbound store
// and then calls pump() on every session marked dirty, so no byte leaves for
// a client before the store has been written.
//
// A session that ends (logout, protocol error, End of Session) shuts its
// sending side once everything is written, reads and drops input from then
// on, and closes when the client has acknowledged every byte (or closed its
// side; a second at most): closing a socket with unread input resets the
// connection, and a reset destroys what the kernel has not delivered yet.
#pragma once

#include <utility>  // before Asio: its headers use std::exchange without it

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nexus/engine/protocol.hpp"
#include "session_host.hpp"

namespace nexus::engine {

class Session : public std::enable_shared_from_this<Session> {
public:
    using tcp = boost::asio::ip::tcp;

    Session(SessionHost& host, boost::asio::io_context& io, tcp::socket sock, std::uint64_t id);
    void start();
    int user() const noexcept { return user_; }
    // Logged in and caught up with the stream: new answers are queued directly.
    bool live() const noexcept { return user_ >= 0 && live_; }

    // A Sequenced Data packet of this user's stream (already stored).
    void queue(std::span<const std::uint8_t> packet);
    // Shutdown: no further request is processed. Input is still read and
    // dropped, so that closing the socket later does not reset the
    // connection (a reset can destroy the answers and End of Session that
    // are on their way to the client).
    void stop_reading() noexcept { discard_input_ = true; }
    // Shutdown: End of Session once the session has every answer of its stream.
    void end_session();
    void close_at_deadline();
    void close(const std::string& why);
    // After the store is committed: more of the replay if the session is
    // catching up, End of Session if it is due, and the next write.
    void pump();

    // The server's list of sessions to pump: set_dirty() is true if the
    // session was not in it yet.
    bool set_dirty() noexcept { return !std::exchange(dirty_, true); }
    void clear_dirty() noexcept { dirty_ = false; }

private:
    // A replaying session reads from the store until this much is queued for it.
    static constexpr std::size_t kReplayFill = 64 * 1024;

    std::string user_name() const;
    // An unsequenced packet (login answer, heartbeat, debug, end of session).
    wire::Encoder encoder();
    // Writes go out after the store is committed (the server's commit_outbound).
    void flush();
    // Closes once what is queued is written; a replay in progress stops
    // (the client asked to leave, or broke the protocol).
    void close_after_flush();
    // Starts a write of what is pending, or disconnects a client that does not read.
    void send();
    void release_user();
    void half_close();
    void linger();
    void read();
    void on_read(boost::system::error_code ec, std::size_t n);
    void protocol_error(const std::string& what);
    bool refuse_login(char why, const std::string& user, const std::string& because);
    bool login(const wire::Packet& pk);
    // Returns false if the session ended.
    bool handle(const wire::Packet& pk);
    void tick();

    SessionHost& host_;
    tcp::socket sock_;
    boost::asio::steady_timer timer_;
    std::uint64_t id_;
    std::string peer_;
    wire::Deframer deframer_;
    std::vector<std::uint8_t> rbuf_;
    std::size_t rlen_ = 0;
    std::vector<std::uint8_t> pending_, inflight_;
    bool writing_ = false, closing_ = false, closed_ = false;
    bool dirty_ = false;           // in the server's list of sessions to pump
    bool live_ = false;            // caught up with the user's stream
    bool stream_stopped_ = false;  // closing on the client's logout or error: no more of the stream is sent
    bool reading_ = false;         // a read is outstanding
    bool discard_input_ = false;   // shutdown or closing: input is read and dropped
    bool half_closed_ = false;     // our side of the connection is shut
    std::chrono::steady_clock::time_point half_closed_at_;
    bool end_requested_ = false, end_sent_ = false;
    std::uint64_t replay_next_ = 0;  // while catching up: the next message to read from the store
    int user_ = -1;
    std::chrono::steady_clock::time_point last_rx_, last_tx_;
};

}  // namespace nexus::engine

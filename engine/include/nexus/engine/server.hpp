// nexus/engine/server.hpp — the matching engine server (Boost.Asio).
//
// Threads:
//  * one I/O thread runs the io_context: accepts, reads and deframes client
//    packets, has the Router (router.hpp) validate every field, keep each
//    user's token map and assign order IDs, and queues the Commands for the
//    shards; it also numbers the shards' answers into each user's stream,
//    appends them to the outbound store and writes them to the clients;
//  * one thread per shard (shard.hpp): journals, matches, commits, and only
//    then hands the batch's answers to the I/O thread. Nothing a client can
//    do blocks a shard: the I/O thread never waits on a socket and the shards
//    never touch one.
//
// Sequenced delivery (docs/protocol.md §5): every Sequenced Data message is
// appended to the outbound store (outbound_store.hpp) with its number in its
// user's stream, whether or not the user is logged in, and no byte leaves for
// a client before the store has been written (sessions only queue; the I/O
// loop commits the store, then starts the writes: commit_outbound()). A login
// asks for the stream from a number: the session replays from the store, a
// chunk at a time as the client reads, then carries on live.
//
// A client whose queued outbound bytes pass `outbound_limit` is disconnected
// (with a log line); the others are not affected, and what it missed is in
// the store for its next login.
//
// Start-up (recovery.hpp) locks the journal directory, checks the
// configuration against the manifest, replays every shard's journal against
// the outbound store, and rewrites the ITCH file from the journal.
// SIGINT/SIGTERM: stop accepting and processing requests, let the shards
// finish and commit what they hold, answer all of it, send End of Session to
// every session once it has its answers, wait up to shutdown_timeout_ms for
// the clients to read them, write the ITCH trailer and the manifest, return 0.
// SIGUSR1 logs the counters.
//
// A session that ends (logout, protocol error, End of Session) shuts its
// sending side once everything is written, reads and drops input from then
// on, and closes when the client has acknowledged every byte (or closed its
// side; a second at most): closing a socket with unread input resets the
// connection, and a reset destroys what the kernel has not delivered yet.
#pragma once

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/dir_lock.hpp"
#include "nexus/engine/journal.hpp"
#include "nexus/engine/outbound_store.hpp"
#include "nexus/engine/protocol.hpp"
#include "nexus/engine/recovery.hpp"
#include "nexus/engine/router.hpp"
#include "nexus/engine/shard.hpp"
#include "nexus/engine/venue.hpp"

namespace nexus::engine {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct ServerCounters {
    std::uint64_t sessions_total = 0, logins = 0, login_failures = 0, protocol_errors = 0, slow_disconnects = 0,
                  idle_disconnects = 0, refused_connections = 0, orders = 0, replaces = 0, cancels = 0, io_rejects = 0,
                  kept_for_absent = 0, replayed_logins = 0;
};

class Server final : private ShardListener {
public:
    // Recovers the journal directory and (to serve) binds the listening
    // socket (port() is valid afterwards); run() serves. StartMode::Inspect
    // only reads and checks the journal: nothing is written and nothing
    // listens.
    explicit Server(Config cfg, StartMode mode = StartMode::Serve)
        : cfg_(std::move(cfg)), mode_(mode), router_(cfg_), store_(cfg_.users.size()), acceptor_(io_), signals_(io_) {
        for (std::size_t i = 0; i < cfg_.users.size(); ++i) user_index_[cfg_.users[i].name] = static_cast<std::uint32_t>(i);
        user_sessions_.resize(cfg_.users.size());
        recover();
        if (mode_ == StartMode::Serve) {
            tcp::endpoint ep(asio::ip::make_address(cfg_.listen_address), cfg_.listen_port);
            acceptor_.open(ep.protocol());
            acceptor_.set_option(tcp::acceptor::reuse_address(true));
            acceptor_.bind(ep);
            acceptor_.listen(1024);
        }
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server() {
        for (auto& s : shards_) s->stop();
    }

    [[nodiscard]] std::uint16_t port() const { return acceptor_.is_open() ? acceptor_.local_endpoint().port() : 0; }
    [[nodiscard]] const Config& config() const noexcept { return cfg_; }
    [[nodiscard]] std::uint64_t recovered_commands() const noexcept { return recovered_.commands; }
    // What start-up found: answers in the store, answers journaled but never sent.
    [[nodiscard]] std::uint64_t recovered_answers() const noexcept { return recovered_.stored; }
    [[nodiscard]] std::uint64_t unsent_answers() const noexcept { return recovered_.unsent; }
    // The SoupBinTCP session name of this journal.
    [[nodiscard]] const std::string& session_name() const noexcept { return manifest_.session; }
    // The number the user's next Sequenced Data message will get (I/O thread,
    // or while the server is not running).
    [[nodiscard]] std::uint64_t next_sequence(std::uint32_t user) const noexcept { return store_.next_seq(user); }

    // Serves until SIGINT/SIGTERM or stop(); returns the exit status.
    int run() {
        if (mode_ != StartMode::Serve) throw std::logic_error("Server::run: opened to inspect only");
        if (!cfg_.inline_matching)
            for (auto& s : shards_) s->start(*this, itch_fd_);
        else
            itch_timer();
        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.add(SIGUSR1);
        wait_signal();
        accept();
        spdlog::info("listening on {}:{} ({} instruments, {} users, {} shards matched {}, sync {}, I/O {}; session {})",
                     cfg_.listen_address, port(), cfg_.instruments.size(), cfg_.users.size(), cfg_.shards,
                     cfg_.inline_matching ? "inline on the I/O thread" : "on their own threads",
                     cfg_.sync == SyncPolicy::Os ? "os" : "fsync", cfg_.busy_poll ? "busy-polls" : "blocks in epoll",
                     manifest_.session);
        // Every handler that is ready runs; with inline matching one journal
        // commit then answers all the commands they applied (group commit
        // across sessions); then one write of the outbound store covers every
        // answer they produced, and only then do the sessions' writes start.
        // When nothing is ready the thread keeps polling for io_spin_us after
        // the last work (answers from a shard usually follow within
        // microseconds, and a sleeping thread takes longer than that to
        // wake), then sleeps in epoll until something happens; io_poll busy
        // never sleeps.
        const auto spin = std::chrono::microseconds(cfg_.io_spin_us);
        auto last_work = std::chrono::steady_clock::now();
        while (!io_.stopped()) {
            const std::size_t ran = io_.poll();
            commit_inline();
            commit_outbound();
            if (ran > 0 || cfg_.busy_poll || !dirty_.empty()) {
                if (ran > 0 && spin.count() > 0) last_work = std::chrono::steady_clock::now();
                continue;
            }
            if (spin.count() > 0 && std::chrono::steady_clock::now() - last_work < spin) continue;
            io_.run_one();
            last_work = std::chrono::steady_clock::now();
        }
        for (auto& s : shards_) s->stop();
        log_counters("at exit");
        return status_;
    }
    // Thread-safe: begins the same shutdown as SIGTERM.
    void stop() {
        asio::post(io_, [this] { begin_shutdown("stop requested"); });
    }

    // Call only while the shards are not running (before run() or after it returned).
    template <class F>
    void for_each_order(F&& f) const {
        for (const auto& s : shards_) s->core().for_each_order(f);
    }
    template <class F>
    void for_each_book(F&& f) const {
        for (const auto& s : shards_) s->core().for_each_book(f);
    }
    [[nodiscard]] const ServerCounters& counters() const noexcept { return counters_; }
    [[nodiscard]] std::uint64_t shard_trades() const {
        std::uint64_t n = 0;
        for (const auto& s : shards_) n += s->trades.load();
        return n;
    }

private:
    class Session;
    using SessionPtr = std::shared_ptr<Session>;
    // A replaying session reads from the store until this much is queued for it.
    static constexpr std::size_t kReplayFill = 64 * 1024;

    // ---- recovery --------------------------------------------------------------

    void recover() {
        for (unsigned i = 0; i < cfg_.shards; ++i) shards_.push_back(std::make_unique<Shard>(cfg_, i));
        if (mode_ == StartMode::Serve) {
            std::error_code ec;
            std::filesystem::create_directories(cfg_.journal_dir, ec);
            if (ec) throw JournalError(cfg_.journal_dir + ": cannot create the journal directory: " + ec.message());
            lock_.emplace(DirectoryLock::exclusive(cfg_.journal_dir));
        } else if (std::filesystem::is_directory(cfg_.journal_dir)) {
            lock_ = DirectoryLock::shared_if_present(cfg_.journal_dir);
        }
        // The ITCH file is rewritten from the journal: its header now, the
        // replayed market data as recovery produces it. It is built beside
        // the old one and takes its place only once recovery succeeded (a
        // refused start leaves the old file as it was).
        std::function<void(std::span<const std::uint8_t>)> itch;
        const std::string itch_tmp = cfg_.itch_out + ".tmp";
        if (mode_ == StartMode::Serve && !cfg_.itch_out.empty()) {
            itch_file_ = PosixFile(itch_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
            itch_fd_ = itch_file_.fd();
            feed::ItchEncoder head;
            const std::uint64_t ts = itch_time(wall_ns());
            head.system_event(ts, 'O');
            for (std::size_t i = 0; i < cfg_.instruments.size(); ++i)
                head.directory(static_cast<std::uint16_t>(i + 1), ts, cfg_.instruments[i].symbol);
            head.system_event(ts, 'S');
            head.system_event(ts, 'Q');
            for (std::size_t i = 0; i < cfg_.instruments.size(); ++i)
                head.trading_action(static_cast<std::uint16_t>(i + 1), ts, cfg_.instruments[i].symbol, 'T');
            write_fd_all(itch_fd_, head.bytes().data(), head.bytes().size(), cfg_.itch_out);
            itch = [this](std::span<const std::uint8_t> b) { write_fd_all(itch_fd_, b.data(), b.size(), cfg_.itch_out); };
        }
        std::vector<ShardCore*> cores;
        for (auto& s : shards_) cores.push_back(&s->core());
        Recovered r;
        try {
            r = Recovery(cfg_, mode_, std::move(cores), router_, store_, std::move(itch)).run();
        } catch (...) {
            if (itch_file_.is_open()) std::filesystem::remove(itch_tmp);
            throw;
        }
        if (itch_file_.is_open() && std::rename(itch_tmp.c_str(), cfg_.itch_out.c_str()) != 0)
            throw JournalError(cfg_.itch_out + ": cannot replace it with " + itch_tmp + ": " + std::strerror(errno));
        for (std::size_t i = 0; i < r.journals.size(); ++i) shards_[i]->open_journal(std::move(r.journals[i]));
        manifest_ = r.manifest;
        recovered_ = {r.commands, r.stored, r.unsent};
    }

    // ---- accept, signals, shutdown -------------------------------------------

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
            if (ec) {
                if (ec != asio::error::operation_aborted && !shutting_down_) {
                    spdlog::warn("accept: {}", ec.message());
                    accept();
                }
                return;
            }
            if (shutting_down_) return;
            if (sessions_.size() >= cfg_.max_sessions) {
                ++counters_.refused_connections;
                spdlog::warn("refused a connection: {} sessions open (max_sessions)", sessions_.size());
                boost::system::error_code ignore;
                sock.close(ignore);
            } else {
                auto s = std::make_shared<Session>(*this, std::move(sock), ++session_ids_);
                sessions_.insert(s);
                ++counters_.sessions_total;
                s->start();
            }
            accept();
        });
    }

    void wait_signal() {
        signals_.async_wait([this](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGUSR1) {
                log_counters("on request");
                wait_signal();
                return;
            }
            begin_shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
        });
    }

    // Nothing new is read; everything already journaled or queued for a shard
    // is journaled, answered and stored; then every session gets End of
    // Session after its answers.
    void begin_shutdown(const char* why) {
        if (shutting_down_) return;
        shutting_down_ = true;
        spdlog::info("shutting down ({}): no new connections or requests; answering what was accepted", why);
        boost::system::error_code ignore;
        acceptor_.close(ignore);
        for (const auto& s : sessions_) s->stop_reading();
        for (auto& s : shards_) s->stop();  // each finishes its queue and commits its journal
        for (auto& s : shards_) drain(*s);
        commit_inline();
        for (auto& s : shards_) {
            try {
                s->flush_inline_itch(itch_fd_);
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
            }
        }
        std::vector<SessionPtr> open(sessions_.begin(), sessions_.end());
        for (auto& s : open) s->end_session();
        commit_outbound();
        shutdown_timer_.emplace(io_, std::chrono::milliseconds(cfg_.shutdown_timeout_ms));
        shutdown_timer_->async_wait([this](boost::system::error_code) {
            std::vector<SessionPtr> left(sessions_.begin(), sessions_.end());
            for (auto& s : left) s->close_at_deadline();
            finish();
        });
        if (sessions_.empty()) finish();
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        if (itch_fd_ >= 0) {
            feed::ItchEncoder tail;
            const std::uint64_t ts = itch_time(wall_ns());
            tail.system_event(ts, 'M');
            tail.system_event(ts, 'E');
            tail.system_event(ts, 'C');
            try {
                write_fd_all(itch_fd_, tail.bytes().data(), tail.bytes().size(), cfg_.itch_out);
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
            }
        }
        // A clean stop records the final counts, so that a later cut at a
        // record boundary is found at the next start.
        if (status_ == 0) {
            try {
                store_.commit();
                for (auto& s : shards_) manifest_.journal_records[s->index()] = s->journal_records();
                manifest_.outbound_records = store_.records();
                write_manifest(cfg_.journal_dir, manifest_);
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
                status_ = 1;
            }
        }
        boost::system::error_code ignore;
        signals_.cancel(ignore);
        if (shutdown_timer_) shutdown_timer_->cancel();
        itch_flush_timer_.cancel();
        io_.stop();
    }

    void log_counters(const char* when) {
        std::uint64_t cmds = 0, trades = 0, rejects = 0, commits = 0, bytes = 0, max_batch = 0;
        std::size_t depth = 0, max_depth = 0;
        for (auto& s : shards_) {
            cmds += s->commands.load();
            trades += s->trades.load();
            rejects += s->rejects.load();
            commits += s->commits.load();
            bytes += s->journal_bytes.load();
            max_batch = std::max<std::uint64_t>(max_batch, s->max_batch.load());
            depth += s->depth();
            max_depth = std::max(max_depth, s->max_depth());
        }
        const auto& c = counters_;
        spdlog::info("counters {}: sessions {} open, {} total, {} logins ({} replaying), {} failed logins, {} protocol errors, "
                     "{} slow-client and {} idle disconnects, {} refused connections",
                     when, sessions_.size(), c.sessions_total, c.logins, c.replayed_logins, c.login_failures, c.protocol_errors,
                     c.slow_disconnects, c.idle_disconnects, c.refused_connections);
        spdlog::info("counters {}: orders {}, replaces {}, cancels {}, trades {}, rejects {} (validation {}, matching {}), "
                     "answers kept for users not logged in {}, outbound store {} messages",
                     when, c.orders, c.replaces, c.cancels, trades, c.io_rejects + rejects, c.io_rejects, rejects,
                     c.kept_for_absent, store_.records());
        spdlog::info("counters {}: commands journaled {} in {} commits ({} bytes, largest batch {}), "
                     "shard queue depth {} now, {} at most; {} commands recovered at start",
                     when, cmds, commits, bytes, max_batch, depth, max_depth, recovered_.commands);
    }

    // ---- shard answers -> store -> clients ---------------------------------------

    // Shard thread: events are ready.
    void events_ready(Shard& shard) override {
        asio::post(io_, [this, &shard] { drain(shard); });
    }
    void shard_failed(Shard& shard, const std::string& why) override {
        asio::post(io_, [this, &shard, why] { journal_failed(shard, why); });
    }

    void drain(Shard& shard) {
        shard.take_events(drain_buf_);
        deliver(drain_buf_, static_cast<std::uint8_t>(shard.index()));
        drain_buf_.clear();
    }
    // Numbers each answer into its user's stream (the store) and queues it
    // for the user's session if that session is live; a replaying session
    // reads it from the store in turn.
    void deliver(const std::vector<std::uint8_t>& events, std::uint8_t source) {
        for_each_event(events, [&](std::uint32_t user, std::span<const std::uint8_t> packet) { sequence(user, source, packet); });
    }
    void sequence(std::uint32_t user, std::uint8_t source, std::span<const std::uint8_t> packet) {
        if (store_failed_) return;
        store_.append(user, source, packet);
        Session* s = user_sessions_[user];
        if (!s) ++counters_.kept_for_absent;
        else if (s->live()) s->queue(packet);
    }
    void mark_dirty(Session& s) {
        if (s.dirty_) return;
        s.dirty_ = true;
        dirty_.push_back(s.shared_from_this());
    }
    // The store first (write, and fdatasync under `sync fsync`), then the
    // sessions' writes: no answer reaches a client before it is stored.
    void commit_outbound() {
        if (store_failed_) return;
        try {
            store_.commit();
        } catch (const std::exception& e) {
            store_failed(e.what());
            return;
        }
        dirty_list_.swap(dirty_);
        for (auto& s : dirty_list_) {
            s->dirty_ = false;
            s->pump();
        }
        dirty_list_.clear();
    }
    // The store cannot be written: nothing queued may be sent. Every session
    // is closed without its queued bytes and the engine stops.
    void store_failed(const std::string& why) {
        spdlog::critical("{}; no further answer can be stored or sent, shutting down", why);
        store_failed_ = true;
        status_ = 1;
        std::vector<SessionPtr> open(sessions_.begin(), sessions_.end());
        for (auto& s : open) s->close("outbound store failure");
        begin_shutdown("outbound store failure");
    }
    // I/O thread: a journal write failed; nothing more can be acknowledged.
    void journal_failed(Shard& shard, const std::string& why) {
        spdlog::critical("shard {}: {}; no further command can be journaled, shutting down", shard.index(), why);
        status_ = 1;
        begin_shutdown("journal failure");
    }
    // Inline matching: commit what the last read applied, then answer.
    void commit_inline() {
        if (!cfg_.inline_matching) return;
        for (auto& s : shards_) {
            if (!s->inline_pending()) continue;
            try {
                deliver(s->commit_inline(itch_fd_), static_cast<std::uint8_t>(s->index()));
            } catch (const std::exception& e) {
                cfg_.inline_matching = false;  // nothing more is applied or answered
                journal_failed(*s, e.what());
                return;
            }
        }
    }
    // Inline matching: market data reaches the file at least every 100 ms.
    void itch_timer() {
        itch_flush_timer_.expires_after(std::chrono::milliseconds(100));
        itch_flush_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec || finished_) return;
            for (auto& s : shards_) {
                try {
                    s->flush_inline_itch(itch_fd_);
                } catch (const std::exception& e) {
                    spdlog::error("{}", e.what());
                }
            }
            itch_timer();
        });
    }

    // ---- validation and routing (I/O thread) ------------------------------------

    // A validation reject is a sequenced answer like any other (it is stored,
    // under the I/O thread's source number).
    void io_reject(Session& s, std::uint64_t token, char why) {
        ++counters_.io_rejects;
        reject_buf_.clear();
        wire::Encoder(reject_buf_).rejected(wall_ns(), token, why);
        sequence(static_cast<std::uint32_t>(s.user()), outbound_format::kFromValidation, reject_buf_);
    }
    // Validates with the router; routes the command or rejects.
    template <class Msg, class Fn>
    void route(Session& s, const Msg& m, std::uint64_t reply_token, Fn fn) {
        if (shutting_down_) return io_reject(s, reply_token, wire::reason::Halted);
        Command c;
        if (const char why = (router_.*fn)(static_cast<std::uint32_t>(s.user()), m, c)) return io_reject(s, reply_token, why);
        Shard& shard = *shards_[router_.shard_of(c.instrument)];
        if (cfg_.inline_matching) shard.apply_inline(c);
        else shard.push(c);
    }
    void on_enter(Session& s, const wire::EnterOrder& o) {
        ++counters_.orders;
        route(s, o, o.token, &Router::enter);
    }
    void on_replace(Session& s, const wire::ReplaceOrder& r) {
        ++counters_.replaces;
        route(s, r, r.new_token, &Router::replace);
    }
    void on_cancel(Session& s, const wire::CancelOrder& x) {
        ++counters_.cancels;
        route(s, x, x.token, &Router::cancel);
    }

    // ---- sessions ----------------------------------------------------------------

    class Session : public std::enable_shared_from_this<Session> {
    public:
        Session(Server& srv, tcp::socket sock, std::uint64_t id)
            : srv_(srv), sock_(std::move(sock)), timer_(srv.io_), id_(id), deframer_(wire::kMaxInboundLength) {
            boost::system::error_code ec;
            sock_.set_option(tcp::no_delay(true), ec);
            const auto ep = sock_.remote_endpoint(ec);
            peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
            rbuf_.resize(1 << 16);
            last_rx_ = last_tx_ = std::chrono::steady_clock::now();
        }
        void start() {
            spdlog::debug("session {} connected from {}", id_, peer_);
            read();
            tick();
        }
        int user() const noexcept { return user_; }
        // Logged in and caught up with the stream: new answers are queued directly.
        bool live() const noexcept { return user_ >= 0 && live_; }

        // An unsequenced packet (login answer, heartbeat, debug, end of session).
        wire::Encoder encoder() {
            last_tx_ = std::chrono::steady_clock::now();
            return wire::Encoder(pending_);
        }
        // A Sequenced Data packet of this user's stream (already stored).
        void queue(std::span<const std::uint8_t> packet) {
            if (closed_ || end_sent_ || stream_stopped_) return;  // it stays in the store
            pending_.insert(pending_.end(), packet.begin(), packet.end());
            flush();
        }
        // Writes go out after the store is committed (Server::commit_outbound).
        void flush() {
            if (!closed_) srv_.mark_dirty(*this);
        }
        // Shutdown: no further request is processed. Input is still read
        // and dropped, so that closing the socket later does not reset the
        // connection (a reset can destroy the answers and End of Session
        // that are on their way to the client).
        void stop_reading() noexcept { discard_input_ = true; }
        // Shutdown: End of Session once the session has every answer of its stream.
        void end_session() {
            end_requested_ = true;
            flush();
        }
        // Closes once what is queued is written; a replay in progress stops
        // (the client asked to leave, or broke the protocol).
        void close_after_flush() {
            closing_ = true;
            stream_stopped_ = true;
            flush();
        }
        void close_at_deadline() {
            if (closed_) return;
            if (pending_.empty() && inflight_.empty() && (end_sent_ || stream_stopped_ || user_ < 0)) return close("shutdown deadline");
            spdlog::warn("session {} ({}, user {}): {} bytes not read by the client within shutdown_timeout_ms{}", id_, peer_, user_name(),
                         pending_.size() + inflight_.size(),
                         user_ >= 0 ? "; it can resume from the store at its next login" : "");
            close("shutdown deadline");
        }
        void close(const std::string& why) {
            if (closed_) return;
            closed_ = true;
            spdlog::debug("session {} ({}): {}", id_, peer_, why);
            boost::system::error_code ignore;
            timer_.cancel();
            sock_.shutdown(tcp::socket::shutdown_both, ignore);
            sock_.close(ignore);
            release_user();
            auto self = shared_from_this();
            srv_.sessions_.erase(self);
            if (srv_.shutting_down_ && srv_.sessions_.empty()) srv_.finish();
        }

        // After the store is committed: more of the replay if the session is
        // catching up, End of Session if it is due, and the next write.
        void pump() {
            if (closed_) return;
            if (user_ >= 0 && !live_ && !stream_stopped_) {
                const auto user = static_cast<std::uint32_t>(user_);
                try {
                    while (pending_.size() < kReplayFill && replay_next_ < srv_.store_.next_seq(user))
                        replay_next_ = srv_.store_.read_chunk(user, replay_next_, pending_);
                } catch (const std::exception& e) {
                    spdlog::error("session {} (user {}): cannot replay: {}", id_, user_name(), e.what());
                    encoder().debug("the server cannot replay your stream");
                    close_after_flush();
                }
                if (replay_next_ >= srv_.store_.next_seq(user)) live_ = true;
            }
            if (end_requested_ && !end_sent_ && !stream_stopped_ && (user_ < 0 || live_)) {
                encoder().packet(wire::kEndOfSession);
                end_sent_ = true;
                closing_ = true;
            }
            send();
        }

    private:
        friend class Server;
        std::string user_name() const { return user_ >= 0 ? srv_.cfg_.users[static_cast<std::size_t>(user_)].name : "-"; }

        // Starts a write of what is pending, or disconnects a client that does not read.
        void send() {
            if (closed_) return;
            if (!srv_.shutting_down_ && pending_.size() + inflight_.size() > srv_.cfg_.outbound_limit) {
                ++srv_.counters_.slow_disconnects;
                spdlog::warn("session {} ({}, user {}): {} bytes queued for a client that is not reading; disconnecting "
                             "(its answers stay in the store for its next login)",
                             id_, peer_, user_name(), pending_.size() + inflight_.size());
                close("outbound queue full");
                return;
            }
            if (writing_) return;
            if (pending_.empty()) {
                if (closing_) half_close();
                return;
            }
            inflight_.swap(pending_);
            writing_ = true;
            last_tx_ = std::chrono::steady_clock::now();
            asio::async_write(sock_, asio::buffer(inflight_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                self->writing_ = false;
                self->inflight_.clear();
                if (ec) {
                    self->close("write failed: " + ec.message());
                    return;
                }
                self->flush();  // the rest of the queue, more of a replay, or the close
            });
        }

        void release_user() {
            if (user_ >= 0 && srv_.user_sessions_[static_cast<std::size_t>(user_)] == this)
                srv_.user_sessions_[static_cast<std::size_t>(user_)] = nullptr;
        }
        // Everything is written: our side of the connection ends (FIN after the
        // data), input is dropped from now on, and the socket closes when the
        // client closes its side or has acknowledged every byte (then a reset
        // can no longer destroy anything), or a second later at most.
        void half_close() {
            if (half_closed_) return;
            half_closed_ = true;
            half_closed_at_ = std::chrono::steady_clock::now();
            discard_input_ = true;
            release_user();  // it carries no more of the stream: the user may log in again at once
            boost::system::error_code ignore;
            sock_.shutdown(tcp::socket::shutdown_send, ignore);
            if (!reading_) read();
            timer_.cancel();  // the heartbeat tick ends here
            linger();
        }
        void linger() {
            timer_.expires_after(std::chrono::milliseconds(10));
            timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
                if (ec || self->closed_) return;
                int unacknowledged = 0;
                if (::ioctl(self->sock_.native_handle(), SIOCOUTQ, &unacknowledged) != 0) unacknowledged = 0;
                if (unacknowledged == 0) return self->close("every byte acknowledged");
                if (std::chrono::steady_clock::now() - self->half_closed_at_ >= std::chrono::seconds(1))
                    return self->close("the client did not take the last bytes within a second");
                self->linger();
            });
        }

        void read() {
            reading_ = true;
            sock_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                  [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                      self->on_read(ec, n);
                                  });
        }
        void on_read(boost::system::error_code ec, std::size_t n) {
            reading_ = false;
            if (closed_) return;
            if (discard_input_) {
                if (ec) return close(ec == asio::error::eof ? "client closed the connection" : "read failed: " + ec.message());
                rlen_ = 0;
                return read();
            }
            if (ec) {
                if (rlen_ > 0)
                    spdlog::info("session {} ({}, user {}): disconnected in the middle of a packet ({} bytes unread)", id_,
                                 peer_, user_name(), rlen_);
                close(ec == asio::error::eof ? "client closed the connection" : "read failed: " + ec.message());
                return;
            }
            last_rx_ = std::chrono::steady_clock::now();
            rlen_ += n;
            std::size_t used = 0;
            wire::Packet pk;
            // With inline matching, commands are committed and answered after
            // every ready handler has run (see run()); a session that is about
            // to be closed has its answers committed first.
            for (;;) {
                const auto st = deframer_.next(std::span<const std::uint8_t>(rbuf_.data(), rlen_), used, pk);
                if (st == wire::Deframer::Status::NeedMore) break;
                if (st == wire::Deframer::Status::Error) {
                    srv_.commit_inline();
                    return protocol_error(deframer_.error());
                }
                const bool more = handle(pk);
                if (!more || closing_ || closed_) {
                    srv_.commit_inline();
                    return;
                }
            }
            if (used > 0) {
                std::memmove(rbuf_.data(), rbuf_.data() + used, rlen_ - used);
                rlen_ -= used;
            }
            read();
        }
        void protocol_error(const std::string& what) {
            ++srv_.counters_.protocol_errors;
            spdlog::warn("session {} ({}, user {}): protocol error: {}; disconnecting", id_, peer_, user_name(), what);
            encoder().debug("protocol error: " + what);
            close_after_flush();
        }
        bool refuse_login(char why, const std::string& user, const std::string& because) {
            ++srv_.counters_.login_failures;
            spdlog::warn("session {} ({}): login refused for user '{}': {}", id_, peer_, user, because);
            encoder().login_rejected(why);
            close_after_flush();
            return false;
        }
        // Login Accepted carries the number of the first message this session
        // will receive: the one asked for (a replay from the store follows),
        // or, for 0 or a number past the end, the next new one.
        bool login(const wire::Packet& pk) {
            wire::Login login;
            if (const char* bad = wire::decode_login(pk.payload, login)) {
                protocol_error(bad);
                return false;
            }
            const auto it = srv_.user_index_.find(login.user);
            if (it == srv_.user_index_.end() || srv_.cfg_.users[it->second].password != login.password)
                return refuse_login('A', login.user, "unknown user or wrong password");
            if (srv_.user_sessions_[it->second]) return refuse_login('S', login.user, "already logged in");
            if (!login.session.empty() && login.session != srv_.manifest_.session)
                return refuse_login('S', login.user, "session '" + login.session + "' requested, this journal's is '" +
                                                         srv_.manifest_.session + "'");
            const std::uint32_t user = it->second;
            const std::uint64_t next = srv_.store_.next_seq(user);
            std::uint64_t first = login.sequence;
            if (first > next)
                spdlog::warn("session {} ({}): user {} asked for message {}, the stream has {} so far; sending from {}", id_, peer_,
                             login.user, first, next - 1, next);
            if (first == 0 || first > next) first = next;
            user_ = static_cast<int>(user);
            srv_.user_sessions_[user] = this;
            ++srv_.counters_.logins;
            live_ = first == next;
            replay_next_ = first;
            if (!live_) ++srv_.counters_.replayed_logins;
            spdlog::info("session {} ({}): user {} logged in{}", id_, peer_, login.user,
                         live_ ? "" : ", replaying from message " + std::to_string(first) + " (" + std::to_string(next - first) + " stored)");
            encoder().login_accepted(srv_.manifest_.session, first);
            flush();
            return true;
        }
        // Returns false if the session ended.
        bool handle(const wire::Packet& pk) {
            if (user_ < 0) {
                if (pk.type != wire::kLoginRequest) {
                    protocol_error(std::string("packet type '") + printable(pk.type) + "' before login");
                    return false;
                }
                return login(pk);
            }
            switch (pk.type) {
                case wire::kUnsequenced: {
                    const wire::Inbound in = wire::decode_order(pk.payload);
                    switch (in.kind) {
                        case wire::InKind::Enter: srv_.on_enter(*this, in.enter); return true;
                        case wire::InKind::Replace: srv_.on_replace(*this, in.replace); return true;
                        case wire::InKind::Cancel: srv_.on_cancel(*this, in.cancel); return true;
                        case wire::InKind::Bad: protocol_error(in.error); return false;
                    }
                    return false;
                }
                case wire::kClientHeartbeat:
                    return true;
                case wire::kLogoutRequest:
                    spdlog::info("session {} ({}): user {} logged out", id_, peer_, user_name());
                    close_after_flush();
                    return false;
                case wire::kLoginRequest:
                    protocol_error("second login request");
                    return false;
                default:
                    protocol_error(std::string("unknown packet type '") + printable(pk.type) + "'");
                    return false;
            }
        }
        static std::string printable(char c) {
            if (c > ' ' && c < 127) return std::string(1, c);
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(c));
            return b;
        }
        void tick() {
            timer_.expires_after(std::chrono::milliseconds(srv_.cfg_.heartbeat_ms));
            timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
                if (ec || self->closed_) return;
                const auto now = std::chrono::steady_clock::now();
                if (!self->discard_input_ &&
                    now - self->last_rx_ > std::chrono::milliseconds(self->srv_.cfg_.idle_timeout_ms)) {
                    ++self->srv_.counters_.idle_disconnects;
                    spdlog::warn("session {} ({}, user {}): nothing received for {} ms; disconnecting", self->id_,
                                 self->peer_, self->user_name(), self->srv_.cfg_.idle_timeout_ms);
                    self->close("idle");
                    return;
                }
                if (self->user_ >= 0 && !self->closing_ && !self->end_sent_ &&
                    now - self->last_tx_ >= std::chrono::milliseconds(self->srv_.cfg_.heartbeat_ms)) {
                    self->encoder().packet(wire::kServerHeartbeat);
                    self->flush();
                }
                self->tick();
            });
        }

        Server& srv_;
        tcp::socket sock_;
        asio::steady_timer timer_;
        std::uint64_t id_;
        std::string peer_;
        wire::Deframer deframer_;
        std::vector<std::uint8_t> rbuf_;
        std::size_t rlen_ = 0;
        std::vector<std::uint8_t> pending_, inflight_;
        bool writing_ = false, closing_ = false, closed_ = false;
        bool dirty_ = false;            // in the server's list of sessions to pump
        bool live_ = false;             // caught up with the user's stream
        bool stream_stopped_ = false;   // closing on the client's logout or error: no more of the stream is sent
        bool reading_ = false;          // a read is outstanding
        bool discard_input_ = false;    // shutdown or closing: input is read and dropped
        bool half_closed_ = false;      // our side of the connection is shut
        std::chrono::steady_clock::time_point half_closed_at_;
        bool end_requested_ = false, end_sent_ = false;
        std::uint64_t replay_next_ = 0;  // while catching up: the next message to read from the store
        int user_ = -1;
        std::chrono::steady_clock::time_point last_rx_, last_tx_;
    };

    Config cfg_;
    StartMode mode_;
    Router router_;
    OutboundStore store_;
    std::optional<DirectoryLock> lock_;
    Manifest manifest_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    std::optional<asio::steady_timer> shutdown_timer_;
    asio::steady_timer itch_flush_timer_{io_};
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

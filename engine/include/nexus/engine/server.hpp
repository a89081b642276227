// nexus/engine/server.hpp — the matching engine server (Boost.Asio).
//
// Threads:
//  * one I/O thread runs the io_context: accepts, reads and deframes client
//    packets, has the Router (router.hpp) validate every field, keep each
//    user's token map and assign order IDs, and queues the Commands for the
//    shards; it also writes the shards' events to the clients;
//  * one thread per shard: takes the commands queued for it in batches,
//    stamps and journals each, applies it to its ShardCore (its own slabs),
//    commits the journal (write, or write + fdatasync), and only then hands
//    the batch's events to the I/O thread; its ITCH bytes follow in 64 KiB
//    writes or when the shard is idle.
//    Nothing a client can do blocks a shard: the I/O thread never waits on a
//    socket and the shards never touch one.
// A client whose queued outbound bytes pass `outbound_limit` is disconnected
// (with a log line); the others are not affected.
//
// Start-up replays every shard's journal (cutting a torn tail), rebuilds the
// token maps and the order-ID counter, and rewrites the ITCH file from the
// journal, so the file always matches the books. SIGINT/SIGTERM: stop
// accepting, let the shards drain and commit, send End of Session to every
// client, write the ITCH trailer, log the counters, return 0. SIGUSR1 logs the
// counters.
#pragma once

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/journal.hpp"
#include "nexus/engine/protocol.hpp"
#include "nexus/engine/router.hpp"

namespace nexus::engine {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

inline std::uint64_t wall_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline void write_fd_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(what + ": write failed: " + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

class Server;

// Wakes a sleeping thread; costs no system call while the thread is awake.
// (std::atomic::wait/notify in libstdc++ 12 yields in a loop before it sleeps
// and may enter the kernel on every notify.)
class Doorbell {
public:
    std::uint32_t seen() const noexcept { return seq_.load(std::memory_order_seq_cst); }
    void ring() noexcept {
        seq_.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_seq_cst))
            ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
    // Sleeps unless the bell rang after `seen` was read.
    void wait(std::uint32_t seen) noexcept {
        sleeping_.store(true, std::memory_order_seq_cst);
        if (seq_.load(std::memory_order_seq_cst) == seen)
            ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
        sleeping_.store(false, std::memory_order_seq_cst);
    }

private:
    std::atomic<std::uint32_t> seq_{0};
    std::atomic<bool> sleeping_{false};
};
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);

// One matching thread and its journal.
class Shard {
public:
    Shard(const Config& cfg, unsigned index) : cfg_(cfg), index_(index), core_(cfg, index) {}

    ShardCore& core() noexcept { return core_; }
    unsigned index() const noexcept { return index_; }

    void open_journal(const std::string& path) {
        journal_.emplace(path, cfg_.shards, index_, cfg_.sync);
    }

    // Inline matching (I/O thread): journal and apply now; commit_inline()
    // commits the journal and hands back the events of everything applied.
    void apply_inline(Command c) {
        c.ts = wall_ns();
        journal_->append(c);
        core_.apply(c, inline_out_);
        ++inline_pending_;
    }
    [[nodiscard]] bool inline_pending() const noexcept { return inline_pending_ != 0; }
    // Returns the events to deliver (valid until the next call).
    const std::vector<std::uint8_t>& commit_inline(int itch_fd) {
        journal_->commit();  // before any acknowledgement leaves
        count_batch(inline_pending_, inline_out_);
        inline_pending_ = 0;
        inline_events_.swap(inline_out_.events);
        inline_out_.events.clear();
        inline_itch_.insert(inline_itch_.end(), inline_out_.itch.bytes().begin(), inline_out_.itch.bytes().end());
        inline_out_.itch.clear_bytes();
        if (itch_fd >= 0 && inline_itch_.size() >= (1 << 16)) flush_inline_itch(itch_fd);
        return inline_events_;
    }
    void flush_inline_itch(int itch_fd) {
        if (itch_fd >= 0 && !inline_itch_.empty()) write_fd_all(itch_fd, inline_itch_.data(), inline_itch_.size(), "ITCH output");
        inline_itch_.clear();
    }

    // I/O thread: queue a command.
    void push(const Command& c) {
        std::size_t depth;
        {
            std::lock_guard lock(in_mu_);
            in_.push_back(c);
            depth = in_.size();
        }
        if (depth > max_depth_.load(std::memory_order_relaxed)) max_depth_.store(depth, std::memory_order_relaxed);
        bell_.ring();
    }

    void start(Server& server, int itch_fd) {
        thread_ = std::thread([this, &server, itch_fd] { run(server, itch_fd); });
    }
    // Asks the thread to finish what is queued and exit; joins it.
    void stop() {
        stop_.store(true, std::memory_order_release);
        bell_.ring();
        if (thread_.joinable()) thread_.join();
    }

    // I/O thread: takes the events the shard has published.
    void take_events(std::vector<std::uint8_t>& into) {
        std::lock_guard lock(out_mu_);
        into.swap(out_events_);
        posted_ = false;
    }

    // Counters (any thread).
    std::atomic<std::uint64_t> commands{0}, trades{0}, rejects{0}, commits{0}, journal_bytes{0}, max_batch{0};
    std::size_t max_depth() const noexcept { return max_depth_.load(std::memory_order_relaxed); }
    std::size_t depth() {
        std::lock_guard lock(in_mu_);
        return in_.size();
    }

private:
    void run(Server& server, int itch_fd);
    // After a commit: the counters the I/O thread reads.
    void count_batch(std::size_t n, const CoreOut& out) {
        commands.fetch_add(n, std::memory_order_relaxed);
        if (n > max_batch.load(std::memory_order_relaxed)) max_batch.store(n, std::memory_order_relaxed);
        trades.store(out.trades, std::memory_order_relaxed);
        rejects.store(out.rejects, std::memory_order_relaxed);
        commits.store(journal_->commits(), std::memory_order_relaxed);
        journal_bytes.store(journal_->bytes(), std::memory_order_relaxed);
    }

    const Config& cfg_;
    unsigned index_;
    ShardCore core_;
    std::optional<JournalWriter> journal_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex in_mu_;
    std::vector<Command> in_;
    Doorbell bell_;
    std::atomic<std::size_t> max_depth_{0};
    std::mutex out_mu_;
    std::vector<std::uint8_t> out_events_;
    bool posted_ = false;
    CoreOut inline_out_;
    std::vector<std::uint8_t> inline_events_, inline_itch_;
    std::size_t inline_pending_ = 0;
};

struct ServerCounters {
    std::uint64_t sessions_total = 0, logins = 0, login_failures = 0, protocol_errors = 0, slow_disconnects = 0,
                  idle_disconnects = 0, refused_connections = 0, orders = 0, replaces = 0, cancels = 0, io_rejects = 0,
                  dropped_events = 0;
};

class Server {
public:
    // Recovers the journals and binds the listening socket (port() is valid
    // afterwards); run() serves.
    explicit Server(Config cfg) : cfg_(std::move(cfg)), router_(cfg_), acceptor_(io_), signals_(io_) {
        for (std::size_t i = 0; i < cfg_.users.size(); ++i) user_index_[cfg_.users[i].name] = static_cast<std::uint32_t>(i);
        user_sessions_.resize(cfg_.users.size());
        std::filesystem::create_directories(cfg_.journal_dir);
        recover();
        tcp::endpoint ep(asio::ip::make_address(cfg_.listen_address), cfg_.listen_port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(1024);
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server() {
        for (auto& s : shards_) s->stop();
        if (itch_fd_ >= 0) ::close(itch_fd_);
    }

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    [[nodiscard]] const Config& config() const noexcept { return cfg_; }
    [[nodiscard]] std::uint64_t recovered_commands() const noexcept { return recovered_; }

    // Serves until SIGINT/SIGTERM or stop(); returns the exit status.
    int run() {
        if (!cfg_.inline_matching)
            for (auto& s : shards_) s->start(*this, itch_fd_);
        else
            itch_timer();
        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.add(SIGUSR1);
        wait_signal();
        accept();
        spdlog::info("listening on {}:{} ({} instruments, {} users, {} shards matched {}, sync {}, I/O {})", cfg_.listen_address,
                     port(), cfg_.instruments.size(), cfg_.users.size(), cfg_.shards,
                     cfg_.inline_matching ? "inline on the I/O thread" : "on their own threads",
                     cfg_.sync == SyncPolicy::Os ? "os" : "fsync", cfg_.busy_poll ? "busy-polls" : "blocks in epoll");
        // Every handler that is ready runs; with inline matching one journal
        // commit then answers all the commands they applied (group commit
        // across sessions). When nothing is ready the thread keeps polling for
        // io_spin_us after the last work (answers from a shard usually follow
        // within microseconds, and a sleeping thread takes longer than that to
        // wake), then sleeps in epoll until something happens; io_poll busy
        // never sleeps.
        const auto spin = std::chrono::microseconds(cfg_.io_spin_us);
        auto last_work = std::chrono::steady_clock::now();
        while (!io_.stopped()) {
            const std::size_t ran = io_.poll();
            commit_inline();
            if (ran > 0 || cfg_.busy_poll) {
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

    // Shard thread: events are ready.
    void notify_events(Shard& shard) {
        asio::post(io_, [this, &shard] { drain(shard); });
    }
    void shard_failed(Shard& shard, const std::string& why) {
        asio::post(io_, [this, &shard, why] { journal_failed(shard, why); });
    }

private:
    class Session;
    using SessionPtr = std::shared_ptr<Session>;

    // ---- recovery --------------------------------------------------------------

    void recover() {
        std::vector<std::vector<std::uint8_t>> replayed_itch(cfg_.shards);
        for (unsigned i = 0; i < cfg_.shards; ++i) {
            auto shard = std::make_unique<Shard>(cfg_, i);
            const std::string path = journal_path(cfg_.journal_dir, i);
            JournalContents jc = read_journal(path, cfg_.shards, i, true);
            if (jc.cut_bytes)
                spdlog::warn("{}: cut a torn tail of {} bytes (a write the process did not finish)", path, jc.cut_bytes);
            CoreOut out;
            for (const Command& c : jc.records) {
                if (c.user >= cfg_.users.size() || c.instrument == 0 || c.instrument > cfg_.instruments.size() ||
                    (c.instrument - 1) % cfg_.shards != i)
                    throw JournalError(path + ": a record names a user or instrument the configuration does not have "
                                              "(the configuration changed while the journal exists)");
                router_.restore(c);
                shard->core().apply(c, out);
                out.events.clear();
            }
            replayed_itch[i].assign(out.itch.bytes().begin(), out.itch.bytes().end());
            recovered_ += jc.records.size();
            if (!jc.records.empty()) spdlog::info("{}: replayed {} commands", path, jc.records.size());
            shard->open_journal(path);
            shards_.push_back(std::move(shard));
        }
        if (!cfg_.itch_out.empty()) {
            itch_fd_ = ::open(cfg_.itch_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
            if (itch_fd_ < 0) throw std::runtime_error(cfg_.itch_out + ": cannot create: " + std::strerror(errno));
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
            for (const auto& b : replayed_itch) write_fd_all(itch_fd_, b.data(), b.size(), cfg_.itch_out);
        }
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

    void begin_shutdown(const char* why) {
        if (shutting_down_) return;
        shutting_down_ = true;
        spdlog::info("shutting down ({}): no new connections, draining the shards", why);
        boost::system::error_code ignore;
        acceptor_.close(ignore);
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
        shutdown_timer_.emplace(io_, std::chrono::seconds(2));
        shutdown_timer_->async_wait([this](boost::system::error_code) {
            std::vector<SessionPtr> left(sessions_.begin(), sessions_.end());
            for (auto& s : left) s->close("shutdown deadline");
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
        spdlog::info("counters {}: sessions {} open, {} total, {} logins, {} failed logins, {} protocol errors, "
                     "{} slow-client and {} idle disconnects, {} refused connections",
                     when, sessions_.size(), c.sessions_total, c.logins, c.login_failures, c.protocol_errors,
                     c.slow_disconnects, c.idle_disconnects, c.refused_connections);
        spdlog::info("counters {}: orders {}, replaces {}, cancels {}, trades {}, rejects {} (validation {}, matching {}), "
                     "events for logged-out users {}",
                     when, c.orders, c.replaces, c.cancels, trades, c.io_rejects + rejects, c.io_rejects, rejects,
                     c.dropped_events);
        spdlog::info("counters {}: commands journaled {} in {} commits ({} bytes, largest batch {}), "
                     "shard queue depth {} now, {} at most; {} commands recovered at start",
                     when, cmds, commits, bytes, max_batch, depth, max_depth, recovered_);
    }

    // ---- shard events -> clients ----------------------------------------------

    void drain(Shard& shard) {
        shard.take_events(drain_buf_);
        deliver(drain_buf_);
        drain_buf_.clear();
    }
    void deliver(const std::vector<std::uint8_t>& events) {
        for_each_event(events, [&](std::uint32_t user, std::span<const std::uint8_t> packet) {
            Session* s = user < user_sessions_.size() ? user_sessions_[user] : nullptr;
            if (!s) {
                ++counters_.dropped_events;
                return;
            }
            s->send_raw(packet);
        });
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
                deliver(s->commit_inline(itch_fd_));
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

    void io_reject(Session& s, std::uint64_t token, char why) {
        ++counters_.io_rejects;
        s.encoder().rejected(wall_ns(), token, why);
        s.flush();
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
        wire::Encoder encoder() {
            last_tx_ = std::chrono::steady_clock::now();
            return wire::Encoder(pending_);
        }
        // A packet from a shard (already framed).
        void send_raw(std::span<const std::uint8_t> packet) {
            if (closed_) return;
            pending_.insert(pending_.end(), packet.begin(), packet.end());
            last_tx_ = std::chrono::steady_clock::now();
            flush();
        }
        // Starts a write of what is pending, or disconnects a client that does not read.
        void flush() {
            if (closed_) return;
            if (pending_.size() + inflight_.size() > srv_.cfg_.outbound_limit) {
                ++srv_.counters_.slow_disconnects;
                spdlog::warn("session {} ({}, user {}): {} bytes queued for a client that is not reading; disconnecting",
                             id_, peer_, user_name(), pending_.size() + inflight_.size());
                close("outbound queue full");
                return;
            }
            if (writing_ || pending_.empty()) return;
            inflight_.swap(pending_);
            writing_ = true;
            asio::async_write(sock_, asio::buffer(inflight_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                self->writing_ = false;
                self->inflight_.clear();
                if (ec) {
                    self->close("write failed: " + ec.message());
                    return;
                }
                if (!self->pending_.empty()) self->flush();
                else if (self->closing_) self->close("closed after the last reply");
            });
        }
        // Sends End of Session and closes once it is written.
        void end_session() {
            if (closed_) return;
            encoder().packet(wire::kEndOfSession);
            close_after_flush();
        }
        void close_after_flush() {
            closing_ = true;
            flush();
            if (!writing_ && !closed_) close("closed after the last reply");
        }
        void close(const std::string& why) {
            if (closed_) return;
            closed_ = true;
            spdlog::debug("session {} ({}): {}", id_, peer_, why);
            boost::system::error_code ignore;
            timer_.cancel();
            sock_.shutdown(tcp::socket::shutdown_both, ignore);
            sock_.close(ignore);
            if (user_ >= 0 && srv_.user_sessions_[static_cast<std::size_t>(user_)] == this)
                srv_.user_sessions_[static_cast<std::size_t>(user_)] = nullptr;
            auto self = shared_from_this();
            srv_.sessions_.erase(self);
            if (srv_.shutting_down_ && srv_.sessions_.empty()) srv_.finish();
        }

    private:
        std::string user_name() const { return user_ >= 0 ? srv_.cfg_.users[static_cast<std::size_t>(user_)].name : "-"; }

        void read() {
            sock_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                                  [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                      self->on_read(ec, n);
                                  });
        }
        void on_read(boost::system::error_code ec, std::size_t n) {
            if (closed_) return;
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
        // Returns false if the session ended.
        bool handle(const wire::Packet& pk) {
            if (user_ < 0) {
                if (pk.type != wire::kLoginRequest) {
                    protocol_error(std::string("packet type '") + printable(pk.type) + "' before login");
                    return false;
                }
                wire::Login login;
                if (!wire::decode_login(pk.payload, login)) {
                    protocol_error("login request of the wrong length");
                    return false;
                }
                const auto it = srv_.user_index_.find(login.user);
                if (it == srv_.user_index_.end() || srv_.cfg_.users[it->second].password != login.password) {
                    ++srv_.counters_.login_failures;
                    spdlog::warn("session {} ({}): login refused for user '{}': unknown user or wrong password", id_, peer_, login.user);
                    encoder().login_rejected('A');
                    close_after_flush();
                    return false;
                }
                if (srv_.user_sessions_[it->second]) {
                    ++srv_.counters_.login_failures;
                    spdlog::warn("session {} ({}): login refused for user '{}': already logged in", id_, peer_, login.user);
                    encoder().login_rejected('S');
                    close_after_flush();
                    return false;
                }
                user_ = static_cast<int>(it->second);
                srv_.user_sessions_[it->second] = this;
                ++srv_.counters_.logins;
                spdlog::info("session {} ({}): user {} logged in", id_, peer_, login.user);
                encoder().login_accepted("NEXUS", 1);
                flush();
                return true;
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
                if (now - self->last_rx_ > std::chrono::milliseconds(self->srv_.cfg_.idle_timeout_ms)) {
                    ++self->srv_.counters_.idle_disconnects;
                    spdlog::warn("session {} ({}, user {}): nothing received for {} ms; disconnecting", self->id_,
                                 self->peer_, self->user_name(), self->srv_.cfg_.idle_timeout_ms);
                    self->close("idle");
                    return;
                }
                if (self->user_ >= 0 && now - self->last_tx_ >= std::chrono::milliseconds(self->srv_.cfg_.heartbeat_ms)) {
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
        int user_ = -1;
        std::chrono::steady_clock::time_point last_rx_, last_tx_;
    };

    friend class Shard;

    Config cfg_;
    Router router_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    std::optional<asio::steady_timer> shutdown_timer_;
    asio::steady_timer itch_flush_timer_{io_};
    std::vector<std::unique_ptr<Shard>> shards_;
    int itch_fd_ = -1;
    std::unordered_map<std::string, std::uint32_t> user_index_;
    std::vector<Session*> user_sessions_;                                 // per user: the logged-in session
    std::unordered_set<SessionPtr> sessions_;
    std::uint64_t session_ids_ = 0;
    std::uint64_t recovered_ = 0;
    std::vector<std::uint8_t> drain_buf_;
    ServerCounters counters_;
    bool shutting_down_ = false, finished_ = false;
    int status_ = 0;
};

inline void Shard::run(Server& server, int itch_fd) {
    std::vector<Command> batch;
    std::vector<std::uint8_t> itch;
    CoreOut out;
    out.events.reserve(1 << 16);
    try {
        for (;;) {
            {
                std::lock_guard lock(in_mu_);
                batch.swap(in_);
            }
            if (batch.empty()) {
                // Idle: the market data waiting in memory goes to the file now.
                if (itch_fd >= 0 && !itch.empty()) {
                    write_fd_all(itch_fd, itch.data(), itch.size(), "ITCH output");
                    itch.clear();
                }
                if (stop_.load(std::memory_order_acquire)) {
                    std::lock_guard lock(in_mu_);
                    if (in_.empty()) break;
                    continue;
                }
                const std::uint32_t seen = bell_.seen();
                {
                    std::lock_guard lock(in_mu_);
                    if (!in_.empty()) continue;
                }
                // Spin a little (a command usually follows soon under load), then sleep.
                const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(cfg_.spin_us);
                bool woke = false;
                while (std::chrono::steady_clock::now() < until) {
                    if (bell_.seen() != seen) {
                        woke = true;
                        break;
                    }
                    __builtin_ia32_pause();
                }
                if (!woke) bell_.wait(seen);
                continue;
            }
            for (Command& c : batch) {
                c.ts = wall_ns();
                journal_->append(c);
                core_.apply(c, out);
            }
            journal_->commit();  // before any acknowledgement of the batch leaves
            count_batch(batch.size(), out);
            bool post = false;
            {
                std::lock_guard lock(out_mu_);
                out_events_.insert(out_events_.end(), out.events.begin(), out.events.end());
                if (!posted_) post = posted_ = true;
            }
            if (post) server.notify_events(*this);
            // Market data is not on the acknowledgement path: it is appended to
            // the file in 64 KiB writes, and whenever the shard runs out of work.
            // (The file is rebuilt from the journal at start-up, so a crash
            // cannot leave it short of what the journal holds.)
            itch.insert(itch.end(), out.itch.bytes().begin(), out.itch.bytes().end());
            if (itch_fd >= 0 && itch.size() >= (1 << 16)) {
                write_fd_all(itch_fd, itch.data(), itch.size(), "ITCH output");
                itch.clear();
            }
            out.events.clear();
            out.itch.clear_bytes();
            batch.clear();
        }
    } catch (const std::exception& e) {
        server.shard_failed(*this, e.what());
    }
}

}  // namespace nexus::engine

// engine/src/server.cpp — the server's life: the I/O loop, accepting
// connections, signals, shutdown and the counters (see server_impl.hpp for
// where the rest is).
#include <spdlog/spdlog.h>
#include <chrono>

#include "server_impl.hpp"

namespace nexus::engine {

namespace asio = boost::asio;

// ---- the public interface -------------------------------------------------------

Server::Server(Config cfg, StartMode mode) : impl_(std::make_unique<ServerImpl>(std::move(cfg), mode)) {}
Server::~Server() = default;
std::uint16_t Server::port() const { return impl_->port(); }
const Config& Server::config() const noexcept { return impl_->config(); }
std::uint64_t Server::recovered_commands() const noexcept { return impl_->recovered_commands(); }
std::uint64_t Server::recovered_answers() const noexcept { return impl_->recovered_answers(); }
std::uint64_t Server::unsent_answers() const noexcept { return impl_->unsent_answers(); }
const std::string& Server::session_name() const noexcept { return impl_->session_name(); }
std::uint64_t Server::next_sequence(std::uint32_t user) const noexcept { return impl_->next_sequence(user); }
int Server::run() { return impl_->run(); }
void Server::stop() { impl_->stop(); }
void Server::for_each_core(const std::function<void(const ShardCore&)>& f) const {
    for (const auto& s : impl_->shards()) f(s->core());
}
const ServerCounters& Server::counters() const noexcept { return impl_->server_counters(); }
std::uint64_t Server::shard_trades() const {
    std::uint64_t n = 0;
    for (const auto& s : impl_->shards()) n += s->trades.load();
    return n;
}

// ---- life -----------------------------------------------------------------------

ServerImpl::ServerImpl(Config cfg, StartMode mode)
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
        // Caught from here on (and queued until run() waits for them): the
        // port is announced before run(), and a SIGTERM that follows at once
        // must stop the engine cleanly, not kill it.
        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.add(SIGUSR1);
    }
}

ServerImpl::~ServerImpl() {
    for (auto& s : shards_) s->stop();
    // While the directory is still locked: closing a mapped journal or store
    // cuts its unused room (the lock is released after these members).
    shards_.clear();
    try {
        store_.close();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
    }
}

std::uint16_t ServerImpl::port() const { return acceptor_.is_open() ? acceptor_.local_endpoint().port() : 0; }

int ServerImpl::run() {
    if (mode_ != StartMode::Serve) throw std::logic_error("Server::run: opened to inspect only");
    if (!cfg_.inline_matching)
        for (auto& s : shards_) s->start(*this, itch_fd_);
    else
        itch_timer();
    wait_signal();
    accept();
    spdlog::info("listening on {}:{} ({} instruments, {} users, {} shards matched {}, sync {}, I/O {}; session {})",
                 cfg_.listen_address, port(), cfg_.instruments.size(), cfg_.users.size(), cfg_.shards,
                 cfg_.inline_matching ? "inline on the I/O thread" : "on their own threads",
                 cfg_.sync == SyncPolicy::Os ? "os" : "fsync", cfg_.busy_poll ? "busy-polls" : "blocks in epoll",
                 manifest_.session);
    // Every handler that is ready runs; with inline matching one journal
    // commit then answers all the commands they applied (group commit across
    // sessions); then one write of the outbound store covers every answer
    // they produced, and only then do the sessions' writes start. When
    // nothing is ready the thread keeps polling for io_spin_us after the last
    // work (answers from a shard usually follow within microseconds, and a
    // sleeping thread takes longer than that to wake), then sleeps in epoll
    // until something happens; io_poll busy never sleeps.
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

void ServerImpl::stop() {
    asio::post(io_, [this] { begin_shutdown("stop requested"); });
}

void ServerImpl::accept() {
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
            auto s = std::make_shared<Session>(static_cast<SessionHost&>(*this), io_, std::move(sock), ++session_ids_);
            sessions_.insert(s);
            ++counters_.sessions_total;
            s->start();
        }
        accept();
    });
}

void ServerImpl::wait_signal() {
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

// Nothing new is read; everything already journaled or queued for a shard is
// journaled, answered and stored; then every session gets End of Session
// after its answers.
void ServerImpl::begin_shutdown(const char* why) {
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

void ServerImpl::finish() {
    if (finished_) return;
    finished_ = true;
    write_itch_trailer();
    // A clean stop records the final counts, so that a later cut at a record
    // boundary is found at the next start.
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

void ServerImpl::log_counters(const char* when) {
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
    spdlog::info(
        "counters {}: sessions {} open, {} total, {} logins ({} replaying), {} failed logins, {} protocol errors, "
        "{} slow-client and {} idle disconnects, {} refused connections",
        when, sessions_.size(), c.sessions_total, c.logins, c.replayed_logins, c.login_failures, c.protocol_errors,
        c.slow_disconnects, c.idle_disconnects, c.refused_connections);
    spdlog::info(
        "counters {}: orders {}, replaces {}, cancels {}, trades {}, rejects {} (validation {}, matching {}), "
        "answers kept for users not logged in {}, outbound store {} messages",
        when, c.orders, c.replaces, c.cancels, trades, c.io_rejects + rejects, c.io_rejects, rejects, c.kept_for_absent,
        store_.records());
    spdlog::info(
        "counters {}: commands journaled {} in {} commits ({} bytes, largest batch {}), "
        "shard queue depth {} now, {} at most; {} commands recovered at start",
        when, cmds, commits, bytes, max_batch, depth, max_depth, recovered_.commands);
}

}  // namespace nexus::engine

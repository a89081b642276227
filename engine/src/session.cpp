// engine/src/session.cpp — one client connection (see session.hpp).
#include "session.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstring>

namespace nexus::engine {

namespace asio = boost::asio;

namespace {
std::string printable(char c) {
    if (c > ' ' && c < 127) return std::string(1, c);
    char b[8];
    std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(c));
    return b;
}
}  // namespace

Session::Session(SessionHost& host, asio::io_context& io, tcp::socket sock, std::uint64_t id)
    : host_(host), sock_(std::move(sock)), timer_(io), id_(id), deframer_(wire::kMaxInboundLength) {
    boost::system::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    const auto ep = sock_.remote_endpoint(ec);
    peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    rbuf_.resize(1 << 16);
    last_rx_ = last_tx_ = std::chrono::steady_clock::now();
}

void Session::start() {
    spdlog::debug("session {} connected from {}", id_, peer_);
    read();
    tick();
}

wire::Encoder Session::encoder() {
    last_tx_ = std::chrono::steady_clock::now();
    return wire::Encoder(pending_);
}

void Session::queue(std::span<const std::uint8_t> packet) {
    if (closed_ || end_sent_ || stream_stopped_) return;  // it stays in the store
    pending_.insert(pending_.end(), packet.begin(), packet.end());
    flush();
}

void Session::flush() {
    if (!closed_) host_.mark_dirty(*this);
}

void Session::end_session() {
    end_requested_ = true;
    flush();
}

void Session::close_after_flush() {
    closing_ = true;
    stream_stopped_ = true;
    flush();
}

void Session::close_at_deadline() {
    if (closed_) return;
    if (pending_.empty() && inflight_.empty() && (end_sent_ || stream_stopped_ || user_ < 0))
        return close("shutdown deadline");
    spdlog::warn("session {} ({}, user {}): {} bytes not read by the client within shutdown_timeout_ms{}", id_, peer_,
                 user_name(), pending_.size() + inflight_.size(),
                 user_ >= 0 ? "; it can resume from the store at its next login" : "");
    close("shutdown deadline");
}

void Session::close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    spdlog::debug("session {} ({}): {}", id_, peer_, why);
    boost::system::error_code ignore;
    timer_.cancel();
    sock_.shutdown(tcp::socket::shutdown_both, ignore);
    sock_.close(ignore);
    release_user();
    auto self = shared_from_this();  // the server's reference may be the last
    host_.session_closed(*this);
}

void Session::pump() {
    if (closed_) return;
    if (user_ >= 0 && !live_ && !stream_stopped_) {
        const auto user = static_cast<std::uint32_t>(user_);
        OutboundStore& store = host_.store();
        try {
            while (pending_.size() < kReplayFill && replay_next_ < store.next_seq(user))
                replay_next_ = store.read_chunk(user, replay_next_, pending_);
        } catch (const std::exception& e) {
            spdlog::error("session {} (user {}): cannot replay: {}", id_, user_name(), e.what());
            encoder().debug("the server cannot replay your stream");
            close_after_flush();
        }
        if (replay_next_ >= store.next_seq(user)) live_ = true;
    }
    if (end_requested_ && !end_sent_ && !stream_stopped_ && (user_ < 0 || live_)) {
        encoder().packet(wire::kEndOfSession);
        end_sent_ = true;
        closing_ = true;
    }
    send();
}

std::string Session::user_name() const {
    return user_ >= 0 ? host_.config().users[static_cast<std::size_t>(user_)].name : "-";
}

void Session::send() {
    if (closed_) return;
    if (!host_.shutting_down() && pending_.size() + inflight_.size() > host_.config().outbound_limit) {
        ++host_.counters().slow_disconnects;
        spdlog::warn(
            "session {} ({}, user {}): {} bytes queued for a client that is not reading; disconnecting "
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
    asio::async_write(sock_, asio::buffer(inflight_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          self->writing_ = false;
                          self->inflight_.clear();
                          if (ec) {
                              self->close("write failed: " + ec.message());
                              return;
                          }
                          self->flush();  // the rest of the queue, more of a replay, or the close
                      });
}

void Session::release_user() {
    if (user_ >= 0) host_.release_user(static_cast<std::uint32_t>(user_), *this);
}

// Everything is written: our side of the connection ends (FIN after the
// data), input is dropped from now on, and the socket closes when the
// client closes its side or has acknowledged every byte (then a reset can no
// longer destroy anything), or a second later at most.
void Session::half_close() {
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

void Session::linger() {
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

void Session::read() {
    reading_ = true;
    sock_.async_read_some(
        asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void Session::on_read(boost::system::error_code ec, std::size_t n) {
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
    // With inline matching, commands are committed and answered after every
    // ready handler has run (see the server's run loop); a session that is
    // about to be closed has its answers committed first.
    for (;;) {
        const auto st = deframer_.next(std::span<const std::uint8_t>(rbuf_.data(), rlen_), used, pk);
        if (st == wire::Deframer::Status::NeedMore) break;
        if (st == wire::Deframer::Status::Error) {
            host_.commit_inline();
            return protocol_error(deframer_.error());
        }
        const bool more = handle(pk);
        if (!more || closing_ || closed_) {
            host_.commit_inline();
            return;
        }
    }
    if (used > 0) {
        std::memmove(rbuf_.data(), rbuf_.data() + used, rlen_ - used);
        rlen_ -= used;
    }
    read();
}

void Session::protocol_error(const std::string& what) {
    ++host_.counters().protocol_errors;
    spdlog::warn("session {} ({}, user {}): protocol error: {}; disconnecting", id_, peer_, user_name(), what);
    encoder().debug("protocol error: " + what);
    close_after_flush();
}

bool Session::refuse_login(char why, const std::string& user, const std::string& because) {
    ++host_.counters().login_failures;
    spdlog::warn("session {} ({}): login refused for user '{}': {}", id_, peer_, user, because);
    encoder().login_rejected(why);
    close_after_flush();
    return false;
}

// Login Accepted carries the number of the first message this session will
// receive: the one asked for (a replay from the store follows), or, for 0 or
// a number past the end, the next new one.
bool Session::login(const wire::Packet& pk) {
    wire::Login login;
    if (const char* bad = wire::decode_login(pk.payload, login)) {
        protocol_error(bad);
        return false;
    }
    const std::optional<std::uint32_t> found = host_.find_user(login.user);
    if (!found || host_.config().users[*found].password != login.password)
        return refuse_login('A', login.user, "unknown user or wrong password");
    const std::uint32_t user = *found;
    const std::string& session = host_.session_name();
    if (host_.logged_in(user)) return refuse_login('S', login.user, "already logged in");
    if (!login.session.empty() && login.session != session)
        return refuse_login('S', login.user,
                            "session '" + login.session + "' requested, this journal's is '" + session + "'");
    const std::uint64_t next = host_.store().next_seq(user);
    std::uint64_t first = login.sequence;
    if (first > next)
        spdlog::warn("session {} ({}): user {} asked for message {}, the stream has {} so far; sending from {}", id_,
                     peer_, login.user, first, next - 1, next);
    if (first == 0 || first > next) first = next;
    user_ = static_cast<int>(user);
    host_.claim_user(user, *this);
    ++host_.counters().logins;
    live_ = first == next;
    replay_next_ = first;
    if (!live_) ++host_.counters().replayed_logins;
    spdlog::info(
        "session {} ({}): user {} logged in{}", id_, peer_, login.user,
        live_ ? ""
              : ", replaying from message " + std::to_string(first) + " (" + std::to_string(next - first) + " stored)");
    encoder().login_accepted(session, first);
    flush();
    return true;
}

bool Session::handle(const wire::Packet& pk) {
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
            if (in.kind == wire::InKind::Bad) {
                protocol_error(in.error);
                return false;
            }
            host_.request(*this, in);
            return true;
        }
        case wire::kClientHeartbeat: return true;
        case wire::kLogoutRequest:
            spdlog::info("session {} ({}): user {} logged out", id_, peer_, user_name());
            close_after_flush();
            return false;
        case wire::kLoginRequest: protocol_error("second login request"); return false;
        default: protocol_error(std::string("unknown packet type '") + printable(pk.type) + "'"); return false;
    }
}

void Session::tick() {
    const Config& cfg = host_.config();
    timer_.expires_after(std::chrono::milliseconds(cfg.heartbeat_ms));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->closed_) return;
        const Config& cfg = self->host_.config();
        const auto now = std::chrono::steady_clock::now();
        if (!self->discard_input_ && now - self->last_rx_ > std::chrono::milliseconds(cfg.idle_timeout_ms)) {
            ++self->host_.counters().idle_disconnects;
            spdlog::warn("session {} ({}, user {}): nothing received for {} ms; disconnecting", self->id_, self->peer_,
                         self->user_name(), cfg.idle_timeout_ms);
            self->close("idle");
            return;
        }
        if (self->user_ >= 0 && !self->closing_ && !self->end_sent_ &&
            now - self->last_tx_ >= std::chrono::milliseconds(cfg.heartbeat_ms)) {
            self->encoder().packet(wire::kServerHeartbeat);
            self->flush();
        }
        self->tick();
    });
}

}  // namespace nexus::engine

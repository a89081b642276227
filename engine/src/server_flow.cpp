// engine/src/server_flow.cpp — the I/O thread's traffic: requests in
// (validated by the Router, routed to their shard, or rejected) and answers
// out (each numbered into its user's stream in the outbound store, then
// queued for the user's session; the store is committed before any write).
#include <spdlog/spdlog.h>

#include "nexus/engine/event_codec.hpp"
#include "nexus/engine/wire_codes.hpp"
#include "server_impl.hpp"
#include "wall_clock.hpp"

namespace nexus::engine {

namespace asio = boost::asio;

// ---- the sessions' view of the server -----------------------------------------

std::optional<std::uint32_t> ServerImpl::find_user(const std::string& name) const {
    const auto it = user_index_.find(name);
    if (it == user_index_.end()) return std::nullopt;
    return it->second;
}

void ServerImpl::release_user(std::uint32_t user, const Session& s) {
    if (user_sessions_[user] == &s) user_sessions_[user] = nullptr;
}

void ServerImpl::mark_dirty(Session& s) {
    if (s.set_dirty()) dirty_.push_back(s.shared_from_this());
}

void ServerImpl::session_closed(Session& s) {
    sessions_.erase(s.shared_from_this());
    if (shutting_down_ && sessions_.empty()) finish();
}

// ---- requests in ----------------------------------------------------------------

// A validation reject is a sequenced answer like any other (it is stored,
// under the I/O thread's source number).
void ServerImpl::io_reject(Session& s, std::uint64_t token, RejectReason why) {
    ++counters_.io_rejects;
    reject_buf_.clear();
    wire::Encoder(reject_buf_).rejected(wall_ns(), token, wire::code(why));
    sequence(static_cast<std::uint32_t>(s.user()), outbound_format::kFromValidation, reject_buf_);
}

// Validates with the router; routes the command or rejects.
template <class Msg, class Fn>
void ServerImpl::route(Session& s, const Msg& m, std::uint64_t reply_token, Fn fn) {
    if (shutting_down_) return io_reject(s, reply_token, RejectReason::Halted);
    Command c;
    if (const Router::Refusal why = (router_.*fn)(static_cast<std::uint32_t>(s.user()), m, c))
        return io_reject(s, reply_token, *why);
    Shard& shard = *shards_[router_.shard_of(c.instrument)];
    if (!cfg_.inline_matching) return shard.push(c);
    try {
        shard.apply_inline(c);  // journals it: a full disk throws here
    } catch (const std::exception& e) {
        cfg_.inline_matching = false;  // nothing more is applied or answered
        journal_failed(shard, e.what());
    }
}

void ServerImpl::request(Session& s, const wire::Inbound& in) {
    switch (in.kind) {
        case wire::InKind::Enter:
            ++counters_.orders;
            route(s, in.enter, in.enter.token, &Router::enter);
            return;
        case wire::InKind::Replace:
            ++counters_.replaces;
            route(s, in.replace, in.replace.new_token, &Router::replace);
            return;
        case wire::InKind::Cancel:
            ++counters_.cancels;
            route(s, in.cancel, in.cancel.token, &Router::cancel);
            return;
        case wire::InKind::Bad: return;  // the session refuses these itself
    }
}

// ---- answers out ----------------------------------------------------------------

// Shard thread: events are ready.
void ServerImpl::events_ready(Shard& shard) {
    asio::post(io_, [this, &shard] { drain(shard); });
}
void ServerImpl::shard_failed(Shard& shard, const std::string& why) {
    asio::post(io_, [this, &shard, why] { journal_failed(shard, why); });
}

void ServerImpl::drain(Shard& shard) {
    shard.take_events(drain_buf_);
    deliver(drain_buf_, static_cast<std::uint8_t>(shard.index()));
    drain_buf_.clear();
}

// Numbers each answer into its user's stream (the store) and queues it for
// the user's session if that session is live; a replaying session reads it
// from the store in turn.
void ServerImpl::deliver(const std::vector<std::uint8_t>& events, std::uint8_t source) {
    for_each_event(events,
                   [&](std::uint32_t user, std::span<const std::uint8_t> packet) { sequence(user, source, packet); });
}

void ServerImpl::sequence(std::uint32_t user, std::uint8_t source, std::span<const std::uint8_t> packet) {
    if (store_failed_) return;
    try {
        store_.append(user, source, packet);  // may grow the file: a full disk throws here
    } catch (const std::exception& e) {
        store_failed(e.what());
        return;
    }
    Session* s = user_sessions_[user];
    if (!s)
        ++counters_.kept_for_absent;
    else if (s->live())
        s->queue(packet);
}

// The store first (write, and fdatasync under `sync fsync`), then the
// sessions' writes: no answer reaches a client before it is stored.
void ServerImpl::commit_outbound() {
    if (store_failed_) return;
    try {
        store_.commit();
    } catch (const std::exception& e) {
        store_failed(e.what());
        return;
    }
    dirty_list_.swap(dirty_);
    for (auto& s : dirty_list_) {
        s->clear_dirty();
        s->pump();
    }
    dirty_list_.clear();
}

// The store cannot be written: nothing queued may be sent. Every session is
// closed without its queued bytes and the engine stops.
void ServerImpl::store_failed(const std::string& why) {
    spdlog::critical("{}; no further answer can be stored or sent, shutting down", why);
    store_failed_ = true;
    status_ = 1;
    std::vector<SessionPtr> open(sessions_.begin(), sessions_.end());
    for (auto& s : open) s->close("outbound store failure");
    begin_shutdown("outbound store failure");
}

// I/O thread: a journal write failed; nothing more can be acknowledged.
void ServerImpl::journal_failed(Shard& shard, const std::string& why) {
    spdlog::critical("shard {}: {}; no further command can be journaled, shutting down", shard.index(), why);
    status_ = 1;
    begin_shutdown("journal failure");
}

// Inline matching: commit what the last read applied, then answer.
void ServerImpl::commit_inline() {
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
void ServerImpl::itch_timer() {
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

}  // namespace nexus::engine

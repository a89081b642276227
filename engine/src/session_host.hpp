// engine/src/session_host.hpp — what a client session may ask of the server
// (private to the engine library). A session owns its socket and its
// SoupBinTCP state; everything shared between sessions (users, the
// outbound store, the shards, the counters) is reached through this
// interface and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nexus/engine/config.hpp"
#include "nexus/engine/outbound_store.hpp"
#include "nexus/engine/protocol.hpp"
#include "nexus/engine/server.hpp"

namespace nexus::engine {

class Session;

class SessionHost {
public:
    [[nodiscard]] virtual const Config& config() const noexcept = 0;
    [[nodiscard]] virtual ServerCounters& counters() noexcept = 0;
    // Shutdown has begun: nothing new is accepted.
    [[nodiscard]] virtual bool shutting_down() const noexcept = 0;
    // Every user's stream of Sequenced Data messages.
    [[nodiscard]] virtual OutboundStore& store() noexcept = 0;
    // The SoupBinTCP session name of this journal.
    [[nodiscard]] virtual const std::string& session_name() const noexcept = 0;

    // The index of a configured user, or none.
    [[nodiscard]] virtual std::optional<std::uint32_t> find_user(const std::string& name) const = 0;
    // The user has a logged-in session.
    [[nodiscard]] virtual bool logged_in(std::uint32_t user) const = 0;
    // Makes `s` the user's logged-in session.
    virtual void claim_user(std::uint32_t user, Session& s) = 0;
    // The user has no logged-in session any more (if `s` was it).
    virtual void release_user(std::uint32_t user, const Session& s) = 0;

    // A decoded order message from a logged-in session: validated and routed
    // to its shard, or rejected.
    virtual void request(Session& s, const wire::Inbound& in) = 0;
    // Inline matching: commit and answer what has been applied so far.
    virtual void commit_inline() = 0;
    // The session has bytes to send once the outbound store is committed.
    virtual void mark_dirty(Session& s) = 0;
    // The session's socket is closed: the server lets go of it.
    virtual void session_closed(Session& s) = 0;

protected:
    ~SessionHost() = default;
};

}  // namespace nexus::engine

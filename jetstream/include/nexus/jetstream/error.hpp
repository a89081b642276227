// nexus/jetstream/error.hpp — the one exception the JetStream layer throws.
//
// Its message says what was being done, against which server, stream or
// subject, and what the client or the server answered, e.g.
//   "publish to subject DAY.itch on nats://127.0.0.1:4222: no acknowledgement
//    within 5000 ms (timeout)".
#pragma once

#include <stdexcept>
#include <string>

namespace nexus::jetstream {

// Why an operation failed, as far as a caller needs to tell causes apart.
enum class ErrorKind {
    Connect,       // no server could be reached or the connection was refused
    Disconnected,  // the connection was lost (and not regained in time), or closed
    Timeout,       // no answer in time from a live connection
    NotFound,      // the stream or consumer does not exist
    Conflict,      // a stream exists with a different configuration
    Refused,       // the server answered with an error (see jetstream_code())
    Invalid,       // the caller's arguments (an empty name, a bad subject)
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& what, int jetstream_code = 0)
        : std::runtime_error(what), kind_(kind), code_(jetstream_code) {}
    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
    // The server's JetStream error code (e.g. 10059: stream not found), or 0.
    [[nodiscard]] int jetstream_code() const noexcept { return code_; }

private:
    ErrorKind kind_;
    int code_;
};

}  // namespace nexus::jetstream

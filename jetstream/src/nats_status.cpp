// Turning the client's status codes into Errors (see nats_util.hpp).
#include <cstring>

#include "nats_util.hpp"

namespace nexus::jetstream::detail {

std::string status_text(natsStatus s) {
    std::string text = natsStatus_GetText(s);
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    // The thread's last error adds the server's words ("stream not found")
    // when it is about this status and says more than its name.
    if (detail != nullptr && last == s && *detail != '\0' && text != detail) text += " (" + std::string(detail) + ")";
    return text;
}

ErrorKind kind_of(natsStatus s, int code) noexcept {
    if (code == JSStreamNotFoundErr || code == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) return ErrorKind::NotFound;
    switch (s) {
        case NATS_NO_SERVER:
        case NATS_NO_SERVER_SUPPORT:
        case NATS_NOT_PERMITTED: return ErrorKind::Connect;
        case NATS_CONNECTION_CLOSED:
        case NATS_CONNECTION_DISCONNECTED:
        case NATS_STALE_CONNECTION:
        case NATS_IO_ERROR: return ErrorKind::Disconnected;
        case NATS_TIMEOUT: return ErrorKind::Timeout;
        case NATS_INVALID_ARG:
        case NATS_INVALID_SUBJECT: return ErrorKind::Invalid;
        default: return ErrorKind::Refused;
    }
}

void fail(natsStatus s, int code, const std::string& what, const std::string& servers) {
    std::string msg = what + " on " + servers + ": " + status_text(s);
    if (code != 0) msg += " [JetStream error " + std::to_string(code) + "]";
    throw Error(kind_of(s, code), msg, code);
}

}  // namespace nexus::jetstream::detail

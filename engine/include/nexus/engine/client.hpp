// nexus/engine/client.hpp — a small blocking client of the order-entry
// protocol, for tests, tools and the load generator's set-up.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nexus/engine/protocol.hpp"

namespace nexus::engine {

// One packet as received: its type and, for Sequenced Data, the decoded message.
struct Received {
    char packet = 0;                    // packet type; 0 = the connection closed, 1 = timed out
    std::vector<std::uint8_t> payload;  // raw payload
    wire::Outbound msg;                 // for 'S' packets
};

class Client {
public:
    Client(const std::string& host, std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::runtime_error("bad address " + host);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            const int e = errno;
            ::close(fd_);
            throw std::runtime_error(std::string("connect: ") + std::strerror(e));
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    Client(Client&& o) noexcept : fd_(o.fd_), in_(std::move(o.in_)) { o.fd_ = -1; }
    ~Client() { close(); }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    // Hands the socket over (with any bytes already buffered in `leftover`).
    int release(std::vector<std::uint8_t>& leftover) noexcept {
        leftover.swap(in_);
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

    // Sends raw bytes; false if the connection is gone.
    bool send_bytes(const std::vector<std::uint8_t>& b) { return send_bytes(b.data(), b.size()); }
    bool send_bytes(const std::uint8_t* p, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }
    // sequence: the first message of the stream wanted (1: all of it; 0:
    // only new ones); session: blank for the current one.
    bool login(const std::string& user, const std::string& password, const std::string& session = "",
               std::uint64_t sequence = 0) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).login(user, password, session, sequence);
        return send_bytes(b);
    }
    bool enter(const wire::EnterOrder& o) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).enter(o);
        return send_bytes(b);
    }
    bool replace(const wire::ReplaceOrder& o) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).replace(o);
        return send_bytes(b);
    }
    bool cancel(const wire::CancelOrder& o) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).cancel(o);
        return send_bytes(b);
    }
    bool packet(char type) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).packet(type);
        return send_bytes(b);
    }

    // The next packet, waiting up to `timeout`.
    Received receive(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            namespace f = wire::layout::packet;
            if (in_.size() >= f::length.width) {
                const std::size_t len = static_cast<std::size_t>(wire::get(in_.data(), f::length));
                const std::size_t end = f::length.width + len;
                if (len >= f::type.width && in_.size() >= end) {
                    Received r;
                    r.packet = wire::get_char(in_.data(), f::type);
                    r.payload.assign(in_.begin() + f::header, in_.begin() + static_cast<std::ptrdiff_t>(end));
                    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(end));
                    if (r.packet == wire::kSequenced) r.msg = wire::decode_outbound(r.payload);
                    return r;
                }
            }
            if (fd_ < 0) return Received{'\0', {}, {}};
            // Whole milliseconds left, rounded up; at the deadline, one last look without waiting.
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            const int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (left.count() <= 0) return Received{'\1', {}, {}};
                continue;
            }
            std::uint8_t buf[1 << 16];
            const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                close();
                return Received{'\0', {}, {}};
            }
            in_.insert(in_.end(), buf, buf + r);
        }
    }
    // The next Sequenced Data message, skipping heartbeats.
    Received next_message(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
        for (;;) {
            Received r = receive(timeout);
            if (r.packet != wire::kServerHeartbeat) return r;
        }
    }

private:
    int fd_ = -1;
    std::vector<std::uint8_t> in_;
};

}  // namespace nexus::engine

// Real NATS servers with JetStream for the tests: one, or a cluster of
// three, each started by the test on loopback with an ephemeral port and a
// store directory of its own, and stopped (and its directory removed) at the
// end. Without nats-server a test fails under CI (the environment variable
// CI set) and is skipped with a message elsewhere: have_nats_server().
//
// The server is found at $NEXUS_NATS_SERVER, else as nats-server on PATH,
// else at /usr/sbin/nats-server (where Debian puts it).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nexus::test {

inline std::string nats_server_binary() {
    if (const char* env = std::getenv("NEXUS_NATS_SERVER"); env != nullptr && *env != '\0') return env;
    if (const char* path = std::getenv("PATH")) {
        std::string p = path;
        std::size_t start = 0;
        while (start <= p.size()) {
            const std::size_t colon = p.find(':', start);
            const std::string dir = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            const std::string candidate = (dir.empty() ? "." : dir) + "/nats-server";
            if (::access(candidate.c_str(), X_OK) == 0) return candidate;
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
    return "/usr/sbin/nats-server";
}

// Fails under CI when there is no server to run; elsewhere warns and says no.
inline bool have_nats_server() {
    const std::string bin = nats_server_binary();
    if (::access(bin.c_str(), X_OK) == 0) return true;
    if (std::getenv("CI") != nullptr)
        FAIL("nats-server not found (looked at $NEXUS_NATS_SERVER, PATH, " << bin << ") under CI");
    WARN("skipped: nats-server not found (install the Debian package nats-server, or set NEXUS_NATS_SERVER)");
    return false;
}

// "prefix" + n, built by appending (g++ 12 warns falsely on literal + to_string).
inline std::string numbered(const char* prefix, unsigned n) {
    std::string s(prefix);
    s += std::to_string(n);
    return s;
}

// A port nobody listens on now (the kernel's pick, released for the server:
// a small window in which another process could take it, which start()
// survives by trying again).
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

inline bool accepts(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// A scratch directory, removed with everything in it at the end.
struct ScratchDir {
    std::filesystem::path path;
    explicit ScratchDir(const std::string& tag) {
        std::string tmpl = (std::filesystem::temp_directory_path() / ("nexus-" + tag + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

// One nats-server process with JetStream, its store in `dir`/store.
class NatsServer {
public:
    struct Route {                   // for a cluster member
        std::string name;            // the server's name (unique in the cluster)
        std::uint16_t cluster_port;  // where its routes listen
        std::vector<std::uint16_t> peers;
    };

    // Starts on a port of its own (or `port`), waits until it accepts.
    explicit NatsServer(std::string dir, std::uint16_t port = 0, std::optional<Route> route = std::nullopt)
        : dir_(std::move(dir)), route_(std::move(route)) {
        std::filesystem::create_directories(dir_);
        start(port);
    }
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;
    ~NatsServer() { stop(SIGKILL); }

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string url() const { return numbered("nats://127.0.0.1:", port_); }
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
    [[nodiscard]] std::string log() const { return read_text(dir_ + "/server.log"); }

    // Stops it with `sig` (SIGKILL: as a crash) and reaps it.
    void stop(int sig = SIGTERM) {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    // Starts it again on the same port with the same store.
    void restart() { start(port_); }

private:
    void start(std::uint16_t port) {
        const bool fixed = port != 0;
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = fixed ? port : free_port();
            spawn();
            if (wait_ready()) return;
            stop(SIGKILL);
            if (fixed && attempt >= 2) break;  // the port must stay: only a short wait for it to be free
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        FAIL("nats-server did not start on port " << port_ << "; its log:\n" << log());
    }

    void spawn() {
        const std::string bin = nats_server_binary();
        std::vector<std::string> args{bin,   "-a",  "127.0.0.1",    "-p", std::to_string(port_),
                                      "-js", "-sd", dir_ + "/store"};
        if (route_) {
            std::string routes;
            for (auto p : route_->peers) {
                if (!routes.empty()) routes += ',';
                routes += numbered("nats://127.0.0.1:", p);
            }
            args.insert(args.end(), {"-n", route_->name, "--cluster_name", "nexus-test", "--cluster",
                                     numbered("nats://127.0.0.1:", route_->cluster_port), "--routes", routes});
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string log_path = dir_ + "/server.log";
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            // The server dies with the test process, even one that crashes.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        pid_ = pid;
    }

    bool wait_ready() {
        for (int i = 0; i < 500; ++i) {  // up to 10 s on a loaded machine
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {  // it exited (the port taken, a bad option)
                pid_ = -1;
                return false;
            }
            if (accepts(port_)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    std::string dir_;
    std::optional<Route> route_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

// A single server in a scratch directory.
struct SingleServer {
    ScratchDir dir{"nats"};
    NatsServer server{dir.file("n0")};
};

// Three servers routed to each other on loopback ports, JetStream clustered.
struct NatsCluster {
    ScratchDir dir{"nats-cluster"};
    std::vector<std::unique_ptr<NatsServer>> servers;

    NatsCluster() {
        const std::uint16_t routes[3] = {free_port(), free_port(), free_port()};
        for (int i = 0; i < 3; ++i) {
            NatsServer::Route r{numbered("n", static_cast<unsigned>(i)), routes[i], {}};
            for (int j = 0; j < 3; ++j)
                if (j != i) r.peers.push_back(routes[j]);
            servers.push_back(std::make_unique<NatsServer>(dir.file(numbered("n", static_cast<unsigned>(i))), 0, r));
        }
    }
    [[nodiscard]] std::vector<std::string> urls() const {
        std::vector<std::string> u;
        for (const auto& s : servers) u.push_back(s->url());
        return u;
    }
};

}  // namespace nexus::test

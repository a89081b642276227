// Helpers for the engine tests: a temporary directory, an in-process server
// on an ephemeral loopback port, order builders and the ITCH read-back.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <spdlog/spdlog.h>
#include <nexus/engine/client.hpp>
#include <nexus/engine/config.hpp>
#include <nexus/engine/core.hpp>
#include <nexus/engine/crc32c.hpp>
#include <nexus/engine/dir_lock.hpp>
#include <nexus/engine/journal.hpp>
#include <nexus/engine/journal_format.hpp>
#include <nexus/engine/outbound_store.hpp>
#include <nexus/engine/protocol.hpp>
#include <nexus/engine/recovery.hpp>
#include <nexus/engine/router.hpp>
#include <nexus/engine/server.hpp>
#include <nexus/engine/venue.hpp>
#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>

namespace nexus::test {

namespace en = nexus::engine;
namespace wire = nexus::engine::wire;

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/nexus-engine-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

inline std::string base_config(const std::string& dir, const std::string& extra = "") {
    return "listen 127.0.0.1:0\n"
           "journal_dir " +
           dir +
           "/journal\n"
           "itch_out " +
           dir +
           "/md.itch\n"
           "pool_orders 4096\npool_levels 512\nheartbeat_ms 200\nidle_timeout_ms 5000\nspin_us 20\n"
           "instrument AAPL min_price=1.0000 max_price=1000.0000 max_qty=100000\n"
           "instrument MSFT min_price=1.0000 max_price=1000.0000 max_qty=100000\n"
           "instrument TINY min_price=1.0000 max_price=2.0000 max_qty=100\n"
           "user alice password=pw1 max_qty=50000 max_notional=1000000\n"
           "user bob password=pw2\n"
           "user carol password=pw3\n" +
           extra;
}

inline en::Config make_config(const std::string& text) {
    std::istringstream in(text);
    return en::parse_config(in, "test.cfg");
}

// A server on its own thread; stop() shuts it down as SIGTERM would.
class TestServer {
public:
    explicit TestServer(const std::string& config_text)
        : server_((spdlog::set_level(spdlog::level::warn), std::make_unique<en::Server>(make_config(config_text)))) {
        thread_ = std::thread([this] { status_ = server_->run(); });
    }
    ~TestServer() { stop(); }
    std::uint16_t port() const { return server_->port(); }
    int stop() {
        if (thread_.joinable()) {
            server_->stop();
            thread_.join();
        }
        return status_;
    }
    en::Server& server() { return *server_; }

private:
    std::unique_ptr<en::Server> server_;
    std::thread thread_;
    int status_ = -1;
};

inline wire::EnterOrder order(std::uint64_t token, char side, std::uint32_t qty, const char* sym, std::uint32_t price,
                              char tif = 'D', char type = 'L') {
    wire::EnterOrder o;
    o.token = token;
    o.side = side;
    o.qty = qty;
    o.symbol = wire::make_symbol(sym);
    o.price = price;
    o.tif = tif;
    o.type = type;
    return o;
}

// A logged-in client (the login must be accepted).
inline std::unique_ptr<en::Client> logged_in(std::uint16_t port, const std::string& user, const std::string& pw) {
    auto c = std::make_unique<en::Client>("127.0.0.1", port);
    REQUIRE(c->login(user, pw));
    const auto r = c->receive();
    REQUIRE(r.packet == wire::kLoginAccepted);
    return c;
}

// A client logged in asking for its stream from message `first` (0: new
// messages only); `accepted` gets the Login Accepted's number.
inline std::unique_ptr<en::Client> logged_in_from(std::uint16_t port, const std::string& user, const std::string& pw,
                                                  std::uint64_t first, std::uint64_t& accepted,
                                                  const std::string& session = "") {
    auto c = std::make_unique<en::Client>("127.0.0.1", port);
    REQUIRE(c->login(user, pw, session, first));
    const auto r = c->receive();
    REQUIRE(r.packet == wire::kLoginAccepted);
    wire::LoginAccepted la;
    REQUIRE(wire::decode_login_accepted(r.payload, la));
    accepted = la.sequence;
    return c;
}

// The next order message (skips heartbeats, and executions if asked); fails
// the test on anything else.
inline wire::Outbound expect(en::Client& c, char type, bool skip_executions = false) {
    auto r = c.next_message();
    while (skip_executions && type != wire::kExecuted && r.packet == wire::kSequenced && r.msg.type == wire::kExecuted)
        r = c.next_message();
    INFO("packet type " << (r.packet > 1 ? r.packet : '?') << " (0 = closed, 1 = timeout)");
    REQUIRE(r.packet == wire::kSequenced);
    INFO("message type " << r.msg.type << ", reason " << r.msg.reason);
    REQUIRE(r.msg.type == type);
    return r.msg;
}

// True if the server closes the connection (after any packets), within the time.
inline bool closed_by_server(en::Client& c, std::vector<char>* seen = nullptr) {
    for (int i = 0; i < 200; ++i) {
        const auto r = c.receive(std::chrono::milliseconds(3000));
        if (r.packet == 0) return true;
        if (r.packet == 1) return false;
        if (seen) seen->push_back(r.packet);
    }
    return false;
}

// Reads an ITCH file into books; returns (locate -> (bids, asks)) and the anomaly count.
struct ItchBooks {
    std::map<std::uint16_t, std::pair<std::vector<orderbook::LevelInfo>, std::vector<orderbook::LevelInfo>>> books;
    std::uint64_t anomalies = 0;
    bool ok = false;
};
inline ItchBooks read_itch_books(const std::string& path) {
    ItchBooks out;
    orderbook::NullListener nl;
    feed::ItchBookBuilder<> builder(nl);
    const auto res = feed::read_itch(path, [&](const feed::itch::Message& m) { return builder.apply(m); });
    out.ok = res.ok;
    out.anomalies = builder.stats().total_anomalies();
    builder.books().for_each([&](auto& b) {
        if (b.order_count())
            out.books[b.instrument()] = {b.depth(orderbook::Side::Buy), b.depth(orderbook::Side::Sell)};
    });
    return out;
}
// The same view of an engine's books (call while its shards are stopped).
inline ItchBooks engine_books(const en::Server& s) {
    ItchBooks out;
    out.ok = true;
    s.for_each_book([&](std::uint16_t locate, const std::string&, const auto& b) {
        if (b.order_count()) out.books[locate] = {b.depth(orderbook::Side::Buy), b.depth(orderbook::Side::Sell)};
    });
    return out;
}

inline void raise_fd_limit() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace nexus::test

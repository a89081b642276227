// The server over real loopback sockets on an ephemeral port.
#include <sys/socket.h>

#include "engine/engine_util.hpp"

using namespace nexus::test;
namespace ob = nexus::orderbook;

TEST_CASE("server: order lifecycle of one session", "[server]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "matching " + matching + "\n"));
    auto a = logged_in(ts.port(), "alice", "pw1");

    REQUIRE(a->enter(order(1, 'B', 100, "AAPL", 1000000)));
    auto m = expect(*a, wire::kAccepted);
    CHECK(m.token == 1);
    CHECK(m.side == 'B');
    CHECK(m.qty == 100);
    CHECK(m.price == 1000000);
    CHECK(wire::symbol_text(m.symbol) == "AAPL");
    CHECK(m.ref != 0);
    const auto ref = m.ref;

    // Partial cancel keeps the order; the decrement is reported.
    REQUIRE(a->cancel({.token = 1, .qty = 60}));
    m = expect(*a, wire::kCancelled);
    CHECK(m.token == 1);
    CHECK(m.qty == 40);
    CHECK(m.reason == wire::cancel_reason::User);

    // Replace: a new token and a new order reference.
    REQUIRE(a->replace({.token = 1, .new_token = 2, .qty = 70, .price = 1010000}));
    m = expect(*a, wire::kReplaced);
    CHECK(m.token == 2);
    CHECK(m.prev_token == 1);
    CHECK(m.qty == 70);
    CHECK(m.price == 1010000);
    CHECK(m.ref != ref);

    // The old token is dead now.
    REQUIRE(a->cancel({.token = 1, .qty = 0}));
    m = expect(*a, wire::kRejected);
    CHECK(m.token == 1);
    CHECK(m.reason == wire::reason::UnknownToken);

    REQUIRE(a->cancel({.token = 2, .qty = 0}));
    m = expect(*a, wire::kCancelled);
    CHECK(m.token == 2);
    CHECK(m.qty == 70);

    // Heartbeats arrive when nothing else is sent (heartbeat_ms 200).
    REQUIRE(a->packet(wire::kClientHeartbeat));
    CHECK(a->receive(std::chrono::milliseconds(2000)).packet == wire::kServerHeartbeat);

    // Logout closes the session.
    REQUIRE(a->packet(wire::kLogoutRequest));
    CHECK(closed_by_server(*a));
    CHECK(ts.stop() == 0);
    CHECK(ts.server().counters().logins == 1);
}

TEST_CASE("server: matching between two sessions, and self-trade prevention by user", "[server]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "matching " + matching + "\nio_spin_us 20\n"));
    auto a = logged_in(ts.port(), "alice", "pw1");
    auto b = logged_in(ts.port(), "bob", "pw2");

    REQUIRE(a->enter(order(1, 'S', 100, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    REQUIRE(a->enter(order(2, 'S', 50, "AAPL", 1010000)));
    expect(*a, wire::kAccepted);

    // Bob buys 120 up to 101: 100 at 100 then 20 at 101 (maker prices).
    REQUIRE(b->enter(order(7, 'B', 120, "AAPL", 1010000)));
    expect(*b, wire::kAccepted);
    auto t1 = expect(*b, wire::kExecuted);
    auto t2 = expect(*b, wire::kExecuted);
    CHECK((t1.token == 7 && t1.qty == 100 && t1.price == 1000000 && t1.liquidity == 'R'));
    CHECK((t2.token == 7 && t2.qty == 20 && t2.price == 1010000 && t2.liquidity == 'R'));
    auto m1 = expect(*a, wire::kExecuted);
    auto m2 = expect(*a, wire::kExecuted);
    CHECK((m1.token == 1 && m1.qty == 100 && m1.liquidity == 'A' && m1.match == t1.match));
    CHECK((m2.token == 2 && m2.qty == 20 && m2.liquidity == 'A' && m2.match == t2.match));
    CHECK(t1.match != t2.match);

    // A market order for more than there is: fills 30, the rest is cancelled.
    REQUIRE(b->enter(order(8, 'B', 50, "AAPL", 0, 'I', 'M')));
    expect(*b, wire::kAccepted);
    CHECK(expect(*b, wire::kExecuted).qty == 30);
    auto c = expect(*b, wire::kCancelled);
    CHECK((c.token == 8 && c.qty == 20 && c.reason == wire::cancel_reason::Unfilled));
    CHECK(expect(*a, wire::kExecuted).qty == 30);

    // Alice crossing her own resting order: the incoming one is cancelled (STP 'N').
    REQUIRE(a->enter(order(3, 'B', 10, "MSFT", 500000)));
    expect(*a, wire::kAccepted);
    REQUIRE(a->enter(order(4, 'S', 10, "MSFT", 500000)));
    expect(*a, wire::kAccepted);
    c = expect(*a, wire::kCancelled);
    CHECK((c.token == 4 && c.reason == wire::cancel_reason::SelfTrade));
    // With STP 'O' the resting one goes instead.
    auto o = order(5, 'S', 10, "MSFT", 500000);
    o.stp = 'O';
    REQUIRE(a->enter(o));
    expect(*a, wire::kAccepted);
    c = expect(*a, wire::kCancelled);
    CHECK((c.token == 3 && c.reason == wire::cancel_reason::SelfTrade));
    ts.stop();
    CHECK(ts.server().shard_trades() == 3);
}

TEST_CASE("server: every field is validated and each bad order gets its reject", "[server]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "shards 2\nmatching " + matching + "\n"));
    auto a = logged_in(ts.port(), "alice", "pw1");
    struct Case {
        const char* what;
        wire::EnterOrder o;
        char reason;
    };
    auto with = [](wire::EnterOrder o, auto f) {
        f(o);
        return o;
    };
    const auto good = order(100, 'B', 10, "AAPL", 1000000);
    const std::vector<Case> cases = {
        {"unknown symbol", with(good, [](auto& o) { o.symbol = wire::make_symbol("NOPE"); }),
         wire::reason::UnknownSymbol},
        {"zero size", with(good, [](auto& o) { o.qty = 0; }), wire::reason::InvalidQty},
        {"size above the instrument maximum",
         with(good,
              [](auto& o) {
                  o.symbol = wire::make_symbol("TINY");
                  o.price = 15000;
                  o.qty = 101;
              }),
         wire::reason::InvalidQty},
        {"size above the user's maximum", with(good, [](auto& o) { o.qty = 50001; }), wire::reason::InvalidQty},
        {"bad side", with(good, [](auto& o) { o.side = 'X'; }), wire::reason::InvalidSide},
        {"price below the range", with(good, [](auto& o) { o.price = 9999; }), wire::reason::InvalidPrice},
        {"price above the range", with(good, [](auto& o) { o.price = 10000001; }), wire::reason::InvalidPrice},
        {"market order with a price",
         with(good,
              [](auto& o) {
                  o.type = 'M';
                  o.tif = 'I';
              }),
         wire::reason::InvalidPrice},
        {"bad time in force", with(good, [](auto& o) { o.tif = 'Q'; }), wire::reason::InvalidFlags},
        {"bad order type", with(good, [](auto& o) { o.type = 'Z'; }), wire::reason::InvalidFlags},
        {"bad post-only flag", with(good, [](auto& o) { o.post_only = 'x'; }), wire::reason::InvalidFlags},
        {"bad STP code", with(good, [](auto& o) { o.stp = '?'; }), wire::reason::InvalidFlags},
        {"market and post-only",
         with(good,
              [](auto& o) {
                  o.type = 'M';
                  o.price = 0;
                  o.post_only = 'Y';
              }),
         wire::reason::InvalidFlags},
        {"notional above the user's limit",
         with(good,
              [](auto& o) {
                  o.qty = 20000;
                  o.price = 600000;
              }),
         wire::reason::OverLimit},
    };
    std::uint64_t token = 1000;
    for (const auto& c : cases) {
        INFO(c.what);
        wire::EnterOrder o = c.o;
        o.token = ++token;
        REQUIRE(a->enter(o));
        const auto m = expect(*a, wire::kRejected);
        CHECK(m.token == o.token);
        CHECK(m.reason == c.reason);
    }
    // Duplicate token, also after the first order is gone.
    REQUIRE(a->enter(order(1, 'B', 10, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    REQUIRE(a->enter(order(1, 'B', 10, "MSFT", 1000000)));
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::DuplicateToken);
    REQUIRE(a->cancel({.token = 1, .qty = 0}));
    expect(*a, wire::kCancelled);
    REQUIRE(a->enter(order(1, 'B', 10, "AAPL", 1000000)));
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::DuplicateToken);
    // Tokens are per user: bob may use 1.
    auto b = logged_in(ts.port(), "bob", "pw2");
    REQUIRE(b->enter(order(1, 'S', 10, "AAPL", 1100000)));
    expect(*b, wire::kAccepted);
    // Unknown tokens, cancel sizes, replace checks.
    REQUIRE(a->cancel({.token = 999, .qty = 0}));
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::UnknownToken);
    REQUIRE(a->cancel({.token = 1, .qty = 0}));  // alice cannot reach bob's token 1 (hers is dead)
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::UnknownToken);
    REQUIRE(b->cancel({.token = 1, .qty = 10}));  // not smaller than what is open
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::InvalidQty);
    REQUIRE(b->replace({.token = 1, .new_token = 1, .qty = 5, .price = 1100000}));
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::DuplicateToken);
    REQUIRE(b->replace({.token = 1, .new_token = 2, .qty = 5, .price = 1}));
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::InvalidPrice);
    REQUIRE(b->replace({.token = 1, .new_token = 3, .qty = 0, .price = 1100000}));
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::InvalidQty);
    REQUIRE(b->replace({.token = 77, .new_token = 4, .qty = 5, .price = 1100000}));
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::UnknownToken);
    // Post-only that would take.
    auto po = order(5, 'B', 10, "AAPL", 1100000);
    po.post_only = 'Y';
    REQUIRE(a->enter(po));
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::WouldCross);
    // Nothing above changed bob's order.
    REQUIRE(b->cancel({.token = 1, .qty = 0}));
    CHECK(expect(*b, wire::kCancelled).qty == 10);
    ts.stop();
    CHECK(ts.server().counters().io_rejects >= cases.size());
}

TEST_CASE("server: a full order pool is a reject, and the shard keeps serving", "[server]") {
    TempDir dir;
    TestServer ts(base_config(dir.path, "pool_orders 16\n"));
    auto b = logged_in(ts.port(), "bob", "pw2");
    for (std::uint64_t t = 1; t <= 16; ++t) {
        REQUIRE(b->enter(order(t, 'B', 1, "AAPL", 1000000 + static_cast<std::uint32_t>(t % 4) * 100)));
        expect(*b, wire::kAccepted);
    }
    REQUIRE(b->enter(order(17, 'B', 1, "AAPL", 1000000)));
    CHECK(expect(*b, wire::kRejected).reason == wire::reason::BookFull);
    REQUIRE(b->cancel({.token = 3, .qty = 0}));
    expect(*b, wire::kCancelled);
    REQUIRE(b->enter(order(18, 'B', 1, "AAPL", 1000000)));
    expect(*b, wire::kAccepted);
}

TEST_CASE("server: logins — wrong password, unknown user, second session, orders before login", "[server][faults]") {
    TempDir dir;
    TestServer ts(base_config(dir.path));
    {
        en::Client c("127.0.0.1", ts.port());
        REQUIRE(c.login("alice", "wrong"));
        const auto r = c.receive();
        REQUIRE(r.packet == wire::kLoginRejected);
        CHECK(r.payload.at(0) == 'A');
        CHECK(closed_by_server(c));
    }
    {
        en::Client c("127.0.0.1", ts.port());
        REQUIRE(c.login("mallor", "pw1"));
        CHECK(c.receive().packet == wire::kLoginRejected);
        CHECK(closed_by_server(c));
    }
    auto a = logged_in(ts.port(), "alice", "pw1");
    {
        en::Client c("127.0.0.1", ts.port());
        REQUIRE(c.login("alice", "pw1"));
        const auto r = c.receive();
        REQUIRE(r.packet == wire::kLoginRejected);
        CHECK(r.payload.at(0) == 'S');
        CHECK(closed_by_server(c));
    }
    {
        en::Client c("127.0.0.1", ts.port());
        REQUIRE(c.enter(order(1, 'B', 1, "AAPL", 1000000)));
        std::vector<char> seen;
        CHECK(closed_by_server(c, &seen));
        CHECK(seen == std::vector<char>{wire::kDebug});
    }
    // The first session is untouched by all of that.
    REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    ts.stop();
    CHECK(ts.server().counters().login_failures == 3);
    CHECK(ts.server().counters().protocol_errors == 1);
}

TEST_CASE("server: malformed packets disconnect only their sender", "[server][faults]") {
    TempDir dir;
    TestServer ts(base_config(dir.path));
    auto bystander = logged_in(ts.port(), "bob", "pw2");
    std::uint64_t token = 0;
    auto bystander_still_served = [&] {
        REQUIRE(bystander->enter(order(++token, 'B', 1, "AAPL", 1000000)));
        expect(*bystander, wire::kAccepted);
    };
    auto offend = [&](std::vector<std::uint8_t> bytes, const char* what) {
        INFO(what);
        auto c = logged_in(ts.port(), "alice", "pw1");
        REQUIRE(c->send_bytes(bytes));
        std::vector<char> seen;
        CHECK(closed_by_server(*c, &seen));
        CHECK(std::count(seen.begin(), seen.end(), wire::kDebug) == 1);
        bystander_still_served();
    };
    offend({0x00, 0x00}, "zero length");
    offend({0xFF, 0xFF, 'U'}, "length above the maximum");
    offend({0x00, 0x01, 'q'}, "unknown packet type");
    offend({0x00, 0x03, 'U', 'Q', 1}, "unknown order message type");
    {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).enter(order(5, 'B', 1, "AAPL", 1000000));
        b[1] -= 1;  // one byte short: the message has the wrong length
        b.pop_back();
        offend(b, "enter order of the wrong length");
    }
    offend({0x00, 0x02, 'L', 'x'}, "second login of the wrong length");
    ts.stop();
    CHECK(ts.server().counters().protocol_errors == 6);
}

TEST_CASE("server: a client that disconnects in the middle of a packet", "[server][faults]") {
    TempDir dir;
    TestServer ts(base_config(dir.path));
    auto bystander = logged_in(ts.port(), "bob", "pw2");
    {
        auto c = logged_in(ts.port(), "alice", "pw1");
        std::vector<std::uint8_t> b;
        wire::Encoder(b).enter(order(1, 'B', 1, "AAPL", 1000000));
        REQUIRE(c->send_bytes(b.data(), 10));  // 10 of 33 bytes, then gone
    }
    REQUIRE(bystander->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*bystander, wire::kAccepted);
    // alice may log in again (her session was released) and her half order never happened.
    std::unique_ptr<en::Client> again;
    for (int i = 0; i < 50 && !again; ++i) {
        auto c = std::make_unique<en::Client>("127.0.0.1", ts.port());
        REQUIRE(c->login("alice", "pw1"));
        if (c->receive().packet == wire::kLoginAccepted)
            again = std::move(c);
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(again);
    REQUIRE(again->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*again, wire::kAccepted);  // token 1 was never used
}

TEST_CASE("server: a client that never reads is disconnected and the others carry on", "[server][faults]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "outbound_limit 4096\nmatching " + matching + "\n"));
    auto bystander = logged_in(ts.port(), "bob", "pw2");
    auto slow = std::make_unique<en::Client>("127.0.0.1", ts.port());
    int small = 4096;
    ::setsockopt(slow->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    REQUIRE(slow->login("alice", "pw1"));
    // Requests that each earn a reply (unknown-token rejects: no journal, no book),
    // sent without ever reading, until the server gives up on this client.
    std::vector<std::uint8_t> burst;
    for (int i = 0; i < 1000; ++i) wire::Encoder(burst).cancel({.token = 424242, .qty = 0});
    bool cut = false;
    for (int round = 0; round < 2000 && !cut; ++round) {
        cut = !slow->send_bytes(burst);
        if (round % 50 == 49) {  // the bystander is served all along
            REQUIRE(bystander->enter(order(static_cast<std::uint64_t>(round), 'B', 1, "AAPL", 1000000)));
            expect(*bystander, wire::kAccepted);
        }
        if (!cut && round % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(cut);
    REQUIRE(bystander->enter(order(999999, 'B', 1, "AAPL", 1000000)));
    expect(*bystander, wire::kAccepted);
    ts.stop();
    CHECK(ts.server().counters().slow_disconnects == 1);
}

TEST_CASE("server: a thousand connections at once", "[server][faults]") {
    raise_fd_limit();
    TempDir dir;
    std::string users;
    for (int i = 0; i < 1000; ++i) users += "user u" + std::to_string(i) + " password=p" + std::to_string(i) + "\n";
    TestServer ts(base_config(dir.path, users + "max_sessions 2000\n"));
    std::vector<std::unique_ptr<en::Client>> clients;
    for (int i = 0; i < 1000; ++i) {
        clients.push_back(std::make_unique<en::Client>("127.0.0.1", ts.port()));
        std::string user = "u", password = "p";  // (appends: g++ 12 warns falsely on "u" + to_string)
        user += std::to_string(i);
        password += std::to_string(i);
        REQUIRE(clients.back()->login(user, password));
    }
    for (int i = 0; i < 1000; ++i) {
        INFO("client " << i);
        REQUIRE(clients[static_cast<std::size_t>(i)]->receive().packet == wire::kLoginAccepted);
        REQUIRE(clients[static_cast<std::size_t>(i)]->enter(
            order(1, i % 2 ? 'B' : 'S', 10, "MSFT", i % 2 ? 990000 : 1010000)));
    }
    for (auto& c : clients) expect(*c, wire::kAccepted);
    ts.stop();
    CHECK(ts.server().counters().logins == 1000);
    std::size_t resting = 0;
    ts.server().for_each_order([&](auto&&...) { ++resting; });
    CHECK(resting == 1000);
}

TEST_CASE("server: restart replays the journal into the same books and token maps", "[server][journal]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    const std::string cfg = base_config(dir.path, "shards 2\nmatching " + matching + "\n");
    std::vector<std::string> before;
    auto listing = [](en::Server& s) {
        std::vector<std::string> v;
        s.for_each_order([&](const std::string& sym, ob::Side side, ob::Price p, std::uint64_t q, ob::OrderId id,
                             std::uint32_t u, std::uint64_t t) {
            v.push_back(sym + " " + std::to_string(static_cast<int>(side)) + " " + std::to_string(p) + " " +
                        std::to_string(q) + " " + std::to_string(id) + " " + std::to_string(u) + " " +
                        std::to_string(t));
        });
        std::sort(v.begin(), v.end());
        return v;
    };
    std::uint64_t max_ref = 0;
    {
        TestServer ts(cfg);
        auto a = logged_in(ts.port(), "alice", "pw1");
        auto b = logged_in(ts.port(), "bob", "pw2");
        for (std::uint64_t t = 1; t <= 40; ++t) {
            const char* sym = t % 2 ? "AAPL" : "MSFT";
            REQUIRE(a->enter(order(t, 'B', 10 + static_cast<std::uint32_t>(t), sym,
                                   1000000 - static_cast<std::uint32_t>(t % 5) * 100)));
            max_ref = std::max(max_ref, expect(*a, wire::kAccepted).ref);
        }
        REQUIRE(b->enter(order(1, 'S', 200, "AAPL", 999800)));  // trades with several of alice's bids
        expect(*b, wire::kAccepted);
        REQUIRE(a->cancel({.token = 2, .qty = 0}));
        expect(*a, wire::kCancelled, true);
        REQUIRE(a->replace({.token = 4, .new_token = 41, .qty = 5, .price = 1000100}));
        expect(*a, wire::kReplaced, true);
        REQUIRE(ts.stop() == 0);
        before = listing(ts.server());
        REQUIRE(!before.empty());
        const auto itch = read_itch_books(dir.path + "/md.itch");
        REQUIRE(itch.ok);
        CHECK(itch.anomalies == 0);
        CHECK(itch.books == engine_books(ts.server()).books);
    }
    TestServer again(cfg);
    CHECK(again.server().recovered_commands() == 43);
    auto a = logged_in(again.port(), "alice", "pw1");
    REQUIRE(a->enter(order(7, 'B', 1, "AAPL", 1000000)));  // used before the restart
    CHECK(expect(*a, wire::kRejected).reason == wire::reason::DuplicateToken);
    REQUIRE(a->enter(order(100, 'B', 1, "AAPL", 900000)));
    CHECK(expect(*a, wire::kAccepted).ref > max_ref);  // order references continue
    REQUIRE(a->cancel({.token = 100, .qty = 0}));
    expect(*a, wire::kCancelled);
    REQUIRE(again.stop() == 0);
    CHECK(listing(again.server()) == before);
    // The ITCH file was rewritten from the journal and carries on: same books.
    const auto itch = read_itch_books(dir.path + "/md.itch");
    REQUIRE(itch.ok);
    CHECK(itch.anomalies == 0);
    CHECK(itch.books == engine_books(again.server()).books);
}

TEST_CASE("server: fsync policy acknowledges and recovers like the default", "[server][journal]") {
    TempDir dir;
    const std::string cfg = base_config(dir.path, "sync fsync\n");
    {
        TestServer ts(cfg);
        auto a = logged_in(ts.port(), "alice", "pw1");
        for (std::uint64_t t = 1; t <= 20; ++t) REQUIRE(a->enter(order(t, 'B', 1, "AAPL", 1000000)));
        for (int i = 0; i < 20; ++i) expect(*a, wire::kAccepted);
        ts.stop();
    }
    TestServer again(cfg);
    CHECK(again.server().recovered_commands() == 20);
}

TEST_CASE("server: a journal that does not match the configuration stops the start with a clear error",
          "[server][journal]") {
    TempDir dir;
    {
        TestServer ts(base_config(dir.path, "shards 2\n"));
        auto a = logged_in(ts.port(), "alice", "pw1");
        REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
        expect(*a, wire::kAccepted);
    }
    CHECK_THROWS_WITH(
        en::Server(make_config(base_config(dir.path, "shards 3\n"))),
        Catch::Contains("test.cfg: the configuration does not match the journal in " + dir.path + "/journal") &&
            Catch::Contains("shards: the journal has 2, the configuration 3"));
}

TEST_CASE("server: a silent client is disconnected after the idle timeout, heartbeats keep a session alive",
          "[server][faults]") {
    TempDir dir;
    TestServer ts(base_config(dir.path, "idle_timeout_ms 400\nheartbeat_ms 100\n"));
    auto silent = logged_in(ts.port(), "alice", "pw1");
    auto chatty = logged_in(ts.port(), "bob", "pw2");
    // bob sends a heartbeat every 100 ms for a second; alice sends nothing.
    for (int i = 0; i < 10; ++i) {
        REQUIRE(chatty->packet(wire::kClientHeartbeat));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::vector<char> seen;
    CHECK(closed_by_server(*silent, &seen));
    CHECK(std::count(seen.begin(), seen.end(), wire::kServerHeartbeat) >= 1);  // the server's heartbeats did arrive
    REQUIRE(chatty->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*chatty, wire::kAccepted);
    ts.stop();
    CHECK(ts.server().counters().idle_disconnects == 1);
}

TEST_CASE("server: connections beyond max_sessions are refused, the open ones carry on", "[server][faults]") {
    TempDir dir;
    TestServer ts(base_config(dir.path, "max_sessions 2\n"));
    auto a = logged_in(ts.port(), "alice", "pw1");
    auto b = logged_in(ts.port(), "bob", "pw2");
    en::Client extra("127.0.0.1", ts.port());
    extra.login("carol", "pw3");
    CHECK(closed_by_server(extra));
    REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    ts.stop();
    CHECK(ts.server().counters().refused_connections == 1);
}

// ---- sequenced delivery ---------------------------------------------------------

namespace {
// Reads Sequenced Data messages until the one answering `token` (an
// Accepted, Replaced, Cancelled or Rejected naming it); returns every payload.
std::vector<std::vector<std::uint8_t>> read_until_answer(en::Client& c, std::uint64_t token) {
    std::vector<std::vector<std::uint8_t>> got;
    for (;;) {
        const auto r = c.next_message();
        INFO("packet " << (r.packet > 1 ? r.packet : '?'));
        REQUIRE(r.packet == wire::kSequenced);
        got.push_back(r.payload);
        if (r.msg.token == token && r.msg.type != wire::kExecuted) return got;
    }
}
}  // namespace

TEST_CASE(
    "sequenced delivery: Login Accepted gives the next number, a fill while the owner is away is kept for its next "
    "login",
    "[server][sequence]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "shards 2\nmatching " + matching + "\n"));
    std::uint64_t first = 0;
    auto a = logged_in_from(ts.port(), "alice", "pw1", 0, first);
    CHECK(first == 1);  // a new stream
    REQUIRE(a->enter(order(1, 'S', 100, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);  // message 1
    REQUIRE(a->enter(order(2, 'S', 100, "MSFT", 1000000)));
    expect(*a, wire::kAccepted);  // message 2
    REQUIRE(a->packet(wire::kLogoutRequest));
    CHECK(closed_by_server(*a));
    // While alice is away, bob trades with both of her orders.
    auto b = logged_in(ts.port(), "bob", "pw2");
    REQUIRE(b->enter(order(1, 'B', 30, "AAPL", 1000000)));
    expect(*b, wire::kAccepted);
    expect(*b, wire::kExecuted);
    REQUIRE(b->enter(order(2, 'B', 100, "MSFT", 1000000)));
    expect(*b, wire::kAccepted);
    expect(*b, wire::kExecuted);
    // alice resumes from message 3: both fills, in order, then live.
    a = logged_in_from(ts.port(), "alice", "pw1", 3, first);
    CHECK(first == 3);
    auto m = expect(*a, wire::kExecuted);
    CHECK((m.token == 1 && m.qty == 30 && m.liquidity == 'A'));
    m = expect(*a, wire::kExecuted);
    CHECK((m.token == 2 && m.qty == 100));
    REQUIRE(a->cancel({.token = 1, .qty = 0}));
    CHECK(expect(*a, wire::kCancelled).qty == 70);  // message 5, live
    REQUIRE(a->packet(wire::kLogoutRequest));
    CHECK(closed_by_server(*a));
    // A login asking for nothing old starts at the next number and replays nothing.
    a = logged_in_from(ts.port(), "alice", "pw1", 0, first);
    CHECK(first == 6);
    REQUIRE(a->cancel({.token = 424242, .qty = 0}));
    const auto r = a->next_message();
    REQUIRE(r.packet == wire::kSequenced);
    CHECK((r.msg.type == wire::kRejected && r.msg.token == 424242));
    ts.stop();
    CHECK(ts.server().counters().kept_for_absent == 2);
    CHECK(ts.server().next_sequence(0) == 7);
}

TEST_CASE("sequenced delivery: a replay from any number is the stream byte for byte, then live, in order",
          "[server][sequence]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    TestServer ts(base_config(dir.path, "shards 2\nmatching " + matching + "\npool_orders 65536\npool_levels 4096\n"));
    std::uint64_t first = 0;
    auto a = logged_in_from(ts.port(), "alice", "pw1", 0, first);
    REQUIRE(first == 1);
    // 700 orders (more than two 256-message chunks), answered; every message kept.
    std::vector<std::vector<std::uint8_t>> stream;
    for (std::uint64_t t = 1; t <= 700; ++t) {
        REQUIRE(
            a->enter(order(t, 'S', 10, t % 2 ? "AAPL" : "MSFT", 1000000 + static_cast<std::uint32_t>(t % 7) * 100)));
        if (t % 50 == 0)
            for (auto& p : read_until_answer(*a, t)) stream.push_back(p);
    }
    while (stream.size() < 700) {  // (two shards: answers to the last tokens may come in either order)
        const auto r = a->next_message();
        REQUIRE(r.packet == wire::kSequenced);
        stream.push_back(r.payload);
    }
    a->close();
    for (std::uint64_t from :
         {std::uint64_t{1}, std::uint64_t{256}, std::uint64_t{257}, std::uint64_t{513}, std::uint64_t{700}}) {
        INFO("from " << from);
        auto c = logged_in_from(ts.port(), "alice", "pw1", from, first);
        CHECK(first == from);
        for (std::uint64_t seq = from; seq <= 700; ++seq) {
            const auto r = c->next_message();
            REQUIRE(r.packet == wire::kSequenced);
            REQUIRE(r.payload == stream[seq - 1]);
        }
        REQUIRE(c->packet(wire::kLogoutRequest));
        CHECK(closed_by_server(*c));  // the session is released
    }
    // A replay while the stream grows: bob trades with alice's orders as she
    // catches up; her probe (a reject) comes after every message before it.
    auto b = logged_in(ts.port(), "bob", "pw2");
    auto c = logged_in_from(ts.port(), "alice", "pw1", 1, first);
    REQUIRE(b->enter(order(1, 'B', 100, "AAPL", 1000600)));  // takes alice's asks: Executed to her, live or stored
    REQUIRE(c->cancel({.token = 999999, .qty = 0}));         // the probe
    std::uint64_t seq = 0, executions = 0;
    for (;;) {
        const auto r = c->next_message();
        REQUIRE(r.packet == wire::kSequenced);
        ++seq;
        if (seq <= 700)
            REQUIRE(r.payload == stream[seq - 1]);
        else if (r.msg.type == wire::kExecuted)
            ++executions;
        if (r.msg.token == 999999) {
            CHECK(r.msg.type == wire::kRejected);
            break;
        }
    }
    CHECK(seq > 700);
    expect(*b, wire::kAccepted);  // bob's order was matched: all ten fills are in alice's stream
    ts.stop();
    CHECK(ts.server().next_sequence(0) >= seq + 1);
    CHECK(executions + (ts.server().next_sequence(0) - 1 - seq) == 10);  // every fill of bob's 100 (10 orders of 10)
}

TEST_CASE(
    "sequenced delivery: the stream and its numbers survive a restart, unknown session refused, a number past the end "
    "starts at the next",
    "[server][sequence]") {
    TempDir dir;
    const std::string cfg = base_config(dir.path, "shards 2\n");
    std::vector<std::vector<std::uint8_t>> stream;
    std::string session;
    {
        TestServer ts(cfg);
        session = ts.server().session_name();
        CHECK(session.size() == 10);
        auto a = logged_in(ts.port(), "alice", "pw1");
        auto b = logged_in(ts.port(), "bob", "pw2");
        for (std::uint64_t t = 1; t <= 20; ++t) REQUIRE(a->enter(order(t, 'B', 10, "AAPL", 1000000)));
        stream = read_until_answer(*a, 20);
        REQUIRE(b->enter(order(1, 'S', 55, "AAPL", 1000000)));  // fills alice's first orders
        expect(*b, wire::kAccepted);
        for (int i = 0; i < 6; ++i) expect(*b, wire::kExecuted);
        for (int i = 0; i < 6; ++i) stream.push_back(a->next_message().payload);
        REQUIRE(stream.size() == 26);
        REQUIRE(ts.stop() == 0);
    }
    TestServer again(cfg);
    CHECK(again.server().session_name() == session);
    CHECK(again.server().next_sequence(0) == 27);
    std::uint64_t first = 0;
    auto a = logged_in_from(again.port(), "alice", "pw1", 5, first, session);
    CHECK(first == 5);
    for (std::uint64_t seq = 5; seq <= 26; ++seq) REQUIRE(a->next_message().payload == stream[seq - 1]);
    REQUIRE(a->enter(order(100, 'B', 1, "MSFT", 1000000)));
    expect(*a, wire::kAccepted);  // message 27
    {
        en::Client c("127.0.0.1", again.port());
        REQUIRE(c.login("bob", "pw2", "YESTERDAY", 1));
        const auto r = c.receive();
        REQUIRE(r.packet == wire::kLoginRejected);
        CHECK(r.payload.at(0) == 'S');
    }
    auto b = logged_in_from(again.port(), "bob", "pw2", 1000, first);
    CHECK(first == 8);  // bob's stream has 7 messages
    again.stop();
}

TEST_CASE("one engine per journal directory: a second server is refused, naming the holder's pid",
          "[server][journal]") {
    TempDir dir;
    TestServer ts(base_config(dir.path));
    CHECK_THROWS_WITH(en::Server(make_config(base_config(dir.path))),
                      Catch::Contains("in use by another nexus-engine (pid " + std::to_string(::getpid()) + ",") &&
                          Catch::Contains(dir.path + "/journal/LOCK"));
    // Inspecting is refused too while an engine writes.
    CHECK_THROWS_WITH(en::Server(make_config(base_config(dir.path)), en::StartMode::Inspect),
                      Catch::Contains("in use"));
    auto a = logged_in(ts.port(), "alice", "pw1");  // the first one is unaffected
    REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    ts.stop();
}

TEST_CASE(
    "venue binding: a changed configuration is refused naming each change, safe changes keep every order with its "
    "owner",
    "[server][journal][venue]") {
    TempDir dir;
    const std::string cfg = base_config(dir.path, "shards 2\n");
    auto listing = [](en::Server& s) {
        std::vector<std::string> v;
        s.for_each_order([&](const std::string& sym, ob::Side, ob::Price p, std::uint64_t q, ob::OrderId,
                             std::uint32_t u, std::uint64_t t) {
            v.push_back(sym + " " + s.config().users[u].name + " " + std::to_string(t) + " " + std::to_string(p) + " " +
                        std::to_string(q));
        });
        std::sort(v.begin(), v.end());
        return v;
    };
    std::vector<std::string> before;
    {
        TestServer ts(cfg);
        auto a = logged_in(ts.port(), "alice", "pw1");
        auto b = logged_in(ts.port(), "bob", "pw2");
        REQUIRE(a->enter(order(1, 'B', 10, "AAPL", 500000)));
        expect(*a, wire::kAccepted);
        REQUIRE(b->enter(order(1, 'S', 20, "MSFT", 1500000)));
        expect(*b, wire::kAccepted);
        REQUIRE(b->enter(order(2, 'S', 20, "TINY", 15000)));
        expect(*b, wire::kAccepted);
        REQUIRE(ts.stop() == 0);
        before = listing(ts.server());
        REQUIRE(before.size() == 3);
    }
    auto refused = [&](const std::string& text) -> std::string {
        try {
            en::Server s(make_config(text));
        } catch (const en::JournalError& e) {
            return e.what();
        }
        return "";
    };
    auto replace = [](std::string text, const std::string& a, const std::string& b) {
        const auto at = text.find(a);
        REQUIRE(at != std::string::npos);
        return text.replace(at, a.size(), b);
    };
    CHECK_THAT(refused(replace(replace(cfg, "user alice", "user xx"), "user bob", "user alice")),
               Catch::Contains("user 1 was alice, is now xx") && Catch::Contains("user 2 was bob, is now alice"));
    CHECK_THAT(refused(replace(cfg, "instrument AAPL", "instrument IBM\ninstrument AAPL")),
               Catch::Contains("instrument 1 was AAPL, is now IBM"));
    CHECK_THAT(refused(replace(cfg, "max_price=2.0000", "max_price=1.2000")),
               Catch::Contains("TINY: price band narrowed"));
    CHECK(listing(*std::make_unique<en::Server>(make_config(cfg), en::StartMode::Inspect)) ==
          before);  // nothing was changed by the refusals
    // Safe: a user and an instrument at the end, a wider band.
    const std::string grown =
        replace(cfg, "max_price=2.0000", "max_price=5.0000") + "user dave password=pw4\ninstrument IBM\n";
    {
        TestServer ts(grown);
        auto d = logged_in(ts.port(), "dave", "pw4");
        REQUIRE(d->enter(order(1, 'S', 5, "IBM", 1000000)));
        expect(*d, wire::kAccepted);
        REQUIRE(d->enter(order(2, 'S', 5, "TINY", 45000)));
        expect(*d, wire::kAccepted);
        REQUIRE(ts.stop() == 0);
        auto now = listing(ts.server());
        CHECK(now.size() == 5);
        for (const auto& o : before) CHECK(std::find(now.begin(), now.end(), o) != now.end());
    }
    // The grown venue is the journal's now: the old configuration lacks what was added.
    CHECK_THAT(refused(cfg), Catch::Contains("user 4 (dave) removed") &&
                                 Catch::Contains("instrument 4 (IBM) removed") &&
                                 Catch::Contains("TINY: price band narrowed"));
}

TEST_CASE("venue binding: a missing, emptied, foreign, shortened or stray shard file refuses the start",
          "[server][journal][venue]") {
    TempDir dir, other;
    const std::string cfg = base_config(dir.path, "shards 2\n");
    const std::string jdir = dir.path + "/journal", saved = dir.path + "/saved";
    for (const auto& [d, text] : {std::pair{&dir, cfg}, std::pair{&other, base_config(other.path, "shards 2\n")}}) {
        TestServer ts(text);
        auto a = logged_in(ts.port(), "alice", "pw1");
        for (std::uint64_t t = 1; t <= 6; ++t) REQUIRE(a->enter(order(t, 'B', 10, t % 2 ? "AAPL" : "MSFT", 500000)));
        read_until_answer(*a, 6);
        REQUIRE(ts.stop() == 0);
        (void)d;
    }
    std::filesystem::copy(jdir, saved);
    auto restore = [&] {
        std::filesystem::remove_all(jdir);
        std::filesystem::copy(saved, jdir);
    };
    auto refused = [&]() -> std::string {
        try {
            en::Server s(make_config(cfg));
        } catch (const en::JournalError& e) {
            return e.what();
        }
        return "";
    };
    const std::string j1 = jdir + "/journal-1.nxj";
    std::filesystem::remove(j1);
    CHECK_THAT(refused(), Catch::Contains(j1 + ": missing") && Catch::Contains("shard 1 of 2"));
    restore();
    std::filesystem::resize_file(j1, 0);
    CHECK_THAT(refused(), Catch::Contains(j1 + ": empty"));
    restore();
    std::filesystem::resize_file(j1, en::journal_format::kHeaderSize);  // every record cut, at a record boundary
    CHECK_THAT(refused(),
               Catch::Contains("produces no more answers") || Catch::Contains("records were cut from its end"));
    restore();
    std::filesystem::copy_file(other.path + "/journal/journal-1.nxj", j1,
                               std::filesystem::copy_options::overwrite_existing);
    CHECK_THAT(refused(), Catch::Contains(j1 + ": belongs to another venue"));
    restore();
    std::filesystem::copy_file(jdir + "/journal-0.nxj", j1, std::filesystem::copy_options::overwrite_existing);
    CHECK_THAT(refused(), Catch::Contains(j1 + ": written as shard 0 of 2, found as shard 1 of 2"));
    restore();
    std::filesystem::copy_file(jdir + "/journal-1.nxj", jdir + "/journal-2.nxj");
    CHECK_THAT(refused(), Catch::Contains("journal-2.nxj: not in"));
    restore();
    std::filesystem::remove(jdir + "/outbound.nxo");
    CHECK_THAT(refused(), Catch::Contains("outbound.nxo: missing"));
    restore();
    std::filesystem::remove(jdir + "/MANIFEST");
    CHECK_THAT(refused(), Catch::Contains("but no MANIFEST"));
    restore();
    CHECK(refused().empty());  // the saved directory itself is fine
}

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
        {"unknown symbol", with(good, [](auto& o) { o.symbol = wire::make_symbol("NOPE"); }), wire::reason::UnknownSymbol},
        {"zero size", with(good, [](auto& o) { o.qty = 0; }), wire::reason::InvalidQty},
        {"size above the instrument maximum", with(good, [](auto& o) { o.symbol = wire::make_symbol("TINY"); o.price = 15000; o.qty = 101; }), wire::reason::InvalidQty},
        {"size above the user's maximum", with(good, [](auto& o) { o.qty = 50001; }), wire::reason::InvalidQty},
        {"bad side", with(good, [](auto& o) { o.side = 'X'; }), wire::reason::InvalidSide},
        {"price below the range", with(good, [](auto& o) { o.price = 9999; }), wire::reason::InvalidPrice},
        {"price above the range", with(good, [](auto& o) { o.price = 10000001; }), wire::reason::InvalidPrice},
        {"market order with a price", with(good, [](auto& o) { o.type = 'M'; o.tif = 'I'; }), wire::reason::InvalidPrice},
        {"bad time in force", with(good, [](auto& o) { o.tif = 'Q'; }), wire::reason::InvalidFlags},
        {"bad order type", with(good, [](auto& o) { o.type = 'Z'; }), wire::reason::InvalidFlags},
        {"bad post-only flag", with(good, [](auto& o) { o.post_only = 'x'; }), wire::reason::InvalidFlags},
        {"bad STP code", with(good, [](auto& o) { o.stp = '?'; }), wire::reason::InvalidFlags},
        {"market and post-only", with(good, [](auto& o) { o.type = 'M'; o.price = 0; o.post_only = 'Y'; }), wire::reason::InvalidFlags},
        {"notional above the user's limit", with(good, [](auto& o) { o.qty = 20000; o.price = 600000; }), wire::reason::OverLimit},
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
        if (c->receive().packet == wire::kLoginAccepted) again = std::move(c);
        else std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
        REQUIRE(clients[static_cast<std::size_t>(i)]->enter(order(1, i % 2 ? 'B' : 'S', 10, "MSFT", i % 2 ? 990000 : 1010000)));
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
        s.for_each_order([&](const std::string& sym, ob::Side side, ob::Price p, std::uint64_t q, ob::OrderId id, std::uint32_t u,
                             std::uint64_t t) {
            v.push_back(sym + " " + std::to_string(static_cast<int>(side)) + " " + std::to_string(p) + " " + std::to_string(q) +
                        " " + std::to_string(id) + " " + std::to_string(u) + " " + std::to_string(t));
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
            REQUIRE(a->enter(order(t, 'B', 10 + static_cast<std::uint32_t>(t), sym, 1000000 - static_cast<std::uint32_t>(t % 5) * 100)));
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

TEST_CASE("server: a journal that does not match the configuration stops the start with a clear error", "[server][journal]") {
    TempDir dir;
    {
        TestServer ts(base_config(dir.path, "shards 2\n"));
        auto a = logged_in(ts.port(), "alice", "pw1");
        REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
        expect(*a, wire::kAccepted);
    }
    CHECK_THROWS_WITH(en::Server(make_config(base_config(dir.path, "shards 3\n"))), Catch::Contains("shard count must not change"));
}

TEST_CASE("server: a silent client is disconnected after the idle timeout, heartbeats keep a session alive", "[server][faults]") {
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

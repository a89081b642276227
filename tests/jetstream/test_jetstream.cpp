// nexus::jetstream against real nats-server processes (tests/jetstream/
// nats_server.hpp): connecting, streams, acknowledged publishing with a
// bounded window, the pull consumer's order, and what survives a server
// crash, alone and in a 3-node cluster.
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "jetstream/nats_server.hpp"
#include "nexus/jetstream/connection.hpp"
#include "nexus/jetstream/consumer.hpp"
#include "nexus/jetstream/error.hpp"
#include "nexus/jetstream/publisher.hpp"
#include "nexus/jetstream/stream.hpp"
#include "nexus/jetstream/url.hpp"

namespace js = nexus::jetstream;
using nexus::test::have_nats_server;
using namespace std::chrono_literals;

namespace {

js::ConnectOptions options_for(std::vector<std::string> servers) {
    js::ConnectOptions o;
    o.servers = std::move(servers);
    o.connect_timeout = 1000ms;
    o.request_timeout = 3000ms;
    return o;
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
// "x" + number, built by appending (g++ 12 warns falsely on literal + to_string).
std::string tag(const char* prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}
js::ConsumerOptions reader(const std::string& stream, const std::string& subject = "", std::uint64_t start = 1,
                           int batch = 16) {
    js::ConsumerOptions o;
    o.stream = stream;
    o.subject = subject;
    o.start_sequence = start;
    o.batch = batch;
    o.fetch_wait = 200ms;
    return o;
}
js::PublisherOptions window_of(std::size_t window, std::chrono::milliseconds timeout, const std::string& stream = "") {
    js::PublisherOptions o;
    o.window = window;
    o.ack_timeout = timeout;
    o.expect_stream = stream;
    return o;
}
js::StreamConfig stream_of(const std::string& name, std::vector<std::string> subjects, int replicas = 1) {
    js::StreamConfig c;
    c.name = name;
    c.subjects = std::move(subjects);
    c.replicas = replicas;
    return c;
}
std::string text_of(std::span<const std::uint8_t> d) { return {d.begin(), d.end()}; }

// Everything on the stream's subject from `start`, until `want` messages or
// nothing new for a second.
std::vector<js::Message> read_all(js::Connection& c, const std::string& stream, std::size_t want,
                                  std::uint64_t start = 1) {
    // A cluster that just lost a node may take a few seconds to elect new
    // leaders: making the consumer is retried meanwhile.
    std::unique_ptr<js::PullConsumer> made;
    for (int i = 0; !made; ++i) {
        try {
            made = std::make_unique<js::PullConsumer>(c, reader(stream, "", start));
        } catch (const js::Error& e) {
            if (i == 40 || e.kind() != js::ErrorKind::Timeout) throw;
        }
    }
    js::PullConsumer& pc = *made;
    std::vector<js::Message> out;
    int idle = 0;
    while (out.size() < want && idle < 5) {
        auto got = pc.fetch();
        idle = got.empty() ? idle + 1 : 0;
        for (auto& m : got) out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST_CASE("client: feed URLs are parsed strictly", "[jetstream]") {
    auto u = js::parse_feed_url("nats://127.0.0.1:4333/DAY/DAY.itch");
    CHECK(u.server == "nats://127.0.0.1:4333");
    CHECK(u.stream == "DAY");
    CHECK(u.subject == "DAY.itch");
    u = js::parse_feed_url("nats://host/S");
    CHECK(u.server == "nats://host:4222");
    CHECK(u.subject.empty());
    CHECK(js::parse_feed_url("nats://[::1]:5/S").server == "nats://[::1]:5");
    for (const char* bad : {"nats://", "nats://h", "nats://h/", "nats://h:/S", "nats://h:x/S", "nats://h:70000/S",
                            "nats://h:0/S", "nats://h/S.T", "nats://h/S/", "nats://h/S/a..b", "nats://u@h/S",
                            "nats://h/S/a b", "http://h/S", "nats://[::1/S"}) {
        INFO(bad);
        try {
            js::parse_feed_url(bad);
            FAIL("accepted");
        } catch (const js::Error& e) {
            CHECK(e.kind() == js::ErrorKind::Invalid);
            CHECK(std::string(e.what()).find(bad) != std::string::npos);  // names what it refused
        }
    }
    CHECK(js::valid_subject("a.*.>", true));
    CHECK_FALSE(js::valid_subject("a.*", false));
    CHECK_FALSE(js::valid_subject("a.>.b", true));
    CHECK_FALSE(js::valid_subject("a*b", true));
}

TEST_CASE("client: connecting where no server listens fails, naming the server", "[jetstream]") {
    const std::uint16_t port = nexus::test::free_port();
    const std::string url = "nats://127.0.0.1:" + std::to_string(port);
    try {
        js::Connection c(options_for({url}));
        FAIL("connected to nothing");
    } catch (const js::Error& e) {
        CHECK(e.kind() == js::ErrorKind::Connect);
        CHECK_THAT(e.what(), Catch::Contains(url) && Catch::Contains("cannot connect"));
    }
    CHECK_THROWS_AS(js::Connection(options_for({})), js::Error);
}

TEST_CASE("client: a stream is created once, found again, and a conflicting one refused", "[jetstream][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    js::Connection c(options_for({s.server.url()}));
    c.wait_for_jetstream(10s);
    const auto made = js::ensure_stream(c, stream_of("S1", {"s1.a", "s1.b"}));
    CHECK(made.name == "S1");
    CHECK(made.storage == js::Storage::File);
    CHECK(made.messages == 0);
    // Asking again (or for a subset of its subjects) finds it as it is.
    CHECK(js::ensure_stream(c, stream_of("S1", {"s1.a"})).subjects.size() == 2);
    try {
        js::ensure_stream(c, stream_of("S1", {"s1.c"}));
        FAIL("a stream with other subjects was taken");
    } catch (const js::Error& e) {
        CHECK(e.kind() == js::ErrorKind::Conflict);
        CHECK_THAT(e.what(), Catch::Contains("S1") && Catch::Contains("s1.a") && Catch::Contains("s1.c"));
    }
    try {
        js::stream_info(c, "NOPE");
        FAIL("found a stream that is not there");
    } catch (const js::Error& e) {
        CHECK(e.kind() == js::ErrorKind::NotFound);
        CHECK_THAT(e.what(), Catch::Contains("NOPE") && Catch::Contains(s.server.url()));
    }
    CHECK_THROWS_AS(js::ensure_stream(c, stream_of("bad.name", {"x"})), js::Error);
    CHECK_THROWS_AS(js::ensure_stream(c, stream_of("S2", {})), js::Error);
    CHECK(js::delete_stream(c, "S1"));
    CHECK_FALSE(js::delete_stream(c, "S1"));
}

TEST_CASE("client: random synchronous and windowed publishes read back in order, each with its sequence",
          "[jetstream][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    js::Connection c(options_for({s.server.url()}));
    c.wait_for_jetstream(10s);
    js::ensure_stream(c, stream_of("R", {"r.one", "r.other"}));
    const std::size_t window = 8;
    js::Publisher pub(c, window_of(window, 3000ms, "R"));

    // The model: every payload, in publishing order, on r.one; noise on r.other.
    std::mt19937 rng(Catch::rngSeed());
    std::vector<std::string> model;
    std::uint64_t last_sync = 0;
    for (int i = 0; i < 600; ++i) {
        std::string payload(std::uniform_int_distribution<std::size_t>(0, 3000)(rng), 'a' + static_cast<char>(i % 26));
        payload += tag("#", i);
        const auto d = bytes_of(payload);
        if (rng() % 5 == 0) {
            pub.flush();  // order: everything before is stored before this
            const auto ack = pub.publish("r.one", d, {{"Idx", std::to_string(i)}});
            CHECK(ack.stream == "R");
            CHECK(ack.sequence > last_sync);
            last_sync = ack.sequence;
        } else {
            pub.publish_async("r.one", d, {{"Idx", std::to_string(i)}});
            CHECK(pub.in_flight() <= window);  // the window bounds what waits for an acknowledgement
        }
        model.push_back(payload);
        if (rng() % 7 == 0) pub.publish_async("r.other", bytes_of("noise"));
    }
    pub.flush();
    CHECK(pub.in_flight() == 0);
    CHECK(js::stream_info(c, "R").last_sequence == pub.last_sequence());

    js::PullConsumer pc(c, reader("R", "r.one", 1, 37));
    std::vector<js::Message> got;
    for (int idle = 0; got.size() < model.size() && idle < 10;) {
        auto b = pc.fetch();
        idle = b.empty() ? idle + 1 : 0;
        for (auto& m : b) got.push_back(std::move(m));
    }
    REQUIRE(got.size() == model.size());
    std::uint64_t prev = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].sequence() > prev);
        prev = got[i].sequence();
        CHECK(got[i].subject() == "r.one");
        CHECK(got[i].header("Idx") == std::to_string(i));
        CHECK(text_of(got[i].data()) == model[i]);
    }
    CHECK(pc.last_sequence() == prev);
    CHECK(pc.fetch().empty());  // nothing more, no error

    // From a given sequence: exactly the messages from there.
    const std::uint64_t from = got[got.size() / 2].sequence();
    js::PullConsumer tail(c, reader("R", "r.one", from, 64));
    std::vector<js::Message> rest;
    for (int idle = 0; idle < 3;) {
        auto b = tail.fetch();
        idle = b.empty() ? idle + 1 : 0;
        for (auto& m : b) rest.push_back(std::move(m));
    }
    REQUIRE(rest.size() == got.size() - got.size() / 2);
    CHECK(rest.front().sequence() == from);

    // Too big for the server: refused before sending, saying so.
    std::vector<std::uint8_t> huge(static_cast<std::size_t>(c.max_payload()) + 1);
    CHECK_THROWS_WITH(pub.publish_async("r.one", huge), Catch::Contains("maximum payload"));
    // A subject no stream takes: the server has no stream to answer.
    CHECK_THROWS_AS(pub.publish("nobody.listens", bytes_of("x")), js::Error);
    // A stream of several subjects must be told which one to read.
    CHECK_THROWS_WITH((js::PullConsumer(c, reader("R"))), Catch::Contains("name the one to read"));
    CHECK_THROWS_WITH((js::PullConsumer(c, reader("GONE"))), Catch::Contains("no stream 'GONE'"));
}

TEST_CASE("client: what was acknowledged survives the server's crash, and a dead server fails publishes clearly",
          "[jetstream][server][fault]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    std::uint64_t acked = 0;
    {
        js::Connection c(options_for({s.server.url()}));
        c.wait_for_jetstream(10s);
        js::ensure_stream(c, stream_of("K", {"k"}));
        js::Publisher pub(c, window_of(32, 1000ms));
        for (int i = 0; i < 500; ++i) pub.publish_async("k", bytes_of(tag("m", i)));
        pub.flush();
        acked = pub.acknowledged();
        REQUIRE(acked == 500);
        s.server.stop(SIGKILL);
        // No server: a synchronous publish fails within its timeout, naming the subject.
        try {
            pub.publish("k", bytes_of("lost"));
            FAIL("published to a dead server");
        } catch (const js::Error& e) {
            CHECK_THAT(e.what(), Catch::Contains("subject k") && Catch::Contains(s.server.url()));
        }
        // Asynchronous ones are never counted as acknowledged.
        const auto before = pub.acknowledged();
        bool failed = false;
        try {
            for (int i = 0; i < 64; ++i) pub.publish_async("k", bytes_of("lost"));
            pub.flush();
        } catch (const js::Error& e) {
            failed = true;
            CHECK_THAT(e.what(), Catch::Contains("subject k"));
        }
        CHECK(failed);
        CHECK(pub.acknowledged() == before);
    }
    s.server.restart();
    js::Connection c(options_for({s.server.url()}));
    c.wait_for_jetstream(10s);
    const auto msgs = read_all(c, "K", 1000);
    REQUIRE(msgs.size() >= acked);
    for (std::size_t i = 0; i < acked; ++i) CHECK(text_of(msgs[i].data()) == tag("m", i));
}

TEST_CASE("client: a 3-node cluster keeps a replicated stream through the loss of a node",
          "[jetstream][server][cluster]") {
    if (!have_nats_server()) return;
    nexus::test::NatsCluster cluster;
    js::Connection c(options_for(cluster.urls()));
    c.wait_for_jetstream(20s);
    // The meta leader may still be settling: creation is retried briefly.
    js::StreamInfo info;
    for (int i = 0;; ++i) {
        try {
            info = js::ensure_stream(c, stream_of("C", {"c"}, 3));
            break;
        } catch (const js::Error&) {
            if (i == 50) throw;
            std::this_thread::sleep_for(200ms);
        }
    }
    CHECK(info.replicas == 3);
    std::uint64_t acked = 0;
    {
        js::Publisher pub(c, window_of(16, 3000ms));
        for (int i = 0; i < 200; ++i) pub.publish_async("c", bytes_of(tag("x", i)));
        pub.flush();
        acked = pub.acknowledged();
    }
    REQUIRE(acked == 200);
    // Lose a node (whichever the client is on, or another): two of three
    // remain a quorum, so the stream still takes and serves messages.
    cluster.servers[0]->stop(SIGKILL);
    js::Connection c2(options_for({cluster.servers[1]->url(), cluster.servers[2]->url()}));
    std::uint64_t more = 0;
    for (int i = 0; i < 100 && more == 0; ++i) {
        try {
            js::Publisher pub(c2, window_of(16, 2000ms));
            for (int k = 200; k < 250; ++k) pub.publish_async("c", bytes_of(tag("x", k)));
            pub.flush();
            more = pub.acknowledged();
        } catch (const js::Error&) {
            std::this_thread::sleep_for(200ms);  // a new stream leader is being elected
        }
    }
    REQUIRE(more == 50);
    const auto msgs = read_all(c2, "C", 250);
    REQUIRE(msgs.size() >= 250);
    std::set<std::string> seen;
    for (const auto& m : msgs) seen.insert(text_of(m.data()));
    for (int i = 0; i < 250; ++i) CHECK(seen.count(tag("x", i)) == 1);
}

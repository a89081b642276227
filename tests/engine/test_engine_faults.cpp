// Faults against the real nexus-engine binary, checked against what every
// client was told: SIGTERM while clients pipeline, and many runs each ended
// by a SIGKILL or a SIGTERM at a random moment, recovered, resumed and
// compared.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <random>

#include "engine/engine_proc.hpp"

using namespace nexus::test;

namespace {

// Sends `n` requests in one write, without waiting: enters priced around
// 100.00 so that they trade across users, cancels and replaces of the
// trader's live orders.
// Returns false if the connection is gone.
bool send_some(Trader& t, std::mt19937_64& rng, int n) {
    std::vector<std::uint8_t> b;
    wire::Encoder enc(b);
    for (int i = 0; i < n; ++i) {
        const int what = static_cast<int>(rng() % 10);
        const char side = rng() % 2 ? 'B' : 'S';
        const int off = static_cast<int>(rng() % 7) - 3;
        const auto price = static_cast<std::uint32_t>(1000000 + (side == 'B' ? -off : off) * 100);
        if (what < 6 || t.live.empty()) {
            const std::uint64_t token = t.next_token++;
            auto o = order(token, side, 1 + static_cast<std::uint32_t>(rng() % 60), rng() % 2 ? "AAPL" : "MSFT", price,
                           rng() % 10 == 0 ? 'I' : 'D');
            enc.enter(o);
            t.pending.insert(token);
            t.unanswered_enters[token] = o;
        } else {
            auto it = t.live.begin();
            std::advance(it, static_cast<long>(rng() % t.live.size()));
            if (what < 8) {
                enc.cancel(
                    {.token = it->first, .qty = rng() % 3 == 0 ? static_cast<std::uint32_t>(it->second.open / 2) : 0u});
                t.pending.insert(it->first);
            } else {
                const std::uint64_t token = t.next_token++;
                enc.replace({.token = it->first,
                             .new_token = token,
                             .qty = 1 + static_cast<std::uint32_t>(rng() % 60),
                             .price = price});
                t.pending.insert(token);
            }
        }
    }
    return t.c->send_bytes(b);
}

std::vector<Trader> make_traders() {
    std::vector<Trader> v;
    v.emplace_back("alice", "pw1");
    v.emplace_back("bob", "pw2");
    v.emplace_back("carol", "pw3");
    return v;
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE(
    "clean stop: SIGTERM while clients pipeline, every journaled command is answered, every session ends with End of "
    "Session",
    "[server][faults]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path,
                                      "shards 2\npool_orders 65536\npool_levels 4096\nmatching " + matching + "\n");
    auto traders = make_traders();
    std::mt19937_64 rng(matching == "inline" ? 7 : 8);
    {
        EngineProcess e(cfg, dir.path);
        for (auto& t : traders) t.resume(e.port);
        const int rounds = 3 + static_cast<int>(rng() % 4);
        const std::size_t stopper = rng() % traders.size();
        for (int round = 0; round <= rounds; ++round) {
            for (std::size_t i = 0; i < traders.size() && !(round == rounds && i > stopper); ++i) {
                REQUIRE(send_some(traders[i], rng, 150));
                if (round == rounds && i == stopper)
                    ::kill(e.pid, SIGTERM);  // with bursts in flight
                else
                    REQUIRE(traders[i].pump());
            }
        }
        // The clients go on sending for a moment, as pipelining clients do
        // (nothing read now may be answered after End of Session).
        for (int burst = 0; burst < 3; ++burst) {
            for (auto& t : traders) (void)send_some(t, rng, 100);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        for (auto& t : traders) {
            t.drain_to_close();
            INFO(t.name);
            CHECK(t.ended);  // End of Session came, after every answer
        }
        CHECK(e.wait() == 0);
    }
    std::size_t unanswered = 0;
    for (const auto& t : traders) unanswered += t.pending.size();
    UNSCOPED_INFO(unanswered << " requests sent after the engine stopped reading (never journaled, never answered)");
    // Everything journaled was answered: the recovered books are exactly what the clients were told ...
    std::string log;
    const auto state = recovered(dir.path, cfg, &log);
    CHECK(state == told(traders));
    CHECK(!state.empty());
    CHECK_THAT(log, Catch::Contains(", 0 journaled but not yet sent"));
    // ... and a resume finds nothing stored after what each client received.
    EngineProcess e(cfg, dir.path);
    for (auto& t : traders) {
        t.resume(e.port);
        CHECK(t.sync() == 0);  // only the barrier's own answers
    }
    CHECK(e.signal_and_wait(SIGTERM) == 0);
}

TEST_CASE(
    "fault injection: SIGKILL or SIGTERM at random moments over many runs, each recovery matches what every client was "
    "told",
    "[server][faults][crash]") {
    const std::uint64_t runs = env_or("NEXUS_FAULT_RUNS", 14), seed = env_or("NEXUS_FAULT_SEED", 20261127);
    INFO("NEXUS_FAULT_SEED=" << seed << " NEXUS_FAULT_RUNS=" << runs);
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    auto traders = make_traders();
    int kills = 0, terms = 0;
    std::uint64_t resent = 0, replayed_fills = 0;
    bool last_was_term = false;
    for (std::uint64_t run = 0; run <= runs; ++run) {
        INFO("run " << run);
        // Threading and sync policy are not part of the venue: they may change between runs.
        std::ofstream(cfg, std::ios::trunc) << base_config(
            dir.path, std::string("shards 2\npool_orders 65536\npool_levels 4096\nmatching ") +
                          (rng() % 2 ? "inline" : "threads") + "\nsync " + (rng() % 4 == 0 ? "fsync" : "os") + "\n");
        std::map<Key, Live> state;
        if (run > 0) {
            std::string log;
            state = recovered(dir.path, cfg, &log);
            if (last_was_term) CHECK_THAT(log, Catch::Contains(", 0 journaled but not yet sent"));
        }
        EngineProcess e(cfg, dir.path);
        // Resume: each client asks for the message after the last it processed
        // (now and then from an earlier one: those must come again, the same).
        for (auto& t : traders) {
            t.resume(e.port, rng() % 4 == 0 && t.last > 0 ? 1 + rng() % t.last : 0);
            replayed_fills += t.sync();
        }
        // Nothing in doubt: the clients' models are the recovered books ...
        CHECK(told(traders) == state);
        // ... and a request still unanswered was never executed: sent again
        // with the same token, it is accepted, not refused as a duplicate.
        for (auto& t : traders) {
            std::vector<std::uint8_t> b;
            for (const auto& [token, o] : t.unanswered_enters) {
                wire::Encoder(b).enter(o);
                ++resent;
            }
            t.pending.clear();
            if (!b.empty()) {
                const std::uint64_t from = t.last;
                REQUIRE(t.c->send_bytes(b));
                t.sync();
                for (std::uint64_t n = from; n < t.last; ++n) {
                    const auto m = wire::decode_outbound(t.log[n]);
                    CHECK(!(m.type == wire::kRejected && m.reason == wire::reason::DuplicateToken));
                }
                CHECK(t.unanswered_enters.empty());
            }
        }
        if (run == runs) {
            // The whole of every stream, from message 1, once more: byte for byte what each client received.
            for (auto& t : traders) {
                t.c->close();
                t.resume(e.port, 1);
                t.sync();
            }
            CHECK(e.signal_and_wait(SIGTERM) == 0);
            break;
        }
        // Trading, pipelined, with logouts (fills for absent users), until the fault.
        const int steps = 20 + static_cast<int>(rng() % 200);
        const int sig = rng() % 2 ? SIGKILL : SIGTERM;
        for (int step = 0; step < steps; ++step) {
            const std::size_t i = rng() % traders.size();
            Trader& t = traders[i];
            if (!t.connected()) {
                t.resume(e.port);
            } else if (rng() % 25 == 0) {
                REQUIRE(t.c->packet(wire::kLogoutRequest));
                t.drain_to_close();
            } else {
                REQUIRE(send_some(t, rng, 1 + static_cast<int>(rng() % 8)));
                REQUIRE(t.pump());
            }
        }
        for (auto& t : traders)  // some answers in flight, some not
            if (t.connected() && rng() % 2) REQUIRE(send_some(t, rng, 20));
        ::kill(e.pid, sig);
        if (sig == SIGTERM) {
            ++terms;
            for (auto& t : traders) {
                if (!t.connected()) continue;
                t.drain_to_close();
                INFO(t.name);
                CHECK(t.ended);
            }
            CHECK(e.wait() == 0);
        } else {
            ++kills;
            CHECK(e.wait() == 128 + SIGKILL);
            for (auto& t : traders) t.c.reset();
        }
        last_was_term = sig == SIGTERM;
    }
    std::uint64_t messages = 0;
    for (const auto& t : traders) messages += t.last;
    UNSCOPED_INFO("fault injection: " << runs << " runs (" << kills << " SIGKILL, " << terms << " SIGTERM), "
                                      << messages << " messages in the three streams, " << replayed_fills
                                      << " new ones received on resuming, " << resent
                                      << " unanswered enters sent again and accepted");
    CHECK(kills + terms == static_cast<int>(runs));
}

TEST_CASE("loadgen: its sessions resume their streams across an engine killed and restarted", "[server][faults]") {
    TempDir dir;
    // A fixed port, so that the restarted engine is where the sessions left it.
    std::uint16_t port = 0;
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        ::close(fd);
    }
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(
        dir.path, "shards 2\npool_orders 65536\npool_levels 4096\nlisten 127.0.0.1:" + std::to_string(port) + "\n");
    auto first = std::make_unique<EngineProcess>(cfg, dir.path);
    const std::string out = dir.path + "/loadgen.out";
    const pid_t lg = spawn({NEXUS_LOADGEN_BIN, "--config", cfg, "--port", std::to_string(port), "--sessions", "3",
                            "--rate", "400", "--duration", "3", "--warmup", "0.1", "--resume", "30"},
                           out);
    // Once all three sessions trade, the engine is killed and started again.
    auto logins = [&] {
        const std::string log = slurp(dir.path + "/engine.log");
        std::size_t n = 0;
        for (auto at = log.find("logged in"); at != std::string::npos; at = log.find("logged in", at + 1)) ++n;
        return n;
    };
    for (int i = 0; i < 1000 && logins() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(logins() == 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(first->signal_and_wait(SIGKILL) == 128 + SIGKILL);
    EngineProcess second(cfg, dir.path);
    const int status = wait_exit(lg);
    const std::string text = slurp(out);
    INFO(text);
    CHECK(status == 0);
    CHECK_THAT(text, Catch::Contains("resumed 3 times") && Catch::Contains("unanswered 0,"));
    CHECK(logins() == 6);
    CHECK(second.signal_and_wait(SIGTERM) == 0);
}

TEST_CASE("loadgen: the echo floor in each polling mode answers every ping and says which mode it ran",
          "[server][floor]") {
    TempDir dir;
    struct Mode {
        std::vector<std::string> flags;
        const char* says;
    };
    for (const Mode& m : {Mode{{}, "both sides blocking"}, Mode{{"--echo-busy"}, "echo polling, client blocking"},
                          Mode{{"--busy"}, "both sides polling"}}) {
        std::vector<std::string> args{NEXUS_LOADGEN_BIN, "--floor", "--duration", "0.2", "--warmup", "0.05"};
        args.insert(args.end(), m.flags.begin(), m.flags.end());
        const std::string out = dir.path + "/floor.out";
        const int status = wait_exit(spawn(args, out));
        const std::string text = slurp(out);
        INFO(text);
        CHECK(status == 0);
        CHECK_THAT(text, Catch::Contains(m.says) && Catch::Contains("round trip us: p50"));
    }
}

TEST_CASE("engine: files that cannot grow stop it in order, and every message a client saw is recovered",
          "[server][faults]") {
    for (const char* matching : {"threads", "inline"}) {
        DYNAMIC_SECTION("matching " << matching) {
            TempDir dir;
            const std::string cfg = dir.path + "/engine.cfg";
            std::ofstream(cfg) << base_config(dir.path, std::string("matching ") + matching + "\n");
            // Under a file-size limit of 1.5 MiB the mapped files' second
            // growth fails (EFBIG), in the middle of appends.
            const std::string port_file = dir.path + "/port";
            const pid_t pid = spawn(
                {"/usr/bin/prlimit", "--fsize=1572864", NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file},
                dir.path + "/engine.log");
            for (int i = 0; i < 1000 && !std::filesystem::exists(port_file); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            REQUIRE(std::filesystem::exists(port_file));
            const auto port = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
            Trader t("alice", "pw1");
            t.resume(port, 1);
            // Immediate-or-cancel orders that never trade: each is answered
            // (Accepted, Cancelled) and leaves nothing in the book.
            for (int round = 0; round < 2000 && t.connected(); ++round) {
                std::vector<std::uint8_t> buf;
                for (int k = 0; k < 50; ++k)
                    wire::Encoder(buf).enter(order(t.next_token++, 'B', 1, "AAPL", 10000, 'I'));
                if (!t.c->send_bytes(buf)) break;
                if (!t.pump(std::chrono::milliseconds(2))) break;
            }
            t.drain_to_close();
            const int status = wait_exit(pid);
            const std::string log = slurp(dir.path + "/engine.log");
            INFO(log);
            CHECK(status == 1);
            CHECK_THAT(log, Catch::Contains("cannot grow the file"));
            CHECK(t.last > 1000);
            // Without the limit: recovery accepts the files, and the user's
            // stream holds every message the client was sent, byte for byte.
            EngineProcess again(cfg, dir.path);
            t.resume(again.port, 1);
            t.sync();
            CHECK(again.signal_and_wait(SIGTERM) == 0);
        }
    }
}

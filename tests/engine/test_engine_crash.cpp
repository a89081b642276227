// Crash recovery of the real nexus-engine binary: a stream of orders, SIGKILL
// in the middle of a burst, restart, and a comparison of the recovered books
// with what the clients were told. Also: the engine's ITCH output, read by
// nexus-replay, gives the same books as the engine's own snapshot.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <set>

#include "engine/engine_util.hpp"

extern char** environ;

using namespace nexus::test;

namespace {

struct Live {
    std::string symbol;
    char side;
    std::uint32_t price;
    std::uint64_t open;
    friend bool operator==(const Live&, const Live&) = default;
};
using Key = std::pair<std::string, std::uint64_t>;  // (user, token)

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    return pid;
}
int wait_exit(pid_t pid) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// Reads the live orders the engine recovered (nexus-engine --recover-only --orders).
std::map<Key, Live> recovered(const std::string& dir, const std::string& cfg) {
    const std::string out = dir + "/recovered.txt";
    std::filesystem::remove(out);
    REQUIRE(wait_exit(spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--recover-only", "--orders", out}, dir + "/engine.log")) == 0);
    std::map<Key, Live> m;
    std::ifstream f(out);
    REQUIRE(f);
    std::string sym, user;
    char side;
    std::uint64_t price, qty, ref, token;
    while (f >> sym >> side >> price >> qty >> ref >> user >> token)
        m[{user, token}] = Live{sym, side, static_cast<std::uint32_t>(price), qty};
    return m;
}

// Two clients trading closed-loop; the model is what the messages said.
struct Trader {
    std::string name;
    std::unique_ptr<en::Client> c;
};

}  // namespace

TEST_CASE("crash: SIGKILL in the middle of a stream loses no acknowledged order and invents none", "[server][crash]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    // Large pools: no book-full rejects here.
    std::ofstream(cfg) << base_config(dir.path, "pool_orders 65536\npool_levels 4096\nmatching " + matching + "\n");
    const std::string port_file = dir.path + "/port";
    std::mt19937_64 rng(20261126);
    std::map<Key, Live> model;  // live orders as acknowledged
    std::map<std::uint64_t, Key> by_token_alice, by_token_bob;
    std::uint64_t next_token = 1;
    const char* syms[] = {"AAPL", "MSFT"};

    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        std::filesystem::remove(port_file);
        const pid_t pid = spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file}, dir.path + "/engine.log");
        for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(std::filesystem::exists(port_file));
        const auto port = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
        Trader tr[2] = {{"alice", logged_in(port, "alice", "pw1")}, {"bob", logged_in(port, "bob", "pw2")}};
        const char* pw[2] = {"pw1", "pw2"};
        (void)pw;

        // Applies one message to the model; returns true if it answers `token`.
        auto apply = [&](const std::string& user, const wire::Outbound& m, std::uint64_t token) {
            const Key k{user, m.token};
            switch (m.type) {
                case wire::kAccepted:
                    if (m.order_type == 'L' && m.tif == 'D') model[k] = Live{wire::symbol_text(m.symbol), m.side, m.price, m.qty};
                    break;
                case wire::kReplaced: {
                    const auto it = model.find(Key{user, m.prev_token});
                    if (it != model.end()) model.erase(it);
                    model[k] = Live{wire::symbol_text(m.symbol), m.side, m.price, m.qty};
                    break;
                }
                case wire::kExecuted:
                case wire::kCancelled:
                    if (auto it = model.find(k); it != model.end()) {
                        it->second.open -= m.qty;
                        if (it->second.open == 0) model.erase(it);
                    }
                    break;
                default: break;
            }
            return m.token == token && m.type != wire::kExecuted;
        };
        // Reads both sessions until `who` answers `token` (or, with token 0, until quiet).
        auto pump = [&](int who, std::uint64_t token) {
            for (int spins = 0; spins < 20000; ++spins) {
                for (int i = 0; i < 2; ++i) {
                    const auto r = tr[i].c->receive(std::chrono::milliseconds(token ? 1 : 30));
                    if (r.packet == wire::kSequenced) {
                        REQUIRE(r.msg.type != 0);
                        if (apply(tr[i].name, r.msg, token) && i == who && token) return;
                    } else {
                        REQUIRE(r.packet != 0);  // the engine is alive until we kill it
                        if (!token && i == 1) return;
                    }
                }
            }
            FAIL("no answer for token " << token);
        };

        const int steps = 200 + static_cast<int>(rng() % 400);
        for (int s = 0; s < steps; ++s) {
            const int who = static_cast<int>(rng() % 2);
            const std::string& user = tr[who].name;
            const int what = static_cast<int>(rng() % 10);
            std::vector<std::uint64_t> mine;
            for (const auto& [k, v] : model)
                if (k.first == user) mine.push_back(k.second);
            const std::uint64_t token = next_token++;
            if (what < 6 || mine.empty()) {
                const char side = rng() % 2 ? 'B' : 'S';
                const int off = static_cast<int>(rng() % 8) - 2;  // a few ticks, sometimes through the touch
                const std::uint32_t price = static_cast<std::uint32_t>(1000000 + (side == 'B' ? -off : off) * 100);
                REQUIRE(tr[who].c->enter(order(token, side, 1 + static_cast<std::uint32_t>(rng() % 200), syms[rng() % 2], price)));
            } else if (what < 8) {
                const std::uint64_t t = mine[rng() % mine.size()];
                REQUIRE(tr[who].c->cancel({.token = t, .qty = rng() % 3 ? 0u : static_cast<std::uint32_t>(model[{user, t}].open / 2)}));
                pump(who, t);
                continue;
            } else {
                const std::uint64_t t = mine[rng() % mine.size()];
                REQUIRE(tr[who].c->replace({.token = t, .new_token = token, .qty = 1 + static_cast<std::uint32_t>(rng() % 100),
                                            .price = 1000000 + static_cast<std::uint32_t>(rng() % 5) * 100}));
            }
            pump(who, token);
        }
        pump(0, 0);  // everything acknowledged has been read

        // A burst of passive orders far from the touch, then SIGKILL mid-stream.
        std::vector<std::uint8_t> burst;
        std::vector<std::pair<std::uint64_t, Live>> sent;
        for (int i = 0; i < 3000; ++i) {
            const std::uint64_t token = next_token++;
            const auto o = order(token, 'B', 7, "MSFT", 10000 + static_cast<std::uint32_t>(i % 100) * 100);
            wire::Encoder(burst).enter(o);
            sent.emplace_back(token, Live{"MSFT", 'B', o.price, 7});
        }
        REQUIRE(tr[0].c->send_bytes(burst));
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
        ::kill(pid, SIGKILL);
        CHECK(wait_exit(pid) == 128 + SIGKILL);

        auto got = recovered(dir.path, cfg);
        // Every acknowledged live order is there, exactly.
        for (const auto& [k, v] : model) {
            INFO("acknowledged order " << k.first << " token " << k.second);
            const auto it = got.find(k);
            REQUIRE(it != got.end());
            CHECK(it->second == v);
        }
        // Nothing else, except a prefix of the burst (journaled, ack not yet read).
        std::size_t prefix = 0;
        while (prefix < sent.size() && got.count({"alice", sent[prefix].first})) {
            CHECK(got[{"alice", sent[prefix].first}] == sent[prefix].second);
            ++prefix;
        }
        CHECK(got.size() == model.size() + prefix);
        UNSCOPED_INFO("round " << round << ": " << model.size() << " acknowledged live orders, " << prefix
                                << " of 3000 in-flight orders journaled before the kill");
        for (std::size_t i = 0; i < prefix; ++i) model[{"alice", sent[i].first}] = sent[i].second;
    }
}

TEST_CASE("crash: the engine's ITCH output replays in nexus-replay into the engine's books", "[server][itch]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path, "shards 2\nmatching " + matching + "\n");
    const std::string port_file = dir.path + "/port";
    const pid_t pid = spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file, "--snapshot", dir.path + "/engine.json",
                             "--depth", "1000"},
                            dir.path + "/engine.log");
    for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(std::filesystem::exists(port_file));
    const auto port = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
    auto a = logged_in(port, "alice", "pw1");
    auto b = logged_in(port, "bob", "pw2");
    std::mt19937_64 rng(5);
    for (std::uint64_t t = 1; t <= 3000; ++t) {
        auto& c = t % 2 ? a : b;
        const char side = rng() % 2 ? 'B' : 'S';
        const int off = static_cast<int>(rng() % 10) - 2;
        const char* sym = rng() % 3 ? "AAPL" : "MSFT";
        if (t > 10 && rng() % 5 == 0) REQUIRE(c->cancel({.token = t - 2 - 2 * (rng() % 4), .qty = 0}));
        else REQUIRE(c->enter(order(t, side, 1 + static_cast<std::uint32_t>(rng() % 300), sym,
                                    static_cast<std::uint32_t>(1000000 + (side == 'B' ? -off : off) * 100))));
    }
    REQUIRE(a->enter(order(999999, 'B', 1, "AAPL", 10000)));  // a marker: once it is answered, alice's stream is done
    while (true) {
        const auto r = a->next_message();
        REQUIRE(r.packet == wire::kSequenced);
        if (r.msg.token == 999999) break;
    }
    ::kill(pid, SIGTERM);
    REQUIRE(wait_exit(pid) == 0);
    const std::string log = slurp(dir.path + "/engine.log");
    CHECK(log.find("shutting down (SIGTERM)") != std::string::npos);
    CHECK(log.find("counters at exit: orders") != std::string::npos);
    REQUIRE(wait_exit(spawn({NEXUS_REPLAY_BIN, dir.path + "/md.itch", "--quiet", "--depth", "1000", "--snapshot",
                             dir.path + "/replay.json"},
                            dir.path + "/replay.log")) == 0);
    auto books_of = [&](const std::string& path) {
        const std::string s = slurp(path);
        const auto at = s.find("\"books\"");
        REQUIRE(at != std::string::npos);
        return s.substr(at);
    };
    const std::string engine = books_of(dir.path + "/engine.json");
    CHECK(engine.find("\"orders\"") != std::string::npos);  // not an empty comparison
    CHECK(engine == books_of(dir.path + "/replay.json"));
    CHECK(slurp(dir.path + "/replay.log").find("anomalies         0 (") != std::string::npos);
}

TEST_CASE("crash: bad configuration or journal at start-up is exit 2 with the file, line or offset", "[server][faults]") {
    TempDir dir;
    const std::string log = dir.path + "/start.log";
    auto start = [&](const std::string& cfg_text) {
        const std::string cfg = dir.path + "/bad.cfg";
        std::ofstream(cfg) << cfg_text;
        std::filesystem::remove(log);
        return wait_exit(spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--recover-only"}, log));
    };
    CHECK(start(base_config(dir.path) + "colour blue\n") == 2);
    const std::string good = base_config(dir.path);
    const auto lines = static_cast<std::size_t>(std::count(good.begin(), good.end(), '\n'));
    CHECK(slurp(log).find("bad.cfg:" + std::to_string(lines + 1) + ": unknown setting 'colour'") != std::string::npos);
    // A journal damaged in the middle: the engine refuses to start rather than lose what follows.
    std::filesystem::create_directories(dir.path + "/journal");
    {
        en::JournalWriter w(dir.path + "/journal/journal-0.nxj", 1, 0, en::SyncPolicy::Os);
        en::Command c;
        c.kind = 'O';
        c.instrument = 1;
        c.side = 'B';
        c.qty = 1;
        c.price = 1000000;
        for (std::uint64_t i = 1; i <= 3; ++i) {
            c.token = c.order_id = i;
            w.append(c);
        }
        w.commit();
    }
    {
        std::fstream f(dir.path + "/journal/journal-0.nxj", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(en::kJournalHeader + 64 + 30));
        f.put('\x7f');
    }
    CHECK(start(base_config(dir.path)) == 2);
    CHECK(slurp(log).find("offset " + std::to_string(en::kJournalHeader + 64) + ": damaged record") != std::string::npos);
}

// Crash recovery of the real nexus-engine binary: a stream of orders, SIGKILL
// in the middle of a burst, restart, and a comparison of the recovered books
// with what the clients were told. Also: the engine's ITCH output, read by
// nexus-replay, gives the same books as the engine's own snapshot.
#include <random>

#include "engine/engine_proc.hpp"

using namespace nexus::test;

namespace {

// Two clients trading closed-loop; the model is what the messages said.
struct Peer {
    std::string name;
    std::unique_ptr<en::Client> c;
};

}  // namespace

TEST_CASE("crash: SIGKILL in the middle of a stream loses no acknowledged order and invents none", "[server][crash]") {
    const std::string matching = GENERATE(as<std::string>{}, "threads", "inline");
    INFO("matching " << matching);
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    const std::string port_file = dir.path + "/port";
    std::mt19937_64 rng(20261126);
    std::map<Key, Live> model;  // live orders as acknowledged
    std::map<std::uint64_t, Key> by_token_alice, by_token_bob;
    std::uint64_t next_token = 1;
    const char* syms[] = {"AAPL", "MSFT"};

    for (int round = 0; round < 3; ++round) {
        // The journal and the store appended through a mapping (the default),
        // then with write(2), then mapped again: each round recovers what the
        // other way left at its crash.
        const char* journal_mode = round == 1 ? "write" : "mmap";
        INFO("round " << round << ", journal_mode " << journal_mode);
        // Large pools: no book-full rejects here.
        std::ofstream(cfg) << base_config(dir.path, "pool_orders 65536\npool_levels 4096\nmatching " + matching +
                                                        "\njournal_mode " + journal_mode + "\n");
        std::filesystem::remove(port_file);
        const pid_t pid =
            spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file}, dir.path + "/engine.log");
        for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(std::filesystem::exists(port_file));
        const auto port = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
        Peer tr[2] = {{"alice", logged_in(port, "alice", "pw1")}, {"bob", logged_in(port, "bob", "pw2")}};
        const char* pw[2] = {"pw1", "pw2"};
        (void)pw;

        // Applies one message to the model; returns true if it answers `token`.
        auto apply = [&](const std::string& user, const wire::Outbound& m, std::uint64_t token) {
            const Key k{user, m.token};
            switch (m.type) {
                case wire::kAccepted:
                    if (m.order_type == 'L' && m.tif == 'D')
                        model[k] = Live{wire::symbol_text(m.symbol), m.side, m.price, m.qty};
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
                REQUIRE(tr[who].c->enter(
                    order(token, side, 1 + static_cast<std::uint32_t>(rng() % 200), syms[rng() % 2], price)));
            } else if (what < 8) {
                const std::uint64_t t = mine[rng() % mine.size()];
                REQUIRE(tr[who].c->cancel(
                    {.token = t, .qty = rng() % 3 ? 0u : static_cast<std::uint32_t>(model[{user, t}].open / 2)}));
                pump(who, t);
                continue;
            } else {
                const std::uint64_t t = mine[rng() % mine.size()];
                REQUIRE(tr[who].c->replace({.token = t,
                                            .new_token = token,
                                            .qty = 1 + static_cast<std::uint32_t>(rng() % 100),
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
    const pid_t pid = spawn({NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file, "--snapshot",
                             dir.path + "/engine.json", "--depth", "1000"},
                            dir.path + "/engine.log");
    for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
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
        if (t > 10 && rng() % 5 == 0)
            REQUIRE(c->cancel({.token = t - 2 - 2 * (rng() % 4), .qty = 0}));
        else
            REQUIRE(c->enter(order(t, side, 1 + static_cast<std::uint32_t>(rng() % 300), sym,
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

namespace {
// A journal directory with a few orders in it, written by the engine.
void make_journal(const std::string& dir, const std::string& cfg, int orders = 6) {
    EngineProcess e(cfg, dir);
    auto a = logged_in(e.port, "alice", "pw1");
    for (int t = 1; t <= orders; ++t) {
        REQUIRE(a->enter(order(static_cast<std::uint64_t>(t), 'B', 10, t % 2 ? "AAPL" : "MSFT", 500000)));
        expect(*a, wire::kAccepted);
    }
    REQUIRE(e.signal_and_wait(SIGTERM) == 0);
}
void flip_byte(const std::string& path, std::uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x7f));
}
}  // namespace

TEST_CASE("crash: bad configuration or journal at start-up is exit 2 with the file, line or offset",
          "[server][faults]") {
    TempDir dir;
    std::string log;
    const std::string cfg = dir.path + "/bad.cfg";
    std::ofstream(cfg) << base_config(dir.path) + "colour blue\n";
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 2);
    const std::string good = base_config(dir.path);
    const auto lines = static_cast<std::size_t>(std::count(good.begin(), good.end(), '\n'));
    CHECK_THAT(log, Catch::Contains("bad.cfg:" + std::to_string(lines + 1) + ": unknown setting 'colour'"));
    std::ofstream(cfg, std::ios::trunc) << base_config(dir.path) + "max_sessions 0\n";
    CHECK(run_engine({"--config", cfg}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("bad.cfg:" + std::to_string(lines + 1) +
                                    ": max_sessions: '0' is not a whole number in [1, 1000000]"));
    CHECK(!std::filesystem::exists(dir.path + "/journal"));  // refused before anything was created

    std::ofstream(cfg, std::ios::trunc) << good;
    make_journal(dir.path, cfg);
    const std::string j0 = dir.path + "/journal/journal-0.nxj";
    const std::uint64_t H = en::journal_format::kHeaderSize, R = en::journal_format::kRecordSize;
    REQUIRE(std::filesystem::file_size(j0) == H + 6 * R);
    const std::string saved = dir.path + "/saved.nxj";
    std::filesystem::copy_file(j0, saved);
    // Damage in the middle: refused with the offset and the record.
    flip_byte(j0, H + R + 30);
    CHECK(run_engine({"--config", cfg}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains(j0 + ": offset " + std::to_string(H + R) + ": record 2 is damaged"));
    // A complete last record with a bad checksum: damage, not a torn tail.
    std::filesystem::copy_file(saved, j0, std::filesystem::copy_options::overwrite_existing);
    flip_byte(j0, H + 5 * R + 30);
    CHECK(run_engine({"--config", cfg}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("record 6 is damaged (complete, checksum mismatch): not a torn write"));
    CHECK(std::filesystem::file_size(j0) == H + 6 * R);  // and not cut
}

TEST_CASE("crash: a changed configuration or a missing or emptied shard file refuses the start",
          "[server][journal][venue]") {
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    const std::string text = base_config(dir.path, "shards 2\n");
    std::ofstream(cfg) << text;
    make_journal(dir.path, cfg);
    std::string log;
    auto with = [&](std::string t, const std::string& a, const std::string& b) {
        t.replace(t.find(a), a.size(), b);
        std::ofstream(cfg, std::ios::trunc) << t;
    };
    std::string swapped = text;
    swapped.replace(swapped.find("user alice password=pw1"), 23, "user TEMP password=pw1");
    swapped.replace(swapped.find("user bob password=pw2"), 21, "user alice password=pw2");
    with(swapped, "user TEMP", "user bob");  // alice and bob swapped: every order would change owner
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("engine.cfg: the configuration does not match the journal") &&
                        Catch::Contains("user 1 was alice, is now bob") &&
                        Catch::Contains("user 2 was bob, is now alice"));
    const std::string itch = slurp(dir.path + "/md.itch");
    CHECK(run_engine({"--config", cfg}, dir.path, &log) == 2);  // to serve: refused the same way
    CHECK_THAT(log, Catch::Contains("user 1 was alice, is now bob"));
    CHECK(slurp(dir.path + "/md.itch") == itch);  // the market data of the journal is left as it was
    CHECK(!std::filesystem::exists(dir.path + "/md.itch.tmp"));
    with(text, "instrument AAPL", "instrument IBM\ninstrument AAPL");
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("instrument 1 was AAPL, is now IBM"));
    std::ofstream(cfg, std::ios::trunc) << text;
    const std::string j1 = dir.path + "/journal/journal-1.nxj";
    std::filesystem::rename(j1, j1 + ".away");
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains(j1 + ": missing"));
    std::filesystem::rename(j1 + ".away", j1);
    const std::string j0 = dir.path + "/journal/journal-0.nxj";
    std::filesystem::resize_file(j0, 0);
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains(j0 + ": empty"));
}

TEST_CASE("crash: --recover-only reads and checks, and writes nothing", "[server][journal]") {
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path, "shards 2\n");
    make_journal(dir.path, cfg);
    // Torn tails on a journal and on the outbound store, as a kill in the middle of a write leaves them.
    const std::string jdir = dir.path + "/journal";
    for (const char* f : {"/journal-1.nxj", "/outbound.nxo"}) {
        std::ofstream(jdir + f, std::ios::app | std::ios::binary) << "partial";
    }
    auto snapshot = [&] {
        std::map<std::string, std::pair<std::string, std::filesystem::file_time_type>> m;
        for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path))
            if (e.is_regular_file() && e.path().filename() != "run.log")
                m[e.path().string()] = {slurp(e.path().string()), std::filesystem::last_write_time(e.path())};
        return m;
    };
    const auto before = snapshot();
    std::string log;
    const std::string orders = dir.path + "/orders.txt";
    REQUIRE(run_engine({"--config", cfg, "--recover-only", "--orders", orders}, dir.path, &log) == 0);
    CHECK_THAT(log,
               Catch::Contains("journal-1.nxj: found (not cut: --recover-only) 7 bytes of an incomplete last record"));
    CHECK_THAT(log, Catch::Contains("outbound.nxo: found (not cut: --recover-only) 7 bytes"));
    const std::string listed = slurp(orders);
    CHECK(std::count(listed.begin(), listed.end(), '\n') == 6);
    auto after = snapshot();
    after.erase(orders);
    CHECK(after == before);  // not a byte, not a timestamp changed; nothing created
    // A start that serves cuts both tails.
    {
        EngineProcess e(cfg, dir.path);
        REQUIRE(e.signal_and_wait(SIGTERM) == 0);
    }
    CHECK(std::filesystem::file_size(jdir + "/journal-1.nxj") % 64 == 0);
    CHECK_THAT(slurp(dir.path + "/engine.log"), Catch::Contains("journal-1.nxj: cutting 7 bytes"));
    // --recover-only of a directory that does not exist creates nothing.
    std::ofstream(cfg, std::ios::trunc) << base_config(dir.path + "/elsewhere", "shards 2\n");
    CHECK(run_engine({"--config", cfg, "--recover-only"}, dir.path, &log) == 0);
    CHECK(!std::filesystem::exists(dir.path + "/elsewhere"));
}

TEST_CASE("crash: a journal of the previous format is refused, naming its version", "[server][journal]") {
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path);
    std::filesystem::create_directories(dir.path + "/journal");
    {
        // Format 01: "NXJRNL01", shard count, shard index, then 64-byte records.
        std::ofstream f(dir.path + "/journal/journal-0.nxj", std::ios::binary);
        const char head[16] = {'N', 'X', 'J', 'R', 'N', 'L', '0', '1', 1, 0, 0, 0, 0, 0, 0, 0};
        f.write(head, sizeof head);
        const std::string record(64, '\x01');
        f << record << record;
    }
    std::string log;
    for (const char* mode : {"--recover-only", "--log-level"}) {
        std::vector<std::string> args{"--config", cfg, mode};
        if (std::string(mode) == "--log-level") args.push_back("info");
        CHECK(run_engine(args, dir.path, &log) == 2);
        CHECK_THAT(log, Catch::Contains("journal-0.nxj: journal format 01") &&
                            Catch::Contains("this engine reads format 02 only"));
    }
    CHECK(std::filesystem::file_size(dir.path + "/journal/journal-0.nxj") == 16 + 128);  // untouched
}

TEST_CASE("crash: a second engine on the same journal directory is refused, naming the first one's pid",
          "[server][journal]") {
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path);
    EngineProcess first(cfg, dir.path);
    std::string log;
    CHECK(run_engine({"--config", cfg, "--port-file", dir.path + "/port2"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("journal directory in use by another nexus-engine (pid " +
                                    std::to_string(first.pid) + ","));
    CHECK(!std::filesystem::exists(dir.path + "/port2"));
    auto a = logged_in(first.port, "alice", "pw1");  // the first one serves on
    REQUIRE(a->enter(order(1, 'B', 1, "AAPL", 1000000)));
    expect(*a, wire::kAccepted);
    CHECK(first.signal_and_wait(SIGTERM) == 0);
}

TEST_CASE("crash: command-line values are range-checked and output paths checked before any work", "[server][cli]") {
    TempDir dir;
    const std::string cfg = dir.path + "/engine.cfg";
    std::ofstream(cfg) << base_config(dir.path);
    std::string log;
    for (const char* depth : {"0", "-1", "abc", "99999999999", "1.5", ""}) {
        INFO("--depth '" << depth << "'");
        CHECK(run_engine({"--config", cfg, "--recover-only", "--depth", depth}, dir.path, &log) == 2);
        CHECK_THAT(log,
                   Catch::Contains("--depth: '" + std::string(depth) + "' is not a whole number in [1, 1000000]") &&
                       Catch::Contains("usage:"));
    }
    CHECK(run_engine({"--config", cfg, "--log-level", "loud"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("--log-level: 'loud'"));
    CHECK(run_engine({"--config", cfg, "--depth"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("--depth needs a value"));
    CHECK(run_engine({"--config", cfg, "--bogus"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("unknown option --bogus"));
    CHECK(run_engine({"--config", dir.path + "/nope.cfg"}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains(dir.path + "/nope.cfg: cannot open"));
    // Output paths: refused at once, before the journal is even created.
    for (const std::string& bad : {std::string("/nonexistent/x.json"), dir.path, dir.path + "/no/such/dir/o.txt"}) {
        for (const char* opt : {"--snapshot", "--orders"}) {
            INFO(opt << " " << bad);
            CHECK(run_engine({"--config", cfg, opt, bad}, dir.path, &log) == 2);
            CHECK_THAT(log, Catch::Contains(bad + ":"));
            CHECK(!std::filesystem::exists(dir.path + "/journal"));
        }
    }
    CHECK(run_engine({"--config", cfg, "--recover-only", "--port-file", dir.path + "/p"}, dir.path, &log) == 2);
    // A good output is written whole at the end.
    CHECK(run_engine({"--config", cfg, "--recover-only", "--snapshot", dir.path + "/s.json", "--depth", "3"}, dir.path,
                     &log) == 0);
    CHECK_THAT(slurp(dir.path + "/s.json"), Catch::StartsWith("{") && Catch::EndsWith("}\n"));
}

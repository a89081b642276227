// Helpers for tests that drive the real nexus-engine binary: spawning it,
// reading what it recovered, and a client that keeps its stream the way a
// SoupBinTCP client must (numbers, resume, a model of its orders built only
// from what it was told).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>

#include "engine/engine_util.hpp"

extern char** environ;

namespace nexus::test {

inline pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
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
inline int wait_exit(pid_t pid) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs nexus-engine to completion; returns its exit status, its output in `out`.
inline int run_engine(const std::vector<std::string>& args, const std::string& dir, std::string* out = nullptr) {
    const std::string log = dir + "/run.log";
    std::filesystem::remove(log);
    std::vector<std::string> argv{NEXUS_ENGINE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    const int st = wait_exit(spawn(argv, log));
    if (out) *out = slurp(log);
    return st;
}

// A served engine: started with a port file, stopped by a signal.
struct EngineProcess {
    pid_t pid = -1;
    std::uint16_t port = 0;
    EngineProcess(const std::string& cfg, const std::string& dir, const std::vector<std::string>& extra = {}) {
        const std::string port_file = dir + "/port";
        std::filesystem::remove(port_file);
        std::vector<std::string> argv{NEXUS_ENGINE_BIN, "--config", cfg, "--port-file", port_file};
        argv.insert(argv.end(), extra.begin(), extra.end());
        pid = spawn(argv, dir + "/engine.log");
        for (int i = 0; i < 1000 && !std::filesystem::exists(port_file); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(std::filesystem::exists(port_file));
        port = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
    }
    int signal_and_wait(int sig) {
        ::kill(pid, sig);
        return wait();
    }
    int wait() {
        const int st = wait_exit(pid);
        pid = -1;
        return st;
    }
    ~EngineProcess() {
        if (pid > 0) signal_and_wait(SIGKILL);
    }
};

struct Live {
    std::string symbol;
    char side = 0;
    std::uint32_t price = 0;
    std::uint64_t open = 0;
    friend bool operator==(const Live&, const Live&) = default;
};
using Key = std::pair<std::string, std::uint64_t>;  // (user, token)

// The live orders the engine recovers from its journal (--recover-only --orders).
inline std::map<Key, Live> recovered(const std::string& dir, const std::string& cfg, std::string* log = nullptr) {
    const std::string out = dir + "/recovered.txt";
    std::filesystem::remove(out);
    std::string text;
    const int st = run_engine({"--config", cfg, "--recover-only", "--orders", out}, dir, &text);
    if (log) *log = text;
    INFO(text);
    REQUIRE(st == 0);
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

// A client that keeps its SoupBinTCP stream: every Sequenced Data message is
// numbered (Login Accepted's number, then one more each), logged, and
// applied to a model of the user's live orders; `pending` holds the requests
// not answered yet. Resuming asks for the message after the last one
// processed and checks that the server starts exactly there.
struct Trader {
    std::string name, password;
    std::unique_ptr<en::Client> c;
    std::uint64_t last = 0;                                       // the last message processed
    std::vector<std::vector<std::uint8_t>> log;                   // log[n - 1]: message n's payload
    std::map<std::uint64_t, Live> live;                           // token -> the order as told
    std::set<std::uint64_t> pending;                              // requests sent, not answered
    std::map<std::uint64_t, wire::EnterOrder> unanswered_enters;  // by token
    std::uint64_t next_token = 1;
    bool ended = false;  // End of Session received

    Trader(std::string n, std::string pw) : name(std::move(n)), password(std::move(pw)) {}

    bool connected() const { return c && c->fd() >= 0; }

    // Logs in from message `from` (default: the next unseen one); messages
    // already seen are compared with the log instead of applied.
    void resume(std::uint16_t port, std::uint64_t from = 0) {
        if (from == 0) from = last + 1;
        c = std::make_unique<en::Client>("127.0.0.1", port);
        REQUIRE(c->login(name, password, "", from));
        en::Received r;
        for (int i = 0; i < 200; ++i) {  // a previous session of ours may still be closing
            r = c->receive();
            if (r.packet != wire::kLoginRejected || r.payload.at(0) != 'S') break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            c = std::make_unique<en::Client>("127.0.0.1", port);
            REQUIRE(c->login(name, password, "", from));
        }
        INFO(name << ": login answer " << r.packet);
        REQUIRE(r.packet == wire::kLoginAccepted);
        wire::LoginAccepted la;
        REQUIRE(wire::decode_login_accepted(r.payload, la));
        INFO(name << ": asked for " << from << ", has processed " << last);
        REQUIRE(la.sequence == from);  // the stream is never shorter than what the client saw
        replay_from_ = from;
        ended = false;
    }

    // Applies one received packet; false when the connection is gone.
    bool take(const en::Received& r) {
        if (r.packet == 0) return false;
        if (r.packet == wire::kEndOfSession) {
            ended = true;
            return true;
        }
        if (r.packet != wire::kSequenced) return true;
        REQUIRE(!ended);  // nothing after End of Session
        REQUIRE(r.msg.type != 0);
        if (replay_from_ <= last) {  // a message seen before: must be the same bytes
            INFO(name << ": message " << replay_from_ << " sent again");
            REQUIRE(r.payload == log[replay_from_ - 1]);
            ++replay_from_;
            return true;
        }
        ++last;
        ++replay_from_;
        log.push_back(r.payload);
        apply(r.msg);
        return true;
    }
    // Reads what has arrived, for up to `wait` in all; false if the connection closed.
    bool pump(std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
        const auto until = std::chrono::steady_clock::now() + wait;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            const auto r = c->receive(left.count() > 0 ? left : std::chrono::milliseconds(0));
            if (r.packet == 1) return true;
            if (!take(r)) return false;
        }
    }
    // A barrier: an immediate-or-cancel buy of 1 at $1.0000 on each shard's
    // instrument (it never trades here and leaves nothing behind), then
    // reads until both are answered. Everything stored before them has then
    // arrived, and every earlier request of this session routed to a shard
    // is answered (a shard answers in order; a validation reject, which
    // could overtake, is answered at once anyway). Returns the number of
    // other messages that arrived meanwhile.
    std::uint64_t sync() {
        const std::uint64_t a = next_token++, b = next_token++;
        std::vector<std::uint8_t> buf;
        wire::Encoder(buf).enter(order(a, 'B', 1, "AAPL", 10000, 'I'));
        wire::Encoder(buf).enter(order(b, 'B', 1, "MSFT", 10000, 'I'));
        REQUIRE(c->send_bytes(buf));
        std::set<std::uint64_t> waiting{a, b};
        std::uint64_t others = 0;
        while (!waiting.empty()) {
            const auto r = c->receive(std::chrono::milliseconds(10000));
            INFO(name << ": waiting for the barrier's answers");
            REQUIRE(r.packet > 1);
            REQUIRE(take(r));
            if (r.packet != wire::kSequenced) continue;
            if (r.msg.token != a && r.msg.token != b)
                ++others;
            else if (r.msg.type == wire::kCancelled || r.msg.type == wire::kRejected)
                waiting.erase(r.msg.token);
        }
        return others;
    }
    // Reads until the server closes the connection.
    void drain_to_close() {
        while (connected()) {
            const auto r = c->receive(std::chrono::milliseconds(10000));
            REQUIRE(r.packet != 1);
            if (!take(r)) break;
        }
    }

    void apply(const wire::Outbound& m) {
        switch (m.type) {
            case wire::kAccepted:
                pending.erase(m.token);
                unanswered_enters.erase(m.token);
                if (m.order_type == 'L' && m.tif == 'D')
                    live[m.token] = Live{wire::symbol_text(m.symbol), m.side, m.price, m.qty};
                break;
            case wire::kReplaced:
                pending.erase(m.token);
                live.erase(m.prev_token);
                live[m.token] = Live{wire::symbol_text(m.symbol), m.side, m.price, m.qty};
                break;
            case wire::kCancelled:
            case wire::kExecuted:
                if (m.type == wire::kCancelled) pending.erase(m.token);
                if (auto it = live.find(m.token); it != live.end()) {
                    REQUIRE(it->second.open >= m.qty);
                    it->second.open -= m.qty;
                    if (it->second.open == 0) live.erase(it);
                }
                break;
            case wire::kRejected:
                pending.erase(m.token);
                unanswered_enters.erase(m.token);  // (a cancel's reject names a token whose enter was answered already)
                break;
            default: break;
        }
    }

private:
    std::uint64_t replay_from_ = 1;  // the number of the next message to arrive
};

// Every trader's model, as the engine's view (user, token) -> order.
inline std::map<Key, Live> told(const std::vector<Trader>& traders) {
    std::map<Key, Live> m;
    for (const auto& t : traders)
        for (const auto& [token, o] : t.live) m[{t.name, token}] = o;
    return m;
}

}  // namespace nexus::test

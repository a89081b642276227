// nexus-loadgen: drives nexus-engine over TCP and measures each order's round
// trip, from the moment it was due to be sent to its answer (Accepted,
// Replaced, Cancelled or Rejected), with the TSC (nexus/timing/tsc.hpp).
//
// Open loop (--rate R): requests are due at fixed intervals whatever the
// answers do, and latency is counted from the due time, so a stall in the
// engine or in this generator is charged to the requests it delayed
// (no coordinated omission). Closed loop (--window W): each session keeps W
// requests outstanding and counts from the actual send.
//
// Mix (--mix limit=60,market=10,cancel=20,replace=10): limits a few ticks
// from a fixed mid on either side (some cross), IOC market orders, cancels and
// replaces of the session's own resting orders (a session with more than
// --max-live resting orders cancels instead of adding).
//
// Each session keeps its place in its SoupBinTCP stream (the number of the
// last Sequenced Data message it processed). With --resume S, a session whose
// connection is lost (the engine restarted, or stopped with End of Session)
// reconnects for up to S seconds and logs in asking for the message after
// that one: the engine replays what it missed — the answers to requests it
// had journaled, fills of resting orders — then carries on. Requests sent
// before the outage are not timed; those still unanswered once the run ends
// were never executed (the engine had not journaled them).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nexus/engine/client.hpp>
#include <nexus/engine/config.hpp>

#include <nexus/timing/stats.hpp>
#include <nexus/timing/tsc.hpp>

namespace en = nexus::engine;
namespace wire = nexus::engine::wire;
namespace nb = nexus::timing;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string port_file, config, tsv, label = "run";
    unsigned sessions = 10;
    double rate = 0;      // orders/s, open loop
    unsigned window = 0;  // outstanding per session, closed loop
    double duration = 5, warmup = 1;
    unsigned mix[4] = {60, 10, 20, 10};  // limit, market, cancel, replace
    std::size_t max_live = 100;
    std::uint64_t seed = 1;
    bool busy = false;
    bool echo_busy = false;  // --floor: the echo thread polls even if the client sleeps
    bool floor = false;      // --floor: loopback TCP echo, no engine
    double resume = 0;       // seconds to keep reconnecting after a lost connection (0: a loss ends the run)
};

[[noreturn]] void usage(int code) {
    std::fprintf(
        code ? stderr : stdout,
        "usage: nexus-loadgen --config FILE (--port N | --port-file FILE) (--rate R | --window W) [options]\n"
        "  --config FILE     the engine's configuration (users, passwords and instruments are taken from it)\n"
        "  --host H          default 127.0.0.1\n"
        "  --sessions N      sessions, one per configured user (default 10)\n"
        "  --rate R          open loop: R requests per second in total\n"
        "  --window W        closed loop: W outstanding requests per session\n"
        "  --duration S      measured seconds (default 5), after --warmup S (default 1)\n"
        "  --mix SPEC        limit=60,market=10,cancel=20,replace=10 (weights)\n"
        "  --max-live N      resting orders per session before it cancels instead (default 100)\n"
        "  --tsv FILE        append a result row: label rate sessions sent answered per_s p50 p90 p99 p999 max\n"
        "                    late_p50 late_p99 sent_p50 sent_p99 (us; late: how long after its due time a\n"
        "                    request left; sent: round trip from the actual send)\n"
        "  --label L         the row's label\n"
        "  --busy            poll the sockets without sleeping (takes a whole core)\n"
        "  --floor           measure the machine's floor instead: a 44-byte ping-pong over loopback TCP\n"
        "                    with a trivial echo thread (blocking, or polling with --busy); --duration applies\n"
        "  --echo-busy       with --floor: the echo thread polls, the client as --busy says (the floor for an\n"
        "                    engine whose I/O thread polls or spins, driven by a sleeping client)\n"
        "  --resume S        after a lost connection, reconnect for up to S seconds and resume the stream\n"
        "                    from the last message processed (default 0: a lost connection ends the run)\n"
        "  --seed N\n"
        "Numbers are range-checked: --sessions 1..100000, --window 1..100000, --rate up to 10^8,\n"
        "--duration and --warmup 0..86400 seconds, --resume 0..3600.\n");
    std::exit(code);
}

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "nexus-loadgen: %s\n", what.c_str());
    usage(2);
}

// A whole number in [min, max], or a usage error naming the option.
std::uint64_t whole(const std::string& opt, const std::string& v, std::uint64_t min, std::uint64_t max) {
    try {
        return en::detail::parse_uint(v, opt, min, max);
    } catch (const en::ConfigError& e) {
        usage_error(e.what());
    }
}
// A finite decimal number in [min, max], or a usage error naming the option.
double decimal(const std::string& opt, const std::string& v, double min, double max) {
    char* end = nullptr;
    const double x = v.empty() ? 0 : std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x < min || x > max)
        usage_error(opt + ": '" + v + "' is not a number in [" + std::to_string(min) + ", " + std::to_string(max) +
                    "]");
    return x;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--host")
            o.host = next();
        else if (a == "--port")
            o.port = static_cast<int>(whole(a, next(), 1, 65535));
        else if (a == "--port-file")
            o.port_file = next();
        else if (a == "--config")
            o.config = next();
        else if (a == "--sessions")
            o.sessions = static_cast<unsigned>(whole(a, next(), 1, 100'000));
        else if (a == "--rate")
            o.rate = decimal(a, next(), 1e-3, 1e8);
        else if (a == "--window")
            o.window = static_cast<unsigned>(whole(a, next(), 1, 100'000));
        else if (a == "--duration")
            o.duration = decimal(a, next(), 1e-3, 86'400);
        else if (a == "--warmup")
            o.warmup = decimal(a, next(), 0, 86'400);
        else if (a == "--max-live")
            o.max_live = whole(a, next(), 1, 100'000'000);
        else if (a == "--tsv")
            o.tsv = next();
        else if (a == "--label")
            o.label = next();
        else if (a == "--seed")
            o.seed = whole(a, next(), 0, ~std::uint64_t{0});
        else if (a == "--resume")
            o.resume = decimal(a, next(), 0, 3600);
        else if (a == "--busy")
            o.busy = true;
        else if (a == "--echo-busy")
            o.echo_busy = true;
        else if (a == "--floor")
            o.floor = true;
        else if (a == "--mix") {
            const std::string spec = next();
            const char* names[4] = {"limit", "market", "cancel", "replace"};
            for (auto& m : o.mix) m = 0;
            std::size_t pos = 0;
            while (pos < spec.size()) {
                const auto comma = spec.find(',', pos);
                const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                const auto eq = item.find('=');
                bool known = false;
                for (int k = 0; k < 4; ++k)
                    if (eq != std::string::npos && item.substr(0, eq) == names[k]) {
                        o.mix[k] = static_cast<unsigned>(
                            whole("--mix " + item.substr(0, eq), item.substr(eq + 1), 0, 1'000'000));
                        known = true;
                    }
                if (!known) usage_error("bad --mix item '" + item + "'");
                pos = comma == std::string::npos ? spec.size() : comma + 1;
            }
            if (o.mix[0] + o.mix[1] + o.mix[2] + o.mix[3] == 0) usage_error("--mix: every weight is 0");
        } else if (a == "--help" || a == "-h")
            usage(0);
        else
            usage_error("unknown option " + a);
    }
    if (o.floor) return o;
    if (o.config.empty()) usage_error("--config is required");
    if (o.port == 0 && o.port_file.empty()) usage_error("--port or --port-file is required");
    if ((o.rate > 0) == (o.window > 0)) usage_error("exactly one of --rate and --window");
    return o;
}

struct Session {
    std::string user, password;
    int fd = -1;
    std::uint64_t last_seq = 0;                      // the last Sequenced Data message processed (the stream's place)
    bool down = false;                               // connection lost, reconnecting (--resume)
    std::uint64_t down_since = 0, last_attempt = 0;  // TSC
    std::vector<std::uint8_t> in, out;
    std::uint64_t next_token = 0;
    std::unordered_map<std::uint64_t, std::uint32_t> open;  // resting orders: token -> open qty
    std::vector<std::uint64_t> live;                        // the same tokens, for random picks
    std::unordered_map<std::uint64_t, std::size_t> live_pos;
    struct Times {
        std::uint64_t due, sent;
        bool interrupted = false;  // sent before an outage: its answer, if any, comes in the replay and is not timed
    };
    std::unordered_map<std::uint64_t, Times> pending;  // request token -> when it was due, when it left
    std::uint64_t answered = 0;

    void add_live(std::uint64_t t, std::uint32_t q) {
        open[t] = q;
        live_pos[t] = live.size();
        live.push_back(t);
    }
    void drop_live(std::uint64_t t) {
        const auto it = live_pos.find(t);
        if (it == live_pos.end()) return;
        const std::size_t i = it->second;
        live[i] = live.back();
        live_pos[live[i]] = i;
        live.pop_back();
        live_pos.erase(it);
        open.erase(t);
    }
    void reduce(std::uint64_t t, std::uint32_t q) {
        const auto it = open.find(t);
        if (it == open.end()) return;
        if (it->second <= q)
            drop_live(t);
        else
            it->second -= q;
    }
    void flush() {
        std::size_t off = 0;
        while (off < out.size()) {
            const ssize_t w = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w <= 0) break;
            off += static_cast<std::size_t>(w);
        }
        out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(off));
    }
};

// `late`: how long after its due time each request actually left (open loop),
// the generator's own delay, which the round trip includes.
void print_result(const Options& opt, const char* what, nb::Samples& lat, double ticks_per_us, double per_s,
                  std::uint64_t sent, std::uint64_t answered, nb::Samples* late = nullptr,
                  nb::Samples* from_send = nullptr) {
    auto us = [&](double q) { return lat.quantile(q) / ticks_per_us; };
    std::printf("  %s\n  throughput %.0f requests/s answered (measured window)\n", what, per_s);
    const double late50 = late && !late->empty() ? late->quantile(0.5) / ticks_per_us : 0;
    const double late99 = late && !late->empty() ? late->quantile(0.99) / ticks_per_us : 0;
    const double sent50 = from_send && !from_send->empty() ? from_send->quantile(0.5) / ticks_per_us : 0;
    const double sent99 = from_send && !from_send->empty() ? from_send->quantile(0.99) / ticks_per_us : 0;
    if (late && !late->empty()) {
        std::printf("  sent after its due time by us: p50 %.1f  p99 %.1f\n", late50, late99);
        std::printf("  round trip from the actual send, us: p50 %.1f  p99 %.1f\n", sent50, sent99);
    }
    std::printf("  round trip us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%zu samples)\n", us(0.5),
                us(0.9), us(0.99), us(0.999), lat.max() / ticks_per_us, lat.size());
    if (opt.tsv.empty()) return;
    if (std::FILE* f = std::fopen(opt.tsv.c_str(), "a")) {
        std::fprintf(f, "%s\t%.0f\t%u\t%llu\t%llu\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n",
                     opt.label.c_str(), opt.rate, opt.sessions, static_cast<unsigned long long>(sent),
                     static_cast<unsigned long long>(answered), per_s, us(0.5), us(0.9), us(0.99), us(0.999),
                     lat.max() / ticks_per_us, late50, late99, sent50, sent99);
        std::fclose(f);
    }
}

// The floor: one connection, a 44-byte message each way (an Accepted is 47
// bytes framed), echoed by a thread that does nothing else. Closed loop.
int run_floor(const Options& opt, const nb::TscInfo& tsc) {
    const double ticks_per_us = tsc.ticks_per_ns * 1000;
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::listen(ls, 1) != 0) {
        std::perror("nexus-loadgen: floor socket");
        return 1;
    }
    const bool busy = opt.busy;
    const bool echo_busy = opt.busy || opt.echo_busy;
    std::thread echo([ls, echo_busy] {
        const int s = ::accept(ls, nullptr, nullptr);
        int one = 1;
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b[256];
        for (;;) {
            const ssize_t r = ::recv(s, b, sizeof b, echo_busy ? MSG_DONTWAIT : 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) break;
            ::send(s, b, static_cast<std::size_t>(r), MSG_NOSIGNAL);
        }
        ::close(s);
    });
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("nexus-loadgen: floor connect");
        return 1;
    }
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    nb::Samples lat;
    char b[256] = {};
    std::uint64_t n = 0;
    const std::uint64_t start = __rdtsc();
    const auto warm = start + static_cast<std::uint64_t>(opt.warmup * 1e6 * ticks_per_us);
    const auto end = warm + static_cast<std::uint64_t>(opt.duration * 1e6 * ticks_per_us);
    for (std::uint64_t now = start; now < end; now = __rdtsc()) {
        const std::uint64_t t0 = __rdtsc();
        ::send(c, b, 44, MSG_NOSIGNAL);
        std::size_t got = 0;
        while (got < 44) {
            const ssize_t r = ::recv(c, b, sizeof b, busy ? MSG_DONTWAIT : 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        const std::uint64_t t1 = __rdtsc();
        if (t0 >= warm) {
            lat.add(static_cast<double>(t1 - t0));
            ++n;
        }
    }
    ::shutdown(c, SHUT_RDWR);
    ::close(c);
    echo.join();
    ::close(ls);
    std::printf("nexus-loadgen: floor, loopback TCP echo (%s), %.1f s measured after %.1f s warm-up\n",
                busy        ? "both sides polling"
                : echo_busy ? "echo polling, client blocking"
                            : "both sides blocking",
                opt.duration, opt.warmup);
    print_result(opt, "no engine: a trivial echo thread", lat, ticks_per_us, static_cast<double>(n) / opt.duration, n,
                 n);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    prctl(PR_SET_TIMERSLACK, 1UL);
    if (opt.floor) return run_floor(opt, nb::calibrate());
    en::Config cfg;
    try {
        cfg = en::load_config(opt.config);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-loadgen: %s\n", e.what());
        return 2;
    }
    int port = opt.port;
    if (!opt.port_file.empty()) {
        std::FILE* f = std::fopen(opt.port_file.c_str(), "r");
        if (!f || std::fscanf(f, "%d", &port) != 1) {
            std::fprintf(stderr, "nexus-loadgen: cannot read a port from %s\n", opt.port_file.c_str());
            return 2;
        }
        std::fclose(f);
    }
    if (opt.sessions == 0 || opt.sessions > cfg.users.size()) {
        std::fprintf(stderr, "nexus-loadgen: --sessions must be 1..%zu (the configured users)\n", cfg.users.size());
        return 2;
    }
    const nb::TscInfo tsc = nb::calibrate();
    const double ticks_per_us = tsc.ticks_per_ns * 1000;

    // Connects and logs in asking for the stream from the message after the
    // last one processed (0 at the start: new messages only). Returns what
    // went wrong, or "".
    auto connect_session = [&](Session& s) -> std::string {
        try {
            en::Client c(opt.host, static_cast<std::uint16_t>(port));
            const std::uint64_t from = s.last_seq == 0 && s.fd < 0 && !s.down ? 0 : s.last_seq + 1;
            if (!c.login(s.user, s.password, "", from)) return "login of " + s.user + ": connection lost";
            const auto r = c.receive(std::chrono::milliseconds(3000));
            wire::LoginAccepted la;
            if (r.packet != wire::kLoginAccepted || !wire::decode_login_accepted(r.payload, la))
                return "login of " + s.user + (r.packet == wire::kLoginRejected ? " refused" : ": no answer");
            if (from != 0 && la.sequence != from)
                std::fprintf(stderr, "nexus-loadgen: %s asked for message %llu, the engine starts at %llu\n",
                             s.user.c_str(), static_cast<unsigned long long>(from),
                             static_cast<unsigned long long>(la.sequence));
            s.last_seq = la.sequence - 1;
            s.in.clear();
            s.fd = c.release(s.in);
            return "";
        } catch (const std::exception& e) {
            return e.what();
        }
    };
    std::vector<Session> sessions(opt.sessions);
    const std::uint64_t token_base =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    for (unsigned i = 0; i < opt.sessions; ++i) {
        sessions[i].user = cfg.users[i].name;
        sessions[i].password = cfg.users[i].password;
        sessions[i].next_token = token_base;
        if (const std::string bad = connect_session(sessions[i]); !bad.empty()) {
            std::fprintf(stderr, "nexus-loadgen: %s\n", bad.c_str());
            return 1;
        }
    }

    std::mt19937_64 rng(opt.seed);
    const unsigned mix_total = opt.mix[0] + opt.mix[1] + opt.mix[2] + opt.mix[3];
    const std::uint32_t mid = 1'000'000, tick = 100;
    auto symbol_for = [&](std::uint64_t r) {
        return wire::make_symbol(cfg.instruments[r % cfg.instruments.size()].symbol);
    };
    std::uint64_t sent = 0, answered = 0, rejects = 0, executions = 0, requests_in_window = 0;
    nb::Samples lat;
    lat.reserve(static_cast<std::size_t>((opt.rate > 0 ? opt.rate : 200'000) * opt.duration * 1.2));

    const std::uint64_t start = __rdtsc();
    const auto warm_ticks = static_cast<std::uint64_t>(opt.warmup * 1e6 * ticks_per_us);
    const auto end_ticks = warm_ticks + static_cast<std::uint64_t>(opt.duration * 1e6 * ticks_per_us);
    const std::uint64_t measure_from = start + warm_ticks, measure_to = start + end_ticks;
    nb::Samples late, lat_sent;

    // The pending entry of the request being sent.
    std::uint64_t* sent_slot = nullptr;
    auto last_sent_at = [&](Session&) -> std::uint64_t& { return *sent_slot; };
    // One request from session s, due at `due`.
    auto send_one = [&](Session& s, std::uint64_t due) {
        unsigned pick = static_cast<unsigned>(rng() % (mix_total ? mix_total : 1));
        int kind = 0;
        while (kind < 3 && pick >= opt.mix[kind]) pick -= opt.mix[kind++];
        if ((kind == 2 || kind == 3) && s.live.empty()) kind = 0;
        if (kind == 0 && s.live.size() >= opt.max_live) kind = 2;
        const std::uint64_t token = ++s.next_token;
        wire::Encoder enc(s.out);
        const char side = rng() % 2 ? 'B' : 'S';
        const auto ticks = static_cast<std::uint32_t>(rng() % 5);
        const std::uint32_t price = side == 'B' ? mid - ticks * tick : mid + ticks * tick;
        switch (kind) {
            case 0: {
                wire::EnterOrder o;
                o.token = token;
                o.side = side;
                o.qty = 1 + static_cast<std::uint32_t>(rng() % 10) * 10;
                o.symbol = symbol_for(rng());
                o.price = price;
                enc.enter(o);
                sent_slot = &(s.pending[token] = {due, 0}).sent;
                break;
            }
            case 1: {
                wire::EnterOrder o;
                o.token = token;
                o.side = side;
                o.qty = 10;
                o.symbol = symbol_for(rng());
                o.type = 'M';
                o.tif = 'I';
                enc.enter(o);
                sent_slot = &(s.pending[token] = {due, 0}).sent;
                break;
            }
            case 2: {
                const std::uint64_t t = s.live[rng() % s.live.size()];
                enc.cancel({.token = t, .qty = 0});
                sent_slot = &(s.pending[t] = {due, 0}).sent;
                s.drop_live(t);  // no second cancel or replace of it
                break;
            }
            default: {
                const std::uint64_t t = s.live[rng() % s.live.size()];
                enc.replace({.token = t,
                             .new_token = token,
                             .qty = 1 + static_cast<std::uint32_t>(rng() % 10) * 10,
                             .price = price});
                sent_slot = &(s.pending[token] = {due, 0}).sent;
                s.drop_live(t);
                break;
            }
        }
        ++sent;
        const std::uint64_t now = __rdtsc();
        last_sent_at(s) = now;
        s.flush();
        if (opt.rate > 0 && due >= measure_from && due < measure_to)
            late.add(static_cast<double>(now > due ? now - due : 0));
    };

    const double period = opt.rate > 0 ? 1e6 * ticks_per_us / opt.rate : 0;
    double next_due = static_cast<double>(start);
    std::size_t rr = 0;
    std::uint64_t last_heartbeat = start;
    std::vector<pollfd> pfds(sessions.size());
    for (std::size_t i = 0; i < sessions.size(); ++i) pfds[i] = {sessions[i].fd, POLLIN, 0};
    if (opt.window)
        for (auto& s : sessions)
            for (unsigned w = 0; w < opt.window; ++w) send_one(s, __rdtsc());

    bool lost = false;
    std::uint64_t resumes = 0, answered_after_resume = 0, skipped = 0;
    auto on_message = [&](Session& s, const wire::Outbound& m, std::uint64_t now) {
        bool answers = false;
        switch (m.type) {
            case wire::kAccepted:
                answers = true;
                if (m.order_type == 'L' && m.tif == 'D') s.add_live(m.token, m.qty);
                break;
            case wire::kReplaced:
                answers = true;
                s.add_live(m.token, m.qty);
                break;
            case wire::kRejected:
                answers = true;
                ++rejects;
                break;
            case wire::kCancelled:
                answers = s.pending.count(m.token) > 0;
                s.reduce(m.token, m.qty);
                break;
            case wire::kExecuted:
                ++executions;
                s.reduce(m.token, m.qty);
                break;
            default: break;
        }
        if (!answers) return;
        const auto it = s.pending.find(m.token);
        if (it == s.pending.end()) return;
        const std::uint64_t due = it->second.due, sent_at = it->second.sent;
        const bool interrupted = it->second.interrupted;
        s.pending.erase(it);
        if (interrupted) {  // answered in a replay after an outage: not timed
            ++answered_after_resume;
            return;
        }
        if (opt.window)
            now = std::max<std::uint64_t>(now, __rdtsc());  // closed loop: a request sent while this read was parsed
        ++answered;
        if (due >= measure_from && due < measure_to) {
            lat.add(static_cast<double>(now - due));
            lat_sent.add(static_cast<double>(now > sent_at ? now - sent_at : 0));
            ++requests_in_window;
        }
        if (opt.window && now < measure_to) send_one(s, __rdtsc());
    };

    // Reads what session i has received and handles every complete answer;
    // false if the connection is gone.
    auto read_session = [&](std::size_t i) {
        Session& s = sessions[i];
        std::uint8_t buf[1 << 16];
        const ssize_t r = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0) return !(r == 0 || (errno != EAGAIN && errno != EINTR));
        const std::uint64_t t = __rdtsc();
        s.in.insert(s.in.end(), buf, buf + r);
        std::size_t used = 0;
        wire::Deframer d(wire::kMaxOutboundLength);
        wire::Packet pk;
        while (d.next(s.in, used, pk) == wire::Deframer::Status::Packet)
            if (pk.type == wire::kSequenced) {
                ++s.last_seq;
                on_message(s, wire::decode_outbound(pk.payload), t);
            }
        s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(used));
        if (!s.out.empty()) s.flush();
        return true;
    };

    // A lost connection: the end of the run, or (--resume) a reconnection to come.
    auto lose = [&](std::size_t i) {
        Session& s = sessions[i];
        if (opt.resume <= 0) {
            lost = true;
            return;
        }
        ::close(s.fd);
        s.fd = -1;
        pfds[i].fd = -1;  // poll skips it
        s.down = true;
        s.down_since = __rdtsc();
        s.out.clear();  // never sent: those requests stay unanswered
        for (auto& [token, times] : s.pending) times.interrupted = true;
        std::fprintf(stderr, "nexus-loadgen: %s lost its connection after message %llu; reconnecting\n", s.user.c_str(),
                     static_cast<unsigned long long>(s.last_seq));
    };
    auto reconnect = [&] {
        const std::uint64_t now = __rdtsc();
        for (std::size_t i = 0; i < sessions.size(); ++i) {
            Session& s = sessions[i];
            if (!s.down || now - s.last_attempt < static_cast<std::uint64_t>(50'000 * ticks_per_us)) continue;
            s.last_attempt = now;
            if (connect_session(s).empty()) {
                s.down = false;
                pfds[i].fd = s.fd;
                ++resumes;
                if (opt.window)
                    for (unsigned w = 0; w < opt.window; ++w) send_one(s, __rdtsc());
            } else if (now - s.down_since > static_cast<std::uint64_t>(opt.resume * 1e6 * ticks_per_us)) {
                std::fprintf(stderr, "nexus-loadgen: %s could not reconnect within --resume %.1f s\n", s.user.c_str(),
                             opt.resume);
                lost = true;
            }
        }
    };

    for (;;) {
        std::uint64_t now = __rdtsc();
        if (now >= measure_to) break;
        reconnect();
        if (lost) break;
        if (opt.rate > 0) {
            while (static_cast<double>(now) >= next_due && now < measure_to) {
                if (sessions[rr].down)
                    ++skipped;
                else
                    send_one(sessions[rr], static_cast<std::uint64_t>(next_due));
                rr = (rr + 1) % sessions.size();
                next_due += period;
            }
        }
        if (now - last_heartbeat > static_cast<std::uint64_t>(500'000 * ticks_per_us)) {
            for (auto& s : sessions) {
                if (s.down) continue;
                wire::Encoder(s.out).packet(wire::kClientHeartbeat);
                s.flush();
            }
            last_heartbeat = now;
        }
        // Wait for answers until the next request is due. Blocking, not
        // spinning: on a small machine the engine needs the cores (--busy spins).
        long wait_ns = 0;
        if (opt.rate > 0) {
            const double ahead = next_due - static_cast<double>(__rdtsc());
            wait_ns = ahead > 0 ? static_cast<long>(ahead / tsc.ticks_per_ns) : 0;
            if (opt.busy) wait_ns = 0;
        } else {
            wait_ns = opt.busy ? 0 : 1'000'000;
        }
        const timespec ts{0, wait_ns};
        const int n = ::ppoll(pfds.data(), pfds.size(), &ts, nullptr);
        if (n <= 0) continue;
        for (std::size_t i = 0; i < sessions.size(); ++i)
            if (pfds[i].fd >= 0 && (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) && !read_session(i)) lose(i);
        if (lost) break;
    }
    // Collect the stragglers for up to two seconds (their latency counts).
    const std::uint64_t grace = __rdtsc() + static_cast<std::uint64_t>(2e6 * ticks_per_us);
    // Requests sent before an outage and never answered were not executed.
    auto count_pending = [&](bool interrupted) {
        std::size_t n = 0;
        for (auto& s : sessions)
            for (const auto& [token, times] : s.pending) n += times.interrupted == interrupted;
        return n;
    };
    auto outstanding = [&] { return count_pending(false); };
    auto any_down = [&] {
        return std::any_of(sessions.begin(), sessions.end(), [](const Session& s) { return s.down; });
    };
    while (!lost && (outstanding() > 0 || any_down()) && __rdtsc() < grace) {
        reconnect();
        const timespec ts{0, 1'000'000};
        if (::ppoll(pfds.data(), pfds.size(), &ts, nullptr) <= 0) continue;
        for (std::size_t i = 0; i < sessions.size(); ++i)
            if (pfds[i].fd >= 0 && (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) && !read_session(i)) lose(i);
    }
    for (auto& s : sessions) {
        if (s.fd < 0) continue;
        wire::Encoder(s.out).packet(wire::kLogoutRequest);
        s.flush();
        ::close(s.fd);
    }

    const double per_s = static_cast<double>(requests_in_window) / opt.duration;
    std::printf("nexus-loadgen: %u sessions, %s, %.1f s measured after %.1f s warm-up\n", opt.sessions,
                opt.rate > 0 ? ("open loop at " + std::to_string(static_cast<long>(opt.rate)) + " requests/s").c_str()
                             : ("closed loop, " + std::to_string(opt.window) + " outstanding per session").c_str(),
                opt.duration, opt.warmup);
    char what[512];
    std::snprintf(what, sizeof what, "sent %llu, answered %llu, unanswered %zu, rejects %llu, executions %llu%s",
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered), outstanding(),
                  static_cast<unsigned long long>(rejects), static_cast<unsigned long long>(executions),
                  lost ? " -- CONNECTION LOST" : "");
    if (resumes > 0 || any_down())
        std::printf(
            "  resumed %llu times: %llu requests answered in a replay (not timed), %zu sent before an outage and never "
            "executed, %llu not sent while disconnected\n",
            static_cast<unsigned long long>(resumes), static_cast<unsigned long long>(answered_after_resume),
            count_pending(true), static_cast<unsigned long long>(skipped));
    print_result(opt, what, lat, ticks_per_us, per_s, sent, answered, opt.rate > 0 ? &late : nullptr,
                 opt.rate > 0 ? &lat_sent : nullptr);
    return lost || outstanding() > 0 ? 1 : 0;
}

// nexus-loadgen: drives nexus-engine over TCP and measures each order's round
// trip, from the moment it was due to be sent to its answer (Accepted,
// Replaced, Cancelled or Rejected), with the TSC (bench/harness/tsc.hpp).
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
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nexus/engine/client.hpp>
#include <nexus/engine/config.hpp>

#include "harness/stats.hpp"
#include "harness/tsc.hpp"

namespace en = nexus::engine;
namespace wire = nexus::engine::wire;
namespace nb = nexus::bench;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string port_file, config, tsv, label = "run";
    unsigned sessions = 10;
    double rate = 0;       // orders/s, open loop
    unsigned window = 0;   // outstanding per session, closed loop
    double duration = 5, warmup = 1;
    unsigned mix[4] = {60, 10, 20, 10};  // limit, market, cancel, replace
    std::size_t max_live = 100;
    std::uint64_t seed = 1;
    bool busy = false;
    bool floor = false;  // --floor: loopback TCP echo, no engine
};

[[noreturn]] void usage(int code) {
    std::fprintf(code ? stderr : stdout,
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
                 "  --seed N\n");
    std::exit(code);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        if (a == "--host") o.host = next();
        else if (a == "--port") o.port = std::stoi(next());
        else if (a == "--port-file") o.port_file = next();
        else if (a == "--config") o.config = next();
        else if (a == "--sessions") o.sessions = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--rate") o.rate = std::stod(next());
        else if (a == "--window") o.window = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--duration") o.duration = std::stod(next());
        else if (a == "--warmup") o.warmup = std::stod(next());
        else if (a == "--max-live") o.max_live = std::stoul(next());
        else if (a == "--tsv") o.tsv = next();
        else if (a == "--label") o.label = next();
        else if (a == "--seed") o.seed = std::stoull(next());
        else if (a == "--busy") o.busy = true;
        else if (a == "--floor") o.floor = true;
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
                        o.mix[k] = static_cast<unsigned>(std::stoul(item.substr(eq + 1)));
                        known = true;
                    }
                if (!known) {
                    std::fprintf(stderr, "nexus-loadgen: bad --mix item '%s'\n", item.c_str());
                    usage(2);
                }
                pos = comma == std::string::npos ? spec.size() : comma + 1;
            }
        } else if (a == "--help" || a == "-h") usage(0);
        else {
            std::fprintf(stderr, "nexus-loadgen: unknown option %s\n", a.c_str());
            usage(2);
        }
    }
    if (!o.floor && (o.config.empty() || (o.port == 0 && o.port_file.empty()) || (o.rate <= 0) == (o.window == 0))) usage(2);
    return o;
}

struct Session {
    int fd = -1;
    std::vector<std::uint8_t> in, out;
    std::uint64_t next_token = 0;
    std::unordered_map<std::uint64_t, std::uint32_t> open;  // resting orders: token -> open qty
    std::vector<std::uint64_t> live;                        // the same tokens, for random picks
    std::unordered_map<std::uint64_t, std::size_t> live_pos;
    struct Times {
        std::uint64_t due, sent;
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
        if (it->second <= q) drop_live(t);
        else it->second -= q;
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
void print_result(const Options& opt, const char* what, nb::Samples& lat, double ticks_per_us, double per_s, std::uint64_t sent,
                  std::uint64_t answered, nb::Samples* late = nullptr, nb::Samples* from_send = nullptr) {
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
    std::printf("  round trip us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%zu samples)\n", us(0.5), us(0.9),
                us(0.99), us(0.999), lat.max() / ticks_per_us, lat.size());
    if (opt.tsv.empty()) return;
    if (std::FILE* f = std::fopen(opt.tsv.c_str(), "a")) {
        std::fprintf(f, "%s\t%.0f\t%u\t%llu\t%llu\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", opt.label.c_str(),
                     opt.rate, opt.sessions, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered), per_s,
                     us(0.5), us(0.9), us(0.99), us(0.999), lat.max() / ticks_per_us, late50, late99, sent50, sent99);
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
    if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        ::listen(ls, 1) != 0) {
        std::perror("nexus-loadgen: floor socket");
        return 1;
    }
    const bool busy = opt.busy;
    std::thread echo([ls, busy] {
        const int s = ::accept(ls, nullptr, nullptr);
        int one = 1;
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b[256];
        for (;;) {
            const ssize_t r = ::recv(s, b, sizeof b, busy ? MSG_DONTWAIT : 0);
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
                busy ? "both sides polling" : "both sides blocking", opt.duration, opt.warmup);
    print_result(opt, "no engine: a trivial echo thread", lat, ticks_per_us, static_cast<double>(n) / opt.duration, n, n);
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

    // Connect and log in.
    std::vector<Session> sessions(opt.sessions);
    const std::uint64_t token_base = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    for (unsigned i = 0; i < opt.sessions; ++i) {
        try {
            en::Client c(opt.host, static_cast<std::uint16_t>(port));
            c.login(cfg.users[i].name, cfg.users[i].password);
            const auto r = c.receive();
            if (r.packet != wire::kLoginAccepted) {
                std::fprintf(stderr, "nexus-loadgen: login of %s refused\n", cfg.users[i].name.c_str());
                return 1;
            }
            sessions[i].fd = c.release(sessions[i].in);
            sessions[i].next_token = token_base;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "nexus-loadgen: %s\n", e.what());
            return 1;
        }
    }

    std::mt19937_64 rng(opt.seed);
    const unsigned mix_total = opt.mix[0] + opt.mix[1] + opt.mix[2] + opt.mix[3];
    const std::uint32_t mid = 1'000'000, tick = 100;
    auto symbol_for = [&](std::uint64_t r) { return wire::make_symbol(cfg.instruments[r % cfg.instruments.size()].symbol); };
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
                enc.replace({.token = t, .new_token = token, .qty = 1 + static_cast<std::uint32_t>(rng() % 10) * 10, .price = price});
                sent_slot = &(s.pending[token] = {due, 0}).sent;
                s.drop_live(t);
                break;
            }
        }
        ++sent;
        const std::uint64_t now = __rdtsc();
        last_sent_at(s) = now;
        s.flush();
        if (opt.rate > 0 && due >= measure_from && due < measure_to) late.add(static_cast<double>(now > due ? now - due : 0));
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
        s.pending.erase(it);
        if (opt.window) now = std::max<std::uint64_t>(now, __rdtsc());  // closed loop: a request sent while this read was parsed
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
            if (pk.type == wire::kSequenced) on_message(s, wire::decode_outbound(pk.payload), t);
        s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(used));
        if (!s.out.empty()) s.flush();
        return true;
    };

    for (;;) {
        std::uint64_t now = __rdtsc();
        if (now >= measure_to) break;
        if (opt.rate > 0) {
            while (static_cast<double>(now) >= next_due && now < measure_to) {
                send_one(sessions[rr], static_cast<std::uint64_t>(next_due));
                rr = (rr + 1) % sessions.size();
                next_due += period;
            }
        }
        if (now - last_heartbeat > static_cast<std::uint64_t>(500'000 * ticks_per_us)) {
            for (auto& s : sessions) {
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
            if ((pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) && !read_session(i)) lost = true;
        if (lost) break;
    }
    // Collect the stragglers for up to two seconds (their latency counts).
    const std::uint64_t grace = __rdtsc() + static_cast<std::uint64_t>(2e6 * ticks_per_us);
    auto outstanding = [&] {
        std::size_t n = 0;
        for (auto& s : sessions) n += s.pending.size();
        return n;
    };
    while (!lost && outstanding() > 0 && __rdtsc() < grace) {
        const timespec ts{0, 1'000'000};
        if (::ppoll(pfds.data(), pfds.size(), &ts, nullptr) <= 0) continue;
        for (std::size_t i = 0; i < sessions.size(); ++i)
            if ((pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) && !read_session(i)) lost = true;
    }
    for (auto& s : sessions) {
        wire::Encoder(s.out).packet(wire::kLogoutRequest);
        s.flush();
        ::close(s.fd);
    }

    const double per_s = static_cast<double>(requests_in_window) / opt.duration;
    std::printf("nexus-loadgen: %u sessions, %s, %.1f s measured after %.1f s warm-up\n", opt.sessions,
                opt.rate > 0 ? ("open loop at " + std::to_string(static_cast<long>(opt.rate)) + " requests/s").c_str()
                             : ("closed loop, " + std::to_string(opt.window) + " outstanding per session").c_str(),
                opt.duration, opt.warmup);
    char what[256];
    std::snprintf(what, sizeof what, "sent %llu, answered %llu, unanswered %zu, rejects %llu, executions %llu%s",
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered), outstanding(),
                  static_cast<unsigned long long>(rejects), static_cast<unsigned long long>(executions),
                  lost ? " -- CONNECTION LOST" : "");
    print_result(opt, what, lat, ticks_per_us, per_s, sent, answered, opt.rate > 0 ? &late : nullptr,
                 opt.rate > 0 ? &lat_sent : nullptr);
    return lost || outstanding() > 0 ? 1 : 0;
}

// nexus-bench-engine: the engine's inbound path in one process, no sockets.
//
// A flow of order messages (the load generator's mix: limits a few ticks from
// the mid, IOC market orders, cancels and replaces of live orders, 20 users,
// 8 instruments) is recorded once, as the encoded packets the sessions would
// receive, then replayed through a fresh Router (validation, token maps,
// order IDs) + JournalWriter + ShardCore for each scenario, in batches:
// every message decoded, validated, journaled and matched, its
// client messages and ITCH bytes encoded; the journal committed once per
// batch (the server commits once per batch the same way). Timed with
// steady_clock around the whole replay. Scenarios alternate over rounds,
// each round starting with the next one:
//   journal os     sync os with journal_mode mmap (the default): records
//                  encoded into a shared mapping, no system call per batch
//                  of 64
//   journal os, write   sync os with journal_mode write: one write(2) per
//                  batch of 64
//   journal os, large batches   journal_mode write, 1,024 messages per batch
//                  (a saturated shard thread takes its whole queue at once)
//   journal fsync  write(2) + fdatasync(2) per batch of 64
//   no journal     the same work without the journal (what journaling costs)
//
// usage: nexus-bench-engine [--quick] [--out=FILE] [--dir=DIR] [--messages=N]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nexus/engine/core.hpp>
#include <nexus/engine/event_codec.hpp>
#include <nexus/engine/journal.hpp>
#include <nexus/engine/router.hpp>

namespace en = nexus::engine;
namespace wire = nexus::engine::wire;
namespace ob = nexus::orderbook;

namespace {

// A recorded flow as the engine receives it: each message an encoded order
// packet ([u16 length]['U'][order message]) behind the 4-byte index of the
// user whose session sent it, back to back, as compact as a socket buffer.
struct Flow {
    std::vector<std::uint8_t> bytes;
    std::size_t messages = 0;
    // The first n messages.
    Flow prefix(std::size_t n) const {
        Flow f;
        std::size_t at = 0;
        for (; f.messages < n && at < bytes.size(); ++f.messages) at += 6 + wire::get_be(bytes.data() + at + 4, 2);
        f.bytes.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
        return f;
    }
};

en::Config make_config() {
    std::string text = "pool_orders 1048576\npool_levels 4096\n";
    for (const char* s : {"AAPL", "MSFT", "AMZN", "NVDA", "GOOG", "META", "TSLA", "AMD"})
        text += std::string("instrument ") + s + "\n";
    for (int u = 0; u < 20; ++u) text += "user u" + std::to_string(u) + " password=p\n";
    std::istringstream in(text);
    return en::parse_config(in, "bench");
}

// Records `n` messages of the mix, applying them as it goes so that cancels
// and replaces name live orders.
Flow record_flow(const en::Config& cfg, std::size_t n, std::uint64_t seed) {
    en::Router router(cfg);
    en::ShardCore core(cfg, 0);
    en::CoreOut out;
    std::mt19937_64 rng(seed);
    struct UserState {
        std::vector<std::uint64_t> live;
        std::uint64_t next = 0;
    };
    std::vector<UserState> users(cfg.users.size());
    Flow flow;
    flow.bytes.reserve(n * 40);
    auto drop = [](std::vector<std::uint64_t>& v, std::uint64_t t) {
        for (auto& x : v)
            if (x == t) {
                x = v.back();
                v.pop_back();
                return;
            }
    };
    while (flow.messages < n) {
        const auto u = static_cast<std::uint32_t>(rng() % users.size());
        UserState& us = users[u];
        int kind = static_cast<int>(rng() % 100);
        kind = kind < 60 ? 0 : kind < 70 ? 1 : kind < 90 ? 2 : 3;
        if (kind >= 2 && us.live.empty()) kind = 0;
        if (kind == 0 && us.live.size() >= 100) kind = 2;
        const char side = rng() % 2 ? 'B' : 'S';
        const auto ticks = static_cast<std::uint32_t>(rng() % 5);
        const std::uint32_t price = side == 'B' ? 1'000'000 - ticks * 100 : 1'000'000 + ticks * 100;
        wire::Inbound in{};
        if (kind <= 1) {
            in.kind = wire::InKind::Enter;
            in.enter.token = ++us.next;
            in.enter.side = side;
            in.enter.qty = kind == 0 ? 1 + static_cast<std::uint32_t>(rng() % 10) * 10 : 10;
            in.enter.symbol = wire::make_symbol(cfg.instruments[rng() % cfg.instruments.size()].symbol);
            in.enter.price = kind == 0 ? price : 0;
            in.enter.type = kind == 0 ? 'L' : 'M';
            in.enter.tif = kind == 0 ? 'D' : 'I';
        } else if (kind == 2) {
            in.kind = wire::InKind::Cancel;
            in.cancel.token = us.live[rng() % us.live.size()];
            drop(us.live, in.cancel.token);
        } else {
            in.kind = wire::InKind::Replace;
            in.replace.token = us.live[rng() % us.live.size()];
            in.replace.new_token = ++us.next;
            in.replace.qty = 1 + static_cast<std::uint32_t>(rng() % 10) * 10;
            in.replace.price = price;
            drop(us.live, in.replace.token);
        }
        wire::Encoder enc(flow.bytes, u);
        if (in.kind == wire::InKind::Enter)
            enc.enter(in.enter);
        else if (in.kind == wire::InKind::Cancel)
            enc.cancel(in.cancel);
        else
            enc.replace(in.replace);
        ++flow.messages;
        en::Command c;
        const en::Router::Refusal why = in.kind == wire::InKind::Enter    ? router.enter(u, in.enter, c)
                                        : in.kind == wire::InKind::Cancel ? router.cancel(u, in.cancel, c)
                                                                          : router.replace(u, in.replace, c);
        if (why) continue;
        c.ts = flow.messages;
        core.apply(c, out);
        for (const en::Event& e : out.events) {
            auto& l = users[e.user].live;
            if ((e.kind == en::EventKind::Accepted && e.type == ob::OrderType::Limit &&
                 e.tif == ob::TimeInForce::GTC) ||
                e.kind == en::EventKind::Replaced)
                l.push_back(e.token);
            // Executions and cancels may end an order; a later cancel of it is simply rejected.
        }
        out.clear();
    }
    return flow;
}

enum class Mode { Os, OsWrite, OsLarge, Fsync, None };

// Replays the flow; returns seconds. Only the messages are timed: the router,
// the shard (whose pools touch every cell of their memory up front) and the
// journal file are made before the clock starts, as a server makes them at
// start-up.
[[gnu::noinline]] double replay(const en::Config& cfg, const Flow& flow, Mode mode, const std::string& dir,
                                std::size_t batch, std::uint64_t& trades, std::uint64_t& event_bytes) {
    en::Router router(cfg);
    en::ShardCore core(cfg, 0);
    // The shard encodes each batch's events for the I/O thread; so does this.
    const en::EventEncoder encoder(cfg);
    en::CoreOut out(encoder);
    out.encoded.reserve(1 << 20);
    const std::string path = dir + "/bench-journal.nxj";
    std::filesystem::remove(path);
    std::optional<en::JournalWriter> journal;
    if (mode != Mode::None)
        journal.emplace(en::JournalWriter::create(path, {.venue = 1, .shard = 0, .shards = 1, .created_ns = 0},
                                                  mode == Mode::Os ? en::JournalMode::Mapped : en::JournalMode::Write,
                                                  mode == Mode::Fsync ? en::SyncPolicy::Fsync : en::SyncPolicy::Os));
    event_bytes = 0;
    std::uint64_t ts = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t in_batch = 0;
    const std::uint8_t* p = flow.bytes.data();
    const std::uint8_t* const end = p + flow.bytes.size();
    while (p < end) {
        // What a session does with a packet: read its length, decode the order message.
        std::uint32_t user;
        std::memcpy(&user, p, 4);
        const std::size_t len = wire::get_be(p + 4, 2);  // packet type + message
        const wire::Inbound in = wire::decode_order({p + 7, len - 1});
        p += 6 + len;
        en::Command c;
        const en::Router::Refusal why = in.kind == wire::InKind::Enter     ? router.enter(user, in.enter, c)
                                        : in.kind == wire::InKind::Cancel  ? router.cancel(user, in.cancel, c)
                                        : in.kind == wire::InKind::Replace ? router.replace(user, in.replace, c)
                                                                           : en::RejectReason::InvalidFlags;
        if (!why) {
            c.ts = ++ts;
            if (journal) journal->append(c);
            core.apply(c, out);
        }
        if (++in_batch == batch) {
            if (journal) journal->commit();
            event_bytes += out.encoded.size() + out.itch.bytes().size();
            out.clear();
            in_batch = 0;
        }
    }
    if (journal) journal->commit();
    event_bytes += out.encoded.size() + out.itch.bytes().size();
    const auto t1 = std::chrono::steady_clock::now();
    journal.reset();  // closed (a mapped file cut to its length) before it is removed
    trades = out.trades;
    std::filesystem::remove(path);
    return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::string out_path, dir = std::filesystem::temp_directory_path().string();
    std::size_t messages = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (std::strncmp(argv[i], "--out=", 6) == 0)
            out_path = argv[i] + 6;
        else if (std::strncmp(argv[i], "--dir=", 6) == 0)
            dir = argv[i] + 6;
        else if (std::strncmp(argv[i], "--messages=", 11) == 0)
            messages = std::stoul(argv[i] + 11);
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--out=FILE] [--dir=DIR] [--messages=N]\n", argv[0]);
            return 2;
        }
    }
    std::FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
    if (!out) {
        std::perror(out_path.c_str());
        return 1;
    }
    const en::Config cfg = make_config();
    const std::size_t n = messages ? messages : quick ? 20'000 : 4'000'000;
    const std::size_t n_fsync =
        std::min<std::size_t>(n, quick ? 5'000 : 200'000);  // fsync rounds are slow: a shorter prefix of the flow
    const int rounds = quick ? 1 : 3;
    const std::size_t batch = 64;
    const std::size_t large_batch = 1024;  // what a saturated shard thread takes at once (it takes its whole queue)
    const Flow flow = record_flow(cfg, n, 20261126);
    const Flow flow_fsync = flow.prefix(n_fsync);
    std::fprintf(out,
                 "I\tmessages\t%zu\nI\tmessages_fsync\t%zu\nI\tbatch\t%zu\nI\tlarge_batch\t%zu\nI\tjournal_dir\t%s\n",
                 n, n_fsync, batch, large_batch, dir.c_str());
    std::fprintf(out, "# mode\tround\tmessages\tseconds\tmessages_per_s\ttrades\n");
    for (int r = 1; r <= rounds; ++r) {
        // Each round starts with the next mode, so no mode always runs first.
        const Mode order[] = {Mode::Os, Mode::OsWrite, Mode::OsLarge, Mode::None, Mode::Fsync};
        constexpr std::size_t kModes = std::size(order);
        for (std::size_t i = 0; i < kModes; ++i) {
            const Mode mode = order[(i + static_cast<std::size_t>(r - 1)) % kModes];
            const auto& f = mode == Mode::Fsync ? flow_fsync : flow;
            std::uint64_t trades = 0, bytes = 0;
            const double s = replay(cfg, f, mode, dir, mode == Mode::OsLarge ? large_batch : batch, trades, bytes);
            const char* name = mode == Mode::Os        ? "journal os"
                               : mode == Mode::OsWrite ? "journal os, write"
                               : mode == Mode::OsLarge ? "journal os, large batches"
                               : mode == Mode::Fsync   ? "journal fsync"
                                                       : "no journal";
            std::fprintf(out, "E\t%s\t%d\t%zu\t%.4f\t%.0f\t%llu\n", name, r, f.messages, s,
                         static_cast<double>(f.messages) / s, static_cast<unsigned long long>(trades));
            std::fflush(out);
            std::fprintf(stderr, "engine core: %-25s round %d: %.2f M messages/s\n", name, r,
                         static_cast<double>(f.messages) / s / 1e6);
        }
    }
    if (out != stdout) std::fclose(out);
    return 0;
}

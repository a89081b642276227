// nexus/engine/config.hpp — the engine's configuration file.
//
// One setting per line; '#' starts a comment. Settings are a keyword and a
// value; instruments and users are a keyword, a name and key=value options:
//
//   listen 127.0.0.1:9000          # address:port; port 0 picks a free one
//   shards 2                       # matching threads (instruments go round-robin)
//   journal_dir /var/lib/nexus     # journal-<shard>.nxj files live here
//   sync os                        # os: written to the OS before the ack; fsync: fsync'd before the ack;
//                                  # replicated: also acknowledged by NATS JetStream (planned: docs/replication.md)
//   journal_mode mmap              # sync os: mmap (the default; no system call per batch) or write (one
//                                  # write(2) per batch, as before); sync fsync always writes
//   replicate_to nats://127.0.0.1:4222/NEXUS   # sync replicated: the stream (one subject per shard)
//   replication_timeout_ms 2000    # sync replicated: longest wait for JetStream's acknowledgement
//   itch_out /var/lib/nexus/md.itch
//   outbound_limit 1048576         # bytes queued to one client before it is disconnected
//   heartbeat_ms 1000              # server heartbeat interval
//   idle_timeout_ms 15000          # a client silent this long is disconnected
//   shutdown_timeout_ms 5000       # SIGTERM: time for clients to read their last answers
//   max_sessions 2048
//   pool_orders 1048576            # per shard
//   pool_levels 65536              # per shard
//   spin_us 50                     # a shard spins this long for work before it sleeps
//   matching threads               # threads: one thread per shard; inline: on the I/O thread
//   io_poll block                  # block: the I/O thread sleeps in epoll; busy: it polls (a whole core)
//   io_spin_us 0                   # with io_poll block: keep polling this long after the last work
//   instrument AAPL min_price=1.0000 max_price=1000.0000 max_qty=100000
//   user alice password=secret max_qty=50000 max_notional=10000000
//
// Prices are written in dollars with up to four decimals. Errors name the
// file, the line and the field.
#pragma once

#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nexus::engine {

struct InstrumentConfig {
    std::string symbol;
    std::uint32_t min_price = 1;              // 4 implied decimals
    std::uint32_t max_price = 2'000'000'000;  // 200,000.0000
    std::uint32_t max_qty = 1'000'000;
};

struct UserConfig {
    std::string name;      // up to 6 characters (the login field)
    std::string password;  // up to 10
    std::uint32_t max_qty = 0xFFFF'FFFF;
    std::uint64_t max_notional = ~std::uint64_t{0};  // dollars, price x qty of one order
};

enum class SyncPolicy : std::uint8_t {
    Os,     // write(2) before the ack: survives a crash of the process
    Fsync,  // fdatasync(2) before the ack, in group commits: survives a power loss
    // Written as Os, and the batch acknowledged by a JetStream stream before
    // the ack: survives the loss of the machine. Parsed, not built yet:
    // nexus-engine refuses to serve with it (docs/replication.md).
    Replicated,
};

// How the journal files and the outbound store are appended to
// (append_file.hpp).
enum class JournalMode : std::uint8_t {
    Mapped,  // encoded into a shared mapping of the file: a commit under `sync os` is no system call
    Write,   // gathered in memory, one write(2) per commit (plus fdatasync(2) under `sync fsync`)
};

struct Config {
    std::string path;  // the file it was read from (for messages)
    std::string listen_address = "127.0.0.1";
    std::uint16_t listen_port = 0;
    unsigned shards = 1;
    std::string journal_dir = ".";
    SyncPolicy sync = SyncPolicy::Os;
    // Mapped unless the file says `journal_mode write`; always Write under
    // `sync fsync` (parse_config refuses `journal_mode mmap` there).
    JournalMode journal_mode = JournalMode::Mapped;
    std::string replicate_to;  // sync replicated: nats://HOST[:PORT]/STREAM
    unsigned replication_timeout_ms = 2000;
    std::string itch_out;  // empty: no market-data file
    std::size_t outbound_limit = 1 << 20;
    unsigned heartbeat_ms = 1000;
    unsigned idle_timeout_ms = 15000;
    // SIGTERM: how long the engine waits for clients to read their last
    // answers and End of Session before it closes their connections.
    unsigned shutdown_timeout_ms = 5000;
    std::size_t max_sessions = 2048;
    std::size_t pool_orders = 1 << 20;
    std::size_t pool_levels = 1 << 16;
    unsigned spin_us = 50;
    // Where matching runs. Threads: each shard on its own thread, fed by
    // queues (the default). Inline: the I/O thread journals and matches each
    // read's commands itself, one thread in all — for machines with fewer
    // cores than shards + 1, where a thread hand-off costs more than the match.
    bool inline_matching = false;
    bool busy_poll = false;   // the I/O thread polls instead of sleeping in epoll
    unsigned io_spin_us = 0;  // ... or polls this long after its last work before it sleeps
    std::vector<InstrumentConfig> instruments;
    std::vector<UserConfig> users;
};

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

// A whole number in [min, max]; anything else (a sign, a fraction, an
// exponent, too many digits, out of the range) is an error saying the range.
std::uint64_t parse_uint(const std::string& v, const std::string& where, std::uint64_t min, std::uint64_t max);
inline std::uint64_t parse_uint(const std::string& v, const std::string& where, std::uint64_t max) {
    return parse_uint(v, where, 0, max);
}

// "12.34" -> 123400 (four implied decimals).
std::uint32_t parse_price(const std::string& v, const std::string& where);

}  // namespace detail

// Parses configuration text; `name` is used in error messages.
Config parse_config(std::istream& in, const std::string& name);

Config load_config(const std::string& path);

}  // namespace nexus::engine

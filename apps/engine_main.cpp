// nexus-engine: the matching engine server. See docs/protocol.md and
// engine/include/nexus/engine/server.hpp.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nexus/engine/server.hpp>

#include "snapshot_json.hpp"

namespace en = nexus::engine;
namespace ob = nexus::orderbook;

namespace {

struct Options {
    std::string config, port_file, snapshot, orders;
    bool recover_only = false;
    std::size_t depth = 5;
    std::string log_level = "info";
};

[[noreturn]] void usage(int code) {
    std::fprintf(
        code ? stderr : stdout,
        "usage: nexus-engine --config FILE [options]\n"
        "  --config FILE      instruments, users, limits, journal (see engine/include/nexus/engine/config.hpp)\n"
        "  --port-file FILE   write the listening port there once bound (for listen ...:0)\n"
        "  --snapshot FILE    at exit, write the books (top --depth levels) as JSON, in nexus-replay's format\n"
        "  --orders FILE      at exit, write every live order: symbol side price qty order-ref user token\n"
        "  --depth N          levels per side in the snapshot, 1 to 1000000 (default 5)\n"
        "  --recover-only     read and check the journal, write --snapshot/--orders and exit; writes nothing\n"
        "                     in the journal directory and does not listen\n"
        "  --log-level L      trace, debug, info, warn, error (default info)\n"
        "Output files are checked before the journal is read; each is written whole or not at all.\n"
        "Signals: SIGINT/SIGTERM shut down cleanly (exit 0); SIGUSR1 logs the counters.\n"
        "Exit status: 0 clean shutdown; 1 a failure while running (journal, outbound store, an output file);\n"
        "2 a usage error, or a configuration or journal directory refused at start.\n");
    std::exit(code);
}

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "nexus-engine: %s\n", what.c_str());
    usage(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--config")
            o.config = next();
        else if (a == "--port-file")
            o.port_file = next();
        else if (a == "--snapshot")
            o.snapshot = next();
        else if (a == "--orders")
            o.orders = next();
        else if (a == "--depth") {
            const std::string v = next();
            try {
                o.depth = en::detail::parse_uint(v, "--depth", 1, 1'000'000);
            } catch (const en::ConfigError& e) {
                usage_error(e.what());
            }
        } else if (a == "--recover-only")
            o.recover_only = true;
        else if (a == "--log-level") {
            o.log_level = next();
            if (o.log_level != "trace" && o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" &&
                o.log_level != "error")
                usage_error("--log-level: '" + o.log_level + "' is not one of trace, debug, info, warn, error");
        } else if (a == "--help" || a == "-h")
            usage(0);
        else
            usage_error("unknown option " + a);
    }
    if (o.config.empty()) usage_error("--config is required");
    if (o.recover_only && !o.port_file.empty()) usage_error("--port-file with --recover-only: nothing listens");
    return o;
}

// An output file must be writable before any work is done: its directory
// exists and is writable, and the path is not a directory or a read-only
// file. Returns what is wrong, or "".
std::string output_problem(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) return path + ": is a directory";
    const fs::path parent = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
    if (!fs::is_directory(parent, ec)) return path + ": the directory " + parent.string() + " does not exist";
    if (::access(parent.c_str(), W_OK | X_OK) != 0)
        return path + ": the directory " + parent.string() + " is not writable";
    if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) return path + ": not writable";
    return "";
}

// Writes a file whole or not at all: into PATH.tmp, then renamed over PATH.
// Throws naming the file.
void write_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << text;
        f.close();
        if (!f) {
            std::filesystem::remove(tmp);
            throw std::runtime_error(path + ": cannot write (" + tmp + ")");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        std::filesystem::remove(tmp);
        throw std::runtime_error(path + ": cannot rename " + tmp + " to it: " + why);
    }
}

void write_outputs(const en::Server& server, const Options& opt) {
    if (!opt.snapshot.empty()) {
        struct Entry {
            std::string symbol;
            std::size_t orders;
            std::vector<ob::LevelInfo> bids, asks;
        };
        std::map<std::uint16_t, Entry> books;  // by locate, as nexus-replay orders them
        server.for_each_book([&](std::uint16_t locate, const std::string& symbol, const auto& b) {
            if (b.order_count() == 0) return;
            books[locate] =
                Entry{symbol, b.order_count(), b.depth(ob::Side::Buy, opt.depth), b.depth(ob::Side::Sell, opt.depth)};
        });
        nexus::apps::SnapshotJson js(server.config().itch_out);
        for (const auto& [locate, e] : books) js.book(locate, e.symbol, e.orders, e.bids, e.asks);
        write_file(opt.snapshot, std::move(js).finish());
        spdlog::info("wrote snapshot to {}", opt.snapshot);
    }
    if (!opt.orders.empty()) {
        std::ostringstream os;
        std::size_t n = 0;
        server.for_each_order([&](const std::string& symbol, ob::Side side, ob::Price price, std::uint64_t qty,
                                  ob::OrderId id, std::uint32_t user, std::uint64_t token) {
            os << symbol << ' ' << (side == ob::Side::Buy ? 'B' : 'S') << ' ' << price << ' ' << qty << ' ' << id << ' '
               << server.config().users[user].name << ' ' << token << '\n';
            ++n;
        });
        write_file(opt.orders, os.str());
        spdlog::info("wrote {} live orders to {}", n, opt.orders);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    spdlog::set_level(spdlog::level::from_str(opt.log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    // A file-size limit (ulimit -f) reached by the journal, the store or the
    // ITCH file is then an error naming the file (EFBIG), answered by the
    // orderly shutdown every other write failure gets, not a silent kill.
    std::signal(SIGXFSZ, SIG_IGN);
    for (const auto* path : {&opt.snapshot, &opt.orders, &opt.port_file}) {
        if (path->empty()) continue;
        if (const std::string bad = output_problem(*path); !bad.empty()) {
            spdlog::error("{}", bad);
            return 2;
        }
    }
    std::unique_ptr<en::Server> server;
    try {
        en::Config cfg = en::load_config(opt.config);
        if (cfg.sync == en::SyncPolicy::Replicated && !opt.recover_only)
            throw en::ConfigError(
                opt.config +
                ": sync replicated: publishing the journal to NATS JetStream is not built yet "
                "(docs/replication.md); refusing to serve rather than acknowledge orders kept only here");
        server = std::make_unique<en::Server>(std::move(cfg),
                                              opt.recover_only ? en::StartMode::Inspect : en::StartMode::Serve);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    int status = 0;
    if (opt.recover_only) {
        spdlog::info("recovered {} commands; {} answers in the outbound store, {} journaled but not yet sent",
                     server->recovered_commands(), server->recovered_answers(), server->unsent_answers());
    } else {
        if (!opt.port_file.empty()) {
            try {
                write_file(opt.port_file, std::to_string(server->port()) + "\n");
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
                return 1;
            }
        }
        status = server->run();
    }
    try {
        write_outputs(*server, opt);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    return status;
}

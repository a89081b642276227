// nexus-engine: the matching engine server. See docs/protocol.md and
// engine/include/nexus/engine/server.hpp.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include <nexus/engine/server.hpp>

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
    std::fprintf(code ? stderr : stdout,
                 "usage: nexus-engine --config FILE [options]\n"
                 "  --config FILE      instruments, users, limits, journal (see engine/include/nexus/engine/config.hpp)\n"
                 "  --port-file FILE   write the listening port there once bound (for listen ...:0)\n"
                 "  --snapshot FILE    at exit, write the books (top --depth levels) as JSON, in nexus-replay's format\n"
                 "  --orders FILE      at exit, write every live order: symbol side price qty order-ref user token\n"
                 "  --depth N          levels per side in the snapshot (default 5)\n"
                 "  --recover-only     replay the journals, write --snapshot/--orders and exit without serving\n"
                 "  --log-level L      trace, debug, info, warn, error (default info)\n"
                 "Signals: SIGINT/SIGTERM shut down cleanly (exit 0); SIGUSR1 logs the counters.\n"
                 "Exit status: 0 clean shutdown, 1 journal failure at run time, 2 bad configuration or journal at start.\n");
    std::exit(code);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "nexus-engine: %s needs a value\n", a.c_str());
                usage(2);
            }
            return argv[++i];
        };
        if (a == "--config") o.config = next();
        else if (a == "--port-file") o.port_file = next();
        else if (a == "--snapshot") o.snapshot = next();
        else if (a == "--orders") o.orders = next();
        else if (a == "--depth") o.depth = std::stoul(next());
        else if (a == "--recover-only") o.recover_only = true;
        else if (a == "--log-level") o.log_level = next();
        else if (a == "--help" || a == "-h") usage(0);
        else {
            std::fprintf(stderr, "nexus-engine: unknown option %s\n", a.c_str());
            usage(2);
        }
    }
    if (o.config.empty()) usage(2);
    return o;
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
            books[locate] = Entry{symbol, b.order_count(), b.depth(ob::Side::Buy, opt.depth), b.depth(ob::Side::Sell, opt.depth)};
        });
        std::ofstream js(opt.snapshot);
        js << "{\n  \"file\": \"" << server.config().itch_out << "\",\n  \"books\": [";
        bool first = true;
        for (const auto& [locate, e] : books) {
            js << (first ? "\n" : ",\n") << "    {\"locate\": " << locate << ", \"symbol\": \"" << e.symbol
               << "\", \"orders\": " << e.orders;
            for (int side = 0; side < 2; ++side) {
                const auto& d = side == 0 ? e.bids : e.asks;
                js << (side == 0 ? ", \"bids\": [" : ", \"asks\": [");
                for (std::size_t i = 0; i < d.size(); ++i)
                    js << (i ? ", " : "") << "{\"price\": " << d[i].price << ", \"size\": " << d[i].qty
                       << ", \"orders\": " << d[i].count << "}";
                js << "]";
            }
            js << "}";
            first = false;
        }
        js << "\n  ]\n}\n";
        spdlog::info("wrote snapshot to {}", opt.snapshot);
    }
    if (!opt.orders.empty()) {
        std::ofstream os(opt.orders);
        std::size_t n = 0;
        server.for_each_order([&](const std::string& symbol, ob::Side side, ob::Price price, std::uint64_t qty,
                                  ob::OrderId id, std::uint32_t user, std::uint64_t token) {
            os << symbol << ' ' << (side == ob::Side::Buy ? 'B' : 'S') << ' ' << price << ' ' << qty << ' ' << id << ' '
               << server.config().users[user].name << ' ' << token << '\n';
            ++n;
        });
        spdlog::info("wrote {} live orders to {}", n, opt.orders);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    spdlog::set_level(spdlog::level::from_str(opt.log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    std::unique_ptr<en::Server> server;
    try {
        en::Config cfg = en::load_config(opt.config);
        if (opt.recover_only) cfg.listen_port = 0;
        server = std::make_unique<en::Server>(std::move(cfg));
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    if (opt.recover_only) {
        spdlog::info("recovered {} commands", server->recovered_commands());
        write_outputs(*server, opt);
        return 0;
    }
    if (!opt.port_file.empty()) {
        const std::string tmp = opt.port_file + ".tmp";
        std::ofstream(tmp) << server->port() << "\n";
        std::rename(tmp.c_str(), opt.port_file.c_str());
    }
    const int status = server->run();
    write_outputs(*server, opt);
    return status;
}

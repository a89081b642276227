// engine/src/config.cpp — the configuration file parser (see config.hpp).
#include "nexus/engine/config.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace nexus::engine {

std::uint64_t detail::parse_uint(const std::string& v, const std::string& where, std::uint64_t min, std::uint64_t max) {
    std::uint64_t x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || x < min || x > max)
        throw ConfigError(where + ": '" + v + "' is not a whole number in [" + std::to_string(min) + ", " +
                          std::to_string(max) + "]");
    return x;
}

std::uint32_t detail::parse_price(const std::string& v, const std::string& where) {
    const auto dot = v.find('.');
    const std::string whole = v.substr(0, dot);
    std::string frac = dot == std::string::npos ? "" : v.substr(dot + 1);
    if (whole.empty() || frac.size() > 4 || (dot != std::string::npos && frac.empty()))
        throw ConfigError(where + ": '" + v + "' is not a price (dollars, up to 4 decimals)");
    frac.resize(4, '0');
    const std::uint64_t w = parse_uint(whole, where, 200'000);
    const std::uint64_t f = parse_uint(frac, where, 9999);
    const std::uint64_t p = w * 10'000 + f;
    if (p > 2'000'000'000) throw ConfigError(where + ": price above 200000.0000");
    return static_cast<std::uint32_t>(p);
}

Config parse_config(std::istream& in, const std::string& name) {
    Config c;
    c.path = name;
    std::string line;
    int lineno = 0;
    bool has_shards = false;
    std::string journal_mode_where;  // the line that set journal_mode, if one did
    while (std::getline(in, line)) {
        ++lineno;
        if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
        std::istringstream ls(line);
        std::string key;
        if (!(ls >> key)) continue;
        const std::string where = name + ":" + std::to_string(lineno);
        std::vector<std::string> args;
        for (std::string a; ls >> a;) args.push_back(a);
        auto one = [&]() -> const std::string& {
            if (args.size() != 1) throw ConfigError(where + ": '" + key + "' takes exactly one value");
            return args[0];
        };
        using detail::parse_uint;
        if (key == "listen") {
            const std::string& v = one();
            const auto colon = v.rfind(':');
            if (colon == std::string::npos || colon == 0)
                throw ConfigError(where + ": listen: expected address:port, got '" + v + "'");
            c.listen_address = v.substr(0, colon);
            c.listen_port = static_cast<std::uint16_t>(parse_uint(v.substr(colon + 1), where + ": listen port", 65535));
        } else if (key == "shards") {
            c.shards = static_cast<unsigned>(parse_uint(one(), where + ": shards", 1, 64));
            has_shards = true;
        } else if (key == "journal_dir") {
            c.journal_dir = one();
        } else if (key == "sync") {
            const std::string& v = one();
            if (v == "os")
                c.sync = SyncPolicy::Os;
            else if (v == "fsync")
                c.sync = SyncPolicy::Fsync;
            else if (v == "replicated")
                c.sync = SyncPolicy::Replicated;
            else
                throw ConfigError(where + ": sync: expected 'os', 'fsync' or 'replicated', got '" + v + "'");
        } else if (key == "journal_mode") {
            const std::string& v = one();
            if (v == "mmap")
                c.journal_mode = JournalMode::Mapped;
            else if (v == "write")
                c.journal_mode = JournalMode::Write;
            else
                throw ConfigError(where + ": journal_mode: expected 'mmap' or 'write', got '" + v + "'");
            journal_mode_where = where;
        } else if (key == "replicate_to") {
            const std::string& v = one();
            const auto slash = v.find('/', 7);
            if (!v.starts_with("nats://") || slash == std::string::npos || slash == 7 || slash + 1 == v.size() ||
                v.find('/', slash + 1) != std::string::npos)
                throw ConfigError(where + ": replicate_to: expected nats://HOST[:PORT]/STREAM, got '" + v + "'");
            c.replicate_to = v;
        } else if (key == "replication_timeout_ms") {
            c.replication_timeout_ms =
                static_cast<unsigned>(parse_uint(one(), where + ": replication_timeout_ms", 1, 600'000));
        } else if (key == "itch_out") {
            c.itch_out = one();
        } else if (key == "outbound_limit") {
            c.outbound_limit = parse_uint(one(), where + ": outbound_limit", 4096, std::uint64_t{1} << 34);
        } else if (key == "heartbeat_ms") {
            c.heartbeat_ms = static_cast<unsigned>(parse_uint(one(), where + ": heartbeat_ms", 1, 3'600'000));
        } else if (key == "idle_timeout_ms") {
            c.idle_timeout_ms = static_cast<unsigned>(parse_uint(one(), where + ": idle_timeout_ms", 1, 3'600'000));
        } else if (key == "shutdown_timeout_ms") {
            c.shutdown_timeout_ms =
                static_cast<unsigned>(parse_uint(one(), where + ": shutdown_timeout_ms", 0, 3'600'000));
        } else if (key == "max_sessions") {
            c.max_sessions = parse_uint(one(), where + ": max_sessions", 1, 1'000'000);
        } else if (key == "pool_orders") {
            c.pool_orders = parse_uint(one(), where + ": pool_orders", 1, std::uint64_t{1} << 31);
        } else if (key == "pool_levels") {
            c.pool_levels = parse_uint(one(), where + ": pool_levels", 1, std::uint64_t{1} << 31);
        } else if (key == "matching") {
            const std::string& v = one();
            if (v == "threads")
                c.inline_matching = false;
            else if (v == "inline")
                c.inline_matching = true;
            else
                throw ConfigError(where + ": matching: expected 'threads' or 'inline', got '" + v + "'");
        } else if (key == "io_poll") {
            const std::string& v = one();
            if (v == "block")
                c.busy_poll = false;
            else if (v == "busy")
                c.busy_poll = true;
            else
                throw ConfigError(where + ": io_poll: expected 'block' or 'busy', got '" + v + "'");
        } else if (key == "io_spin_us") {
            c.io_spin_us = static_cast<unsigned>(parse_uint(one(), where + ": io_spin_us", 1'000'000));
        } else if (key == "spin_us") {
            c.spin_us = static_cast<unsigned>(parse_uint(one(), where + ": spin_us", 1'000'000));
        } else if (key == "instrument" || key == "user") {
            if (args.empty()) throw ConfigError(where + ": '" + key + "' needs a name");
            const std::string& nm = args[0];
            const std::size_t max_len = key == "user" ? 6 : 8;
            if (nm.size() > max_len)
                throw ConfigError(where + ": " + key + " name '" + nm + "' is longer than " + std::to_string(max_len));
            for (char ch : nm)
                if (ch <= ' ' || ch > '~')
                    throw ConfigError(where + ": " + key + " name '" + nm +
                                      "' has a character outside printable ASCII");
            if (key == "instrument") {
                InstrumentConfig ic;
                ic.symbol = nm;
                for (const auto& ins : c.instruments)
                    if (ins.symbol == nm) throw ConfigError(where + ": instrument '" + nm + "' defined twice");
                for (std::size_t i = 1; i < args.size(); ++i) {
                    const auto eq = args[i].find('=');
                    const std::string k = args[i].substr(0, eq),
                                      v = eq == std::string::npos ? "" : args[i].substr(eq + 1);
                    const std::string fw = where + ": instrument " + nm + ": " + k;
                    if (k == "min_price")
                        ic.min_price = detail::parse_price(v, fw);
                    else if (k == "max_price")
                        ic.max_price = detail::parse_price(v, fw);
                    else if (k == "max_qty")
                        ic.max_qty = static_cast<std::uint32_t>(parse_uint(v, fw, 1, 0xFFFF'FFFF));
                    else
                        throw ConfigError(where + ": instrument " + nm + ": unknown option '" + k + "'");
                }
                if (ic.min_price == 0 || ic.min_price > ic.max_price)
                    throw ConfigError(where + ": instrument " + nm + ": need 0 < min_price <= max_price");
                c.instruments.push_back(ic);
            } else {
                UserConfig uc;
                uc.name = nm;
                for (const auto& u : c.users)
                    if (u.name == nm) throw ConfigError(where + ": user '" + nm + "' defined twice");
                for (std::size_t i = 1; i < args.size(); ++i) {
                    const auto eq = args[i].find('=');
                    const std::string k = args[i].substr(0, eq),
                                      v = eq == std::string::npos ? "" : args[i].substr(eq + 1);
                    const std::string fw = where + ": user " + nm + ": " + k;
                    if (k == "password") {
                        if (v.empty() || v.size() > 10) throw ConfigError(fw + ": 1 to 10 characters");
                        uc.password = v;
                    } else if (k == "max_qty") {
                        uc.max_qty = static_cast<std::uint32_t>(parse_uint(v, fw, 1, 0xFFFF'FFFF));
                    } else if (k == "max_notional") {
                        uc.max_notional = parse_uint(v, fw, 1, ~std::uint64_t{0});
                    } else {
                        throw ConfigError(where + ": user " + nm + ": unknown option '" + k + "'");
                    }
                }
                if (uc.password.empty()) throw ConfigError(where + ": user " + nm + ": password= is required");
                c.users.push_back(uc);
            }
        } else {
            throw ConfigError(where + ": unknown setting '" + key + "'");
        }
    }
    if (c.instruments.empty()) throw ConfigError(name + ": no instrument defined");
    if (c.users.empty()) throw ConfigError(name + ": no user defined");
    if (c.instruments.size() > 65000) throw ConfigError(name + ": more than 65000 instruments");
    if (c.users.size() > 1'000'000) throw ConfigError(name + ": more than 1000000 users");
    if (!has_shards) c.shards = 1;
    if (c.sync == SyncPolicy::Fsync) {
        // The kernel writes a mapping's dirty pages back in any order: after a
        // power loss, records past the last fdatasync could be on disk after a
        // gap of zeros, which recovery must refuse as damage.
        if (!journal_mode_where.empty() && c.journal_mode == JournalMode::Mapped)
            throw ConfigError(journal_mode_where +
                              ": journal_mode mmap is for sync os; sync fsync writes its files with write(2) "
                              "(remove the line, or write 'journal_mode write')");
        c.journal_mode = JournalMode::Write;
    }
    if (c.sync == SyncPolicy::Replicated && c.replicate_to.empty())
        throw ConfigError(name + ": sync replicated needs replicate_to nats://HOST[:PORT]/STREAM");
    if (c.sync != SyncPolicy::Replicated && !c.replicate_to.empty())
        throw ConfigError(name + ": replicate_to is set but sync is not 'replicated' (nothing would be replicated)");
    // Not clamped: the shard count is part of what a journal depends on, and
    // a clamp would change it when an instrument is added.
    if (c.shards > c.instruments.size())
        throw ConfigError(name + ": shards " + std::to_string(c.shards) + ": more shards than instruments (" +
                          std::to_string(c.instruments.size()) + ")");
    return c;
}

Config load_config(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw ConfigError(path + ": cannot open");
    return parse_config(f, path);
}

}  // namespace nexus::engine

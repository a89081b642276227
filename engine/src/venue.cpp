// engine/src/venue.cpp — the manifest: its text form, reading, writing,
// and the comparison of a configuration with the venue it describes.
#include "nexus/engine/venue.hpp"

#include <fstream>
#include <sstream>

namespace nexus::engine {

void new_identity(Manifest& m, std::uint64_t now_ns) {
    std::random_device rd;
    m.venue = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ now_ns;
    if (m.venue == 0) m.venue = 1;
    m.session.clear();
    std::uint64_t v = m.venue;
    for (int i = 0; i < 10; ++i, v /= 36) m.session += "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v % 36];
    m.created_ns = now_ns;
}

std::string format_price(std::uint32_t p) {
    char b[32];
    std::snprintf(b, sizeof b, "%u.%04u", p / 10'000, p % 10'000);
    return b;
}

std::string manifest_text(const Manifest& m) {
    std::ostringstream o;
    char venue[17];
    std::snprintf(venue, sizeof venue, "%016llx", static_cast<unsigned long long>(m.venue));
    o << kManifestHead << "\n"
      << "# Written by nexus-engine. Do not edit: the checksum below guards every line above it.\n"
      << "venue " << venue << "\nsession " << m.session << "\ncreated " << m.created_ns << "\n"
      << "shards " << m.description.shards << "\npool_orders " << m.description.pool_orders << "\npool_levels "
      << m.description.pool_levels << "\n";
    for (const auto& i : m.description.instruments)
        o << "instrument " << i.symbol << " " << i.min_price << " " << i.max_price << " " << i.max_qty << "\n";
    for (const auto& u : m.description.users) o << "user " << u << "\n";
    for (std::size_t s = 0; s < m.journal_records.size(); ++s)
        o << "journal " << s << " " << m.journal_records[s] << "\n";
    o << "outbound " << m.outbound_records << "\n";
    std::string body = o.str();
    char crc[32];
    std::snprintf(crc, sizeof crc, "checksum %08x\n", crc32c(body.data(), body.size()));
    return body + crc;
}

Manifest parse_manifest(const std::string& text, const std::string& path) {
    const auto end = text.rfind("checksum ");
    auto bad = [&](const std::string& what) { return JournalError(path + ": " + what); };
    if (text.rfind(kManifestHead, 0) != 0) throw bad("line 1: not a nexus manifest");
    if (end == std::string::npos || (end > 0 && text[end - 1] != '\n')) throw bad("no checksum line: the file was cut");
    unsigned stored = 0;
    if (std::sscanf(text.c_str() + end, "checksum %8x", &stored) != 1 || stored != crc32c(text.data(), end))
        throw bad("checksum mismatch: the manifest was damaged or edited");
    Manifest m;
    std::istringstream in(text.substr(0, end));
    std::string line;
    int lineno = 0;
    bool has_shards = false;
    while (std::getline(in, line)) {
        ++lineno;
        if (lineno == 1 || line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        const std::string where = "line " + std::to_string(lineno) + ": ";
        bool ok = true;
        if (key == "venue") {
            std::string hex;
            ok = static_cast<bool>(ls >> hex);
            if (ok) {
                const auto [e, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), m.venue, 16);
                ok = ec == std::errc{} && e == hex.data() + hex.size();
            }
        } else if (key == "session") {
            ok = static_cast<bool>(ls >> m.session);
        } else if (key == "created") {
            ok = static_cast<bool>(ls >> m.created_ns);
        } else if (key == "shards") {
            ok = static_cast<bool>(ls >> m.description.shards) && m.description.shards > 0;
            has_shards = ok;
        } else if (key == "pool_orders") {
            ok = static_cast<bool>(ls >> m.description.pool_orders);
        } else if (key == "pool_levels") {
            ok = static_cast<bool>(ls >> m.description.pool_levels);
        } else if (key == "instrument") {
            InstrumentConfig i;
            ok = static_cast<bool>(ls >> i.symbol >> i.min_price >> i.max_price >> i.max_qty);
            m.description.instruments.push_back(i);
        } else if (key == "user") {
            std::string u;
            ok = static_cast<bool>(ls >> u);
            m.description.users.push_back(u);
        } else if (key == "journal") {
            std::size_t shard = 0;
            std::uint64_t n = 0;
            ok = static_cast<bool>(ls >> shard >> n) && shard == m.journal_records.size();
            m.journal_records.push_back(n);
        } else if (key == "outbound") {
            ok = static_cast<bool>(ls >> m.outbound_records);
        } else {
            ok = false;
        }
        if (!ok) throw bad(where + "cannot read '" + line + "'");
    }
    if (!has_shards || m.session.empty() || m.venue == 0) throw bad("venue, session or shards missing");
    if (m.journal_records.size() != m.description.shards)
        throw bad("lists " + std::to_string(m.journal_records.size()) + " shard journals for " +
                  std::to_string(m.description.shards) + " shards");
    return m;
}

Manifest read_manifest(const std::string& dir) {
    const std::string path = manifest_path(dir);
    std::ifstream f(path, std::ios::binary);
    if (!f) throw JournalError(path + ": cannot open");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    return parse_manifest(text, path);
}

void write_manifest(const std::string& dir, const Manifest& m) {
    const std::string path = manifest_path(dir), tmp = path + ".tmp";
    const std::string text = manifest_text(m);
    {
        PosixFile f(tmp, O_WRONLY | O_CREAT | O_TRUNC);
        f.write_all(text.data(), text.size());
        if (::fsync(f.fd()) != 0) f.fail("fsync failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw JournalError(path + ": cannot replace it with " + tmp + ": " + std::strerror(errno));
    sync_directory(dir);
}

std::vector<VenueChange> compare_venues(const VenueDescription& was, const VenueDescription& now) {
    std::vector<VenueChange> out;
    auto change = [&](bool safe, std::string what) { out.push_back({safe, std::move(what)}); };
    if (was.shards != now.shards)
        change(false, "shards: the journal has " + std::to_string(was.shards) + ", the configuration " +
                          std::to_string(now.shards) +
                          " (an instrument's shard is its position modulo the shard count)");
    auto pool = [&](const char* name, std::uint64_t a, std::uint64_t b) {
        if (a == b) return;
        if (b > a)
            change(true, std::string(name) + " raised from " + std::to_string(a) + " to " + std::to_string(b));
        else
            change(false, std::string(name) + " lowered from " + std::to_string(a) + " to " + std::to_string(b) +
                              " (the journal's orders may need the room)");
    };
    pool("pool_orders", was.pool_orders, now.pool_orders);
    pool("pool_levels", was.pool_levels, now.pool_levels);
    const std::size_t ni = std::min(was.instruments.size(), now.instruments.size());
    for (std::size_t i = 0; i < ni; ++i) {
        const auto& a = was.instruments[i];
        const auto& b = now.instruments[i];
        const std::string pos = "instrument " + std::to_string(i + 1);
        if (a.symbol != b.symbol) {
            change(false, pos + " was " + a.symbol + ", is now " + b.symbol +
                              " (its orders would change instrument; instruments may only be added at the end)");
            continue;
        }
        if (a.min_price != b.min_price || a.max_price != b.max_price) {
            const bool wider = b.min_price <= a.min_price && b.max_price >= a.max_price;
            change(wider, a.symbol + ": price band " + (wider ? "widened" : "narrowed") + " from [" +
                              format_price(a.min_price) + ", " + format_price(a.max_price) + "] to [" +
                              format_price(b.min_price) + ", " + format_price(b.max_price) + "]" +
                              (wider ? "" : " (journaled orders outside it would be refused on replay)"));
        }
        if (a.max_qty != b.max_qty)
            change(b.max_qty > a.max_qty, a.symbol + ": max_qty " + (b.max_qty > a.max_qty ? "raised" : "lowered") +
                                              " from " + std::to_string(a.max_qty) + " to " +
                                              std::to_string(b.max_qty));
    }
    for (std::size_t i = ni; i < was.instruments.size(); ++i)
        change(false, "instrument " + std::to_string(i + 1) + " (" + was.instruments[i].symbol + ") removed");
    for (std::size_t i = ni; i < now.instruments.size(); ++i)
        change(true, "instrument " + now.instruments[i].symbol + " added at the end (position " +
                         std::to_string(i + 1) + ")");
    const std::size_t nu = std::min(was.users.size(), now.users.size());
    for (std::size_t i = 0; i < nu; ++i)
        if (was.users[i] != now.users[i])
            change(false, "user " + std::to_string(i + 1) + " was " + was.users[i] + ", is now " + now.users[i] +
                              " (their orders would change owner; users may only be added at the end)");
    for (std::size_t i = nu; i < was.users.size(); ++i)
        change(false, "user " + std::to_string(i + 1) + " (" + was.users[i] + ") removed");
    for (std::size_t i = nu; i < now.users.size(); ++i)
        change(true, "user " + now.users[i] + " added at the end (position " + std::to_string(i + 1) + ")");
    return out;
}

}  // namespace nexus::engine

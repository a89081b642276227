// nexus/engine/venue.hpp — what a journal depends on, and the manifest that
// binds a journal directory to it.
//
// A journal record names its user and instrument by position in the
// configuration, and replaying it depends on the instruments' price bands
// and sizes, the pools (a full pool refuses an order) and the shard layout
// (an instrument's shard is its position modulo the shard count). All of that
// is the venue's description; it is kept in the directory's MANIFEST with the
// venue's identity (a random ID, also in every shard file's header, and the
// SoupBinTCP session name derived from it), the list of shard files and how
// many records each held when the manifest was last written (at every start
// and clean stop).
//
// At start-up the configuration is compared with the manifest. Allowed, as
// they cannot change the replay of anything journaled (and the manifest is
// then updated): a user or an instrument added at the end; a price band
// widened; an instrument's max_qty or a pool raised. Anything else — a name
// changed, an entry removed or moved, a band narrowed, a maximum or pool
// lowered, another shard count — refuses the start, each change named.
// (Raising a pool can change the replay of an order that was refused for lack
// of room; if that answer was delivered, recovery finds the difference
// against the outbound store and refuses.)
//
// MANIFEST is text, one item a line, ending with a CRC-32C of everything
// before that line; it is replaced atomically (written aside, fsync'd,
// renamed).
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/crc32c.hpp"
#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

struct VenueDescription {
    unsigned shards = 1;
    std::uint64_t pool_orders = 0, pool_levels = 0;
    std::vector<InstrumentConfig> instruments;  // symbol, price band, max_qty, in configuration order
    std::vector<std::string> users;             // names, in configuration order

    static VenueDescription of(const Config& c) {
        VenueDescription d;
        d.shards = c.shards;
        d.pool_orders = c.pool_orders;
        d.pool_levels = c.pool_levels;
        d.instruments = c.instruments;
        for (const auto& u : c.users) d.users.push_back(u.name);
        return d;
    }
};

struct Manifest {
    std::uint64_t venue = 0;  // random; in every shard file's header
    std::string session;      // the SoupBinTCP session name (10 characters)
    std::uint64_t created_ns = 0;
    VenueDescription description;
    std::vector<std::uint64_t> journal_records;  // per shard, when the manifest was written
    std::uint64_t outbound_records = 0;          // likewise, the outbound store's records
};

constexpr const char* kManifestName = "MANIFEST";
constexpr const char* kManifestHead = "nexus-manifest 1";

// A new venue's identity: a random ID, and the session name made from it
// (ten base-36 characters).
void new_identity(Manifest& m, std::uint64_t now_ns);

std::string format_price(std::uint32_t p);

std::string manifest_text(const Manifest& m);

Manifest parse_manifest(const std::string& text, const std::string& path);

inline std::string manifest_path(const std::string& dir) { return dir + "/" + kManifestName; }

Manifest read_manifest(const std::string& dir);

// Replaces the manifest atomically.
void write_manifest(const std::string& dir, const Manifest& m);

struct VenueChange {
    bool safe = false;
    std::string what;
};

// What differs between the venue a journal was written for and the one the
// configuration describes, each change marked safe or not (see above).
std::vector<VenueChange> compare_venues(const VenueDescription& was, const VenueDescription& now);

}  // namespace nexus::engine

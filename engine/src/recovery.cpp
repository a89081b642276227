// engine/src/recovery.cpp — start-up recovery of a journal directory (the
// steps are listed in recovery.hpp).
#include "nexus/engine/recovery.hpp"

#include <dirent.h>

#include <spdlog/spdlog.h>
#include <cstdio>
#include <ctime>

#include "nexus/engine/event_codec.hpp"

namespace nexus::engine {

namespace {

// A short description of a Sequenced Data packet, for messages.
std::string describe_packet(std::span<const std::uint8_t> packet) {
    if (packet.size() < 4 || packet[2] != wire::kSequenced) return "a packet that is not Sequenced Data";
    const wire::Outbound o = wire::decode_outbound(packet.subspan(3));
    const char* name = o.type == wire::kAccepted    ? "Accepted"
                       : o.type == wire::kReplaced  ? "Replaced"
                       : o.type == wire::kCancelled ? "Cancelled"
                       : o.type == wire::kExecuted  ? "Executed"
                       : o.type == wire::kRejected  ? "Rejected"
                                                    : nullptr;
    if (!name) return "an undecodable message";
    std::string s = std::string(name) + " token " + std::to_string(o.token) + " qty " + std::to_string(o.qty);
    if (o.type == wire::kRejected) s += std::string(" reason ") + o.reason;
    return s;
}

class Recovery {
public:
    // `itch`, if set, receives the replayed market data (the server has
    // written the file's header already).
    Recovery(const Config& cfg, StartMode mode, std::vector<ShardCore*> cores, Router& router, OutboundStore& store,
             std::function<void(std::span<const std::uint8_t>)> itch)
        : cfg_(cfg),
          mode_(mode),
          dir_(cfg.journal_dir),
          cores_(std::move(cores)),
          encoder_(cfg),
          router_(router),
          store_(store),
          itch_(std::move(itch)) {}

    // The caller holds the directory's lock (exclusive to serve, shared to
    // inspect) and, to serve, has created the directory.
    Recovered run() {
        Recovered out;
        if (mode_ == StartMode::Serve) {
            std::error_code ec;
            std::filesystem::remove(manifest_path(dir_) + ".tmp", ec);
        } else if (!std::filesystem::is_directory(dir_)) {
            spdlog::info("{}: no journal directory: nothing to recover", dir_);
            return out;
        }
        if (::access(manifest_path(dir_).c_str(), F_OK) != 0) {
            without_manifest();
            if (mode_ == StartMode::Serve)
                create_venue(out);
            else
                spdlog::info("{}: no journal yet: nothing to recover", dir_);
            return out;
        }
        out.manifest = read_manifest(dir_);
        check_venue(out.manifest);
        replay(out);
        return out;
    }

private:
    // ---- a directory without a manifest ------------------------------------

    void without_manifest() {
        std::vector<std::string> found;
        if (DIR* d = ::opendir(dir_.c_str())) {
            while (const dirent* e = ::readdir(d)) {
                const std::string n = e->d_name;
                if ((n.rfind("journal-", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".nxj") ||
                    n == "outbound.nxo")
                    found.push_back(dir_ + "/" + n);
            }
            ::closedir(d);
        }
        bool only_empty = true;
        for (const auto& path : found) {
            PosixFile f(path, O_RDONLY);
            std::uint8_t head[64] = {};
            const std::size_t n = f.read_some(head, sizeof head);
            const std::string v = journal_format::version_of(head, n);
            if (!v.empty() && v != "02")
                throw JournalError(
                    path + ": journal format " + v +
                    (v == "01" ? " (written by an engine before record numbers and the venue manifest)" : "") +
                    "; this engine reads format 02 only. Finish that journal with the engine that wrote it, or "
                    "move the directory aside to start a new one");
            // (A mapped writer's zero room after the header is still empty.)
            if (const std::uint64_t size = f.size(); size > 64 && find_nonzero(f, 64, size).first != size)
                only_empty = false;
        }
        if (found.empty()) return;
        if (!only_empty)
            throw JournalError(dir_ + ": journal files (" + found.front() + ", ...) but no " + kManifestName +
                               ": the manifest was removed; refusing to guess what venue they were written for");
        // Files of a creation interrupted before its manifest: headers only, nothing journaled.
        if (mode_ == StartMode::Serve) {
            spdlog::warn("{}: removing {} empty files of a journal creation that did not finish", dir_, found.size());
            for (const auto& path : found) std::filesystem::remove(path);
        }
    }

    // Store, then journals, then the manifest that makes them a venue.
    void create_venue(Recovered& out) {
        Manifest& m = out.manifest;
        new_identity(m, now_ns());
        m.description = VenueDescription::of(cfg_);
        m.journal_records.assign(cfg_.shards, 0);
        store_.create(outbound_path(dir_), m.venue, m.created_ns, cfg_.journal_mode, cfg_.sync);
        for (unsigned i = 0; i < cfg_.shards; ++i)
            out.journals.push_back(JournalWriter::create(journal_path(dir_, i),
                                                         journal_format::Header{m.venue, i, cfg_.shards, m.created_ns},
                                                         cfg_.journal_mode, cfg_.sync));
        sync_directory(dir_);
        write_manifest(dir_, m);
        spdlog::info("{}: new journal for venue {:016x} (session {})", dir_, m.venue, m.session);
    }

    // ---- the configuration against the manifest ----------------------------

    void check_venue(Manifest& m) {
        const VenueDescription now = VenueDescription::of(cfg_);
        const std::vector<VenueChange> changes = compare_venues(m.description, now);
        std::string refused;
        for (const VenueChange& c : changes)
            if (!c.safe) refused += "\n  " + c.what;
        if (!refused.empty())
            throw JournalError(
                cfg_.path + ": the configuration does not match the journal in " + dir_ + " (" + manifest_path(dir_) +
                "):" + refused +
                "\nUsers and instruments may only be added at the end, bands widened, maxima and pools raised; "
                "undo the other changes, or start a new journal directory");
        for (const VenueChange& c : changes) spdlog::info("{}: configuration change accepted: {}", cfg_.path, c.what);
        m.description = now;
    }

    // ---- replay -------------------------------------------------------------

    // One shard's journal, applied on demand: next_event() gives the shard's
    // answers in the order it produced them.
    struct ShardReplay {
        unsigned index = 0;
        std::unique_ptr<JournalReader> reader;
        ShardCore* core = nullptr;
        CoreOut out;
        std::size_t read_at = 0;          // into out.events
        std::vector<std::uint8_t> bytes;  // the event at read_at, encoded
    };

    bool next_event(ShardReplay& s, std::uint32_t& user, std::span<const std::uint8_t>& packet) {
        while (s.read_at >= s.out.events.size()) {
            s.out.events.clear();
            s.read_at = 0;
            Command c;
            if (!s.reader->next(c)) return false;
            if (c.user >= cfg_.users.size() || c.instrument == 0 || c.instrument > cfg_.instruments.size() ||
                (c.instrument - 1u) % cfg_.shards != s.index)
                throw JournalError(s.reader->path() + ": offset " +
                                   std::to_string(s.reader->good_bytes() - journal_format::kRecordSize) + ": record " +
                                   std::to_string(s.reader->records()) + " names user " + std::to_string(c.user + 1) +
                                   " and instrument " + std::to_string(c.instrument) +
                                   ", which this shard of the configuration does not have");
            router_.restore(c);
            s.core->apply(c, s.out);
            ++commands_;
            if (itch_ && !s.out.itch.bytes().empty()) itch_(s.out.itch.bytes());
            s.out.itch.clear_bytes();
        }
        const Event& e = s.out.events[s.read_at++];
        s.bytes.clear();
        encoder_.encode(e, s.bytes);
        user = e.user;
        packet = std::span<const std::uint8_t>(s.bytes).subspan(4);
        return true;
    }

    void replay(Recovered& out) {
        const Manifest& m = out.manifest;
        std::vector<ShardReplay> shards(m.description.shards);
        for (unsigned i = 0; i < shards.size(); ++i) {
            const std::string path = journal_path(dir_, i);
            if (::access(path.c_str(), F_OK) != 0)
                throw JournalError(path + ": missing: " + manifest_path(dir_) + " lists it as shard " +
                                   std::to_string(i) + " of " + std::to_string(shards.size()));
            shards[i].index = i;
            shards[i].core = cores_[i];
            shards[i].reader = std::make_unique<JournalReader>(path);
            const auto& h = shards[i].reader->header();
            if (h.venue != m.venue)
                throw JournalError(path + ": belongs to another venue (" + hex(h.venue) + "; this directory's is " +
                                   hex(m.venue) + "): a shard file from another journal");
            if (h.shard != i || h.shards != m.description.shards)
                throw JournalError(path + ": written as shard " + std::to_string(h.shard) + " of " +
                                   std::to_string(h.shards) + ", found as shard " + std::to_string(i) + " of " +
                                   std::to_string(m.description.shards));
        }
        for (unsigned i = m.description.shards; i < 64; ++i)
            if (::access(journal_path(dir_, i).c_str(), F_OK) == 0)
                throw JournalError(journal_path(dir_, i) + ": not in " + manifest_path(dir_) + " (" +
                                   std::to_string(m.description.shards) + " shards): a file from elsewhere");

        // The store, in order, against the journals.
        const std::string store_path = outbound_path(dir_);
        if (::access(store_path.c_str(), F_OK) != 0)
            throw JournalError(store_path + ": missing: every journal directory has its outbound store");
        OutboundScanner scan(store_path);
        if (scan.venue() != m.venue)
            throw JournalError(store_path + ": belongs to another venue (" + hex(scan.venue()) +
                               "; this directory's is " + hex(m.venue) + ")");
        outbound_format::Record r;
        while (scan.next(r)) {
            auto where = [&] {
                return store_path + ": offset " + std::to_string(r.offset) + " (record " + std::to_string(r.number) +
                       ", message " + std::to_string(r.seq) + " of user " + user_name(r.user) + "): ";
            };
            if (const std::string bad = store_.index(r); !bad.empty()) throw JournalError(where() + bad);
            if (r.source == outbound_format::kFromValidation) {
                if (r.packet.size() < 4 || r.packet[2] != wire::kSequenced || r.packet[3] != wire::kRejected)
                    throw JournalError(where() + "a validation answer that is not a Rejected message");
                continue;
            }
            if (r.source >= shards.size())
                throw JournalError(where() + "from shard " + std::to_string(r.source) + ", which does not exist");
            ShardReplay& s = shards[r.source];
            std::uint32_t user = 0;
            std::span<const std::uint8_t> packet;
            if (!next_event(s, user, packet))
                throw JournalError(where() + "was sent (" + describe_packet(r.packet) + "), but " + s.reader->path() +
                                   " (" + std::to_string(s.reader->records()) +
                                   " records) produces no more answers: records were cut from the end of the journal, "
                                   "or it was replaced");
            if (user != r.user || !std::ranges::equal(packet, r.packet))
                throw JournalError(
                    where() + "was sent as " + describe_packet(r.packet) + " to user " + user_name(r.user) + ", but " +
                    s.reader->path() + " replays to " + describe_packet(packet) + " to user " + user_name(user) +
                    ": the journal, or something it depends on (configuration, pools), is not what produced it");
        }
        out.stored = scan.records();
        if (scan.records() < m.outbound_records)
            throw JournalError(store_path + ": " + std::to_string(scan.records()) + " records, the manifest counted " +
                               std::to_string(m.outbound_records) +
                               ": records were cut from its end, or it was replaced");
        // What the journals hold beyond the store (journaled, never sent):
        // kept in memory now (user, source, packet), appended to the store
        // once every check has passed — a mapped store is written the moment
        // it is appended to, and a refused start changes no file.
        std::vector<std::uint8_t> unsent;
        for (auto& s : shards) {
            std::uint32_t user = 0;
            std::span<const std::uint8_t> packet;
            while (next_event(s, user, packet)) {
                ++out.unsent;
                if (mode_ != StartMode::Serve) continue;
                const std::size_t at = unsent.size();
                unsent.resize(at + 5);
                std::memcpy(unsent.data() + at, &user, 4);
                unsent[at + 4] = static_cast<std::uint8_t>(s.index);
                unsent.insert(unsent.end(), packet.begin(), packet.end());
            }
        }
        for (auto& s : shards)
            if (s.reader->records() < m.journal_records[s.index])
                throw JournalError(s.reader->path() + ": " + std::to_string(s.reader->records()) +
                                   " records, the manifest counted " + std::to_string(m.journal_records[s.index]) +
                                   ": records were cut from its end, or it was replaced");

        // Repairs (Serve only): torn and zero tails cut (opening a file for
        // appending cuts it after its last good record), the unsent answers
        // written.
        report_tail(store_path, scan.torn_bytes(), scan.zero_bytes());
        if (mode_ == StartMode::Serve) {
            store_.open_existing(store_path, scan.good_bytes(), cfg_.journal_mode, cfg_.sync);
            for (std::size_t at = 0; at < unsent.size();) {
                std::uint32_t user = 0;
                std::memcpy(&user, unsent.data() + at, 4);
                const std::uint8_t source = unsent[at + 4];
                const std::size_t len = 2 + static_cast<std::size_t>(wire::get_be(unsent.data() + at + 5, 2));
                store_.append(user, source, {unsent.data() + at + 5, len});
                at += 5 + len;
            }
            store_.commit();
        }
        if (out.unsent > 0)
            spdlog::info("{}: {} answers journaled but never sent{}", dir_, out.unsent,
                         mode_ == StartMode::Serve ? ": kept for their users' next login"
                                                   : " (they would be kept for their users)");
        for (auto& s : shards) {
            JournalReader& rd = *s.reader;
            report_tail(rd.path(), rd.torn_bytes(), rd.zero_bytes());
            if (rd.records() > 0) spdlog::info("{}: replayed {} commands", rd.path(), rd.records());
            out.manifest.journal_records[s.index] = rd.records();
            if (mode_ == StartMode::Serve)
                out.journals.push_back(JournalWriter::append_to(rd.path(), rd.records(), cfg_.journal_mode, cfg_.sync));
        }
        out.commands = commands_;
        out.manifest.outbound_records = store_.records();
        if (mode_ == StartMode::Serve) write_manifest(dir_, out.manifest);
    }

    // What follows a file's last good record, which a start cuts.
    void report_tail(const std::string& path, std::uint64_t torn, std::uint64_t zero) const {
        const char* action = mode_ == StartMode::Serve ? "cutting" : "found (not cut: --recover-only)";
        if (torn > 0)
            spdlog::warn("{}: {} {} bytes of an incomplete last record (a write the process did not finish)", path,
                         action, torn);
        if (zero > 0)
            spdlog::info(
                "{}: {} {} zero bytes after the last record (room a mapped writer had not used: it did not "
                "stop cleanly)",
                path, action, zero);
    }

    std::string user_name(std::uint32_t user) const {
        if (user < cfg_.users.size()) return cfg_.users[user].name;
        // (not "#" + to_string(...): g++ 12 warns falsely of overlapping copies in that form)
        std::string n = "#";
        n += std::to_string(user + 1);
        return n;
    }
    static std::string hex(std::uint64_t v) {
        char b[17];
        std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
        return b;
    }
    static std::uint64_t now_ns() {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
    }

    const Config& cfg_;
    StartMode mode_;
    std::string dir_;
    std::vector<ShardCore*> cores_;
    EventEncoder encoder_;
    Router& router_;
    OutboundStore& store_;
    std::function<void(std::span<const std::uint8_t>)> itch_;
    std::uint64_t commands_ = 0;
};

}  // namespace

Recovered recover_journals(const Config& cfg, StartMode mode, std::vector<ShardCore*> cores, Router& router,
                           OutboundStore& store, std::function<void(std::span<const std::uint8_t>)> itch) {
    return Recovery(cfg, mode, std::move(cores), router, store, std::move(itch)).run();
}

}  // namespace nexus::engine

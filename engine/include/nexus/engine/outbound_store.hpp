// nexus/engine/outbound_store.hpp — every user's sequenced stream, on disk.
//
// SoupBinTCP promises that each user's Sequenced Data messages of the day can
// be sent again from any number, also after a restart of the server. The
// engine keeps them in one append-only file, `<journal_dir>/outbound.nxo`:
// each message the I/O thread hands to a session (or would, for a user who is
// not logged in) is appended, with its user and its number in that user's
// stream, before it leaves. The file is an AppendFile (append_file.hpp):
// with journal_mode mmap (the default under `sync os`) each record is
// encoded into a shared mapping of the file and the commit before the
// sockets' writes is no system call; with journal_mode write (and under
// `sync fsync`) it is committed once per I/O batch (write(2), plus
// fdatasync(2) under `sync fsync`), in the same loop iteration as the
// sockets.
//
// Why a file and not the journal alone: a user's stream interleaves answers
// from several shards (and validation rejects that are journaled nowhere) in
// the order the I/O thread happened to receive them; only a record of that
// order makes the numbering reproducible. The messages themselves are
// derivable from the shard journals, and recovery checks that they are:
// replaying the journals must produce, shard by shard, exactly the bytes the
// store says were sent (recovery.hpp). Answers the journal produces but the
// store lacks (journaled, not yet sent at a crash) are appended at start-up
// and delivered when their users log in.
//
// Memory: the file is the only full copy. In RAM, per user: the next number,
// the offset of the last record, and the offset of every 256th record
// (8 bytes per 256 messages). Each record carries the offset of the same
// user's previous one, so a replay from message N starts at the checkpoint
// at or after N and walks back at most 256 records; it is served a chunk of
// at most 256 messages at a time, as the client reads (engine/src/session.cpp),
// from the mapping, or through a 64 KiB read cache of the file.
//
// Layout, little-endian. Header, 64 bytes: magic "NXOUTB01", u32 header size
// (64), u32 record head size (32), u64 venue ID, u64 created (ns), zero to
// byte 60, u32 CRC-32C of bytes 0..59. Record:
//   0  4  CRC-32C of bytes 4 .. 32+L-1
//   4  2  L, the packet's length (a whole SoupBinTCP packet, length field included)
//   6  1  source: the shard whose journal produces it, or 255 (a validation reject)
//   7  1  zero
//   8  4  user (index in the configuration)
//  12  4  record number (1, 2, ... modulo 2^32)
//  16  8  the message's number in the user's stream (1, 2, ...)
//  24  8  offset of the user's previous record (0: none)
//  32  L  the packet
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "nexus/engine/append_file.hpp"
#include "nexus/engine/config.hpp"
#include "nexus/engine/crc32c.hpp"
#include "nexus/engine/journal_format.hpp"
#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

namespace outbound_format {
constexpr char kMagic[8] = {'N', 'X', 'O', 'U', 'T', 'B', '0', '1'};
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kRecordHead = 32;
constexpr std::size_t kMaxPacket = 256;  // far above any Sequenced Data packet; a larger length is damage
constexpr std::uint8_t kFromValidation = 255;

void encode_header(std::uint64_t venue, std::uint64_t created_ns, std::uint8_t* out) noexcept;
// Returns what is wrong, or "".
std::string decode_header(const std::uint8_t* p, std::size_t n, std::uint64_t& venue);

struct Record {
    std::uint64_t offset = 0;
    std::uint8_t source = 0;
    std::uint32_t user = 0;
    std::uint32_t number = 0;
    std::uint64_t seq = 0;
    std::uint64_t prev = 0;
    std::span<const std::uint8_t> packet;
};

enum class Status : std::uint8_t { Good, Incomplete, Damaged };

// Reads the record at p (n bytes available from there).
inline Status decode_record(const std::uint8_t* p, std::size_t n, Record& r) noexcept {
    using journal_format::get;
    if (n < kRecordHead) return Status::Incomplete;
    const std::size_t len = get<std::uint16_t>(p + 4);
    if (len < 3 || len > kMaxPacket) return Status::Damaged;
    if (n < kRecordHead + len) return Status::Incomplete;
    if (get<std::uint32_t>(p) != crc32c(p + 4, kRecordHead - 4 + len)) return Status::Damaged;
    r.source = p[6];
    r.user = get<std::uint32_t>(p + 8);
    r.number = get<std::uint32_t>(p + 12);
    r.seq = get<std::uint64_t>(p + 16);
    r.prev = get<std::uint64_t>(p + 24);
    r.packet = {p + kRecordHead, len};
    return Status::Good;
}
}  // namespace outbound_format

inline std::string outbound_path(const std::string& dir) { return dir + "/outbound.nxo"; }

// Reads an outbound store from its start, record by record (recovery).
class OutboundScanner {
public:
    explicit OutboundScanner(const std::string& path);
    [[nodiscard]] std::uint64_t venue() const noexcept { return venue_; }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }

    // The next record (its packet valid until the next call); false at the
    // end, where torn_bytes() says what unfinished record was left and
    // zero_bytes() how many zero bytes follow (the tail rules of
    // append_file.hpp, as for a journal).
    bool next(outbound_format::Record& r);
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] std::uint64_t good_bytes() const noexcept { return good_bytes_; }
    [[nodiscard]] std::uint64_t torn_bytes() const noexcept { return tail_.torn; }
    [[nodiscard]] std::uint64_t zero_bytes() const noexcept { return tail_.zero; }
    // Everything after the good records (what the engine cuts).
    [[nodiscard]] std::uint64_t tail_bytes() const noexcept { return file_size_ - good_bytes_; }

private:
    bool refill();
    PosixFile file_;
    std::uint64_t venue_ = 0, file_size_ = 0, good_bytes_ = 0, records_ = 0;
    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0, end_ = 0;
    Tail tail_;
};

class OutboundStore {
public:
    static constexpr std::uint64_t kCheckpointEvery = 256;

    explicit OutboundStore(std::size_t users) : users_(users) {}

    // A new store file with its header.
    void create(const std::string& path, std::uint64_t venue, std::uint64_t created_ns, JournalMode mode,
                SyncPolicy policy);
    // The scanned file, for appending after its last good record (what
    // follows it, a torn or zero tail, is cut).
    void open_existing(const std::string& path, std::uint64_t good_bytes, JournalMode mode, SyncPolicy policy);
    // Without a file (--recover-only): appends are counted and dropped.
    [[nodiscard]] bool has_file() const noexcept { return file_.is_open(); }

    // Recovery: checks that the scanned record continues its user's stream,
    // and indexes it. Returns what is wrong, or "".
    std::string index(const outbound_format::Record& r);

    // Appends a packet to `user`'s stream; returns its number. It reaches the
    // file at the next commit(), which must come before the packet is sent.
    std::uint64_t append(std::uint32_t user, std::uint8_t source, std::span<const std::uint8_t> packet);
    [[nodiscard]] bool pending() const noexcept { return file_.size() != file_.committed(); }
    // Makes what was appended durable as the policy says (append_file.hpp).
    void commit() { file_.commit(); }
    // Commits and closes the file, cutting a mapped one to its length.
    void close() { file_.close(); }

    // The number the user's next message will get.
    [[nodiscard]] std::uint64_t next_seq(std::uint32_t user) const noexcept { return users_[user].next; }
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }

    // Appends to `out` the packets of `user` from number `from` to the end of
    // the 256-message chunk that holds it (or to the stream's end); returns
    // the number after the last one appended. Throws JournalError if the
    // file does not hold what the index says (damage while running).
    std::uint64_t read_chunk(std::uint32_t user, std::uint64_t from, std::vector<std::uint8_t>& out);

private:
    struct UserIndex {
        std::uint64_t next = 1;                  // the next message's number
        std::uint64_t last = 0;                  // offset of the last record (0: none yet)
        std::vector<std::uint64_t> checkpoints;  // [k]: offset of message (k + 1) * 256
    };
    static void note(UserIndex& u, std::uint64_t offset) {
        if (u.next % kCheckpointEvery == 0) u.checkpoints.push_back(offset);
        u.last = offset;
        ++u.next;
    }
    // The record at `offset`: from memory (the mapping, or appends not yet
    // written), or from the file through the read cache.
    void read_at(std::uint64_t offset, outbound_format::Record& r);
    outbound_format::Status from_cache(std::uint64_t offset, outbound_format::Record& r) const noexcept {
        if (offset < cache_at_ || offset >= cache_at_ + cache_len_) return outbound_format::Status::Incomplete;
        const std::size_t at = offset - cache_at_;
        return outbound_format::decode_record(cache_.data() + at, cache_len_ - at, r);
    }

    AppendFile file_;
    std::vector<UserIndex> users_;
    std::uint64_t records_ = 0;
    std::vector<std::uint8_t> cache_;  // file bytes [cache_at_, cache_at_ + cache_len_)
    std::uint64_t cache_at_ = 0;
    std::size_t cache_len_ = 0;
    std::vector<std::pair<std::size_t, std::size_t>> walk_;  // read_chunk's packets, last first
    std::vector<std::uint8_t> scratch_;
};

}  // namespace nexus::engine

// nexus/engine/journal.hpp — the append-only command journal of one shard.
//
// File: a 16-byte header ("NXJRNL01", shard count, shard index, both u32
// little-endian), then 64-byte records, each a Command with a CRC-32C
// (Castagnoli; SSE4.2 instruction where present) of its other 60 bytes in
// its first four. Records are appended in the order the
// shard applied them; replaying them into an empty shard rebuilds its books
// exactly (matching is deterministic and every input, including the
// timestamp and the assigned order IDs, is in the record).
//
// Commit: a batch of records goes out in one write(2) before any of the
// batch's acknowledgements leave. SyncPolicy::Os stops there (the data is in
// the kernel and survives the process); SyncPolicy::Fsync adds fdatasync(2)
// (survives a power loss). Commands that arrive while a commit is in
// progress form the next batch: group commit without a timer.
//
// Reading back: a damaged or short record at the end (a torn final write) is
// cut off with a warning; a damaged record followed by good ones is
// corruption and an error that names the byte offset.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nmmintrin.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "nexus/engine/config.hpp"

namespace nexus::engine {

// One accepted inbound command, as routed to a shard and as journaled.
struct Command {
    std::uint32_t crc = 0;      // journal only
    char kind = 0;              // 'O' enter, 'U' replace, 'X' cancel
    char side = 'B';            // enter: 'B' / 'S'
    char tif = 'D';             // enter: 'D' / 'I' / 'F'
    char type = 'L';            // enter: 'L' / 'M'
    char post_only = 'N';       // enter: 'Y' / 'N'
    char stp = 'N';             // enter: 'N' / 'O' / 'B'
    std::uint16_t instrument = 0;  // 1-based (the ITCH stock locate)
    std::uint32_t user = 0;        // index in the configuration
    std::uint32_t qty = 0;
    std::uint32_t price = 0;
    std::uint64_t ts = 0;           // nanoseconds since the epoch, set by the shard
    std::uint64_t token = 0;        // enter: the token; replace, cancel: the live order's token
    std::uint64_t new_token = 0;    // replace: the replacement's token
    std::uint64_t order_id = 0;     // enter: the new order's ID; replace, cancel: the live order's ID
    std::uint64_t new_order_id = 0; // replace: the replacement's ID
};
static_assert(sizeof(Command) == 64, "a journal record is 64 bytes");

class JournalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

constexpr char kJournalMagic[8] = {'N', 'X', 'J', 'R', 'N', 'L', '0', '1'};
constexpr std::size_t kJournalHeader = 16;

namespace detail {
// CRC-32C of the 60 bytes after the checksum field.
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_hw(const std::uint8_t* p) noexcept {
    std::uint64_t c = 0xFFFF'FFFFu;
    for (int i = 0; i < 7; ++i, p += 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    std::uint32_t t;
    std::memcpy(&t, p, 4);
    return ~_mm_crc32_u32(static_cast<std::uint32_t>(c), t);
}
inline std::uint32_t crc32c_sw(const std::uint8_t* p) noexcept {
    std::uint32_t c = 0xFFFF'FFFFu;
    for (int i = 0; i < 60; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F6'3B78u & (0u - (c & 1u)));
    }
    return ~c;
}
}  // namespace detail

inline std::uint32_t record_crc(const Command& c) noexcept {
    static const bool hw = __builtin_cpu_supports("sse4.2");
    const auto* p = reinterpret_cast<const std::uint8_t*>(&c) + 4;
    return hw ? detail::crc32c_hw(p) : detail::crc32c_sw(p);
}

inline std::string journal_path(const std::string& dir, unsigned shard) {
    return dir + "/journal-" + std::to_string(shard) + ".nxj";
}

class JournalWriter {
public:
    // Opens (creating if needed) the journal; its header must match.
    JournalWriter(const std::string& path, unsigned shards, unsigned shard, SyncPolicy policy)
        : path_(path), policy_(policy) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) throw JournalError(path + ": cannot open for append: " + std::strerror(errno));
        struct stat st {};
        ::fstat(fd_, &st);
        if (st.st_size == 0) {
            std::uint8_t h[kJournalHeader];
            std::memcpy(h, kJournalMagic, 8);
            std::memcpy(h + 8, &shards, 4);
            std::memcpy(h + 12, &shard, 4);
            write_all(h, sizeof h);
            sync();
        }
        buf_.reserve(1 << 16);
    }
    JournalWriter(const JournalWriter&) = delete;
    JournalWriter& operator=(const JournalWriter&) = delete;
    ~JournalWriter() {
        if (fd_ >= 0) ::close(fd_);
    }

    void append(Command c) {
        c.crc = record_crc(c);
        const std::size_t at = buf_.size();
        buf_.resize(at + sizeof c);
        std::memcpy(buf_.data() + at, &c, sizeof c);
    }
    [[nodiscard]] std::size_t pending() const noexcept { return buf_.size() / sizeof(Command); }

    // Writes the pending records (and fsyncs under SyncPolicy::Fsync).
    void commit() {
        if (buf_.empty()) return;
        write_all(buf_.data(), buf_.size());
        if (policy_ == SyncPolicy::Fsync) sync();
        bytes_ += buf_.size();
        ++commits_;
        buf_.clear();
    }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::uint64_t commits() const noexcept { return commits_; }

private:
    void write_all(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                throw JournalError(path_ + ": write failed: " + std::strerror(errno));
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    void sync() {
        if (::fdatasync(fd_) != 0) throw JournalError(path_ + ": fdatasync failed: " + std::strerror(errno));
    }

    std::string path_;
    SyncPolicy policy_;
    int fd_ = -1;
    std::vector<std::uint8_t> buf_;
    std::uint64_t bytes_ = 0;
    std::uint64_t commits_ = 0;
};

struct JournalContents {
    std::vector<Command> records;
    std::uint64_t cut_bytes = 0;  // bytes of a torn tail that were removed (or would be)
};

// Reads a journal. A missing file is an empty journal. `repair` truncates a
// torn tail in the file itself (the engine does, before appending again).
inline JournalContents read_journal(const std::string& path, unsigned shards, unsigned shard, bool repair) {
    JournalContents out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return out;
        throw JournalError(path + ": cannot open: " + std::strerror(errno));
    }
    std::vector<std::uint8_t> data;
    std::uint8_t chunk[1 << 16];
    for (;;) {
        const ssize_t r = ::read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ::close(fd);
            throw JournalError(path + ": read failed: " + std::strerror(errno));
        }
        if (r == 0) break;
        data.insert(data.end(), chunk, chunk + r);
    }
    ::close(fd);
    if (data.empty()) return out;
    if (data.size() < kJournalHeader || std::memcmp(data.data(), kJournalMagic, 8) != 0)
        throw JournalError(path + ": offset 0: not a nexus journal (bad magic)");
    std::uint32_t file_shards, file_shard;
    std::memcpy(&file_shards, data.data() + 8, 4);
    std::memcpy(&file_shard, data.data() + 12, 4);
    if (file_shards != shards || file_shard != shard)
        throw JournalError(path + ": offset 8: written by shard " + std::to_string(file_shard) + " of " +
                           std::to_string(file_shards) + ", expected shard " + std::to_string(shard) + " of " +
                           std::to_string(shards) + " (the shard count must not change while a journal exists)");
    auto good_at = [&](std::size_t off) {
        if (off + sizeof(Command) > data.size()) return false;
        Command c;
        std::memcpy(&c, data.data() + off, sizeof c);
        return record_crc(c) == c.crc;
    };
    std::size_t off = kJournalHeader;
    for (; off < data.size(); off += sizeof(Command)) {
        if (!good_at(off)) {
            // Torn tail, or corruption? Any good record after this one means corruption.
            for (std::size_t later = off + sizeof(Command); later + sizeof(Command) <= data.size(); later += sizeof(Command))
                if (good_at(later))
                    throw JournalError(path + ": offset " + std::to_string(off) + ": damaged record (checksum mismatch) followed by good records");
            out.cut_bytes = data.size() - off;
            break;
        }
        Command c;
        std::memcpy(&c, data.data() + off, sizeof c);
        out.records.push_back(c);
    }
    if (out.cut_bytes && repair) {
        if (::truncate(path.c_str(), static_cast<off_t>(off)) != 0)
            throw JournalError(path + ": cannot cut the torn tail: " + std::strerror(errno));
    }
    return out;
}

}  // namespace nexus::engine

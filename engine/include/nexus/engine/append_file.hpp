// nexus/engine/append_file.hpp — an append-only file of the journal
// directory (a shard's journal, the outbound store), written in one of two
// ways (JournalMode, config.hpp):
//
//  * Mapped: the file is grown ahead of the data in large steps (fallocate(2),
//    then the mapping extended with mremap(2)); records are encoded straight
//    into the shared mapping, and a commit under `sync os` makes no system
//    call at all. What is in a MAP_SHARED mapping is in the page cache, so it
//    survives a crash of the process exactly as a completed write(2) does.
//    Growth is the only system call: doubling from 1 MiB, then 64 MiB at a
//    time, plus one madvise(MADV_POPULATE_WRITE) per 64 KiB written, which
//    prefaults the next pages in one go instead of a page fault per page. fallocate, not ftruncate, so that a full disk
//    is an error at growth (a JournalError naming the file) and not a SIGBUS in the middle of a record. A clean close
//    cuts the file to its true length; a crash leaves the preallocated tail, all zero bytes, after the last record.
//  * Write: appends gather in a heap buffer and commit() writes them in one
//    write(2), then fdatasync(2) under `sync fsync` (group commit: what was
//    appended while the previous commit ran goes in the next one).
//
// Mapped is for `sync os` only. Under `sync fsync` the kernel may write the
// mapping's dirty pages back in any order before the next fdatasync; after a
// power loss a later page could be on disk while an earlier one is not, which
// reads as data after a gap of zeros — damage (below), not a torn tail.
//
// The reserve() / appended() pair is the same inline code in both modes: the
// bytes between base_offset_ and limit_ of the file are in memory at base_.
//
// What a crashed writer leaves, and how readers tell it from damage
// (classify_tail below): after the last whole good record, either nothing,
// or zero bytes to the end of the file (a mapped writer's unused room), or
// one record the writer was in the middle of, then zero bytes to the end
// (a mapped writer always keeps at least one zero byte after its data, so a
// torn record is never the file's last byte), or, from the write(2) path, an
// incomplete last record. Anything else — a complete record with a bad
// checksum that is the last thing in the file, or data after a gap of zeros
// — is damage: a single writer filling a file in order cannot leave it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "nexus/engine/config.hpp"
#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

class AppendFile {
public:
    AppendFile() = default;
    // A new file (it must not exist) holding `head`, synced, as are the
    // directory entries by the caller (sync_directory).
    static AppendFile create(const std::string& path, std::span<const std::uint8_t> head, JournalMode mode,
                             SyncPolicy policy);
    // An existing file whose first `size` bytes are its good records;
    // anything after them (a torn tail, a mapped writer's zero tail) is cut
    // before the first append.
    static AppendFile open(const std::string& path, std::uint64_t size, JournalMode mode, SyncPolicy policy);

    AppendFile(AppendFile&& o) noexcept { *this = std::move(o); }
    AppendFile& operator=(AppendFile&& o) noexcept;
    AppendFile(const AppendFile&) = delete;
    AppendFile& operator=(const AppendFile&) = delete;
    ~AppendFile() { close_quietly(); }

    [[nodiscard]] bool is_open() const noexcept { return file_.is_open(); }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }
    [[nodiscard]] JournalMode mode() const noexcept { return mode_; }

    // Where the next n bytes go: write them there, then call appended(n).
    // Valid until the next reserve() or commit().
    std::uint8_t* reserve(std::size_t n) {
        // Strictly less: a mapped file keeps a zero byte after its data.
        if (end_ + n < limit_) [[likely]]
            return base_ + (end_ - base_offset_);
        return make_room(n);
    }
    void appended(std::size_t n) noexcept { end_ += n; }

    // Makes what was appended as durable as the policy says: Write mode
    // writes it (and fdatasyncs under `sync fsync`); Mapped does nothing
    // under `sync os` (it is in the page cache already).
    void commit();

    // The file's length once everything appended is committed.
    [[nodiscard]] std::uint64_t size() const noexcept { return end_; }
    [[nodiscard]] std::uint64_t committed() const noexcept { return committed_; }

    // The bytes from `offset` to size() if they are in memory (the mapping,
    // or the appends not yet written), else an empty span: read the file.
    [[nodiscard]] std::span<const std::uint8_t> in_memory(std::uint64_t offset) const noexcept {
        if (base_ == nullptr || offset < base_offset_ || offset >= end_) return {};
        return {base_ + (offset - base_offset_), static_cast<std::size_t>(end_ - offset)};
    }
    // Reads committed bytes at `offset` from the file.
    std::size_t pread_some(void* data, std::size_t n, std::uint64_t offset) const {
        return file_.pread_some(data, n, offset);
    }

    // Commits, unmaps and cuts a mapped file to its true length; closes.
    void close();

private:
    [[gnu::noinline]] std::uint8_t* make_room(std::size_t n);
    void close_quietly() noexcept;
    void unmap() noexcept;

    PosixFile file_;
    JournalMode mode_ = JournalMode::Write;
    SyncPolicy policy_ = SyncPolicy::Os;
    std::uint8_t* base_ = nullptr;            // file offset base_offset_ is at base_[0]
    std::uint64_t base_offset_ = 0;           // Mapped: 0; Write: committed_
    std::uint64_t limit_ = 0;                 // end of the memory at base_, as a file offset
    std::uint64_t end_ = 0;                   // end of the data appended
    std::uint64_t committed_ = 0;             // end of the data committed
    std::uint64_t file_length_ = 0;           // Mapped: the file's length on disk (data + zero room)
    std::size_t map_length_ = 0;              // Mapped: bytes mapped at base_
    std::uint64_t prefaulted_ = 0;            // Mapped: the pages before this offset are prefaulted for writing
    bool prefault_ = true;                    // Mapped: false once the kernel refused MADV_POPULATE_WRITE
    bool commit_failed_ = false;              // a commit threw: close() must not write its bytes again
    std::unique_ptr<std::uint8_t[]> buffer_;  // Write: the pending appends
    std::size_t capacity_ = 0;                // Write: bytes at buffer_
};

// ---- reading: what follows the last good record -------------------------------

// The first and the last non-zero byte in [from, size) of a file; both equal
// `size` if there is none.
struct NonZeroSpan {
    std::uint64_t first = 0, last = 0;
};
NonZeroSpan find_nonzero(const PosixFile& f, std::uint64_t from, std::uint64_t size);

// The end of a file after its last good record at `at`.
struct Tail {
    enum class Kind : std::uint8_t {
        End,     // nothing follows, or only zero bytes (a mapped writer's room)
        Torn,    // one record the writer did not finish, then zero bytes if any
        Damage,  // anything else
    };
    Kind kind = Kind::End;
    std::uint64_t torn = 0;        // Torn: the bytes of the unfinished record that were written
    std::uint64_t zero = 0;        // End, Torn: zero bytes after them
    std::uint64_t data_after = 0;  // Damage: where the first non-zero byte after a gap of zeros is (0: no gap)
};

// Classifies the bytes [at, size) of `f`, where a record starts at `at` that
// is not good and is complete in the file (it ends at `extent` <= size) or
// may run up to `extent`. A record that reaches the end of the file
// exactly is damage; one followed by zero bytes only is torn.
Tail classify_tail(const PosixFile& f, std::uint64_t at, std::uint64_t extent, std::uint64_t size);
// The bytes [at, size) hold less than a whole record: a torn write(2), or
// zero bytes.
Tail short_tail(const PosixFile& f, std::uint64_t at, std::uint64_t size);

}  // namespace nexus::engine

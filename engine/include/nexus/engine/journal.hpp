// nexus/engine/journal.hpp — writing and reading one shard's command
// journal (layout: journal_format.hpp).
//
// Commit: a batch of records goes out in one write(2) before any of the
// batch's answers leave. SyncPolicy::Os stops there (the data is in the
// kernel and survives the process); SyncPolicy::Fsync adds fdatasync(2)
// (survives a power loss). Commands that arrive while a commit is in
// progress form the next batch: group commit without a timer.
//
// Reading back, record by record (a day's journal is never held in memory):
//  * an incomplete last record is a torn tail, a write(2) the process did not
//    finish: reported (torn_bytes()); the engine cuts it before appending;
//  * a complete record whose checksum fails is damage, wherever it is, and an
//    error naming the offset: a crash does not produce it (what a process
//    wrote is whole up to where it stopped);
//  * a record whose number is not the next one is an error too: records
//    removed at a record boundary, repeated, or moved.
// A cut at a record boundary at the very end leaves no trace in the file
// itself; the manifest's record counts and the outbound store (whose answers
// must all be reproduced by the journal) find it (recovery.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nexus/engine/command.hpp"
#include "nexus/engine/config.hpp"
#include "nexus/engine/journal_format.hpp"
#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

inline std::string journal_file_name(unsigned shard) { return "journal-" + std::to_string(shard) + ".nxj"; }
inline std::string journal_path(const std::string& dir, unsigned shard) { return dir + "/" + journal_file_name(shard); }

class JournalWriter {
public:
    // Creates a new journal file with its header (the file must not exist).
    static JournalWriter create(const std::string& path, const journal_format::Header& h, SyncPolicy policy);
    // Opens a journal that holds `records` good records and nothing after
    // them (the reader checked it and the torn tail, if any, was cut).
    static JournalWriter append_to(const std::string& path, std::uint64_t records, SyncPolicy policy) {
        return JournalWriter(PosixFile(path, O_WRONLY | O_APPEND), policy, records);
    }

    JournalWriter(JournalWriter&&) noexcept = default;
    JournalWriter& operator=(JournalWriter&&) noexcept = default;

    // Encodes the record in place: the buffer is raw bytes, grown only when
    // full (a std::vector's resize would zero every record before it is
    // written).
    void append(const Command& c) {
        if (size_ + journal_format::kRecordSize > capacity_) [[unlikely]]
            grow();
        journal_format::encode_record(c, static_cast<std::uint32_t>(++records_), buf_.get() + size_);
        size_ += journal_format::kRecordSize;
    }
    [[nodiscard]] std::size_t pending() const noexcept { return size_ / journal_format::kRecordSize; }

    // Writes the pending records (and fdatasyncs under SyncPolicy::Fsync).
    void commit();
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::uint64_t commits() const noexcept { return commits_; }
    // Records in the file once the pending ones are committed.
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    // Records in the file now.
    [[nodiscard]] std::uint64_t committed_records() const noexcept { return committed_; }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }

private:
    JournalWriter(PosixFile f, SyncPolicy policy, std::uint64_t records)
        : file_(std::move(f)), policy_(policy), records_(records), committed_(records) {}
    [[gnu::noinline]] void grow();

    PosixFile file_;
    SyncPolicy policy_;
    std::uint64_t records_ = 0, committed_ = 0;
    std::unique_ptr<std::uint8_t[]> buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(1 << 16);
    std::size_t size_ = 0, capacity_ = 1 << 16;
    std::uint64_t bytes_ = 0;
    std::uint64_t commits_ = 0;
};

class JournalReader {
public:
    // Opens the file and checks its header; throws JournalError naming the
    // file (and the offset) if it is not a format-02 journal.
    explicit JournalReader(const std::string& path);

    [[nodiscard]] const journal_format::Header& header() const noexcept { return header_; }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }

    // The next record; false at the end of the file (see torn_bytes()).
    bool next(Command& c);
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    // The bytes of the header and the good records read so far.
    [[nodiscard]] std::uint64_t good_bytes() const noexcept {
        return journal_format::kHeaderSize + records_ * journal_format::kRecordSize;
    }
    // After next() returned false: the bytes of an incomplete last record.
    [[nodiscard]] std::uint64_t torn_bytes() const noexcept { return file_size_ - good_bytes(); }

private:
    // Moves the unread bytes to the front and reads more; false if less than
    // a record is left in the file.
    bool refill();

    PosixFile file_;
    journal_format::Header header_;
    std::uint64_t file_size_ = 0;
    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0, end_ = 0;
    std::uint64_t records_ = 0;
};

}  // namespace nexus::engine

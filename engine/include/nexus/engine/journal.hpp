// nexus/engine/journal.hpp — writing and reading one shard's command
// journal (layout: journal_format.hpp).
//
// Commit: a batch of records reaches the OS before any of the batch's
// answers leave (append_file.hpp). With journal_mode mmap (the default under
// `sync os`) each record is encoded straight into a shared mapping of the
// file, and the commit is no system call; with journal_mode write the batch
// goes out in one write(2). Either way the data is in the kernel and survives
// the process. SyncPolicy::Fsync writes and adds fdatasync(2) (survives a
// power loss). Commands that arrive while a commit is in progress form the
// next batch: group commit without a timer.
//
// Reading back, record by record (a day's journal is never held in memory):
//  * zero bytes after the last record are the room a mapped writer had not
//    used yet: the end of the file (zero_bytes()), cut before appending;
//  * an incomplete last record is a torn tail, a write(2) the process did not
//    finish, and so is a record followed by nothing but zero bytes (a mapped
//    writer stopped in the middle of it): reported (torn_bytes()); the
//    engine cuts it before appending;
//  * any other record whose checksum fails is damage, wherever it is, and an
//    error naming the offset: a crash does not produce it (what a process
//    wrote is whole up to where it stopped); so is data after a gap of zeros;
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

#include "nexus/engine/append_file.hpp"
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
    static JournalWriter create(const std::string& path, const journal_format::Header& h, JournalMode mode,
                                SyncPolicy policy);
    // Opens a journal whose first `records` records are good, cutting what
    // follows them (a torn or zero tail the reader reported).
    static JournalWriter append_to(const std::string& path, std::uint64_t records, JournalMode mode,
                                   SyncPolicy policy) {
        return JournalWriter(
            AppendFile::open(path, journal_format::kHeaderSize + records * journal_format::kRecordSize, mode, policy),
            records);
    }

    // Encodes the record in place (in the mapping, or in the write buffer).
    void append(const Command& c) {
        std::uint8_t* p = file_.reserve(journal_format::kRecordSize);
        journal_format::encode_record(c, static_cast<std::uint32_t>(++records_), p);
        file_.appended(journal_format::kRecordSize);
    }
    [[nodiscard]] std::size_t pending() const noexcept { return static_cast<std::size_t>(records_ - committed_); }

    // Makes the pending records durable as the policy says (see above).
    void commit() {
        if (records_ == committed_) return;
        file_.commit();
        bytes_ += (records_ - committed_) * journal_format::kRecordSize;
        ++commits_;
        committed_ = records_;
    }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::uint64_t commits() const noexcept { return commits_; }
    // Records in the file once the pending ones are committed.
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    // Records committed.
    [[nodiscard]] std::uint64_t committed_records() const noexcept { return committed_; }
    [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }

private:
    JournalWriter(AppendFile f, std::uint64_t records) : file_(std::move(f)), records_(records), committed_(records) {}

    AppendFile file_;
    std::uint64_t records_ = 0, committed_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t commits_ = 0;
};

class JournalReader {
public:
    // Opens the file and checks its header; throws JournalError naming the
    // file (and the offset) if it is not a format-02 journal. Journals
    // written either way (mmap or write) read alike.
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
    // After next() returned false: the bytes of an unfinished last record,
    // and the zero bytes after it (or after the last good record).
    [[nodiscard]] std::uint64_t torn_bytes() const noexcept { return tail_.torn; }
    [[nodiscard]] std::uint64_t zero_bytes() const noexcept { return tail_.zero; }
    // Everything after the good records (what the engine cuts).
    [[nodiscard]] std::uint64_t tail_bytes() const noexcept { return file_size_ - good_bytes(); }

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
    Tail tail_;
};

}  // namespace nexus::engine

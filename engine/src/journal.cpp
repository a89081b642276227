// engine/src/journal.cpp — creating and reading shard journals (appends and
// commits stay inline in journal.hpp).
#include "nexus/engine/journal.hpp"

namespace nexus::engine {

JournalWriter JournalWriter::create(const std::string& path, const journal_format::Header& h, JournalMode mode,
                                    SyncPolicy policy) {
    std::uint8_t head[journal_format::kHeaderSize];
    journal_format::encode_header(h, head);
    return JournalWriter(AppendFile::create(path, head, mode, policy), 0);
}

JournalReader::JournalReader(const std::string& path) : file_(path, O_RDONLY) {
    file_size_ = file_.size();
    std::uint8_t head[journal_format::kHeaderSize];
    const std::size_t n = file_.read_some(head, sizeof head);
    if (n == 0)
        throw JournalError(path + ": empty (0 bytes; a journal has at least its 64-byte header): emptied or replaced");
    if (const std::string bad = journal_format::decode_header(head, n, header_); !bad.empty())
        throw JournalError(path + ": " + bad);
    buf_.resize(1 << 20);
}

bool JournalReader::next(Command& c) {
    const std::uint64_t offset = good_bytes();
    if (end_ - pos_ < journal_format::kRecordSize && !refill()) {
        tail_ = short_tail(file_, offset, file_size_);
        return false;
    }
    const std::uint32_t expected = static_cast<std::uint32_t>(records_ + 1);
    std::uint32_t number = 0;
    switch (journal_format::decode_record(buf_.data() + pos_, c, number)) {
        case journal_format::RecordStatus::BadChecksum: {
            // Zero bytes, or a record a mapped writer did not finish, then
            // zero bytes: the end of what the writer wrote.
            const Tail t = classify_tail(file_, offset, offset + journal_format::kRecordSize, file_size_);
            if (t.kind != Tail::Kind::Damage) {
                tail_ = t;
                return false;
            }
            if (t.data_after != 0)
                throw JournalError(file_.path() + ": offset " + std::to_string(offset) + ": zero bytes where record " +
                                   std::to_string(records_ + 1) + " belongs, then data at offset " +
                                   std::to_string(t.data_after) +
                                   ": damage, not what a crash leaves (a writer fills its file in order); to give up "
                                   "everything from here on, cut the file at offset " +
                                   std::to_string(offset));
            throw JournalError(
                file_.path() + ": offset " + std::to_string(offset) + ": record " + std::to_string(records_ + 1) +
                " is damaged (complete, checksum mismatch): not a torn write; to give up this record and all "
                "after it, cut the file at this offset");
        }
        case journal_format::RecordStatus::BadContents:
            throw JournalError(file_.path() + ": offset " + std::to_string(offset) + ": record " +
                               std::to_string(records_ + 1) +
                               " has a good checksum but an impossible command kind or flags");
        case journal_format::RecordStatus::Good: break;
    }
    if (number != expected)
        throw JournalError(file_.path() + ": offset " + std::to_string(offset) + ": record number " +
                           std::to_string(number) + " where " + std::to_string(expected) + " belongs: " +
                           (number < expected ? "a record repeated or moved" : "records cut out or moved"));
    pos_ += journal_format::kRecordSize;
    ++records_;
    return true;
}

bool JournalReader::refill() {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    end_ += file_.read_some(buf_.data() + end_, buf_.size() - end_);
    return end_ >= journal_format::kRecordSize;
}

}  // namespace nexus::engine

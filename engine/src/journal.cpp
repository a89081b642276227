// engine/src/journal.cpp — opening, committing and reading shard journals
// (the per-record append stays inline in journal.hpp).
#include "nexus/engine/journal.hpp"

namespace nexus::engine {

JournalWriter JournalWriter::create(const std::string& path, const journal_format::Header& h, SyncPolicy policy) {
    JournalWriter w(PosixFile(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND), policy, 0);
    std::uint8_t head[journal_format::kHeaderSize];
    journal_format::encode_header(h, head);
    w.file_.write_all(head, sizeof head);
    w.file_.datasync();
    return w;
}

void JournalWriter::commit() {
    if (size_ == 0) return;
    file_.write_all(buf_.get(), size_);
    if (policy_ == SyncPolicy::Fsync) file_.datasync();
    bytes_ += size_;
    ++commits_;
    size_ = 0;
    committed_ = records_;
}

void JournalWriter::grow() {
    const std::size_t cap = capacity_ * 2;
    auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    if (size_) std::memcpy(bigger.get(), buf_.get(), size_);
    buf_ = std::move(bigger);
    capacity_ = cap;
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
    if (end_ - pos_ < journal_format::kRecordSize && !refill()) return false;
    const std::uint64_t offset = journal_format::kHeaderSize + records_ * journal_format::kRecordSize;
    const std::uint32_t expected = static_cast<std::uint32_t>(records_ + 1);
    std::uint32_t number = 0;
    switch (journal_format::decode_record(buf_.data() + pos_, c, number)) {
        case journal_format::RecordStatus::BadChecksum:
            throw JournalError(
                file_.path() + ": offset " + std::to_string(offset) + ": record " + std::to_string(records_ + 1) +
                " is damaged (complete, checksum mismatch): not a torn write; to give up this record and all "
                "after it, cut the file at this offset");
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

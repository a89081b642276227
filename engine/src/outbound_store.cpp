// engine/src/outbound_store.cpp — the outbound store file: its header, its
// scanner, appends, commits and replay reads (see outbound_store.hpp).
#include "nexus/engine/outbound_store.hpp"

namespace nexus::engine {

void outbound_format::encode_header(std::uint64_t venue, std::uint64_t created_ns, std::uint8_t* out) noexcept {
    using journal_format::put;
    std::memset(out, 0, kHeaderSize);
    std::memcpy(out, kMagic, 8);
    put<std::uint32_t>(out + 8, kHeaderSize);
    put<std::uint32_t>(out + 12, kRecordHead);
    put(out + 16, venue);
    put(out + 24, created_ns);
    put(out + 60, crc32c(out, 60));
}

std::string outbound_format::decode_header(const std::uint8_t* p, std::size_t n, std::uint64_t& venue) {
    using journal_format::get;
    if (n < 8 || std::memcmp(p, kMagic, 6) != 0) return "offset 0: not a nexus outbound store (bad magic)";
    if (std::memcmp(p + 6, kMagic + 6, 2) != 0)
        return "offset 0: outbound store format " + std::string(reinterpret_cast<const char*>(p) + 6, 2) +
               "; this engine reads 01";
    if (n < kHeaderSize) return "offset 0: header cut short";
    if (get<std::uint32_t>(p + 60) != crc32c(p, 60)) return "offset 0: damaged header (checksum mismatch)";
    if (get<std::uint32_t>(p + 8) != kHeaderSize || get<std::uint32_t>(p + 12) != kRecordHead)
        return "offset 8: unexpected sizes";
    venue = get<std::uint64_t>(p + 16);
    return "";
}

OutboundScanner::OutboundScanner(const std::string& path) : file_(path, O_RDONLY) {
    file_size_ = file_.size();
    std::uint8_t head[outbound_format::kHeaderSize];
    const std::size_t n = file_.read_some(head, sizeof head);
    if (n == 0)
        throw JournalError(path + ": empty (0 bytes; the store has at least its 64-byte header): emptied or replaced");
    if (const std::string bad = outbound_format::decode_header(head, n, venue_); !bad.empty())
        throw JournalError(path + ": " + bad);
    good_bytes_ = outbound_format::kHeaderSize;
    buf_.resize(1 << 20);
}

bool OutboundScanner::next(outbound_format::Record& r) {
    for (;;) {
        const auto st = outbound_format::decode_record(buf_.data() + pos_, end_ - pos_, r);
        if (st == outbound_format::Status::Good) break;
        if (st == outbound_format::Status::Damaged)
            throw JournalError(file_.path() + ": offset " + std::to_string(good_bytes_) + ": record " +
                               std::to_string(records_ + 1) +
                               " is damaged (impossible length or checksum mismatch): not a torn write");
        if (!refill()) return false;
    }
    r.offset = good_bytes_;
    const std::uint32_t expected = static_cast<std::uint32_t>(records_ + 1);
    if (r.number != expected)
        throw JournalError(file_.path() + ": offset " + std::to_string(good_bytes_) + ": record number " +
                           std::to_string(r.number) + " where " + std::to_string(expected) + " belongs: " +
                           (r.number < expected ? "a record repeated or moved" : "records cut out or moved"));
    const std::size_t size = outbound_format::kRecordHead + r.packet.size();
    pos_ += size;
    good_bytes_ += size;
    ++records_;
    return true;
}

bool OutboundScanner::refill() {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    const std::size_t got = file_.read_some(buf_.data() + end_, buf_.size() - end_);
    end_ += got;
    return got > 0;
}

void OutboundStore::create(const std::string& path, std::uint64_t venue, std::uint64_t created_ns, SyncPolicy policy) {
    file_ = PosixFile(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND);
    std::uint8_t head[outbound_format::kHeaderSize];
    outbound_format::encode_header(venue, created_ns, head);
    file_.write_all(head, sizeof head);
    file_.datasync();
    file_bytes_ = sizeof head;
    policy_ = policy;
}

void OutboundStore::open_existing(const std::string& path, std::uint64_t good_bytes, SyncPolicy policy) {
    file_ = PosixFile(path, O_RDWR | O_APPEND);
    file_bytes_ = good_bytes;
    policy_ = policy;
}

std::string OutboundStore::index(const outbound_format::Record& r) {
    if (r.user >= users_.size())
        return "names user " + std::to_string(r.user + 1) + " of a configuration with " + std::to_string(users_.size());
    UserIndex& u = users_[r.user];
    if (r.seq != u.next || r.prev != u.last)
        return "is message " + std::to_string(r.seq) + " of its user's stream (previous at offset " +
               std::to_string(r.prev) + ") where message " + std::to_string(u.next) + " (previous at offset " +
               std::to_string(u.last) + ") belongs";
    note(u, r.offset);
    ++records_;
    return "";
}

std::uint64_t OutboundStore::append(std::uint32_t user, std::uint8_t source, std::span<const std::uint8_t> packet) {
    using journal_format::put;
    UserIndex& u = users_[user];
    const std::uint64_t offset = file_bytes_ + buf_.size();
    const std::size_t at = buf_.size();
    buf_.resize(at + outbound_format::kRecordHead + packet.size());
    std::uint8_t* p = buf_.data() + at;
    put(p + 4, static_cast<std::uint16_t>(packet.size()));
    p[6] = source;
    p[7] = 0;
    put(p + 8, user);
    put(p + 12, static_cast<std::uint32_t>(++records_));
    put(p + 16, u.next);
    put(p + 24, u.last);
    std::memcpy(p + outbound_format::kRecordHead, packet.data(), packet.size());
    put(p, crc32c(p + 4, outbound_format::kRecordHead - 4 + packet.size()));
    const std::uint64_t seq = u.next;
    note(u, offset);
    if (!file_.is_open()) buf_.clear();
    return seq;
}

void OutboundStore::commit() {
    if (buf_.empty()) return;
    file_.write_all(buf_.data(), buf_.size());
    if (policy_ == SyncPolicy::Fsync) file_.datasync();
    file_bytes_ += buf_.size();
    buf_.clear();
}

std::uint64_t OutboundStore::read_chunk(std::uint32_t user, std::uint64_t from, std::vector<std::uint8_t>& out) {
    const UserIndex& u = users_[user];
    if (from >= u.next) return u.next;
    const std::uint64_t chunk = (from - 1) / kCheckpointEvery;
    const std::uint64_t last = std::min((chunk + 1) * kCheckpointEvery, u.next - 1);
    std::uint64_t offset = last == u.next - 1 ? u.last : u.checkpoints[chunk];
    walk_.clear();
    scratch_.clear();
    for (std::uint64_t seq = last;; --seq) {
        outbound_format::Record r;
        read_at(offset, r);
        if (r.user != user || r.seq != seq)
            throw JournalError(file_.path() + ": offset " + std::to_string(offset) + ": expected message " +
                               std::to_string(seq) + " of user " + std::to_string(user + 1) + ", found message " +
                               std::to_string(r.seq) + " of user " + std::to_string(r.user + 1));
        walk_.push_back({scratch_.size(), r.packet.size()});
        scratch_.insert(scratch_.end(), r.packet.begin(), r.packet.end());
        if (seq == from) break;
        offset = r.prev;
    }
    for (auto it = walk_.rbegin(); it != walk_.rend(); ++it)
        out.insert(out.end(), scratch_.begin() + static_cast<std::ptrdiff_t>(it->first),
                   scratch_.begin() + static_cast<std::ptrdiff_t>(it->first + it->second));
    return last + 1;
}

void OutboundStore::read_at(std::uint64_t offset, outbound_format::Record& r) {
    outbound_format::Status st;
    if (offset >= file_bytes_) {
        const std::size_t at = offset - file_bytes_;
        st = at < buf_.size() ? outbound_format::decode_record(buf_.data() + at, buf_.size() - at, r)
                              : outbound_format::Status::Incomplete;
    } else {
        st = from_cache(offset, r);
        if (st == outbound_format::Status::Incomplete) {
            // Load the 64 KiB that end just past this record: a backward
            // walk finds the user's earlier records there too.
            const std::uint64_t end = offset + outbound_format::kRecordHead + outbound_format::kMaxPacket;
            cache_.resize(1 << 16);
            cache_at_ = end > cache_.size() ? end - cache_.size() : 0;
            cache_len_ = file_.pread_some(cache_.data(), cache_.size(), cache_at_);
            st = from_cache(offset, r);
        }
    }
    if (st != outbound_format::Status::Good)
        throw JournalError(file_.path() + ": offset " + std::to_string(offset) +
                           ": damaged or missing record while replaying");
    r.offset = offset;
}

}  // namespace nexus::engine

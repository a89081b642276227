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
    using namespace outbound_format;
    for (;;) {
        const auto st = decode_record(buf_.data() + pos_, end_ - pos_, r);
        if (st == Status::Good) break;
        if (st == Status::Damaged) {
            // Zero bytes, or a record a mapped writer did not finish, then
            // zero bytes: the end of what the writer wrote. A record whose
            // length is not written yet may reach as far as the longest one.
            const std::uint64_t at = good_bytes_;
            const std::size_t len = journal_format::get<std::uint16_t>(buf_.data() + pos_ + 4);
            const std::uint64_t extent =
                len != 0 ? at + kRecordHead + len : std::min(at + kRecordHead + kMaxPacket, file_size_ - 1);
            const bool plausible = len == 0 || (len >= 3 && len <= kMaxPacket);
            const Tail t = plausible ? classify_tail(file_, at, extent, file_size_) : Tail{Tail::Kind::Damage};
            if (t.kind != Tail::Kind::Damage) {
                tail_ = t;
                return false;
            }
            if (t.data_after != 0)
                throw JournalError(file_.path() + ": offset " + std::to_string(at) + ": zero bytes where record " +
                                   std::to_string(records_ + 1) + " belongs, then data at offset " +
                                   std::to_string(t.data_after) +
                                   ": damage, not what a crash leaves (a writer fills its file in order)");
            throw JournalError(file_.path() + ": offset " + std::to_string(at) + ": record " +
                               std::to_string(records_ + 1) +
                               " is damaged (impossible length or checksum mismatch): not a torn write");
        }
        if (!refill()) {
            tail_ = short_tail(file_, good_bytes_, file_size_);
            return false;
        }
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

void OutboundStore::create(const std::string& path, std::uint64_t venue, std::uint64_t created_ns, JournalMode mode,
                           SyncPolicy policy) {
    std::uint8_t head[outbound_format::kHeaderSize];
    outbound_format::encode_header(venue, created_ns, head);
    file_ = AppendFile::create(path, head, mode, policy);
}

void OutboundStore::open_existing(const std::string& path, std::uint64_t good_bytes, JournalMode mode,
                                  SyncPolicy policy) {
    file_ = AppendFile::open(path, good_bytes, mode, policy);
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
    const std::uint64_t seq = u.next;
    if (file_.is_open()) {
        const std::size_t size = outbound_format::kRecordHead + packet.size();
        // Room first: if the file cannot grow, nothing (not even the record
        // count) has changed, and no record number is skipped.
        std::uint8_t* p = file_.reserve(size);
        ++records_;
        put(p + 4, static_cast<std::uint16_t>(packet.size()));
        p[6] = source;
        p[7] = 0;
        put(p + 8, user);
        put(p + 12, static_cast<std::uint32_t>(records_));
        put(p + 16, u.next);
        put(p + 24, u.last);
        std::memcpy(p + outbound_format::kRecordHead, packet.data(), packet.size());
        put(p, crc32c(p + 4, outbound_format::kRecordHead - 4 + packet.size()));
        note(u, file_.size());
        file_.appended(size);
    } else {
        ++records_;
        note(u, 0);  // --recover-only: counted, not kept
    }
    return seq;
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
    if (const auto mem = file_.in_memory(offset); !mem.empty()) {
        st = outbound_format::decode_record(mem.data(), mem.size(), r);
    } else if (offset >= file_.committed()) {
        st = outbound_format::Status::Incomplete;
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

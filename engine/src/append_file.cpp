// engine/src/append_file.cpp — growing, mapping, committing and closing an
// append file; classifying what follows its last good record (see
// append_file.hpp).
#include "nexus/engine/append_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace nexus::engine {

namespace {
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kFirstStep = std::uint64_t{1} << 20;  // a quiet day's file stays small
constexpr std::uint64_t kMaxStep = std::uint64_t{64} << 20;   // one growth per million journal records
constexpr std::size_t kFirstBuffer = std::size_t{1} << 16;
constexpr std::uint64_t kPrefault = std::uint64_t{64} << 10;  // 1,024 journal records
#ifdef MADV_POPULATE_WRITE
constexpr int kPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kPopulateWrite = 23;  // Linux 5.14; older C libraries lack the name
#endif

std::uint64_t round_up(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }
}  // namespace

AppendFile AppendFile::create(const std::string& path, std::span<const std::uint8_t> head, JournalMode mode,
                              SyncPolicy policy) {
    AppendFile f;
    f.file_ = PosixFile(path, O_RDWR | O_CREAT | O_EXCL | (mode == JournalMode::Write ? O_APPEND : 0));
    f.file_.write_all(head.data(), head.size());
    f.file_.datasync();
    f.mode_ = mode;
    f.policy_ = policy;
    f.end_ = f.committed_ = f.base_offset_ = f.limit_ = f.file_length_ = head.size();
    return f;
}

AppendFile AppendFile::open(const std::string& path, std::uint64_t size, JournalMode mode, SyncPolicy policy) {
    AppendFile f;
    f.file_ = PosixFile(path, O_RDWR | (mode == JournalMode::Write ? O_APPEND : 0));
    if (f.file_.size() != size) f.file_.truncate(size);
    f.mode_ = mode;
    f.policy_ = policy;
    f.end_ = f.committed_ = f.base_offset_ = f.limit_ = f.file_length_ = size;
    return f;
}

AppendFile& AppendFile::operator=(AppendFile&& o) noexcept {
    if (this == &o) return *this;
    close_quietly();
    file_ = std::move(o.file_);
    mode_ = o.mode_;
    policy_ = o.policy_;
    base_ = std::exchange(o.base_, nullptr);
    base_offset_ = std::exchange(o.base_offset_, 0);
    limit_ = std::exchange(o.limit_, 0);
    end_ = std::exchange(o.end_, 0);
    committed_ = std::exchange(o.committed_, 0);
    file_length_ = std::exchange(o.file_length_, 0);
    map_length_ = std::exchange(o.map_length_, 0);
    prefaulted_ = std::exchange(o.prefaulted_, 0);
    prefault_ = o.prefault_;
    commit_failed_ = o.commit_failed_;
    buffer_ = std::move(o.buffer_);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
}

std::uint8_t* AppendFile::make_room(std::size_t n) {
    if (!file_.is_open()) throw JournalError("append to a file that is not open");
    if (mode_ == JournalMode::Write) {
        const std::size_t pending = static_cast<std::size_t>(end_ - base_offset_);
        std::size_t capacity = std::max(capacity_, kFirstBuffer);
        while (pending + n >= capacity) capacity *= 2;
        // Raw bytes: a std::vector's resize would zero every byte before it is written.
        auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
        if (pending) std::memcpy(bigger.get(), buffer_.get(), pending);
        buffer_ = std::move(bigger);
        base_ = buffer_.get();
        capacity_ = capacity;
        limit_ = base_offset_ + capacity;
        return base_ + pending;
    }
    // Mapped: grow the file (doubling from 1 MiB, then 64 MiB at a time) so
    // that at least one zero byte stays after the new data, then the mapping.
    if (base_ == nullptr || end_ + n >= map_length_) {
        const std::uint64_t step = std::clamp(file_length_, kFirstStep, kMaxStep);
        const std::uint64_t length = round_up(std::max(file_length_ + step, end_ + n + 1), kPage);
        if (const int err = ::posix_fallocate(file_.fd(), static_cast<off_t>(file_length_),
                                              static_cast<off_t>(length - file_length_));
            err != 0) {
            errno = err;
            file_.fail(("cannot grow the file to " + std::to_string(length) + " bytes").c_str());
        }
        void* at = base_ == nullptr ? ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, file_.fd(), 0)
                                    : ::mremap(base_, map_length_, length, MREMAP_MAYMOVE);
        if (at == MAP_FAILED) {
            const int err = errno;
            // The mapping, if any, is unchanged; the file keeps its new zero
            // room, which a reader takes for the end of the file.
            errno = err;
            file_.fail(("cannot map " + std::to_string(length) + " bytes").c_str());
        }
        if (base_ == nullptr) prefaulted_ = end_ / kPage * kPage;
        base_ = static_cast<std::uint8_t*>(at);
        map_length_ = length;
        file_length_ = length;
        base_offset_ = 0;
    }
    // The first store to a page of a shared file mapping is a page fault
    // (the page is allocated, and the file system told it is written): a
    // microsecond or more, every 64 journal records. Prefaulting the next
    // pages for writing in one call, kPrefault bytes at a time, costs a
    // fraction of that per page; limit_ stops at the prefaulted end, so that
    // crossing it comes back here. (Kernels before 5.14 lack
    // MADV_POPULATE_WRITE: the pages then fault one by one as they are
    // written.)
    const std::uint64_t want = std::min<std::uint64_t>(round_up(end_ + n + 1, kPage) + kPrefault, map_length_);
    if (prefault_ && want > prefaulted_) {
        if (::madvise(base_ + prefaulted_, static_cast<std::size_t>(want - prefaulted_), kPopulateWrite) != 0)
            prefault_ = false;
        prefaulted_ = want;
    }
    limit_ = prefault_ ? want : map_length_;
    return base_ + end_;
}

void AppendFile::commit() {
    if (mode_ == JournalMode::Write) {
        if (end_ == committed_) return;
        // Set until the write and the sync both succeed: after a failure the
        // bytes may be in the file already (a failed fdatasync), and close()
        // writing them again would repeat records, which the next start
        // refuses. They were never acknowledged, so nothing is lost.
        commit_failed_ = true;
        file_.write_all(base_, static_cast<std::size_t>(end_ - base_offset_));
        if (policy_ == SyncPolicy::Fsync) file_.datasync();
        commit_failed_ = false;
        committed_ = base_offset_ = end_;
        limit_ = end_ + capacity_;
        return;
    }
    if (end_ == committed_) return;
    // (Not reached from a configuration: the engine refuses mmap with fsync.)
    if (policy_ == SyncPolicy::Fsync) file_.datasync();
    committed_ = end_;
}

void AppendFile::unmap() noexcept {
    if (base_ != nullptr && mode_ == JournalMode::Mapped) ::munmap(base_, map_length_);
    base_ = nullptr;
    base_offset_ = limit_ = end_;
    map_length_ = 0;
}

void AppendFile::close() {
    if (!file_.is_open()) return;
    if (!commit_failed_) commit();
    unmap();
    if (mode_ == JournalMode::Mapped && file_length_ != end_) {
        file_.truncate(end_);
        file_length_ = end_;
    }
    file_.close();
}

void AppendFile::close_quietly() noexcept {
    try {
        close();
    } catch (const std::exception&) {
        // Whatever was not cut is zero bytes after the last record, which
        // the next start takes for the end of the file; what was not written
        // (Write mode) was never committed, so never acknowledged.
        unmap();
        file_.close();
    }
}

// ---- reading ----------------------------------------------------------------------

NonZeroSpan find_nonzero(const PosixFile& f, std::uint64_t from, std::uint64_t size) {
    NonZeroSpan s{size, size};
    std::vector<std::uint8_t> buf(std::size_t{1} << 20);
    for (std::uint64_t at = from; at < size;) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
        const std::size_t got = f.pread_some(buf.data(), want, at);
        if (got == 0) break;
        const auto nz = [](std::uint8_t b) { return b != 0; };
        const auto first = std::find_if(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got), nz);
        if (first != buf.begin() + static_cast<std::ptrdiff_t>(got)) {
            if (s.first == size) s.first = at + static_cast<std::uint64_t>(first - buf.begin());
            const auto last = std::find_if(std::make_reverse_iterator(buf.begin() + static_cast<std::ptrdiff_t>(got)),
                                           std::make_reverse_iterator(first), nz);
            s.last = at + static_cast<std::uint64_t>(std::distance(buf.begin(), last.base()) - 1);
        }
        at += got;
    }
    return s;
}

Tail classify_tail(const PosixFile& f, std::uint64_t at, std::uint64_t extent, std::uint64_t size) {
    const NonZeroSpan nz = find_nonzero(f, at, size);
    Tail t;
    if (nz.first == size) {
        t.zero = size - at;
        return t;
    }
    if (nz.last < extent && extent < size) {
        t.kind = Tail::Kind::Torn;
        t.torn = nz.last + 1 - at;
        t.zero = size - nz.last - 1;
        return t;
    }
    t.kind = Tail::Kind::Damage;
    if (nz.first >= extent) t.data_after = nz.first;
    return t;
}

Tail short_tail(const PosixFile& f, std::uint64_t at, std::uint64_t size) {
    Tail t;
    if (find_nonzero(f, at, size).first == size) {
        t.zero = size - at;
    } else {
        t.kind = Tail::Kind::Torn;
        t.torn = size - at;
    }
    return t;
}

}  // namespace nexus::engine

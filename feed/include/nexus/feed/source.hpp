// nexus/feed/source.hpp — ITCH 5.0 input: files, pipes, FIFOs and standard
// input, plain or gzipped.
//
//   read_itch(path, on_message, opts)   frames every message and calls
//       on_message(const itch::Message&), which returns false to stop early;
//   read_itch_blocks(path, on_block, opts)   hands out blocks of the stream
//       for the consumer to frame itself (ItchBookBuilder::apply_block):
//       on_block(std::span<const std::uint8_t>, std::uint64_t offset)
//       returns a BlockResult saying how far it got and why it stopped.
//
// "-" is standard input. Gzip is recognised by its magic bytes, read from the
// same descriptor as the rest (so a pipe or FIFO loses nothing to the check).
//
//  * A plain regular file is memory-mapped and handed out in slices of the
//    mapping; pages behind the consumer are dropped from the process as it
//    goes, so a large file does not stay resident (the page cache keeps it).
//  * Anything else — a gzipped file, a pipe, a FIFO, a terminal — is streamed
//    through a buffer: read (and inflated) in blocks, with a message cut by a
//    block's end carried to the front of the next.
//
// Messages point into the mapping or into the current block: valid only
// during the call. Errors say what and where (the stream byte offset, and for
// gzip the compressed offset); they never name the path, which the caller
// knows and prefixes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "nexus/feed/itch.hpp"

namespace nexus::feed {

struct ReadResult {
    bool ok = true;              // false: framing, gzip or I/O error (see error)
    bool stopped = false;        // the callback or the stop flag ended it early
    bool io_error = false;       // could not open, map or read the input (not a format error)
    std::string error;           // what and where (byte offset); never the path
    std::uint64_t bytes = 0;     // stream bytes framed (decompressed for gzip)
    std::uint64_t messages = 0;  // known messages delivered
    std::uint64_t unknown = 0;   // unknown types skipped
    bool gzip = false;
    bool streamed = false;  // read through a buffer (gzip, pipe, FIFO) rather than mapped
    // The stream itself is corrupt (a gzip error): that, not what the
    // consumer made of the garbage inflate gave just before, is the error.
    bool bad_stream = false;
};

struct ReadOptions {
    const std::atomic<bool>* stop = nullptr;  // checked between blocks and every 64k messages
    // Called now and then with (input bytes read, input size); the size is 0
    // when it is not known (a pipe or FIFO).
    std::function<void(std::uint64_t, std::uint64_t)> progress;
};

using itch::BlockResult;

// Frames a block and calls on_message for each message; the consumer
// read_itch() gives read_itch_blocks().
template <class F>
BlockResult frame_block(std::span<const std::uint8_t> data, std::uint64_t offset, F& on_message) {
    itch::Framer f(data, offset);
    itch::Message m;
    BlockResult b;
    while (f.next(m)) {
        ++b.messages;
        if (!on_message(m)) {
            b.stop = true;
            break;
        }
    }
    b.consumed = f.consumed();
    b.error = b.stop ? itch::FrameError::None : f.error();
    b.unknown = f.unknown_skipped();
    return b;
}

namespace detail {

// The input's descriptor; standard input is borrowed, not closed.
struct InputFd {
    int fd = -1;
    bool owned = false;
    InputFd() = default;
    InputFd(const InputFd&) = delete;
    InputFd& operator=(const InputFd&) = delete;
    ~InputFd() {
        if (owned && fd >= 0) ::close(fd);
    }
};

inline bool stop_requested(const ReadOptions& opt) noexcept {
    return opt.stop != nullptr && opt.stop->load(std::memory_order_relaxed);
}

// read() until `n` bytes or the end of the input. Returns the count, or -1
// with errno set. An interrupted read is retried unless a stop was asked for
// (then it returns what it has, and the caller sees the stop flag).
// With a stop flag, a read waits in poll() with a short timeout first: the
// signal that raised the flag may have arrived just before the read, or been
// taken by another thread, and a pipe whose writer stalls would otherwise
// keep the read blocked however long the writer waits.
inline long read_some(int fd, std::uint8_t* p, std::size_t n, const ReadOptions& opt) {
    constexpr int kStopCheckMs = 100;
    std::size_t got = 0;
    while (got < n) {
        if (opt.stop != nullptr) {
            if (stop_requested(opt)) break;
            pollfd pfd{fd, POLLIN, 0};
            const int ready = ::poll(&pfd, 1, kStopCheckMs);
            if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
        }
        const ssize_t r = ::read(fd, p + got, n - got);
        if (r > 0) {
            got += static_cast<std::size_t>(r);
            continue;
        }
        if (r == 0) break;
        if (errno == EINTR) {
            if (stop_requested(opt)) break;
            continue;
        }
        return -1;
    }
    return static_cast<long>(got);
}

inline bool partial(itch::FrameError e) noexcept {
    return e == itch::FrameError::TruncatedMessage || e == itch::FrameError::TruncatedLength;
}

}  // namespace detail

// A source of stream bytes for the buffered path: fill() writes up to `cap`
// bytes at `dst` and says whether more may follow, or why not.
enum class Fill : std::uint8_t {
    More,     // bytes produced (possibly none, on a stop request); call again
    End,      // the input ended cleanly, nothing produced
    BadData,  // the input is not a valid stream (corrupt or truncated gzip)
    IoError,  // reading the descriptor failed
};

// Plain bytes from a descriptor (pipe, FIFO, terminal, or a file that cannot
// be mapped). `head` holds bytes already read for the gzip check.
class PlainSource {
public:
    PlainSource(int fd, std::vector<std::uint8_t> head) : fd_(fd), head_(std::move(head)) {}
    Fill fill(std::uint8_t* dst, std::size_t cap, std::size_t& produced, std::string& error, const ReadOptions& opt) {
        produced = std::min(cap, head_.size() - head_used_);
        if (produced != 0) std::memcpy(dst, head_.data() + head_used_, produced);
        head_used_ += produced;
        if (produced < cap && !eof_) {
            const long n = detail::read_some(fd_, dst + produced, cap - produced, opt);
            if (n < 0) {
                error = std::string("read error: ") + std::strerror(errno);
                return Fill::IoError;
            }
            // detail::read_some() stops short only at the end of the input or on a stop request.
            if (static_cast<std::size_t>(n) < cap - produced && !detail::stop_requested(opt)) eof_ = true;
            produced += static_cast<std::size_t>(n);
        }
        consumed_ += produced;
        return produced == 0 && eof_ ? Fill::End : Fill::More;
    }
    [[nodiscard]] std::uint64_t input_bytes() const noexcept { return consumed_; }

private:
    int fd_;
    std::vector<std::uint8_t> head_;
    std::size_t head_used_ = 0;
    std::uint64_t consumed_ = 0;  // bytes handed out
    bool eof_ = false;
};

// Gzip from a descriptor, one member after another (a concatenation of gzip
// files is one stream). `head` holds bytes already read for the magic check.
class GzipSource {
public:
    GzipSource(int fd, std::vector<std::uint8_t> head) : fd_(fd), in_(std::size_t{1} << 20) {
        if (!head.empty()) std::memcpy(in_.data(), head.data(), head.size());
        zs_.next_in = in_.data();
        zs_.avail_in = static_cast<uInt>(head.size());
        in_total_ = head.size();
        ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
    }
    GzipSource(const GzipSource&) = delete;
    GzipSource& operator=(const GzipSource&) = delete;
    ~GzipSource() {
        if (ok_) inflateEnd(&zs_);
    }

    // Inflates until `cap` bytes are out, the input ends, or an error. With
    // an error, `produced` still counts what came out before it.
    Fill fill(std::uint8_t* dst, std::size_t cap, std::size_t& produced, std::string& error, const ReadOptions& opt) {
        zs_.next_out = dst;
        zs_.avail_out = static_cast<uInt>(cap);
        auto out = [&] { produced = cap - zs_.avail_out; };
        if (!ok_) {
            error = "zlib initialisation failed";
            return out(), Fill::IoError;
        }
        while (zs_.avail_out > 0) {
            if (zs_.avail_in == 0 && !eof_) {
                const long n = detail::read_some(fd_, in_.data(), in_.size(), opt);
                if (n < 0) {
                    error = std::string("read error after ") + std::to_string(in_total_) +
                            " compressed bytes: " + std::strerror(errno);
                    return out(), Fill::IoError;
                }
                const bool stopped = static_cast<std::size_t>(n) < in_.size() && detail::stop_requested(opt);
                if (static_cast<std::size_t>(n) < in_.size() && !stopped) eof_ = true;
                zs_.next_in = in_.data();
                zs_.avail_in = static_cast<uInt>(n);
                in_total_ += static_cast<std::uint64_t>(n);
                if (stopped && n == 0) break;  // the caller sees the stop flag
            }
            if (member_ended_) {
                if (zs_.avail_in == 0) {  // eof_: the last member ended with the input
                    out();
                    return produced > 0 ? Fill::More : Fill::End;
                }
                inflateReset(&zs_);  // another member follows
                member_ended_ = false;
            }
            if (zs_.avail_in == 0) {  // eof_ inside a member
                out();
                if (produced > 0) return Fill::More;
                error = "gzip stream ends early (truncated input)";
                return Fill::BadData;
            }
            const int rc = inflate(&zs_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                member_ended_ = true;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                out();  // what came out before the error is delivered; the error is the cause of what follows
                error = corrupt();
                return Fill::BadData;
            }
        }
        out();
        return Fill::More;
    }
    [[nodiscard]] std::uint64_t input_bytes() const noexcept { return in_total_ - zs_.avail_in; }

private:
    std::string corrupt() const {
        return std::string("corrupt gzip stream (") + (zs_.msg ? zs_.msg : "inflate error") +
               ") at compressed byte offset " + std::to_string(in_total_ - zs_.avail_in);
    }

    int fd_;
    std::vector<std::uint8_t> in_;
    z_stream zs_{};
    std::uint64_t in_total_ = 0;  // compressed bytes read from the descriptor
    bool ok_ = false;
    bool eof_ = false;           // the descriptor has no more bytes
    bool member_ended_ = false;  // inflate reached the end of a member
};

namespace detail {

inline std::string frame_error_at(itch::FrameError e, std::uint64_t offset) {
    return std::string(itch::to_string(e)) + " at byte offset " + std::to_string(offset);
}

// Adds a block's counts to the result.
inline void count(ReadResult& r, const BlockResult& b) noexcept {
    r.messages += b.messages;
    r.unknown += b.unknown;
}

// The buffered path: blocks from `src` into a buffer, handed to the
// consumer, the cut message carried. `size` is the input's size for progress
// (0 if unknown).
template <class Source, class B>
void read_buffered(Source& src, std::uint64_t size, B& on_block, ReadResult& r, const ReadOptions& opt) {
    constexpr std::size_t kBuffer = std::size_t{4} << 20;
    std::vector<std::uint8_t> buf(kBuffer);
    std::size_t carry = 0;         // undelivered bytes at the front of buf
    std::uint64_t stream_pos = 0;  // stream offset of buf[0]
    r.streamed = true;
    for (;;) {
        std::size_t produced = 0;
        std::string src_error;
        const Fill st = src.fill(buf.data() + carry, buf.size() - carry, produced, src_error, opt);
        const std::size_t have = carry + produced;
        const BlockResult b = on_block(std::span<const std::uint8_t>(buf.data(), have), stream_pos);
        count(r, b);
        // A source error is the cause of any error in its last output
        // (inflate emits garbage before it notices a corruption): it is
        // reported even when the consumer stopped on that garbage.
        const bool source_failed = st == Fill::BadData || st == Fill::IoError;
        if (b.stop && !source_failed) {
            stream_pos += b.consumed;
            r.stopped = true;
            break;
        }
        if (b.error != itch::FrameError::None && !partial(b.error) && !source_failed) {
            r.ok = false;
            r.error = frame_error_at(b.error, stream_pos + b.consumed);
            stream_pos += b.consumed;
            break;
        }
        carry = have - b.consumed;
        std::memmove(buf.data(), buf.data() + b.consumed, carry);
        stream_pos += b.consumed;
        if (source_failed) {
            r.ok = false;
            r.stopped = b.stop;
            r.io_error = st == Fill::IoError;
            r.bad_stream = st == Fill::BadData;
            r.error = src_error + ", after " + std::to_string(stream_pos + carry) + " stream bytes";
            break;
        }
        if (opt.progress) opt.progress(src.input_bytes(), size);
        if (stop_requested(opt)) {
            r.stopped = true;
            break;
        }
        if (st == Fill::End) {
            if (carry != 0) {  // the input ends inside a message
                r.ok = false;
                r.error = frame_error_at(
                    carry < 2 ? itch::FrameError::TruncatedLength : itch::FrameError::TruncatedMessage, stream_pos);
            }
            break;
        }
        if (carry == buf.size()) {  // cannot happen with messages under 64 KiB, but never spin
            r.ok = false;
            r.error = "no message boundary in a whole buffer at byte offset " + std::to_string(stream_pos);
            break;
        }
    }
    r.bytes = stream_pos;
}

// The mapped path: a plain regular file handed out in slices of the mapping,
// so that progress and the stop flag are seen, and the pages behind dropped.
template <class B>
bool read_mapped(int fd, std::uint64_t size, B& on_block, ReadResult& r, const ReadOptions& opt) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return false;
    ::madvise(p, size, MADV_SEQUENTIAL);
    const auto* bytes = static_cast<const std::uint8_t*>(p);
    // Slices of 4 MiB: the resident part of the mapping stays small.
    constexpr std::uint64_t kSlice = std::uint64_t{4} << 20;
    const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::uint64_t pos = 0, dropped = 0;
    while (pos < size) {
        const std::uint64_t end = pos + kSlice < size ? pos + kSlice : size;
        const BlockResult b =
            on_block(std::span<const std::uint8_t>(bytes + pos, static_cast<std::size_t>(end - pos)), pos);
        count(r, b);
        pos += b.consumed;
        if (b.stop) {
            r.stopped = true;
            break;
        }
        const bool last = end == size;
        if (b.error != itch::FrameError::None && (last || !partial(b.error))) {
            r.ok = false;
            r.error = frame_error_at(b.error, pos);
            break;
        }
        if (b.error == itch::FrameError::None && last) break;
        // Pages wholly behind the consumer are done with: out of the
        // process's resident set (they stay in the page cache).
        const std::uint64_t done = pos / page * page;
        if (done > dropped) {
            ::madvise(const_cast<std::uint8_t*>(bytes) + dropped, done - dropped, MADV_DONTNEED);
            dropped = done;
        }
        if (opt.progress) opt.progress(pos, size);
        if (stop_requested(opt)) {
            r.stopped = true;
            break;
        }
    }
    r.bytes = pos;
    ::munmap(p, size);
    return true;
}

}  // namespace detail

inline bool is_gzip_magic(const std::uint8_t* p, std::size_t n) noexcept {
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

// An input opened for reading: a plain regular file to map, or a stream
// whose first bytes have been read (for the gzip check) and are kept.
class ItchInput {
public:
    // Opens `path` ("-": standard input) and looks at its first bytes.
    ItchInput(const std::string& path, const ReadOptions& opt = {}) {
        if (path == "-") {
            in_.fd = STDIN_FILENO;
        } else {
            // Opening a FIFO waits for a writer; a stop request ends the wait.
            while ((in_.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR) {
                if (detail::stop_requested(opt)) {
                    stopped_ = true;
                    return;
                }
            }
            in_.owned = true;
        }
        if (in_.fd < 0) {
            fail("cannot open");
            return;
        }
        struct stat st {};
        if (::fstat(in_.fd, &st) != 0) {
            fail("cannot stat");
            return;
        }
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            fail("cannot read");
            return;
        }
        regular_ = S_ISREG(st.st_mode);
        size_ = regular_ ? static_cast<std::uint64_t>(st.st_size) : 0;
        head_.resize(2);
        long got;
        if (regular_ && size_ > 0) {
            // pread: the descriptor stays at 0, so a stream can start there.
            got = ::pread(in_.fd, head_.data(), 2, 0);
            if (got < 0) {
                fail("cannot read");
                return;
            }
            gzip_ = is_gzip_magic(head_.data(), static_cast<std::size_t>(got));
            got = 0;
        } else {
            got = detail::read_some(in_.fd, head_.data(), 2, opt);
            if (got < 0) {
                fail("cannot read");
                return;
            }
            gzip_ = is_gzip_magic(head_.data(), static_cast<std::size_t>(got));
        }
        head_.resize(static_cast<std::size_t>(got));
    }

    [[nodiscard]] bool ok() const noexcept { return error_.empty() && !stopped_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }  // what failed (an I/O error)
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }            // a stop request came first
    [[nodiscard]] int fd() const noexcept { return in_.fd; }
    [[nodiscard]] bool gzip() const noexcept { return gzip_; }
    // A plain regular file with something in it: it can be mapped.
    [[nodiscard]] bool mappable() const noexcept { return regular_ && size_ > 0 && !gzip_; }
    // Its size (0 when not a regular file).
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    // The bytes a stream's first read took, which the stream must start with.
    [[nodiscard]] std::vector<std::uint8_t> take_head() noexcept { return std::move(head_); }

private:
    void fail(const char* what) { error_ = std::string(what) + ": " + std::strerror(errno); }

    detail::InputFd in_;
    std::string error_;
    bool stopped_ = false;
    bool regular_ = false;
    bool gzip_ = false;
    std::uint64_t size_ = 0;
    std::vector<std::uint8_t> head_;
};

template <class B>
ReadResult read_itch_blocks(const std::string& path, B&& on_block, const ReadOptions& opt = {}) {
    ReadResult r;
    ItchInput in(path, opt);
    if (in.stopped()) {
        r.stopped = true;
        return r;
    }
    if (!in.ok()) {
        r.ok = false;
        r.io_error = true;
        r.error = in.error();
        return r;
    }
    r.gzip = in.gzip();
    if (in.mappable() && detail::read_mapped(in.fd(), in.size(), on_block, r, opt)) return r;
    // Anything else, or a file that could not be mapped, is streamed.
    if (in.gzip()) {
        GzipSource src(in.fd(), in.take_head());
        detail::read_buffered(src, in.size(), on_block, r, opt);
    } else {
        PlainSource src(in.fd(), in.take_head());
        detail::read_buffered(src, in.size(), on_block, r, opt);
    }
    return r;
}

template <class F>
ReadResult read_itch(const std::string& path, F&& on_message, const ReadOptions& opt = {}) {
    return read_itch_blocks(
        path,
        [&](std::span<const std::uint8_t> data, std::uint64_t offset) { return frame_block(data, offset, on_message); },
        opt);
}

}  // namespace nexus::feed

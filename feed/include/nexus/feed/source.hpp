// nexus/feed/source.hpp — ITCH files from disk: memory-mapped when plain,
// streamed through zlib when gzipped (detected by the gzip magic bytes).
//
// read_itch(path, on_message, opts) frames every message and calls
// on_message(const itch::Message&), which returns false to stop early.
// Messages point into the mapping (plain) or into the current decompressed
// chunk (gzip): valid only during the call.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nexus/feed/itch.hpp"

namespace nexus::feed {

struct ReadResult {
    bool ok = true;               // false: framing or I/O error (see error)
    bool stopped = false;         // the callback or the stop flag ended it early
    bool io_error = false;        // could not open, map or read the file (not a format error)
    std::string error;            // what and where (byte offset)
    std::uint64_t bytes = 0;      // stream bytes framed (decompressed for gzip)
    std::uint64_t messages = 0;   // known messages delivered
    std::uint64_t unknown = 0;    // unknown types skipped
    bool gzip = false;
};

struct ReadOptions {
    const std::atomic<bool>* stop = nullptr;  // checked between chunks / every 64k messages
    // Called now and then with (input bytes read, input size).
    std::function<void(std::uint64_t, std::uint64_t)> progress;
};

namespace detail {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

template <class F>
bool frame_all(itch::Framer& f, F& on_message, ReadResult& r, const ReadOptions& opt) {
    itch::Message m;
    while (f.next(m)) {
        ++r.messages;
        if (!on_message(m)) {
            r.stopped = true;
            return false;
        }
        if ((r.messages & 0xFFFF) == 0 && opt.stop && opt.stop->load(std::memory_order_relaxed)) {
            r.stopped = true;
            return false;
        }
    }
    return true;
}

}  // namespace detail

inline bool is_gzip_file(const std::string& path) {
    unsigned char magic[2] = {0, 0};
    detail::Fd fd{::open(path.c_str(), O_RDONLY)};
    return fd.fd >= 0 && ::read(fd.fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

template <class F>
ReadResult read_itch(const std::string& path, F&& on_message, const ReadOptions& opt = {}) {
    ReadResult r;
    detail::Fd fd{::open(path.c_str(), O_RDONLY)};
    if (fd.fd < 0) {
        r.ok = false;
        r.io_error = true;
        r.error = "cannot open " + path + ": " + std::strerror(errno);
        return r;
    }
    struct stat st {};
    ::fstat(fd.fd, &st);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    r.gzip = is_gzip_file(path);

    if (!r.gzip) {
        if (size == 0) return r;
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
        if (p == MAP_FAILED) {
            r.ok = false;
            r.io_error = true;
            r.error = "cannot map " + path + ": " + std::strerror(errno);
            return r;
        }
        ::madvise(p, size, MADV_SEQUENTIAL);
        const auto* bytes = static_cast<const std::uint8_t*>(p);
        // Frame in slices so progress and the stop flag are seen on big files.
        constexpr std::uint64_t kSlice = std::uint64_t{64} << 20;
        std::uint64_t pos = 0;
        while (pos < size) {
            const std::uint64_t end = pos + kSlice < size ? pos + kSlice : size;
            itch::Framer f({bytes + pos, static_cast<std::size_t>(end - pos)}, pos);
            const bool go_on = detail::frame_all(f, on_message, r, opt);
            r.unknown += f.unknown_skipped();
            pos += f.consumed();
            if (!go_on) break;
            const bool last = end == size;
            const bool partial = f.error() == itch::FrameError::TruncatedMessage ||
                                 f.error() == itch::FrameError::TruncatedLength;
            if (f.error() != itch::FrameError::None && (last || !partial)) {
                r.ok = false;
                r.error = f.error_message();
                break;
            }
            if (f.error() == itch::FrameError::None && last) break;
            if (opt.progress) opt.progress(pos, size);
            if (opt.stop && opt.stop->load(std::memory_order_relaxed)) {
                r.stopped = true;
                break;
            }
        }
        r.bytes = pos;
        ::munmap(p, size);
        return r;
    }

    // gzip: inflate into a buffer; a message cut by the buffer's end is
    // carried to the front of the next round.
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        r.ok = false;
        r.error = "zlib initialisation failed";
        return r;
    }
    std::vector<std::uint8_t> in(1 << 20), out(4 << 20);
    std::size_t carry = 0;           // undelivered bytes at the front of `out`
    std::uint64_t stream_pos = 0;    // decompressed offset of out[0]
    std::uint64_t in_total = 0;
    bool eof = false, zend = false;
    for (;;) {
        if (zs.avail_in == 0 && !eof) {
            const ssize_t n = ::read(fd.fd, in.data(), in.size());
            if (n < 0) {
                r.ok = false;
                r.io_error = true;
                r.error = std::string("read error: ") + std::strerror(errno);
                break;
            }
            if (n == 0) {
                eof = true;
            } else {
                zs.next_in = in.data();
                zs.avail_in = static_cast<uInt>(n);
                in_total += static_cast<std::uint64_t>(n);
            }
        }
        if (zend) {  // a gzip member ended; another may follow (concatenated files)
            if (zs.avail_in == 0) {
                if (eof) break;
                continue;
            }
            inflateReset(&zs);
            zend = false;
        }
        zs.next_out = out.data() + carry;
        zs.avail_out = static_cast<uInt>(out.size() - carry);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            zend = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            r.ok = false;
            r.error = std::string("corrupt gzip stream (") + (zs.msg ? zs.msg : "inflate error") +
                      ") at compressed byte offset " + std::to_string(in_total - zs.avail_in) + ", after " +
                      std::to_string(stream_pos + carry) + " decompressed bytes";
            break;
        }
        const std::size_t have = out.size() - zs.avail_out;
        const bool produced = have > carry;
        itch::Framer f({out.data(), have}, stream_pos);
        const bool go_on = detail::frame_all(f, on_message, r, opt);
        r.unknown += f.unknown_skipped();
        if (!go_on) break;
        const bool partial = f.error() == itch::FrameError::TruncatedMessage ||
                             f.error() == itch::FrameError::TruncatedLength;
        if (f.error() != itch::FrameError::None && !partial) {
            r.ok = false;
            r.error = f.error_message();
            break;
        }
        const std::size_t used = f.consumed();
        carry = have - used;
        std::memmove(out.data(), out.data() + used, carry);
        stream_pos += used;
        if (opt.progress) opt.progress(in_total - zs.avail_in, size);
        if (opt.stop && opt.stop->load(std::memory_order_relaxed)) {
            r.stopped = true;
            break;
        }
        if (!produced && !zend && eof && zs.avail_in == 0) break;  // input exhausted mid-stream
    }
    if (r.ok && !r.stopped) {
        if (!zend) {
            r.ok = false;
            r.error = "gzip stream ends early (truncated file) after " + std::to_string(stream_pos + carry) +
                      " decompressed bytes";
        } else if (carry != 0) {
            itch::Framer f({out.data(), carry}, stream_pos);
            itch::Message m;
            while (f.next(m)) {
            }
            r.ok = false;
            r.error = f.error_message();
        }
    }
    r.bytes = stream_pos;
    inflateEnd(&zs);
    return r;
}

}  // namespace nexus::feed

// nexus/engine/posix_file.hpp — a file descriptor that knows its path, so
// that every failure of the engine's files says which file it is about.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace nexus::engine {

// Any failure of a journal-directory file: the message starts with the path.
class JournalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class PosixFile {
public:
    PosixFile() = default;
    // open(2); throws JournalError naming the path.
    PosixFile(std::string path, int flags, mode_t mode = 0644) : path_(std::move(path)) {
        fd_ = ::open(path_.c_str(), flags | O_CLOEXEC, mode);
        if (fd_ < 0) fail("cannot open");
    }
    PosixFile(const PosixFile&) = delete;
    PosixFile& operator=(const PosixFile&) = delete;
    PosixFile(PosixFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}
    PosixFile& operator=(PosixFile&& o) noexcept {
        if (this != &o) {
            close();
            path_ = std::move(o.path_);
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~PosixFile() { close(); }

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    void write_all(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("write failed");
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    // Reads up to n bytes (fewer only at the end of the file).
    std::size_t read_some(void* data, std::size_t n) {
        auto* p = static_cast<std::uint8_t*>(data);
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::read(fd_, p + got, n - got);
            if (r < 0) {
                if (errno == EINTR) continue;
                fail("read failed");
            }
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }
    // Reads up to n bytes at `offset` (fewer only at the end of the file).
    std::size_t pread_some(void* data, std::size_t n, std::uint64_t offset) const {
        auto* p = static_cast<std::uint8_t*>(data);
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::pread(fd_, p + got, n - got, static_cast<off_t>(offset + got));
            if (r < 0) {
                if (errno == EINTR) continue;
                fail("read failed");
            }
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }
    [[nodiscard]] std::uint64_t size() const {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail("fstat failed");
        return static_cast<std::uint64_t>(st.st_size);
    }
    void truncate(std::uint64_t length) {
        if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) fail("cannot truncate");
    }
    void datasync() {
        if (::fdatasync(fd_) != 0) fail("fdatasync failed");
    }

    [[noreturn]] void fail(const char* what) const {
        throw JournalError(path_ + ": " + what + ": " + std::strerror(errno));
    }

private:
    std::string path_;
    int fd_ = -1;
};

// fsync(2) of a directory, so that files created or renamed in it survive a
// power loss.
void sync_directory(const std::string& dir);

// write(2) of all n bytes (retried after EINTR and short writes); throws
// std::runtime_error naming `what` if the write fails.
void write_fd_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what);

}  // namespace nexus::engine

// nexus/feed/line_reader.hpp — lines of a text file, read in large blocks.
//
// Reads a file descriptor (a file, a pipe or a FIFO) with read(2) into one
// buffer and hands out each line as a string_view into it, so a line costs a
// memchr and no copy; or walks text already in memory (tests, fuzzing). A
// trailing '\r' (CRLF files) is dropped, and a UTF-8 byte order mark before
// the first line. The last line may lack its '\n'.
//
// A line longer than the buffer is an error (a CSV row of LOBSTER's widest
// files is a few kilobytes; the buffer holds megabytes), as is a read error:
// next() returns false and error() says what, naming the file and the line.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace nexus::feed {

class LineReader {
public:
    static constexpr std::size_t kBufferBytes = std::size_t{4} << 20;

    // Opens `path` ("-" is standard input); is_open() says if that worked.
    explicit LineReader(std::string path) : name_(std::move(path)) {
        fd_ = name_ == "-" ? STDIN_FILENO : ::open(name_.c_str(), O_RDONLY | O_CLOEXEC);
        owns_fd_ = name_ != "-";
        if (fd_ < 0) {
            error_ = "cannot open " + name_ + ": " + std::strerror(errno);
            io_error_ = true;
            return;
        }
        // open(2) accepts a directory and only read(2) refuses it: said here,
        // so that the file named in the error is the one given.
        struct stat st {};
        if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
            error_ = "cannot open " + name_ + ": " + std::strerror(EISDIR);
            io_error_ = true;
            return;
        }
        open_ = true;
        buf_ = std::make_unique_for_overwrite<char[]>(kBufferBytes);
        data_ = buf_.get();
    }
    // Walks `text` (not copied: it must outlive the reader), named `name` in errors.
    LineReader(std::string name, std::string_view text)
        : name_(std::move(name)), open_(true), data_(text.data()), end_(text.size()), eof_(true) {}

    LineReader(std::string, std::string&&) = delete;  // the text would not outlive the reader
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;
    ~LineReader() {
        if (owns_fd_ && fd_ >= 0) ::close(fd_);
    }

    [[nodiscard]] bool is_open() const noexcept { return open_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    // Number of the line last returned (1-based).
    [[nodiscard]] std::uint64_t line() const noexcept { return line_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    // The error was the system's (open or read), not the content's.
    [[nodiscard]] bool io_error() const noexcept { return io_error_; }
    // Bytes handed out so far, newlines included.
    [[nodiscard]] std::uint64_t bytes() const noexcept { return consumed_ + pos_; }

    // The next line, without its end-of-line; false at the end or on an error.
    bool next(std::string_view& line) {
        if (!error_.empty()) return false;
        for (;;) {
            const char* start = data_ + pos_;
            const std::size_t left = end_ - pos_;
            if (left == 0) {  // (memchr may not be given the null pointer of empty text)
                if (eof_) return false;
                if (!refill()) return false;
                continue;
            }
            if (const void* nl = std::memchr(start, '\n', left)) {
                auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);  // nl is at or after start
                pos_ += len + 1;
                return deliver(start, len, line);
            }
            if (eof_) {
                pos_ = end_;
                return deliver(start, left, line);
            }
            if (!refill()) return false;
        }
    }

private:
    static constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

    bool deliver(const char* start, std::size_t len, std::string_view& line) noexcept {
        if (len > 0 && start[len - 1] == '\r') --len;
        // A UTF-8 byte order mark, as spreadsheet programs write before line 1.
        if (line_ == 0 && std::string_view(start, len).starts_with(kByteOrderMark)) {
            start += kByteOrderMark.size();
            len -= kByteOrderMark.size();
        }
        line = std::string_view(start, len);
        ++line_;
        return true;
    }
    // Moves the unread tail to the front and reads more after it.
    bool refill() {
        const std::size_t tail = end_ - pos_;
        if (tail == kBufferBytes) {
            error_ = name_ + ": line " + std::to_string(line_ + 1) + ": longer than " +
                     std::to_string(kBufferBytes >> 20) + " MiB (not a LOBSTER file?)";
            return false;
        }
        std::memmove(buf_.get(), buf_.get() + pos_, tail);
        consumed_ += pos_;
        pos_ = 0;
        end_ = tail;
        for (;;) {
            const ssize_t n = ::read(fd_, buf_.get() + end_, kBufferBytes - end_);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                error_ = "cannot read " + name_ + " after line " + std::to_string(line_) + ": " + std::strerror(errno);
                io_error_ = true;
                return false;
            }
            if (n == 0) eof_ = true;
            end_ += static_cast<std::size_t>(n);
            return true;
        }
    }

    std::string name_;
    int fd_ = -1;
    bool owns_fd_ = false;
    bool open_ = false;
    std::unique_ptr<char[]> buf_;
    const char* data_ = nullptr;
    std::size_t pos_ = 0;  // next unread byte
    std::size_t end_ = 0;  // bytes held
    std::uint64_t consumed_ = 0;
    bool eof_ = false;
    std::uint64_t line_ = 0;
    std::string error_;
    bool io_error_ = false;
};

}  // namespace nexus::feed

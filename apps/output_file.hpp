// An output file of nexus-replay (--bbo, --snapshot): opened before the work
// starts, so a path that cannot be written is a usage error up front rather
// than a lost result at the end; every write error, including one reported
// only when the file is closed (a full disk), is caught and named.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace nexus::apps {

class OutputFile {
public:
    OutputFile() = default;
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;
    ~OutputFile() {
        if (f_) std::fclose(f_);
    }

    // Creates (or truncates) `path`; "" leaves the output off. Refuses a path
    // that is the input file itself ("-": whatever standard input is), or
    // the file of another output already open. Returns "" or the error.
    std::string open(const std::string& path, const std::string& input, const OutputFile* other = nullptr) {
        path_ = path;
        if (path.empty()) return {};
        struct stat out_st {
        }, in_st{};
        if (::stat(path.c_str(), &out_st) == 0) {
            const bool have_input =
                input == "-" ? ::fstat(STDIN_FILENO, &in_st) == 0 : ::stat(input.c_str(), &in_st) == 0;
            if (have_input && same_file(out_st, in_st)) return path + ": is the input file; refusing to overwrite it";
            struct stat other_st {};
            if (other != nullptr && other->f_ != nullptr && ::fstat(::fileno(other->f_), &other_st) == 0 &&
                same_file(out_st, other_st))
                return path + ": is the same file as the other output, " + other->path_ +
                       "; give each output a file of its own";
        }
        f_ = std::fopen(path.c_str(), "w");
        if (!f_) return path + ": cannot write: " + std::strerror(errno);
        return {};
    }
    [[nodiscard]] bool enabled() const noexcept { return f_ != nullptr; }
    [[nodiscard]] std::FILE* get() const noexcept { return f_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

    // Flushes and closes; returns "" or the write error, naming the file.
    std::string close() {
        if (!f_) return {};
        const bool bad = std::ferror(f_) != 0;
        const int saved = errno;
        const bool close_failed = std::fclose(f_) != 0;
        f_ = nullptr;
        if (bad || close_failed) return path_ + ": write error: " + std::strerror(close_failed ? errno : saved);
        return {};
    }

private:
    static bool same_file(const struct stat& a, const struct stat& b) noexcept {
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    }

    std::string path_;
    std::FILE* f_ = nullptr;
};

}  // namespace nexus::apps

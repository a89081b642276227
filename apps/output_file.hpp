// An output file of nexus-replay (--bbo, --snapshot): opened before the work
// starts, so a path that cannot be written is a usage error up front rather
// than a lost result at the end; every write error, including one reported
// only when the file is closed (a full disk), is caught and named.
#pragma once

#include <sys/stat.h>

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
    // that is the input file itself. Returns "" or the error.
    std::string open(const std::string& path, const std::string& input) {
        path_ = path;
        if (path.empty()) return {};
        struct stat out_st {}, in_st {};
        if (::stat(path.c_str(), &out_st) == 0 && ::stat(input.c_str(), &in_st) == 0 && out_st.st_dev == in_st.st_dev &&
            out_st.st_ino == in_st.st_ino)
            return path + ": is the input file; refusing to overwrite it";
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
    std::string path_;
    std::FILE* f_ = nullptr;
};

}  // namespace nexus::apps

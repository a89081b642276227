// Files for the feed tests: a scratch directory removed at the end of the
// test, and whole files written and read back.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace nexus::test {

// A directory of its own under the system's temporary directory (named by
// tag and process: ctest runs each test case in a process of its own).
struct TempDir {
    std::filesystem::path dir;
    explicit TempDir(const std::string& tag)
        : dir(std::filesystem::temp_directory_path() / ("nexus-" + tag + "-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() { std::filesystem::remove_all(dir); }
    std::string path(const std::string& name) const { return (dir / name).string(); }
    // Writes `text` to the file `name` here; returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        const std::string p = path(name);
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }
};

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace nexus::test

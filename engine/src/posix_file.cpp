// engine/src/posix_file.cpp — whole-buffer writes and directory syncs.
#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

void sync_directory(const std::string& dir) {
    PosixFile d(dir, O_RDONLY | O_DIRECTORY);
    if (::fsync(d.fd()) != 0) d.fail("fsync of the directory failed");
}

void write_fd_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(what + ": write failed: " + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

}  // namespace nexus::engine

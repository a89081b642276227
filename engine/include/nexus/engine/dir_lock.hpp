// nexus/engine/dir_lock.hpp — one engine per journal directory.
//
// An engine holds an exclusive flock(2) on `<journal_dir>/LOCK` for as long
// as it runs and writes its pid into the file; a second engine (another
// process, or a second Server in the same process) is refused with a message
// naming the holder's pid. The kernel drops the lock when its holder exits,
// however it exits (kill -9 included), so a stale lock never blocks a
// restart. --recover-only takes a shared lock on an existing LOCK file (and
// creates nothing): it does not read a journal an engine is writing.
#pragma once

#include <sys/file.h>

#include <optional>
#include <string>

#include "nexus/engine/posix_file.hpp"

namespace nexus::engine {

class DirectoryLock {
public:
    // Takes the exclusive lock (creating LOCK if needed) or throws.
    static DirectoryLock exclusive(const std::string& dir) {
        DirectoryLock l(PosixFile(path_in(dir), O_RDWR | O_CREAT));
        l.acquire(LOCK_EX, dir);
        const std::string pid = std::to_string(::getpid()) + "\n";
        l.file_.truncate(0);
        if (::pwrite(l.file_.fd(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
            l.file_.fail("cannot write the pid");
        return l;
    }
    // Takes a shared lock if LOCK exists (nothing to lock otherwise), or throws.
    static std::optional<DirectoryLock> shared_if_present(const std::string& dir) {
        const std::string path = path_in(dir);
        if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
        DirectoryLock l(PosixFile(path, O_RDONLY));
        l.acquire(LOCK_SH, dir);
        return l;
    }
    static std::string path_in(const std::string& dir) { return dir + "/LOCK"; }

private:
    explicit DirectoryLock(PosixFile f) : file_(std::move(f)) {}
    void acquire(int how, const std::string& dir) {
        if (::flock(file_.fd(), how | LOCK_NB) == 0) return;
        if (errno != EWOULDBLOCK) file_.fail("flock failed");
        char b[32] = {};
        const auto n = ::pread(file_.fd(), b, sizeof b - 1, 0);
        std::string pid = n > 0 ? std::string(b, static_cast<std::size_t>(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        throw JournalError(dir + ": journal directory in use by another nexus-engine (pid " +
                           (pid.empty() ? "unknown" : pid) + ", holding " + file_.path() + ")" +
                           (how == LOCK_EX ? ", or a --recover-only reading it" : "") +
                           "; one engine per journal directory");
    }
    PosixFile file_;
};

}  // namespace nexus::engine

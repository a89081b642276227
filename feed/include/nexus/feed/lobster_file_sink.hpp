// nexus/feed/lobster_file_sink.hpp — the exporter's files on disk, named as
// LOBSTER names them: TICKER_DATE_START_END_message_N.csv and
// TICKER_DATE_START_END_orderbook_N.csv (START and END in milliseconds after
// midnight, N the levels).
//
// A file is created (truncated) on its first write and appended to after.
// With thousands of symbols, at most kMaxOpen descriptors stay open: the
// least recently written is closed and reopened for appending when needed.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nexus/feed/lobster_exporter.hpp"

namespace nexus::feed::lobster {

// "AAPL_2012-06-21_34200000_57600000_message_10.csv"
inline std::string file_name(std::string_view symbol, std::string_view date, std::int64_t from_ns, std::int64_t to_ns,
                             FileKind kind, std::size_t levels) {
    const std::int64_t ms = kNanosPerSecond / 1000;
    return std::string(symbol) + "_" + std::string(date) + "_" + std::to_string(from_ns / ms) + "_" +
           std::to_string(to_ns / ms) + (kind == FileKind::Message ? "_message_" : "_orderbook_") +
           std::to_string(levels) + ".csv";
}

class FileSink : public ExportSink {
public:
    static constexpr std::size_t kMaxOpen = 128;

    FileSink(std::string dir, std::string date, std::int64_t from_ns, std::int64_t to_ns, std::size_t levels)
        : dir_(std::move(dir)), date_(std::move(date)), from_ns_(from_ns), to_ns_(to_ns), levels_(levels) {}
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;
    ~FileSink() override { close(); }

    [[nodiscard]] std::string path(std::string_view symbol, FileKind kind) const {
        return dir_ + "/" + file_name(symbol, date_, from_ns_, to_ns_, kind, levels_);
    }

    bool write(std::string_view symbol, FileKind kind, std::string_view bytes) override {
        const std::string p = path(symbol, kind);
        const int fd = open_file(p);
        if (fd < 0) return false;
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                error_ = "cannot write " + p + ": " + std::strerror(n < 0 ? errno : EIO);
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Closes every file; false (with error()) if one could not be closed.
    bool close() {
        bool ok = true;
        for (auto& [p, f] : open_) {
            if (::close(f.fd) != 0 && ok) {
                error_ = "cannot close " + p + ": " + std::strerror(errno);
                ok = false;
            }
        }
        open_.clear();
        return ok;
    }
    // Every file written, in creation order.
    [[nodiscard]] const std::vector<std::string>& files() const noexcept { return created_order_; }

private:
    struct Open {
        int fd;
        std::uint64_t used;
    };
    int open_file(const std::string& p) {
        if (auto it = open_.find(p); it != open_.end()) {
            it->second.used = ++clock_;
            return it->second.fd;
        }
        if (open_.size() >= kMaxOpen) {
            auto lru = open_.begin();
            for (auto it = open_.begin(); it != open_.end(); ++it)
                if (it->second.used < lru->second.used) lru = it;
            ::close(lru->second.fd);
            open_.erase(lru);
        }
        const bool first = created_.insert(p).second;
        const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (first ? O_TRUNC : O_APPEND), 0644);
        if (fd < 0) {
            error_ = "cannot create " + p + ": " + std::strerror(errno);
            return -1;
        }
        if (first) created_order_.push_back(p);
        open_.emplace(p, Open{fd, ++clock_});
        return fd;
    }

    std::string dir_, date_;
    std::int64_t from_ns_, to_ns_;
    std::size_t levels_;
    std::unordered_map<std::string, Open> open_;
    std::unordered_set<std::string> created_;
    std::vector<std::string> created_order_;
    std::uint64_t clock_ = 0;
};

}  // namespace nexus::feed::lobster

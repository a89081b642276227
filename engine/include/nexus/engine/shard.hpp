// nexus/engine/shard.hpp — one matching thread and its journal.
//
// The I/O thread pushes validated Commands; the shard thread takes them in
// batches, stamps and journals each, applies it to its ShardCore (its own
// slabs), commits the journal (write, or write + fdatasync), and only then
// publishes the batch's events and tells its listener (the server) so; its
// ITCH bytes follow in 64 KiB writes or when the shard is idle. With inline
// matching the I/O thread calls apply_inline()/commit_inline() itself and no
// thread runs.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/journal.hpp"

namespace nexus::engine {

inline std::uint64_t wall_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline void write_fd_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what) {
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

// Wakes a sleeping thread; costs no system call while the thread is awake.
// (std::atomic::wait/notify in libstdc++ 12 yields in a loop before it sleeps
// and may enter the kernel on every notify.)
class Doorbell {
public:
    std::uint32_t seen() const noexcept { return seq_.load(std::memory_order_seq_cst); }
    void ring() noexcept {
        seq_.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_seq_cst))
            ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
    // Sleeps unless the bell rang after `seen` was read.
    void wait(std::uint32_t seen) noexcept {
        sleeping_.store(true, std::memory_order_seq_cst);
        if (seq_.load(std::memory_order_seq_cst) == seen)
            ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
        sleeping_.store(false, std::memory_order_seq_cst);
    }

private:
    std::atomic<std::uint32_t> seq_{0};
    std::atomic<bool> sleeping_{false};
};
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);

class Shard;

// What a shard thread tells the I/O side (called on the shard thread).
class ShardListener {
public:
    virtual void events_ready(Shard& shard) = 0;
    virtual void shard_failed(Shard& shard, const std::string& why) = 0;

protected:
    ~ShardListener() = default;
};

class Shard {
public:
    Shard(const Config& cfg, unsigned index) : cfg_(cfg), index_(index), core_(cfg, index) {}

    ShardCore& core() noexcept { return core_; }
    const ShardCore& core() const noexcept { return core_; }
    unsigned index() const noexcept { return index_; }

    void open_journal(JournalWriter&& journal) { journal_.emplace(std::move(journal)); }
    // Records in the journal file (committed).
    std::uint64_t journal_records() const noexcept { return journal_ ? journal_->committed_records() : 0; }

    // Inline matching (I/O thread): journal and apply now; commit_inline()
    // commits the journal and hands back the events of everything applied.
    void apply_inline(Command c) {
        c.ts = wall_ns();
        journal_->append(c);
        core_.apply(c, inline_out_);
        ++inline_pending_;
    }
    [[nodiscard]] bool inline_pending() const noexcept { return inline_pending_ != 0; }
    // Returns the events to deliver (valid until the next call).
    const std::vector<std::uint8_t>& commit_inline(int itch_fd) {
        journal_->commit();  // before any acknowledgement leaves
        count_batch(inline_pending_, inline_out_);
        inline_pending_ = 0;
        inline_events_.swap(inline_out_.events);
        inline_out_.events.clear();
        inline_itch_.insert(inline_itch_.end(), inline_out_.itch.bytes().begin(), inline_out_.itch.bytes().end());
        inline_out_.itch.clear_bytes();
        if (itch_fd >= 0 && inline_itch_.size() >= (1 << 16)) flush_inline_itch(itch_fd);
        return inline_events_;
    }
    void flush_inline_itch(int itch_fd) {
        if (itch_fd >= 0 && !inline_itch_.empty()) write_fd_all(itch_fd, inline_itch_.data(), inline_itch_.size(), cfg_.itch_out);
        inline_itch_.clear();
    }

    // I/O thread: queue a command.
    void push(const Command& c) {
        std::size_t depth;
        {
            std::lock_guard lock(in_mu_);
            in_.push_back(c);
            depth = in_.size();
        }
        if (depth > max_depth_.load(std::memory_order_relaxed)) max_depth_.store(depth, std::memory_order_relaxed);
        bell_.ring();
    }

    void start(ShardListener& listener, int itch_fd) {
        thread_ = std::thread([this, &listener, itch_fd] { run(listener, itch_fd); });
    }
    // Asks the thread to finish what is queued and exit; joins it.
    void stop() {
        stop_.store(true, std::memory_order_release);
        bell_.ring();
        if (thread_.joinable()) thread_.join();
    }

    // I/O thread: takes the events the shard has published.
    void take_events(std::vector<std::uint8_t>& into) {
        std::lock_guard lock(out_mu_);
        into.swap(out_events_);
        posted_ = false;
    }

    // Counters (any thread).
    std::atomic<std::uint64_t> commands{0}, trades{0}, rejects{0}, commits{0}, journal_bytes{0}, max_batch{0};
    std::size_t max_depth() const noexcept { return max_depth_.load(std::memory_order_relaxed); }
    std::size_t depth() {
        std::lock_guard lock(in_mu_);
        return in_.size();
    }

private:
    void run(ShardListener& listener, int itch_fd) {
        std::vector<Command> batch;
        std::vector<std::uint8_t> itch;
        CoreOut out;
        out.events.reserve(1 << 16);
        try {
            for (;;) {
                {
                    std::lock_guard lock(in_mu_);
                    batch.swap(in_);
                }
                if (batch.empty()) {
                    // Idle: the market data waiting in memory goes to the file now.
                    if (itch_fd >= 0 && !itch.empty()) {
                        write_fd_all(itch_fd, itch.data(), itch.size(), cfg_.itch_out);
                        itch.clear();
                    }
                    if (stop_.load(std::memory_order_acquire)) {
                        std::lock_guard lock(in_mu_);
                        if (in_.empty()) break;
                        continue;
                    }
                    const std::uint32_t seen = bell_.seen();
                    {
                        std::lock_guard lock(in_mu_);
                        if (!in_.empty()) continue;
                    }
                    // Spin a little (a command usually follows soon under load), then sleep.
                    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(cfg_.spin_us);
                    bool woke = false;
                    while (std::chrono::steady_clock::now() < until) {
                        if (bell_.seen() != seen) {
                            woke = true;
                            break;
                        }
                        __builtin_ia32_pause();
                    }
                    if (!woke) bell_.wait(seen);
                    continue;
                }
                for (Command& c : batch) {
                    c.ts = wall_ns();
                    journal_->append(c);
                    core_.apply(c, out);
                }
                journal_->commit();  // before any acknowledgement of the batch leaves
                count_batch(batch.size(), out);
                bool post = false;
                {
                    std::lock_guard lock(out_mu_);
                    out_events_.insert(out_events_.end(), out.events.begin(), out.events.end());
                    if (!posted_) post = posted_ = true;
                }
                if (post) listener.events_ready(*this);
                // Market data is not on the acknowledgement path: it is appended to
                // the file in 64 KiB writes, and whenever the shard runs out of work.
                // (The file is rebuilt from the journal at start-up, so a crash
                // cannot leave it short of what the journal holds.)
                itch.insert(itch.end(), out.itch.bytes().begin(), out.itch.bytes().end());
                if (itch_fd >= 0 && itch.size() >= (1 << 16)) {
                    write_fd_all(itch_fd, itch.data(), itch.size(), cfg_.itch_out);
                    itch.clear();
                }
                out.events.clear();
                out.itch.clear_bytes();
                batch.clear();
            }
        } catch (const std::exception& e) {
            listener.shard_failed(*this, e.what());
        }
    }
    // After a commit: the counters the I/O thread reads.
    void count_batch(std::size_t n, const CoreOut& out) {
        commands.fetch_add(n, std::memory_order_relaxed);
        if (n > max_batch.load(std::memory_order_relaxed)) max_batch.store(n, std::memory_order_relaxed);
        trades.store(out.trades, std::memory_order_relaxed);
        rejects.store(out.rejects, std::memory_order_relaxed);
        commits.store(journal_->commits(), std::memory_order_relaxed);
        journal_bytes.store(journal_->bytes(), std::memory_order_relaxed);
    }

    const Config& cfg_;
    unsigned index_;
    ShardCore core_;
    std::optional<JournalWriter> journal_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex in_mu_;
    std::vector<Command> in_;
    Doorbell bell_;
    std::atomic<std::size_t> max_depth_{0};
    std::mutex out_mu_;
    std::vector<std::uint8_t> out_events_;
    bool posted_ = false;
    CoreOut inline_out_;
    std::vector<std::uint8_t> inline_events_, inline_itch_;
    std::size_t inline_pending_ = 0;
};

}  // namespace nexus::engine

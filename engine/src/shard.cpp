// engine/src/shard.cpp — the shard thread's loop and the inline path: both
// journal, apply, commit, and only then release a batch's answers.
#include "shard.hpp"

#include <chrono>

#include "nexus/engine/posix_file.hpp"
#include "wall_clock.hpp"

namespace nexus::engine {

namespace {
// Market data is not on the acknowledgement path: it goes to the file in
// writes of at least this much, and whenever a shard runs out of work.
constexpr std::size_t kItchWriteSize = 1 << 16;
}  // namespace

void Shard::apply_inline(Command c) {
    c.ts = wall_ns();
    journal_->append(c);
    core_.apply(c, inline_out_);
    ++inline_pending_;
}

const std::vector<std::uint8_t>& Shard::commit_inline(int itch_fd) {
    journal_->commit();  // before any acknowledgement leaves
    count_batch(inline_pending_, inline_out_);
    inline_pending_ = 0;
    inline_events_.swap(inline_out_.encoded);
    inline_out_.encoded.clear();
    inline_itch_.insert(inline_itch_.end(), inline_out_.itch.bytes().begin(), inline_out_.itch.bytes().end());
    inline_out_.itch.clear_bytes();
    if (itch_fd >= 0 && inline_itch_.size() >= kItchWriteSize) flush_inline_itch(itch_fd);
    return inline_events_;
}

void Shard::flush_inline_itch(int itch_fd) {
    if (itch_fd >= 0 && !inline_itch_.empty())
        write_fd_all(itch_fd, inline_itch_.data(), inline_itch_.size(), cfg_.itch_out);
    inline_itch_.clear();
}

void Shard::push(const Command& c) {
    std::size_t depth;
    {
        std::lock_guard lock(in_mu_);
        in_.push_back(c);
        depth = in_.size();
    }
    if (depth > max_depth_.load(std::memory_order_relaxed)) max_depth_.store(depth, std::memory_order_relaxed);
    bell_.ring();
}

void Shard::start(ShardListener& listener, int itch_fd) {
    thread_ = std::thread([this, &listener, itch_fd] { run(listener, itch_fd); });
}

void Shard::stop() {
    stop_.store(true, std::memory_order_release);
    bell_.ring();
    if (thread_.joinable()) thread_.join();
}

void Shard::take_events(std::vector<std::uint8_t>& into) {
    std::lock_guard lock(out_mu_);
    into.swap(out_events_);
    posted_ = false;
}

std::size_t Shard::depth() {
    std::lock_guard lock(in_mu_);
    return in_.size();
}

void Shard::wait_for_work() {
    const std::uint32_t seen = bell_.seen();
    {
        std::lock_guard lock(in_mu_);
        if (!in_.empty()) return;
    }
    // Spin a little (a command usually follows soon under load), then sleep.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(cfg_.spin_us);
    while (std::chrono::steady_clock::now() < until) {
        if (bell_.seen() != seen) return;
        __builtin_ia32_pause();
    }
    bell_.wait(seen);
}

void Shard::run(ShardListener& listener, int itch_fd) {
    std::vector<Command> batch;
    std::vector<std::uint8_t> itch;
    CoreOut out(encoder_);
    out.encoded.reserve(1 << 16);
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
                wait_for_work();
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
                out_events_.insert(out_events_.end(), out.encoded.begin(), out.encoded.end());
                if (!posted_) post = posted_ = true;
            }
            if (post) listener.events_ready(*this);
            // The ITCH file is rebuilt from the journal at start-up, so a
            // crash cannot leave it short of what the journal holds.
            itch.insert(itch.end(), out.itch.bytes().begin(), out.itch.bytes().end());
            if (itch_fd >= 0 && itch.size() >= kItchWriteSize) {
                write_fd_all(itch_fd, itch.data(), itch.size(), cfg_.itch_out);
                itch.clear();
            }
            out.encoded.clear();
            out.itch.clear_bytes();
            batch.clear();
        }
    } catch (const std::exception& e) {
        listener.shard_failed(*this, e.what());
    }
}

void Shard::count_batch(std::size_t n, const CoreOut& out) {
    commands.fetch_add(n, std::memory_order_relaxed);
    if (n > max_batch.load(std::memory_order_relaxed)) max_batch.store(n, std::memory_order_relaxed);
    trades.store(out.trades, std::memory_order_relaxed);
    rejects.store(out.rejects, std::memory_order_relaxed);
    commits.store(journal_->commits(), std::memory_order_relaxed);
    journal_bytes.store(journal_->bytes(), std::memory_order_relaxed);
}

}  // namespace nexus::engine

// engine/src/shard.hpp — one matching thread, its command queue and its
// journal (private to the engine library).
//
// The I/O thread pushes validated Commands; the shard thread takes them in
// batches, stamps and journals each, applies it to its ShardCore (its own
// slabs), commits the journal (write, or write + fdatasync), and only then
// publishes the batch's events and tells its listener (the server) so; its
// ITCH bytes follow in 64 KiB writes or when the shard is idle. With inline
// matching the I/O thread calls apply_inline()/commit_inline() itself and no
// thread runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "doorbell.hpp"
#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/event_codec.hpp"
#include "nexus/engine/journal.hpp"

namespace nexus::engine {

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
    Shard(const Config& cfg, unsigned index)
        : cfg_(cfg), index_(index), core_(cfg, index), encoder_(cfg), inline_out_(encoder_) {}

    ShardCore& core() noexcept { return core_; }
    const ShardCore& core() const noexcept { return core_; }
    unsigned index() const noexcept { return index_; }

    void open_journal(JournalWriter&& journal) { journal_.emplace(std::move(journal)); }
    // Records in the journal file (committed).
    std::uint64_t journal_records() const noexcept { return journal_ ? journal_->committed_records() : 0; }

    // Inline matching (I/O thread): journal and apply now; commit_inline()
    // commits the journal and hands back the events of everything applied.
    void apply_inline(Command c);
    [[nodiscard]] bool inline_pending() const noexcept { return inline_pending_ != 0; }
    // Returns the events to deliver (valid until the next call).
    const std::vector<std::uint8_t>& commit_inline(int itch_fd);
    void flush_inline_itch(int itch_fd);

    // I/O thread: queue a command.
    void push(const Command& c);

    void start(ShardListener& listener, int itch_fd);
    // Asks the thread to finish what is queued and exit; joins it.
    void stop();

    // I/O thread: takes the events the shard has published.
    void take_events(std::vector<std::uint8_t>& into);

    // Counters (any thread).
    std::atomic<std::uint64_t> commands{0}, trades{0}, rejects{0}, commits{0}, journal_bytes{0}, max_batch{0};
    std::size_t max_depth() const noexcept { return max_depth_.load(std::memory_order_relaxed); }
    std::size_t depth();

private:
    void run(ShardListener& listener, int itch_fd);
    // Idle: sleeps until a command is queued or stop() is called.
    void wait_for_work();
    // After a commit: the counters the I/O thread reads.
    void count_batch(std::size_t n, const CoreOut& out);

    const Config& cfg_;
    unsigned index_;
    ShardCore core_;
    EventEncoder encoder_;  // events to bytes for the I/O thread, as the core makes them
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

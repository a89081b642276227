// engine/src/doorbell.hpp — wakes a sleeping shard thread (private to the
// engine library).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace nexus::engine {

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
            ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr,
                      0);
        sleeping_.store(false, std::memory_order_seq_cst);
    }

private:
    std::atomic<std::uint32_t> seq_{0};
    std::atomic<bool> sleeping_{false};
};
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);

}  // namespace nexus::engine

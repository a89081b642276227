// Thread identity for the checks build's ownership diagnostics, and the
// per-thread state of the allocators' thread-exit teardown. Internal.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace nexus::slab::detail {

// The calling thread's kernel thread id (what `ps -L`, gdb and /proc show).
inline std::uint32_t kernel_thread_id() noexcept { return static_cast<std::uint32_t>(::syscall(SYS_gettid)); }

// The identity the checks build records in Slots and slabs: the thread's
// kernel id, cached per thread. A fork()ed child keeps the cache: its only
// thread carries on the thread that forked, with a copy of its slabs, Slots
// and Handles, which must stay its own (messages name the kernel id).
inline std::uint32_t& cached_thread_id() noexcept {
    static constinit thread_local std::uint32_t id = 0;
    return id;
}

[[gnu::cold, gnu::noinline]] inline std::uint32_t fetch_thread_id() noexcept {
    return cached_thread_id() = kernel_thread_id();
}

inline std::uint32_t this_thread_id() noexcept {
    const std::uint32_t id = cached_thread_id();
    return id != 0 ? id : fetch_thread_id();
}

// "thread 1234 'name'" (its name from /proc, if it is still running), for a
// diagnostic about to abort the process.
struct ThreadLabel {
    char text[64];
    explicit ThreadLabel(std::uint32_t tid) noexcept {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/self/task/%u/comm", tid);
        char name[32] = {};
        if (std::FILE* f = std::fopen(path, "r")) {
            if (std::fgets(name, sizeof name, f) == nullptr) name[0] = '\0';
            std::fclose(f);
            name[std::strcspn(name, "\n")] = '\0';
            std::snprintf(text, sizeof text, "thread %u '%s'", tid, name);
        } else {
            std::snprintf(text, sizeof text, "thread %u (no longer running)", tid);
        }
    }
};

// Where the calling thread is in its life, as far as per-thread allocators
// care: their values are destroyed when the thread exits, after which none of
// them can be initialised again on this thread.
enum class ThreadPhase : std::uint8_t { running, exiting, exited };

inline ThreadPhase& thread_phase() noexcept {
    static constinit thread_local ThreadPhase phase = ThreadPhase::running;
    return phase;
}

// T's name as the compiler spells it, for messages about direct slabs (which
// have no name of their own).
template <class T>
constexpr std::string_view type_name() noexcept {
    std::string_view f = __PRETTY_FUNCTION__;  // "... [with T = Foo; ...]" (g++) or "... [T = Foo]" (clang)
    const std::size_t at = f.find("T = ");
    if (at == std::string_view::npos) return "T";
    f.remove_prefix(at + 4);
    return f.substr(0, f.find_first_of(";]"));
}

}  // namespace nexus::slab::detail

// The teardown of a thread's per-thread allocators when the thread exits.
// Internal.
//
// All of a thread's allocators are torn down together, step by step (see
// core.hpp): every allocator marks its values doomed, then every allocator
// destroys the values it owns by key, then the rest, and only then does any
// allocator free its storage. A value in one allocator may therefore own
// Slots of another, in either direction and whatever order the allocators
// were initialised in: a Slot let go by a destructor always finds its slab
// still there. (Torn down one after the other, in reverse order of their
// first init, a parent allocator initialised before its children's would
// find the children's slab already freed.)
#pragma once

#include <vector>

#include "nexus/slab/detail/threads.hpp"

namespace nexus::slab::detail {

// One allocator's steps; each acts on the calling thread's slab of that
// allocator and does nothing if it is not initialised.
struct ExitSteps {
    void (*begin_teardown)() noexcept;
    void (*destroy_roots)() noexcept;
    void (*destroy_rest)() noexcept;
    void (*release_storage)() noexcept;
};

class ThreadExit {
public:
    ThreadExit() = default;
    ThreadExit(const ThreadExit&) = delete;
    ThreadExit& operator=(const ThreadExit&) = delete;

    void add(const ExitSteps* steps) { allocators_.push_back(steps); }

    ~ThreadExit() {
        thread_phase() = ThreadPhase::exiting;
        for (const ExitSteps* s : allocators_) s->begin_teardown();
        for (const ExitSteps* s : allocators_) s->destroy_roots();
        for (const ExitSteps* s : allocators_) s->destroy_rest();
        for (const ExitSteps* s : allocators_) s->release_storage();
        thread_phase() = ThreadPhase::exited;
    }

private:
    std::vector<const ExitSteps*> allocators_;  // every allocator this thread has initialised, once each
};

// Registers an allocator's steps with the calling thread's teardown (once per
// allocator and thread: the caller guards it). The ThreadExit object is made
// on the first registration, so it is destroyed after every thread_local
// made later and before every one made earlier.
inline void tear_down_at_thread_exit(const ExitSteps* steps) {
    static thread_local ThreadExit exit;
    exit.add(steps);
}

}  // namespace nexus::slab::detail

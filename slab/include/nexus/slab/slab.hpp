// nexus/slab/slab.hpp — everything in nexus::slab.
//
// A slab is a pool of same-typed cells with stable addresses: insert and
// remove are O(1) pointer pushes and pops on a free list, with no system call
// and no call into malloc after the slab is built (an unbounded slab allocates
// one chunk when it grows).
//
//   key.hpp        Key, the 4-byte cell index
//   direct.hpp     BoundedSlab<T>, UnboundedSlab<T>, Handle<T>
//   allocator.hpp  NEXUS_SLAB_ALLOCATOR: per-thread, per-type, 8-byte Slot
//   errors.hpp     exceptions, and the NEXUS_SLAB_CHECKS debug switch
//
// Memory: each cell holds a 4-byte tag (the key, or a vacant mark) before the
// value, padded to the value's alignment (at least 8), and at least 8 bytes of
// value storage; kOverheadPerValue<T> gives the bytes per value beyond sizeof(T).
#pragma once

#include "nexus/slab/allocator.hpp"
#include "nexus/slab/direct.hpp"
#include "nexus/slab/errors.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {
template <class T>
inline constexpr std::size_t kOverheadPerValue = detail::kOverheadPerValue<T>;
}

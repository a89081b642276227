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
// Memory: each cell holds an 8-byte header (its key, and whether it is vacant
// or who owns the value) before the value, padded to the value's alignment,
// and at least 8 bytes of value storage. Values of any alignment are placed
// correctly (chunks are allocated at the larger of 64 and the cell's
// alignment). kOverheadPerValue<T> gives the bytes per value beyond sizeof(T):
// 8 for most types, but a whole alignment unit for an over-aligned one (128
// for alignas(128), 4096 for a page-aligned buffer).
//
// Safety rules in one place: docs/slab-safety.md.
#pragma once

#include "nexus/slab/allocator.hpp"
#include "nexus/slab/direct.hpp"
#include "nexus/slab/errors.hpp"
#include "nexus/slab/key.hpp"

namespace nexus::slab {
// Bytes a slab spends per value beyond sizeof(T) (see Memory above).
template <class T>
inline constexpr std::size_t kOverheadPerValue = detail::kOverheadPerValue<T>;
}  // namespace nexus::slab

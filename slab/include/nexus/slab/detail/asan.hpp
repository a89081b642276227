// Poisoning of vacant cells under AddressSanitizer; no-ops otherwise.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define NEXUS_SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NEXUS_SLAB_ASAN 1
#endif
#endif

#ifdef NEXUS_SLAB_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace nexus::slab::detail {

inline void poison(const void* p, std::size_t n) noexcept {
#ifdef NEXUS_SLAB_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

inline void unpoison(const void* p, std::size_t n) noexcept {
#ifdef NEXUS_SLAB_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

}  // namespace nexus::slab::detail

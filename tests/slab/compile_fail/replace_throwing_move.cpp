// Must not compile: replace() on a type whose move constructor may throw.
// expect: replace\(\) needs T's move constructor to be noexcept
#include <nexus/slab/slab.hpp>

struct Legacy {
    Legacy() = default;
    Legacy(const Legacy&) {}  // no move constructor: moves copy, and may throw
    Legacy& operator=(const Legacy&) { return *this; }
};

int main() {
    nexus::slab::BoundedSlab<Legacy> slab(2);
    auto h = slab.emplace();
    Legacy old = h.replace(Legacy{});
    (void)old;
    return 0;
}

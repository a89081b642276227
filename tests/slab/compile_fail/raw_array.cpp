// Must not compile: a raw array as the value type.
// expect: a raw array T\[N\] cannot be a slab value
#include <nexus/slab/slab.hpp>

int main() {
    nexus::slab::BoundedSlab<int[4]> slab(8);
    return static_cast<int>(slab.size());
}

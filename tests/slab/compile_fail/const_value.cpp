// Must not compile: a const value type.
// expect: must not be const or volatile
#include <nexus/slab/slab.hpp>

int main() {
    nexus::slab::UnboundedSlab<const int> slab;
    return static_cast<int>(slab.size());
}

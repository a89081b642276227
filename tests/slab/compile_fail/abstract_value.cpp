// Must not compile: an abstract class as the value type.
// expect: an abstract class cannot be a slab value
#include <nexus/slab/slab.hpp>

struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
};

int main() {
    nexus::slab::BoundedSlab<Shape> slab(2);
    return slab.contains(nexus::slab::Key::from_index(0)) ? 1 : 0;
}

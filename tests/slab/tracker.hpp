// Counts constructions and destructions so a test can assert that every value
// a slab built was destroyed exactly once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nexus::test {

struct Counts {
    long constructed = 0;  // every constructor, copies and moves included
    long destroyed = 0;
    long live() const { return constructed - destroyed; }
};

inline Counts& counts() {
    static Counts c;
    return c;
}

// Owns heap memory in three ways, so a leak or double destroy also shows up
// under AddressSanitizer.
struct Tracked {
    std::string name;
    std::vector<int> data;
    std::unique_ptr<std::uint64_t> boxed;

    explicit Tracked(std::uint64_t v = 0)
        : name("tracked-value-long-enough-to-allocate-" + std::to_string(v)),
          data(8, static_cast<int>(v)),
          boxed(std::make_unique<std::uint64_t>(v)) {
        ++counts().constructed;
    }
    Tracked(const Tracked& o)
        : name(o.name), data(o.data), boxed(o.boxed ? std::make_unique<std::uint64_t>(*o.boxed) : nullptr) {
        ++counts().constructed;
    }
    Tracked(Tracked&& o) noexcept : name(std::move(o.name)), data(std::move(o.data)), boxed(std::move(o.boxed)) {
        ++counts().constructed;
    }
    Tracked& operator=(const Tracked& o) {
        name = o.name;
        data = o.data;
        boxed = o.boxed ? std::make_unique<std::uint64_t>(*o.boxed) : nullptr;
        return *this;
    }
    Tracked& operator=(Tracked&&) noexcept = default;
    ~Tracked() { ++counts().destroyed; }

    std::uint64_t value() const { return boxed ? *boxed : ~std::uint64_t{0}; }
};

// Resets the counters for one test and reports the balance at the end.
struct CountScope {
    CountScope() { counts() = Counts{}; }
};

}  // namespace nexus::test

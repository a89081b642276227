// A record of every value's life, for tests that must prove each value built
// was destroyed exactly once. Each Life member draws a serial number when it
// is constructed (copies and moves included) and hands it back when it is
// destroyed; destroying a serial that is not alive (a second destruction,
// or a destructor run on memory that never held a value) is counted, not
// crashed on, so a test can report it.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_set>

namespace nexus::test {

class Ledger {
public:
    std::uint64_t born() {
        std::lock_guard lock(mu_);
        ++constructed_;
        alive_.insert(++next_);
        return next_;
    }
    void died(std::uint64_t serial) {
        std::lock_guard lock(mu_);
        ++destroyed_;
        if (alive_.erase(serial) == 0) ++double_destroyed_;
    }
    void reset() {
        std::lock_guard lock(mu_);
        alive_.clear();
        constructed_ = destroyed_ = double_destroyed_ = 0;
    }
    long constructed() { return locked(constructed_); }
    long destroyed() { return locked(destroyed_); }
    // Destructions of a serial that was not alive: 0 unless something broke.
    long double_destroyed() { return locked(double_destroyed_); }
    bool is_alive(std::uint64_t serial) {
        std::lock_guard lock(mu_);
        return alive_.count(serial) != 0;
    }
    long alive() {
        std::lock_guard lock(mu_);
        return static_cast<long>(alive_.size());
    }

private:
    long locked(const long& v) {
        std::lock_guard lock(mu_);
        return v;
    }
    std::mutex mu_;
    std::unordered_set<std::uint64_t> alive_;
    std::uint64_t next_ = 0;
    long constructed_ = 0, destroyed_ = 0, double_destroyed_ = 0;
};

inline Ledger& ledger() {
    static Ledger l;
    return l;
}

// A member that records its owner's life in the ledger.
struct Life {
    std::uint64_t serial = ledger().born();
    Life() = default;
    Life(const Life&) : serial(ledger().born()) {}
    Life(Life&&) noexcept : serial(ledger().born()) {}
    Life& operator=(const Life&) { return *this; }  // the object keeps its identity
    Life& operator=(Life&&) noexcept { return *this; }
    ~Life() { ledger().died(serial); }
};

// Clears the ledger for one test.
struct LedgerScope {
    LedgerScope() { ledger().reset(); }
};

}  // namespace nexus::test

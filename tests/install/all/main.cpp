// Every component's headers in one program, built against the installed
// package.
#include <nexus/feed/itch.hpp>
#include <nexus/orderbook/book.hpp>
#include <nexus/slab/slab.hpp>

#include <cstdio>

int main() {
    nexus::slab::BoundedSlab<int> ints(4);
    const auto k = ints.emplace_key(41);
    ints[k] += 1;
    nexus::orderbook::Pools pools(nexus::orderbook::PoolConfig{.orders = 8, .levels = 8});
    nexus::orderbook::NullListener events;
    nexus::orderbook::Book<> book(pools, events, 1);
    const bool ok = ints[k] == 42 && book.add(1, nexus::orderbook::Side::Buy, 100, 5) &&
                    nexus::feed::itch::be16(reinterpret_cast<const std::uint8_t*>("\x01\x02")) == 0x0102;
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}

// nexus-slab-demo: a price level's FIFO of orders linked by 4-byte keys, built
// on the per-thread allocator and a direct slab, with the figures a user asks
// about first (capacity, bytes per value, key reuse).
#include <nexus/slab/slab.hpp>

#include <cstdint>
#include <cstdio>

namespace {

struct Order {
    std::uint64_t id;
    std::int64_t price;
    std::uint32_t qty;
    nexus::slab::Key next;  // the next order in time priority
};

NEXUS_SLAB_ALLOCATOR(order_alloc, Order);

}  // namespace

int main() {
    using nexus::slab::Key;
    constexpr std::size_t kOrders = 1'000'000;

    order_alloc::init().unbounded().chunk_capacity(4096).capacity(kOrders / 2).build();
    std::printf("per-thread allocator: capacity %zu after init (pre-allocated)\n", order_alloc::capacity());

    // A FIFO of orders linked by keys: the slab owns the values, keys link them.
    Key head = Key::NONE, tail = Key::NONE;
    std::uint64_t total_qty = 0;
    for (std::uint64_t id = 1; id <= kOrders; ++id) {
        const Key k =
            order_alloc::emplace(Order{id, 1'000'000, static_cast<std::uint32_t>(id % 100 + 1), Key::NONE}).release();
        if (tail.has_value())
            order_alloc::get_unchecked(tail).next = k;
        else
            head = k;
        tail = k;
        total_qty += id % 100 + 1;
    }
    std::printf("linked %zu orders: len %zu, capacity %zu (grew by whole chunks, nothing moved)\n", kOrders,
                order_alloc::size(), order_alloc::capacity());

    // Fill the oldest half of the queue, as a matching engine would.
    std::uint64_t filled = 0;
    Key last_freed = Key::NONE;
    for (std::size_t i = 0; i < kOrders / 2; ++i) {
        const Key next = order_alloc::get_unchecked(head).next;
        filled += order_alloc::take(head).qty;
        last_freed = head;
        head = next;
    }
    std::printf("filled %llu of %llu shares from the front; len now %zu\n", static_cast<unsigned long long>(filled),
                static_cast<unsigned long long>(total_qty), order_alloc::size());

    // LIFO reuse: the next insert lands in the most recently freed cell.
    auto slot = order_alloc::insert(Order{kOrders + 1, 999'900, 10, Key::NONE});
    std::printf("new order got key %u (last freed: %u) at a stable address %p\n", slot.key().index(),
                last_freed.index(), static_cast<const void*>(slot.get()));
    slot.reset();

    while (head.has_value()) {
        const Key next = order_alloc::get_unchecked(head).next;
        order_alloc::remove(head);
        head = next;
    }
    const auto r = order_alloc::shutdown();
    std::printf("shutdown: %s (%zu slots remaining)\n", r.ok() ? "ok" : "refused", r.slots_remaining);

    // A direct slab: several per thread, owned like any object.
    nexus::slab::BoundedSlab<Order> bids(1024), asks(1024);
    auto best_bid = bids.emplace(Order{1, 999'900, 100, Key::NONE});
    auto best_ask = asks.emplace(Order{2, 1'000'100, 200, Key::NONE});
    std::printf("direct slabs: bid %lld x %u, ask %lld x %u\n", static_cast<long long>(best_bid->price), best_bid->qty,
                static_cast<long long>(best_ask->price), best_ask->qty);
    std::printf("sizeof(Order) %zu, cell %zu, overhead %zu bytes per order; Slot %zu bytes, Key %zu bytes\n",
                sizeof(Order), sizeof(Order) + nexus::slab::kOverheadPerValue<Order>,
                nexus::slab::kOverheadPerValue<Order>, sizeof(order_alloc::Slot), sizeof(Key));
    return r.ok() ? 0 : 1;
}

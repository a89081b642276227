// nexus/slab/key.hpp — the 4-byte index of a slab cell.
//
// A Key names a cell of one slab. It is a plain 32-bit index with no
// generation counter, by design: the data nexus stores has authoritative
// external identities (exchange order IDs), and those are what get validated.
// Keys are for internal linkage (a FIFO of orders linked by Key, an ID index
// mapping to Key). A Key whose cell was freed and reused names the new value;
// `contains()` only tells whether the cell is occupied.
//
// Layout: valid keys are below 2^31 (`kMaxCells`); `Key::NONE` is 0xFFFFFFFF
// and is never a valid key in any slab. In an unbounded slab a key is
// `chunk << shift | offset`; in a bounded slab it is the cell's position.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace nexus::slab {

// The number of cells any slab can address. Every valid key is below this.
inline constexpr std::uint64_t kMaxCells = std::uint64_t{1} << 31;

class Key {
public:
    static constexpr std::uint32_t kNoneIndex = 0xFFFF'FFFFu;

    // The sentinel: "no key". A default-constructed Key is NONE.
    static const Key NONE;

    constexpr Key() noexcept = default;

    // The cell index (bounded) or chunk/offset composite (unbounded). Also the
    // form in which to store a key outside the process (see the warning at the top).
    [[nodiscard]] constexpr std::uint32_t index() const noexcept { return raw_; }
    [[nodiscard]] static constexpr Key from_index(std::uint32_t index) noexcept { return Key(index); }

    [[nodiscard]] constexpr bool has_value() const noexcept { return raw_ != kNoneIndex; }

    friend constexpr bool operator==(Key, Key) noexcept = default;
    friend constexpr auto operator<=>(Key, Key) noexcept = default;

private:
    constexpr explicit Key(std::uint32_t raw) noexcept : raw_(raw) {}
    std::uint32_t raw_ = kNoneIndex;
};

inline constexpr Key Key::NONE = Key::from_index(Key::kNoneIndex);

static_assert(sizeof(Key) == 4, "Key must stay 4 bytes: it is stored in every linked node");

}  // namespace nexus::slab

template <>
struct std::hash<nexus::slab::Key> {
    std::size_t operator()(nexus::slab::Key k) const noexcept { return std::hash<std::uint32_t>{}(k.index()); }
};

// Builds ITCH 5.0 messages byte by byte for tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace nexus::test {

class ItchMsg {
public:
    ItchMsg(char type, std::size_t len, std::uint16_t locate = 0, std::uint64_t ts = 0) : b_(len, 0) {
        b_[0] = static_cast<std::uint8_t>(type);
        if (len >= 11) {  // the common header; shorter messages (unknown types in tests) have only a type
            u16(1, locate);
            u16(3, 7);  // tracking number
            u48(5, ts);
        }
    }
    ItchMsg& u16(std::size_t o, std::uint64_t v) { return put(o, v, 2); }
    ItchMsg& u32(std::size_t o, std::uint64_t v) { return put(o, v, 4); }
    ItchMsg& u48(std::size_t o, std::uint64_t v) { return put(o, v, 6); }
    ItchMsg& u64(std::size_t o, std::uint64_t v) { return put(o, v, 8); }
    ItchMsg& ch(std::size_t o, char c) {
        b_[o] = static_cast<std::uint8_t>(c);
        return *this;
    }
    ItchMsg& str(std::size_t o, std::string_view s, std::size_t n) {
        std::fill_n(b_.begin() + static_cast<std::ptrdiff_t>(o), n, std::uint8_t{' '});
        std::copy_n(s.begin(), std::min(n, s.size()), b_.begin() + static_cast<std::ptrdiff_t>(o));
        return *this;
    }
    // Appends the 2-byte length and the message to a stream.
    void frame_into(std::vector<std::uint8_t>& out) const {
        out.push_back(static_cast<std::uint8_t>(b_.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(b_.size()));
        out.insert(out.end(), b_.begin(), b_.end());
    }
    const std::vector<std::uint8_t>& bytes() const { return b_; }

private:
    ItchMsg& put(std::size_t o, std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i, v >>= 8) b_[o + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
        return *this;
    }
    std::vector<std::uint8_t> b_;
};

// Common messages.
inline ItchMsg itch_directory(std::uint16_t locate, std::string_view stock) {
    ItchMsg m('R', 39, locate, 1000);
    m.str(11, stock, 8).ch(19, 'Q').ch(20, 'N').u32(21, 100).ch(25, 'N').ch(26, 'C').str(27, "Z", 2);
    m.ch(29, 'P').ch(30, 'N').ch(31, ' ').ch(32, '1').ch(33, 'N').u32(34, 0).ch(38, 'N');
    return m;
}
inline ItchMsg itch_add(std::uint16_t locate, std::uint64_t ref, char side, std::uint32_t shares,
                        std::string_view stock, std::uint32_t price) {
    ItchMsg m('A', 36, locate, 2000);
    m.u64(11, ref).ch(19, side).u32(20, shares).str(24, stock, 8).u32(32, price);
    return m;
}
inline ItchMsg itch_exec(std::uint16_t locate, std::uint64_t ref, std::uint32_t shares, std::uint64_t match = 1) {
    ItchMsg m('E', 31, locate, 3000);
    m.u64(11, ref).u32(19, shares).u64(23, match);
    return m;
}
inline ItchMsg itch_cancel(std::uint16_t locate, std::uint64_t ref, std::uint32_t shares) {
    ItchMsg m('X', 23, locate, 3000);
    m.u64(11, ref).u32(19, shares);
    return m;
}
inline ItchMsg itch_delete(std::uint16_t locate, std::uint64_t ref) {
    ItchMsg m('D', 19, locate, 3000);
    m.u64(11, ref);
    return m;
}
inline ItchMsg itch_replace(std::uint16_t locate, std::uint64_t old_ref, std::uint64_t new_ref, std::uint32_t shares,
                            std::uint32_t price) {
    ItchMsg m('U', 35, locate, 3000);
    m.u64(11, old_ref).u64(19, new_ref).u32(27, shares).u32(31, price);
    return m;
}

}  // namespace nexus::test

// nexus/feed/itch_encoder.hpp — writing ITCH 5.0: length-prefixed messages
// encoded into a byte buffer, the inverse of itch.hpp's decoder. Used by the
// synthetic day (synth.hpp) and by the matching engine's market-data output.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nexus/feed/itch.hpp"

namespace nexus::feed {

// Encoder of length-prefixed ITCH 5.0 messages into a byte buffer. The
// engine uses it on its own (one buffer per commit); ItchWriter (synth.hpp)
// adds a file behind it.
class ItchEncoder {
public:
    ItchEncoder() = default;
    ItchEncoder(const ItchEncoder&) = delete;
    ItchEncoder& operator=(const ItchEncoder&) = delete;
    virtual ~ItchEncoder() = default;

    [[nodiscard]] std::uint64_t messages() const noexcept { return messages_; }
    // The encoded bytes not yet taken.
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {buf_.data(), end_}; }
    void clear_bytes() noexcept { end_ = 0; }

    void system_event(std::uint64_t ts, char code) {
        auto w = begin('S', 12, 0, ts);
        w.ch(code);
    }
    void directory(std::uint16_t locate, std::uint64_t ts, const std::string& stock) {
        auto w = begin('R', 39, locate, ts);
        w.str(stock, 8);
        w.ch('Q');
        w.ch('N');
        w.u32(100);
        w.ch('N');
        w.ch('C');
        w.str("Z", 2);
        w.ch('P');
        w.ch('N');
        w.ch(' ');
        w.ch('1');
        w.ch('N');
        w.u32(0);
        w.ch('N');
    }
    void trading_action(std::uint16_t locate, std::uint64_t ts, const std::string& stock, char state) {
        auto w = begin('H', 25, locate, ts);
        w.str(stock, 8);
        w.ch(state);
        w.ch(' ');
        w.str("", 4);
    }
    void add(std::uint16_t locate, std::uint64_t ts, std::uint64_t ref, char side, std::uint32_t shares,
             const std::string& stock, std::uint32_t price, const char* mpid = nullptr) {
        auto w = begin(mpid ? 'F' : 'A', mpid ? 40 : 36, locate, ts);
        w.u64(ref);
        w.ch(side);
        w.u32(shares);
        w.str(stock, 8);
        w.u32(price);
        if (mpid) w.str(mpid, 4);
    }
    void execute(std::uint16_t locate, std::uint64_t ts, std::uint64_t ref, std::uint32_t shares, std::uint64_t match) {
        auto w = begin('E', 31, locate, ts);
        w.u64(ref);
        w.u32(shares);
        w.u64(match);
    }
    void execute_at(std::uint16_t locate, std::uint64_t ts, std::uint64_t ref, std::uint32_t shares,
                    std::uint64_t match, std::uint32_t price) {
        auto w = begin('C', 36, locate, ts);
        w.u64(ref);
        w.u32(shares);
        w.u64(match);
        w.ch('Y');
        w.u32(price);
    }
    void cancel(std::uint16_t locate, std::uint64_t ts, std::uint64_t ref, std::uint32_t shares) {
        auto w = begin('X', 23, locate, ts);
        w.u64(ref);
        w.u32(shares);
    }
    void remove(std::uint16_t locate, std::uint64_t ts, std::uint64_t ref) {
        auto w = begin('D', 19, locate, ts);
        w.u64(ref);
    }
    void replace(std::uint16_t locate, std::uint64_t ts, std::uint64_t old_ref, std::uint64_t new_ref,
                 std::uint32_t shares, std::uint32_t price) {
        auto w = begin('U', 35, locate, ts);
        w.u64(old_ref);
        w.u64(new_ref);
        w.u32(shares);
        w.u32(price);
    }
    void trade(std::uint16_t locate, std::uint64_t ts, char side, std::uint32_t shares, const std::string& stock,
               std::uint32_t price, std::uint64_t match) {
        auto w = begin('P', 44, locate, ts);
        w.u64(0);
        w.ch(side);
        w.u32(shares);
        w.str(stock, 8);
        w.u32(price);
        w.u64(match);
    }

protected:
    // Called before a message is encoded while the buffer holds more than
    // `flush_at_` bytes; a writer empties it there.
    virtual void overflow() {}
    std::size_t flush_at_ = ~std::size_t{0};
    // Storage; [0, end_) holds the encoded bytes. The vector only ever grows
    // (amortized), so encoding a message is a bounds check and stores, with
    // no per-message resize.
    std::vector<std::uint8_t> buf_;
    std::size_t end_ = 0;

private:
    // Writes one message's fields in order, through a pointer held in a
    // register (the stores cannot alias the encoder's own members).
    struct Cursor {
        std::uint8_t* p;
        void ch(char c) noexcept { *p++ = static_cast<std::uint8_t>(c); }
        void u16(std::uint16_t v) noexcept {
            itch::put_be16(p, v);
            p += 2;
        }
        void u32(std::uint32_t v) noexcept {
            itch::put_be32(p, v);
            p += 4;
        }
        void u64(std::uint64_t v) noexcept {
            itch::put_be64(p, v);
            p += 8;
        }
        // A text field of n bytes, left-justified and padded with spaces.
        void str(std::string_view s, std::size_t n) noexcept {
            const std::size_t k = s.size() < n ? s.size() : n;
            std::memcpy(p, s.data(), k);
            std::memset(p + k, ' ', n - k);
            p += n;
        }
    };
    // Reserves a message's bytes and writes its header: length, type,
    // locate, tracking number 0 and the 6-byte timestamp.
    Cursor begin(char type, std::uint16_t len, std::uint16_t locate, std::uint64_t ts) {
        if (end_ > flush_at_) [[unlikely]]
            overflow();
        const std::size_t need = std::size_t{2} + len;
        if (end_ + need > buf_.size()) [[unlikely]]
            grow(need);
        Cursor w{buf_.data() + end_};
        end_ += need;
        w.u16(len);
        w.ch(type);
        w.u16(locate);
        w.u16(0);
        w.u16(static_cast<std::uint16_t>(ts >> 32));
        w.u32(static_cast<std::uint32_t>(ts));
        ++messages_;
        return w;
    }
    [[gnu::noinline]] void grow(std::size_t need) { buf_.resize(std::max(buf_.size() * 2, end_ + need + 4096)); }
    std::uint64_t messages_ = 0;
};

}  // namespace nexus::feed

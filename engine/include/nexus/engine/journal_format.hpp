// nexus/engine/journal_format.hpp — the byte layout of a shard's journal
// file (format 02). All integers little-endian.
//
// Header, 64 bytes:
//   0  8  magic "NXJRNL02" (its last two characters are the format version)
//   8  4  header size (64)           12  4  record size (64)
//  16  8  venue ID (the same in every file of one journal directory; MANIFEST)
//  24  4  shard index                28  4  shard count
//  32  8  created, ns since the epoch
//  40 20  zero
//  60  4  CRC-32C of bytes 0..59
//
// Record, 64 bytes, one accepted command in the order the shard applied it:
//   0  4  CRC-32C of bytes 4..63
//   4  2  kind and flags, as bits of a u16 (namespace code below):
//           bits 0-1  kind: 3 enter, 1 replace, 0 cancel
//           bit  2    side: 0 buy, 1 sell
//           bits 3-4  time in force: 0 day, 1 IOC, 2 FOK
//           bit  5    order type: 0 limit, 1 market
//           bit  6    post only
//           bits 7-9  self-trade rule: 6 cancel newest, 7 cancel oldest, 2 cancel both
//         (the codes were once the low bits of the protocol's letters, and
//         stay so that format 02 files keep their meaning; decoding checks
//         every code)
//   6  2  instrument (1-based)       8  4  user (index in the configuration)
//  12  4  quantity                  16  4  price
//  20  4  record number: 1 for the first record of the file, then +1 (modulo
//         2^32), so a record cut out, repeated or moved is found on reading
//  24  8  timestamp (ns since the epoch, stamped by the shard)
//  32  8  token                     40  8  replacement token
//  48  8  order ID                  56  8  replacement order ID
// (From offset 6 on, the fields sit where they sit in a Command, so encoding
// is one copy and three stores.)
//
// Format 01 (the engine before record numbers and the manifest) had a
// 16-byte header "NXJRNL01" + shard count + shard index and records without
// numbers; it is recognised and refused by name.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "nexus/engine/command.hpp"
#include "nexus/engine/crc32c.hpp"

namespace nexus::engine::journal_format {

static_assert(std::endian::native == std::endian::little, "the journal layout is little-endian, as is this machine");

constexpr char kMagicPrefix[6] = {'N', 'X', 'J', 'R', 'N', 'L'};
constexpr char kVersion[2] = {'0', '2'};
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kRecordSize = 64;

// The u16 at offset 4: the command's kind and enums, one code each.
namespace code {
namespace ob = nexus::orderbook;
constexpr unsigned kind(CommandKind k) noexcept {
    return k == CommandKind::Enter ? 3u : k == CommandKind::Replace ? 1u : 0u;
}
constexpr unsigned side(ob::Side s) noexcept { return s == ob::Side::Sell ? 1u << 2 : 0u; }
constexpr unsigned tif(ob::TimeInForce t) noexcept {
    return (t == ob::TimeInForce::IOC ? 1u : t == ob::TimeInForce::FOK ? 2u : 0u) << 3;
}
constexpr unsigned type(ob::OrderType t) noexcept { return t == ob::OrderType::Market ? 1u << 5 : 0u; }
constexpr unsigned post(bool post_only) noexcept { return post_only ? 1u << 6 : 0u; }
constexpr unsigned stp(ob::SelfTrade s) noexcept {
    return (s == ob::SelfTrade::CancelResting ? 7u : s == ob::SelfTrade::CancelBoth ? 2u : 6u) << 7;
}
constexpr unsigned flags(const Command& c) noexcept {
    return kind(c.kind) | side(c.side) | tif(c.tif) | type(c.type) | post(c.post_only) | stp(c.stp);
}
// Decodes the u16; false if any code is not one of the above.
constexpr bool decode(unsigned f, Command& c) noexcept {
    const unsigned k = f & 3u, t = (f >> 3) & 3u, s = (f >> 7) & 7u;
    if (k == 2 || t == 3 || (s != 6 && s != 7 && s != 2) || (f >> 10) != 0) return false;
    c.kind = k == 3 ? CommandKind::Enter : k == 1 ? CommandKind::Replace : CommandKind::Cancel;
    c.side = (f & 4u) ? ob::Side::Sell : ob::Side::Buy;
    c.tif = t == 1 ? ob::TimeInForce::IOC : t == 2 ? ob::TimeInForce::FOK : ob::TimeInForce::GTC;
    c.type = (f & 32u) ? ob::OrderType::Market : ob::OrderType::Limit;
    c.post_only = (f & 64u) != 0;
    c.stp = s == 6 ? ob::SelfTrade::CancelIncoming : s == 7 ? ob::SelfTrade::CancelResting : ob::SelfTrade::CancelBoth;
    return true;
}
}  // namespace code

struct Header {
    std::uint64_t venue = 0;
    std::uint32_t shard = 0;
    std::uint32_t shards = 0;
    std::uint64_t created_ns = 0;
};

template <class T>
inline void put(std::uint8_t* p, T v) noexcept {
    std::memcpy(p, &v, sizeof v);
}
template <class T>
inline T get(const std::uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void encode_header(const Header& h, std::uint8_t* out) noexcept {
    std::memset(out, 0, kHeaderSize);
    std::memcpy(out, kMagicPrefix, 6);
    std::memcpy(out + 6, kVersion, 2);
    put<std::uint32_t>(out + 8, kHeaderSize);
    put<std::uint32_t>(out + 12, kRecordSize);
    put(out + 16, h.venue);
    put(out + 24, h.shard);
    put(out + 28, h.shards);
    put(out + 32, h.created_ns);
    put(out + 60, crc32c(out, 60));
}

// The format version of a file's first bytes: "02", "01", or "" if they are
// not a nexus journal's.
inline std::string version_of(const std::uint8_t* p, std::size_t n) {
    if (n < 8 || std::memcmp(p, kMagicPrefix, 6) != 0) return "";
    return std::string(reinterpret_cast<const char*>(p) + 6, 2);
}

// Decodes a format-02 header; returns what is wrong, or "" if it is good.
inline std::string decode_header(const std::uint8_t* p, std::size_t n, Header& h) {
    const std::string v = version_of(p, n);
    if (v.empty()) return "offset 0: not a nexus journal (bad magic)";
    if (v != std::string(kVersion, 2))
        return "offset 0: journal format " + v +
               (v == "01" ? " (written before records carried numbers and journals a venue manifest)" : "") +
               "; this engine reads format " + std::string(kVersion, 2) + " only";
    if (n < kHeaderSize)
        return "offset 0: header cut short (" + std::to_string(n) + " of " + std::to_string(kHeaderSize) + " bytes)";
    if (get<std::uint32_t>(p + 60) != crc32c(p, 60)) return "offset 0: damaged header (checksum mismatch)";
    if (get<std::uint32_t>(p + 8) != kHeaderSize || get<std::uint32_t>(p + 12) != kRecordSize)
        return "offset 8: header or record size not 64";
    h.venue = get<std::uint64_t>(p + 16);
    h.shard = get<std::uint32_t>(p + 24);
    h.shards = get<std::uint32_t>(p + 28);
    h.created_ns = get<std::uint64_t>(p + 32);
    return "";
}

static_assert(sizeof(Command) == kRecordSize && offsetof(Command, instrument) == 6 && offsetof(Command, user) == 8 &&
                  offsetof(Command, qty) == 12 && offsetof(Command, price) == 16 && offsetof(Command, ts) == 24 &&
                  offsetof(Command, token) == 32 && offsetof(Command, new_token) == 40 &&
                  offsetof(Command, order_id) == 48 && offsetof(Command, new_order_id) == 56,
              "a record shares the Command's layout from offset 6");

inline void encode_record(const Command& c, std::uint32_t number, std::uint8_t* out) noexcept {
    std::memcpy(out, &c, kRecordSize);
    put(out + 4, static_cast<std::uint16_t>(code::flags(c)));
    put(out + 20, number);
    put(out, crc32c_fixed<kRecordSize - 4>(out + 4));
}

// What reading one complete record found.
enum class RecordStatus : std::uint8_t { Good, BadChecksum, BadContents };

// Decodes a complete record; its number goes to `number`.
inline RecordStatus decode_record(const std::uint8_t* p, Command& c, std::uint32_t& number) noexcept {
    if (get<std::uint32_t>(p) != crc32c_fixed<kRecordSize - 4>(p + 4)) return RecordStatus::BadChecksum;
    number = get<std::uint32_t>(p + 20);
    c = Command{};
    if (!code::decode(get<std::uint16_t>(p + 4), c)) return RecordStatus::BadContents;
    c.instrument = get<std::uint16_t>(p + 6);
    std::memcpy(&c.user, p + 8, 12);  // user, qty, price
    std::memcpy(&c.ts, p + 24, 40);   // ts, token, new_token, order_id, new_order_id
    return RecordStatus::Good;
}

}  // namespace nexus::engine::journal_format

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
//         (each code is the low bits of the protocol letter, so that encoding
//         is a few shifts; decoding checks every code)
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

// The u16 at offset 8: the command's letters by their low bits.
namespace code {
constexpr unsigned kind(char k) noexcept { return static_cast<unsigned char>(k) & 3u; }         // O 3, U 1, X 0
constexpr unsigned side(char s) noexcept { return (static_cast<unsigned char>(s) & 1u) << 2; }  // B 0, S 1
constexpr unsigned tif(char t) noexcept { return (static_cast<unsigned char>(t) & 3u) << 3; }   // D 0, I 1, F 2
constexpr unsigned type(char t) noexcept { return (static_cast<unsigned char>(t) & 1u) << 5; }  // L 0, M 1
constexpr unsigned post(char p) noexcept { return (static_cast<unsigned char>(p) & 1u) << 6; }  // N 0, Y 1
constexpr unsigned stp(char s) noexcept { return (static_cast<unsigned char>(s) & 7u) << 7; }   // N 6, O 7, B 2
static_assert(kind('O') == 3 && kind('U') == 1 && kind('X') == 0);
static_assert(side('S') == 4 && tif('I') == 8 && tif('F') == 16 && type('M') == 32 && post('Y') == 64 &&
              post('N') == 0);
static_assert(stp('N') == 6 << 7 && stp('O') == 7 << 7 && stp('B') == 2 << 7);
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
    put(out + 4, static_cast<std::uint16_t>(code::kind(c.kind) | code::side(c.side) | code::tif(c.tif) |
                                            code::type(c.type) | code::post(c.post_only) | code::stp(c.stp)));
    put(out + 20, number);
    put(out, crc32c_fixed<kRecordSize - 4>(out + 4));
}

// What reading one complete record found.
enum class RecordStatus : std::uint8_t { Good, BadChecksum, BadContents };

// Decodes a complete record; its number goes to `number`.
inline RecordStatus decode_record(const std::uint8_t* p, Command& c, std::uint32_t& number) noexcept {
    if (get<std::uint32_t>(p) != crc32c_fixed<kRecordSize - 4>(p + 4)) return RecordStatus::BadChecksum;
    number = get<std::uint32_t>(p + 20);
    const unsigned f = get<std::uint16_t>(p + 4);
    const unsigned kind = f & 3u, tif = (f >> 3) & 3u, stp = (f >> 7) & 7u;
    if (kind == 2 || tif == 3 || (stp != 6 && stp != 7 && stp != 2) || (f >> 10) != 0) return RecordStatus::BadContents;
    c = Command{};
    c.kind = kind == 3 ? 'O' : kind == 1 ? 'U' : 'X';
    c.side = (f & 4u) ? 'S' : 'B';
    c.tif = "DIF"[tif];
    c.type = (f & 32u) ? 'M' : 'L';
    c.post_only = (f & 64u) ? 'Y' : 'N';
    c.stp = stp == 6 ? 'N' : stp == 7 ? 'O' : 'B';
    c.instrument = get<std::uint16_t>(p + 6);
    std::memcpy(&c.user, p + 8, 12);  // user, qty, price
    std::memcpy(&c.ts, p + 24, 40);   // ts, token, new_token, order_id, new_order_id
    return RecordStatus::Good;
}

}  // namespace nexus::engine::journal_format

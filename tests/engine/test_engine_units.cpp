// Protocol codec, configuration, journal and shard core, without sockets.
#include <fcntl.h>

#include <array>
#include <fstream>
#include <random>
#include <unordered_map>

#include "engine/engine_util.hpp"
#include "nexus/engine/event_codec.hpp"

using namespace nexus::test;
namespace ob = nexus::orderbook;

TEST_CASE("order messages survive encode and decode", "[protocol]") {
    std::vector<std::uint8_t> b;
    wire::Encoder enc(b);
    auto o = order(0x0102030405060708ull, 'S', 4242, "MSFT", 1234567, 'I', 'L');
    o.post_only = 'Y';
    o.stp = 'B';
    enc.enter(o);
    enc.replace({.token = 9, .new_token = 10, .qty = 77, .price = 5000});
    enc.cancel({.token = 11, .qty = 3});
    wire::Deframer d(wire::kMaxInboundLength);
    std::size_t used = 0;
    wire::Packet pk;
    REQUIRE(d.next(b, used, pk) == wire::Deframer::Status::Packet);
    REQUIRE(pk.type == wire::kUnsequenced);
    auto in = wire::decode_order(pk.payload);
    REQUIRE(in.kind == wire::InKind::Enter);
    CHECK(in.enter.token == o.token);
    CHECK(in.enter.side == 'S');
    CHECK(in.enter.qty == 4242);
    CHECK(wire::symbol_text(in.enter.symbol) == "MSFT");
    CHECK(in.enter.price == 1234567);
    CHECK(in.enter.tif == 'I');
    CHECK(in.enter.post_only == 'Y');
    CHECK(in.enter.stp == 'B');
    REQUIRE(d.next(b, used, pk) == wire::Deframer::Status::Packet);
    in = wire::decode_order(pk.payload);
    REQUIRE(in.kind == wire::InKind::Replace);
    CHECK(in.replace.token == 9);
    CHECK(in.replace.new_token == 10);
    CHECK(in.replace.qty == 77);
    CHECK(in.replace.price == 5000);
    REQUIRE(d.next(b, used, pk) == wire::Deframer::Status::Packet);
    in = wire::decode_order(pk.payload);
    REQUIRE(in.kind == wire::InKind::Cancel);
    CHECK(in.cancel.token == 11);
    CHECK(in.cancel.qty == 3);
    CHECK(d.next(b, used, pk) == wire::Deframer::Status::NeedMore);
    CHECK(used == b.size());
}

TEST_CASE("outbound messages survive encode and decode", "[protocol]") {
    std::vector<std::uint8_t> b;
    wire::Encoder enc(b);
    const auto sym = wire::make_symbol("AAPL");
    enc.accepted(1, 2, 'B', 3, sym, 4, 'D', 'L', 5);
    enc.replaced(6, 7, 8, 'S', 9, sym, 10, 11);
    enc.cancelled(12, 13, 14, 'I');
    enc.executed(15, 16, 17, 18, 'R', 19);
    enc.rejected(20, 21, 'D');
    wire::Deframer d(wire::kMaxOutboundLength);
    std::size_t used = 0;
    wire::Packet pk;
    std::vector<wire::Outbound> got;
    while (d.next(b, used, pk) == wire::Deframer::Status::Packet) {
        REQUIRE(pk.type == wire::kSequenced);
        got.push_back(wire::decode_outbound(pk.payload));
    }
    REQUIRE(got.size() == 5);
    CHECK((got[0].type == 'A' && got[0].ts == 1 && got[0].token == 2 && got[0].side == 'B' && got[0].qty == 3 &&
           got[0].price == 4 && got[0].tif == 'D' && got[0].order_type == 'L' && got[0].ref == 5 &&
           wire::symbol_text(got[0].symbol) == "AAPL"));
    CHECK((got[1].type == 'U' && got[1].token == 7 && got[1].prev_token == 8 && got[1].qty == 9 && got[1].price == 10 &&
           got[1].ref == 11));
    CHECK((got[2].type == 'C' && got[2].token == 13 && got[2].qty == 14 && got[2].reason == 'I'));
    CHECK((got[3].type == 'E' && got[3].token == 16 && got[3].qty == 17 && got[3].price == 18 &&
           got[3].liquidity == 'R' && got[3].match == 19));
    CHECK((got[4].type == 'J' && got[4].token == 21 && got[4].reason == 'D'));
}

TEST_CASE("deframer: byte-at-a-time arrival, zero length and oversize length", "[protocol]") {
    std::vector<std::uint8_t> b;
    wire::Encoder(b).login("alice", "pw1");
    wire::Encoder(b).packet(wire::kClientHeartbeat);
    {
        wire::Deframer d(wire::kMaxInboundLength);
        std::vector<std::uint8_t> acc;
        std::size_t used = 0;
        std::vector<char> types;
        for (std::uint8_t byte : b) {
            acc.push_back(byte);
            wire::Packet pk;
            while (d.next(acc, used, pk) == wire::Deframer::Status::Packet) {
                types.push_back(pk.type);
                if (pk.type == wire::kLoginRequest) {
                    wire::Login l;
                    REQUIRE(wire::decode_login(pk.payload, l) == nullptr);
                    CHECK(l.user == "alice");
                    CHECK(l.password == "pw1");
                }
            }
        }
        CHECK(types == std::vector<char>{wire::kLoginRequest, wire::kClientHeartbeat});
    }
    {
        wire::Deframer d(wire::kMaxInboundLength);
        const std::vector<std::uint8_t> zero{0, 0, 'R'};
        std::size_t used = 0;
        wire::Packet pk;
        CHECK(d.next(zero, used, pk) == wire::Deframer::Status::Error);
        CHECK(std::string(d.error()) == "zero packet length");
    }
    {
        // The length alone is enough to refuse: no body is awaited.
        wire::Deframer d(wire::kMaxInboundLength);
        const std::vector<std::uint8_t> big{0xFF, 0xFF};
        std::size_t used = 0;
        wire::Packet pk;
        CHECK(d.next(big, used, pk) == wire::Deframer::Status::Error);
        CHECK(std::string(d.error()) == "packet length above the maximum");
    }
}

TEST_CASE("order decoder refuses unknown types and wrong lengths", "[protocol]") {
    const std::vector<std::uint8_t> unknown{'Q', 1, 2, 3};
    CHECK(wire::decode_order(unknown).kind == wire::InKind::Bad);
    CHECK(std::string(wire::decode_order(unknown).error) == "unknown order message type");
    std::vector<std::uint8_t> b;
    wire::Encoder(b).enter(order(1, 'B', 1, "AAPL", 10000));
    std::vector<std::uint8_t> payload(b.begin() + 3, b.end());
    payload.pop_back();
    CHECK(wire::decode_order(payload).kind == wire::InKind::Bad);
    CHECK(wire::decode_order({}).kind == wire::InKind::Bad);
}

TEST_CASE("the sample configuration in data/ loads", "[config]") {
    const auto c = en::load_config(NEXUS_SOURCE_DIR "/data/engine-sample.cfg");
    CHECK(c.instruments.size() == 4);
    CHECK(c.users.size() == 9);
    CHECK(c.shards == 2);
    CHECK(c.listen_port == 9400);
}

TEST_CASE("configuration errors name the line and the field", "[config]") {
    auto error_of = [](const std::string& text) -> std::string {
        try {
            make_config(text);
        } catch (const en::ConfigError& e) {
            return e.what();
        }
        return "";
    };
    const std::string ok = "instrument AAPL\nuser al password=x\n";
    CHECK(error_of(ok).empty());
    CHECK(error_of(ok + "bogus 1\n") == "test.cfg:3: unknown setting 'bogus'");
    CHECK(error_of(ok + "instrument AAPL\n") == "test.cfg:3: instrument 'AAPL' defined twice");
    CHECK(error_of("instrument X min_price=1.23456\nuser a password=b\n").find("test.cfg:1: instrument X: min_price") ==
          0);
    CHECK(
        error_of("instrument X min_price=5 max_price=4\nuser a password=b\n").find("need 0 < min_price <= max_price") !=
        std::string::npos);
    CHECK(error_of("instrument X\nuser a\n") == "test.cfg:2: user a: password= is required");
    CHECK(error_of(ok + "sync sometimes\n").find("test.cfg:3: sync") == 0);
    CHECK(error_of(ok + "listen nowhere\n").find("test.cfg:3: listen") == 0);
    CHECK(error_of("user a password=b\n") == "test.cfg: no instrument defined");
    CHECK(error_of(ok + "instrument WAYTOOLONG\n").find("longer than 8") != std::string::npos);
    const auto c = make_config(
        "instrument X min_price=0.01 max_price=12.5 max_qty=7\nuser a password=b max_notional=9\nsync fsync\n");
    CHECK(c.instruments[0].min_price == 100);
    CHECK(c.instruments[0].max_price == 125000);
    CHECK(c.instruments[0].max_qty == 7);
    CHECK(c.users[0].max_notional == 9);
    CHECK(c.sync == en::SyncPolicy::Fsync);
    CHECK(c.journal_mode == en::JournalMode::Write);  // sync fsync always writes
    CHECK(c.shards == 1);
    CHECK(c.path == "test.cfg");
    CHECK(make_config(ok).journal_mode == en::JournalMode::Mapped);
    CHECK(make_config(ok + "journal_mode write\n").journal_mode == en::JournalMode::Write);
    CHECK(make_config(ok + "journal_mode write\nsync fsync\n").journal_mode == en::JournalMode::Write);
    CHECK(error_of(ok + "journal_mode fast\n") == "test.cfg:3: journal_mode: expected 'mmap' or 'write', got 'fast'");
    CHECK_THAT(error_of(ok + "journal_mode mmap\nsync fsync\n"),
               Catch::StartsWith("test.cfg:3: journal_mode mmap is for sync os"));
}

TEST_CASE("configuration: every numeric value outside its range is an error naming the line, the setting and the range",
          "[config]") {
    auto error_of = [](const std::string& text) -> std::string {
        try {
            make_config("instrument A\ninstrument B\nuser u password=p\n" + text);
        } catch (const en::ConfigError& e) {
            return e.what();
        }
        return "";
    };
    struct Case {
        const char* line;
        const char* expect;
    };
    const Case cases[] = {
        {"max_sessions 0", "test.cfg:4: max_sessions: '0' is not a whole number in [1, 1000000]"},
        {"pool_orders 0", "test.cfg:4: pool_orders: '0' is not a whole number in [1, 2147483648]"},
        {"pool_levels -1", "test.cfg:4: pool_levels: '-1' is not a whole number"},
        {"heartbeat_ms 1e3", "test.cfg:4: heartbeat_ms: '1e3' is not a whole number"},
        {"idle_timeout_ms 99999999999999999999999",
         "test.cfg:4: idle_timeout_ms: '99999999999999999999999' is not a whole number"},
        {"shutdown_timeout_ms 3600001",
         "test.cfg:4: shutdown_timeout_ms: '3600001' is not a whole number in [0, 3600000]"},
        {"outbound_limit 100", "test.cfg:4: outbound_limit: '100' is not a whole number in [4096,"},
        {"shards 0", "test.cfg:4: shards: '0' is not a whole number in [1, 64]"},
        {"shards 3", "test.cfg: shards 3: more shards than instruments (2)"},
        {"listen 1.2.3.4:70000", "test.cfg:4: listen port: '70000'"},
        {"spin_us +5", "test.cfg:4: spin_us: '+5' is not a whole number"},
        {"user v password=p max_qty=0", "test.cfg:4: user v: max_qty: '0' is not a whole number in [1, 4294967295]"},
        {"user v password=p max_notional=0", "test.cfg:4: user v: max_notional: '0' is not a whole number in [1,"},
        {"instrument C max_qty=0", "test.cfg:4: instrument C: max_qty: '0' is not a whole number in [1, 4294967295]"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        CHECK_THAT(error_of(std::string(c.line) + "\n"), Catch::StartsWith(c.expect));
    }
    CHECK(error_of("shards 2\nshutdown_timeout_ms 0\n").empty());
}

TEST_CASE("CRC-32C: the instruction and the portable loop agree, on known values and on every length", "[journal]") {
    const std::string check = "123456789";
    CHECK(en::crc32c(check.data(), check.size()) == 0xE306'9283u);  // the standard check value
    std::mt19937_64 rng(3);
    std::vector<std::uint8_t> b(300);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    for (std::size_t n = 0; n <= b.size(); ++n) {
        INFO("length " << n);
        REQUIRE(en::detail::crc32c_sw(b.data(), n) == en::crc32c(b.data(), n));
    }
    CHECK(en::crc32c_fixed<60>(b.data()) == en::detail::crc32c_sw(b.data(), 60));
}

TEST_CASE("login request: session and requested sequence number are read, a sequence that is not a number is an error",
          "[protocol]") {
    std::vector<std::uint8_t> b;
    wire::Encoder(b).login("alice", "pw1", "ABC", 12345678901234567890ull);
    wire::Login l;
    REQUIRE(wire::decode_login(std::span<const std::uint8_t>(b).subspan(3), l) == nullptr);
    CHECK(l.session == "ABC");
    CHECK(l.sequence == 12345678901234567890ull);
    b.clear();
    wire::Encoder(b).login("alice", "pw1");
    REQUIRE(wire::decode_login(std::span<const std::uint8_t>(b).subspan(3), l) == nullptr);
    CHECK(l.session.empty());
    CHECK(l.sequence == 0);
    b[3 + 26 + 5] = 'x';  // inside the numeric field
    CHECK(std::string(wire::decode_login(std::span<const std::uint8_t>(b).subspan(3), l)).find("not a number") !=
          std::string::npos);
    b.clear();
    wire::Encoder(b).login("alice", "pw1", "", 1);
    std::fill(b.begin() + 3 + 26, b.end(), '9');  // 20 nines: above 2^64 - 1
    CHECK(wire::decode_login(std::span<const std::uint8_t>(b).subspan(3), l) != nullptr);
    // Login Accepted round trip.
    b.clear();
    wire::Encoder(b).login_accepted("SESSION1", 77);
    wire::LoginAccepted la;
    REQUIRE(wire::decode_login_accepted(std::span<const std::uint8_t>(b).subspan(3), la));
    CHECK(la.session == "SESSION1");
    CHECK(la.sequence == 77);
}

namespace {
en::Command enter_cmd(std::uint64_t id, std::uint32_t user, ob::Side side, std::uint32_t qty, std::uint32_t price,
                      std::uint16_t instrument = 1) {
    en::Command c;
    c.kind = en::CommandKind::Enter;
    c.side = side;
    c.instrument = instrument;
    c.user = user;
    c.qty = qty;
    c.price = price;
    c.ts = 1000 + id;
    c.token = id * 10;
    c.order_id = id;
    return c;
}
}  // namespace

namespace {
const en::journal_format::Header kHeader{.venue = 0xABCD, .shard = 1, .shards = 2, .created_ns = 7};

// Reads a whole journal; returns the records and what was left torn.
std::pair<std::vector<en::Command>, std::uint64_t> read_all(const std::string& path) {
    en::JournalReader r(path);
    std::vector<en::Command> out;
    en::Command c;
    while (r.next(c)) out.push_back(c);
    return {out, r.torn_bytes()};
}
std::vector<std::uint8_t> file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}
void put_file(const std::string& path, const std::vector<std::uint8_t>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
}  // namespace

TEST_CASE("journal: records read back exactly, with their header", "[journal]") {
    // Mapped (sync os) or written (sync fsync, as the configuration forces).
    const auto mode = GENERATE(en::JournalMode::Mapped, en::JournalMode::Write);
    const auto policy = mode == en::JournalMode::Mapped ? en::SyncPolicy::Os : en::SyncPolicy::Fsync;
    INFO("mode " << (mode == en::JournalMode::Mapped ? "mmap" : "write"));
    TempDir dir;
    const std::string path = dir.path + "/j.nxj";
    std::vector<en::Command> written;
    {
        auto w = en::JournalWriter::create(path, kHeader, mode, policy);
        std::mt19937_64 rng(11);
        for (std::uint64_t i = 1; i <= 2000; ++i) {  // more than the writer's first buffer
            en::Command c = enter_cmd(i, static_cast<std::uint32_t>(rng() % 5),
                                      rng() % 2 ? ob::Side::Buy : ob::Side::Sell, 10, 10000);
            c.kind = std::array{en::CommandKind::Enter, en::CommandKind::Replace, en::CommandKind::Cancel}[rng() % 3];
            if (c.kind == en::CommandKind::Enter) {
                c.tif = std::array{ob::TimeInForce::GTC, ob::TimeInForce::IOC, ob::TimeInForce::FOK}[rng() % 3];
                c.type = rng() % 2 ? ob::OrderType::Market : ob::OrderType::Limit;
                c.post_only = rng() % 2 != 0;
                c.stp = std::array{ob::SelfTrade::CancelIncoming, ob::SelfTrade::CancelResting,
                                   ob::SelfTrade::CancelBoth}[rng() % 3];
            } else {
                c.side = ob::Side::Buy, c.tif = ob::TimeInForce::GTC, c.type = ob::OrderType::Limit,
                c.post_only = false, c.stp = ob::SelfTrade::CancelIncoming;
                c.new_token = rng(), c.new_order_id = rng();
            }
            c.ts = rng();
            w.append(c);
            written.push_back(c);
            if (i % 300 == 0) w.commit();
        }
        w.commit();
        CHECK(w.committed_records() == 2000);
    }
    // Closed: cut to its true length.
    CHECK(std::filesystem::file_size(path) == en::journal_format::kHeaderSize + 2000 * en::journal_format::kRecordSize);
    en::JournalReader r(path);
    CHECK(r.header().venue == 0xABCD);
    CHECK(r.header().shard == 1);
    CHECK(r.header().shards == 2);
    const auto [got, torn] = read_all(path);
    CHECK(torn == 0);
    REQUIRE(got.size() == written.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("record " << i + 1);
        REQUIRE(std::memcmp(&got[i].kind, &written[i].kind, 6) == 0);
        REQUIRE(got[i].instrument == written[i].instrument);
        REQUIRE(got[i].user == written[i].user);
        REQUIRE(std::tie(got[i].qty, got[i].price, got[i].ts, got[i].token, got[i].new_token, got[i].order_id,
                         got[i].new_order_id) == std::tie(written[i].qty, written[i].price, written[i].ts,
                                                          written[i].token, written[i].new_token, written[i].order_id,
                                                          written[i].new_order_id));
    }
    // Appending carries the numbering on.
    {
        auto w = en::JournalWriter::append_to(path, 2000, mode, en::SyncPolicy::Os);
        w.append(enter_cmd(9999, 0, ob::Side::Buy, 1, 10000));
        w.commit();
    }
    CHECK(read_all(path).first.size() == 2001);
}

TEST_CASE("journal: every command's packed codes are format 02's, and decode back", "[journal]") {
    // Format 02 took each code from the low bits of the protocol letter
    // ('O' & 3, ('S' & 1) << 2, ...); files written that way must keep
    // their meaning, so the codes are checked against that rule itself.
    namespace code = en::journal_format::code;
    const auto letters = [](char kind, char side, char tif, char type, char post, char stp) {
        const auto low = [](char c, unsigned mask) {
            return static_cast<unsigned>(static_cast<unsigned char>(c)) & mask;
        };
        return low(kind, 3) | low(side, 1) << 2 | low(tif, 3) << 3 | low(type, 1) << 5 | low(post, 1) << 6 |
               low(stp, 7) << 7;
    };
    int checked = 0;
    for (auto [k, kl] :
         {std::pair{en::CommandKind::Enter, 'O'}, {en::CommandKind::Replace, 'U'}, {en::CommandKind::Cancel, 'X'}})
        for (auto [sd, sl] : {std::pair{ob::Side::Buy, 'B'}, {ob::Side::Sell, 'S'}})
            for (auto [t, tl] :
                 {std::pair{ob::TimeInForce::GTC, 'D'}, {ob::TimeInForce::IOC, 'I'}, {ob::TimeInForce::FOK, 'F'}})
                for (auto [ty, yl] : {std::pair{ob::OrderType::Limit, 'L'}, {ob::OrderType::Market, 'M'}})
                    for (auto [p, pl] : {std::pair{false, 'N'}, {true, 'Y'}})
                        for (auto [st, stl] : {std::pair{ob::SelfTrade::CancelIncoming, 'N'},
                                               {ob::SelfTrade::CancelResting, 'O'},
                                               {ob::SelfTrade::CancelBoth, 'B'}}) {
                            en::Command c;
                            c.kind = k, c.side = sd, c.tif = t, c.type = ty, c.post_only = p, c.stp = st;
                            const unsigned f = code::flags(c);
                            REQUIRE(f == letters(kl, sl, tl, yl, pl, stl));
                            en::Command back;
                            REQUIRE(code::decode(f, back));
                            REQUIRE((back.kind == k && back.side == sd && back.tif == t && back.type == ty &&
                                     back.post_only == p && back.stp == st));
                            ++checked;
                        }
    CHECK(checked == 216);
    // Codes no command has are refused.
    en::Command c;
    CHECK_FALSE(code::decode(2, c));                        // kind 2
    CHECK_FALSE(code::decode(3u | 3u << 3, c));             // time in force 3
    CHECK_FALSE(code::decode(3u | 6u << 7 | 1u << 10, c));  // a bit above the codes
    CHECK_FALSE(code::decode(3u | 5u << 7, c));             // self-trade code 5
}

TEST_CASE("journal: a torn tail is reported, a complete damaged record is damage, cuts, duplicates and swaps are found",
          "[journal]") {
    TempDir dir;
    const std::string path = dir.path + "/j.nxj";
    {
        auto w = en::JournalWriter::create(path, kHeader, en::JournalMode::Write, en::SyncPolicy::Os);
        for (std::uint64_t i = 1; i <= 10; ++i) w.append(enter_cmd(i, 0, ob::Side::Buy, 10, 10000));
        w.commit();
    }
    const std::vector<std::uint8_t> good = file_bytes(path);
    const std::size_t H = en::journal_format::kHeaderSize, R = en::journal_format::kRecordSize;
    REQUIRE(good.size() == H + 10 * R);
    auto record = [&](std::size_t i) {
        return std::vector<std::uint8_t>(good.begin() + static_cast<std::ptrdiff_t>(H + i * R),
                                         good.begin() + static_cast<std::ptrdiff_t>(H + (i + 1) * R));
    };
    auto error_of = [&](const std::vector<std::uint8_t>& bytes) -> std::string {
        put_file(path, bytes);
        try {
            read_all(path);
        } catch (const en::JournalError& e) {
            return e.what();
        }
        return "";
    };
    SECTION("an incomplete last record is a torn tail, not an error") {
        auto b = good;
        b.insert(b.end(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
        put_file(path, b);
        const auto [got, torn] = read_all(path);
        CHECK(got.size() == 10);
        CHECK(torn == 14);
    }
    SECTION("a complete last record with a bad checksum is damage, named so") {
        auto b = good;
        b[H + 9 * R + 30] ^= 0x40;
        const std::string e = error_of(b);
        CHECK_THAT(e, Catch::Contains(path + ": offset " + std::to_string(H + 9 * R) + ": record 10 is damaged") &&
                          Catch::Contains("not a torn write"));
    }
    SECTION("damage in the middle is named with its offset") {
        auto b = good;
        b[H + 3 * R + 20] ^= 1;
        CHECK_THAT(error_of(b), Catch::Contains("offset " + std::to_string(H + 3 * R) + ": record 4 is damaged"));
    }
    SECTION("records cut out at a record boundary") {
        auto b = good;
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(H + 4 * R), b.begin() + static_cast<std::ptrdiff_t>(H + 6 * R));
        CHECK_THAT(error_of(b),
                   Catch::Contains("offset " + std::to_string(H + 4 * R) + ": record number 7 where 5 belongs") &&
                       Catch::Contains("cut out"));
    }
    SECTION("the first records cut out") {
        auto b = good;
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(H), b.begin() + static_cast<std::ptrdiff_t>(H + R));
        CHECK_THAT(error_of(b), Catch::Contains("record number 2 where 1 belongs"));
    }
    SECTION("a record repeated") {
        auto b = good;
        const auto r = record(5);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(H + 6 * R), r.begin(), r.end());
        CHECK_THAT(error_of(b), Catch::Contains("record number 6 where 7 belongs") && Catch::Contains("repeated"));
    }
    SECTION("two records swapped") {
        auto b = good;
        const auto r2 = record(2), r3 = record(3);
        std::copy(r3.begin(), r3.end(), b.begin() + static_cast<std::ptrdiff_t>(H + 2 * R));
        std::copy(r2.begin(), r2.end(), b.begin() + static_cast<std::ptrdiff_t>(H + 3 * R));
        CHECK_THAT(error_of(b), Catch::Contains("record number 4 where 3 belongs"));
    }
    SECTION("a good checksum over impossible contents") {
        auto b = good;
        en::journal_format::put<std::uint16_t>(b.data() + H + 2 * R + 4, 0x0002);  // kind code 2 is none
        en::journal_format::put<std::uint32_t>(b.data() + H + 2 * R, en::crc32c(b.data() + H + 2 * R + 4, R - 4));
        CHECK_THAT(error_of(b), Catch::Contains("record 3 has a good checksum but an impossible command kind"));
    }
    SECTION("an empty file, a file that is not a journal, a damaged header") {
        CHECK_THAT(error_of({}), Catch::Contains("empty (0 bytes"));
        const std::string text = "hello, this is not a journal";
        CHECK_THAT(error_of(std::vector<std::uint8_t>(text.begin(), text.end())), Catch::Contains("bad magic"));
        auto b = good;
        b[20] ^= 1;
        CHECK_THAT(error_of(b), Catch::Contains("damaged header"));
    }
    SECTION("a journal of format 01 is refused by its version") {
        std::vector<std::uint8_t> old = {'N', 'X', 'J', 'R', 'N', 'L', '0', '1', 1, 0, 0, 0, 0, 0, 0, 0};
        old.resize(16 + 64, 0);
        CHECK_THAT(error_of(old), Catch::Contains("journal format 01") && Catch::Contains("reads format 02 only"));
    }
}

TEST_CASE("manifest: written and read back, damage and edits are refused", "[journal][venue]") {
    TempDir dir;
    en::Manifest m;
    en::new_identity(m, 123);
    m.description = en::VenueDescription::of(make_config(base_config(dir.path, "shards 2\n")));
    m.journal_records = {5, 0};
    m.outbound_records = 9;
    en::write_manifest(dir.path, m);
    const en::Manifest back = en::read_manifest(dir.path);
    CHECK(back.venue == m.venue);
    CHECK(back.session == m.session);
    CHECK(back.session.size() == 10);
    CHECK(back.description.users == m.description.users);
    CHECK(back.description.instruments.size() == 3);
    CHECK(back.description.instruments[2].max_price == m.description.instruments[2].max_price);
    CHECK(back.journal_records == m.journal_records);
    CHECK(back.outbound_records == 9);
    CHECK(en::compare_venues(m.description, back.description).empty());
    // One character changed anywhere: refused.
    const std::string path = en::manifest_path(dir.path);
    std::string text = en::manifest_text(m);
    const auto at = text.find("user bob");
    text[at + 5] = 'r';
    { std::ofstream(path, std::ios::trunc) << text; }
    CHECK_THROWS_WITH(en::read_manifest(dir.path), Catch::Contains(path) && Catch::Contains("checksum mismatch"));
    { std::ofstream(path, std::ios::trunc) << en::manifest_text(m).substr(0, 100); }
    CHECK_THROWS_WITH(en::read_manifest(dir.path), Catch::Contains("cut"));
}

TEST_CASE("venue comparison: each unsafe change is named, the safe ones are allowed", "[venue]") {
    TempDir dir;
    const std::string base = base_config(dir.path, "shards 2\n");
    const auto was = en::VenueDescription::of(make_config(base));
    auto changes = [&](const std::string& text) {
        return en::compare_venues(was, en::VenueDescription::of(make_config(text)));
    };
    auto unsafe = [&](const std::string& text) {
        std::string out;
        for (const auto& c : changes(text))
            if (!c.safe) out += c.what + "\n";
        return out;
    };
    auto replace = [&](std::string text, const std::string& a, const std::string& b) {
        const auto at = text.find(a);
        REQUIRE(at != std::string::npos);
        return text.replace(at, a.size(), b);
    };
    CHECK(changes(base).empty());
    // Two users swapped: both positions named.
    const std::string swapped = replace(replace(base, "user alice password=pw1", "user TMP password=pw1"),
                                        "user bob password=pw2", "user alice password=pw2");
    CHECK_THAT(unsafe(replace(swapped, "user TMP", "user bob")),
               Catch::Contains("user 1 was alice, is now bob") && Catch::Contains("user 2 was bob, is now alice"));
    // An instrument added at the top.
    CHECK_THAT(unsafe(replace(base, "instrument AAPL", "instrument IBM\ninstrument AAPL")),
               Catch::Contains("instrument 1 was AAPL, is now IBM"));
    CHECK_THAT(unsafe(replace(base, "min_price=1.0000 max_price=1000.0000 max_qty=100000\ninstrument MSFT",
                              "min_price=1.0000 max_price=900.0000 max_qty=100000\ninstrument MSFT")),
               Catch::Contains("AAPL: price band narrowed from [1.0000, 1000.0000] to [1.0000, 900.0000]"));
    CHECK_THAT(unsafe(base + "shards 3\n"), Catch::Contains("shards: the journal has 2, the configuration 3"));
    CHECK_THAT(unsafe(base + "pool_orders 100\n"), Catch::Contains("pool_orders lowered from 4096 to 100"));
    CHECK_THAT(unsafe(replace(base, "instrument TINY min_price=1.0000 max_price=2.0000 max_qty=100\n", "")),
               Catch::Contains("instrument 3 (TINY) removed"));
    CHECK_THAT(unsafe(replace(base, "max_price=2.0000 max_qty=100", "max_price=2.0000 max_qty=99")),
               Catch::Contains("TINY: max_qty lowered from 100 to 99"));
    // Safe: appended entries, a wider band, raised maxima and pools.
    const std::string safe =
        replace(replace(base, "max_price=2.0000 max_qty=100", "min_price=0.5 max_price=3.0000 max_qty=1000"),
                "instrument TINY min_price=1.0000", "instrument TINY") +
        "instrument NEW\nuser dave password=x\npool_orders 8192\n";
    CHECK(unsafe(safe).empty());
    const auto all = changes(safe);
    CHECK(all.size() == 5);  // band, max_qty, instrument, user, pool
    for (const auto& c : all) CHECK(c.safe);
}

TEST_CASE("outbound store: streams numbered per user, read back in chunks from the file and from the unwritten buffer",
          "[store]") {
    const auto mode = GENERATE(en::JournalMode::Mapped, en::JournalMode::Write);
    INFO("mode " << (mode == en::JournalMode::Mapped ? "mmap" : "write"));
    TempDir dir;
    const std::string path = dir.path + "/outbound.nxo";
    const std::uint32_t users = 3;
    std::vector<std::vector<std::vector<std::uint8_t>>> sent(users);  // [user][seq - 1] = packet
    std::mt19937_64 rng(5);
    auto packet = [&](std::uint32_t user, std::uint64_t n) {
        std::vector<std::uint8_t> b;
        wire::Encoder(b).rejected(n, user * 1'000'000 + n, static_cast<char>('A' + rng() % 26));
        return b;
    };
    {
        en::OutboundStore store(users);
        store.create(path, 42, 1, mode, en::SyncPolicy::Os);
        for (std::uint64_t i = 0; i < 3000; ++i) {
            const auto u = static_cast<std::uint32_t>(rng() % 10 < 7 ? 0 : 1 + rng() % 2);  // user 0 the busiest
            const auto p = packet(u, i);
            CHECK(store.append(u, static_cast<std::uint8_t>(rng() % 3), p) == sent[u].size() + 1);
            sent[u].push_back(p);
            if (i % 500 == 499) store.commit();  // the last 499 stay in the buffer
        }
        // Every user's stream from every starting point, chunk by chunk (from the file and the buffer).
        for (std::uint32_t u = 0; u < users; ++u) {
            INFO("user " << u);
            REQUIRE(store.next_seq(u) == sent[u].size() + 1);
            for (std::uint64_t from = 1; from <= sent[u].size(); from += 1 + rng() % 97) {
                std::vector<std::uint8_t> got;
                std::uint64_t next = from;
                while (next < store.next_seq(u)) {
                    const std::uint64_t after = store.read_chunk(u, next, got);
                    REQUIRE(after > next);
                    REQUIRE(after - next <= en::OutboundStore::kCheckpointEvery);
                    next = after;
                }
                std::vector<std::uint8_t> expect;
                for (std::uint64_t s = from; s <= sent[u].size(); ++s)
                    expect.insert(expect.end(), sent[u][s - 1].begin(), sent[u][s - 1].end());
                REQUIRE(got == expect);
            }
        }
        store.commit();
    }
    // Scanned back: every record continues its user's stream.
    en::OutboundScanner scan(path);
    CHECK(scan.venue() == 42);
    en::OutboundStore again(users);
    en::outbound_format::Record r;
    std::uint64_t n = 0;
    while (scan.next(r)) {
        REQUIRE(again.index(r).empty());
        REQUIRE(std::ranges::equal(r.packet, sent[r.user][r.seq - 1]));
        ++n;
    }
    CHECK(n == 3000);
    CHECK(scan.torn_bytes() == 0);
    for (std::uint32_t u = 0; u < users; ++u) CHECK(again.next_seq(u) == sent[u].size() + 1);

    SECTION("a torn tail, damage, and a record out of place are told apart") {
        auto good = file_bytes(path);
        auto scan_error = [&](const std::vector<std::uint8_t>& b, std::uint64_t* torn = nullptr) -> std::string {
            put_file(path, b);
            try {
                en::OutboundScanner sc(path);
                en::OutboundStore idx(users);
                en::outbound_format::Record rec;
                while (sc.next(rec))
                    if (const std::string bad = idx.index(rec); !bad.empty()) return "index: " + bad;
                if (torn) *torn = sc.torn_bytes();
            } catch (const en::JournalError& e) {
                return e.what();
            }
            return "";
        };
        auto b = good;
        b.resize(b.size() - 5);
        std::uint64_t torn = 0;
        CHECK(scan_error(b, &torn).empty());
        CHECK(torn > 0);
        b = good;
        b[64 + 40] ^= 1;  // inside the first record's packet
        CHECK_THAT(scan_error(b), Catch::Contains("offset 64: record 1 is damaged"));
        b = good;
        b.back() ^= 1;  // the last record, complete
        CHECK_THAT(scan_error(b), Catch::Contains("is damaged") && Catch::Contains("not a torn write"));
    }
}

TEST_CASE("shard core: matching events, and a replay of its commands gives the same books and output", "[core]") {
    TempDir dir;
    const auto cfg = make_config(base_config(dir.path));
    en::ShardCore core(cfg, 0);
    en::CoreOut out;
    std::mt19937_64 rng(7);
    std::vector<en::Command> cmds;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> live;  // (user, id) of orders entered
    std::uint64_t next = 1;
    for (int i = 0; i < 20000; ++i) {
        const int what = static_cast<int>(rng() % 10);
        en::Command c;
        if (what < 6 || live.empty()) {
            const ob::Side side = rng() % 2 ? ob::Side::Buy : ob::Side::Sell;
            const std::uint32_t user = static_cast<std::uint32_t>(rng() % 3);
            const std::uint32_t price = static_cast<std::uint32_t>(
                1000000 + (side == ob::Side::Buy ? -1 : 1) * static_cast<int>(rng() % 20) * 100 +
                (rng() % 4 == 0 ? (side == ob::Side::Buy ? 600 : -600) : 0));
            c = enter_cmd(next, user, side, static_cast<std::uint32_t>(1 + rng() % 300), price,
                          static_cast<std::uint16_t>(1 + 2 * (rng() % 2)));
            if (c.instrument == 3)
                c.price = 10000 + static_cast<std::uint32_t>(rng() % 100) * 100, c.qty %= 100, c.qty += 1;
            const auto tif = rng() % 6;
            c.tif = tif < 4 ? ob::TimeInForce::GTC : tif == 4 ? ob::TimeInForce::IOC : ob::TimeInForce::FOK;
            c.stp = std::array{ob::SelfTrade::CancelIncoming, ob::SelfTrade::CancelResting,
                               ob::SelfTrade::CancelBoth}[rng() % 3];
            live.emplace_back(user, next);
            ++next;
        } else {
            const auto [user, id] = live[rng() % live.size()];
            c.user = user;
            c.order_id = id;
            c.token = id * 10;
            c.instrument = 1;
            for (const auto& k : cmds)
                if (k.order_id == id || k.new_order_id == id) c.instrument = k.instrument;
            if (what < 8) {
                c.kind = en::CommandKind::Cancel;
                c.qty = rng() % 2 ? 0 : static_cast<std::uint32_t>(rng() % 50);
            } else {
                c.kind = en::CommandKind::Replace;
                c.new_token = next * 10;
                c.new_order_id = next;
                c.qty = static_cast<std::uint32_t>(1 + rng() % 100);
                c.price = c.instrument == 3 ? 15000 : 1000000 + static_cast<std::uint32_t>(rng() % 10) * 100;
                live.emplace_back(user, next);
                ++next;
            }
            c.ts = 5000 + static_cast<std::uint64_t>(i);
        }
        cmds.push_back(c);
        core.apply(c, out);
        const std::string bad = core.check();
        INFO("step " << i);
        REQUIRE(bad.empty());
    }
    CHECK(out.trades > 0);
    CHECK(core.live_orders() > 0);

    // Every event encodes to a well-formed order message.
    std::size_t events = 0;
    std::vector<std::uint8_t> encoded;
    en::EventEncoder(cfg).encode(out.events, encoded);
    en::for_each_event(encoded, [&](std::uint32_t user, std::span<const std::uint8_t> packet) {
        REQUIRE(user < 3);
        REQUIRE(packet[2] == wire::kSequenced);
        REQUIRE(wire::decode_outbound(packet.subspan(3)).type != 0);
        ++events;
    });
    CHECK(events == out.events.size());
    CHECK(events > cmds.size());

    // Replay: identical events, ITCH bytes and books.
    en::ShardCore again(cfg, 0);
    en::CoreOut out2;
    for (const auto& c : cmds) again.apply(c, out2);
    CHECK(out2.events == out.events);
    // Encoded as they are made (as the shard does), the same bytes.
    const en::EventEncoder enc(cfg);
    en::ShardCore third(cfg, 0);
    en::CoreOut out3(enc);
    for (const auto& c : cmds) third.apply(c, out3);
    CHECK(out3.events.empty());
    CHECK(out3.encoded == encoded);
    CHECK(std::ranges::equal(out2.itch.bytes(), out.itch.bytes()));
    std::vector<std::string> a, b;
    auto collect = [](std::vector<std::string>& v) {
        return [&v](const std::string& s, ob::Side side, ob::Price p, std::uint64_t q, ob::OrderId id, std::uint32_t u,
                    std::uint64_t t) {
            v.push_back(s + " " + std::to_string(static_cast<int>(side)) + " " + std::to_string(p) + " " +
                        std::to_string(q) + " " + std::to_string(id) + " " + std::to_string(u) + " " +
                        std::to_string(t));
        };
    };
    core.for_each_order(collect(a));
    again.for_each_order(collect(b));
    CHECK(a == b);
    CHECK(a.size() == core.live_orders());

    // The ITCH output rebuilds the same books, with no anomaly.
    nexus::feed::ItchEncoder head;
    head.directory(1, 0, "AAPL");
    head.directory(2, 0, "MSFT");
    head.directory(3, 0, "TINY");
    const std::string itch = dir.path + "/core.itch";
    {
        std::FILE* f = std::fopen(itch.c_str(), "wb");
        std::fwrite(head.bytes().data(), 1, head.bytes().size(), f);
        std::fwrite(out.itch.bytes().data(), 1, out.itch.bytes().size(), f);
        std::fclose(f);
    }
    const auto from_itch = read_itch_books(itch);
    REQUIRE(from_itch.ok);
    CHECK(from_itch.anomalies == 0);
    ItchBooks direct;
    core.for_each_book([&](std::uint16_t locate, const std::string&, const auto& bk) {
        if (bk.order_count()) direct.books[locate] = {bk.depth(ob::Side::Buy), bk.depth(ob::Side::Sell)};
    });
    CHECK(from_itch.books == direct.books);
}

TEST_CASE("router: every one of thousands of symbols finds its instrument, an unknown one is refused", "[router]") {
    std::string text = "user alice password=pw\n";
    std::vector<std::string> names;
    for (int i = 0; i < 3000; ++i) {
        std::string s;  // AAAA, AAAB, ...: symbols that differ in their last bytes only
        for (int v = i, k = 0; k < 4; ++k, v /= 26) s.insert(s.begin(), static_cast<char>('A' + v % 26));
        names.push_back(s);
        text += "instrument " + s + "\n";
    }
    const auto cfg = make_config(text);
    en::Router router(cfg);
    nexus::engine::wire::EnterOrder o;
    o.side = 'B';
    o.qty = 10;
    o.price = 10000;
    o.type = 'L';
    o.tif = 'D';
    o.post_only = 'N';
    o.stp = 'N';
    for (std::size_t i = 0; i < names.size(); ++i) {
        o.token = i + 1;
        o.symbol = nexus::engine::wire::make_symbol(names[i]);
        en::Command c;
        REQUIRE_FALSE(router.enter(0, o, c));
        REQUIRE(c.instrument == i + 1);
        REQUIRE(c.order_id == i + 1);
    }
    en::Command c;
    o.token = 99999;
    o.symbol = nexus::engine::wire::make_symbol("ZZZZZ");
    CHECK(router.enter(0, o, c) == en::RejectReason::UnknownSymbol);
    // A token already used is refused, and the refusal assigns no order ID.
    o.symbol = nexus::engine::wire::make_symbol(names[5]);
    o.token = 6;
    CHECK(router.enter(0, o, c) == en::RejectReason::DuplicateToken);
    o.token = 100000;
    REQUIRE_FALSE(router.enter(0, o, c));
    CHECK(c.order_id == names.size() + 1);
}

TEST_CASE("token map: runs of consecutive tokens and scattered ones agree with a plain map", "[router]") {
    // Tokens drawn so that runs start, extend, break and resume, with
    // repeats, tokens below the run, 0 and the top of the range mixed in.
    std::mt19937_64 rng(11);
    en::TokenMap map;
    std::unordered_map<std::uint64_t, std::uint64_t> model;
    std::uint64_t next = 1'000, id = 1;
    REQUIRE(map.insert_new(next, id));  // the first token starts the run
    model[next++] = id++;
    for (int step = 0; step < 200'000; ++step) {
        std::uint64_t token;
        const int r = static_cast<int>(rng() % 100);
        if (r < 70)
            token = next++;  // counting up: extends the run
        else if (r < 80)
            token = next - 1 - rng() % 50;  // a recent token again
        else if (r < 88)
            token = rng() % 2'000;  // below or at the run's start
        else if (r < 91)
            token = rng();  // anywhere
        else if (r < 93)
            token = next + 1 + rng() % 8;  // a little ahead of the count
        else if (r < 95)
            token = next + 1'000'000 + rng() % 100;  // far ahead: to the table
        else if (r < 98)
            next += 1 + rng() % 8, token = next++;  // the count skips a few
        else
            token = rng() % 2 ? 0 : ~std::uint64_t{0};
        const bool fresh = !model.count(token);
        if (rng() % 10 == 0 && !fresh) {  // overwrite (a replace's restore)
            map.put(token, id);
            model[token] = id++;
        } else {
            REQUIRE(map.insert_new(token, id) == fresh);
            if (fresh) model[token] = id;
            ++id;
        }
        const std::uint64_t probe = rng() % 3 == 0 ? rng() % (next + 10) : token;
        const auto it = model.find(probe);
        REQUIRE(map.find(probe) == (it == model.end() ? 0 : it->second));
    }
    REQUIRE(map.size() == model.size());
    for (const auto& [t, o] : model) REQUIRE(map.find(t) == o);
    // Tokens counted up, even with small gaps, stay in the run; the others go to the table.
    CHECK(map.run_tokens() > model.size() * 7 / 10);
    CHECK(map.run_tokens() < model.size());
}

TEST_CASE("paged array: entries read back across pages, unwritten ones read as zero", "[router]") {
    en::PagedArray<std::uint16_t, 4> a;  // 16 entries a page
    CHECK(a.size() == 0);
    CHECK(a.get(5) == 0);
    a.ensure(40);
    CHECK(a.size() == 48);
    for (std::size_t i = 0; i <= 40; ++i) a[i] = static_cast<std::uint16_t>(i * 3 + 1);
    std::uint16_t* first = &a[0];
    a.ensure(1'000);  // growing moves nothing
    CHECK(&a[0] == first);
    for (std::size_t i = 0; i <= 40; ++i) REQUIRE(a.get(i) == i * 3 + 1);
    CHECK(a.get(41) == 0);
    CHECK(a.get(999) == 0);
    CHECK(a.get(5'000) == 0);
}

// Protocol codec, configuration, journal and shard core, without sockets.
#include <fcntl.h>

#include <random>
#include <unordered_map>

#include "engine/engine_util.hpp"

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
    CHECK((got[3].type == 'E' && got[3].token == 16 && got[3].qty == 17 && got[3].price == 18 && got[3].liquidity == 'R' &&
           got[3].match == 19));
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
                    REQUIRE(wire::decode_login(pk.payload, l));
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
    CHECK(error_of("instrument X min_price=1.23456\nuser a password=b\n").find("test.cfg:1: instrument X: min_price") == 0);
    CHECK(error_of("instrument X min_price=5 max_price=4\nuser a password=b\n").find("need 0 < min_price <= max_price") !=
          std::string::npos);
    CHECK(error_of("instrument X\nuser a\n") == "test.cfg:2: user a: password= is required");
    CHECK(error_of(ok + "sync sometimes\n").find("test.cfg:3: sync") == 0);
    CHECK(error_of(ok + "listen nowhere\n").find("test.cfg:3: listen") == 0);
    CHECK(error_of("user a password=b\n") == "test.cfg: no instrument defined");
    CHECK(error_of(ok + "instrument WAYTOOLONG\n").find("longer than 8") != std::string::npos);
    const auto c = make_config("instrument X min_price=0.01 max_price=12.5 max_qty=7\nuser a password=b max_notional=9\nsync fsync\nshards 4\n");
    CHECK(c.instruments[0].min_price == 100);
    CHECK(c.instruments[0].max_price == 125000);
    CHECK(c.instruments[0].max_qty == 7);
    CHECK(c.users[0].max_notional == 9);
    CHECK(c.sync == en::SyncPolicy::Fsync);
    CHECK(c.shards == 1);  // no more shards than instruments
}

namespace {
en::Command enter_cmd(std::uint64_t id, std::uint32_t user, char side, std::uint32_t qty, std::uint32_t price,
                      std::uint16_t instrument = 1) {
    en::Command c;
    c.kind = 'O';
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

TEST_CASE("journal: records read back, a torn tail is cut, damage in the middle is an error", "[journal]") {
    TempDir dir;
    const std::string path = dir.path + "/j.nxj";
    {
        en::JournalWriter w(path, 2, 1, en::SyncPolicy::Fsync);
        for (std::uint64_t i = 1; i <= 10; ++i) w.append(enter_cmd(i, 0, 'B', 10, 10000));
        w.commit();
        CHECK(w.commits() == 1);
    }
    auto jc = en::read_journal(path, 2, 1, false);
    REQUIRE(jc.records.size() == 10);
    CHECK(jc.records[9].order_id == 10);
    CHECK(jc.cut_bytes == 0);

    SECTION("the shard count and index are checked") {
        CHECK_THROWS_WITH(en::read_journal(path, 1, 0, false), Catch::Contains("offset 8") && Catch::Contains("shard 1 of 2"));
    }
    SECTION("a torn final write is cut off, and appending resumes after it") {
        {
            std::FILE* f = std::fopen(path.c_str(), "ab");
            std::fwrite("partial record", 1, 14, f);
            std::fclose(f);
        }
        jc = en::read_journal(path, 2, 1, true);
        CHECK(jc.records.size() == 10);
        CHECK(jc.cut_bytes == 14);
        CHECK(std::filesystem::file_size(path) == en::kJournalHeader + 10 * 64);
        {
            en::JournalWriter w(path, 2, 1, en::SyncPolicy::Os);
            w.append(enter_cmd(11, 0, 'B', 10, 10000));
            w.commit();
        }
        CHECK(en::read_journal(path, 2, 1, false).records.size() == 11);
    }
    SECTION("a damaged record followed by good ones is refused with its offset") {
        {
            const int fd = ::open(path.c_str(), O_WRONLY);
            const std::uint8_t junk = 0xAB;
            REQUIRE(::pwrite(fd, &junk, 1, static_cast<off_t>(en::kJournalHeader + 3 * 64 + 20)) == 1);
            ::close(fd);
        }
        CHECK_THROWS_WITH(en::read_journal(path, 2, 1, true),
                          Catch::Contains("offset " + std::to_string(en::kJournalHeader + 3 * 64)) && Catch::Contains("damaged"));
    }
    SECTION("a file that is not a journal is refused") {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        std::fputs("hello, this is not a journal", f);
        std::fclose(f);
        CHECK_THROWS_WITH(en::read_journal(path, 2, 1, false), Catch::Contains("bad magic"));
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
            const char side = rng() % 2 ? 'B' : 'S';
            const std::uint32_t user = static_cast<std::uint32_t>(rng() % 3);
            const std::uint32_t price = static_cast<std::uint32_t>(1000000 + (side == 'B' ? -1 : 1) * static_cast<int>(rng() % 20) * 100 +
                                                                   (rng() % 4 == 0 ? (side == 'B' ? 600 : -600) : 0));
            c = enter_cmd(next, user, side, static_cast<std::uint32_t>(1 + rng() % 300), price, static_cast<std::uint16_t>(1 + 2 * (rng() % 2)));
            if (c.instrument == 3) c.price = 10000 + static_cast<std::uint32_t>(rng() % 100) * 100, c.qty %= 100, c.qty += 1;
            c.tif = "DDDDIF"[rng() % 6];
            c.stp = "NOB"[rng() % 3];
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
                c.kind = 'X';
                c.qty = rng() % 2 ? 0 : static_cast<std::uint32_t>(rng() % 50);
            } else {
                c.kind = 'U';
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

    // Every event is a well-formed order message.
    std::size_t events = 0;
    en::for_each_event(out.events, [&](std::uint32_t user, std::span<const std::uint8_t> packet) {
        REQUIRE(user < 3);
        REQUIRE(packet[2] == wire::kSequenced);
        REQUIRE(wire::decode_outbound(packet.subspan(3)).type != 0);
        ++events;
    });
    CHECK(events > cmds.size());

    // Replay: identical events, ITCH bytes and books.
    en::ShardCore again(cfg, 0);
    en::CoreOut out2;
    for (const auto& c : cmds) again.apply(c, out2);
    CHECK(out2.events == out.events);
    CHECK(std::ranges::equal(out2.itch.bytes(), out.itch.bytes()));
    std::vector<std::string> a, b;
    auto collect = [](std::vector<std::string>& v) {
        return [&v](const std::string& s, ob::Side side, ob::Price p, std::uint64_t q, ob::OrderId id, std::uint32_t u, std::uint64_t t) {
            v.push_back(s + " " + std::to_string(static_cast<int>(side)) + " " + std::to_string(p) + " " + std::to_string(q) + " " +
                        std::to_string(id) + " " + std::to_string(u) + " " + std::to_string(t));
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
        REQUIRE(router.enter(0, o, c) == 0);
        REQUIRE(c.instrument == i + 1);
        REQUIRE(c.order_id == i + 1);
    }
    en::Command c;
    o.token = 99999;
    o.symbol = nexus::engine::wire::make_symbol("ZZZZZ");
    CHECK(router.enter(0, o, c) == nexus::engine::wire::reason::UnknownSymbol);
    // A token already used is refused, and the refusal assigns no order ID.
    o.symbol = nexus::engine::wire::make_symbol(names[5]);
    o.token = 6;
    CHECK(router.enter(0, o, c) == nexus::engine::wire::reason::DuplicateToken);
    o.token = 100000;
    REQUIRE(router.enter(0, o, c) == 0);
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
        if (r < 70) token = next++;                                  // counting up: extends the run
        else if (r < 80) token = next - 1 - rng() % 50;              // a recent token again
        else if (r < 88) token = rng() % 2'000;                      // below or at the run's start
        else if (r < 91) token = rng();                              // anywhere
        else if (r < 93) token = next + 1 + rng() % 8;               // a little ahead of the count
        else if (r < 95) token = next + 1'000'000 + rng() % 100;     // far ahead: to the table
        else if (r < 98) next += 1 + rng() % 8, token = next++;      // the count skips a few
        else token = rng() % 2 ? 0 : ~std::uint64_t{0};
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

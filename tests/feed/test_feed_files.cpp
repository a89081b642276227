// ITCH files: plain (mapped) and gzip (streamed) give the same messages; bad
// files stop with offsets; a generated day replays with no anomaly into books
// that match an independent plain model fed from the same messages.
#include <catch2/catch.hpp>

#include <nexus/feed/itch_books.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/feed/synth.hpp>
#include <nexus/orderbook/plain_book.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "itch_builder.hpp"
#include "temp_files.hpp"

using namespace nexus::feed;

namespace {

void write_gzip(const std::string& path, const std::vector<std::uint8_t>& b) {
    gzFile g = gzopen(path.c_str(), "wb");
    REQUIRE(g != nullptr);
    REQUIRE(gzwrite(g, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
    gzclose(g);
}

// A stream big enough to cross the gzip reader's 4 MiB buffer several times.
std::vector<std::uint8_t> big_stream(std::size_t n) {
    std::vector<std::uint8_t> s;
    nexus::test::itch_directory(1, "AAPL").frame_into(s);
    for (std::size_t i = 0; i < n; ++i) {
        nexus::test::itch_add(1, i + 1, i % 2 ? 'B' : 'S', 100, "AAPL", 1000 + static_cast<std::uint32_t>(i % 50))
            .frame_into(s);
        nexus::test::itch_delete(1, i + 1).frame_into(s);
    }
    return s;
}

struct Seen {
    std::uint64_t count = 0, sum = 0, last_offset = 0;
    bool operator()(const itch::Message& m) {
        ++count;
        sum += m.type() == 'A' ? itch::AddOrder(m).ref() : 0;
        last_offset = m.offset;
        return true;
    }
};

// Writes `bytes` to a descriptor in pieces of `piece` bytes (the first piece
// a single byte, so a reader must not assume the gzip magic arrives whole),
// then closes it.
void write_in_pieces(int fd, const std::vector<std::uint8_t>& bytes, std::size_t piece) {
    std::size_t pos = 0;
    bool first = true;
    while (pos < bytes.size()) {
        const std::size_t n = std::min(first ? std::size_t{1} : piece, bytes.size() - pos);
        const ssize_t w = ::write(fd, bytes.data() + pos, n);
        if (w <= 0) break;
        pos += static_cast<std::size_t>(w);
        if (first) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        first = false;
    }
    ::close(fd);
}

}  // namespace

TEST_CASE("itch files: plain and gzip give the same messages across buffer boundaries", "[feed][files]") {
    nexus::test::TempDir tmp("feed");
    const auto bytes = big_stream(120'000);  // about 6.6 MB
    nexus::test::write_file(tmp.path("day.itch"), bytes);
    write_gzip(tmp.path("day.itch.gz"), bytes);
    Seen plain, gz;
    const ReadResult rp = read_itch(tmp.path("day.itch"), plain);
    const ReadResult rg = read_itch(tmp.path("day.itch.gz"), gz);
    REQUIRE(rp.ok);
    REQUIRE(rg.ok);
    CHECK_FALSE(rp.gzip);
    CHECK(rg.gzip);
    CHECK(plain.count == 240'001);
    CHECK(gz.count == plain.count);
    CHECK(gz.sum == plain.sum);
    CHECK(gz.last_offset == plain.last_offset);
    CHECK(rp.bytes == bytes.size());
    CHECK(rg.bytes == bytes.size());
}

TEST_CASE("itch files: concatenated gzip members are one stream", "[feed][files]") {
    nexus::test::TempDir tmp("feed");
    const auto a = big_stream(10), b = big_stream(20);
    write_gzip(tmp.path("a.gz"), a);
    write_gzip(tmp.path("b.gz"), b);
    auto both = nexus::test::read_file(tmp.path("a.gz"));
    const auto second = nexus::test::read_file(tmp.path("b.gz"));
    both.insert(both.end(), second.begin(), second.end());
    nexus::test::write_file(tmp.path("ab.gz"), both);
    Seen seen;
    const ReadResult r = read_itch(tmp.path("ab.gz"), seen);
    REQUIRE(r.ok);
    CHECK(seen.count == 21 + 41);
}

TEST_CASE("itch files: pipes and FIFOs are streamed, plain or gzip, with nothing lost to the gzip check",
          "[feed][files][stream]") {
    nexus::test::TempDir tmp("feed");
    const auto bytes = big_stream(60'000);  // about 3.3 MB: several pipe buffers, across the reader's block
    nexus::test::write_file(tmp.path("day.itch"), bytes);
    write_gzip(tmp.path("day.itch.gz"), bytes);
    Seen reference;
    REQUIRE(read_itch(tmp.path("day.itch"), reference).ok);
    for (const bool gz : {false, true}) {
        const auto payload = nexus::test::read_file(tmp.path(gz ? "day.itch.gz" : "day.itch"));
        SECTION(std::string("a pipe, ") + (gz ? "gzip" : "plain")) {
            int fds[2];
            REQUIRE(::pipe(fds) == 0);
            std::thread writer(write_in_pieces, fds[1], std::cref(payload), 65'536);
            Seen seen;
            const ReadResult r = read_itch("/dev/fd/" + std::to_string(fds[0]), seen);
            writer.join();
            ::close(fds[0]);
            REQUIRE(r.ok);
            CHECK(r.streamed);
            CHECK(r.gzip == gz);
            CHECK(seen.count == reference.count);
            CHECK(seen.sum == reference.sum);
            CHECK(seen.last_offset == reference.last_offset);
            CHECK(r.bytes == bytes.size());
        }
        SECTION(std::string("a FIFO, ") + (gz ? "gzip" : "plain")) {
            const std::string fifo = tmp.path("fifo");
            REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
            std::thread writer([&] { write_in_pieces(::open(fifo.c_str(), O_WRONLY), payload, 100'000); });
            Seen seen;
            const ReadResult r = read_itch(fifo, seen);
            writer.join();
            REQUIRE(r.ok);
            CHECK(r.streamed);
            CHECK(r.gzip == gz);
            CHECK(seen.count == reference.count);
            CHECK(seen.sum == reference.sum);
            CHECK(r.bytes == bytes.size());
        }
    }
    SECTION("a truncated stream through a pipe is an error with its offset") {
        auto cut = bytes;
        cut.resize(cut.size() - 5);
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        std::thread writer(write_in_pieces, fds[1], std::cref(cut), 4096);
        Seen seen;
        const ReadResult r = read_itch("/dev/fd/" + std::to_string(fds[0]), seen);
        writer.join();
        ::close(fds[0]);
        CHECK_FALSE(r.ok);
        CHECK_FALSE(r.io_error);
        CHECK(r.error == "message cut off by the end of the data at byte offset " + std::to_string(bytes.size() - 21));
        CHECK(seen.count == reference.count - 1);
    }
    SECTION("an empty pipe is an empty stream") {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        ::close(fds[1]);
        Seen seen;
        const ReadResult r = read_itch("/dev/fd/" + std::to_string(fds[0]), seen);
        ::close(fds[0]);
        CHECK(r.ok);
        CHECK(seen.count == 0);
    }
}

TEST_CASE("itch files: bad files stop with what and where", "[feed][files][bad]") {
    nexus::test::TempDir tmp("feed");
    auto bytes = big_stream(50'000);
    SECTION("a truncated plain file") {
        bytes.resize(bytes.size() - 5);
        nexus::test::write_file(tmp.path("cut.itch"), bytes);
        Seen seen;
        const ReadResult r = read_itch(tmp.path("cut.itch"), seen);
        CHECK_FALSE(r.ok);
        CHECK(r.error ==
              "message cut off by the end of the data at byte offset " + std::to_string(bytes.size() + 5 - 21));
        CHECK(seen.count == 100'000);  // everything before it was delivered
    }
    SECTION("a corrupt gzip stream") {
        write_gzip(tmp.path("ok.gz"), bytes);
        auto gz = nexus::test::read_file(tmp.path("ok.gz"));
        for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) gz[i] ^= 0x5A;
        nexus::test::write_file(tmp.path("bad.gz"), gz);
        Seen seen;
        const ReadResult r = read_itch(tmp.path("bad.gz"), seen);
        CHECK_FALSE(r.ok);
        CHECK(r.bad_stream);
        CHECK_FALSE(r.io_error);
        CHECK_THAT(r.error, Catch::StartsWith("corrupt gzip stream") && Catch::Contains("compressed byte offset"));
    }
    SECTION("a corrupt gzip stream is the error even when the consumer stopped on its garbage first") {
        write_gzip(tmp.path("ok.gz"), bytes);
        auto gz = nexus::test::read_file(tmp.path("ok.gz"));
        for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) gz[i] ^= 0x5A;
        nexus::test::write_file(tmp.path("bad.gz"), gz);
        // The corruption is in the first buffer inflate fills (about 3.3 of
        // 6.6 MB): a consumer that stops within it (as a book stops on a
        // message garbage made) must not hide the corrupt stream.
        int refused = 0;
        const ReadResult r = read_itch(tmp.path("bad.gz"), [&](const itch::Message& m) {
            const bool ok = m.offset < (std::uint64_t{1} << 20);
            refused += !ok;
            return ok;
        });
        CHECK(refused == 1);  // it did stop
        CHECK_FALSE(r.ok);
        CHECK(r.bad_stream);
        CHECK_THAT(r.error, Catch::StartsWith("corrupt gzip stream"));
    }
    SECTION("a truncated gzip file") {
        write_gzip(tmp.path("ok.gz"), bytes);
        auto gz = nexus::test::read_file(tmp.path("ok.gz"));
        gz.resize(gz.size() * 2 / 3);
        nexus::test::write_file(tmp.path("cut.gz"), gz);
        Seen seen;
        const ReadResult r = read_itch(tmp.path("cut.gz"), seen);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::Contains("ends early") || Catch::Contains("cut off"));
        CHECK(seen.count > 0);
    }
    SECTION("a missing file") {
        Seen seen;
        const ReadResult r = read_itch(tmp.path("none.itch"), seen);
        CHECK_FALSE(r.ok);
        CHECK(r.io_error);
        CHECK_THAT(r.error, Catch::StartsWith("cannot open"));
    }
    SECTION("a directory") {
        Seen seen;
        const ReadResult r = read_itch(tmp.dir.string(), seen);
        CHECK_FALSE(r.ok);
        CHECK(r.io_error);
        CHECK_THAT(r.error, Catch::Contains("directory"));
    }
    SECTION("a gzip magic with nothing after it") {
        nexus::test::write_file(tmp.path("magic.gz"), {0x1f, 0x8b});
        Seen seen;
        const ReadResult r = read_itch(tmp.path("magic.gz"), seen);
        CHECK_FALSE(r.ok);
        CHECK_FALSE(r.io_error);
        CHECK_THAT(r.error, Catch::Contains("ends early"));
    }
}

TEST_CASE("synthetic day: every reference exists, and the books match a plain model", "[feed][synth]") {
    nexus::test::TempDir tmp("feed");
    SynthConfig cfg;
    cfg.symbols = 300;
    cfg.order_messages = 200'000;
    {
        ItchWriter w(tmp.path("day.itch.gz"), true);
        generate_day(cfg, w);
    }
    nexus::orderbook::NullListener nl;
    ItchBookBuilder<> builder(nl);
    // The independent model: one PlainBook per locate, fed by a separate
    // decoder loop from the same messages.
    std::map<std::uint16_t, std::unique_ptr<nexus::orderbook::PlainBook<>>> model;
    std::map<char, std::uint64_t> types;
    auto plain = [&](std::uint16_t loc) -> nexus::orderbook::PlainBook<>& {
        auto& p = model[loc];
        if (!p) p = std::make_unique<nexus::orderbook::PlainBook<>>(nl, loc);
        return *p;
    };
    std::uint64_t crossed = 0;
    const ReadResult r = read_itch(tmp.path("day.itch.gz"), [&](const itch::Message& m) {
        ++types[m.type()];
        REQUIRE(builder.apply(m));
        if (m.locate() != 0 && (m.type() == 'A' || m.type() == 'F' || m.type() == 'U')) {
            const auto* b = builder.books().get(m.locate());
            const auto bid = b->best(nexus::orderbook::Side::Buy), ask = b->best(nexus::orderbook::Side::Sell);
            crossed += bid && ask && bid->price >= ask->price;
        }
        using namespace itch;
        switch (m.type()) {
            case 'A':
            case 'F': {
                const AddOrder a(m);
                plain(a.locate())
                    .add(a.ref(), a.side() == 'B' ? nexus::orderbook::Side::Buy : nexus::orderbook::Side::Sell,
                         a.price(), a.shares());
                break;
            }
            case 'E': plain(m.locate()).execute(OrderExecuted(m).ref(), OrderExecuted(m).shares()); break;
            case 'C':
                plain(m.locate())
                    .execute_at(OrderExecutedWithPrice(m).ref(), OrderExecutedWithPrice(m).shares(),
                                OrderExecutedWithPrice(m).price());
                break;
            case 'X': plain(m.locate()).cancel_qty(OrderCancel(m).ref(), OrderCancel(m).shares()); break;
            case 'D': plain(m.locate()).remove(OrderDelete(m).ref()); break;
            case 'U': {
                const OrderReplace u(m);
                plain(u.locate()).replace(u.old_ref(), u.new_ref(), u.shares(), u.price());
                break;
            }
            default: break;
        }
        return true;
    });
    REQUIRE(r.ok);
    CHECK(builder.stats().total_anomalies() == 0);
    CHECK(builder.stats().unannounced_locates == 0);
    CHECK(crossed == 0);
    CHECK(builder.directory_size() == 300);
    CHECK(types['R'] == 300);
    CHECK(types['A'] + types['F'] > 80'000);
    CHECK(types['D'] > 70'000);
    CHECK(types['U'] > 10'000);
    CHECK(types['E'] > 3'000);
    CHECK(types['X'] > 1'000);
    CHECK(types['C'] > 100);
    CHECK(types['P'] > 1'000);
    std::size_t compared = 0, mismatched = 0;
    for (auto& [loc, p] : model) {
        const auto* b = builder.books().get(loc);
        REQUIRE(b != nullptr);
        for (auto side : {nexus::orderbook::Side::Buy, nexus::orderbook::Side::Sell})
            if (b->depth(side) != p->depth(side)) ++mismatched;
        if (b->order_count() != p->order_count()) ++mismatched;
        CHECK(b->check_invariants(false) == "");  // never crossed, either
        ++compared;
    }
    CHECK(compared > 250);
    CHECK(mismatched == 0);
    CHECK(builder.stats().peak_live_orders > 1000);
}

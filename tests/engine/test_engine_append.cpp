// What a crashed mapped writer leaves, and what readers make of it: a zero
// tail is the end of the file, a record half-written into it is a torn tail,
// data after a gap of zeros is damage. Crashes are real: a forked child
// writes through the mapping and SIGKILLs itself (no destructor runs, so the
// file keeps its preallocated room).
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <fstream>
#include <random>

#include "engine/engine_util.hpp"

using namespace nexus::test;
namespace ob = nexus::orderbook;

namespace {

constexpr std::size_t H = en::journal_format::kHeaderSize, R = en::journal_format::kRecordSize;
const en::journal_format::Header kHead{.venue = 77, .shard = 0, .shards = 1, .created_ns = 5};

std::vector<std::uint8_t> bytes_of(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}
void put_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The i-th command of a deterministic stream (every kind, random fields).
en::Command command(std::uint64_t i) {
    std::mt19937_64 rng(i);
    en::Command c;
    c.kind = std::array{en::CommandKind::Enter, en::CommandKind::Replace, en::CommandKind::Cancel}[rng() % 3];
    const bool enter = c.kind == en::CommandKind::Enter;
    c.side = enter && rng() % 2 ? ob::Side::Sell : ob::Side::Buy;
    c.tif = enter ? std::array{ob::TimeInForce::GTC, ob::TimeInForce::IOC, ob::TimeInForce::FOK}[rng() % 3]
                  : ob::TimeInForce::GTC;
    c.instrument = static_cast<std::uint16_t>(1 + rng() % 4);
    c.user = static_cast<std::uint32_t>(rng() % 9);
    c.qty = static_cast<std::uint32_t>(rng());
    c.price = static_cast<std::uint32_t>(rng());
    c.ts = rng();
    c.token = rng();
    c.order_id = i;
    if (c.kind == en::CommandKind::Replace) c.new_token = rng(), c.new_order_id = rng();
    return c;
}

bool same(const en::Command& a, const en::Command& b) {
    return a.kind == b.kind && a.side == b.side && a.tif == b.tif && a.instrument == b.instrument && a.user == b.user &&
           a.qty == b.qty && a.price == b.price && a.ts == b.ts && a.token == b.token && a.new_token == b.new_token &&
           a.order_id == b.order_id && a.new_order_id == b.new_order_id;
}

// The end of a writing child: killed with its writer still open (no
// destructor runs, as at a real crash).
[[noreturn]] void die() {
    ::raise(SIGKILL);
    ::_exit(4);
}

// Runs `write` in a child process, which must end it with die().
template <class Fn>
void crash_after(Fn write) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            write();
        } catch (...) {
            ::_exit(3);
        }
        ::_exit(5);  // write() returned: its writer was closed cleanly, not what is tested
    }
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    REQUIRE(WIFSIGNALED(st));
    REQUIRE(WTERMSIG(st) == SIGKILL);
}

// Reads a journal to its end; the records, and the reader for its tail.
std::vector<en::Command> read_journal(const std::string& path, std::uint64_t* torn = nullptr,
                                      std::uint64_t* zero = nullptr) {
    en::JournalReader r(path);
    std::vector<en::Command> out;
    en::Command c;
    while (r.next(c)) out.push_back(c);
    if (torn) *torn = r.torn_bytes();
    if (zero) *zero = r.zero_bytes();
    return out;
}

std::string journal_error(const std::string& path) {
    try {
        read_journal(path);
    } catch (const en::JournalError& e) {
        return e.what();
    }
    return "";
}

// A journal of n records written through the mapping by a process that was
// then killed: more than the first 1 MiB step, so the file grew while mapped.
constexpr std::uint64_t kRecords = 20'000;
void crashed_journal(const std::string& path) {
    crash_after([&] {
        auto w = en::JournalWriter::create(path, kHead, en::JournalMode::Mapped, en::SyncPolicy::Os);
        for (std::uint64_t i = 1; i <= kRecords; ++i) {
            w.append(command(i));
            if (i % 64 == 0) w.commit();
        }
        w.commit();
        die();
    });
}

}  // namespace

TEST_CASE("mapped journal: a crash leaves a zero tail, every record recovers, appending resumes after a cut",
          "[journal][mapped]") {
    TempDir dir;
    const std::string path = dir.path + "/journal-0.nxj";
    crashed_journal(path);
    const std::uint64_t good = H + kRecords * R;
    const std::uint64_t size = std::filesystem::file_size(path);
    REQUIRE(size > good);  // the preallocated room is still there
    std::uint64_t torn = 1, zero = 0;
    const auto got = read_journal(path, &torn, &zero);
    REQUIRE(got.size() == kRecords);
    for (std::uint64_t i = 1; i <= kRecords; ++i) REQUIRE(same(got[i - 1], command(i)));
    CHECK(torn == 0);
    CHECK(zero == size - good);

    // The same bytes as the write(2) path writes.
    {
        const std::string written = dir.path + "/written.nxj";
        auto w = en::JournalWriter::create(written, kHead, en::JournalMode::Write, en::SyncPolicy::Os);
        for (std::uint64_t i = 1; i <= kRecords; ++i) w.append(command(i));
        w.commit();
        const auto a = bytes_of(path), b = bytes_of(written);
        REQUIRE(b.size() == good);
        CHECK(std::equal(b.begin(), b.end(), a.begin()));
    }

    // Opening for appending cuts the zero tail; a clean close leaves the true length.
    {
        auto w = en::JournalWriter::append_to(path, kRecords, en::JournalMode::Mapped, en::SyncPolicy::Os);
        w.append(command(kRecords + 1));
        w.commit();
    }
    CHECK(std::filesystem::file_size(path) == good + R);
    const auto again = read_journal(path, &torn, &zero);
    REQUIRE(again.size() == kRecords + 1);
    CHECK(same(again.back(), command(kRecords + 1)));
    CHECK(torn == 0);
    CHECK(zero == 0);
}

TEST_CASE("mapped journal: a record half-written into the zero tail is a torn tail, whichever bytes reached it",
          "[journal][mapped]") {
    TempDir dir;
    const std::string path = dir.path + "/journal-0.nxj";
    crashed_journal(path);
    const std::vector<std::uint8_t> crashed = bytes_of(path);
    const std::size_t at = H + kRecords * R;
    REQUIRE(crashed.size() > at + R);
    std::uint8_t next[R];
    en::journal_format::encode_record(command(kRecords + 1), static_cast<std::uint32_t>(kRecords + 1), next);
    std::mt19937_64 rng(42);
    for (int trial = 0; trial < 300; ++trial) {
        // A random subset of the record's bytes (the order a memcpy and the
        // field stores reach memory is not fixed), never all of them.
        auto b = crashed;
        std::size_t last = 0;  // one past the last non-zero byte written
        const int density = 1 + static_cast<int>(rng() % 8);
        bool all = true;
        for (std::size_t i = 0; i < R; ++i) {
            if (static_cast<int>(rng() % 8) < density) {
                b[at + i] = next[i];
                if (next[i] != 0) last = i + 1;
            } else if (next[i] != 0) {
                all = false;  // a byte of the record is missing (the zero ones are there already)
            }
        }
        if (all) continue;  // a whole record is a record
        INFO("trial " << trial << ": " << last << " bytes reached");
        put_bytes(path, b);
        std::uint64_t torn = 0, zero = 0;
        const auto got = read_journal(path, &torn, &zero);
        REQUIRE(got.size() == kRecords);
        CHECK(torn == last);
        CHECK(zero == b.size() - at - last);
    }
    // The engine cuts it before appending.
    { auto w = en::JournalWriter::append_to(path, kRecords, en::JournalMode::Mapped, en::SyncPolicy::Os); }
    CHECK(std::filesystem::file_size(path) == at);
    CHECK(read_journal(path).size() == kRecords);
}

TEST_CASE("mapped journal: data after a gap of zeros is damage, named with the file and the offsets",
          "[journal][mapped]") {
    TempDir dir;
    const std::string path = dir.path + "/journal-0.nxj";
    crashed_journal(path);
    const std::vector<std::uint8_t> crashed = bytes_of(path);
    const std::size_t at = H + kRecords * R;
    REQUIRE(crashed.size() > at + 4 * R);
    SECTION("a stray byte records later") {
        auto b = crashed;
        b[at + 3 * R + 5] = 0x5a;
        put_bytes(path, b);
        CHECK_THAT(journal_error(path),
                   Catch::StartsWith(path + ": offset " + std::to_string(at) + ": zero bytes where record " +
                                     std::to_string(kRecords + 1) + " belongs, then data at offset " +
                                     std::to_string(at + 3 * R + 5)) &&
                       Catch::Contains("damage"));
    }
    SECTION("the last byte of the file") {
        auto b = crashed;
        const std::size_t end = b.size() - 1;
        REQUIRE(end > at + R);
        b[end] = 1;
        put_bytes(path, b);
        CHECK_THAT(journal_error(path), Catch::Contains("then data at offset " + std::to_string(end)));
    }
    SECTION("a whole record after a gap") {
        auto b = crashed;
        std::uint8_t next[R];
        en::journal_format::encode_record(command(kRecords + 2), static_cast<std::uint32_t>(kRecords + 2), next);
        std::copy(next, next + R, b.begin() + static_cast<std::ptrdiff_t>(at + R));
        put_bytes(path, b);
        CHECK_THAT(journal_error(path), Catch::Contains("then data at offset " + std::to_string(at + R)));
    }
    SECTION("a half record, then data beyond it") {
        auto b = crashed;
        b[at + 10] = 7;
        b[at + R + 10] = 7;
        put_bytes(path, b);
        CHECK_THAT(journal_error(path), Catch::Contains("offset " + std::to_string(at) + ": record " +
                                                        std::to_string(kRecords + 1) + " is damaged"));
    }
    SECTION("a damaged record in the middle is still damage") {
        auto b = crashed;
        b[H + 100 * R + 9] ^= 4;
        put_bytes(path, b);
        CHECK_THAT(journal_error(path),
                   Catch::Contains("offset " + std::to_string(H + 100 * R) + ": record 101 is damaged"));
    }
}

namespace {

// A store of n deterministic packets (validation rejects of several users).
constexpr std::uint32_t kUsers = 4;
void fill_store(en::OutboundStore& store, std::uint64_t n) {
    for (std::uint64_t i = 1; i <= n; ++i) {
        std::vector<std::uint8_t> p;
        wire::Encoder(p).rejected(i, i * 7, static_cast<char>('A' + i % 26));
        store.append(static_cast<std::uint32_t>(i % kUsers), static_cast<std::uint8_t>(i % 3), p);
        if (i % 50 == 0) store.commit();
    }
    store.commit();
}

struct Scan {
    std::uint64_t records = 0, good = 0, torn = 0, zero = 0;
    std::string error;
};
Scan scan_store(const std::string& path) {
    Scan s;
    try {
        en::OutboundScanner sc(path);
        en::OutboundStore idx(kUsers);
        en::outbound_format::Record r;
        while (sc.next(r)) {
            if (const std::string bad = idx.index(r); !bad.empty()) {
                s.error = "index: " + bad;
                return s;
            }
        }
        s.records = sc.records();
        s.good = sc.good_bytes();
        s.torn = sc.torn_bytes();
        s.zero = sc.zero_bytes();
    } catch (const en::JournalError& e) {
        s.error = e.what();
    }
    return s;
}

}  // namespace

TEST_CASE("mapped outbound store: a zero tail is the end, a half-written record is torn, data after a gap is damage",
          "[store][mapped]") {
    TempDir dir;
    const std::string path = dir.path + "/outbound.nxo";
    constexpr std::uint64_t n = 40'000;  // past the first 1 MiB step
    crash_after([&] {
        en::OutboundStore store(kUsers);
        store.create(path, 9, 1, en::JournalMode::Mapped, en::SyncPolicy::Os);
        fill_store(store, n);
        die();
    });
    // The write(2) path's file, one record longer: the same bytes, and the next record.
    const std::string written = dir.path + "/written.nxo";
    {
        en::OutboundStore store(kUsers);
        store.create(written, 9, 1, en::JournalMode::Write, en::SyncPolicy::Os);
        fill_store(store, n + 1);
    }
    const auto crashed = bytes_of(path), w = bytes_of(written);
    const Scan s = scan_store(path);
    REQUIRE(s.error.empty());
    CHECK(s.records == n);
    CHECK(s.torn == 0);
    CHECK(s.zero == crashed.size() - s.good);
    REQUIRE(s.zero > 1000 + 288);
    REQUIRE(w.size() > s.good);
    CHECK(std::equal(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(s.good), crashed.begin()));
    const std::size_t at = s.good;
    const std::vector<std::uint8_t> next(w.begin() + static_cast<std::ptrdiff_t>(at), w.end());

    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 200; ++trial) {
        auto b = crashed;
        std::size_t last = 0;
        bool all = true;
        const int density = 1 + static_cast<int>(rng() % 8);
        for (std::size_t i = 0; i < next.size(); ++i) {
            if (static_cast<int>(rng() % 8) < density) {
                b[at + i] = next[i];
                if (next[i] != 0) last = i + 1;
            } else if (next[i] != 0) {
                all = false;  // a byte of the record is missing (the zero ones are there already)
            }
        }
        if (all) continue;
        INFO("trial " << trial << ": " << last << " bytes reached");
        put_bytes(path, b);
        const Scan t = scan_store(path);
        REQUIRE(t.error.empty());
        CHECK(t.records == n);
        CHECK(t.torn == last);
        CHECK(t.zero == b.size() - at - last);
    }
    SECTION("data after a gap") {
        auto b = crashed;
        b[at + 1000] = 0x11;
        put_bytes(path, b);
        CHECK_THAT(scan_store(path).error,
                   Catch::StartsWith(path + ": offset " + std::to_string(at) + ": zero bytes") &&
                       Catch::Contains("then data at offset " + std::to_string(at + 1000)));
    }
    SECTION("a record past a half-written one") {
        auto b = crashed;
        std::copy(next.begin(), next.begin() + 10, b.begin() + static_cast<std::ptrdiff_t>(at));
        b[at + next.size() + 3] = 0x22;
        put_bytes(path, b);
        CHECK_THAT(scan_store(path).error, Catch::Contains("offset " + std::to_string(at) + ": record " +
                                                           std::to_string(n + 1) + " is damaged"));
    }
    SECTION("opening for appending cuts the tail; a clean close keeps the true length") {
        {
            en::OutboundStore store(kUsers);
            en::OutboundScanner sc(path);
            en::outbound_format::Record r;
            while (sc.next(r)) REQUIRE(store.index(r).empty());
            store.open_existing(path, sc.good_bytes(), en::JournalMode::Mapped, en::SyncPolicy::Os);
            std::vector<std::uint8_t> p;
            wire::Encoder(p).rejected(n + 1, (n + 1) * 7, static_cast<char>('A' + (n + 1) % 26));
            store.append(static_cast<std::uint32_t>((n + 1) % kUsers), static_cast<std::uint8_t>((n + 1) % 3), p);
        }
        CHECK(bytes_of(path) == w);
    }
}

// The public ITCH flow over NATS JetStream, driven as a user would:
// nexus-itch-publish puts a day on a real server's stream and nexus-replay
// reads it back through nats://, with the same summary, snapshot and BBO
// lines as from the file; foreign and malformed batches, a server that dies
// and SIGINT end the replay as documented (exit 2, 1 and 130).
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "jetstream/nats_server.hpp"
#include "nexus/feed/source.hpp"
#include "nexus/jetstream/error.hpp"
#include "nexus/jetstream/itch_feed.hpp"
#include "nexus/jetstream/stream.hpp"

namespace js = nexus::jetstream;
using nexus::test::have_nats_server;
using nexus::test::read_text;
using namespace std::chrono_literals;

namespace {

const std::string kDay = std::string(NEXUS_SOURCE_DIR) + "/data/sample-day.itch.gz";

// A program run with its output (stdout and stderr) going to `log`.
pid_t start(std::vector<std::string> args, const std::string& log) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}
int finish(pid_t pid) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
int run(std::vector<std::string> args, const std::string& log) { return finish(start(std::move(args), log)); }

// The summary's lines that depend only on the input (not its name, the
// timing, the memory or the latency samples).
std::string summary_of(const std::string& out) {
    std::istringstream in(out);
    std::string line, kept;
    bool latency = false;
    while (std::getline(in, line)) {
        if (line.starts_with("  latency by type")) latency = true;
        if (line.starts_with("  busiest symbols")) latency = false;
        if (latency || !line.starts_with("  ") || line.starts_with("  messages ") || line.starts_with("  peak memory"))
            continue;
        line = std::regex_replace(line, std::regex(" \\(decompressed\\)"), "");
        kept += line + "\n";
    }
    return kept;
}
std::string without_file_line(const std::string& json) {
    return std::regex_replace(json, std::regex("\"file\": \"[^\"]*\""), "");
}

// The sample day's bytes, and where each message starts.
struct Day {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> starts;
    Day() {
        const auto r = nexus::feed::read_itch(kDay, [&](const nexus::feed::itch::Message& m) {
            starts.push_back(bytes.size());
            bytes.push_back(static_cast<std::uint8_t>(m.size >> 8));
            bytes.push_back(static_cast<std::uint8_t>(m.size));
            bytes.insert(bytes.end(), m.data, m.data + m.size);
            return true;
        });
        REQUIRE(r.ok);
    }
    // The first n messages, framed.
    std::span<const std::uint8_t> head(std::size_t n) const {
        return std::span<const std::uint8_t>(bytes).first(n < starts.size() ? starts[n] : bytes.size());
    }
};

js::ConnectOptions options_for(const std::string& url) {
    js::ConnectOptions o;
    o.servers = {url};
    return o;
}

// Publishes `framed` to stream/subject in batches of `batch` bytes.
void publish(const std::string& url, const std::string& stream, std::span<const std::uint8_t> framed,
             std::size_t batch = 16384) {
    js::Connection c(options_for(url));
    c.wait_for_jetstream(10s);
    js::StreamConfig sc;
    sc.name = stream;
    sc.subjects = {stream + ".itch"};
    js::ensure_stream(c, sc);
    js::ItchPublisherOptions po;
    po.batch_bytes = batch;
    js::ItchPublisher p(c, stream, stream + ".itch", po);
    p.add(framed);
    p.flush();
}

// Waits until a reader is attached to the stream (the replay has started reading).
void wait_for_reader(const std::string& url, const std::string& stream) {
    js::Connection c(options_for(url));
    for (int i = 0; i < 500; ++i) {
        if (js::stream_info(c, stream).consumers > 0) return;
        std::this_thread::sleep_for(20ms);
    }
    FAIL("no reader attached to stream " << stream);
}

// Waits until the stream exists (its publisher has made it).
void wait_for_stream(const std::string& url, const std::string& stream) {
    js::Connection c(options_for(url));
    for (int i = 0; i < 500; ++i) {
        try {
            js::stream_info(c, stream);
            return;
        } catch (const js::Error& e) {
            if (e.kind() != js::ErrorKind::NotFound) throw;
        }
        std::this_thread::sleep_for(20ms);
    }
    FAIL("stream " << stream << " never made");
}

}  // namespace

TEST_CASE("itch over nats: the sample day replays through nats:// exactly as from the file",
          "[jetstream][itch][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats");
    const std::string url = s.server.url() + "/DAY";
    REQUIRE(run({NEXUS_PUBLISH_BIN, "--batch-bytes", "20000", "--window", "16", kDay, url}, tmp.file("pub.log")) == 0);
    INFO(read_text(tmp.file("pub.log")));
    CHECK_THAT(read_text(tmp.file("pub.log")), Catch::Contains("published 259847 messages (8113359 bytes)"));

    REQUIRE(run({NEXUS_REPLAY_BIN, "--quiet", "--snapshot", tmp.file("f.json"), "--bbo", tmp.file("f.csv"), kDay},
                tmp.file("f.out")) == 0);
    const int rc = run({NEXUS_REPLAY_BIN, "--quiet", "--snapshot", tmp.file("n.json"), "--bbo", tmp.file("n.csv"), url},
                       tmp.file("n.out"));
    const std::string out = read_text(tmp.file("n.out"));
    INFO(out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("up to the end of the session"));
    CHECK(summary_of(out) == summary_of(read_text(tmp.file("f.out"))));
    CHECK(summary_of(out).find("by type") != std::string::npos);
    CHECK(without_file_line(read_text(tmp.file("n.json"))) == without_file_line(read_text(tmp.file("f.json"))));
    CHECK(read_text(tmp.file("n.csv")) == read_text(tmp.file("f.csv")));

    // From a later stream sequence: only the batches from there, up to the end.
    js::Connection c(options_for(s.server.url()));
    const auto info = js::stream_info(c, "DAY");
    CHECK(info.subjects == std::vector<std::string>{"DAY.itch"});
    CHECK(run({NEXUS_REPLAY_BIN, "--quiet", "--start-sequence", std::to_string(info.last_sequence), url + "/DAY.itch"},
              tmp.file("tail.out")) == 0);
    const std::string tail = read_text(tmp.file("tail.out"));
    INFO(tail);
    CHECK_THAT(tail, Catch::Contains("read 1 batches, stream sequences " + std::to_string(info.last_sequence)));
    CHECK_THAT(tail, Catch::Contains("up to the end of the session"));
}

TEST_CASE("itch over nats: a file being written is published as it grows and replayed live to its end",
          "[jetstream][itch][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats-follow");
    const Day day;
    const std::string path = tmp.file("live.itch");
    std::ofstream(path, std::ios::binary).close();
    const std::string url = s.server.url() + "/LIVE";
    const pid_t pub = start({NEXUS_PUBLISH_BIN, "--follow", path, url}, tmp.file("pub.log"));
    wait_for_stream(s.server.url(), "LIVE");
    // The replay is attached before most of the day is written: it reads live.
    const pid_t replay = start({NEXUS_REPLAY_BIN, "--quiet", "--snapshot", tmp.file("n.json"), url}, tmp.file("n.out"));
    {
        std::ofstream out(path, std::ios::binary | std::ios::app);
        // Pieces of odd sizes, so that messages are cut between writes.
        const std::size_t piece = day.bytes.size() / 23 + 7;
        for (std::size_t at = 0; at < day.bytes.size(); at += piece) {
            const std::size_t n = std::min(piece, day.bytes.size() - at);
            out.write(reinterpret_cast<const char*>(day.bytes.data() + at), static_cast<std::streamsize>(n));
            out.flush();
            if (at == 0) wait_for_reader(s.server.url(), "LIVE");
            std::this_thread::sleep_for(10ms);
        }
    }
    CHECK(finish(pub) == 0);
    const int rc = finish(replay);
    const std::string out = read_text(tmp.file("n.out"));
    INFO(read_text(tmp.file("pub.log")) << out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("up to the end of the session"));
    REQUIRE(run({NEXUS_REPLAY_BIN, "--quiet", "--snapshot", tmp.file("f.json"), kDay}, tmp.file("f.out")) == 0);
    CHECK(summary_of(out) == summary_of(read_text(tmp.file("f.out"))));
    CHECK(without_file_line(read_text(tmp.file("n.json"))) == without_file_line(read_text(tmp.file("f.json"))));
}

TEST_CASE("itch over nats: a foreign, malformed or out-of-place batch is refused, naming its stream sequence",
          "[jetstream][itch][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats-bad");
    const Day day;
    const auto head = day.head(3000);  // no end-of-session marker: the refusal must end the replay
    js::Connection c(options_for(s.server.url()));
    c.wait_for_jetstream(10s);

    struct Case {
        std::string stream;
        std::vector<std::uint8_t> payload;
        js::Headers headers;
        std::string expect;
    };
    const std::string offset = std::to_string(head.size());
    std::vector<std::uint8_t> cut(head.begin(), head.begin() + 100);  // ends inside a message
    std::vector<std::uint8_t> bad_length{0, 5, 'A', 0, 1, 0, 0};      // an Add Order can't be 5 bytes
    const std::vector<Case> cases{
        {"FOREIGN", {'h', 'e', 'l', 'l', 'o'}, {}, "a foreign message on the subject"},
        {"FORMAT", {0, 1, 'Z'}, {{js::kFeedHeader, "JSON"}, {js::kOffsetHeader, offset}}, "feed format 'JSON'"},
        {"CUT", cut, {{js::kFeedHeader, js::kFeedFormat}, {js::kOffsetHeader, offset}}, "message cut off"},
        {"LENGTH", bad_length, {{js::kFeedHeader, js::kFeedFormat}, {js::kOffsetHeader, offset}}, "length disagrees"},
        {"GAP",
         {0, 12, 'S', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'C'},
         {{js::kFeedHeader, js::kFeedFormat}, {js::kOffsetHeader, "7"}},
         "a gap in the feed"},
        {"NOOFFSET", {0, 1, 'Z'}, {{js::kFeedHeader, js::kFeedFormat}}, "no valid Nexus-Offset"},
    };
    for (const Case& k : cases) {
        INFO(k.stream);
        publish(s.server.url(), k.stream, head);
        std::uint64_t seq = 0;
        {
            js::Publisher p(c);
            seq = p.publish(k.stream + ".itch", k.payload, k.headers).sequence;
        }
        const int rc = run({NEXUS_REPLAY_BIN, "--quiet", s.server.url() + "/" + k.stream}, tmp.file("out"));
        const std::string out = read_text(tmp.file("out"));
        INFO(out);
        CHECK(rc == 2);
        CHECK_THAT(out, Catch::Contains("malformed input: stream '" + k.stream + "' sequence " + std::to_string(seq) +
                                        " (subject " + k.stream + ".itch)"));
        CHECK_THAT(out, Catch::Contains(k.expect));
        CHECK_THAT(out, Catch::Contains("messages          3000 "));  // the summary of what came before
    }
}

TEST_CASE("itch over nats: a server killed mid-stream ends the replay with a clear error and exit 1",
          "[jetstream][itch][server][fault]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats-kill");
    const Day day;
    publish(s.server.url(), "LIVE", day.head(50000));
    const pid_t replay =
        start({NEXUS_REPLAY_BIN, "--quiet", "--nats-timeout", "1", s.server.url() + "/LIVE"}, tmp.file("out"));
    wait_for_reader(s.server.url(), "LIVE");
    s.server.stop(SIGKILL);
    const int rc = finish(replay);
    const std::string out = read_text(tmp.file("out"));
    INFO(out);
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("lost the connection to " + s.server.url() + " while reading stream 'LIVE'"));
    // Lost while fetching: after --nats-timeout; while making its consumer: after that request's timeout.
    CHECK_THAT(out, Catch::Contains("by type"));  // the summary of what was read
}

TEST_CASE("itch over nats: a server restarted mid-stream: the replay reconnects and reads on to the end",
          "[jetstream][itch][server][fault]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats-restart");
    const Day day;
    const auto first = day.head(100000);
    publish(s.server.url(), "BACK", first);
    const pid_t replay =
        start({NEXUS_REPLAY_BIN, "--quiet", "--nats-timeout", "30", s.server.url() + "/BACK"}, tmp.file("out"));
    wait_for_reader(s.server.url(), "BACK");
    s.server.stop(SIGKILL);
    s.server.restart();
    {
        // The rest of the day, continuing the feed where it stopped.
        js::Connection c(options_for(s.server.url()));
        c.wait_for_jetstream(10s);
        js::ItchPublisherOptions po;
        po.start_offset = first.size();
        js::ItchPublisher p(c, "BACK", "BACK.itch", po);
        p.add(std::span<const std::uint8_t>(day.bytes).subspan(first.size()));
        p.flush();
        CHECK(p.bytes() == day.bytes.size());
    }
    const int rc = finish(replay);
    const std::string out = read_text(tmp.file("out"));
    INFO(out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("up to the end of the session"));
    REQUIRE(run({NEXUS_REPLAY_BIN, "--quiet", kDay}, tmp.file("f.out")) == 0);
    CHECK(summary_of(out) == summary_of(read_text(tmp.file("f.out"))));
}

TEST_CASE("itch over nats: SIGINT while waiting for more ends the replay with its summary and exit 130",
          "[jetstream][itch][server]") {
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    nexus::test::ScratchDir tmp("itch-nats-int");
    const Day day;
    publish(s.server.url(), "OPEN", day.head(20000));
    for (int sig : {SIGINT, SIGTERM}) {
        const pid_t replay = start({NEXUS_REPLAY_BIN, "--quiet", s.server.url() + "/OPEN"}, tmp.file("out"));
        wait_for_reader(s.server.url(), "OPEN");
        ::kill(replay, sig);
        const int rc = finish(replay);
        const std::string out = read_text(tmp.file("out"));
        INFO(out);
        CHECK(rc == 130);
        CHECK_THAT(out, Catch::Contains("interrupted"));
        CHECK_THAT(out, Catch::Contains("nexus-replay: " + s.server.url() + "/OPEN"));
    }
}

TEST_CASE("itch over nats: unreachable servers, missing streams and bad URLs exit 1 naming them", "[jetstream][itch]") {
    nexus::test::ScratchDir tmp("itch-nats-use");
    const std::string nobody = "nats://127.0.0.1:" + std::to_string(nexus::test::free_port());
    CHECK(run({NEXUS_REPLAY_BIN, "--quiet", nobody + "/DAY"}, tmp.file("out")) == 1);
    CHECK_THAT(read_text(tmp.file("out")), Catch::Contains("cannot connect to " + nobody));
    CHECK(run({NEXUS_PUBLISH_BIN, kDay, nobody + "/DAY"}, tmp.file("pub")) == 1);
    CHECK_THAT(read_text(tmp.file("pub")), Catch::Contains("cannot connect to " + nobody));
    for (const std::vector<std::string>& bad : {std::vector<std::string>{"nats://h:x/DAY"},
                                                {"nats://h/"},
                                                {"nats://h/a.b"},
                                                {"--threads", "2", "nats://h/DAY"},
                                                {"--start-sequence", "0", "nats://h/DAY"},
                                                {"--start-sequence", "5", kDay},
                                                {"--nats-timeout", "0", "nats://h/DAY"}}) {
        std::vector<std::string> args{NEXUS_REPLAY_BIN, "--quiet"};
        args.insert(args.end(), bad.begin(), bad.end());
        CHECK(run(args, tmp.file("bad")) == 1);
        const std::string out = read_text(tmp.file("bad"));
        INFO(out);
        CHECK_THAT(out, Catch::Contains("--help lists the options"));
        CHECK_THAT(out, !Catch::Contains("replaying"));
    }
    if (!have_nats_server()) return;
    nexus::test::SingleServer s;
    CHECK(run({NEXUS_REPLAY_BIN, "--quiet", s.server.url() + "/NOPE"}, tmp.file("none")) == 1);
    CHECK_THAT(read_text(tmp.file("none")), Catch::Contains("no stream 'NOPE' on " + s.server.url()));
    // The publisher checks the file's framing: what came before a broken
    // message is published, and it says so.
    const Day day;
    std::ofstream(tmp.file("cut.itch"), std::ios::binary)
        .write(reinterpret_cast<const char*>(day.bytes.data()), static_cast<std::streamsize>(day.starts[1000] + 5));
    CHECK(run({NEXUS_PUBLISH_BIN, tmp.file("cut.itch"), s.server.url() + "/CUT"}, tmp.file("cut")) == 2);
    const std::string cut = read_text(tmp.file("cut"));
    INFO(cut);
    CHECK_THAT(cut, Catch::Contains("malformed input") && Catch::Contains("published before it: 1000 messages"));
}

// nexus-itch-publish: publishes an ITCH 5.0 file (plain or gzipped, a pipe or
// standard input) to a NATS JetStream stream, in batches of whole messages
// framed as in the file (see nexus/jetstream/itch_feed.hpp), each batch
// acknowledged by the stream. nexus-replay nats://... reads it back.
#include <nexus/feed/itch.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/jetstream/error.hpp>
#include <nexus/jetstream/itch_feed.hpp>
#include <nexus/jetstream/stream.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "replay_options.hpp"

namespace js = nexus::jetstream;
namespace itch = nexus::feed::itch;
using nexus::apps::parse_count;
using nexus::apps::UsageError;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

void usage(std::FILE* out) {
    std::fprintf(out,
        "usage: nexus-itch-publish [options] FILE nats://HOST[:PORT]/STREAM[/SUBJECT]\n"
        "Publishes the ITCH 5.0 messages of FILE (plain or gzipped; \"-\" is standard input)\n"
        "to SUBJECT (default STREAM.itch) of the JetStream stream STREAM, which is created\n"
        "(file storage) when missing. Each NATS message holds whole length-prefixed ITCH\n"
        "messages, as in the file; a batch counts as published once the stream acknowledges it.\n\n"
        "  --batch-bytes N   ITCH bytes per NATS message (1 to 1048576, default 65536)\n"
        "  --window N        batches awaiting acknowledgement at once (1 to 65536, default 64)\n"
        "  --replicas N      copies a new stream keeps in a cluster (1 to 5, default 1)\n"
        "  --timeout MS      wait for the server's answers (100 to 600000, default 5000)\n"
        "  --help            this text\n\n"
        "Exit status: 0 published and acknowledged; 1 usage error, FILE unreadable or the\n"
        "server failed (what was acknowledged is said); 2 malformed FILE (what came before\n"
        "the error is published); 130 interrupted (what was read is published first).\n");
}

struct Options {
    std::string file;
    js::FeedUrl url;
    js::ItchPublisherOptions pub;
    int replicas = 1;
    std::chrono::milliseconds timeout{5000};
};

Options parse(int argc, char** argv) {
    Options o;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw UsageError(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        }
        if (a == "--batch-bytes") o.pub.batch_bytes = parse_count(a, next(), 1, 1 << 20);
        else if (a == "--window") o.pub.window = parse_count(a, next(), 1, 65536);
        else if (a == "--replicas") o.replicas = static_cast<int>(parse_count(a, next(), 1, 5));
        else if (a == "--timeout") o.timeout = std::chrono::milliseconds(parse_count(a, next(), 100, 600000));
        else if (a.size() > 1 && a[0] == '-') throw UsageError("unknown option " + a);
        else positional.push_back(a);
    }
    if (positional.size() != 2) throw UsageError("expected FILE and a nats:// URL");
    o.file = positional[0];
    try {
        o.url = js::parse_feed_url(positional[1]);
    } catch (const js::Error& e) {
        throw UsageError(e.what());
    }
    if (o.url.subject.empty()) o.url.subject = o.url.stream + ".itch";
    if (!js::valid_subject(o.url.subject, false)) throw UsageError("cannot publish to a wildcard subject: " + o.url.subject);
    o.pub.ack_timeout = o.timeout;
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        o = parse(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "nexus-itch-publish: %s\n(nexus-itch-publish --help lists the options)\n", e.what());
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    const std::string name = o.file == "-" ? std::string("standard input") : o.file;
    const std::string dest = "stream '" + o.url.stream + "' subject " + o.url.subject + " on " + o.url.server;
    std::optional<js::ItchPublisher> pub;
    try {
        js::ConnectOptions co;
        co.servers = {o.url.server};
        co.name = "nexus-itch-publish";
        co.request_timeout = o.timeout;
        js::Connection conn(co);
        js::StreamConfig sc;
        sc.name = o.url.stream;
        sc.subjects = {o.url.subject};
        sc.replicas = o.replicas;
        js::ensure_stream(conn, sc);
        pub.emplace(conn, o.url.stream, o.url.subject, o.pub);

        nexus::feed::ReadOptions ropt;
        ropt.stop = &g_stop;
        // Each block's whole messages go into batches; the framing is the
        // file's, checked here so that nothing malformed is published.
        const auto r = nexus::feed::read_itch_blocks(
            o.file,
            [&](std::span<const std::uint8_t> data, std::uint64_t offset) {
                itch::Framer f(data, offset);
                itch::Message m;
                itch::BlockResult b;
                while (f.next(m)) ++b.messages;
                b.consumed = f.consumed();
                b.error = f.error();
                b.unknown = f.unknown_skipped();
                pub->add(data.first(b.consumed));
                return b;
            },
            ropt);
        pub->flush();
        const std::string done = std::to_string(r.messages) + " messages (" + std::to_string(pub->bytes()) + " bytes) in " +
                                 std::to_string(pub->batches()) + " batches to " + dest + ", acknowledged up to stream sequence " +
                                 std::to_string(pub->last_sequence());
        if (r.io_error) {
            std::fprintf(stderr, "nexus-itch-publish: %s: %s (published before it: %s)\n", name.c_str(), r.error.c_str(), done.c_str());
            return 1;
        }
        if (!r.ok) {
            std::fprintf(stderr, "nexus-itch-publish: %s: malformed input: %s (published before it: %s)\n", name.c_str(),
                         r.error.c_str(), done.c_str());
            return 2;
        }
        std::printf("published %s\n", done.c_str());
        if (r.stopped) {
            std::fprintf(stderr, "nexus-itch-publish: interrupted after %s\n", done.c_str());
            return 130;
        }
        return 0;
    } catch (const js::Error& e) {
        std::string acked;
        if (pub) acked = " (acknowledged up to stream sequence " + std::to_string(pub->last_sequence()) + ")";
        std::fprintf(stderr, "nexus-itch-publish: %s%s\n", e.what(), acked.c_str());
        return 1;
    }
}

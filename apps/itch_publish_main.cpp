// nexus-itch-publish: publishes an ITCH 5.0 file (plain or gzipped, a pipe or
// standard input) to a NATS JetStream stream, in batches of whole messages
// framed as in the file (see nexus/jetstream/itch_feed.hpp), each batch
// acknowledged by the stream. nexus-replay nats://... reads it back.
#include <nexus/feed/itch.hpp>
#include <nexus/feed/source.hpp>
#include <nexus/jetstream/error.hpp>
#include <nexus/jetstream/itch_feed.hpp>
#include <nexus/jetstream/stream.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
                 "  --follow          FILE is being written (e.g. nexus-engine's itch_out): publish what\n"
                 "                    it holds, then what is appended, each batch sent as soon as the\n"
                 "                    writer pauses, until the End of Messages event or SIGINT/SIGTERM\n"
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
    bool follow = false;
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
        if (a == "--batch-bytes")
            o.pub.batch_bytes = parse_count(a, next(), 1, 1 << 20);
        else if (a == "--window")
            o.pub.window = parse_count(a, next(), 1, 65536);
        else if (a == "--replicas")
            o.replicas = static_cast<int>(parse_count(a, next(), 1, 5));
        else if (a == "--follow")
            o.follow = true;
        else if (a == "--timeout")
            o.timeout = std::chrono::milliseconds(parse_count(a, next(), 100, 600000));
        else if (a.size() > 1 && a[0] == '-')
            throw UsageError("unknown option " + a);
        else
            positional.push_back(a);
    }
    if (positional.size() != 2) throw UsageError("expected FILE and a nats:// URL");
    o.file = positional[0];
    try {
        o.url = js::parse_feed_url(positional[1]);
    } catch (const js::Error& e) {
        throw UsageError(e.what());
    }
    if (o.url.subject.empty()) o.url.subject = o.url.stream + ".itch";
    if (!js::valid_subject(o.url.subject, false))
        throw UsageError("cannot publish to a wildcard subject: " + o.url.subject);
    o.pub.ack_timeout = o.timeout;
    if (o.follow && o.file == "-") throw UsageError("--follow needs a FILE, not standard input");
    return o;
}

// How --follow went.
struct Followed {
    std::uint64_t messages = 0;
    std::string error;  // what and where; empty when none
    bool malformed = false;
    bool stopped = false;  // SIGINT/SIGTERM before the end of the session
};

// Publishes FILE as it grows: whole messages as they are complete, the
// batch being filled sent whenever the file has nothing more for now (so a
// reader is at most one pause behind the writer), until End of Messages.
Followed follow(const std::string& path, js::ItchPublisher& pub) {
    Followed f;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        f.error = std::string("cannot open: ") + std::strerror(errno);
        return f;
    }
    std::vector<std::uint8_t> buf(std::size_t{1} << 20);
    std::size_t have = 0;      // bytes in buf not yet published (at most part of one message)
    std::uint64_t offset = 0;  // feed offset of buf[0]
    for (;;) {
        if (g_stop.load()) {  // what is complete is published; a cut message is not
            f.stopped = true;
            break;
        }
        const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
        if (n < 0 && errno != EINTR) {
            f.error =
                std::string("read error after ") + std::to_string(offset + have) + " bytes: " + std::strerror(errno);
            break;
        }
        if (n <= 0) {  // nothing new for now
            pub.send();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        have += static_cast<std::size_t>(n);
        itch::Framer fr(std::span<const std::uint8_t>(buf.data(), have), offset);
        itch::Message m;
        bool end = false;
        while (!end && fr.next(m)) {
            ++f.messages;
            end = js::is_end_of_session({m.data, m.size});
        }
        // A message cut by what is written so far waits for the rest.
        const bool waiting =
            fr.error() == itch::FrameError::TruncatedLength || fr.error() == itch::FrameError::TruncatedMessage;
        if (!end && fr.error() != itch::FrameError::None && !waiting) {
            pub.add(std::span<const std::uint8_t>(buf.data(), fr.consumed()));
            f.error = fr.error_message();
            f.malformed = true;
            break;
        }
        pub.add(std::span<const std::uint8_t>(buf.data(), fr.consumed()));
        if (end) break;
        offset += fr.consumed();
        have -= fr.consumed();
        std::memmove(buf.data(), buf.data() + fr.consumed(), have);
    }
    ::close(fd);
    return f;
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

        if (o.follow) {
            const Followed f = follow(o.file, *pub);
            pub->flush();
            const std::string done = std::to_string(f.messages) + " messages (" + std::to_string(pub->bytes()) +
                                     " bytes) in " + std::to_string(pub->batches()) + " batches to " + dest +
                                     ", acknowledged up to stream sequence " + std::to_string(pub->last_sequence());
            if (!f.error.empty()) {
                std::fprintf(stderr, "nexus-itch-publish: %s: %s%s (published before it: %s)\n", name.c_str(),
                             f.malformed ? "malformed input: " : "", f.error.c_str(), done.c_str());
                return f.malformed ? 2 : 1;
            }
            std::printf("published %s\n", done.c_str());
            if (f.stopped) {
                std::fprintf(stderr, "nexus-itch-publish: interrupted after %s\n", done.c_str());
                return 130;
            }
            return 0;
        }
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
        const std::string done = std::to_string(r.messages) + " messages (" + std::to_string(pub->bytes()) +
                                 " bytes) in " + std::to_string(pub->batches()) + " batches to " + dest +
                                 ", acknowledged up to stream sequence " + std::to_string(pub->last_sequence());
        if (r.io_error) {
            std::fprintf(stderr, "nexus-itch-publish: %s: %s (published before it: %s)\n", name.c_str(),
                         r.error.c_str(), done.c_str());
            return 1;
        }
        if (!r.ok) {
            std::fprintf(stderr, "nexus-itch-publish: %s: malformed input: %s (published before it: %s)\n",
                         name.c_str(), r.error.c_str(), done.c_str());
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

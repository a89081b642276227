// Built against an installed nexus package (component feed) by the install
// test: a small synthetic ITCH day is written gzipped, read back through
// zlib and framed; every message written must be framed again.
#include <nexus/feed/itch.hpp>
#include <nexus/feed/synth.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <zlib.h>

int main(int argc, char** argv) {
    const std::string path = std::string(argc > 1 ? argv[1] : ".") + "/consumer-day.itch.gz";
    std::uint64_t written = 0;
    {
        nexus::feed::ItchWriter out(path, /*gzip=*/true);
        written = nexus::feed::generate_day({.seed = 7, .symbols = 5, .order_messages = 2000}, out);
    }
    std::vector<std::uint8_t> bytes;
    gzFile in = gzopen(path.c_str(), "rb");
    if (in == nullptr) return 2;
    std::uint8_t buf[1 << 14];
    for (int n; (n = gzread(in, buf, sizeof buf)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
    gzclose(in);
    std::remove(path.c_str());

    nexus::feed::itch::Framer framer(bytes);
    nexus::feed::itch::Message m;
    std::uint64_t framed = 0;
    while (framer.next(m)) ++framed;
    const bool ok = framer.error() == nexus::feed::itch::FrameError::None && framed == written && written > 2000;
    std::printf("%llu of %llu messages\n", static_cast<unsigned long long>(framed),
                static_cast<unsigned long long>(written));
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}

// nexus-synth: writes a synthetic ITCH 5.0 trading day (see feed/synth.hpp).
#include <nexus/feed/synth.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
void usage(std::FILE* out) {
    std::fprintf(out,
                 "usage: nexus-synth [options] OUTPUT\n"
                 "Writes a deterministic synthetic NASDAQ ITCH 5.0 day (length-prefixed messages).\n"
                 "  --messages N   order messages after the directory (default 1000000)\n"
                 "  --symbols N    stocks in the directory, 1..65000 (default 3000)\n"
                 "  --seed N       random seed (default 20261126)\n"
                 "  --gzip         gzip the output (also implied by a .gz OUTPUT name)\n"
                 "  --help         this text\n");
}
}  // namespace

int main(int argc, char** argv) {
    nexus::feed::SynthConfig cfg;
    std::string out;
    bool gzip = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> unsigned long long {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "nexus-synth: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            char* end = nullptr;
            const unsigned long long v = std::strtoull(argv[++i], &end, 10);
            if (*end != '\0') {
                std::fprintf(stderr, "nexus-synth: %s: not a number: %s\n", a.c_str(), argv[i]);
                std::exit(2);
            }
            return v;
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else if (a == "--messages") {
            cfg.order_messages = value();
        } else if (a == "--symbols") {
            cfg.symbols = static_cast<std::uint32_t>(value());
        } else if (a == "--seed") {
            cfg.seed = value();
        } else if (a == "--gzip") {
            gzip = true;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "nexus-synth: unknown option %s\n", a.c_str());
            usage(stderr);
            return 2;
        } else {
            out = a;
        }
    }
    if (out.empty()) {
        usage(stderr);
        return 2;
    }
    if (out.size() > 3 && out.compare(out.size() - 3, 3, ".gz") == 0) gzip = true;
    try {
        nexus::feed::ItchWriter w(out, gzip);
        const auto n = nexus::feed::generate_day(cfg, w);
        w.close();
        std::printf("wrote %llu messages (%u symbols, seed %llu) to %s%s\n", static_cast<unsigned long long>(n),
                    cfg.symbols, static_cast<unsigned long long>(cfg.seed), out.c_str(), gzip ? " (gzip)" : "");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexus-synth: %s\n", e.what());
        return 1;
    }
    return 0;
}

// The command line shared by the harness binaries: [--quick] [--out=FILE].
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace nexus::bench {

struct Cli {
    bool quick = false;
    std::FILE* out = stdout;  // --out=FILE, or stdout
};

// Parses the common options; prints usage and exits on anything else.
inline Cli parse_cli(int argc, char** argv) {
    Cli cli;
    std::string path;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0)
            cli.quick = true;
        else if (std::strncmp(argv[i], "--out=", 6) == 0)
            path = argv[i] + 6;
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--out=FILE]\n", argv[0]);
            std::exit(2);
        }
    }
    if (!path.empty()) {
        cli.out = std::fopen(path.c_str(), "w");
        if (!cli.out) {
            std::perror(path.c_str());
            std::exit(1);
        }
    }
    return cli;
}

}  // namespace nexus::bench

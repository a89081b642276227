// The LOBSTER side of nexus-replay: verifying a LOBSTER file pair, and
// writing LOBSTER files from an ITCH day (docs/lobster.md).
#pragma once

#include <cstdio>
#include <string>

namespace nexus::replay {

// True if the command line asks for a LOBSTER export (it has --lobster-out).
bool lobster_export_requested(int argc, char** argv);

// True if `path` is named as a LOBSTER file: *.csv in any case, or a
// compressed *.csv.gz (which lobster_verify_main refuses by name rather than
// let it fail as ITCH).
bool lobster_file_name(const std::string& path);

// nexus-replay DAY.itch --lobster-out DIR --levels N [...]: parses the whole
// command line itself and returns the exit status.
int lobster_export_main(int argc, char** argv);

// Verifies a LOBSTER message file against its orderbook file (derived from
// the message file's name when `orderbook_file` is empty); returns the exit
// status.
int lobster_verify_main(const std::string& message_file, const std::string& orderbook_file);

// The LOBSTER part of --help.
void lobster_usage(std::FILE* out);

}  // namespace nexus::replay

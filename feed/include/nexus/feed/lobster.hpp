// nexus/feed/lobster.hpp — everything LOBSTER (docs/lobster.md), one file per
// concept:
//   lobster_format.hpp     event types, rows, placeholders, value ranges
//   lobster_reader.hpp     message and orderbook files, strictly parsed
//   lobster_verifier.hpp   the unseen-liquidity model: a file pair checked row by row
//   lobster_writer.hpp     rows formatted as text
//   lobster_exporter.hpp   LOBSTER files written from ITCH 5.0
//   lobster_file_sink.hpp  the exporter's files, named as LOBSTER names them
#pragma once

#include "nexus/feed/lobster_exporter.hpp"
#include "nexus/feed/lobster_file_sink.hpp"
#include "nexus/feed/lobster_format.hpp"
#include "nexus/feed/lobster_reader.hpp"
#include "nexus/feed/lobster_verifier.hpp"
#include "nexus/feed/lobster_writer.hpp"

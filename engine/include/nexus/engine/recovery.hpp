// nexus/engine/recovery.hpp — opening a journal directory at start-up.
//
// The directory holds: MANIFEST (venue.hpp), one journal per shard
// (journal-<i>.nxj, journal.hpp), the outbound store (outbound.nxo,
// outbound_store.hpp) and LOCK (dir_lock.hpp). Start-up, in order, once the
// caller holds the lock (one engine per journal):
//  1. no MANIFEST: a new venue if the directory holds no journal file (or
//     only the empty files of a creation that was interrupted), refused
//     otherwise — with the format version for journals of an older engine;
//  2. compare the configuration with the manifest (refused, each change
//     named, unless every change is a safe one);
//  3. open every shard file the manifest lists: a missing, empty or foreign
//     one (another venue's ID, another shard's index), or one holding fewer
//     records than the manifest counted, refuses the start;
//  4. replay: walk the outbound store in order; each answer it holds from
//     shard s must be, byte for byte and for the same user, the next answer
//     replaying shard s's journal produces (commands are applied on demand,
//     which also rebuilds the books, the router's token maps and the ITCH
//     file). Every store record must continue its user's stream (numbers
//     and back-links). Any difference refuses the start with the store's
//     offset, the user and both messages: the journal is not the one whose
//     answers were sent;
//  5. what the journals produce beyond the store (journaled, never sent) is
//     appended to the store, shard by shard: those users receive it at their
//     next login;
//  6. torn tails (an incomplete last record) are cut, the manifest is
//     rewritten with today's description and counts.
// In inspect mode (--recover-only) steps 1-5 read and check only: nothing is
// created, cut, appended or rewritten (and the lock is a shared one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nexus/engine/config.hpp"
#include "nexus/engine/core.hpp"
#include "nexus/engine/journal.hpp"
#include "nexus/engine/outbound_store.hpp"
#include "nexus/engine/router.hpp"
#include "nexus/engine/start_mode.hpp"
#include "nexus/engine/venue.hpp"

namespace nexus::engine {

struct Recovered {
    Manifest manifest;                    // with the configuration's description and today's counts
    std::vector<JournalWriter> journals;  // Serve: one per shard, positioned after the last good record
    std::uint64_t commands = 0;           // journal records replayed
    std::uint64_t stored = 0;             // answers found in the outbound store
    std::uint64_t unsent = 0;             // answers the journals produce that the store lacked
};

// Recovers the journal directory (steps above) into `cores` (one per shard,
// in shard order), the router's token maps and the outbound store. `itch`,
// if set, receives the replayed market data (the caller has written the
// file's header already). The caller holds the directory's lock (exclusive
// to serve, shared to inspect) and, to serve, has created the directory.
// Throws JournalError naming the file, offset and what is wrong.
Recovered recover_journals(const Config& cfg, StartMode mode, std::vector<ShardCore*> cores, Router& router,
                           OutboundStore& store, std::function<void(std::span<const std::uint8_t>)> itch);

}  // namespace nexus::engine

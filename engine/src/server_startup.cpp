// engine/src/server_startup.cpp — start-up: the journal directory is locked
// and recovered (recovery.hpp), and the ITCH file is rebuilt from the
// journal between its header and, at a clean stop, its trailer.
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "nexus/engine/recovery.hpp"
#include "server_impl.hpp"
#include "wall_clock.hpp"

namespace nexus::engine {

void ServerImpl::recover() {
    for (unsigned i = 0; i < cfg_.shards; ++i) shards_.push_back(std::make_unique<Shard>(cfg_, i));
    if (mode_ == StartMode::Serve) {
        std::error_code ec;
        std::filesystem::create_directories(cfg_.journal_dir, ec);
        if (ec) throw JournalError(cfg_.journal_dir + ": cannot create the journal directory: " + ec.message());
        lock_.emplace(DirectoryLock::exclusive(cfg_.journal_dir));
    } else if (std::filesystem::is_directory(cfg_.journal_dir)) {
        lock_ = DirectoryLock::shared_if_present(cfg_.journal_dir);
    }
    // The ITCH file is rewritten from the journal: its header now, the
    // replayed market data as recovery produces it. It is built beside the
    // old one and takes its place only once recovery succeeded (a refused
    // start leaves the old file as it was).
    std::function<void(std::span<const std::uint8_t>)> itch;
    const std::string itch_tmp = cfg_.itch_out + ".tmp";
    if (mode_ == StartMode::Serve && !cfg_.itch_out.empty()) {
        itch_file_ = PosixFile(itch_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
        itch_fd_ = itch_file_.fd();
        write_itch_header();
        itch = [this](std::span<const std::uint8_t> b) { write_fd_all(itch_fd_, b.data(), b.size(), cfg_.itch_out); };
    }
    std::vector<ShardCore*> cores;
    for (auto& s : shards_) cores.push_back(&s->core());
    Recovered r;
    try {
        r = recover_journals(cfg_, mode_, std::move(cores), router_, store_, std::move(itch));
    } catch (...) {
        if (itch_file_.is_open()) std::filesystem::remove(itch_tmp);
        throw;
    }
    if (itch_file_.is_open() && std::rename(itch_tmp.c_str(), cfg_.itch_out.c_str()) != 0)
        throw JournalError(cfg_.itch_out + ": cannot replace it with " + itch_tmp + ": " + std::strerror(errno));
    for (std::size_t i = 0; i < r.journals.size(); ++i) shards_[i]->open_journal(std::move(r.journals[i]));
    manifest_ = r.manifest;
    recovered_ = {r.commands, r.stored, r.unsent};
}

// Start of messages, the stock directory (locate = instrument index + 1),
// start of system hours and of market hours, every instrument trading.
void ServerImpl::write_itch_header() {
    feed::ItchEncoder head;
    const std::uint64_t ts = itch_time(wall_ns());
    head.system_event(ts, 'O');
    for (std::size_t i = 0; i < cfg_.instruments.size(); ++i)
        head.directory(static_cast<std::uint16_t>(i + 1), ts, cfg_.instruments[i].symbol);
    head.system_event(ts, 'S');
    head.system_event(ts, 'Q');
    for (std::size_t i = 0; i < cfg_.instruments.size(); ++i)
        head.trading_action(static_cast<std::uint16_t>(i + 1), ts, cfg_.instruments[i].symbol, 'T');
    write_fd_all(itch_fd_, head.bytes().data(), head.bytes().size(), cfg_.itch_out);
}

// End of market hours, of system hours, of messages. A failure is logged:
// the file is rebuilt from the journal at the next start anyway.
void ServerImpl::write_itch_trailer() {
    if (itch_fd_ < 0) return;
    feed::ItchEncoder tail;
    const std::uint64_t ts = itch_time(wall_ns());
    tail.system_event(ts, 'M');
    tail.system_event(ts, 'E');
    tail.system_event(ts, 'C');
    try {
        write_fd_all(itch_fd_, tail.bytes().data(), tail.bytes().size(), cfg_.itch_out);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
    }
}

}  // namespace nexus::engine

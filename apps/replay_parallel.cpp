// nexus-replay, ITCH 5.0 mode, several threads (--threads N).
//
// The locates are shared out between N workers. Each worker has its own
// ItchBookBuilder — its own books, slabs and index — and reads every block of
// the stream: it frames every message, applies those of its locates and only
// checks the others for format errors, so that every worker stops where a
// single-threaded replay would. What the outputs need is collected per block
// and merged by the main thread in feed order:
//  * the --bbo lines, each tagged with its message's number in the block;
//  * the change each message made to its worker's live order and level
//    counts, so that the peaks over the whole feed are exact;
// so the outputs are byte for byte those of one thread (tests/apps compares
// them). The summary sums the workers' counts and asks each locate's owner
// about its book.
//
// Input: a plain file is mapped, and each worker walks the mapping itself
// (all of them frame the same blocks). Anything else — gzip, a pipe, a FIFO —
// is read, and inflated, by a reader thread into message-aligned blocks that
// every worker reads.
//
// The partition: the messages of the first 16 MiB of the stream are counted
// by locate, and the locates dealt out, busiest first, to the least loaded
// worker; a locate not seen there goes to worker (locate mod N).
#include "replay_parallel.hpp"

#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace nexus::apps {
namespace {

namespace ob = nexus::orderbook;
namespace itch = nexus::feed::itch;
using nexus::feed::Fill;

constexpr std::size_t kBlock = std::size_t{4} << 20;    // stream bytes per block
constexpr std::size_t kMaxFrame = 2 + 65535;            // a message cut by a block's end is at most this
constexpr std::size_t kSample = std::size_t{16} << 20;  // stream bytes counted for the partition
constexpr unsigned kInFlight = 4;                       // blocks a worker may be ahead of the merge
constexpr unsigned kReaderSlots = kSample / kBlock + kInFlight + 1;
// Known messages are at least 14 bytes with their length prefix.
constexpr std::size_t kMaxMessages = (kBlock + kMaxFrame) / 14 + 1;

// A block of the stream: whole messages, except where the input ends.
struct Block {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::uint64_t offset = 0;  // of data[0] in the stream
    bool last = false;         // nothing follows
};

// ---- the reader thread (streams) -------------------------------------------

// Reads (and inflates) a stream into message-aligned blocks in a ring of
// buffers; each block is handed to `consumers` readers and its buffer is
// reused once all of them have released it.
class StreamReader {
public:
    StreamReader(nexus::feed::ItchInput& in, const std::atomic<bool>& stop) : in_(in), stop_(stop) {
        for (auto& s : slots_) s.buf.resize(kBlock + kMaxFrame);
        nexus::feed::ReadOptions opt;
        opt.stop = &stop_;
        opt_ = opt;
    }
    StreamReader(const StreamReader&) = delete;
    StreamReader& operator=(const StreamReader&) = delete;
    ~StreamReader() { join(); }

    void start(unsigned consumers) {
        consumers_ = consumers;
        thread_ = std::thread([this] { run(); });
    }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    // Hands the blocks over to `n` consumers (the main thread reads the
    // first blocks alone, for the partition, and passes them on unreleased).
    void set_consumers(unsigned n) {
        std::lock_guard lock(mu_);
        for (auto& s : slots_)
            if (s.ready) s.users += n - consumers_;
        consumers_ = n;
    }
    // The consumers are gone: the reader stops, and get() returns nothing more.
    void abandon() {
        {
            std::lock_guard lock(mu_);
            abandoned_ = true;
            finished_ = true;
        }
        cv_.notify_all();
    }
    // Block `seq`, waiting for it; nullopt once the stream has no block `seq`.
    std::optional<Block> get(std::uint64_t seq) {
        std::unique_lock lock(mu_);
        Slot& s = slots_[seq % kReaderSlots];
        cv_.wait(lock, [&] { return (s.ready && s.seq == seq) || (finished_ && seq >= produced_) || abandoned_; });
        if (s.ready && s.seq == seq) return s.block;
        return std::nullopt;
    }
    void release(std::uint64_t seq) {
        std::lock_guard lock(mu_);
        Slot& s = slots_[seq % kReaderSlots];
        if (--s.users == 0) {
            s.ready = false;
            cv_.notify_all();
        }
    }
    // Once the reader has finished: the source's error, if any.
    [[nodiscard]] Fill end_state() const noexcept { return end_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] std::uint64_t input_bytes() const noexcept { return input_bytes_.load(std::memory_order_relaxed); }

private:
    struct Slot {
        std::vector<std::uint8_t> buf;
        Block block;
        std::uint64_t seq = 0;
        unsigned users = 0;
        bool ready = false;
    };

    void run() {
        if (in_.gzip()) {
            nexus::feed::GzipSource src(in_.fd(), in_.take_head());
            produce(src);
        } else {
            nexus::feed::PlainSource src(in_.fd(), in_.take_head());
            produce(src);
        }
    }

    template <class Source>
    void produce(Source& src) {
        std::vector<std::uint8_t> carry;
        std::uint64_t offset = 0;
        for (std::uint64_t seq = 0;; ++seq) {
            Slot& s = slots_[seq % kReaderSlots];
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return !s.ready || abandoned_; });
                if (abandoned_) return;
            }
            std::uint8_t* buf = s.buf.data();
            if (!carry.empty()) std::memcpy(buf, carry.data(), carry.size());
            std::size_t have = carry.size();
            Fill st = Fill::More;
            std::string err;
            while (have < kBlock && st == Fill::More && !stop_.load(std::memory_order_relaxed)) {
                std::size_t produced = 0;
                st = src.fill(buf + have, kBlock - have, produced, err, opt_);
                have += produced;
                input_bytes_.store(src.input_bytes(), std::memory_order_relaxed);
            }
            const bool stopped = st == Fill::More && stop_.load(std::memory_order_relaxed);
            const bool ended = st != Fill::More || stopped;
            // Cut after the last whole message; the workers frame everything
            // before the cut. At the end of the input, or with no boundary to
            // cut at (a zero length), everything goes, and the workers report
            // it. On a stop request the bytes after the last whole message
            // are the rest of a message still on its way, not a fault: they
            // are left unread, as the one-thread replay leaves them.
            std::size_t cut = 0;
            while (have - cut >= 2) {
                const std::size_t len = itch::be16(buf + cut);
                if (len == 0 || have - cut - 2 < len) break;
                cut += 2 + len;
            }
            if (!stopped && (ended || cut == 0)) cut = have;
            carry.assign(buf + cut, buf + have);
            {
                std::lock_guard lock(mu_);
                s.block = Block{buf, cut, offset, ended};
                s.seq = seq;
                s.users = consumers_;
                s.ready = true;
                produced_ = seq + 1;
                if (ended) {
                    finished_ = true;
                    end_ = st;
                    error_ = err;
                }
            }
            cv_.notify_all();
            offset += cut;
            if (ended) return;
        }
    }

    nexus::feed::ItchInput& in_;
    const std::atomic<bool>& stop_;
    nexus::feed::ReadOptions opt_;
    unsigned consumers_ = 1;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    Slot slots_[kReaderSlots];
    std::uint64_t produced_ = 0;  // blocks published
    bool finished_ = false;       // the last block is published (or the reader gave up)
    bool abandoned_ = false;      // abandon() was called
    Fill end_ = Fill::More;
    std::string error_;
    std::atomic<std::uint64_t> input_bytes_{0};
};

// ---- the partition ------------------------------------------------------------

// Counts the messages of each locate in the whole messages of `data`.
void count_locates(std::span<const std::uint8_t> data, std::vector<std::uint64_t>& counts) {
    std::size_t p = 0;
    while (data.size() - p >= 5) {
        const std::size_t len = itch::be16(data.data() + p);
        if (len < 3 || data.size() - p - 2 < len) break;
        ++counts[itch::be16(data.data() + p + 3)];
        p += 2 + len;
    }
}

// Busiest locate first to the least loaded worker; the rest by locate mod n.
std::vector<std::uint8_t> partition(const std::vector<std::uint64_t>& counts, unsigned n) {
    std::vector<std::uint8_t> owner(65536);
    for (std::size_t l = 0; l < owner.size(); ++l) owner[l] = static_cast<std::uint8_t>(l % n);
    std::vector<std::uint16_t> seen;
    for (std::size_t l = 1; l < counts.size(); ++l)
        if (counts[l]) seen.push_back(static_cast<std::uint16_t>(l));
    std::stable_sort(seen.begin(), seen.end(), [&](auto a, auto b) { return counts[a] > counts[b]; });
    std::vector<std::uint64_t> load(n, 0);
    load[0] = counts[0];  // locate 0 (system messages) stays with worker 0
    owner[0] = 0;
    for (auto l : seen) {
        const auto w = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        owner[l] = static_cast<std::uint8_t>(w);
        load[w] += counts[l];
    }
    return owner;
}

// ---- the workers ----------------------------------------------------------------

// What a worker hands the merge for one block.
struct BlockOut {
    itch::BlockResult res;
    bool final = false;                                           // the worker reads no further
    std::uint64_t offset = 0;                                     // of the block
    std::vector<std::int8_t> d_orders;                            // by message number: change in its live orders
    std::vector<std::int8_t> d_levels;                            // ... and levels (0 for other workers' messages)
    std::string bbo;                                              // its --bbo lines, in order
    std::vector<std::pair<std::uint32_t, std::uint32_t>> bbo_at;  // (message number, end of its line in bbo)
};

struct Worker {
    unsigned id = 0;
    ob::NullListener listener;
    std::unique_ptr<Builder> builder;
    Latency lat;
    std::vector<Top> last_top;  // with --bbo: the last line written per locate
    BlockOut outs[kInFlight];
    std::uint64_t produced = 0;  // blocks handed to the merge
    bool finished = false;       // its last block is handed over
    bool threw = false;          // std::bad_alloc: the books could not grow
    std::thread thread;
};

// Around each message of a block: cost samples, the counts' changes, --bbo.
struct WorkerHooks : nexus::feed::ItchObserver {
    Worker& w;
    BlockOut* out = nullptr;
    bool bbo = false;
    std::uint32_t n = 0;  // the message's number in the block
    std::uint64_t count = 0, t0 = 0;
    std::size_t orders_before = 0, levels_before = 0;

    explicit WorkerHooks(Worker& worker, bool with_bbo) : w(worker), bbo(with_bbo) {}
    [[gnu::always_inline]] void before(const itch::Message&) {
        if ((++count & 15) == 0) t0 = __rdtsc();
        orders_before = w.builder->live_orders();
        levels_before = w.builder->live_levels();
    }
    [[gnu::always_inline]] bool after(const itch::Message& m) {
        if ((count & 15) == 0) [[unlikely]]
            w.lat.by_type[static_cast<unsigned char>(m.type())].push_back(static_cast<std::uint32_t>(__rdtsc() - t0));
        out->d_orders[n] = static_cast<std::int8_t>(w.builder->live_orders() - orders_before);
        out->d_levels[n] = static_cast<std::int8_t>(w.builder->live_levels() - levels_before);
        if (bbo) write_bbo(m);
        ++n;
        return true;
    }
    [[gnu::always_inline]] void skip(const itch::Message&) {
        out->d_orders[n] = 0;
        out->d_levels[n] = 0;
        ++n;
    }
    void write_bbo(const itch::Message& m) {
        const std::uint16_t loc = m.locate();
        const auto* b = loc != 0 ? w.builder->books().get(loc) : nullptr;
        if (b == nullptr) return;
        const Top now = top_of(*b);
        Top& was = w.last_top[loc];
        if (now == was) return;
        was = now;
        append_bbo_line(out->bbo, m.timestamp(), w.builder->symbol(loc), now);
        out->bbo_at.emplace_back(n, static_cast<std::uint32_t>(out->bbo.size()));
    }
};

// Everything the threads share.
class Replay {
public:
    Replay(const ReplayOptions& opt, const std::atomic<bool>& stop, unsigned n, const std::uint8_t* owner)
        : opt_(opt), stop_(stop), owner_(owner), workers_(n) {
        for (unsigned w = 0; w < n; ++w) {
            Worker& k = workers_[w];
            k.id = w;
            k.builder = std::make_unique<Builder>(
                k.listener, ob::MarketPoolConfig{.orders = opt.orders / n, .levels = opt.levels / n});
            if (!opt.symbols.empty()) k.builder->select_symbols(opt.symbols);
            if (!opt.bbo_csv.empty()) k.last_top.resize(65536);
            for (auto& o : k.outs) {
                o.d_orders.resize(kMaxMessages);
                o.d_levels.resize(kMaxMessages);
            }
        }
    }

    // Blocks of a mapping: each worker walks it itself.
    void start_mapped(const std::uint8_t* map, std::uint64_t size) {
        for (auto& w : workers_)
            w.thread = std::thread([this, &w, map, size] {
                std::uint64_t pos = 0;
                work(
                    w,
                    [&](std::uint64_t, Block& b) {
                        if (pos >= size) return false;
                        const std::uint64_t n = std::min<std::uint64_t>(kBlock, size - pos);
                        b = Block{map + pos, static_cast<std::size_t>(n), pos, pos + n == size};
                        return true;
                    },
                    [&](std::uint64_t, const itch::BlockResult& r) { pos += r.consumed; }, true);
            });
    }
    // Blocks from the reader thread, shared.
    void start_stream(StreamReader& reader) {
        for (auto& w : workers_)
            w.thread = std::thread([this, &w, &reader] {
                work(
                    w,
                    [&](std::uint64_t seq, Block& b) {
                        const auto blk = reader.get(seq);
                        if (!blk) return false;
                        b = *blk;
                        return true;
                    },
                    [&](std::uint64_t seq, const itch::BlockResult&) { reader.release(seq); }, false);
            });
    }
    void join() {
        for (auto& w : workers_)
            if (w.thread.joinable()) w.thread.join();
    }

    // Merges the workers' blocks in order until they all stop; `after_block`
    // is called with the stream position reached after each.
    template <class After>
    void merge(nexus::feed::ReadResult& r, std::FILE* bbo, After&& after_block) {
        std::int64_t orders = 0, levels = 0;
        for (std::uint64_t seq = 0;; ++seq) {
            std::vector<BlockOut*> outs;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] {
                    return std::all_of(workers_.begin(), workers_.end(),
                                       [&](const Worker& w) { return w.produced > seq || w.finished; });
                });
                // A block is merged only if every worker applied it (they end
                // together, except on a stop request or a worker's failure).
                for (auto& w : workers_)
                    if (w.produced > seq) outs.push_back(&w.outs[seq % kInFlight]);
            }
            if (outs.size() < workers_.size()) {
                if (!outs.empty()) r.stopped = true;
                abort_.store(true);
                cv_.notify_all();
                break;
            }
            const BlockOut& first = *outs.front();
            std::uint32_t messages = 0;
            for (const BlockOut* o : outs) messages = std::max(messages, static_cast<std::uint32_t>(o->res.messages));
            // The feed's live counts after each message, and their peaks:
            // the workers' changes summed message by message (a loop the
            // compiler vectorises), then one running sum.
            sum_orders_.assign(messages, 0);
            sum_levels_.assign(messages, 0);
            for (const BlockOut* o : outs) {
                const std::size_t k = std::min<std::size_t>(messages, o->res.messages);
                std::int16_t* so = sum_orders_.data();
                std::int16_t* sl = sum_levels_.data();
                const std::int8_t* dor = o->d_orders.data();
                const std::int8_t* dl = o->d_levels.data();
                for (std::size_t j = 0; j < k; ++j) {
                    so[j] = static_cast<std::int16_t>(so[j] + dor[j]);
                    sl[j] = static_cast<std::int16_t>(sl[j] + dl[j]);
                }
            }
            for (std::uint32_t j = 0; j < messages; ++j) {
                orders += sum_orders_[j];
                levels += sum_levels_[j];
                peak_orders_ = std::max(peak_orders_, orders);
                peak_levels_ = std::max(peak_levels_, levels);
            }
            if (bbo != nullptr) write_bbo(outs, bbo);
            r.messages += messages;
            r.unknown += first.res.unknown;
            r.bytes = first.offset + first.res.consumed;
            bool last = false;
            for (const BlockOut* o : outs) {
                last = last || o->final;
                if (o->final && o->res.error != itch::FrameError::None && r.ok) {
                    r.ok = false;
                    r.error = std::string(itch::to_string(o->res.error)) + " at byte offset " +
                              std::to_string(o->offset + o->res.consumed);
                }
                if (o->res.stop) r.stopped = true;
            }
            {
                std::lock_guard lock(mu_);
                merged_ = seq + 1;
            }
            cv_.notify_all();
            after_block(r.bytes);
            if (last) {
                abort_.store(true);  // a worker still going (one failed) stops at its next block
                cv_.notify_all();
                break;
            }
        }
    }

    [[nodiscard]] std::uint64_t peak_orders() const noexcept { return static_cast<std::uint64_t>(peak_orders_); }
    [[nodiscard]] std::uint64_t peak_levels() const noexcept { return static_cast<std::uint64_t>(peak_levels_); }
    [[nodiscard]] std::vector<Worker>& workers() noexcept { return workers_; }
    [[nodiscard]] std::uint64_t messages_seen() const noexcept { return seen_.load(std::memory_order_relaxed); }

private:
    // A worker: takes blocks from `next`, applies its share, hands the
    // results to the merge, and `done` returns the block to its source.
    // `own_stop`: the worker itself stops on a stop request (a mapping has no
    // reader to end the blocks); a streamed input's reader ends the stream on
    // a stop instead, so every worker applies every block that was read.
    template <class Next, class Done>
    void work(Worker& w, Next&& next, Done&& done, bool own_stop) {
        WorkerHooks hooks(w, !opt_.bbo_csv.empty());
        const nexus::feed::LocateShare share{owner_, static_cast<std::uint8_t>(w.id)};
        for (std::uint64_t seq = 0;; ++seq) {
            Block b;
            if ((own_stop && stop_.load(std::memory_order_relaxed)) || abort_.load(std::memory_order_relaxed) ||
                !next(seq, b))
                break;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return seq < merged_ + kInFlight || abort_.load(); });
                if (abort_.load()) {
                    lock.unlock();
                    done(seq, itch::BlockResult{});
                    break;
                }
            }
            BlockOut& out = w.outs[seq % kInFlight];
            out.bbo.clear();
            out.bbo_at.clear();
            out.offset = b.offset;
            hooks.out = &out;
            hooks.n = 0;
            bool threw = false;
            try {
                out.res = w.builder->apply_block(std::span<const std::uint8_t>(b.data, b.size), b.offset, hooks, share);
            } catch (const std::bad_alloc&) {
                threw = true;
                out.res = itch::BlockResult{};
                out.res.messages = hooks.n;
                out.res.stop = true;
            }
            if (w.id == 0) seen_.fetch_add(out.res.messages, std::memory_order_relaxed);
            const bool partial = out.res.error == itch::FrameError::TruncatedMessage ||
                                 out.res.error == itch::FrameError::TruncatedLength;
            out.final = out.res.stop || (out.res.error != itch::FrameError::None && (b.last || !partial)) ||
                        (b.last && out.res.error == itch::FrameError::None);
            done(seq, out.res);
            {
                std::lock_guard lock(mu_);
                w.produced = seq + 1;
                w.threw = threw;
                if (out.final) w.finished = true;
            }
            cv_.notify_all();
            if (out.final) break;
        }
        {
            std::lock_guard lock(mu_);
            w.finished = true;
        }
        cv_.notify_all();
    }

    // The --bbo lines of a block, in message order across the workers.
    static void write_bbo(const std::vector<BlockOut*>& outs, std::FILE* f) {
        std::vector<std::size_t> next(outs.size(), 0);
        for (;;) {
            std::size_t best = outs.size();
            std::uint32_t at = ~std::uint32_t{0};
            for (std::size_t i = 0; i < outs.size(); ++i) {
                if (next[i] < outs[i]->bbo_at.size() && outs[i]->bbo_at[next[i]].first < at) {
                    at = outs[i]->bbo_at[next[i]].first;
                    best = i;
                }
            }
            if (best == outs.size()) return;
            const BlockOut& o = *outs[best];
            const std::size_t begin = next[best] == 0 ? 0 : o.bbo_at[next[best] - 1].second;
            const std::size_t end = o.bbo_at[next[best]].second;
            std::fwrite(o.bbo.data() + begin, 1, end - begin, f);
            ++next[best];
        }
    }

    const ReplayOptions& opt_;
    const std::atomic<bool>& stop_;
    const std::uint8_t* owner_;
    std::vector<Worker> workers_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t merged_ = 0;        // blocks merged
    std::atomic<bool> abort_{false};  // stop at the next block (the merge has seen the end, or a worker failed)
    std::int64_t peak_orders_ = 0, peak_levels_ = 0;
    std::vector<std::int16_t> sum_orders_, sum_levels_;  // a block's changes, summed over the workers
    std::atomic<std::uint64_t> seen_{0};
};

}  // namespace

int run_itch_parallel(const ReplayOptions& opt, const std::atomic<bool>& stop, ReplayRun& run, OutputFile& bbo,
                      OutputFile& snapshot) {
    const unsigned n = opt.threads;
    run.threads = n;
    nexus::feed::ReadOptions ropt;
    ropt.stop = &stop;
    nexus::feed::ItchInput in(opt.file, ropt);
    Latency lat;
    lat.ticks_per_ns = measure_tsc_rate();
    auto& r = run.read;
    if (in.stopped() || !in.ok()) {  // nothing to replay: an empty summary, as one thread gives
        r.ok = in.ok();
        r.stopped = in.stopped();
        r.io_error = !in.ok();
        r.error = in.error();
        ob::NullListener nl;
        Builder none(nl);
        return finish_itch(opt, stop, run, ReplayBooks(none), lat, bbo, snapshot, "", false);
    }
    r.gzip = in.gzip();
    spdlog::info("replaying {} with {} threads", run.name, n);
    const auto start = std::chrono::steady_clock::now();

    // The partition, from the messages of the first kSample bytes.
    std::vector<std::uint64_t> counts(65536, 0);
    const std::uint8_t* map = nullptr;
    std::unique_ptr<StreamReader> reader;
    if (in.mappable()) {
        void* p = ::mmap(nullptr, in.size(), PROT_READ, MAP_PRIVATE, in.fd(), 0);
        if (p != MAP_FAILED) {
            map = static_cast<const std::uint8_t*>(p);
            ::madvise(p, in.size(), MADV_SEQUENTIAL);
            count_locates({map, static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), kSample))}, counts);
        }
    }
    if (map == nullptr) {
        r.streamed = true;
        reader = std::make_unique<StreamReader>(in, stop);
        reader->start(1);
        for (std::uint64_t seq = 0; seq < kSample / kBlock; ++seq) {
            const auto b = reader->get(seq);
            if (!b) break;
            count_locates({b->data, b->size}, counts);
            if (b->last) break;
        }
    }
    const std::vector<std::uint8_t> owner = partition(counts, n);

    std::optional<Replay> made;
    try {
        made.emplace(opt, stop, n, owner.data());
    } catch (const std::exception& e) {  // CapacityError or bad_alloc: the reservation cannot be had
        if (reader) reader->abandon();
        spdlog::error("cannot reserve {} order and {} level cells up front (--orders, --levels): {}", opt.orders,
                      opt.levels, e.what());
        return kExitCapacity;
    }
    Replay& replay = *made;
    if (map != nullptr) {
        replay.start_mapped(map, in.size());
    } else {
        reader->set_consumers(n);  // the blocks read for the partition go on to the workers
        replay.start_stream(*reader);
    }

    ProgressBar bar(opt.progress, start);
    const std::uint64_t total = in.size();
    const long page = ::sysconf(_SC_PAGESIZE);
    std::uint64_t dropped = 0;
    replay.merge(r, bbo.enabled() ? bbo.get() : nullptr, [&](std::uint64_t pos) {
        if (map != nullptr) {  // the pages every worker is done with leave the resident set
            const std::uint64_t done = pos / static_cast<std::uint64_t>(page) * static_cast<std::uint64_t>(page);
            if (done > dropped) {
                ::madvise(const_cast<std::uint8_t*>(map) + dropped, done - dropped, MADV_DONTNEED);
                dropped = done;
            }
        }
        bar.show(reader ? reader->input_bytes() : pos, total, replay.messages_seen());
    });
    if (reader) reader->abandon();  // the workers may have stopped short of its end
    replay.join();
    if (reader) {
        reader->join();
        // A failing source is the cause of whatever its last bytes made the
        // workers report (inflate emits garbage before it notices).
        if (reader->end_state() == Fill::BadData || reader->end_state() == Fill::IoError) {
            r.ok = false;
            r.io_error = reader->end_state() == Fill::IoError;
            r.bad_stream = reader->end_state() == Fill::BadData;
            r.error = reader->error() + ", after " + std::to_string(r.bytes) + " stream bytes";
        }
    }
    if (map != nullptr) ::munmap(const_cast<std::uint8_t*>(map), in.size());
    run.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.clear();

    if (stop.load()) r.stopped = true;
    std::string book_error;
    bool capacity = false;
    std::vector<const Builder*> builders;
    for (auto& w : replay.workers()) {
        builders.push_back(w.builder.get());
        lat.merge(w.lat);
        if (w.threw && !capacity) {
            capacity = true;
            book_error = "out of memory in worker " + std::to_string(w.id);
        } else if (!w.builder->error().empty() && book_error.empty()) {
            book_error = w.builder->error();
            capacity = w.builder->error_kind() == nexus::feed::ItchError::Capacity;
        }
    }
    if (!book_error.empty() && !capacity) r.stopped = false;  // a format error, not a stop
    run.peak_orders = replay.peak_orders();
    run.peak_levels = replay.peak_levels();
    return finish_itch(opt, stop, run, ReplayBooks(std::move(builders), owner.data()), lat, bbo, snapshot, book_error,
                       capacity);
}

}  // namespace nexus::apps

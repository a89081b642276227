// nexus/engine/router.hpp — validation and routing of inbound order messages.
//
// The I/O thread's half of the engine, without any I/O: checks every field of
// an order message against the configuration (instrument, user limits,
// codes), keeps each user's token map (a token is used once per user for the
// day, including across restarts: the journal rebuilds the map), assigns
// order IDs, and turns the message into a Command for the instrument's shard.
// This is where the protocol's letters become the domain's enums
// (wire_codes.hpp). A returned reason means the message was refused and
// nothing was changed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nexus/engine/command.hpp"
#include "nexus/engine/config.hpp"
#include "nexus/engine/event.hpp"
#include "nexus/engine/protocol.hpp"

namespace nexus::engine {

// An array indexed from 0 that grows by fixed pages and never moves what it
// holds: reading is two loads, growing allocates one page and copies nothing
// (a std::vector's doubling would copy everything, a pause that grows with
// the day). Entries never written read as T{}.
template <class T, unsigned PageBits = 12>
class PagedArray {
public:
    static constexpr std::size_t kPage = std::size_t{1} << PageBits;
    [[nodiscard]] std::size_t size() const noexcept { return pages_.size() * kPage; }  // entries addressable
    [[nodiscard]] T get(std::size_t i) const noexcept {
        return i < size() ? pages_[i >> PageBits][i & (kPage - 1)] : T{};
    }
    T& operator[](std::size_t i) noexcept { return pages_[i >> PageBits][i & (kPage - 1)]; }  // i < size()
    const T& operator[](std::size_t i) const noexcept { return pages_[i >> PageBits][i & (kPage - 1)]; }
    // Makes entry i addressable (out of line: it allocates).
    [[gnu::noinline]] void ensure(std::size_t i) {
        while (i >= size()) pages_.push_back(std::make_unique<T[]>(kPage));  // value-initialized: T{}
    }

private:
    std::vector<std::unique_ptr<T[]>> pages_;
};

// Token -> order ID, for one user, for the whole day: tokens are never
// removed, since a token once used is refused for the rest of the day.
// Clients usually count their tokens up, so the map keeps a run of tokens
// as a plain paged array indexed by token - first token (8 bytes a token,
// written in order, no hashing, no rehash). A token at most kMaxGap past the
// run's end extends it (the skipped tokens read as unused); any other token
// goes to an open-addressing table (linear probing, at most half full,
// 16-byte slots). Order IDs start at 1, so 0 means "no such token". A client
// whose count jumps further ahead than that carries on in the table: still
// right, only slower.
class TokenMap {
public:
    static constexpr std::uint64_t kMaxGap = 8;  // bounds the run's unused entries to 8 per token

    TokenMap() { slots_.resize(16); }
    // The order ID of `token`, or 0.
    [[nodiscard]] std::uint64_t find(std::uint64_t token) const noexcept {
        const std::uint64_t at = token - run_base_;  // wraps for tokens below the run
        if (at < run_len_) {
            if (const std::uint64_t id = run_[at]; id != 0) return id;
        }
        // An unused run entry may name a token the table took before the run reached it.
        return table_size_ == 0 ? 0 : slots_[slot_of(token)].order_id;  // 0 when the slot is empty
    }
    [[nodiscard]] bool contains(std::uint64_t token) const noexcept { return find(token) != 0; }
    // Inserts or overwrites; order_id must not be 0.
    void put(std::uint64_t token, std::uint64_t order_id) {
        const std::uint64_t at = token - run_base_;
        if (at < run_len_ && run_[at] != 0) {
            run_[at] = order_id;
            return;
        }
        if (table_size_ != 0) {
            if (Slot& s = slots_[slot_of(token)]; s.order_id != 0) {
                s.order_id = order_id;
                return;
            }
        }
        add(token, order_id);
    }
    // Inserts a token not seen before; false (and nothing changed) if the
    // token is already there.
    bool insert_new(std::uint64_t token, std::uint64_t order_id) {
        if (contains(token)) return false;
        add(token, order_id);
        return true;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    // Tokens kept in the run, the rest being in the table.
    [[nodiscard]] std::size_t run_tokens() const noexcept { return size_ - table_size_; }

private:
    struct Slot {
        std::uint64_t token = 0;
        std::uint64_t order_id = 0;  // 0 = empty
    };
    // A token known to be absent: into the run if it falls in it or just past
    // its end (or starts it), else into the table. The usual case, the next
    // token on a page already there, stays inline.
    [[gnu::always_inline]] void add(std::uint64_t token, std::uint64_t order_id) {
        if (run_len_ == 0) run_base_ = token;
        const std::uint64_t at = token - run_base_;
        ++size_;
        if (at <= run_len_ + kMaxGap && at < kMaxRun) [[likely]] {
            if (at >= run_.size()) [[unlikely]]
                run_.ensure(at);
            if (at >= run_len_) run_len_ = at + 1;
            run_[at] = order_id;
            return;
        }
        add_to_table(token, order_id);
    }
    [[gnu::noinline]] void add_to_table(std::uint64_t token, std::uint64_t order_id) {
        if ((table_size_ + 1) * 2 > slots_.size()) grow();
        slots_[slot_of(token)] = Slot{token, order_id};
        ++table_size_;
    }
    std::size_t home(std::uint64_t t) const noexcept {
        return static_cast<std::size_t>((t * 0x9E37'79B9'7F4A'7C15ull) >> 32) & (slots_.size() - 1);
    }
    // The slot holding `token`, or the empty slot where it would go.
    std::size_t slot_of(std::uint64_t token) const noexcept {
        std::size_t i = home(token);
        while (slots_[i].order_id != 0 && slots_[i].token != token) i = (i + 1) & (slots_.size() - 1);
        return i;
    }
    void grow() {
        std::vector<Slot> old(slots_.size() * 2);
        old.swap(slots_);
        for (const Slot& s : old)
            if (s.order_id != 0) slots_[slot_of(s.token)] = s;
    }
    // No day has this many tokens; the bound keeps run_len_ far from wrapping.
    static constexpr std::uint64_t kMaxRun = std::uint64_t{1} << 40;

    std::uint64_t run_base_ = 0;  // the run covers tokens [run_base_, run_base_ + run_len_)
    std::uint64_t run_len_ = 0;
    PagedArray<std::uint64_t> run_;  // their order IDs (0 = unused)
    std::vector<Slot> slots_;        // the other tokens
    std::size_t table_size_ = 0;
    std::size_t size_ = 0;
};

class Router {
public:
    explicit Router(const Config& cfg);

    [[nodiscard]] unsigned shard_of(std::uint16_t instrument) const noexcept { return (instrument - 1) % cfg_.shards; }

    // Recovery: a journaled command's tokens and IDs.
    void restore(const Command& c);

    using Refusal = std::optional<RejectReason>;

    Refusal enter(std::uint32_t user, const wire::EnterOrder& o, Command& c);

    Refusal replace(std::uint32_t user, const wire::ReplaceOrder& r, Command& c);

    Refusal cancel(std::uint32_t user, const wire::CancelOrder& x, Command& c);

private:
    // Symbols (as their 8-byte keys) -> instrument: open addressing, at most a
    // quarter full, so a lookup is one or two probes of a small array.
    struct SymbolSlot {
        std::uint64_t key = 0;
        std::uint16_t instrument = 0;  // 0 = empty
    };
    std::size_t symbol_home(std::uint64_t key) const noexcept {
        return static_cast<std::size_t>((key * 0x9E37'79B9'7F4A'7C15ull) >> 40) & (symbols_.size() - 1);
    }
    std::uint16_t instrument_of_symbol(std::uint64_t key) const noexcept {
        for (std::size_t at = symbol_home(key);; at = (at + 1) & (symbols_.size() - 1)) {
            const SymbolSlot& s = symbols_[at];
            if (s.instrument == 0 || s.key == key) return s.instrument;
        }
    }

    void remember(std::uint32_t user, std::uint64_t token, std::uint64_t order_id, std::uint16_t instrument) {
        tokens_[user].put(token, order_id);
        note_instrument(order_id, instrument);
    }
    void note_instrument(std::uint64_t order_id, std::uint16_t instrument) {
        instrument_of_.ensure(order_id);
        instrument_of_[order_id] = instrument;
    }
    // Size, price and notional of a limit order (or a replacement).
    static Refusal check_qty(const InstrumentConfig& ic, const UserConfig& uc, std::uint32_t qty) noexcept {
        if (qty == 0 || qty > ic.max_qty || qty > uc.max_qty) return RejectReason::InvalidQty;
        return std::nullopt;
    }
    static Refusal check_limit(const InstrumentConfig& ic, const UserConfig& uc, std::uint32_t qty,
                               std::uint32_t price) noexcept {
        if (const Refusal why = check_qty(ic, uc, qty)) return why;
        if (price < ic.min_price || price > ic.max_price) return RejectReason::InvalidPrice;
        // Dollars of price (4 implied decimals) x quantity; no overflow: < 2^32 * 2^32 / 10^4.
        if (static_cast<std::uint64_t>(price) * qty / 10'000 > uc.max_notional) return RejectReason::OverLimit;
        return std::nullopt;
    }

    const Config& cfg_;
    std::vector<SymbolSlot> symbols_;
    std::vector<TokenMap> tokens_;             // per user
    PagedArray<std::uint16_t> instrument_of_;  // by order ID (IDs are dense)
    std::uint64_t next_id_ = 1;
};

}  // namespace nexus::engine

// nexus/feed/synth.hpp — a synthetic NASDAQ-like trading day in ITCH 5.0.
//
// Deterministic for a seed. Shape:
//  * a directory of `symbols` stocks; activity per symbol follows a Zipf-like
//    law (weight 1/rank^1.1), so a handful of symbols carry a large share of
//    the messages and most are quiet, as on a real day;
//  * each symbol has a mid price (log-uniform $5-$500, 1-cent ticks) that
//    drifts by a tick now and then; new orders sit a geometric number of
//    ticks away from it on their own side, so prices cluster at the touch;
//  * orders are mostly short-lived: a delete picks one of the newest orders
//    seven times in ten;
//  * message mix (of order messages), approximating the published type
//    breakdowns of NASDAQ's ITCH 5.0 sample days, where adds and deletes
//    dominate and are nearly equal, replaces are a sizeable minority and
//    executions a few percent: add 45% (of which 2% with attribution, F),
//    delete 40%, replace 8%, execute 3.5%, partial cancel 1.5%, execute with
//    price 0.3%, non-displayed trade (P) 1.7%, plus system events, the
//    directory and trading actions. Exact counts are in the replay summary.
// When a mid drifts, the orders it passes trade in full (extra executions), so
// every bid is below the mid and every offer above it: books never cross.
// Every execute, cancel, delete and replace names a live order of the right
// stock with no more shares than it has, so a correct book sees no anomaly.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "nexus/feed/itch.hpp"
#include "nexus/feed/itch_encoder.hpp"

namespace nexus::feed {

// Buffered writer of length-prefixed ITCH 5.0, plain or gzip.
class ItchWriter : public ItchEncoder {
public:
    ItchWriter(const std::string& path, bool gzip) : gzip_(gzip) {
        if (gzip_)
            gz_ = gzopen(path.c_str(), "wb6");
        else
            file_ = std::fopen(path.c_str(), "wb");
        if (!gz_ && !file_) throw std::runtime_error("cannot create " + path);
        flush_at_ = (1 << 20) - 64;
        buf_.resize(1 << 20);
    }
    ~ItchWriter() override { close(); }

    void close() {
        flush();
        if (gz_) gzclose(gz_);
        if (file_) std::fclose(file_);
        gz_ = nullptr;
        file_ = nullptr;
    }

private:
    void overflow() override { flush(); }
    void flush() {
        if (end_ == 0) return;
        bool ok;
        if (gz_)
            ok = gzwrite(gz_, buf_.data(), static_cast<unsigned>(end_)) == static_cast<int>(end_);
        else
            ok = file_ && std::fwrite(buf_.data(), 1, end_, file_) == end_;
        end_ = 0;
        if (!ok) throw std::runtime_error("write failed");
    }

    bool gzip_;
    gzFile gz_ = nullptr;
    std::FILE* file_ = nullptr;
};

struct SynthConfig {
    std::uint64_t seed = 20261126;
    std::uint32_t symbols = 3000;
    std::uint64_t order_messages = 1'000'000;  // after the directory
};

// Writes a whole day; returns the number of messages written.
inline std::uint64_t generate_day(const SynthConfig& cfg, ItchWriter& w) {
    std::mt19937_64 rng(cfg.seed);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    auto geometric = [&](double p) {  // 1, 2, 3, ... with P(k) = p (1-p)^(k-1)
        std::uint32_t k = 1;
        while (u01(rng) > p && k < 50) ++k;
        return k;
    };
    struct Live {
        std::uint64_t ref;
        std::uint32_t price;
        std::uint32_t shares;
        char side;
    };
    struct Sym {
        std::string name;
        std::uint32_t base;  // price ticks of 100 (1 cent at 4 decimals)
        std::uint32_t mid;
        std::vector<Live> live;
    };
    const std::uint32_t n = cfg.symbols;
    if (n == 0 || n > 65000) throw std::invalid_argument("symbols must be in [1, 65000]");
    std::vector<Sym> syms(n);
    std::vector<double> cdf(n);
    double total = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::string name;
        for (std::uint32_t v = i, k = 0; k < 4 || v > 0; ++k, v /= 26)
            name.insert(name.begin(), static_cast<char>('A' + v % 26));
        syms[i].name = name.substr(0, 8);
        const double dollars = std::exp(std::log(5.0) + u01(rng) * (std::log(500.0) - std::log(5.0)));
        syms[i].base = syms[i].mid = static_cast<std::uint32_t>(dollars * 100) * 100;
        total += 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
        cdf[i] = total;
    }
    constexpr std::uint64_t kOpen = 34'200'000'000'000ull, kClose = 57'600'000'000'000ull;
    std::uint64_t ts = 14'400'000'000'000ull;  // 04:00
    w.system_event(ts, 'O');
    w.system_event(ts + 1000, 'S');
    for (std::uint32_t i = 0; i < n; ++i) w.directory(static_cast<std::uint16_t>(i + 1), ts + 2000 + i, syms[i].name);
    for (std::uint32_t i = 0; i < n; ++i)
        w.trading_action(static_cast<std::uint16_t>(i + 1), ts + 100'000 + i, syms[i].name, 'T');
    w.system_event(kOpen - 1, 'Q');
    const double step = static_cast<double>(kClose - kOpen) / static_cast<double>(cfg.order_messages + 1);
    std::uint64_t next_ref = 1, match = 1;
    static const char* kMpids[] = {"GSCO", "MSCO", "UBSS", "JPMS"};
    for (std::uint64_t m = 0; m < cfg.order_messages; ++m) {
        ts = kOpen + static_cast<std::uint64_t>(static_cast<double>(m) * step);
        const auto idx =
            static_cast<std::uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u01(rng) * total) - cdf.begin());
        Sym& s = syms[idx < n ? idx : n - 1];
        const auto loc = static_cast<std::uint16_t>(&s - syms.data() + 1);
        if (u01(rng) < 0.01) {  // the mid drifts a tick, pulled back towards its base
            const bool up = u01(rng) < (s.mid < s.base ? 0.6 : 0.4);
            if (up)
                s.mid += 100;
            else if (s.mid > 300)
                s.mid -= 100;
            // The market moved through the orders now on the wrong side of the
            // mid: they trade. Bids stay below the mid and offers above it, so
            // the book never crosses.
            for (std::size_t i = 0; i < s.live.size();) {
                const Live& o = s.live[i];
                if ((o.side == 'S' && o.price <= s.mid) || (o.side == 'B' && o.price >= s.mid)) {
                    w.execute(loc, ts, o.ref, o.shares, match++);
                    s.live[i] = s.live.back();
                    s.live.pop_back();
                } else {
                    ++i;
                }
            }
        }
        const double r = u01(rng) * 100.0;
        auto pick = [&](bool recent) -> std::size_t {
            const std::size_t k = s.live.size();
            if (recent && k > 5) return k - 1 - static_cast<std::size_t>(rng() % std::max<std::size_t>(1, k / 5));
            return static_cast<std::size_t>(rng() % k);
        };
        auto drop = [&](std::size_t i) {
            s.live[i] = s.live.back();
            s.live.pop_back();
        };
        auto new_price = [&](char side) {
            const std::uint32_t away = geometric(0.35) * 100;
            return side == 'B' ? (s.mid > away + 100 ? s.mid - away : 100) : s.mid + away;
        };
        if (s.live.empty() || r < 45.0) {
            const char side = u01(rng) < 0.5 ? 'B' : 'S';
            const std::uint32_t price = new_price(side);
            const std::uint32_t shares =
                100 * geometric(0.5) + (u01(rng) < 0.1 ? static_cast<std::uint32_t>(rng() % 100) : 0);
            const std::uint64_t ref = next_ref++;
            w.add(loc, ts, ref, side, shares, s.name, price, u01(rng) < 0.02 ? kMpids[rng() % 4] : nullptr);
            s.live.push_back({ref, price, shares, side});
        } else if (r < 85.0) {
            const std::size_t i = pick(u01(rng) < 0.7);
            w.remove(loc, ts, s.live[i].ref);
            drop(i);
        } else if (r < 93.0) {
            const std::size_t i = pick(false);
            Live& o = s.live[i];
            const std::uint64_t ref = next_ref++;
            const std::uint32_t price = new_price(o.side);
            const std::uint32_t shares = 100 * geometric(0.5);
            w.replace(loc, ts, o.ref, ref, shares, price);
            o = Live{ref, price, shares, o.side};
        } else if (r >= 98.3) {  // a non-displayed trade near the mid
            w.trade(loc, ts, u01(rng) < 0.5 ? 'B' : 'S', 100 * geometric(0.6), s.name, s.mid, match++);
        } else if (r < 96.5) {
            const std::size_t i = pick(false);
            Live& o = s.live[i];
            const std::uint32_t shares = u01(rng) < 0.5 ? o.shares : std::max<std::uint32_t>(1, o.shares / 2);
            w.execute(loc, ts, o.ref, shares, match++);
            o.shares -= shares;
            if (o.shares == 0) drop(i);
        } else if (r < 98.0) {
            const std::size_t i = pick(false);
            Live& o = s.live[i];
            if (o.shares > 1) {
                const std::uint32_t shares = 1 + static_cast<std::uint32_t>(rng() % (o.shares - 1));
                w.cancel(loc, ts, o.ref, shares);
                o.shares -= shares;
            } else {
                w.remove(loc, ts, o.ref);
                drop(i);
            }
        } else {  // [98.0, 98.3): execution at a printed price
            const std::size_t i = pick(false);
            Live& o = s.live[i];
            const std::uint32_t shares = std::max<std::uint32_t>(1, o.shares / 3);
            w.execute_at(loc, ts, o.ref, shares, match++, o.price);
            o.shares -= shares;
            if (o.shares == 0) drop(i);
        }
    }
    w.system_event(kClose, 'M');
    w.system_event(kClose + 1000, 'E');
    w.system_event(kClose + 2000, 'C');
    return w.messages();
}

}  // namespace nexus::feed

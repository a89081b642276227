// nexus/timing/stats.hpp — samples, percentiles and the result lines the
// benchmarks and nexus-loadgen write (bench/report.py reads them).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace nexus::timing {

// Per-operation costs in TSC ticks (a batch's ticks divided by its size).
class Samples {
public:
    void reserve(std::size_t n) { v_.reserve(n); }
    void add(double ticks_per_op) {
        v_.push_back(ticks_per_op);
        sorted_ = false;
    }
    void append(const Samples& o) {
        v_.insert(v_.end(), o.v_.begin(), o.v_.end());
        sorted_ = false;
    }
    [[nodiscard]] std::size_t size() const { return v_.size(); }
    [[nodiscard]] bool empty() const { return v_.empty(); }

    // q in [0, 1]; nearest-rank on a sorted copy.
    [[nodiscard]] double quantile(double q) {
        sort();
        if (v_.empty()) return 0;
        const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v_.size())));
        return v_[std::min(v_.size() - 1, i == 0 ? 0 : i - 1)];
    }
    [[nodiscard]] double max() {
        sort();
        return v_.empty() ? 0 : v_.back();
    }
    [[nodiscard]] double mean() const {
        double s = 0;
        for (double x : v_) s += x;
        return v_.empty() ? 0 : s / static_cast<double>(v_.size());
    }

private:
    void sort() {
        if (!sorted_) std::sort(v_.begin(), v_.end());
        sorted_ = true;
    }
    std::vector<double> v_;
    bool sorted_ = false;
};

// One line of results: tab-separated, read by bench/report.py.
//   R <group> <scenario> <size> <impl> <round> <n> <p50> <p90> <p99> <p99.9> <max>
// Quantile curves for the plots:
//   Q <group> <scenario> <size> <impl> <q> <ticks>
class Report {
public:
    explicit Report(std::FILE* out) : out_(out) {}

    void row(const std::string& group, const std::string& scenario, std::size_t size, const std::string& impl,
             int round, Samples& s) {
        std::fprintf(out_, "R\t%s\t%s\t%zu\t%s\t%d\t%zu\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", group.c_str(),
                     scenario.c_str(), size, impl.c_str(), round, s.size(), s.quantile(0.5), s.quantile(0.9),
                     s.quantile(0.99), s.quantile(0.999), s.max());
    }
    void curve(const std::string& group, const std::string& scenario, std::size_t size, const std::string& impl,
               Samples& s) {
        static const double qs[] = {0.001, 0.01, 0.05, 0.1,  0.2,  0.3,  0.4,   0.5,   0.6,    0.7,   0.8,
                                    0.85,  0.9,  0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999};
        for (double q : qs)
            std::fprintf(out_, "Q\t%s\t%s\t%zu\t%s\t%.4f\t%.2f\n", group.c_str(), scenario.c_str(), size, impl.c_str(),
                         q, s.quantile(q));
    }
    void info(const std::string& key, const std::string& value) {
        std::fprintf(out_, "I\t%s\t%s\n", key.c_str(), value.c_str());
    }
    void flush() { std::fflush(out_); }

private:
    std::FILE* out_;
};

}  // namespace nexus::timing

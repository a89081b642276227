// libFuzzer target: arbitrary bytes as a LOBSTER message file and orderbook
// file (split at the first NUL byte), read and verified. Must never crash,
// and a failed read must say which file, line and column.
#include <nexus/feed/lobster_verifier.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const auto cut = all.find('\0');
    const std::string_view messages = all.substr(0, cut);
    const std::string_view books = cut == std::string_view::npos ? std::string_view() : all.substr(cut + 1);
    // Levels given (1-3) or read from the first row (0).
    const std::size_t levels = size % 4;
    nexus::feed::lobster::MessageReader mr("messages", messages);
    nexus::feed::lobster::OrderbookReader br("orderbook", books, levels);
    const auto r = nexus::feed::lobster::verify(mr, br);
    if (!r.ok && r.error.rfind("messages:", 0) != 0 && r.error.rfind("orderbook:", 0) != 0) std::abort();
    if (r.stats.true_mismatches > r.stats.rows) std::abort();
    return 0;
}

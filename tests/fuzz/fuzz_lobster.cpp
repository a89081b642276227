// libFuzzer target: arbitrary bytes as a LOBSTER message file and orderbook
// file (split at the first NUL byte), parsed and verified. Must never crash.
#include <nexus/feed/lobster.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string all(reinterpret_cast<const char*>(data), size);
    const auto cut = all.find('\0');
    std::istringstream msgs(all.substr(0, cut)), book(cut == std::string::npos ? std::string() : all.substr(cut + 1));
    const std::size_t levels = size % 3 + 1;
    nexus::feed::lobster::MessageReader mr("messages", msgs);
    nexus::feed::lobster::OrderbookReader br("orderbook", book, levels);
    (void)nexus::feed::lobster::verify(mr, "messages", br, "orderbook", levels);
    return 0;
}

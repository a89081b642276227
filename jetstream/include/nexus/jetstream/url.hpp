// nexus/jetstream/url.hpp — where a feed lives: nats://HOST[:PORT]/STREAM[/SUBJECT].
//
// HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT defaults
// to 4222. STREAM is a JetStream stream name (letters, digits, '-', '_');
// SUBJECT, when given, is a NATS subject (dot-separated tokens, no spaces).
#pragma once

#include <string>
#include <string_view>

namespace nexus::jetstream {

struct FeedUrl {
    std::string server;  // "nats://host:port"
    std::string stream;
    std::string subject;  // "" when not given
};

inline bool is_nats_url(std::string_view s) noexcept { return s.starts_with("nats://"); }

// Throws Error(Invalid) saying which part is wrong.
FeedUrl parse_feed_url(const std::string& url);

// A stream name JetStream takes; a subject (`wildcards`: '*' and '>' tokens allowed).
bool valid_stream_name(std::string_view s) noexcept;
bool valid_subject(std::string_view s, bool wildcards) noexcept;

}  // namespace nexus::jetstream

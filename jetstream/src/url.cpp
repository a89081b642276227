// nats://HOST[:PORT]/STREAM[/SUBJECT] (see url.hpp).
#include "nexus/jetstream/url.hpp"

#include "nexus/jetstream/error.hpp"

namespace nexus::jetstream {

bool valid_stream_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > 255) return false;
    for (char c : s) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

bool valid_subject(std::string_view s, bool wildcards) noexcept {
    if (s.empty()) return false;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = s.find('.', start);
        const std::string_view token =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (token.empty()) return false;
        for (char c : token)
            if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f) return false;
        const bool wild = token == "*" || token == ">";
        if (wild && !wildcards) return false;
        if (!wild && (token.find('*') != std::string_view::npos || token.find('>') != std::string_view::npos))
            return false;
        if (token == ">" && dot != std::string_view::npos) return false;  // '>' only at the end
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

FeedUrl parse_feed_url(const std::string& url) {
    auto bad = [&](const std::string& why) {
        return Error(ErrorKind::Invalid, "'" + url + "': " + why + " (expected nats://HOST[:PORT]/STREAM[/SUBJECT])");
    };
    if (!is_nats_url(url)) throw bad("not a nats:// URL");
    const std::string rest = url.substr(7);
    const std::size_t slash = rest.find('/');
    if (slash == std::string::npos) throw bad("no stream");
    const std::string authority = rest.substr(0, slash);
    std::string host, port;
    if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
        const std::size_t close = authority.find(']');
        if (close == std::string::npos) throw bad("unclosed '[' in the host");
        host = authority.substr(0, close + 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') throw bad("unexpected text after the host");
            port = authority.substr(close + 2);
        }
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
        if (host.find('@') != std::string::npos) throw bad("credentials in the URL are not supported");
    }
    if (host.empty()) throw bad("no host");
    if (authority.find(':') != std::string::npos && authority.back() == ':') throw bad("empty port");
    if (port.empty()) {
        port = "4222";
    } else {
        unsigned long v = 0;
        for (char c : port) {
            if (c < '0' || c > '9') throw bad("port '" + port + "' is not a number");
            v = v * 10 + static_cast<unsigned long>(c - '0');
            if (v > 65535) throw bad("port '" + port + "' is out of range");
        }
        if (v == 0) throw bad("port 0");
    }
    FeedUrl out;
    out.server = "nats://" + host + ":" + port;
    const std::string path = rest.substr(slash + 1);
    const std::size_t slash2 = path.find('/');
    out.stream = path.substr(0, slash2);
    if (slash2 != std::string::npos) {
        out.subject = path.substr(slash2 + 1);
        if (out.subject.empty()) throw bad("empty subject after '/'");
    }
    if (out.stream.empty()) throw bad("no stream");
    if (!valid_stream_name(out.stream))
        throw bad("stream name '" + out.stream + "' is not valid (letters, digits, '-', '_')");
    if (!out.subject.empty() && !valid_subject(out.subject, true))
        throw bad("subject '" + out.subject + "' is not valid");
    return out;
}

}  // namespace nexus::jetstream

// JetStream streams (see stream.hpp).
#include "nexus/jetstream/stream.hpp"

#include <algorithm>
#include <memory>

#include "nats_util.hpp"
#include "nexus/jetstream/url.hpp"

namespace nexus::jetstream {
namespace {

using InfoPtr = std::unique_ptr<jsStreamInfo, decltype(&jsStreamInfo_Destroy)>;

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return "[" + s + "]";
}

const char* to_string(Storage s) noexcept { return s == Storage::File ? "file" : "memory"; }

StreamInfo describe(const jsStreamInfo& si) {
    StreamInfo out;
    if (si.Config != nullptr) {
        out.name = si.Config->Name != nullptr ? si.Config->Name : "";
        for (int i = 0; i < si.Config->SubjectsLen; ++i) out.subjects.emplace_back(si.Config->Subjects[i]);
        out.storage = si.Config->Storage == js_MemoryStorage ? Storage::Memory : Storage::File;
        out.replicas = static_cast<int>(si.Config->Replicas);
    }
    out.messages = si.State.Msgs;
    out.bytes = si.State.Bytes;
    out.first_sequence = si.State.Msgs == 0 ? 0 : si.State.FirstSeq;
    out.last_sequence = si.State.LastSeq;
    out.consumers = static_cast<std::uint64_t>(si.State.Consumers);
    return out;
}

}  // namespace

StreamInfo stream_info(Connection& c, const std::string& name) {
    if (!valid_stream_name(name))
        throw Error(ErrorKind::Invalid, "stream name '" + name + "' is not valid (letters, digits, '-', '_')");
    jsStreamInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetStreamInfo(&raw, c.impl().js, name.c_str(), nullptr, &code);
    InfoPtr si(raw, &jsStreamInfo_Destroy);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr)
        throw Error(ErrorKind::NotFound, "no stream '" + name + "' on " + c.servers(), JSStreamNotFoundErr);
    if (s != NATS_OK) detail::fail(s, code, "get the state of stream '" + name + "'", c.servers());
    return describe(*si);
}

StreamInfo ensure_stream(Connection& c, const StreamConfig& config) {
    if (!valid_stream_name(config.name))
        throw Error(ErrorKind::Invalid, "stream name '" + config.name + "' is not valid (letters, digits, '-', '_')");
    if (config.subjects.empty()) throw Error(ErrorKind::Invalid, "stream '" + config.name + "': no subject given");
    for (const auto& s : config.subjects)
        if (!valid_subject(s, true))
            throw Error(ErrorKind::Invalid, "stream '" + config.name + "': '" + s + "' is not a valid subject");
    if (config.replicas < 1 || config.replicas > 5)
        throw Error(ErrorKind::Invalid,
                    "stream '" + config.name + "': replicas must be 1 to 5, not " + std::to_string(config.replicas));

    std::vector<const char*> subjects;
    for (const auto& s : config.subjects) subjects.push_back(s.c_str());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = config.name.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Storage = config.storage == Storage::File ? js_FileStorage : js_MemoryStorage;
    cfg.Replicas = config.replicas;
    cfg.Duplicates = static_cast<std::int64_t>(config.duplicate_window.count()) * 1'000'000'000;
    jsStreamInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(&raw, c.impl().js, &cfg, nullptr, &code);
    InfoPtr si(raw, &jsStreamInfo_Destroy);
    if (s == NATS_OK) return describe(*si);
    if (code != JSStreamNameExistErr) detail::fail(s, code, "create stream '" + config.name + "'", c.servers());

    // It exists with another configuration: good enough if it takes every
    // subject asked for, with the storage asked for.
    StreamInfo have = stream_info(c, config.name);
    std::vector<std::string> missing;
    for (const auto& want : config.subjects)
        if (std::find(have.subjects.begin(), have.subjects.end(), want) == have.subjects.end()) missing.push_back(want);
    if (!missing.empty() || have.storage != config.storage) {
        throw Error(ErrorKind::Conflict,
                    "stream '" + config.name + "' on " + c.servers() + " exists with subjects " + join(have.subjects) +
                        " and " + to_string(have.storage) + " storage; wanted subjects " + join(config.subjects) +
                        " and " + to_string(config.storage) + " storage (it is left as it is)",
                    JSStreamNameExistErr);
    }
    return have;
}

bool delete_stream(Connection& c, const std::string& name) {
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_DeleteStream(c.impl().js, name.c_str(), nullptr, &code);
    if (s == NATS_OK) return true;
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return false;
    detail::fail(s, code, "delete stream '" + name + "'", c.servers());
}

}  // namespace nexus::jetstream

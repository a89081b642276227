// Reading a stream in order with a pull consumer (see consumer.hpp).
#include "nexus/jetstream/consumer.hpp"

#include <algorithm>
#include <thread>

#include "nats_util.hpp"
#include "nexus/jetstream/stream.hpp"

namespace nexus::jetstream {

// ---- Message ----------------------------------------------------------------

Message& Message::operator=(Message&& o) noexcept {
    if (this != &o) {
        natsMsg_Destroy(static_cast<natsMsg*>(native_));
        native_ = std::exchange(o.native_, nullptr);
        sequence_ = o.sequence_;
    }
    return *this;
}

Message::~Message() { natsMsg_Destroy(static_cast<natsMsg*>(native_)); }

std::string_view Message::subject() const noexcept {
    const char* s = native_ != nullptr ? natsMsg_GetSubject(static_cast<natsMsg*>(native_)) : nullptr;
    return s != nullptr ? std::string_view(s) : std::string_view();
}

std::span<const std::uint8_t> Message::data() const noexcept {
    if (native_ == nullptr) return {};
    auto* m = static_cast<natsMsg*>(native_);
    return {reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
            static_cast<std::size_t>(natsMsg_GetDataLength(m))};
}

std::optional<std::string_view> Message::header(const char* key) const {
    const char* v = nullptr;
    if (native_ == nullptr || natsMsgHeader_Get(static_cast<natsMsg*>(native_), key, &v) != NATS_OK || v == nullptr)
        return std::nullopt;
    return std::string_view(v);
}

// ---- PullConsumer -------------------------------------------------------------

// Failed fetches or consumer creations in a row on a live connection before
// the failure is thrown.
constexpr int kMaxFailures = 10;

struct PullConsumer::Impl {
    Connection& conn;
    ConsumerOptions options;
    std::string filter;  // the subject the consumer is made with
    natsSubscription* sub = nullptr;
    std::uint64_t last_seq = 0;
    int failures = 0;             // fetch errors in a row on a live connection
    std::uint64_t epoch = 0;      // the connection's reconnects() when the consumer was made
    std::uint64_t delivered = 0;  // the consumer's own sequence of the last delivery received
    bool stale = false;           // deliveries were missed: make the consumer again

    Impl(Connection& c, ConsumerOptions o) : conn(c), options(std::move(o)) {}

    std::string where() const {
        return "stream '" + options.stream + "'" + (filter.empty() ? "" : " subject " + filter);
    }

    // A consumer that starts after the last message handed out.
    void subscribe() {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = options.stream.c_str();
        so.ManualAck = true;
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = last_seq + 1;
        so.Config.AckPolicy = js_AckExplicit;
        // Left behind by a reader that died, the server removes it after this.
        so.Config.InactiveThreshold = std::int64_t{60} * 1'000'000'000;
        jsErrCode code = static_cast<jsErrCode>(0);
        epoch = conn.reconnects();
        delivered = 0;
        stale = false;
        const natsStatus s = js_PullSubscribe(&sub, conn.impl().js, filter.c_str(), nullptr, nullptr, &so, &code);
        if (s != NATS_OK) {
            sub = nullptr;
            detail::fail(s, code, "read " + where() + " from sequence " + std::to_string(last_seq + 1), conn.servers());
        }
    }

    void unsubscribe() noexcept {
        if (sub == nullptr) return;
        // Removing the consumer is a request to the server: not worth
        // waiting for without one (it goes by itself after InactiveThreshold).
        if (conn.state() == ConnectionState::Connected) natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
        sub = nullptr;
    }
};

PullConsumer::PullConsumer(Connection& c, ConsumerOptions options)
    : impl_(std::make_unique<Impl>(c, std::move(options))) {
    Impl& m = *impl_;
    if (m.options.start_sequence == 0) m.options.start_sequence = 1;
    if (m.options.batch < 1) m.options.batch = 1;
    m.last_seq = m.options.start_sequence - 1;
    const StreamInfo info = stream_info(c, m.options.stream);  // Error(NotFound) names it
    m.filter = m.options.subject;
    if (m.filter.empty()) {
        if (info.subjects.size() != 1) {
            std::string list;
            for (const auto& s : info.subjects) list += (list.empty() ? "" : ", ") + s;
            throw Error(ErrorKind::Invalid, "stream '" + m.options.stream + "' on " + c.servers() + " has subjects [" +
                                                list + "]: name the one to read");
        }
        m.filter = info.subjects.front();
    }
    try {
        m.subscribe();
    } catch (const Error& e) {
        // The server went away while answering: fetch() makes it again.
        if (e.kind() != ErrorKind::Timeout && e.kind() != ErrorKind::Disconnected) throw;
    }
}

PullConsumer::~PullConsumer() { impl_->unsubscribe(); }

std::uint64_t PullConsumer::last_sequence() const noexcept { return impl_->last_seq; }

std::vector<Message> PullConsumer::fetch() {
    Impl& m = *impl_;
    std::vector<Message> out;
    // After a reconnection the consumer on the server may have handed out
    // messages we never received (they would come again only after its ack
    // wait, out of order): it is dropped and made again after the last
    // message we have, so that delivery stays in sequence.
    if (m.sub != nullptr && (m.stale || m.epoch != m.conn.reconnects()) && m.conn.state() == ConnectionState::Connected)
        m.unsubscribe();
    if (m.sub == nullptr) {
        // Made again after a failure (a server that restarted and lost the
        // consumer may take a moment to serve its streams again).
        try {
            m.subscribe();
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::Invalid) throw;
            // While reconnecting, the caller decides how long to wait.
            if (m.conn.state() == ConnectionState::Connected && ++m.failures > kMaxFailures) throw;
            std::this_thread::sleep_for(m.options.fetch_wait);
            return out;
        }
    }
    natsMsgList list{nullptr, 0};
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = natsSubscription_Fetch(&list, m.sub, m.options.batch, detail::ms(m.options.fetch_wait), &code);
    if (s == NATS_OK) {
        m.failures = 0;
        out.reserve(static_cast<std::size_t>(list.Count));
        for (int i = 0; i < list.Count; ++i) {
            natsMsg* msg = list.Msgs[i];
            jsMsgMetaData* meta = nullptr;
            if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;  // not a stream message (a status): dropped
            const std::uint64_t seq = meta->Sequence.Stream;
            const std::uint64_t delivery = meta->Sequence.Consumer;
            jsMsgMetaData_Destroy(meta);
            if (delivery != m.delivered + 1) {
                // A delivery we never received (sent into an outage): what
                // follows is out of order. The consumer is made again, after
                // the last message handed out, by the next call.
                natsMsgList_Destroy(&list);
                m.stale = true;
                return out;
            }
            m.delivered = delivery;
            natsMsg_Ack(msg, nullptr);        // a redelivery is acknowledged too, so it stops
            if (seq <= m.last_seq) continue;  // delivered again: already handed out
            m.last_seq = seq;
            list.Msgs[i] = nullptr;  // ours now
            out.emplace_back(msg, seq);
        }
        natsMsgList_Destroy(&list);
        return out;
    }
    natsMsgList_Destroy(&list);
    if (s == NATS_TIMEOUT) return out;
    const ConnectionState st = m.conn.state();
    if (st == ConnectionState::Closed)
        throw Error(ErrorKind::Disconnected, "read " + m.where() + " after sequence " + std::to_string(m.last_seq) +
                                                 ": the connection to " + m.conn.servers() + " is closed (" +
                                                 detail::status_text(s) + ")");
    if (st == ConnectionState::Reconnecting) {
        // The client is reconnecting: the caller watches how long for.
        std::this_thread::sleep_for(
            std::min<std::chrono::milliseconds>(m.options.fetch_wait, std::chrono::milliseconds(100)));
        return out;
    }
    // Connected, yet the fetch failed: a server that restarted has lost the
    // consumer. It is made again, from where we are, by the next call.
    if (++m.failures > kMaxFailures)
        detail::fail(s, code, "read " + m.where() + " after sequence " + std::to_string(m.last_seq), m.conn.servers());
    m.unsubscribe();
    return out;
}

}  // namespace nexus::jetstream

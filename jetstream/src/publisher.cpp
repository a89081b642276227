// Acknowledged publishing to JetStream (see publisher.hpp).
#include "nexus/jetstream/publisher.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "nats_util.hpp"

namespace nexus::jetstream {

// What the acknowledgement callback (on a client thread) and the publishing
// thread share. It is freed only once nothing is in flight, so a late
// callback never touches freed memory (see ~Publisher).
struct Publisher::Impl {
    Connection& conn;
    PublisherOptions options;
    jsCtx* js = nullptr;  // its own: the asynchronous window is per context
    std::mutex mutex;
    std::condition_variable cv;
    std::uint64_t in_flight = 0;
    std::uint64_t acked = 0;
    std::uint64_t last_seq = 0;
    std::optional<Error> failure;  // the first asynchronous publish that failed

    Impl(Connection& c, PublisherOptions o) : conn(c), options(std::move(o)) {}
};

namespace {

std::string describe_msg(natsMsg* msg) {
    std::string s = std::string("subject ") + (natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "?");
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr)
        s += std::string(" (message id ") + id + ")";
    return s;
}

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto& m = *static_cast<Publisher::Impl*>(closure);
    {
        const std::lock_guard lock(m.mutex);
        --m.in_flight;
        if (pa != nullptr) {
            ++m.acked;
            m.last_seq = std::max(m.last_seq, pa->Sequence);
            if (!m.options.expect_stream.empty() && pa->Stream != nullptr && m.options.expect_stream != pa->Stream &&
                !m.failure) {
                m.failure.emplace(ErrorKind::Refused, "publish to " + describe_msg(msg) + " on " + m.conn.servers() +
                                                          ": stored by stream '" + pa->Stream + "', not '" +
                                                          m.options.expect_stream + "'");
            }
        } else if (pae != nullptr && !m.failure) {
            std::string why = pae->ErrText != nullptr && *pae->ErrText != '\0'
                                  ? std::string(pae->ErrText)
                                  : std::string(natsStatus_GetText(pae->Err));
            if (pae->Err == NATS_TIMEOUT)
                why =
                    "no acknowledgement within " + std::to_string(m.options.ack_timeout.count()) + " ms (" + why + ")";
            m.failure.emplace(detail::kind_of(pae->Err, pae->ErrCode),
                              "publish to " + describe_msg(msg) + " on " + m.conn.servers() + " failed: " + why,
                              static_cast<int>(pae->ErrCode));
        }
    }
    m.cv.notify_all();
    natsMsg_Destroy(msg);
}

// A message with its headers; the caller owns it.
natsMsg* make_msg(Connection& c, const std::string& subject, std::span<const std::uint8_t> data,
                  const Headers& headers) {
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, reinterpret_cast<const char*>(data.data()),
                                  static_cast<int>(data.size()));
    if (s != NATS_OK) detail::fail(s, 0, "make a message for subject " + subject, c.servers());
    for (const auto& [k, v] : headers) {
        s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
        if (s != NATS_OK) {
            natsMsg_Destroy(msg);
            detail::fail(s, 0, "set header " + k + " of a message for subject " + subject, c.servers());
        }
    }
    return msg;
}

void init_pub_options(jsPubOptions& po, const PublisherOptions& o, const std::string& msg_id) {
    jsPubOptions_Init(&po);
    po.MaxWait = detail::ms(o.ack_timeout);
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    if (!o.expect_stream.empty()) po.ExpectStream = o.expect_stream.c_str();
}

void check_size(Connection& c, const std::string& subject, std::span<const std::uint8_t> data) {
    if (static_cast<std::int64_t>(data.size()) > c.max_payload())
        throw Error(ErrorKind::Invalid,
                    "publish to subject " + subject + " on " + c.servers() + ": " + std::to_string(data.size()) +
                        " bytes is over the server's maximum payload of " + std::to_string(c.max_payload()));
}

}  // namespace

Publisher::Publisher(Connection& c, PublisherOptions options) : impl_(std::make_unique<Impl>(c, std::move(options))) {
    Impl& m = *impl_;
    if (m.options.window == 0) m.options.window = 1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = detail::ms(m.options.ack_timeout);
    // The client's own limit is a backstop above ours (publish_async blocks first).
    jo.PublishAsync.MaxPending = static_cast<std::int64_t>(m.options.window) + 1;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = &m;
    const natsStatus s = natsConnection_JetStream(&m.js, c.impl().nc, &jo);
    if (s != NATS_OK) detail::fail(s, 0, "open a JetStream context for publishing", c.servers());
}

Publisher::~Publisher() {
    Impl& m = *impl_;
    bool idle;
    {
        // The client times every pending publish out after ack_timeout:
        // wait for that, so that no callback outlives the state it uses.
        std::unique_lock lock(m.mutex);
        idle = m.cv.wait_for(lock, m.options.ack_timeout + std::chrono::seconds(2), [&] { return m.in_flight == 0; });
    }
    jsCtx_Destroy(m.js);
    // A callback may still come: keep its state rather than free it under it.
    if (!idle) static_cast<void>(impl_.release());
}

PubAck Publisher::publish(const std::string& subject, std::span<const std::uint8_t> data, const Headers& headers,
                          const std::string& msg_id) {
    Impl& m = *impl_;
    check_size(m.conn, subject, data);
    natsMsg* msg = make_msg(m.conn, subject, data, headers);
    jsPubOptions po;
    init_pub_options(po, m.options, msg_id);
    jsPubAck* pa = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_PublishMsg(&pa, m.js, msg, &po, &code);
    natsMsg_Destroy(msg);
    if (s != NATS_OK) {
        const std::string what =
            "publish to subject " + subject + (msg_id.empty() ? "" : " (message id " + msg_id + ")");
        if (s == NATS_TIMEOUT)
            detail::fail(s, code,
                         what + ": no acknowledgement within " + std::to_string(m.options.ack_timeout.count()) + " ms",
                         m.conn.servers());
        detail::fail(s, code, what, m.conn.servers());
    }
    PubAck out{pa->Stream != nullptr ? pa->Stream : "", pa->Sequence, pa->Duplicate};
    jsPubAck_Destroy(pa);
    const std::lock_guard lock(m.mutex);
    m.last_seq = std::max(m.last_seq, out.sequence);
    return out;
}

void Publisher::publish_async(const std::string& subject, std::span<const std::uint8_t> data, const Headers& headers,
                              const std::string& msg_id) {
    Impl& m = *impl_;
    check_size(m.conn, subject, data);
    {
        std::unique_lock lock(m.mutex);
        // The window: wait for an acknowledgement while it is full. Each
        // pending publish is timed out by the client, so this ends.
        while (!m.failure && m.in_flight >= m.options.window) {
            const std::uint64_t before = m.acked;
            if (!m.cv.wait_for(lock, m.options.ack_timeout + std::chrono::seconds(1),
                               [&] { return m.failure || m.in_flight < m.options.window || m.acked != before; })) {
                throw Error(ErrorKind::Timeout, "publish to subject " + subject + " on " + m.conn.servers() + ": " +
                                                    std::to_string(m.in_flight) + " publishes unacknowledged for " +
                                                    std::to_string(m.options.ack_timeout.count()) + " ms");
            }
        }
        if (m.failure) throw *m.failure;
        ++m.in_flight;
    }
    natsMsg* msg = nullptr;
    try {
        msg = make_msg(m.conn, subject, data, headers);
    } catch (...) {
        const std::lock_guard lock(m.mutex);
        --m.in_flight;
        throw;
    }
    jsPubOptions po;
    init_pub_options(po, m.options, msg_id);
    const natsStatus s = js_PublishMsgAsync(m.js, &msg, &po);
    if (s != NATS_OK) {
        natsMsg_Destroy(msg);  // still ours when the call failed
        {
            const std::lock_guard lock(m.mutex);
            --m.in_flight;
        }
        detail::fail(s, 0, "publish to subject " + subject, m.conn.servers());
    }
}

void Publisher::flush() {
    Impl& m = *impl_;
    std::unique_lock lock(m.mutex);
    while (!m.failure && m.in_flight > 0) {
        const std::uint64_t before = m.acked;
        if (!m.cv.wait_for(lock, m.options.ack_timeout + std::chrono::seconds(1),
                           [&] { return m.failure || m.in_flight == 0 || m.acked != before; })) {
            throw Error(ErrorKind::Timeout, "flush publishes on " + m.conn.servers() + ": " +
                                                std::to_string(m.in_flight) + " unacknowledged for " +
                                                std::to_string(m.options.ack_timeout.count()) + " ms");
        }
    }
    if (m.failure) throw *m.failure;
}

std::uint64_t Publisher::acknowledged() const noexcept {
    const std::lock_guard lock(impl_->mutex);
    return impl_->acked;
}
std::uint64_t Publisher::in_flight() const noexcept {
    const std::lock_guard lock(impl_->mutex);
    return impl_->in_flight;
}
std::uint64_t Publisher::last_sequence() const noexcept {
    const std::lock_guard lock(impl_->mutex);
    return impl_->last_seq;
}

}  // namespace nexus::jetstream

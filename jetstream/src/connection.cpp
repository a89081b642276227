// A NATS connection with JetStream (see connection.hpp).
#include <chrono>
#include <thread>
#include <vector>

#include "nats_util.hpp"

namespace nexus::jetstream {

const char* to_string(ConnectionEvent e) noexcept {
    switch (e) {
        case ConnectionEvent::Disconnected: return "disconnected";
        case ConnectionEvent::Reconnected: return "reconnected";
        case ConnectionEvent::Closed: return "closed";
    }
    return "?";
}

namespace {

std::string url_of(natsConnection* nc) {
    char buf[256] = {};
    if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return {};
    return buf;
}

void notify(Connection::Impl& impl, natsConnection* nc, ConnectionEvent e) {
    if (e != ConnectionEvent::Closed && impl.closing.load()) return;
    if (impl.on_event) impl.on_event(e, url_of(nc));
}

void on_disconnected(natsConnection* nc, void* closure) {
    notify(*static_cast<Connection::Impl*>(closure), nc, ConnectionEvent::Disconnected);
}
void on_reconnected(natsConnection* nc, void* closure) {
    static_cast<Connection::Impl*>(closure)->reconnects.fetch_add(1);
    notify(*static_cast<Connection::Impl*>(closure), nc, ConnectionEvent::Reconnected);
}
void on_closed(natsConnection* nc, void* closure) {
    auto& impl = *static_cast<Connection::Impl*>(closure);
    notify(impl, nc, ConnectionEvent::Closed);
    const std::lock_guard lock(impl.mutex);
    impl.closed = true;
    impl.closed_cv.notify_all();
}

void check(natsStatus s, const char* what, const std::string& servers) {
    if (s != NATS_OK) detail::fail(s, 0, what, servers);
}

}  // namespace

Connection::Connection(ConnectOptions options, std::function<void(ConnectionEvent, const std::string&)> on_event)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.options = std::move(options);
    m.on_event = std::move(on_event);
    if (m.options.servers.empty()) throw Error(ErrorKind::Invalid, "connect to NATS: no server given");
    for (const auto& s : m.options.servers) m.servers += (m.servers.empty() ? "" : ",") + s;

    std::vector<const char*> urls;
    for (const auto& s : m.options.servers) urls.push_back(s.c_str());
    const ConnectOptions& o = m.options;
    check(natsOptions_Create(&m.opts), "create connection options", m.servers);
    // From here the destructor must run on failure: a constructor that throws
    // does not, so the handles are released by hand.
    try {
        check(natsOptions_SetServers(m.opts, urls.data(), static_cast<int>(urls.size())), "set the servers", m.servers);
        check(natsOptions_SetName(m.opts, o.name.c_str()), "set the connection name", m.servers);
        check(natsOptions_SetTimeout(m.opts, detail::ms(o.connect_timeout)), "set the connect timeout", m.servers);
        check(natsOptions_SetAllowReconnect(m.opts, true), "allow reconnection", m.servers);
        check(natsOptions_SetMaxReconnect(m.opts, o.max_reconnects), "set the reconnection limit", m.servers);
        check(natsOptions_SetReconnectWait(m.opts, detail::ms(o.reconnect_wait)), "set the reconnection wait",
              m.servers);
        check(natsOptions_SetPingInterval(m.opts, detail::ms(o.ping_interval)), "set the ping interval", m.servers);
        check(natsOptions_SetMaxPingsOut(m.opts, o.max_pings_out), "set the pings limit", m.servers);
        check(natsOptions_SetDisconnectedCB(m.opts, on_disconnected, &m), "set a callback", m.servers);
        check(natsOptions_SetReconnectedCB(m.opts, on_reconnected, &m), "set a callback", m.servers);
        check(natsOptions_SetClosedCB(m.opts, on_closed, &m), "set a callback", m.servers);
        const natsStatus s = natsConnection_Connect(&m.nc, m.opts);
        if (s != NATS_OK) {
            throw Error(ErrorKind::Connect, "cannot connect to " + m.servers + " (waited " +
                                                std::to_string(o.connect_timeout.count()) +
                                                " ms per server): " + detail::status_text(s));
        }
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = detail::ms(o.request_timeout);
        check(natsConnection_JetStream(&m.js, m.nc, &jo), "open a JetStream context", m.servers);
    } catch (...) {
        if (m.nc != nullptr) {
            m.closing.store(true);
            natsConnection_Close(m.nc);
            std::unique_lock lock(m.mutex);
            m.closed_cv.wait_for(lock, std::chrono::seconds(5), [&] { return m.closed; });
            lock.unlock();
            natsConnection_Destroy(m.nc);
        }
        natsOptions_Destroy(m.opts);
        throw;
    }
}

Connection::~Connection() {
    Impl& m = *impl_;
    m.closing.store(true);
    jsCtx_Destroy(m.js);
    natsConnection_Close(m.nc);
    {
        std::unique_lock lock(m.mutex);
        m.closed_cv.wait_for(lock, std::chrono::seconds(5), [&] { return m.closed; });
    }
    natsConnection_Destroy(m.nc);
    natsOptions_Destroy(m.opts);
}

ConnectionState Connection::state() const noexcept {
    switch (natsConnection_Status(impl_->nc)) {
        case NATS_CONN_STATUS_CONNECTED:
        case NATS_CONN_STATUS_DRAINING_SUBS:
        case NATS_CONN_STATUS_DRAINING_PUBS: return ConnectionState::Connected;
        case NATS_CONN_STATUS_CLOSED: return ConnectionState::Closed;
        default: return ConnectionState::Reconnecting;
    }
}

const std::string& Connection::servers() const noexcept { return impl_->servers; }
std::string Connection::connected_url() const { return url_of(impl_->nc); }
const ConnectOptions& Connection::options() const noexcept { return impl_->options; }
std::uint64_t Connection::reconnects() const noexcept { return impl_->reconnects.load(); }
std::int64_t Connection::max_payload() const noexcept { return natsConnection_GetMaxPayload(impl_->nc); }

void Connection::wait_for_jetstream(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 500;
    for (;;) {
        jsAccountInfo* ai = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus s = js_GetAccountInfo(&ai, impl_->js, &jo, &code);
        jsAccountInfo_Destroy(ai);
        if (s == NATS_OK) return;
        if (code == JSNotEnabledErr || std::chrono::steady_clock::now() >= deadline) {
            detail::fail(s, code, "wait " + std::to_string(timeout.count()) + " ms for JetStream", impl_->servers);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace nexus::jetstream

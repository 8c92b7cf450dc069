#pragma once
/// What several `toolhost serve` processes behind one load balancer share (docs/deployment.md):
/// the 2025-era MCP sessions (so that a session survives the loss of the host that opened it)
/// and word of tool list changes (so that a change on one host reaches the others' listeners).
/// A service without a cluster (the default) keeps its sessions in its own memory.
///
/// The service calls these functions on threads of its own (one for session writes and reads,
/// one that listens), never on an I/O thread, so an implementation may block; it must bound each
/// call (a database that does not answer is a failure after a while, not a hang). `toolhost
/// serve` uses the PostgreSQL implementation (serve.database, TOOLHOST_DATABASE_URL); a program
/// that embeds the service may bring its own.

#include <toolhost/serve/export.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::serve {

/// What another host needs to go on with a 2025-era session: what initialize negotiated and what
/// the client asked for since. Calls in flight, requests to the client and the GET stream are not
/// shared: they end with their host (the client sees its stream close, and retries).
struct shared_session {
    std::string id;       ///< "<node_id>.<32 hex digits>"
    std::string client;   ///< who opened it (the transport's client key): nobody else may use it
    std::string version;  ///< the negotiated protocol revision
    boost::json::object client_capabilities;
    int32_t log_threshold = 0;         ///< the lowest toolhost log level sent (logging/setLevel)
    bool client_ready = false;         ///< notifications/initialized arrived
    std::vector<std::string> watched;  ///< resources/subscribe URIs
};

/// A host as the others see it (serve::cluster::heartbeat).
struct node_report {
    std::string node;
    std::string plugin_set;   ///< its plugin_set_digest()
    int64_t seen_ms_ago = 0;  ///< since its last heartbeat
};

class cluster {
public:
    virtual ~cluster() = default;

    /// What the hosts share, for /readyz and `toolhost status`, e.g. "postgresql 127.0.0.1:5432/
    /// toolhost": never a password.
    virtual std::string describe() const = 0;

    /// Saves `s` (replacing what is stored under its id) and marks it used now.
    virtual void save_session(const shared_session& s) = 0;
    /// Marks the session used now (it is not expired while a host uses it).
    virtual void touch_session(std::string_view id) = 0;
    /// The session stored under `id`, if any.
    virtual std::optional<shared_session> load_session(std::string_view id) = 0;
    /// Forgets a session that ended (DELETE, or expired on its host).
    virtual void drop_session(std::string_view id) = 0;
    /// Forgets sessions unused for `idle_ms`; returns how many.
    virtual int64_t expire_sessions(int64_t idle_ms) = 0;

    /// Records that `node` is up and serves `plugin_set`; returns every host seen within the
    /// last `within_ms` (this one included), by node id: what the console lists as the hosts.
    virtual std::vector<node_report> heartbeat(std::string_view node, std::string_view plugin_set,
                                               int64_t within_ms) = 0;

    /// Tells the other hosts that this one's tool list changed; `node` is this host's id.
    virtual void announce_tools_changed(std::string_view node, std::string_view plugin_set) = 0;
    /// Waits up to `wait_ms` for announcements of other hosts, calling `on_change(node,
    /// plugin_set)` for each. Returns false when listening failed (the service logs `why` and
    /// tries again later).
    virtual bool listen(int wait_ms,
                        const std::function<void(std::string_view node, std::string_view plugin_set)>& on_change,
                        std::string& why) = 0;
};

}  // namespace toolhost::serve

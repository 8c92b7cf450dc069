#pragma once
/// The MCP engine for one host (toolhost/serve/mcp.hpp has the overview).

#include <toolhost/host.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/serve/export.hpp>
#include <toolhost/serve/mcp_protocol.hpp>
#include <toolhost/serve/mcp_session.hpp>

#include <boost/json/array.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace toolhost::mcp {

/// How the engine names and serves the tools.
struct server_options {
    /// How an MCP tool name is made from a tool and an operation: "{tool}" and "{operation}" are
    /// replaced. The result must be 1-64 characters of [A-Za-z0-9_-]; longer names are cut and
    /// given a hash suffix so they stay unique.
    std::string tool_name = "{tool}_{operation}";
    /// Tools per tools/list page.
    std::size_t page_size = 100;
    std::string server_name = "toolhost";
    std::string server_title = "toolhost";
    std::string server_version;  ///< empty: the host's version
    /// Sent in the initialize and server/discover results when not empty.
    std::string instructions;
    /// The caching hints of a stateless-era tools/list (and server/discover) result: how long a
    /// client may reuse it (`ttlMs`; 0, as the TypeScript SDK: ask again every time) and whether
    /// shared caches may keep it (`cacheScope`, "private" or "public").
    std::chrono::milliseconds list_ttl{0};
    std::string list_cache_scope = "private";
    /// The key that protects a 2026-07-28 input_required result's requestState (a tool asking
    /// the client), so that a client cannot forge what it answered in earlier rounds. Set the same
    /// secret on every instance behind one load balancer; empty: a random key per process (a
    /// retry must then reach the same process).
    std::string request_state_secret;
    /// How long a tool call waits for the client's answer to a request of its own (sampling,
    /// elicitation) at most; the call's own deadline may end the wait earlier.
    std::chrono::milliseconds client_request_timeout{300000};
    /// The deadline of a tools/call without one of its own; zero: none (the tool's policy
    /// still applies).
    std::chrono::milliseconds call_timeout{0};
    /// Run calls of operations flagged TOOLHOST_OPERATION_NONBLOCKING (of thread-safe tools) on
    /// the thread that handles the message (host::call_inline) instead of the worker pool.
    bool inline_nonblocking = true;
    /// Open subscriptions/listen requests at most, over all transports and clients; beyond,
    /// one is refused (-32603 "Subscription limit reached", as the TypeScript SDK).
    std::size_t max_subscriptions = 1024;
    /// Resources one client may watch at most: the URIs of a 2025 session's resources/subscribe,
    /// or of one subscriptions/listen's resourceSubscriptions (2026-07-28); beyond, the request is
    /// refused (invalid params) and says so.
    std::size_t max_resource_subscriptions = 100;
    /// How deep arrays and objects may nest in a message given as text (session::handle).
    std::size_t json_max_depth = default_json_max_depth;
};

/// The engine for one host; shared by every session and transport. Thread-safe. A call's
/// completion uses the engine: destroy it after host::shutdown() (serve::service does), or once
/// none of the calls its sessions started is still running.
class TOOLHOST_SERVE_API server {
public:
    server(toolhost::host& h, server_options options);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    toolhost::host& host() noexcept { return host_; }
    const server_options& options() const noexcept { return options_; }

    /// A new session with the given id (the HTTP transport makes ids; "" for stdio).
    std::shared_ptr<session> open_session(std::string id);
    /// A session another host opened (serve::cluster), initialized as it left it there.
    std::shared_ptr<session> resume_session(const serve::shared_session& shared);
    /// A session for stateless serving: it accepts every request without initialize, as if
    /// the client had initialized with the latest revision and no capabilities.
    std::shared_ptr<session> stateless_session();

    /// The MCP tool list as tools/list returns it (all pages), for tests and the REST API.
    boost::json::array tools() const;
    /// The tool and operation an MCP tool name stands for, if any.
    std::optional<std::pair<std::string, std::string>> resolve(std::string_view mcp_name) const;
    /// The tools and operations the request `method` with `params` would call or watch (tools/call,
    /// resources/list, /read and /subscribe, prompts/get, completion/complete: one; the readers of
    /// the resources a 2026-07-28 subscriptions/listen names: each once), if any: what a transport
    /// checks the caller's scopes and rates against before the engine runs it.
    std::vector<std::pair<std::string, std::string>> targets_of(std::string_view method,
                                                                const boost::json::object& params) const;
    /// Another host's tool list changed (serve::cluster): notifications/tools/list_changed to
    /// every session and subscription that wants it, so that their clients list again.
    void remote_tools_changed() { broadcast_list_changed("notifications/tools/list_changed"); }
    /// Called (on the thread that noticed) each time this host's tool list changes.
    void on_tools_changed(std::function<void()> fn);
    /// Rebuilds the tool list from the host now and tells sessions if it changed. The server does
    /// this by itself when a tool's state changes; embedders call it after set_policy() and such.
    void refresh();
    /// Problems found building names (collisions, invalid templates), as complete messages.
    std::vector<std::string> naming_problems() const;

    struct catalog;   ///< (internal) the tool list, rebuilt when tools change
    struct listener;  ///< (internal) an open subscriptions/listen

private:
    friend class session;
    void on_host_event(const host_event& e);
    // notifications/resources/updated to the sessions and subscriptions that watch `uri`, when
    // `tool` is the one that serves it (subscriptions.cpp).
    void resource_updated(std::string_view tool, std::string_view uri);
    // A 2025 session starts or stops watching `uri` (resources/subscribe, /unsubscribe, close).
    void watch(const std::string& uri, std::weak_ptr<session> s);
    void unwatch(const std::string& uri, const session* s);
    // notifications/{tools,prompts,resources}/list_changed to every session and subscription
    // that wants it.
    void broadcast_list_changed(std::string_view method);
    // Open subscriptions (subscriptions.cpp): `listen` adds one (false at max_subscriptions);
    // `end_listener` ends one, with the graceful response (the server ends it) or none.
    bool listen(const std::shared_ptr<listener>& l);
    void end_listener(const std::shared_ptr<listener>& l, bool graceful);
    std::shared_ptr<const catalog> current() const;
    // The members every complete result of the stateless era carries, as text (serverInfo is
    // the same for every answer): `,"resultType":"complete","_meta":{...}`.
    const std::string& complete_members() const noexcept { return complete_members_; }

    toolhost::host& host_;
    server_options options_;
    std::array<unsigned char, 32> state_key_{};  // requestState's HMAC key (input_round.hpp)
    std::string complete_members_;
    mutable std::mutex mutex_;
    std::shared_ptr<const catalog> catalog_;
    std::vector<std::weak_ptr<session>> sessions_;
    std::vector<std::shared_ptr<listener>> listeners_;
    // The 2025 sessions that watch each resource URI (resources/subscribe).
    std::map<std::string, std::vector<std::weak_ptr<session>>, std::less<>> watchers_;
    uint64_t subscription_ = 0;
    std::function<void()> on_tools_changed_;  // under mutex_
};

/// The name template applied to one tool and operation (without the uniqueness suffix).
TOOLHOST_SERVE_API std::string apply_name_template(std::string_view tmpl, std::string_view tool,
                                                   std::string_view operation);

}  // namespace toolhost::mcp

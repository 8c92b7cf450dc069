#pragma once
/// The Model Context Protocol (MCP) server engine: JSON-RPC messages in, JSON-RPC messages out,
/// for any transport. The stdio and Streamable HTTP transports (serve.hpp) feed it; an embedder
/// can feed it from its own transport.
///
///     toolhost::mcp::server mcp(host, {});
///     auto session = mcp.open_session("");              // one per client connection
///     session->handle(message_text, my_exchange);        // per incoming message
///
/// Each operation of each ready tool is one MCP tool, named by server_options::tool_name
/// ("{tool}_{operation}" by default). Protocol revisions 2025-11-25, 2025-06-18 and 2025-03-26.

#include <toolhost/host.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::mcp {

/// The revisions this server speaks, newest first.
inline constexpr std::string_view protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
inline constexpr std::string_view latest_protocol_version = protocol_versions[0];
/// Whether `v` is one of protocol_versions.
bool supported_protocol_version(std::string_view v) noexcept;

/// JSON-RPC error codes.
enum error_code : int {
    parse_error = -32700,
    invalid_request = -32600,
    method_not_found = -32601,
    invalid_params = -32602,
    internal_error = -32603,
};

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
    /// Sent in the initialize result when not empty.
    std::string instructions;
    /// How long a tool call waits for the client's answer to a request of its own (sampling,
    /// elicitation) at most; the call's own deadline may end the wait earlier.
    std::chrono::milliseconds client_request_timeout{300000};
    /// The deadline of a tools/call without one of its own; zero: none (the tool's policy
    /// still applies).
    std::chrono::milliseconds call_timeout{0};
    /// Run calls of operations flagged TOOLHOST_OPERATION_NONBLOCKING (of thread-safe tools) on
    /// the thread that handles the message (host::call_inline) instead of the worker pool.
    bool inline_nonblocking = true;
};

/// Where the engine sends what belongs to one incoming message: notifications and requests
/// related to it (progress, log messages, sampling), then the response. The transport decides
/// how (stdio: lines on stdout; HTTP: a JSON body, or an SSE stream once something comes before
/// the response). Implementations are thread-safe: a call's worker thread may send.
class exchange {
public:
    virtual ~exchange() = default;
    /// A notification or a server-to-client request related to the message being handled.
    /// False when it could not be delivered (the client went away).
    virtual bool send(std::string message) = 0;
    /// The response to the message (or nothing, for notifications and client responses: `message`
    /// is empty then). Called exactly once per handle(), last.
    virtual void finish(std::string message) = 0;
};

/// A stream for messages not related to any request (notifications/tools/list_changed): stdout
/// for stdio, the GET SSE stream for HTTP.
class standalone_stream {
public:
    virtual ~standalone_stream() = default;
    virtual bool send(std::string message) = 0;
};

class server;

/// One client's session: the negotiated protocol revision, its capabilities, its log level,
/// its requests in flight and the requests the server has sent it. Thread-safe.
class session : public std::enable_shared_from_this<session> {
public:
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// The session id ("" for a stdio session or a stateless one).
    const std::string& id() const noexcept { return id_; }
    /// Handles one message (a JSON-RPC request, notification or response, as text). Returns at
    /// once; the response comes through `out` (possibly on another thread, after handle()
    /// returned). Messages that are not JSON, not JSON-RPC 2.0 or batches get their error
    /// response through `out` too.
    void handle(std::string_view message, std::shared_ptr<exchange> out);
    void handle(const char* message, std::shared_ptr<exchange> out) { handle(std::string_view(message), std::move(out)); }
    /// The same, for a message already parsed.
    void handle(boost::json::value message, std::shared_ptr<exchange> out);

    /// Whether initialize has completed (the initialize request answered).
    bool initialized() const noexcept;
    /// The negotiated revision; empty before initialize.
    std::string protocol_version() const;
    /// Sets the stream for unrelated notifications (null: none; they are dropped).
    void set_standalone(std::shared_ptr<standalone_stream> s);
    /// Ends the session: cancels its calls in flight and fails the server-to-client requests
    /// it is waiting for. Idempotent.
    void close();
    bool closed() const noexcept;
    /// Calls in flight.
    std::size_t in_flight() const;
    /// The last time a message arrived (for idle expiry by the transport).
    std::chrono::steady_clock::time_point last_activity() const;

    struct state;  ///< (internal)

private:
    friend class server;
    session(server& srv, std::string id, bool stateless);
    void on_notification(std::string_view method, const boost::json::object& params);
    // Finds the method in a table and checks the session state it needs.
    void on_request(std::string_view method, const boost::json::value& id, boost::json::object params,
                    std::shared_ptr<exchange> out);
    // The methods of the table (session_methods.cpp, tools_call.cpp).
    void on_ping(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out);
    void on_initialize(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out);
    void on_tools_list(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out);
    void on_set_level(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out);
    void call_tool(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out);
    void send_standalone(const std::string& message);
    server& server_;
    std::string id_;
    std::unique_ptr<state> st_;
};

/// The engine for one host; shared by every session and transport. Thread-safe.
class server {
public:
    server(toolhost::host& h, server_options options);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    toolhost::host& host() noexcept { return host_; }
    const server_options& options() const noexcept { return options_; }

    /// A new session with the given id (the HTTP transport makes ids; "" for stdio).
    std::shared_ptr<session> open_session(std::string id);
    /// A session for stateless serving: it accepts every request without initialize, as if
    /// the client had initialized with the latest revision and no capabilities.
    std::shared_ptr<session> stateless_session();

    /// The MCP tool list as tools/list returns it (all pages), for tests and the REST API.
    boost::json::array tools() const;
    /// The tool and operation an MCP tool name stands for, if any.
    std::optional<std::pair<std::string, std::string>> resolve(std::string_view mcp_name) const;
    /// Rebuilds the tool list from the host now and tells sessions if it changed. The server does
    /// this by itself when a tool's state changes; embedders call it after set_policy() and such.
    void refresh();
    /// Problems found building names (collisions, invalid templates), as complete messages.
    std::vector<std::string> naming_problems() const;

    struct catalog;  ///< (internal) the tool list, rebuilt when tools change

private:
    friend class session;
    void on_host_event(const host_event& e);
    void broadcast_list_changed();
    std::shared_ptr<const catalog> current() const;

    toolhost::host& host_;
    server_options options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const catalog> catalog_;
    std::vector<std::weak_ptr<session>> sessions_;
    uint64_t subscription_ = 0;
};

/// The name template applied to one tool and operation (without the uniqueness suffix).
std::string apply_name_template(std::string_view tmpl, std::string_view tool, std::string_view operation);

/// The JSON-RPC error response for `id` (null when unknown).
std::string error_response(const boost::json::value& id, int code, std::string_view message,
                           const boost::json::value* data = nullptr);

}  // namespace toolhost::mcp

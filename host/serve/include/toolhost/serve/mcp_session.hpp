#pragma once
/// One MCP client's session (toolhost/serve/mcp.hpp has the overview).

#include <toolhost/serve/cluster.hpp>
#include <toolhost/serve/export.hpp>
#include <toolhost/serve/mcp_protocol.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <toolhost/status.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class cancellation_signal;
}

namespace toolhost::mcp {

class server;
struct request_context;

/// One client's session: the negotiated protocol revision, its capabilities, its log level,
/// its requests in flight and the requests the server has sent it. Thread-safe.
class TOOLHOST_SERVE_API session : public std::enable_shared_from_this<session> {
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
    void handle(const char* message, std::shared_ptr<exchange> out) {
        handle(std::string_view(message), std::move(out));
    }
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
    /// Changes each time what another host needs of the session changes (share()).
    uint64_t revision() const noexcept;
    /// What another host needs to go on with this session (serve::cluster); none before
    /// initialize, for a stateless session and once closed. `client` is left empty.
    std::optional<serve::shared_session> share() const;
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
    // A request of the stateless era: checks its _meta and finds the method in that era's table
    // (stateless.cpp).
    void on_stateless_request(std::string_view method, const boost::json::value& id, boost::json::object params,
                              std::shared_ptr<exchange> out);
    // The methods of the tables (session_methods.cpp, tools_call.cpp, stateless.cpp).
    void on_ping(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                 const request_context& ctx);
    void on_initialize(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                       const request_context& ctx);
    void on_listen(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                   const request_context& ctx);
    // Ends the subscription opened by the request `key` (its serialized id) of this session;
    // false when there is none.
    bool end_listen(const std::string& key, bool graceful);
    // 2025: resources/subscribe and resources/unsubscribe (subscriptions.cpp).
    void on_resources_subscribe(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                                const request_context& ctx);
    void on_resources_unsubscribe(const boost::json::value& id, boost::json::object params,
                                  std::shared_ptr<exchange> out, const request_context& ctx);
    // A call of request `key` (the serialized id) in flight, cancellable by notifications/cancelled
    // and by close(): begin_call registers it, or answers `out` and gives null when that id is in
    // flight already; end_call unregisters it (tools_call.cpp).
    std::shared_ptr<boost::asio::cancellation_signal> begin_call(const std::string& key, const boost::json::value& id,
                                                                 exchange& out);
    void end_call(const std::string& key);
    // Resources, prompts, completion (features.cpp): operations with a role, called like tools.
    using role_answer = std::function<std::string(boost::json::object* result, const tool_error* failed)>;
    // Calls `operation` of `tool` for the request `id` with `params` (its _meta: trace context,
    // progress); `on_result` makes the answer from what the operation returned or the failure.
    void call_role(const std::string& tool, const std::string& operation, boost::json::value arguments,
                   const boost::json::value& id, const boost::json::object& params, std::shared_ptr<exchange> out,
                   role_answer on_result);
    void on_resources_list(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                           const request_context& ctx);
    void on_resource_templates_list(const boost::json::value& id, boost::json::object params,
                                    std::shared_ptr<exchange> out, const request_context& ctx);
    void on_resources_read(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                           const request_context& ctx);
    void on_prompts_list(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                         const request_context& ctx);
    void on_prompts_get(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                        const request_context& ctx);
    void on_complete(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                     const request_context& ctx);
    void on_discover(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                     const request_context& ctx);
    void on_tools_list(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                       const request_context& ctx);
    void on_set_level(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                      const request_context& ctx);
    void call_tool(const boost::json::value& id, boost::json::object params, std::shared_ptr<exchange> out,
                   const request_context& ctx);
    void send_standalone(const std::string& message);
    server& server_;
    std::string id_;
    std::unique_ptr<state> st_;
};

}  // namespace toolhost::mcp

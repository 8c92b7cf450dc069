#pragma once
/// What an MCP transport deals with: the revisions, JSON-RPC errors, and the two interfaces
/// through which the engine answers (exchange, standalone_stream).

#include <toolhost/serve/export.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace toolhost::mcp {

/// The revisions with an `initialize` handshake (the spec's "legacy" era) this server speaks,
/// newest first: what initialize negotiates.
inline constexpr std::string_view protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
inline constexpr std::string_view latest_protocol_version = protocol_versions[0];
/// Whether `v` is one of protocol_versions.
TOOLHOST_SERVE_API bool supported_protocol_version(std::string_view v) noexcept;

/// The stateless revisions (the spec's "modern" era: no handshake, no session; every request
/// names its revision, the client's capabilities and identity in its `_meta`), newest first.
inline constexpr std::string_view stateless_protocol_versions[] = {"2026-07-28"};
/// Whether `v` is one of stateless_protocol_versions.
TOOLHOST_SERVE_API bool stateless_protocol_version(std::string_view v) noexcept;

/// The `_meta` keys of the stateless revisions.
namespace meta_key {
inline constexpr std::string_view protocol_version = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view client_capabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view client_info = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view server_info = "io.modelcontextprotocol/serverInfo";
inline constexpr std::string_view log_level = "io.modelcontextprotocol/logLevel";
inline constexpr std::string_view subscription_id = "io.modelcontextprotocol/subscriptionId";
}  // namespace meta_key

/// Whether a request (its method and params) is one of the stateless era: it carries a revision
/// in `_meta`, or it is `server/discover`, which only that era has. Such a request is answered on
/// its own, whatever session or connection it came on.
TOOLHOST_SERVE_API bool stateless_request(std::string_view method, const boost::json::value* params) noexcept;

/// JSON-RPC error codes.
enum error_code : int {
    parse_error = -32700,
    invalid_request = -32600,
    method_not_found = -32601,
    invalid_params = -32602,
    internal_error = -32603,
    resource_not_found = -32002,  ///< 2025 revisions; 2026-07-28 uses invalid_params
    // Defined by 2026-07-28 (from the range the specification reserves for itself).
    header_mismatch = -32020,
    missing_required_client_capability = -32021,
    unsupported_protocol_version = -32022,
};

/// The JSON-RPC error response for `id` (null when unknown).
TOOLHOST_SERVE_API std::string error_response(const boost::json::value& id, int code, std::string_view message,
                                              const boost::json::value* data = nullptr);

/// What a transport answers when handling a message failed with an exception, which it logs
/// with the detail: a request gets a JSON-RPC internal error (-32603) with its id and no detail;
/// a notification, a response or what is not a message at all gets nothing ("").
TOOLHOST_SERVE_API std::string internal_error_answer(const boost::json::value& message);

/// Where the engine sends what belongs to one incoming message: notifications and requests
/// related to it (progress, log messages, sampling), then the response. The transport decides
/// how (stdio: lines on stdout; HTTP: a JSON body, or an SSE stream once something comes before
/// the response). Implementations are thread-safe: a call's worker thread may send.
class TOOLHOST_SERVE_API exchange {
public:
    virtual ~exchange() = default;
    /// A notification or a server-to-client request related to the message being handled.
    /// False when it could not be delivered (the client went away).
    virtual bool send(std::string message) = 0;
    /// The response to the message (or nothing, for notifications and client responses: `message`
    /// is empty then). Called exactly once per handle(), last.
    virtual void finish(std::string message) = 0;
    /// The response comes when the client no longer wants it (subscriptions/listen): not work in
    /// progress that a transport waits for when it stops, and a stream to keep alive meanwhile.
    /// Called at most once, before anything is sent.
    virtual void long_lived() {}
};

/// A stream for messages not related to any request (notifications/tools/list_changed): stdout
/// for stdio, the GET SSE stream for HTTP.
class TOOLHOST_SERVE_API standalone_stream {
public:
    virtual ~standalone_stream() = default;
    virtual bool send(std::string message) = 0;
};

}  // namespace toolhost::mcp

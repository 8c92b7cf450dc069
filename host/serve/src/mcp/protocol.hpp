#pragma once
// JSON-RPC and MCP pieces shared by the session, its methods and the client peer.

#include <toolhost/serve/mcp_protocol.hpp>
#include <toolhost/toolhost.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::mcp {

struct server_options;

// The MCP log levels, least severe first, and the lowest TOOLHOST_LOG_* level each lets through.
struct mcp_level {
    std::string_view name;
    int32_t threshold;
};
inline constexpr std::array<mcp_level, 8> mcp_levels{{{"debug", TOOLHOST_LOG_TRACE},
                                                      {"info", TOOLHOST_LOG_INFO},
                                                      {"notice", TOOLHOST_LOG_WARNING},
                                                      {"warning", TOOLHOST_LOG_WARNING},
                                                      {"error", TOOLHOST_LOG_ERROR},
                                                      {"critical", TOOLHOST_LOG_ERROR + 1},
                                                      {"alert", TOOLHOST_LOG_ERROR + 1},
                                                      {"emergency", TOOLHOST_LOG_ERROR + 1}}};

/// The MCP log level name of a TOOLHOST_LOG_* level.
std::string_view mcp_level_name(int32_t toolhost_level) noexcept;

/// A whole number as an integer ("50", not Boost.JSON's "5E1" for the double).
boost::json::value number(double d);

/// Whether a revision has structured output: 2025-06-18 or later (titles, outputSchema,
/// structuredContent).
bool structured_output(std::string_view version) noexcept;

/// The server's identity: name, title and version (initialize's serverInfo, and the
/// io.modelcontextprotocol/serverInfo of a stateless-era result).
boost::json::object server_info(const server_options& o);

/// Makes `result` a stateless-era result: its resultType ("complete", or "input_required" for an
/// interim one) and the server's identity in its _meta.
void complete_result(boost::json::object& result, boost::json::object info, std::string_view type = "complete");

/// The same members as text, for a result written by hand: `,"resultType":...,"_meta":{...}`.
std::string complete_result_members(const server_options& o);

/// The offset a "page:N" cursor of a list of `size` items names (0 without a cursor); none when
/// the params' cursor is not one this server gave out. (tools/list, templates, prompts.)
std::optional<std::size_t> page_offset(const boost::json::object& params, std::size_t size);
/// The cursor of the page that starts at `offset`.
std::string page_cursor(std::size_t offset);
/// The answer to a cursor this server did not give out.
std::string bad_cursor(const boost::json::value& id);
/// "Resource not found": -32002 with the URI in 2025, -32602 with it in the stateless era
/// (2026-07-28); `detail` says why (empty: nothing more).
/// The request's "uri" (a string); null once `out` is answered with the invalid-params error
/// that names `method` (resources/read, /subscribe, /unsubscribe).
const boost::json::string* uri_param(const boost::json::value& id, const boost::json::object& params,
                                     std::string_view method, exchange& out);
std::string resource_not_found_error(const boost::json::value& id, std::string_view uri, bool stateless,
                                     const std::string& detail);

/// What the server offers (initialize's and server/discover's "capabilities").
boost::json::object server_capabilities();

/// A JSON-RPC result response.
std::string response(const boost::json::value& id, boost::json::value result);

/// A JSON-RPC notification.
std::string notification(std::string_view method, boost::json::object params);

/// A JSON-RPC id: a string or an integer (MCP forbids null).
bool valid_id(const boost::json::value& id) noexcept;

}  // namespace toolhost::mcp

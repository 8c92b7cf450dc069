#pragma once
/// The Model Context Protocol (MCP) server engine: JSON-RPC messages in, JSON-RPC messages out,
/// for any transport. The stdio and Streamable HTTP transports (stdio_server.hpp,
/// http_server.hpp) feed it; an embedder can feed it from its own transport.
///
///     toolhost::mcp::server mcp(host, {});
///     auto session = mcp.open_session("");              // one per client connection
///     session->handle(message_text, my_exchange);        // per incoming message
///
/// Each operation of each ready tool is one MCP tool, named by server_options::tool_name
/// ("{tool}_{operation}" by default). Protocol revisions 2025-11-25, 2025-06-18 and 2025-03-26.

#include <toolhost/serve/mcp_protocol.hpp>  // revisions, errors, exchange, standalone_stream
#include <toolhost/serve/mcp_server.hpp>    // server, server_options
#include <toolhost/serve/mcp_session.hpp>   // session

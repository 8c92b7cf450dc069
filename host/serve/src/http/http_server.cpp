// The HTTP server of `toolhost serve` (http_server.hpp): MCP Streamable HTTP on /mcp, the REST API on
// /v1/tools, health, readiness and metrics. Boost.Beast parsers and serializers on Asio sockets.
//
// Threads and ownership
// - Every I/O thread runs an io_context of its own, and every connection belongs to one of them
//   (round robin at accept): its socket, timer and all of its state are touched on that thread
//   only (and from the stopping thread once the I/O threads have been joined). No strands: a
//   connection's handlers are serial because its io_context has one thread, and a request
//   costs no strand queue. The first io_context also runs the acceptor and the session sweep.
// - The MCP engine and the host answer on their own threads (workers) through an exchange, a
//   standalone stream or a call completion. Those hold a responder (route.hpp): a weak reference
//   to the connection that posts to its io_context under the "gate" (a shared lock on
//   shared_state::gate_m): stop() closes the gate before the io_context goes away, so nothing
//   is ever posted to a dead one, and nothing that owns a socket is released off the gate after
//   that. What a responder posts runs only if its request is still the one being answered.
// - A connection stays alive through its pending operations (read, write, timer) and, while it
//   waits for an answer from another thread, through a reference to itself (self_hold_) that
//   the answer, a disconnect or stop() releases.
// - stop() waits for "busy" tokens: one per request from the moment it is read until its
//   response is written, one per MCP message handed to the engine until finish(), one per REST
//   call until its completion.
//
// Files: common (names, limits, text helpers), request_fields, response, shared_state,
// server_core (acceptor, threads, metrics, stop), sessions (the MCP sessions), connection (the
// transport), route (the interface between the transport and the routes), routes (the route
// table), mcp_routes and rest_routes (the handlers).
#include <toolhost/serve/http_server.hpp>

#include "server_core.hpp"

namespace toolhost::serve {

using detail::server_core;

struct http_server::impl : server_core {
    using server_core::server_core;
};

http_server::http_server(toolhost::host& h, mcp::server& mcp, serve_settings settings)
    : impl_(std::make_unique<impl>(h, mcp, std::move(settings))) {}

http_server::~http_server() = default;  // ~server_core stops with no grace

boost::system::result<void, std::string> http_server::start(unsigned threads) { return impl_->start(threads); }

uint16_t http_server::port() const noexcept { return impl_->port(); }

void http_server::set_ready(bool ready) noexcept { impl_->set_ready(ready); }
void http_server::set_reload_handler(reload_handler handler) { impl_->reload_ = std::move(handler); }
void http_server::set_cluster(std::shared_ptr<cluster> c) { impl_->set_cluster(std::move(c)); }
void http_server::set_hosts_source(std::function<boost::json::array()> hosts) { impl_->hosts_ = std::move(hosts); }

std::vector<std::string> http_server::reload_credentials() { return impl_->reload_credentials(); }

void http_server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

std::size_t http_server::sessions() const { return impl_->session_count(); }

std::size_t http_server::connections() const noexcept { return impl_->connection_count(); }

}  // namespace toolhost::serve

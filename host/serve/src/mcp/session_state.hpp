#pragma once
// What a session keeps between messages; shared by the session, its methods and its client peers.

#include <toolhost/serve/mcp.hpp>
#include <toolhost/toolhost.h>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <climits>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace toolhost::mcp {

// A request of the server's to the client (sampling, elicitation), waiting for its answer.
struct pending_request {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    boost::json::value answer;  // the response object ("result" or "error")
};

// How one request is answered. A session's requests are answered in its negotiated revision,
// with the capabilities and log level it declared; a stateless-era request (2026-07-28) brings
// all of that in its own `_meta` and leaves the session untouched.
struct request_context {
    std::string version;
    bool stateless = false;
    boost::json::object client_capabilities;  // stateless only (a session keeps its own)
    int32_t log_threshold = INT32_MAX;        // stateless only: from _meta logLevel; none: no log messages
    boost::json::object answers;              // stateless tools/call: the client's answers so far (input_round.hpp)
};

// The options of a call that request `params` asks for: the session, the server's call
// timeout, the caller's trace context and progress notifications to `out` (tools_call.cpp).
call_options options_for(const boost::json::object& params, const std::string& session_id, const server_options& o,
                         const std::shared_ptr<exchange>& out);

struct session::state {
    mutable std::mutex m;
    bool stateless = false;
    bool initialized = false;   // initialize answered
    bool client_ready = false;  // notifications/initialized received
    bool closed = false;
    std::string version;
    boost::json::object client_capabilities;
    std::atomic<int32_t> log_threshold{TOOLHOST_LOG_INFO};
    std::shared_ptr<standalone_stream> standalone;
    // tools/call requests in flight, by the serialized JSON-RPC id, with their cancellation.
    std::unordered_map<std::string, std::shared_ptr<boost::asio::cancellation_signal>> in_flight;
    std::unordered_map<int64_t, std::shared_ptr<pending_request>> pending;
    // Open subscriptions/listen requests, by the serialized JSON-RPC id (subscriptions.cpp).
    std::unordered_map<std::string, std::shared_ptr<server::listener>> listens;
    // The resource URIs this 2025 session subscribed to (resources/subscribe).
    std::set<std::string, std::less<>> watched;
    int64_t next_request_id = 1;
    // Bumped when what another host needs of the session changes (serve::shared_session):
    // initialize, notifications/initialized, logging/setLevel, resources/(un)subscribe.
    std::atomic<uint64_t> revision{0};
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
};

}  // namespace toolhost::mcp

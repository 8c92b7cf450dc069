#pragma once
// A tool asking a 2026-07-28 client for input (multi round-trip requests, MRTR): the revision
// has no requests from server to client. The call ends with an `input_required` result that
// lists what the tool asked; the client answers by retrying the same call with `inputResponses`
// and the `requestState` it got, and the tool runs again from the start, now finding its answers.
//
// A question's key is a digest of its method and params, so the same question gets the same
// key in every run of the tool, whatever else it asked before. What the client answered in
// earlier rounds travels in `requestState`, bound to the tool and its arguments, with an expiry,
// under an HMAC with the server's key (serve.mcp.request_state_secret, so that several instances
// accept each other's state; a random one per process otherwise).

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::mcp {

using state_key = std::array<unsigned char, 32>;

/// The key of requestState's HMAC: from `secret` (any length), or random when it is empty.
state_key make_state_key(std::string_view secret);

/// The key of a question: "ask-" and 16 hex digits of the SHA-256 of its method and params text.
std::string ask_key(std::string_view method, std::string_view params);

/// What one run of a tool asked and was answered (shared by the call and its client peer).
struct input_round {
    std::mutex m;
    boost::json::object answers;                    // by key: this round's inputResponses and earlier rounds'
    boost::json::object requests;                   // by key: {method, params} asked and not answered
    std::optional<std::string> missing_capability;  // asked for what the client did not declare

    // Whether the tool asked the client anything (a request, or one it lacks the capability for).
    bool asked() {
        std::lock_guard lock(m);
        return missing_capability.has_value() || !requests.empty();
    }
};

/// The requestState of a call that asks again: `answers`, bound to the tool and its arguments
/// text, valid for `ttl` from `now`.
std::string encode_request_state(const state_key& key, const boost::json::object& answers, std::string_view tool,
                                 std::string_view arguments, std::chrono::system_clock::time_point now,
                                 std::chrono::seconds ttl = std::chrono::minutes(10));

/// The answers in a requestState, or why it is refused (forged, expired, for another call).
std::optional<boost::json::object> decode_request_state(const state_key& key, std::string_view state,
                                                        std::string_view tool, std::string_view arguments,
                                                        std::chrono::system_clock::time_point now, std::string& why);

}  // namespace toolhost::mcp

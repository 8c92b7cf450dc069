// The optional notification webhook: an HTTP POST of a new ticket to a URL the team watches
// (a chat bridge, a helpdesk, an on-call tool).
//
// Thread safety: immutable after construction; send() may run on many threads at once.
#pragma once

#include <toolhost_plugins/http_client.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace toolhost::plugins::escalation {

struct webhook_settings {
    std::string url;
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds connect_timeout{2000};
    std::string bearer_token;

    /// The "webhook" object of the tool configuration, or nullopt when there is none. The token
    /// comes from "bearer_token", or from the environment variable named by "bearer_token_env".
    /// Throws INVALID_ARGUMENT naming the key (config/webhook/...).
    static std::optional<webhook_settings> from_config(const boost::json::object& config);
};

class notifier {
public:
    explicit notifier(webhook_settings settings);

    /// POSTs {"event":"ticket.created","ticket":{...}} with an Idempotency-Key header that is
    /// the same for every delivery of one ticket, so a receiver can drop repeats. Any failure
    /// (connection, timeout, non-2xx) is thrown as UNAVAILABLE, with the server's Retry-After
    /// handed to the call; a cancelled call stays CANCELLED.
    void send(const boost::json::object& ticket, const sdk::call_context& call) const;

    const std::string& url() const noexcept { return settings_.url; }

private:
    webhook_settings settings_;
    http::client client_;
};

}  // namespace toolhost::plugins::escalation

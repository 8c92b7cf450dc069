#include "notifier.hpp"

#include "ticket.hpp"

#include <toolhost_plugins/args.hpp>

#include <algorithm>

namespace toolhost::plugins::escalation {

namespace json = boost::json;

namespace {

http::client_options client_options_for(const webhook_settings& s) {
    http::client_options o;
    o.request_timeout = s.timeout;
    o.connect_timeout = std::min(s.connect_timeout, s.timeout);
    o.bearer_token = s.bearer_token;
    o.user_agent = "toolhost-escalation/1";
    o.max_body_bytes = 64 * 1024;  // the answer is not used; a large one is a misconfigured URL
    return o;
}

}  // namespace

std::optional<webhook_settings> webhook_settings::from_config(const json::object& config) {
    const args a(config);
    auto hook = a.optional_object("webhook");
    if (!hook) return std::nullopt;
    const args h(*hook);
    webhook_settings s;
    s.url = h.required_string("url");
    http::parse_url(s.url, "config/webhook/url");  // refuse a bad URL at start-up, not at the first ticket
    s.timeout = std::chrono::milliseconds(h.int_or("timeout_ms", 5000, 1, 600000));
    s.connect_timeout = std::chrono::milliseconds(h.int_or("connect_timeout_ms", 2000, 1, 600000));
    s.bearer_token = http::bearer_token(h, "config/webhook");
    return s;
}

notifier::notifier(webhook_settings settings)
    : settings_(std::move(settings)), client_(client_options_for(settings_)) {}

void notifier::send(const json::object& ticket, const sdk::call_context& call) const {
    auto req = http::request::json("POST", settings_.url, notification_payload(ticket));
    req.headers.emplace_back("Idempotency-Key", "ticket-" + std::to_string(ticket.at("id").as_int64()) + "-created");
    try {
        auto res = client_.send(req, &call);
        http::raise_for_status(res, &call);
    } catch (const sdk::error& e) {
        if (e.code() == sdk::status::cancelled) throw;
        // Whatever went wrong, the ticket is stored and a later attempt may deliver it: report
        // it as retryable so the host's retry policy (and the caller) can try again.
        throw sdk::error(sdk::status::unavailable, e.what());
    }
}

}  // namespace toolhost::plugins::escalation

// The route table: every path the HTTP server answers, in one place.
#include "handlers.hpp"
#include "limits/rate_limiter.hpp"

namespace toolhost::serve::detail {
namespace {

constexpr route routes[] = {
    {"/mcp", r_mcp, mcp_route, false, true},
    {"/healthz", r_healthz, healthz_route, true},
    {"/readyz", r_readyz, readyz_route, true},
    {"/metrics", r_metrics, metrics_route},
    {"/v1/tools", r_tools, tools_route},
    {"/v1/tools/*", r_tool, tool_route},
    {"/v1/tools/*/*", r_call, call_route},
    {"/v1/circuit-breakers", r_breakers, breakers_route},
    {"/v1/circuit-breakers/reset", r_breakers, breakers_reset_route},
    {"/v1/tools/*/circuit-breaker/*", r_breakers, breaker_action_route},
    {"/v1/tools/*/lifecycle/restart", r_lifecycle, restart_route},
    {"/v1/admin/reload", r_lifecycle, reload_route},
    {"/", r_admin, console_root_route, false, false, true},
    {"/admin", r_admin, console_page_route, false, false, true},
    {"/v1/admin/status", r_admin, console_status_route, false, false, true},
    {"/v1/resources", r_features, resources_route},
    {"/v1/resources/templates", r_features, resource_templates_route},
    {"/v1/resources/read", r_features, resource_read_route},
    {"/v1/prompts", r_features, prompts_route},
    {"/v1/prompts/*", r_features, prompt_route},
    {"/v1/complete", r_features, complete_route},
    // The metadata names the resource's path after the well-known one (RFC 9728 §3.1).
    {"/.well-known/oauth-protected-resource", r_other, oauth_metadata_route, true},
    {"/.well-known/oauth-protected-resource/*", r_other, oauth_metadata_route, true},
    {"/.well-known/oauth-protected-resource/*/*", r_other, oauth_metadata_route, true},
};

// '*' matches one path segment, possibly empty.
bool matches(std::string_view pattern, std::string_view path) noexcept {
    while (!pattern.empty()) {
        if (pattern.front() == '*') {
            pattern.remove_prefix(1);
            path.remove_prefix(std::min(path.find('/'), path.size()));
        } else if (!path.empty() && path.front() == pattern.front()) {
            pattern.remove_prefix(1);
            path.remove_prefix(1);
        } else {
            return false;
        }
    }
    return path.empty();
}

}  // namespace

bool exchange::calls_checked(const route_services& s) const noexcept {
    return !calls_passed_ && (principal().how == auth::principal::kind::oauth || s.limits.limits_tools());
}

bool exchange::refuse_call(const route_services& s, std::string_view tool, std::string_view operation) {
    if (auto denied = s.auth.authorize(principal(), tool, operation)) {
        // An authenticated client asking for more than it was granted: worth an operator's eye
        // (its requests are bounded by its rate limit, so this cannot flood the log).
        logging::write(logging::level::info, "serve.http", "call refused",
                       {{"client", std::string(client())},
                        {"tool", std::string(tool)},
                        {"operation", std::string(operation)},
                        {"reason", denied->message}});
        set_challenge(std::move(denied->www_authenticate));
        error(static_cast<bhttp::status>(denied->status), denied->message);
        return true;
    }
    if (auto wait = s.limits.call(client(), tool)) {
        if (logging::enabled(logging::level::debug))
            logging::write(logging::level::debug, "serve.http", "call refused",
                           {{"client", std::string(client())},
                            {"tool", std::string(tool)},
                            {"reason", "serve.http.rate_limit.tools"}});
        set_retry_after(*wait);
        error(bhttp::status::too_many_requests, "Too Many Requests: this client's calls of " + std::string(tool) +
                                                    " are limited (serve.http.rate_limit.tools)");
        return true;
    }
    return false;
}

const route* find_route(std::string_view target) noexcept {
    const std::string_view path = target.substr(0, target.find('?'));
    for (const auto& r : routes)
        if (matches(r.pattern, path)) return &r;
    return nullptr;
}

}  // namespace toolhost::serve::detail

// The route table: every path the HTTP server answers, in one place.
#include "handlers.hpp"

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

const route* find_route(std::string_view target) noexcept {
    const std::string_view path = target.substr(0, target.find('?'));
    for (const auto& r : routes)
        if (matches(r.pattern, path)) return &r;
    return nullptr;
}

}  // namespace toolhost::serve::detail

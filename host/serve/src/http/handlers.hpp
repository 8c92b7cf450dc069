#pragma once
// The routes' handlers, listed in the route table (routes.cpp).

#include "route.hpp"

namespace toolhost::serve::detail {

// mcp_routes.cpp: MCP Streamable HTTP.
void mcp_route(const route_services& s, exchange& ex);

// rest_routes.cpp: health, readiness, metrics, the REST API and the circuit breakers.
void healthz_route(const route_services& s, exchange& ex);
void readyz_route(const route_services& s, exchange& ex);
void metrics_route(const route_services& s, exchange& ex);
void tools_route(const route_services& s, exchange& ex);
void tool_route(const route_services& s, exchange& ex);
void call_route(const route_services& s, exchange& ex);
void breakers_route(const route_services& s, exchange& ex);
void breakers_reset_route(const route_services& s, exchange& ex);
void breaker_action_route(const route_services& s, exchange& ex);
void restart_route(const route_services& s, exchange& ex);
void reload_route(const route_services& s, exchange& ex);
// Resources, prompts and completion over REST (feature_routes.cpp).
void resources_route(const route_services& s, exchange& ex);
void resource_templates_route(const route_services& s, exchange& ex);
void resource_read_route(const route_services& s, exchange& ex);
void prompts_route(const route_services& s, exchange& ex);
void prompt_route(const route_services& s, exchange& ex);
void complete_route(const route_services& s, exchange& ex);
// The operator's console (console_routes.cpp): the page at /admin (and / redirects there), what
// it shows at /v1/admin/status.
void console_page_route(const route_services& s, exchange& ex);
void console_root_route(const route_services& s, exchange& ex);
void console_status_route(const route_services& s, exchange& ex);
// The OAuth protected resource metadata (RFC 9728), when serve.http.oauth is set.
void oauth_metadata_route(const route_services& s, exchange& ex);

}  // namespace toolhost::serve::detail

// Requests of the stateless era (2026-07-28, the specification's "modern" revisions): no
// handshake and no session. Each request names its revision, the client's capabilities and
// identity in its own `_meta`; the session it arrived on (a stdio connection, a stateless HTTP
// request) is neither consulted nor changed, so any instance of the server can answer it.
#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/json_text.hpp>

#include <algorithm>
#include <iterator>
#include <optional>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

struct stateless_method {
    std::string_view name;
    void (session::*run)(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                         const request_context& ctx);
};

// Every revision this server answers, the stateless ones first (UnsupportedProtocolVersion's
// "supported", server/discover's "supportedVersions").
json::array supported_versions() {
    json::array all;
    for (auto v : stateless_protocol_versions) all.emplace_back(v);
    for (auto v : protocol_versions) all.emplace_back(v);
    return all;
}

// A request whose _meta is wrong: invalid params, with the key at fault in data.envelope (as the
// TypeScript SDK words it), which the HTTP transport answers with 400.
std::string envelope_error(const json::value& id, std::string_view key, std::string_view problem,
                           const std::string& message) {
    const json::value data = json::object{{"envelope", {{"key", key}, {"problem", problem}}}};
    return error_response(id, invalid_params, message, &data);
}

// The context of a stateless request from its _meta, or the error response that refuses it.
std::optional<std::string> read_meta(const json::value& id, const json::object& params, request_context& ctx) {
    const json::value* given = params.if_contains("_meta");
    const json::object* meta = given != nullptr ? given->if_object() : nullptr;
    const json::value* version = meta != nullptr ? meta->if_contains(meta_key::protocol_version) : nullptr;
    if (version == nullptr || !version->is_string() || !stateless_protocol_version(version->get_string())) {
        const json::value data = json::object{{"supported", supported_versions()},
                                              {"requested", version != nullptr ? *version : json::value(nullptr)}};
        std::string message = "Unsupported protocol version: ";
        message += version == nullptr
                       ? std::string("_meta names none (") + std::string(meta_key::protocol_version) + ")"
                       : toolhost::json_text(*version);
        message +=
            "; this server speaks 2026-07-28 per request, and 2025-11-25, 2025-06-18 and 2025-03-26 after "
            "initialize";
        return error_response(id, unsupported_protocol_version, message, &data);
    }
    const json::value* caps = meta->if_contains(meta_key::client_capabilities);
    if (caps == nullptr || !caps->is_object())
        return envelope_error(id, meta_key::client_capabilities, caps == nullptr ? "missing" : "not an object",
                              "invalid params: _meta needs \"" + std::string(meta_key::client_capabilities) +
                                  "\" (an object, {} for none): every 2026-07-28 request declares them");
    if (const json::value* level = meta->if_contains(meta_key::log_level)) {
        const auto* found = level->is_string()
                                ? std::find_if(mcp_levels.begin(), mcp_levels.end(),
                                               [&](const mcp_level& l) { return l.name == level->get_string(); })
                                : mcp_levels.end();
        if (found == mcp_levels.end())
            return envelope_error(id, meta_key::log_level, "not a log level",
                                  "invalid params: _meta \"" + std::string(meta_key::log_level) +
                                      "\" must be one of debug, info, notice, warning, error, critical, alert, "
                                      "emergency");
        ctx.log_threshold = found->threshold;
    }
    ctx.stateless = true;
    ctx.version = std::string(version->get_string());
    ctx.client_capabilities = caps->get_object();
    return std::nullopt;
}

}  // namespace

void session::on_stateless_request(std::string_view method, const json::value& id, json::object params,
                                   std::shared_ptr<exchange> out) {
    static constexpr stateless_method methods[] = {
        {"server/discover", &session::on_discover},
        {"tools/list", &session::on_tools_list},
        {"tools/call", &session::call_tool},
        {"subscriptions/listen", &session::on_listen},
        {"resources/list", &session::on_resources_list},
        {"resources/templates/list", &session::on_resource_templates_list},
        {"resources/read", &session::on_resources_read},
        {"prompts/list", &session::on_prompts_list},
        {"prompts/get", &session::on_prompts_get},
        {"completion/complete", &session::on_complete},
    };
    request_context ctx;
    if (auto refused = read_meta(id, params, ctx)) return out->finish(std::move(*refused));
    const auto* m = std::find_if(std::begin(methods), std::end(methods),
                                 [&](const stateless_method& e) { return e.name == method; });
    if (m == std::end(methods))
        return out->finish(error_response(
            id, method_not_found, "method not found: " + std::string(method) + " (in revision " + ctx.version + ")"));
    (this->*(m->run))(id, std::move(params), std::move(out), ctx);
}

void session::on_discover(const json::value& id, json::object, std::shared_ptr<exchange> out, const request_context&) {
    const auto& o = server_.options();
    json::object result{{"supportedVersions", supported_versions()}, {"capabilities", server_capabilities()}};
    if (!o.instructions.empty()) result["instructions"] = o.instructions;
    result["ttlMs"] = static_cast<int64_t>(o.list_ttl.count());
    result["cacheScope"] = o.list_cache_scope;
    complete_result(result, server_info(o));
    out->finish(response(id, std::move(result)));
}

}  // namespace toolhost::mcp

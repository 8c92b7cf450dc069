#include "catalog.hpp"
#include <toolhost/version.hpp>
#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/json_text.hpp>

#include <charconv>

// The methods a session answers besides tools/call (tools_call.cpp); session::on_request finds
// them by name in its table.
namespace toolhost::mcp {

namespace json = boost::json;

void session::on_ping(const json::value& id, json::object, std::shared_ptr<exchange> out, const request_context&) {
    out->finish(response(id, json::object{}));
}

void session::on_initialize(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                            const request_context&) {
    const json::value* pv = params.if_contains("protocolVersion");
    if (pv == nullptr || !pv->is_string()) {
        out->finish(
            error_response(id, invalid_params, "invalid params: initialize needs \"protocolVersion\" (a string)"));
        return;
    }
    std::string version = supported_protocol_version(pv->get_string()) ? std::string(pv->get_string())
                                                                       : std::string(latest_protocol_version);
    bool again = false;
    {
        std::lock_guard lock(st_->m);
        again = st_->initialized && !st_->stateless;
        if (!again) {
            st_->version = version;
            if (const auto* c = params.if_contains("capabilities"); c && c->is_object())
                st_->client_capabilities = c->get_object();
            st_->initialized = true;
            st_->revision.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (again) {
        out->finish(error_response(id, invalid_request, "invalid request: the session is already initialized"));
        return;
    }
    const auto& o = server_.options();
    json::object info = server_info(o);
    if (!structured_output(version)) info.erase("title");
    json::object result{
        {"protocolVersion", version}, {"capabilities", server_capabilities()}, {"serverInfo", std::move(info)}};
    if (!o.instructions.empty()) result["instructions"] = o.instructions;
    out->finish(response(id, std::move(result)));
}

void session::on_tools_list(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                            const request_context& ctx) {
    auto cat = server_.current();
    const auto at = page_offset(params, cat->entries.size());
    if (!at) return out->finish(bad_cursor(id));
    const std::size_t offset = *at;
    const std::size_t end = std::min(cat->entries.size(), offset + server_.options().page_size);
    json::array tools;
    tools.reserve(end - offset);
    const bool structured = structured_output(ctx.version);
    for (std::size_t i = offset; i < end; ++i)
        tools.push_back(structured ? cat->entries[i].listing : cat->entries[i].legacy);
    json::object result{{"tools", std::move(tools)}};
    if (end < cat->entries.size()) result["nextCursor"] = page_cursor(end);
    if (ctx.stateless) {
        // How long a client (and, when public, a shared cache) may reuse the list; a change
        // within that time reaches listeners through subscriptions/listen.
        result["ttlMs"] = static_cast<int64_t>(server_.options().list_ttl.count());
        result["cacheScope"] = server_.options().list_cache_scope;
        complete_result(result, server_info(server_.options()));
    }
    out->finish(response(id, std::move(result)));
}

void session::on_set_level(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                           const request_context&) {
    const json::value* level = params.if_contains("level");
    const mcp_level* found = nullptr;
    if (level != nullptr && level->is_string())
        for (const auto& l : mcp_levels)
            if (l.name == level->get_string()) found = &l;
    if (found == nullptr) {
        out->finish(error_response(id, invalid_params,
                                   "invalid params: \"level\" must be one of debug, info, notice, warning, error, "
                                   "critical, alert, emergency"));
        return;
    }
    st_->log_threshold.store(found->threshold, std::memory_order_relaxed);
    st_->revision.fetch_add(1, std::memory_order_relaxed);
    out->finish(response(id, json::object{}));
}

}  // namespace toolhost::mcp

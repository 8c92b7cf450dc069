#include "protocol.hpp"

#include <toolhost/serve/mcp.hpp>

#include <toolhost/json_text.hpp>
#include <toolhost/version.hpp>

#include <algorithm>
#include <charconv>
#include <iterator>

namespace toolhost::mcp {

namespace json = boost::json;

std::optional<std::size_t> page_offset(const json::object& params, std::size_t size) {
    const json::value* c = params.if_contains("cursor");
    if (c == nullptr || c->is_null()) return 0;
    const auto* cs = c->if_string();
    if (cs == nullptr || !std::string_view(*cs).starts_with("page:")) return std::nullopt;
    std::size_t offset = 0;
    auto [end, err] = std::from_chars(cs->data() + 5, cs->data() + cs->size(), offset);
    if (err != std::errc() || end != cs->data() + cs->size() || offset > size) return std::nullopt;
    return offset;
}

std::string page_cursor(std::size_t offset) { return "page:" + std::to_string(offset); }

std::string bad_cursor(const json::value& id) {
    return error_response(id, invalid_params, "invalid params: \"cursor\" is not a cursor this server gave out");
}

const json::string* uri_param(const json::value& id, const json::object& params, std::string_view method,
                              exchange& out) {
    const json::value* uri = params.if_contains("uri");
    if (uri != nullptr && uri->is_string()) return &uri->get_string();
    out.finish(
        error_response(id, invalid_params, "invalid params: " + std::string(method) + " needs \"uri\" (a string)"));
    return nullptr;
}

std::string resource_not_found_error(const json::value& id, std::string_view uri, bool stateless,
                                     const std::string& detail) {
    const json::value data = json::object{{"uri", uri}};
    return error_response(id, stateless ? invalid_params : resource_not_found,
                          "Resource not found: " + std::string(uri) + (detail.empty() ? "" : " (" + detail + ")"),
                          &data);
}

json::object server_capabilities() {
    // Resources, prompts and completions come from plugins (operation roles) and may arrive with
    // the live plugin folder at any time: they are offered always, as lists that may be empty.
    return {{"tools", {{"listChanged", true}}},
            {"resources", {{"subscribe", true}, {"listChanged", true}}},
            {"prompts", {{"listChanged", true}}},
            {"completions", json::object{}},
            {"logging", json::object{}}};
}

std::string_view mcp_level_name(int32_t toolhost_level) noexcept {
    switch (toolhost_level) {
    case TOOLHOST_LOG_TRACE:
    case TOOLHOST_LOG_DEBUG: return "debug";
    case TOOLHOST_LOG_INFO: return "info";
    case TOOLHOST_LOG_WARNING: return "warning";
    default: return "error";
    }
}

json::value number(double d) {
    if (d >= -9.0e15 && d <= 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d)))
        return static_cast<int64_t>(d);
    return d;
}

bool structured_output(std::string_view version) noexcept { return version != "2025-03-26"; }

json::object server_info(const server_options& o) {
    return {{"name", o.server_name},
            {"title", o.server_title},
            {"version", o.server_version.empty() ? std::string(TOOLHOST_VERSION_STRING) : o.server_version}};
}

void complete_result(json::object& result, json::object info, std::string_view type) {
    result["resultType"] = type;
    json::value& meta = result["_meta"];
    if (!meta.is_object()) meta = json::object{};
    meta.get_object()[meta_key::server_info] = std::move(info);
}

std::string complete_result_members(const server_options& o) {
    std::string s = R"(,"resultType":"complete","_meta":{)";
    s += toolhost::json_text(json::value(meta_key::server_info));
    s += ':';
    s += toolhost::json_text(server_info(o));
    s += '}';
    return s;
}

std::string response(const json::value& id, json::value result) {
    json::object o;
    o["jsonrpc"] = "2.0";
    o["id"] = id;
    o["result"] = std::move(result);
    return toolhost::json_text(o);
}

std::string notification(std::string_view method, json::object params) {
    json::object o;
    o["jsonrpc"] = "2.0";
    o["method"] = method;
    o["params"] = std::move(params);
    return toolhost::json_text(o);
}

bool valid_id(const json::value& id) noexcept { return id.is_string() || id.is_int64() || id.is_uint64(); }

bool supported_protocol_version(std::string_view v) noexcept {
    return std::find(std::begin(protocol_versions), std::end(protocol_versions), v) != std::end(protocol_versions);
}

bool stateless_protocol_version(std::string_view v) noexcept {
    return std::find(std::begin(stateless_protocol_versions), std::end(stateless_protocol_versions), v) !=
           std::end(stateless_protocol_versions);
}

bool stateless_request(std::string_view method, const json::value* params) noexcept {
    if (method == "server/discover") return true;
    const json::object* p = params != nullptr ? params->if_object() : nullptr;
    const json::value* meta = p != nullptr ? p->if_contains("_meta") : nullptr;
    return meta != nullptr && meta->is_object() && meta->get_object().contains(meta_key::protocol_version);
}

std::string error_response(const json::value& id, int code, std::string_view message, const json::value* data) {
    json::object err;
    err["code"] = code;
    err["message"] = message;
    if (data != nullptr) err["data"] = *data;
    json::object o;
    o["jsonrpc"] = "2.0";
    o["id"] = id;
    o["error"] = std::move(err);
    return toolhost::json_text(o);
}

std::string internal_error_answer(const json::value& message) {
    const json::object* o = message.if_object();
    const json::value* id = o ? o->if_contains("id") : nullptr;
    if (id == nullptr || !o->contains("method")) return {};
    return error_response(valid_id(*id) ? *id : json::value(nullptr), internal_error,
                          "internal error: the server failed while handling this request (its log has the details)");
}

}  // namespace toolhost::mcp

// Resources, prompts and completions: what plugins serve besides tools, through operations with a
// role (ABI 1.1, toolhost/tool.h). Each request calls the operation through the host's pipeline
// like a tools/call (validation, policies, isolation, cancellation) and checks the shape of what
// it returns before a client sees it.
#include "catalog.hpp"
#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/json_text.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

constexpr std::size_t max_completion_values = 100;  // the specification's limit per response

// The result of a stateless-era request carries the revision's members (and, for a cacheable
// one, the lists and resources/read, the cache hints).
std::string answer(const json::value& id, json::object result, const request_context& ctx, const server_options& o,
                   bool cacheable = false) {
    if (ctx.stateless) {
        if (cacheable) {
            result["ttlMs"] = static_cast<int64_t>(o.list_ttl.count());
            result["cacheScope"] = o.list_cache_scope;
        }
        complete_result(result, server_info(o));
    }
    return response(id, std::move(result));
}

// A failed call as a JSON-RPC error: the caller's mistakes as invalid params, the rest as
// internal errors that say which operation failed and how.
std::string call_error(const json::value& id, const tool_error& e, std::string_view what) {
    const int code = e.code == status_code::invalid_argument ? invalid_params : internal_error;
    std::string message(what);
    message += ": ";
    message += status_name(e.code);
    message += ": ";
    message += e.message;
    return error_response(id, code, message);
}

// A page of a static list (templates, prompts), paged like tools/list.
json::object page_of(const json::array& all, std::size_t offset, std::size_t page_size, std::string_view key) {
    const std::size_t end = std::min(all.size(), offset + page_size);
    json::array items(all.begin() + static_cast<std::ptrdiff_t>(offset),
                      all.begin() + static_cast<std::ptrdiff_t>(end));
    json::object result{{key, std::move(items)}};
    if (end < all.size()) result["nextCursor"] = page_cursor(end);
    return result;
}

// The resources/list cursor: which lister, and that lister's own cursor ("res:<index>:<cursor>").
struct list_position {
    std::size_t lister = 0;
    std::optional<std::string> cursor;
};

std::optional<list_position> read_list_cursor(const json::object& params, std::size_t listers) {
    const json::value* c = params.if_contains("cursor");
    if (c == nullptr || c->is_null()) return list_position{};
    const auto* cs = c->if_string();
    if (cs == nullptr || !std::string_view(*cs).starts_with("res:")) return std::nullopt;
    const std::string_view rest = std::string_view(*cs).substr(4);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    list_position p;
    auto [end, err] = std::from_chars(rest.data(), rest.data() + colon, p.lister);
    if (err != std::errc() || end != rest.data() + colon || p.lister >= listers) return std::nullopt;
    if (colon + 1 < rest.size()) p.cursor = std::string(rest.substr(colon + 1));
    return p;
}

// What is wrong with a result's shape, checked before a client sees it.
std::optional<std::string> check_objects(const json::object& result, std::string_view key,
                                         std::initializer_list<std::string_view> string_members) {
    const json::value* list = result.if_contains(key);
    if (list == nullptr || !list->is_array()) return "its result has no \"" + std::string(key) + "\" array";
    for (const auto& item : list->get_array()) {
        const auto* o = item.if_object();
        if (o == nullptr) return "an item of \"" + std::string(key) + "\" is not an object";
        for (auto m : string_members) {
            const auto* v = o->if_contains(m);
            if (v == nullptr || !v->is_string())
                return "an item of \"" + std::string(key) + "\" has no \"" + std::string(m) + "\" string";
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_messages(const json::object& result) {
    if (auto e = check_objects(result, "messages", {"role"})) return e;
    for (const auto& m : result.at("messages").get_array()) {
        const auto& o = m.get_object();
        const auto& role = o.at("role").get_string();
        if (role != "user" && role != "assistant") return "a message's role is neither \"user\" nor \"assistant\"";
        const auto* content = o.if_contains("content");
        const auto* c = content != nullptr ? content->if_object() : nullptr;
        const auto* type = c != nullptr ? c->if_contains("type") : nullptr;
        if (type == nullptr || !type->is_string()) return "a message has no content block with a \"type\"";
    }
    return std::nullopt;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> server::targets_of(std::string_view method,
                                                                    const json::object& params) const {
    using target = std::pair<std::string, std::string>;
    // (Asked of every checked request on the HTTP path: the others return before taking the catalog.)
    if (method != "tools/call" && method != "resources/read" && method != "resources/subscribe" &&
        method != "subscriptions/listen" && method != "resources/list" && method != "prompts/get" &&
        method != "completion/complete")
        return {};
    auto cat = current();
    auto string_of = [&](std::string_view key) -> std::optional<std::string_view> {
        const json::value* v = params.if_contains(key);
        if (v == nullptr || !v->is_string()) return std::nullopt;
        return std::string_view(v->get_string());
    };
    std::vector<target> all;
    auto add = [&](const std::string& tool, const std::string& operation) {
        if (std::find(all.begin(), all.end(), target{tool, operation}) == all.end()) all.emplace_back(tool, operation);
    };
    if (method == "tools/call") {
        const auto name = string_of("name");
        if (const auto* e = name ? cat->find(*name) : nullptr) add(e->tool, e->operation);
    } else if (method == "resources/read" || method == "resources/subscribe") {  // watching is reading
        const auto uri = string_of("uri");
        if (const auto* r = uri ? cat->reader_of(*uri) : nullptr) add(r->tool, r->operation);
    } else if (method == "subscriptions/listen") {
        // 2026-07-28's way to watch resources: the reader of each URI the filter names.
        const json::value* n = params.if_contains("notifications");
        const json::value* given =
            n != nullptr && n->is_object() ? n->get_object().if_contains("resourceSubscriptions") : nullptr;
        if (const json::array* uris = given != nullptr ? given->if_array() : nullptr)
            for (const auto& u : *uris)
                if (const auto* r = u.is_string() ? cat->reader_of(u.get_string()) : nullptr)
                    add(r->tool, r->operation);
    } else if (method == "resources/list") {
        if (!cat->listers.empty())
            if (const auto at = read_list_cursor(params, cat->listers.size())) {
                const auto& l = cat->listers[at->lister];
                add(l.tool, l.operation);
            }
    } else if (method == "prompts/get") {
        const auto name = string_of("name");
        if (const auto* p = name ? cat->find_prompt(*name) : nullptr) add(p->tool, p->operation);
    } else if (method == "completion/complete") {
        const json::value* ref = params.if_contains("ref");
        if (const auto* r = ref != nullptr ? ref->if_object() : nullptr) {
            std::string owner;
            if (const auto* n = r->if_contains("name"); n != nullptr && n->is_string())
                if (const auto* p = cat->find_prompt(n->get_string())) owner = p->tool;
            if (const auto* u = r->if_contains("uri"); owner.empty() && u != nullptr && u->is_string())
                owner = cat->template_owner(u->get_string());
            if (auto c = cat->completers.find(owner); c != cat->completers.end())
                add(c->second.tool, c->second.operation);
        }
    }
    return all;
}

// (The answers below refer to the server's options, which outlive every session and call.)
void session::call_role(const std::string& tool, const std::string& operation, json::value arguments,
                        const json::value& id, const json::object& params, std::shared_ptr<exchange> out,
                        role_answer on_result) {
    const std::string key = toolhost::json_text(id);
    auto signal = begin_call(key, id, *out);
    if (!signal) return;
    call_options options = options_for(params, id_, server_.options(), out);
    auto self = shared_from_this();
    server_.host().async_call(
        tool, operation, std::move(arguments), std::move(options),
        boost::asio::bind_cancellation_slot(
            signal->slot(), [self, key, id, out, on_result = std::move(on_result)](call_result r) {
                self->end_call(key);
                if (!r && r.error().code == status_code::cancelled)
                    return out->finish({});  // the client stopped waiting
                if (!r) {
                    const tool_error e = r.error();
                    return out->finish(on_result(nullptr, &e));
                }
                boost::system::error_code ec;
                json::value v = json::parse(*r, ec);
                if (ec || !v.is_object()) {
                    const tool_error e = make_tool_error(
                        status_code::internal,
                        ec ? "its result is not valid JSON (" + ec.message() + ")" : "its result is not an object");
                    return out->finish(on_result(nullptr, &e));
                }
                out->finish(on_result(&v.get_object(), nullptr));
            }));
}

void session::on_resources_list(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                                const request_context& ctx) {
    auto cat = server_.current();
    const auto& o = server_.options();
    if (cat->listers.empty()) return out->finish(answer(id, {{"resources", json::array{}}}, ctx, o, true));
    const auto at = read_list_cursor(params, cat->listers.size());
    if (!at) return out->finish(bad_cursor(id));
    const auto& lister = cat->listers[at->lister];
    json::object arguments;
    if (at->cursor) arguments["cursor"] = *at->cursor;
    const std::size_t index = at->lister, count = cat->listers.size();
    const std::string what = "resources/list (" + lister.tool + "." + lister.operation + ")";
    call_role(lister.tool, lister.operation, std::move(arguments), id, params, out,
              [id, ctx, &o, index, count, what](json::object* result, const tool_error* failed) {
                  if (failed) return call_error(id, *failed, what);
                  if (auto e = check_objects(*result, "resources", {"uri", "name"}))
                      return error_response(id, internal_error, what + " returned a malformed result: " + *e);
                  json::object page{{"resources", std::move(result->at("resources"))}};
                  const json::value* next = result->if_contains("nextCursor");
                  if (next != nullptr && next->is_string() && !next->get_string().empty())
                      page["nextCursor"] = "res:" + std::to_string(index) + ":" + std::string(next->get_string());
                  else if (index + 1 < count)
                      page["nextCursor"] = "res:" + std::to_string(index + 1) + ":";
                  return answer(id, std::move(page), ctx, o, true);
              });
}

void session::on_resource_templates_list(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                                         const request_context& ctx) {
    auto cat = server_.current();
    const auto offset = page_offset(params, cat->templates.size());
    if (!offset) return out->finish(bad_cursor(id));
    out->finish(answer(id, page_of(cat->templates, *offset, server_.options().page_size, "resourceTemplates"), ctx,
                       server_.options(), true));
}

void session::on_resources_read(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                                const request_context& ctx) {
    const json::string* uri = uri_param(id, params, "resources/read", *out);
    if (uri == nullptr) return;
    auto cat = server_.current();
    const std::string target(*uri);
    const auto* reader = cat->reader_of(target);
    if (reader == nullptr)
        return out->finish(resource_not_found_error(id, target, ctx.stateless, "no tool serves this URI"));
    const auto& o = server_.options();
    const std::string what = "resources/read (" + reader->tool + "." + reader->operation + ")";
    call_role(reader->tool, reader->operation, json::object{{"uri", target}}, id, params, out,
              [id, ctx, &o, what, target](json::object* result, const tool_error* failed) {
                  if (failed) {
                      if (failed->code == status_code::not_found)
                          return resource_not_found_error(id, target, ctx.stateless, failed->message);
                      return call_error(id, *failed, what);
                  }
                  if (auto e = check_objects(*result, "contents", {"uri"}))
                      return error_response(id, internal_error, what + " returned a malformed result: " + *e);
                  // (A cacheable result in 2026-07-28, like the lists.)
                  return answer(id, json::object{{"contents", std::move(result->at("contents"))}}, ctx, o, true);
              });
}

void session::on_prompts_list(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                              const request_context& ctx) {
    auto cat = server_.current();
    json::array all;
    all.reserve(cat->prompts.size());
    for (const auto& p : cat->prompts) all.push_back(p.listing);
    const auto offset = page_offset(params, all.size());
    if (!offset) return out->finish(bad_cursor(id));
    out->finish(
        answer(id, page_of(all, *offset, server_.options().page_size, "prompts"), ctx, server_.options(), true));
}

void session::on_prompts_get(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                             const request_context& ctx) {
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string())
        return out->finish(error_response(id, invalid_params, "invalid params: prompts/get needs \"name\" (a string)"));
    auto cat = server_.current();
    const auto* prompt = cat->find_prompt(name->get_string());
    if (prompt == nullptr)
        return out->finish(error_response(id, invalid_params, "unknown prompt: " + std::string(name->get_string())));
    json::value arguments = json::object{};
    if (json::value* a = params.if_contains("arguments"); a != nullptr && !a->is_null()) {
        const auto* given = a->if_object();
        if (given == nullptr || !std::all_of(given->begin(), given->end(),
                                             [](const json::key_value_pair& kv) { return kv.value().is_string(); }))
            return out->finish(error_response(
                id, invalid_params, "invalid params: \"arguments\" must be an object of strings (prompt arguments)"));
        arguments = std::move(*a);
    }
    const auto& o = server_.options();
    const std::string what = "prompt " + prompt->name;
    call_role(prompt->tool, prompt->operation, std::move(arguments), id, params, out,
              [id, ctx, &o, what](json::object* result, const tool_error* failed) {
                  if (failed) return call_error(id, *failed, what);
                  if (auto e = check_messages(*result))
                      return error_response(id, internal_error, what + " returned a malformed result: " + *e);
                  json::object r{{"messages", std::move(result->at("messages"))}};
                  if (const auto* d = result->if_contains("description"); d != nullptr && d->is_string())
                      r["description"] = *d;
                  return answer(id, std::move(r), ctx, o);
              });
}

void session::on_complete(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                          const request_context& ctx) {
    const json::value* ref = params.if_contains("ref");
    const json::value* argument = params.if_contains("argument");
    const auto* r = ref != nullptr ? ref->if_object() : nullptr;
    const auto* a = argument != nullptr ? argument->if_object() : nullptr;
    const auto* type = r != nullptr ? r->if_contains("type") : nullptr;
    const auto* arg_name = a != nullptr ? a->if_contains("name") : nullptr;
    const auto* arg_value = a != nullptr ? a->if_contains("value") : nullptr;
    if (type == nullptr || !type->is_string() || arg_name == nullptr || !arg_name->is_string() ||
        arg_value == nullptr || !arg_value->is_string())
        return out->finish(
            error_response(id, invalid_params,
                           "invalid params: completion/complete needs \"ref\" ({\"type\": \"ref/prompt\", \"name\"} or "
                           "{\"type\": \"ref/resource\", \"uri\"}) and \"argument\" ({\"name\", \"value\"}, strings)"));
    auto cat = server_.current();
    const auto& o = server_.options();
    std::string owner;
    if (type->get_string() == "ref/prompt") {
        const auto* n = r->if_contains("name");
        const auto* prompt = n != nullptr && n->is_string() ? cat->find_prompt(n->get_string()) : nullptr;
        if (prompt == nullptr)
            return out->finish(error_response(id, invalid_params,
                                              "invalid params: ref names no prompt of this server (" +
                                                  (n != nullptr ? toolhost::json_text(*n) : std::string("none")) +
                                                  ")"));
        owner = prompt->tool;
    } else if (type->get_string() == "ref/resource") {
        const auto* u = r->if_contains("uri");
        if (u == nullptr || !u->is_string())
            return out->finish(error_response(id, invalid_params, "invalid params: a ref/resource needs \"uri\""));
        owner = cat->template_owner(u->get_string());
        if (owner.empty())
            return out->finish(
                resource_not_found_error(id, u->get_string(), ctx.stateless, "no resource template of this server"));
    } else {
        return out->finish(error_response(
            id, invalid_params,
            "invalid params: ref type must be \"ref/prompt\" or \"ref/resource\", got " + toolhost::json_text(*type)));
    }
    auto completer = cat->completers.find(owner);
    if (completer == cat->completers.end())  // the tool completes nothing: no suggestions
        return out->finish(answer(id, {{"completion", {{"values", json::array{}}, {"hasMore", false}}}}, ctx, o));
    json::object arguments{{"ref", *ref}, {"argument", *argument}};
    if (const auto* c = params.if_contains("context"); c != nullptr && c->is_object()) arguments["context"] = *c;
    const std::string what = "completion/complete (" + completer->second.tool + "." + completer->second.operation + ")";
    call_role(completer->second.tool, completer->second.operation, std::move(arguments), id, params, out,
              [id, ctx, &o, what](json::object* result, const tool_error* failed) {
                  if (failed) return call_error(id, *failed, what);
                  const auto* c = result->if_contains("completion");
                  const auto* completion = c != nullptr ? c->if_object() : nullptr;
                  const auto* values = completion != nullptr ? completion->if_contains("values") : nullptr;
                  if (values == nullptr || !values->is_array() ||
                      !std::all_of(values->get_array().begin(), values->get_array().end(),
                                   [](const json::value& v) { return v.is_string(); }))
                      return error_response(id, internal_error,
                                            what +
                                                " returned a malformed result: no \"completion\" with "
                                                "\"values\" (strings)");
                  json::array kept = values->get_array();
                  const bool cut = kept.size() > max_completion_values;
                  if (cut) kept.resize(max_completion_values);
                  json::object out{{"values", std::move(kept)}};
                  if (const auto* t = completion->if_contains("total"); t != nullptr && t->is_number())
                      out["total"] = *t;
                  const auto* more = completion->if_contains("hasMore");
                  out["hasMore"] = cut || (more != nullptr && more->is_bool() && more->get_bool());
                  return answer(id, {{"completion", std::move(out)}}, ctx, o);
              });
}

}  // namespace toolhost::mcp

#include "catalog.hpp"

#include <toolhost/json_text.hpp>

#include <algorithm>
#include <cstdio>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

constexpr std::size_t max_name_length = 64;

bool name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// FNV-1a, for the suffix that keeps cut names unique.
uint32_t fnv1a(std::string_view s) noexcept {
    uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

// An object schema for inputSchema/outputSchema: MCP wants "type": "object" at the top.
json::object object_schema(const json::value& schema) {
    json::object o = schema.is_object() ? schema.get_object() : json::object{};
    if (!o.contains("type")) o["type"] = "object";
    return o;
}

bool is_object_schema(const json::value& schema) {
    const auto* o = schema.if_object();
    if (o == nullptr) return false;
    const auto* t = o->if_contains("type");
    return t != nullptr && t->is_string() && t->get_string() == "object";
}

}  // namespace

std::string apply_name_template(std::string_view tmpl, std::string_view tool, std::string_view operation) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size();) {
        if (tmpl.substr(i).starts_with("{tool}")) {
            out += tool;
            i += 6;
        } else if (tmpl.substr(i).starts_with("{operation}")) {
            out += operation;
            i += 11;
        } else {
            out += name_char(tmpl[i]) ? tmpl[i] : '_';
            ++i;
        }
    }
    return out;
}

namespace {

// The MCP name of an operation (a tool or a prompt): the template applied, cut to 64 characters
// with a hash suffix that keeps it unique.
std::string mcp_name(const server_options& o, const std::string& tool, const std::string& operation) {
    std::string name = apply_name_template(o.tool_name, tool, operation);
    if (name.empty()) name = tool + "_" + operation;
    if (name.size() > max_name_length) {
        char suffix[10];
        std::snprintf(suffix, sizeof suffix, "_%08x", fnv1a(tool + "." + operation));
        name = name.substr(0, max_name_length - 9) + suffix;
    }
    return name;
}

// The prompts/list entry of a prompt operation: its arguments are the string properties of its
// input schema, "required" as listed there.
json::object prompt_listing(const std::string& name, const tool_descriptor& d, const operation_descriptor& op) {
    json::object listing{{"name", name}};
    if (const auto* title = op.role_spec.if_contains("title"); title != nullptr && title->is_string())
        listing["title"] = *title;
    listing["description"] = op.description.empty() ? d.description : op.description;
    json::array arguments;
    const auto* schema = op.input_schema.source().if_object();
    const auto* props = schema != nullptr ? schema->if_contains("properties") : nullptr;
    const auto* required = schema != nullptr ? schema->if_contains("required") : nullptr;
    if (props != nullptr && props->is_object()) {
        for (const auto& p : props->get_object()) {
            json::object a{{"name", p.key()}};
            if (const auto* ps = p.value().if_object())
                if (const auto* desc = ps->if_contains("description"); desc != nullptr && desc->is_string())
                    a["description"] = *desc;
            const bool needed = required != nullptr && required->is_array() &&
                                std::find(required->get_array().begin(), required->get_array().end(),
                                          json::value(p.key())) != required->get_array().end();
            a["required"] = needed;
            arguments.push_back(std::move(a));
        }
    }
    listing["arguments"] = std::move(arguments);
    return listing;
}

// An operation with a role goes to its list, not to the tools.
void add_role(server::catalog& cat, const server_options& o, const tool_descriptor& d, const operation_descriptor& op) {
    switch (op.role) {
    case operation_role::tool: return;
    case operation_role::resource_list:
        cat.listers.push_back({d.name, op.name});
        cat.resources_fingerprint += "list " + d.name + "." + op.name + "\n";
        return;
    case operation_role::resource_read: {
        server::catalog::reader r{d.name, op.name, {}};
        for (const auto& u : op.role_spec.at("uris").get_array()) r.uris.emplace_back(u.get_string());
        if (const auto* t = op.role_spec.if_contains("templates"))
            for (const auto& tmpl : t->get_array()) {
                cat.templates.push_back(tmpl);
                cat.template_tools.push_back(d.name);
            }
        cat.resources_fingerprint += "read " + d.name + "." + op.name + " " + toolhost::json_text(op.role_spec) + "\n";
        cat.readers.push_back(std::move(r));
        return;
    }
    case operation_role::prompt: {
        const std::string name = mcp_name(o, d.name, op.name);
        if (auto it = cat.prompt_by_name.find(name); it != cat.prompt_by_name.end()) {
            const auto& other = cat.prompts[it->second];
            cat.problems.push_back("MCP prompt name '" + name + "' of " + d.name + "." + op.name + " is taken by " +
                                   other.tool + "." + other.operation + "; change serve.mcp.tool_name");
            return;
        }
        server::catalog::prompt p{name, d.name, op.name, prompt_listing(name, d, op)};
        cat.prompts_fingerprint += toolhost::json_text(p.listing) + "\n";
        cat.prompt_by_name.emplace(name, cat.prompts.size());
        cat.prompts.push_back(std::move(p));
        return;
    }
    case operation_role::completion: cat.completers.emplace(d.name, server::catalog::role_op{d.name, op.name}); return;
    }
}

}  // namespace

const server::catalog::reader* server::catalog::reader_of(std::string_view uri) const {
    const reader* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& r : readers)
        for (const auto& prefix : r.uris)
            if (uri.starts_with(prefix) && (best == nullptr || prefix.size() > best_length)) {
                best = &r;
                best_length = prefix.size();
            }
    return best;
}

std::string server::catalog::template_owner(std::string_view uri_template) const {
    for (std::size_t i = 0; i < templates.size(); ++i) {
        const auto* t = templates[i].get_object().if_contains("uriTemplate");
        if (t != nullptr && t->is_string() && t->get_string() == uri_template) return template_tools[i];
    }
    return {};
}

std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o) {
    auto cat = std::make_shared<server::catalog>();
    for (const auto& st : h.status()) {
        if (!st.enabled || st.state != tool_state::ready) continue;
        auto factory = h.find(st.name);
        if (!factory) continue;
        cat->generations += st.name + ':' + std::to_string(st.generation) + '\n';
        const auto& d = factory->descriptor();
        for (const auto& op : d.operations) {
            if (op.role != operation_role::tool) {
                add_role(*cat, o, d, op);
                continue;
            }
            std::string name = mcp_name(o, d.name, op.name);
            if (auto it = cat->by_name.find(name); it != cat->by_name.end()) {
                const auto& other = cat->entries[it->second];
                cat->problems.push_back("MCP tool name '" + name + "' of " + d.name + "." + op.name + " is taken by " +
                                        other.tool + "." + other.operation +
                                        "; change serve.mcp.tool_name (it must contain {tool} when operations of "
                                        "different tools share a name)");
                continue;
            }
            server::catalog::entry e;
            e.name = name;
            e.tool = d.name;
            e.operation = op.name;
            e.content_result = (op.flags & TOOLHOST_OPERATION_CONTENT_RESULT) != 0;
            if (o.inline_nonblocking && d.thread_safe && (op.flags & TOOLHOST_OPERATION_NONBLOCKING) != 0) {
                if (auto ref = h.resolve(d.name, op.name)) {
                    e.ref = std::move(*ref);
                    e.run_inline = true;
                }
            }
            std::string description = op.description.empty() ? d.description : op.description;
            if (description.empty()) description = d.name + " " + op.name;
            json::object annotations{{"readOnlyHint", op.read_only()},
                                     {"destructiveHint", !op.read_only() && op.destructive()},
                                     {"idempotentHint", op.idempotent()},
                                     {"openWorldHint", (op.flags & TOOLHOST_OPERATION_OPEN_WORLD) != 0}};
            json::object listing{
                {"name", name}, {"description", description}, {"inputSchema", object_schema(op.input_schema.source())}};
            e.legacy = listing;
            e.legacy["annotations"] = annotations;
            listing["title"] = d.name + " " + op.name;
            if (op.output_schema && is_object_schema(op.output_schema->source())) {
                listing["outputSchema"] = op.output_schema->source();
                e.object_output = true;
            }
            listing["annotations"] = std::move(annotations);
            e.listing = std::move(listing);
            cat->fingerprint += toolhost::json_text(e.listing);
            cat->fingerprint += '\n';
            cat->by_name.emplace(e.name, cat->entries.size());
            cat->entries.push_back(std::move(e));
        }
    }
    return cat;
}

}  // namespace toolhost::mcp

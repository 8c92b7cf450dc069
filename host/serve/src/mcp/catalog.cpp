#include "catalog.hpp"

#include <toolhost/json_text.hpp>

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

std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o) {
    auto cat = std::make_shared<server::catalog>();
    for (const auto& st : h.status()) {
        if (!st.enabled || st.state != tool_state::ready) continue;
        auto factory = h.find(st.name);
        if (!factory) continue;
        cat->generations += st.name + ':' + std::to_string(st.generation) + '\n';
        const auto& d = factory->descriptor();
        for (const auto& op : d.operations) {
            std::string name = apply_name_template(o.tool_name, d.name, op.name);
            if (name.empty()) name = d.name + "_" + op.name;
            if (name.size() > max_name_length) {
                char suffix[10];
                std::snprintf(suffix, sizeof suffix, "_%08x", fnv1a(d.name + "." + op.name));
                name = name.substr(0, max_name_length - 9) + suffix;
            }
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

#include <toolhost/tool_descriptor.hpp>

#include "loading/descriptor_wire.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstddef>
#include <set>

namespace toolhost {
namespace {

// The smallest struct sizes a v1.0 plugin may declare: up to and including the last v1.0 field.
constexpr std::size_t min_tool_descriptor_size = offsetof(toolhost_tool_descriptor_t, operations) + sizeof(void*);
constexpr std::size_t min_operation_descriptor_size =
    offsetof(toolhost_operation_descriptor_t, flags) + sizeof(uint64_t);

boost::system::result<json_schema, std::string> schema_from_text(std::string_view text, std::string_view what) {
    auto s = json_schema::compile_text(text);
    if (!s) return std::string(what) + " is not a valid JSON Schema: " + s.error();
    return s;
}

// The operation descriptor up to and including its ABI 1.1 `role`.
constexpr std::size_t role_operation_descriptor_size = offsetof(toolhost_operation_descriptor_t, role) + sizeof(void*);

// Spelled out because tool_descriptor is constructible from a std::string (aggregate
// parenthesized init), which makes result's implicit conversion ambiguous.
boost::system::result<tool_descriptor, std::string> bad(std::string message) {
    return {boost::system::in_place_error, std::move(message)};
}

constexpr std::pair<operation_role, std::string_view> role_names[] = {{operation_role::tool, "tool"},
                                                                      {operation_role::resource_list, "resource_list"},
                                                                      {operation_role::resource_read, "resource_read"},
                                                                      {operation_role::prompt, "prompt"},
                                                                      {operation_role::completion, "completion"}};

// A URI or template is at most this long (they are matched against every resources/read).
constexpr std::size_t max_uri_length = 2048;

// `"key" problem`, built by appending (GCC 12 warns falsely on `"\"" + std::string(key)`).
std::string about(std::string_view key, std::string_view problem) {
    std::string s(1, '"');
    s.append(key).append("\" ").append(problem);
    return s;
}

std::optional<std::string> check_strings(const boost::json::value* v, std::string_view key, bool required) {
    if (v == nullptr) {
        if (required) return about(key, "is required");
        return std::nullopt;
    }
    const auto* a = v->if_array();
    if (a == nullptr || a->empty()) return about(key, "must be a non-empty array of strings");
    for (const auto& item : *a) {
        if (!item.is_string() || item.get_string().empty() || item.get_string().size() > max_uri_length)
            return about(key, "must hold non-empty strings of at most " + std::to_string(max_uri_length) + " bytes");
    }
    return std::nullopt;
}

// What is wrong with an operation's role declaration, if anything.
std::optional<std::string> check_role(const operation_descriptor& op) {
    const auto& spec = op.role_spec;
    auto allowed = [&](std::initializer_list<std::string_view> keys) -> std::optional<std::string> {
        for (const auto& member : spec) {
            if (std::find(keys.begin(), keys.end(), member.key()) == keys.end()) {
                std::string list;
                for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
                return "unknown member " +
                       about(member.key(), "(a " + std::string(role_name(op.role)) + " role has " + list + ")");
            }
        }
        return std::nullopt;
    };
    switch (op.role) {
    case operation_role::tool: return std::nullopt;
    case operation_role::resource_list:
    case operation_role::completion: return allowed({"role"});
    case operation_role::prompt:
        if (auto e = allowed({"role", "title"})) return e;
        if (const auto* t = spec.if_contains("title"); t != nullptr && !t->is_string())
            return std::string("\"title\" must be a string");
        return std::nullopt;
    case operation_role::resource_read: {
        if (auto e = allowed({"role", "uris", "templates"})) return e;
        if (auto e = check_strings(spec.if_contains("uris"), "uris", true)) return e;
        const auto* templates = spec.if_contains("templates");
        if (templates == nullptr) return std::nullopt;
        if (!templates->is_array()) return std::string("\"templates\" must be an array of resource templates");
        const auto& uris = spec.at("uris").get_array();
        for (const auto& t : templates->get_array()) {
            const auto* o = t.if_object();
            const auto* tmpl = o != nullptr ? o->if_contains("uriTemplate") : nullptr;
            const auto* name = o != nullptr ? o->if_contains("name") : nullptr;
            if (tmpl == nullptr || !tmpl->is_string() || name == nullptr || !name->is_string())
                return std::string("each template needs \"uriTemplate\" and \"name\" (strings)");
            const std::string_view text = tmpl->get_string();
            if (text.size() > max_uri_length)
                return "a uriTemplate is longer than " + std::to_string(max_uri_length) + " bytes";
            // Reads of the template's URIs come to this operation: they must be under its "uris".
            const auto fixed = text.substr(0, text.find('{'));
            if (std::none_of(uris.begin(), uris.end(), [&](const boost::json::value& u) {
                    return fixed.starts_with(u.get_string()) || std::string_view(u.get_string()).starts_with(fixed);
                }))
                return "template '" + std::string(text) + "' is not under any of \"uris\"";
        }
        return std::nullopt;
    }
    }
    return std::nullopt;
}

}  // namespace

std::string_view role_name(operation_role r) noexcept {
    for (auto [role, name] : role_names)
        if (role == r) return name;
    return "tool";
}

bool is_valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(name.front())) return false;
    for (char c : name) {
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
    }
    return true;
}

const operation_descriptor* tool_descriptor::find_operation(std::string_view op) const noexcept {
    for (const auto& o : operations)
        if (o.name == op) return &o;
    return nullptr;
}

boost::system::result<void, std::string> tool_descriptor::validate() const {
    if (!is_valid_name(name))
        return "invalid tool name '" + name + "': use 1 to 64 characters of [A-Za-z0-9_-], starting with a letter";
    if (operations.empty()) return "tool '" + name + "' declares no operations";
    std::set<std::string_view> seen;
    for (const auto& op : operations) {
        if (!is_valid_name(op.name))
            return "tool '" + name + "': invalid operation name '" + op.name +
                   "': use 1 to 64 characters of [A-Za-z0-9_-], starting with a letter";
        if (!seen.insert(op.name).second) return "tool '" + name + "': operation '" + op.name + "' is declared twice";
        if (auto e = check_role(op)) return "tool '" + name + "' operation '" + op.name + "': role: " + *e;
    }
    // One operation of each role but prompt: the host would not know which to call.
    for (const auto& entry : role_names) {
        const operation_role role = entry.first;  // clang 14 cannot capture a structured binding
        if (role == operation_role::tool || role == operation_role::prompt) continue;
        const auto n = std::count_if(operations.begin(), operations.end(),
                                     [&](const operation_descriptor& o) { return o.role == role; });
        if (n > 1)
            return "tool '" + name + "': " + std::to_string(n) + " operations have the role " +
                   std::string(entry.second) + " (at most one may)";
    }
    return {};
}

boost::system::result<tool_descriptor, std::string> descriptor_from_abi(const toolhost_tool_descriptor_t* abi,
                                                                        std::string plugin_path) {
    auto raw = detail::read_abi_descriptor(abi);
    if (!raw) return bad(raw.error());
    return detail::descriptor_from_raw(std::move(*raw), std::move(plugin_path));
}

namespace detail {

boost::system::result<raw_tool_descriptor, std::string> read_abi_descriptor(const toolhost_tool_descriptor_t* abi) {
    using raw_result = boost::system::result<raw_tool_descriptor, std::string>;
    auto fail = [](std::string m) { return raw_result(boost::system::in_place_error, std::move(m)); };
    if (abi == nullptr) return fail("the plugin returned no descriptor (NULL)");
    if (abi->struct_size < min_tool_descriptor_size)
        return fail("tool descriptor struct too small (" + std::to_string(abi->struct_size) +
                    " bytes, ABI 1.0 needs at least " + std::to_string(min_tool_descriptor_size) + ")");
    if (abi->name == nullptr) return fail("tool descriptor has no name (NULL)");
    raw_tool_descriptor d;
    d.name = abi->name;
    const auto where = "tool '" + d.name + "'";
    if (abi->version == nullptr) return fail(where + " has no version (NULL)");
    d.version = abi->version;
    d.description = abi->description ? abi->description : "";
    d.thread_safe = abi->flags & TOOLHOST_TOOL_THREAD_SAFE;
    if (abi->config_schema != nullptr) d.config_schema = abi->config_schema;
    if (abi->operation_count > 0 && abi->operations == nullptr)
        return fail(where + ": operation_count is " + std::to_string(abi->operation_count) + " but operations is NULL");
    for (uint32_t i = 0; i < abi->operation_count; ++i) {
        const auto* op = abi->operations[i];
        auto op_where = where + " operation #" + std::to_string(i);
        if (op == nullptr) return fail(op_where + " is NULL");
        if (op->struct_size < min_operation_descriptor_size)
            return fail(op_where + ": operation descriptor struct too small (" + std::to_string(op->struct_size) +
                        " bytes, ABI 1.0 needs at least " + std::to_string(min_operation_descriptor_size) + ")");
        if (op->name == nullptr) return fail(op_where + " has no name (NULL)");
        if (op->input_schema == nullptr)
            return fail(where + " operation '" + op->name + "' has no input_schema (NULL)");
        raw_operation r{
            op->name,         op->description ? op->description : "",
            op->input_schema, op->output_schema ? std::optional<std::string>(op->output_schema) : std::nullopt,
            op->flags,        std::nullopt};
        if (op->struct_size >= role_operation_descriptor_size && op->role != nullptr) r.role = op->role;
        d.operations.push_back(std::move(r));
    }
    return d;
}

boost::system::result<tool_descriptor, std::string> descriptor_from_raw(raw_tool_descriptor raw,
                                                                        std::string plugin_path) {
    tool_descriptor d;
    d.name = std::move(raw.name);
    const auto where = "tool '" + d.name + "'";
    d.version = std::move(raw.version);
    d.description = std::move(raw.description);
    d.thread_safe = raw.thread_safe;
    d.plugin = std::move(plugin_path);
    if (raw.config_schema) {
        auto s = schema_from_text(*raw.config_schema, where + ": config_schema");
        if (!s) return bad(s.error());
        d.config_schema = std::move(*s);
    }
    for (auto& op : raw.operations) {
        const auto op_where = where + " operation '" + op.name + "'";
        auto in = schema_from_text(op.input_schema, op_where + ": input_schema");
        if (!in) return bad(in.error());
        std::optional<json_schema> out_schema;
        if (op.output_schema) {
            auto out = schema_from_text(*op.output_schema, op_where + ": output_schema");
            if (!out) return bad(out.error());
            out_schema = std::move(*out);
        }
        operation_descriptor parsed{std::move(op.name),
                                    std::move(op.description),
                                    std::move(*in),
                                    std::move(out_schema),
                                    op.flags,
                                    operation_role::tool,
                                    {}};
        if (op.role) {
            boost::system::error_code ec;
            auto role = boost::json::parse(*op.role, ec);
            const auto* spec = ec ? nullptr : role.if_object();
            const auto* kind = spec != nullptr ? spec->if_contains("role") : nullptr;
            if (kind == nullptr || !kind->is_string())
                return bad(op_where +
                           ": role must be a JSON object with a \"role\" (resource_list, resource_read, "
                           "prompt or completion), got " +
                           (ec ? "text that is not JSON (" + ec.message() + ")" : std::string("something else")));
            const auto* known = std::find_if(std::begin(role_names), std::end(role_names),
                                             [&](const auto& r) { return r.second == kind->get_string(); });
            if (known == std::end(role_names) || known->first == operation_role::tool)
                return bad(op_where + ": unknown role '" + std::string(kind->get_string()) +
                           "' (known: resource_list, resource_read, prompt, completion)");
            parsed.role = known->first;
            parsed.role_spec = std::move(role.get_object());
        }
        d.operations.push_back(std::move(parsed));
    }
    if (auto v = d.validate(); !v) return bad(v.error());
    return d;
}

}  // namespace detail

boost::json::object to_json(const tool_descriptor& d) {
    boost::json::object o;
    o["name"] = d.name;
    o["version"] = d.version;
    o["description"] = d.description;
    o["plugin"] = d.plugin;
    o["thread_safe"] = d.thread_safe;
    if (d.config_schema) o["config_schema"] = d.config_schema->source();
    boost::json::array ops;
    for (const auto& op : d.operations) {
        boost::json::object jo;
        jo["name"] = op.name;
        jo["description"] = op.description;
        jo["input_schema"] = op.input_schema.source();
        if (op.output_schema) jo["output_schema"] = op.output_schema->source();
        jo["idempotent"] = op.idempotent();
        jo["read_only"] = op.read_only();
        jo["destructive"] = op.destructive();
        jo["cancellable"] = op.cancellable();
        if (op.role != operation_role::tool) jo["role"] = op.role_spec;
        ops.push_back(std::move(jo));
    }
    o["operations"] = std::move(ops);
    return o;
}

}  // namespace toolhost

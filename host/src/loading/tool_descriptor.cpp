#include <toolhost/tool_descriptor.hpp>

#include "loading/descriptor_wire.hpp"

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

// Spelled out because tool_descriptor is constructible from a std::string (aggregate
// parenthesized init), which makes result's implicit conversion ambiguous.
boost::system::result<tool_descriptor, std::string> bad(std::string message) {
    return {boost::system::in_place_error, std::move(message)};
}

}  // namespace

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
        d.operations.push_back({op->name, op->description ? op->description : "", op->input_schema,
                                op->output_schema ? std::optional<std::string>(op->output_schema) : std::nullopt,
                                op->flags});
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
        d.operations.push_back(operation_descriptor{std::move(op.name), std::move(op.description), std::move(*in),
                                                    std::move(out_schema), op.flags});
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
        ops.push_back(std::move(jo));
    }
    o["operations"] = std::move(ops);
    return o;
}

}  // namespace toolhost

#include "loading/descriptor_wire.hpp"

#include <cstddef>

namespace toolhost::detail {

namespace json = boost::json;

namespace {

using raw_result = boost::system::result<raw_tool_descriptor, std::string>;

raw_result fail(std::string message) { return raw_result(boost::system::in_place_error, std::move(message)); }

// Reads member `key` of `o` as a string into `out`; an error names the member.
bool read_string(const json::object& o, std::string_view key, std::string& out, std::string& error) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) {
        error = std::string(1, '"').append(key).append("\" is missing or not a string");
        return false;
    }
    out.assign(v->get_string().data(), v->get_string().size());
    return true;
}

bool read_optional_string(const json::object& o, std::string_view key, std::optional<std::string>& out,
                          std::string& error) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return true;
    if (!v->is_string()) {
        error = std::string(1, '"').append(key).append("\" is not a string");
        return false;
    }
    out.emplace(v->get_string().data(), v->get_string().size());
    return true;
}

using op_result = boost::system::result<raw_operation, std::string>;

op_result op_error(std::string message) { return op_result(boost::system::in_place_error, std::move(message)); }

op_result operation_from_wire(const json::value& v) {
    if (!v.is_object()) return op_error("an operation is not an object");
    const auto& o = v.get_object();
    raw_operation op;
    std::string error;
    if (!read_string(o, "name", op.name, error) || !read_string(o, "description", op.description, error) ||
        !read_string(o, "input_schema", op.input_schema, error) ||
        !read_optional_string(o, "output_schema", op.output_schema, error) ||
        !read_optional_string(o, "role", op.role, error))
        return op_error(error);
    const auto* flags = o.if_contains("flags");
    if (flags == nullptr || !flags->is_number()) return op_error("\"flags\" is missing or not a number");
    boost::system::error_code ec;
    op.flags = flags->to_number<std::uint64_t>(ec);
    if (ec) return op_error("\"flags\" is not an unsigned 64-bit integer");
    return op;
}

}  // namespace

json::object to_wire(const raw_tool_descriptor& d) {
    json::array ops;
    for (const auto& op : d.operations) {
        json::object o{
            {"name", op.name}, {"description", op.description}, {"input_schema", op.input_schema}, {"flags", op.flags}};
        if (op.output_schema) o["output_schema"] = *op.output_schema;
        if (op.role) o["role"] = *op.role;
        ops.push_back(std::move(o));
    }
    json::object o{{"name", d.name},
                   {"version", d.version},
                   {"description", d.description},
                   {"thread_safe", d.thread_safe},
                   {"operations", std::move(ops)}};
    if (d.config_schema) o["config_schema"] = *d.config_schema;
    return o;
}

raw_result raw_from_wire(const json::value& v) {
    if (!v.is_object()) return fail("a tool descriptor is not an object");
    const auto& o = v.get_object();
    raw_tool_descriptor d;
    std::string error;
    if (!read_string(o, "name", d.name, error) || !read_string(o, "version", d.version, error) ||
        !read_string(o, "description", d.description, error) ||
        !read_optional_string(o, "config_schema", d.config_schema, error))
        return fail("tool descriptor: " + error);
    const auto* ts = o.if_contains("thread_safe");
    if (ts == nullptr || !ts->is_bool()) return fail("tool descriptor: \"thread_safe\" is missing or not a boolean");
    d.thread_safe = ts->get_bool();
    const auto* ops = o.if_contains("operations");
    if (ops == nullptr || !ops->is_array()) return fail("tool descriptor: \"operations\" is missing or not an array");
    for (const auto& op : ops->get_array()) {
        auto r = operation_from_wire(op);
        if (!r) return fail("tool '" + d.name + "': " + r.error());
        d.operations.push_back(std::move(*r));
    }
    return d;
}

abi_tool_reading read_abi_tool(const toolhost_plugin_entry_t& entry, std::uint32_t index,
                               const std::string& plugin_path) {
    abi_tool_reading out;
    const auto* abi = entry.tool_descriptor(index);
    if (abi != nullptr && abi->struct_size >= offsetof(toolhost_tool_descriptor_t, version) && abi->name != nullptr)
        out.name = abi->name;
    auto raw = read_abi_descriptor(abi);
    if (!raw) {
        out.error = "tool #" + std::to_string(index) + ": " + raw.error();
        return out;
    }
    auto d = descriptor_from_raw(*raw, plugin_path);
    if (!d) {
        out.error = "tool #" + std::to_string(index) + ": " + d.error();
        return out;
    }
    out.name = d->name;
    out.raw = std::move(*raw);
    out.descriptor = std::move(*d);
    return out;
}

}  // namespace toolhost::detail

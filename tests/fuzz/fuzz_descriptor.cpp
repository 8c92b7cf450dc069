// A plugin's descriptor as the host reads it (descriptor_from_abi): names, versions, flags and
// the schemas of the tool and its operations. The input is JSON describing the descriptor
// ({"name", "version", "description", "config_schema", "flags", "operations": [{"name",
// "description", "input_schema", "output_schema", "flags", "role", "v10"}]}); strings may hold any
// bytes, missing ones are passed as NULL, as a broken plugin would.
#include <toolhost/tool.h>
#include <toolhost/tool_descriptor.hpp>

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;

struct holder {
    std::deque<std::string> strings;
    const char* str(const json::object& o, std::string_view key) {
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_string()) return nullptr;
        return strings.emplace_back(v->get_string()).c_str();
    }
};

uint64_t flags(const json::object& o) {
    const auto* v = o.if_contains("flags");
    return v && v->is_uint64() ? v->get_uint64() : v && v->is_int64() ? static_cast<uint64_t>(v->get_int64()) : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 16;
    const auto v = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, opts);
    if (ec || !v.is_object()) return 0;
    const auto& o = v.get_object();
    holder h;
    std::vector<toolhost_operation_descriptor_t> ops;
    if (const auto* a = o.if_contains("operations"); a && a->is_array()) {
        for (const auto& e : a->get_array()) {
            if (!e.is_object() || ops.size() >= 64) continue;
            const auto& op = e.get_object();
            // "v10": an ABI 1.0 plugin's operation, without the role (which must then not be read).
            const auto* v10 = op.if_contains("v10");
            const uint32_t size = v10 != nullptr && v10->is_bool() && v10->get_bool()
                                      ? static_cast<uint32_t>(offsetof(toolhost_operation_descriptor_t, role))
                                      : static_cast<uint32_t>(sizeof(toolhost_operation_descriptor_t));
            ops.push_back({size, h.str(op, "name"), h.str(op, "description"), h.str(op, "input_schema"),
                           h.str(op, "output_schema"), flags(op), h.str(op, "role")});
        }
    }
    std::vector<const toolhost_operation_descriptor_t*> op_ptrs;
    for (const auto& op : ops) op_ptrs.push_back(&op);
    // A count larger than the array would be a plugin bug the host cannot see; the count is kept
    // honest so that the harness does not read past its own memory.
    const toolhost_tool_descriptor_t d{
        sizeof d,
        h.str(o, "name"),
        h.str(o, "version"),
        h.str(o, "description"),
        h.str(o, "config_schema"),
        flags(o),
        static_cast<uint32_t>(op_ptrs.size()),
        op_ptrs.empty() && !o.contains("no_operations_array") ? nullptr : op_ptrs.data()};
    auto r = toolhost::descriptor_from_abi(&d, "/fuzz/plugin.so");
    if (r) (void)toolhost::to_json(*r);
    return 0;
}

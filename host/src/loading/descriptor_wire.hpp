#pragma once
// A tool descriptor as the plugin wrote it, before the host compiled and checked it: the form in
// which a scanner child (scan_child.cpp) sends what it read from a library, and in which the scan
// cache keeps it. The host rebuilds the tool_descriptor from it with the same checks as for a
// library it loaded itself, so a child's answer is never trusted more than the plugin would be.

#include <toolhost/entry.h>
#include <toolhost/tool_descriptor.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace toolhost::detail {

struct raw_operation {
    std::string name;
    std::string description;
    std::string input_schema;
    std::optional<std::string> output_schema;
    std::uint64_t flags = 0;
    std::optional<std::string> role;  // ABI 1.1
};

struct raw_tool_descriptor {
    std::string name;
    std::string version;
    std::string description;
    std::optional<std::string> config_schema;
    bool thread_safe = false;
    std::vector<raw_operation> operations;
};

/// Reads a plugin's ABI descriptor: struct sizes and NULL pointers checked, texts copied.
boost::system::result<raw_tool_descriptor, std::string> read_abi_descriptor(const toolhost_tool_descriptor_t* abi);
/// Compiles the schemas and checks the names: the host's tool_descriptor.
boost::system::result<tool_descriptor, std::string> descriptor_from_raw(raw_tool_descriptor raw,
                                                                        std::string plugin_path);

boost::json::object to_wire(const raw_tool_descriptor& d);
/// The reverse of to_wire(), for JSON from a child or a cache file: every member's type checked.
boost::system::result<raw_tool_descriptor, std::string> raw_from_wire(const boost::json::value& v);

}  // namespace toolhost::detail

namespace toolhost::detail {

/// Tool `index` of a library's entry, read and checked: the descriptor, or the error that refuses
/// the tool (naming it when its name could be read). Both the host and the scanner child use it,
/// so a tool is refused with the same words wherever it is read.
struct abi_tool_reading {
    std::string name;
    std::optional<raw_tool_descriptor> raw;
    std::optional<tool_descriptor> descriptor;
    std::string error;
};
abi_tool_reading read_abi_tool(const toolhost_plugin_entry_t& entry, std::uint32_t index,
                               const std::string& plugin_path);

/// The error of a library whose tool_count() is 0.
inline constexpr const char* no_tools_error = "the library provides no tools (tool_count() returned 0)";

}  // namespace toolhost::detail

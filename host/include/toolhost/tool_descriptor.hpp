#pragma once
/// The host's validated model of what a tool offers, built from a plugin's ABI descriptor or
/// written directly by embedders for in-process tools.

#include <toolhost/export.hpp>
#include <toolhost/json_schema.hpp>
#include <toolhost/tool.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

/// What an operation serves besides being a tool (ABI 1.1 `role`, toolhost/tool.h).
enum class operation_role { tool, resource_list, resource_read, prompt, completion };

/// The role's name as the descriptor spells it ("tool" for none).
TOOLHOST_API std::string_view role_name(operation_role r) noexcept;

/// One operation of a tool.
struct operation_descriptor {
    std::string name;
    std::string description;
    json_schema input_schema;                  ///< arguments are validated against it
    std::optional<json_schema> output_schema;  ///< declared result shape, if any
    uint64_t flags = 0;                        ///< TOOLHOST_OPERATION_* bits
    operation_role role = operation_role::tool;
    /// The role's declaration as the plugin wrote it, checked (empty for a tool): "uris" and
    /// "templates" of a resource_read, "title" of a prompt.
    boost::json::object role_spec{};

    bool idempotent() const noexcept { return flags & TOOLHOST_OPERATION_IDEMPOTENT; }
    bool read_only() const noexcept { return flags & TOOLHOST_OPERATION_READ_ONLY; }
    bool destructive() const noexcept { return flags & TOOLHOST_OPERATION_DESTRUCTIVE; }
    bool cancellable() const noexcept { return flags & TOOLHOST_OPERATION_CANCELLABLE; }
};

/// What a tool is and offers.
struct TOOLHOST_API tool_descriptor {
    std::string name;
    std::string version;
    std::string description;
    std::optional<json_schema> config_schema;  ///< none: only an empty config object is accepted
    bool thread_safe = false;
    std::vector<operation_descriptor> operations;
    /// Where the tool comes from: the plugin file's path, or "builtin" for in-process factories.
    std::string plugin;

    /// The operation called `name`, or nullptr.
    const operation_descriptor* find_operation(std::string_view name) const noexcept;

    /// Checks names and operations; the message names what is wrong.
    boost::system::result<void, std::string> validate() const;
};

/// Tool and operation names: 1 to 64 characters of [A-Za-z0-9_-], starting with a letter.
TOOLHOST_API bool is_valid_name(std::string_view name) noexcept;

/// Reads and validates a plugin's descriptor (struct sizes, names, schemas as JSON Schema).
TOOLHOST_API boost::system::result<tool_descriptor, std::string> descriptor_from_abi(
    const toolhost_tool_descriptor_t* abi, std::string plugin_path);

/// The descriptor as JSON, in the shape of `toolhost list --json` entries.
TOOLHOST_API boost::json::object to_json(const tool_descriptor& d);

}  // namespace toolhost

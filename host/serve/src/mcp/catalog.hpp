#pragma once
// The MCP tool list: every operation of every ready tool under its MCP name, rebuilt when tools
// change and shared, immutable, by the sessions that use it.

#include <toolhost/serve/mcp.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::mcp {

struct server::catalog {
    struct entry {
        std::string name;  // the MCP name
        std::string tool;
        std::string operation;
        bool content_result = false;
        bool object_output = false;   // outputSchema declared (an object schema)
        bool run_inline = false;      // nonblocking operation of a thread-safe tool
        operation_ref ref;            // for host::call_inline
        boost::json::object listing;  // the tools/list entry for 2025-06-18 and later
        boost::json::object legacy;   // ... for 2025-03-26 (no title, no outputSchema)
    };
    std::vector<entry> entries;
    std::map<std::string, std::size_t, std::less<>> by_name;  // (looked up by string_view, no copy)

    // What plugins serve besides tools: operations with a role (toolhost/tool.h).
    struct role_op {
        std::string tool;
        std::string operation;
    };
    struct prompt {
        std::string name;  // the MCP name (named as tools are)
        std::string tool;
        std::string operation;
        boost::json::object listing;  // the prompts/list entry
    };
    struct reader {
        std::string tool;
        std::string operation;
        std::vector<std::string> uris;  // the URI prefixes it reads
    };
    std::vector<prompt> prompts;
    std::map<std::string, std::size_t, std::less<>> prompt_by_name;
    std::vector<role_op> listers;  // resource_list operations, in tool order
    std::vector<reader> readers;
    boost::json::array templates;                            // the resources/templates/list entries
    std::vector<std::string> template_tools;                 // the tool of each template
    std::map<std::string, role_op, std::less<>> completers;  // by tool

    std::vector<std::string> problems;
    std::string fingerprint;            // of the tool list
    std::string prompts_fingerprint;    // of the prompt list
    std::string resources_fingerprint;  // of what serves resources
    /// The generation of every listed tool: a new generation with the same listing changes no
    /// listing, but the entries' resolved operations must follow it.
    std::string generations;

    const entry* find(std::string_view name) const {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : &entries[it->second];
    }
    const prompt* find_prompt(std::string_view name) const {
        auto it = prompt_by_name.find(name);
        return it == prompt_by_name.end() ? nullptr : &prompts[it->second];
    }
    /// The reader of `uri`: the one with the longest matching prefix; null when none.
    const reader* reader_of(std::string_view uri) const;
    /// The tool of the resource template `uri_template`; empty when none has it.
    std::string template_owner(std::string_view uri_template) const;
};

/// The catalog of the host's ready tools, named by o.tool_name.
std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o);

}  // namespace toolhost::mcp

#pragma once
// The MCP tool list: every operation of every ready tool under its MCP name, rebuilt when tools
// change and shared, immutable, by the sessions that use it.

#include <toolhost/serve/mcp.hpp>

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
    std::vector<std::string> problems;
    std::string fingerprint;
    /// The generation of every listed tool: a new generation with the same listing changes no
    /// listing, but the entries' resolved operations must follow it.
    std::string generations;

    const entry* find(std::string_view name) const {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : &entries[it->second];
    }
};

/// The catalog of the host's ready tools, named by o.tool_name.
std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o);

}  // namespace toolhost::mcp

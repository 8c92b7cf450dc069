// The handler shape of the bundled tools' operation tables: a member function that reads its
// arguments with `args` and returns a JSON object, which becomes the call's result.
//
//     const toolhost::plugins::json_table<crm_tool>& crm_tool::table() {
//         static const toolhost::plugins::json_table<crm_tool> t{
//             .name = "crm", ..., .operations = {{.name = "search", ..., .run = {&crm_tool::search}}}};
//         return t;
//     }
//
// A tool that wants to add context to the errors of every operation (the memory tool names its
// database file) defines `void error_context(std::string_view operation, const sdk::error&)`,
// which may throw a replacement; when it returns, the error goes on as it was.
#pragma once

#include <toolhost_plugins/args.hpp>

#include <toolhost/plugin.hpp>

#include <boost/json/object.hpp>
#include <toolhost/json_text.hpp>

#include <string_view>

namespace toolhost::plugins {

template <class Tool>
struct json_operation {
    boost::json::object (Tool::*method)(const args&, const sdk::call_context&) = nullptr;

    sdk::result operator()(Tool& tool, sdk::call_context& call) const {
        const args a(call.arguments());
        if constexpr (requires(std::string_view op, const sdk::error& e) { tool.error_context(op, e); }) {
            try {
                return sdk::result::ok(toolhost::json_text((tool.*method)(a, call)));
            } catch (const sdk::error& e) {
                tool.error_context(call.operation(), e);
                throw;
            }
        } else {
            return sdk::result::ok(toolhost::json_text((tool.*method)(a, call)));
        }
    }
};

/// The operation table of a bundled tool.
template <class Tool>
using json_table = sdk::tool_table<Tool, json_operation<Tool>>;

}  // namespace toolhost::plugins

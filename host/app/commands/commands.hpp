#pragma once
// The commands of `toolhost`, one function each, grouped in a file per command group; cli.cpp
// holds the table that names them.

#include "../command_context.hpp"

#include <string_view>

namespace toolhost::cli {

/// One row of the command table.
struct command {
    std::string_view name;
    int (*run)(command_context&);
};

int cmd_help(command_context& c);      // about.cpp
int cmd_version(command_context& c);   // about.cpp
int cmd_list(command_context& c);      // tools.cpp
int cmd_info(command_context& c);      // tools.cpp
int cmd_status(command_context& c);    // tools.cpp
int cmd_validate(command_context& c);  // tools.cpp
int cmd_inspect(command_context& c);   // inspect.cpp
int cmd_call(command_context& c);      // call.cpp
int cmd_metrics(command_context& c);   // metrics.cpp
int cmd_breaker(command_context& c);   // breaker.cpp
int cmd_restart(command_context& c);   // breaker.cpp
int cmd_serve(command_context& c);     // serve.cpp
int cmd_new(command_context& c);       // new.cpp

// validate_plugin.cpp: the command, and the child process it starts (not for people)
int cmd_validate_plugin(command_context& c);
int cmd_validate_plugin_child(command_context& c);

}  // namespace toolhost::cli

#pragma once
// The command line, parsed: global options, the command, its options and arguments.

#include <boost/system/result.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::cli {

/// The text of `toolhost help`, also shown after a usage error.
extern const std::string_view usage_text;

/// Every option of every command; a command reads the ones it takes.
struct options {
    std::optional<std::filesystem::path> config_file;
    std::vector<std::filesystem::path> plugin_dirs;
    bool default_plugins = true;
    std::optional<std::string> log_level;
    std::optional<std::string> log_format;
    std::optional<unsigned> threads;
    bool json = false;
    std::optional<std::string> request_id;
    std::optional<std::string> session_id;
    std::optional<long long> timeout_ms;
    bool stdio = false;
    std::optional<std::string> http;
    bool stateless = false;
    bool allow_unauthenticated = false;
    std::optional<std::filesystem::path> port_file;
    std::optional<std::string> server;
    bool all = false;
    std::optional<std::string> lang;           // new --lang
    std::optional<std::filesystem::path> dir;  // new --dir
    std::string command;
    std::vector<std::string> positional;
};

/// What is wrong with the command line.
struct usage_error {
    std::string message;
};

/// Global options may stand before or after the command; command options after it.
boost::system::result<options, usage_error> parse_args(const std::vector<std::string>& args);

}  // namespace toolhost::cli

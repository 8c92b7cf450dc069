#pragma once
// The command's side of `toolhost validate-plugin` (checks.hpp): what can be known about the file
// without running it (plugin_loader::inspect: its ELF headers and a scanner child's verdict), then
// the child processes that run it, and the verdict of every check.

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace toolhost::cli::validate {

struct check_result {
    std::string name;
    std::string result;                 ///< "pass", "fail" or "skip"
    std::string message;                ///< one line: what passed, why it was skipped, or how many problems
    std::vector<std::string> failures;  ///< each problem, saying what to change
};

struct report {
    std::string path;
    std::string plugin;                ///< "name version", when the file loads
    std::vector<check_result> checks;  ///< in the order of validate::checks
    bool ok() const noexcept;
};

struct supervisor_options {
    std::filesystem::path executable;         ///< toolhost, started as `validate-plugin-child`
    std::vector<std::string> child_options;   ///< global options passed on (--log-level, --log-format)
    std::chrono::milliseconds timeout{5000};  ///< every call's deadline
    boost::json::object configs;              ///< tool name -> configuration object
    std::filesystem::path config_file;        ///< where `configs` come from; empty: built-in defaults
    std::ostream* child_stderr = nullptr;     ///< where the children's stderr goes; null: kept for messages only
};

/// Why nothing could be checked: the exit code (66 no such file, 69 no process to check it in) and
/// what is wrong.
struct setup_error {
    int exit_code;
    std::string message;
};

/// Checks the plugin `file`; never runs its code in this process.
boost::system::result<report, setup_error> run_validation(const std::filesystem::path& file,
                                                          const supervisor_options& options);

}  // namespace toolhost::cli::validate

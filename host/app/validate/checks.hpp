#pragma once
// `toolhost validate-plugin`: what both of its processes share, the checks and the job.
//
// The command (supervisor.hpp) never runs the plugin's code itself. It looks at the file as
// `toolhost inspect` does (ELF headers, and a scanner child that loads it), then starts a child,
// `toolhost validate-plugin-child JOB`, which drives the plugin through a real host (driver.hpp)
// and reports each step and each verdict on descriptor 3, one JSON object a line. A child that
// crashes or hangs costs only itself: the check it was running fails with how it ended, and a
// fresh child resumes at the step after.

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::cli::validate {

/// One check: its name (stable, for scripts and --json) and what it verifies.
struct check_info {
    std::string_view name;
    std::string_view what;
};

/// Every check, in the order they are reported.
inline constexpr check_info checks[] = {
    {"loads", "the file loads in a scanner process: ELF, entry symbol, ABI version, struct sizes, init()"},
    {"exports", "the library exports no symbol but toolhost_plugin_entry_v1"},
    {"descriptors", "every tool descriptor is valid, every schema valid JSON Schema, every input schema takes objects"},
    {"lifecycle", "every tool is created, initialized, cleaned up and destroyed with its configuration"},
    {"leaks", "initialize/cleanup repeated leaks no file descriptors and no threads"},
    {"calls", "every operation answers generated valid arguments (edge values too): no crash, no hang"},
    {"invalid_arguments", "arguments that break the input schema are refused by the host; the plugin never runs"},
    {"results", "every result is valid JSON"},
    {"output_schema", "every result matches the operation's output_schema"},
    {"errors", "every failure has a status of status.h and a message"},
    {"no_stdout", "nothing is written to stdout"},
    {"thread_safety", "a tool flagged thread-safe survives concurrent calls"},
    {"cancellation", "a cancellable operation returns promptly once its call is cancelled"},
};

/// How long a cancellable operation may go on after its call was cancelled.
inline constexpr std::chrono::milliseconds cancel_grace{500};
/// How long a call may go on after its deadline passed before it counts as a hang.
inline constexpr std::chrono::milliseconds hang_grace{1000};
/// Initialize/cleanup cycles of the leak check (after one that warms up).
inline constexpr int leak_cycles = 5;
/// Threads of the thread-safety check.
inline constexpr int concurrent_threads = 4;

/// What the child is asked to do (a JSON file the supervisor writes, named on its command line).
struct job {
    std::filesystem::path plugin_dir;         ///< a private folder holding only the plugin (and its data)
    std::filesystem::path data_dir;           ///< the host's data folder (each tool gets <data_dir>/<tool>)
    std::chrono::milliseconds timeout{5000};  ///< the deadline of every call
    std::size_t resume = 0;                   ///< the first step to run; earlier ones were reported
    std::vector<std::string> skip_tools;      ///< tools whose start crashed or hung a child
    /// Steps that crashed or hung a child: their argument cases are left out of the steps that
    /// repeat the valid cases (threads, cancellation), which are about other rules.
    std::vector<std::size_t> lost_steps;
    boost::json::object configs;        ///< tool name -> its configuration object
    std::filesystem::path config_file;  ///< where the configurations come from (empty: none), for messages
    // The child's log settings (its command line, not part of the JSON).
    std::string log_level = "warning";
    std::string log_format = "text";

    boost::json::object to_json() const;
    static boost::system::result<job, std::string> from_json(std::string_view text);
};

/// The child's side: runs the job, reporting on `report_fd`; the process's exit code.
int run_driver(const job& j, int report_fd);

}  // namespace toolhost::cli::validate

#pragma once
// Helpers shared by the test executables: temporary folders and child processes.

#include <toolhost/config.hpp>
#include <toolhost/plugin_loader.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::test {

/// Whether `needle` occurs in `hay`.
inline bool contains(std::string_view hay, std::string_view needle) noexcept {
    return hay.find(needle) != std::string_view::npos;
}

/// A deterministic environment for configuration tests: `vars` and nothing else.
struct fake_env {
    std::map<std::string, std::string, std::less<>> vars;
    getenv_function fn() const {
        return [this](std::string_view name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }
};

/// Configuration problems, one per line.
inline std::string all(const std::vector<json_diagnostic>& errors) {
    std::string s;
    for (const auto& e : errors) s += e.to_string() + "\n";
    return s;
}

/// A fresh folder (mode 0700) under $TMPDIR or /tmp, removed with everything in it on exit.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

struct process_result {
    int exit_code = -1;  ///< the exit status, or 128 + signal number
    std::string out;
    std::string err;
};

/// Runs a program (argv[0] is its path) to completion, feeding `input` on stdin and capturing
/// stdout and stderr. `env` entries override or add to the current environment.
process_result run_process(const std::vector<std::string>& argv, const std::string& input = {},
                           const std::map<std::string, std::string>& env = {});

/// A program running in the background (a server under test), its stdout and stderr going to
/// files in `log_dir`. Killed (SIGKILL) and reaped on destruction if still running.
class background_process {
public:
    background_process(const std::vector<std::string>& argv, const std::filesystem::path& log_dir,
                       const std::map<std::string, std::string>& env = {});
    ~background_process();
    background_process(const background_process&) = delete;
    background_process& operator=(const background_process&) = delete;

    int pid() const noexcept { return pid_; }
    /// Whether it still runs (it is reaped when it has ended).
    bool running();
    /// Sends `signal` and waits for the end: the exit status, or 128 + signal number.
    int stop(int signal);
    std::string out() const;
    std::string err() const;

private:
    int pid_ = -1;
    std::optional<int> status_;
    std::filesystem::path out_file_;
    std::filesystem::path err_file_;
};

/// The processes whose parent is `parent` and that still run (zombies count as ended).
std::vector<int> children_of(int parent);
/// Whether process `pid` still runs (not a zombie).
bool still_runs(int pid);

/// Waits up to `timeout` for `condition`, checking every 20 ms; whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

void write_file(const std::filesystem::path& file, const std::string& content);
std::string read_file(const std::filesystem::path& file);

/// Copies a file into `dir` (under `name`, or its own name) with mode 0755, and returns the copy.
std::filesystem::path copy_into(const std::filesystem::path& file, const std::filesystem::path& dir,
                                const std::string& name = {});

/// Deploys `build` as `dir`/`name` the way an operator should: copied next to it under a hidden
/// name, then renamed over it (one atomic step for whoever opens the path).
void deploy(const std::filesystem::path& build, const std::filesystem::path& dir, const std::string& name);

/// The configuration `text` (written to `dir`/toolhost.json and loaded from there) for the plugin
/// folder `dir`/plugins, with its data in `dir`/var, `threads` workers and error-level logs.
host_config folder_config(const std::filesystem::path& dir, const std::string& text, unsigned threads = 4);

/// The names of the tools a scan found, sorted.
std::vector<std::string> tool_names(const load_report& report);

/// A configuration whose only plugin is the testkit fixture (copied to `dir`/plugins), with its
/// data in `dir`/var, `threads` workers and error-level logs.
host_config testkit_config(const std::filesystem::path& dir, unsigned threads = 2);

}  // namespace toolhost::test

#pragma once
// What every command works with: the parsed options, the output streams, the host (opened by
// the commands that need one) and the steps they share (arguments, configuration, failures).

#include "cli.hpp"
#include "options.hpp"
#include "remote.hpp"

#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/settings.hpp>

#include <boost/json/array.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::cli {

/// The exit code for a call's status code.
int exit_code_for(status_code c);

/// Which configuration file a command reads, and why that one.
struct config_location {
    std::filesystem::path file;  ///< empty: none, built-in defaults
    std::string_view source;     ///< "--config", "TOOLHOST_CONFIG", ... (for messages)
};

/// The build tree `exe` runs from (build/<preset>), or nullopt for an installed executable.
std::optional<std::filesystem::path> build_tree_of(const std::filesystem::path& exe);

/// The configuration file, in this order: `given` (--config), $TOOLHOST_CONFIG,
/// $XDG_CONFIG_HOME/toolhost/toolhost.json (~/.config/toolhost when XDG_CONFIG_HOME is unset),
/// <prefix>/etc/toolhost/toolhost.json of the installation `exe` belongs to, the source tree's
/// conf/toolhost.json when `exe` runs from the build tree; else none (built-in defaults). A file
/// named by --config or TOOLHOST_CONFIG must exist; the others are used when they exist.
config_location find_config(const std::optional<std::filesystem::path>& given, const std::filesystem::path& exe);

class command_context {
public:
    command_context(options o, std::filesystem::path exe, std::ostream& out, std::ostream& err)
        : o_(std::move(o)), exe_(std::move(exe)), out_(out), err_(err) {}

    const options& opts() const noexcept { return o_; }
    /// The running executable (/proc/self/exe).
    const std::filesystem::path& exe() const noexcept { return exe_; }
    std::ostream& out() noexcept { return protected_out_ ? *protected_out_ : out_; }
    std::ostream& err() noexcept { return err_; }
    /// The host; only after open_host() succeeded.
    toolhost::host& host() noexcept { return *host_; }

    /// Prints `problem` and the usage text; returns the usage exit code.
    int usage(std::string_view problem);
    /// ok when the command got from `min` to `max` arguments, else usage(problem).
    int check_args(std::size_t min, std::size_t max, std::string_view problem);
    /// Loads the configuration (file < environment < command line), starts logging, creates the
    /// host and loads the plugins. ok, or the exit code of a configuration error.
    int open_host();

    /// Reports a failure (text on stderr, or the failure JSON with --json); returns `rc`.
    int fail(status_code code, const std::string& message, int rc);
    /// fail() for a tool that is not there, naming a rejected file that claimed the name.
    int tool_missing(const std::string& name);
    /// The exit code of the last fail().
    int last_failure() const noexcept { return rc_; }
    /// The rejected plugin files, as `list --json` and `status --json` show them.
    boost::json::array rejected_json() const;

    /// One request to the running `toolhost serve` (--server, $TOOLHOST_SERVER); on no usable
    /// answer prints why and returns nullopt (last_failure() has the exit code).
    std::optional<remote_response> remote(std::string_view method, const std::string& path, std::string_view body = {},
                                          std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                          std::span<const remote_header> headers = {});
    /// Prints an error answer of the REST API like a local failure; returns its exit code.
    int remote_failure(const remote_response& r);

    /// For the commands that run tools in this process: from here on the process's descriptor 1
    /// is stderr, so that a plugin's writes to stdout can never mix with the command's output,
    /// which goes to the original stdout through out(). Call before any tool starts.
    void protect_stdout();
    /// Ends the command with `rc` after shutting the host down, waiting at most `grace` for calls
    /// still in plugin code; if some do not return, names them on stderr and ends the process
    /// at once (in-process plugin code cannot be stopped otherwise).
    int finish(int rc, std::chrono::milliseconds grace);

    /// The "serve" section, parsed by serving when the configuration is loaded (open_host()).
    const serve_settings& serving() const noexcept { return serving_; }

    /// Loads and checks the configuration without opening a host (what open_host() starts with);
    /// then config() is it.
    int load_config();
    /// The configuration as load_config() makes it (the file, the environment, this command
    /// line's overrides), without keeping it: what a reload of `toolhost serve` reads.
    boost::system::result<host_config, std::vector<json_diagnostic>> read_config() const;
    const host_config& config() const noexcept { return config_; }
    /// Which file read_config() reads, and why that one.
    config_location config_origin() const { return find_config(o_.config_file, exe_); }

private:
    int config_errors(const std::vector<json_diagnostic>& errors);

    options o_;
    std::filesystem::path exe_;
    std::ostream& out_;
    std::ostream& err_;
    host_config config_;
    serve_settings serving_;
    std::optional<toolhost::host> host_;
    std::unique_ptr<std::streambuf> protected_buf_;  // the original stdout, after protect_stdout()
    std::unique_ptr<std::ostream> protected_out_;
    int rc_ = exit_code::ok;
};

}  // namespace toolhost::cli

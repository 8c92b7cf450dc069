#pragma once
/// Serving as one unit: the tools started, the transports, the live plugin folder, configuration
/// reloads and the graceful stop, the same for `toolhost serve` and for a program that embeds the
/// host.
///
///     auto settings = toolhost::serve::load_settings(host.config(), toolhost::process_env);
///     toolhost::serve::service svc(host, {.serve = settings.value()}, std::cerr);
///     if (!svc.start()) return 1;
///     svc.run();                    // until svc.stop() (another thread) or stdio's end of input

#include <toolhost/serve/settings.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/cluster.hpp>
#include <toolhost/serve/export.hpp>

#include <cstdint>
#include <functional>
#include <filesystem>
#include <string>
#include <vector>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string_view>

namespace toolhost::serve {

/// What to serve and where.
struct service_settings {
    serve_settings serve;  ///< the "serve" section, with any overrides applied
    bool http = true;      ///< serve HTTP (MCP, REST, health, metrics) at serve.listen
    bool stdio = false;    ///< serve MCP on stdio_in / stdio_out
    int stdio_in = 0;
    int stdio_out = -1;  ///< the protocol stream, from protect_stdout()
    /// Where to write the bound HTTP port (written to FILE.tmp, then renamed), when set.
    std::optional<std::filesystem::path> port_file;
    /// Reads the configuration again for reload(). Empty: the file the host's configuration came
    /// from (host_config::file) with the process environment, or the defaults and the environment
    /// when it came from no file. `toolhost serve` adds its command line's overrides.
    std::function<boost::system::result<host_config, std::vector<json_diagnostic>>()> read_config;
    /// Several hosts behind one load balancer (docs/deployment.md): the 2025-era MCP sessions are
    /// shared through it, this host's tool list changes are announced to the others and theirs
    /// reach this host's listeners. Null: this host alone.
    std::shared_ptr<serve::cluster> cluster;
};

/// What service::reload() did.
struct reload_outcome {
    bool applied = false;
    std::vector<std::string> problems;  ///< why nothing was applied (file:line:col: ... messages)
    reload_report report;               ///< what changed, when applied
    /// Credential files read again whatever the configuration's fate (TLS certificate, OAuth
    /// keys): those that did not load, whose old ones stay in use.
    std::vector<std::string> credentials_kept;
    /// {"ok":true,"enabled":[...],"disabled":[...],"restarted":[...],"policies":[...],
    ///  "failed":[{"tool":..,"error":..}],"needs_restart":[...],"log_changed":bool}
    /// or {"ok":false,"problems":[...]}; either with "credentials_kept":[...] when not empty
    boost::json::object to_json() const;
};

/// Starts the tools and the transports, serves, keeps the tools in line with the plugin folders
/// (plugin_watcher: files added, replaced and removed while serving), and stops in order: the
/// folder watch, HTTP (letting calls in flight finish within serve.shutdown_grace_ms), stdio,
/// then the host's tools.
class TOOLHOST_SERVE_API service {
public:
    /// `report` receives the lines an operator reads: tools that did not start, where serving
    /// happens, why it could not start. It must outlive the service.
    service(toolhost::host& h, service_settings settings, std::ostream& report);
    ~service();  ///< stop() and the stop sequence if run() did not finish them
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    /// Starts the tools (the host's concurrent_init and fail_on_error), then the transports and
    /// the folder watch. False when serving could not start; the report says why and the host's tools
    /// are shut down again.
    [[nodiscard]] bool start();
    /// Serves until stop() or the end of stdio's input, then runs the stop sequence.
    void run();
    /// Makes run() return after the stop sequence; `signal` ("SIGTERM", ...) is logged when
    /// given. /readyz answers 503 from this moment; with serve.http.drain_delay_ms the stop
    /// sequence waits that long first, serving as usual, unless stop() is called again. Any
    /// thread.
    void stop(std::string_view signal = {});
    /// Reads the configuration again (settings.read_config) and applies it to the host
    /// (host::reload): checked first like `toolhost validate`, so that a configuration with a
    /// problem changes nothing. `trigger` ("SIGHUP", "POST /v1/admin/reload") is logged. Any
    /// thread; one reload at a time.
    reload_outcome reload(std::string_view trigger);
    /// The bound HTTP port (0 without HTTP).
    std::uint16_t http_port() const noexcept;
    /// After the stop sequence: the tools whose calls were still in plugin code when the host's
    /// shutdown grace (serve.shutdown_grace_ms) ran out. In-process plugin code cannot be
    /// stopped; a program that wants to end ends with std::_Exit() (toolhost serve does).
    const std::vector<std::string>& left_running() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace toolhost::serve

#pragma once
/// The host configuration: conf/toolhost.json (JSON with comments) plus TOOLHOST_* variables.

#include <toolhost/export.hpp>
#include <toolhost/json_source.hpp>
#include <toolhost/tracing.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

/// Settings of one tool from the "tools" section.
/// A "resilience" object of the file (global, per tool or per operation), kept as written and
/// applied over the outer level's policy by apply_resilience() (call_policy.hpp).
struct resilience_settings {
    boost::json::object settings;
    std::string pointer;  ///< e.g. "/tools/rag/resilience"
};

/// Where a tool's plugin code runs (docs/configuration.md, "isolation").
enum class isolation_mode {
    in_process,  ///< in the host process: the fastest path; a crash there ends the host
    process,     ///< in a worker process of its own, supervised, killed and restarted by the host
};

/// An "isolation" entry: a string (the mode) or an object. Unset members fall back to the
/// top-level entry, then to the defaults.
struct isolation_settings {
    std::optional<isolation_mode> mode;
    std::optional<std::chrono::milliseconds> cancel_grace;   ///< "cancel_grace_ms"
    std::optional<std::chrono::milliseconds> start_timeout;  ///< "start_timeout_ms"
    std::optional<std::uint64_t> max_memory_mb;              ///< "max_memory_mb" (0: no limit)
    std::optional<std::uint64_t> max_cpu_seconds;            ///< "max_cpu_seconds" (0: no limit)
};

/// The isolation a tool gets: its own entry over the top-level one over the defaults.
struct effective_isolation {
    isolation_mode mode = isolation_mode::in_process;
    bool mode_set_for_tool = false;  ///< the tool's own entry names the mode
    std::chrono::milliseconds cancel_grace{200};
    std::chrono::milliseconds start_timeout{60000};
    std::uint64_t max_memory_mb = 0;
    std::uint64_t max_cpu_seconds = 0;
    bool operator==(const effective_isolation&) const = default;
};

struct tool_settings {
    bool enabled = true;
    boost::json::object config;                     ///< the tool's "config"; empty when absent
    std::string pointer;                            ///< where the tool's entry is, e.g. "/tools/echo", for diagnostics
    std::optional<resilience_settings> resilience;  ///< "resilience"
    std::map<std::string, resilience_settings, std::less<>> operation_resilience;  ///< "operations"/<op>/"resilience"
    isolation_settings isolation;                                                  ///< "isolation"
};

/// The "tracing" section (docs/configuration.md): where spans go and which calls are traced.
struct tracing_settings {
    otlp_options exporter;      ///< otlp_endpoint, service_name, headers, queue, batch and timing
    double sample_ratio = 1.0;  ///< the share of calls without a caller's traceparent that are traced
};

/// The effective host configuration (defaults < file < environment).
struct TOOLHOST_API host_config {
    std::filesystem::path file;                      ///< the config file; empty when built from defaults
    std::vector<std::filesystem::path> plugin_dirs;  ///< absolute; file entries first, then TOOLHOST_PLUGIN_PATH
    unsigned threads = 0;                            ///< worker threads; 0 in the file means one per hardware thread
    std::string log_level = "info";                  ///< trace|debug|info|warning|error|off
    std::string log_format = "text";                 ///< text|json
    bool concurrent_init = true;                     ///< initialize tools concurrently
    bool fail_on_error = false;                      ///< a tool that fails to initialize fails start-up
    bool tools_enabled_by_default = true;            ///< whether tools not listed under "tools" are enabled
    std::filesystem::path data_dir = "var";          ///< absolute after loading
    std::map<std::string, tool_settings, std::less<>> tools;  ///< "tools" by tool name
    std::optional<resilience_settings> resilience;            ///< the global "resilience"
    isolation_settings isolation;                             ///< the top-level "isolation"
    /// "trust.sha256" plus TOOLHOST_TRUST_SHA256: when set, only plugin files with a listed
    /// SHA-256 (lower-case hex) are opened.
    std::optional<std::vector<std::string>> trust_sha256;
    /// "tracing", or TOOLHOST_OTLP_ENDPOINT; empty when no endpoint is configured (tracing off).
    std::optional<tracing_settings> tracing;
    /// "serve" as written (checked to be an object): serving parses it (serve::load_settings()
    /// in Toolhost::serve), as the host applies "resilience" when a tool registers.
    boost::json::object serve;
    std::shared_ptr<const json_document> document;  ///< the parsed file; null when built from defaults

    /// A diagnostic at a pointer in the config file ("<defaults>:1:1" when there is no file).
    json_diagnostic error_at(std::string_view pointer, std::string message) const;

    /// Whether the named tool is enabled (its "enabled" entry, else tools_enabled_by_default).
    bool tool_enabled(std::string_view name) const;
    /// The isolation of the named tool.
    effective_isolation isolation_for(std::string_view name) const;
};

/// Looks up an environment variable; nullopt when unset.
using getenv_function = std::function<std::optional<std::string>(std::string_view)>;

/// Loads and checks a config file then applies the environment; returns every problem found.
/// Unknown and duplicate keys are errors.
TOOLHOST_API boost::system::result<host_config, std::vector<json_diagnostic>> load_config(
    const std::filesystem::path& file, const getenv_function& getenv);

/// Defaults plus environment only (no file).
TOOLHOST_API boost::system::result<host_config, std::vector<json_diagnostic>> default_config(
    const getenv_function& getenv);

/// The process environment, in the shape load_config() expects.
TOOLHOST_API std::optional<std::string> process_env(std::string_view name);

}  // namespace toolhost

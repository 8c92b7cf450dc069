#pragma once
// The life of the registered tools: loading them from plugin files, registering and removing
// them, creating and initializing them (start), replacing them by new generations and retiring
// the old ones (sync_plugins), draining and cleaning them up (shutdown). Every function here is
// serialized by one mutex, except sync_plugins' scan and the retirer's waits for drains.

#include "registry/tool_registry.hpp"

#include <toolhost/plugin_loader.hpp>

#include "loading/plugin_scanner.hpp"

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace toolhost::detail {

class call_pipeline;
class call_telemetry;
class event_bus;

class tool_lifecycle {
public:
    tool_lifecycle(host_config& config, plugin_loader::options loader, tool_registry& registry, call_pipeline& pipeline,
                   const event_bus& events, call_telemetry& telemetry);
    ~tool_lifecycle();  ///< joins the retirer (shutdown() has retired everything by then)

    /// Scans the plugin folders and registers every valid tool (host::load_plugins).
    const load_report& load_plugins();
    const load_report& last_load() const noexcept { return load_report_; }
    /// The files and tools refused now (host::rejected_plugins), from any thread.
    std::vector<rejected_plugin> rejected() const;
    /// Adds, replaces and removes tools as the plugin folders changed (host::sync_plugins).
    plugin_sync_report sync_plugins();
    /// Applies a new configuration (host::reload); the problems when it is refused.
    boost::system::result<reload_report, std::vector<std::string>> reload(host_config next);
    /// host::validate(), under the lifecycle mutex (a reload may be replacing the configuration).
    std::vector<std::string> validate();

    boost::system::result<void, std::string> register_factory(std::shared_ptr<tool_factory> factory);
    boost::system::result<void, std::string> register_entry(const toolhost_plugin_entry_t* entry, std::string name);
    /// Stops the tool if it runs, then removes it. False if there is no such tool.
    bool unregister(std::string_view name);
    /// Policies change only while the tool does not run: serialized with start().
    boost::system::result<void, std::string> set_policy(std::string_view tool, call_policy policy);
    boost::system::result<void, std::string> set_operation_policy(std::string_view tool, std::string_view operation,
                                                                  call_policy policy);

    start_report start(const start_options& options);
    /// Stops the tool if it runs (waiting for its calls until `until`) and starts it again with a
    /// fresh instance, and a fresh worker when it runs isolated: how an operator brings back a
    /// tool that failed (host::restart_tool).
    boost::system::result<void, tool_error> restart(std::string_view name, std::chrono::steady_clock::time_point until);
    /// Starts a registered tool that another tool calls, unless a lifecycle change is running.
    void start_on_demand(tool_slot& slot);
    /// Closes the registry, then stops every tool, newest first, waiting for each tool's calls
    /// until `until` (none: as long as they take). Returns the tools with calls still in plugin
    /// code then: they are left running, not cleaned up. Nullopt if shut down already.
    std::optional<std::vector<std::string>> shutdown(std::optional<std::chrono::steady_clock::time_point> until);

private:
    void initialize_slot(tool_slot& slot);
    /// The instance for a slot: the factory's, or a worker_tool when the tool runs isolated.
    boost::system::result<std::unique_ptr<tool_instance>, tool_error> create_instance(tool_slot& slot);
    /// The worker of an isolated tool crashed too often: the tool is failed until restarted.
    void worker_gave_up(tool_slot& slot, const tool_error& error);
    /// For stop_slot when the grace ran out: kills the tool's worker, if it has one, and waits for
    /// its calls to end. False for an in-process tool (nothing can stop its calls).
    bool kill_worker(tool_slot& slot);
    /// Whether the tool stopped (false: its calls were still running at `until`).
    bool stop_slot(tool_slot& slot, std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
    std::vector<tool_registry::slot_ptr> slots_to_start(const start_options& options, start_report& report) const;

    // ---- sync_plugins' parts (under the lifecycle mutex)
    /// A new generation of `current` from `factory`, started when the tool should run, put in its
    /// place; `current` is retired. The error says why not (then `current` is left as it is).
    boost::system::result<void, std::string> replace(const tool_registry::slot_ptr& current,
                                                     std::shared_ptr<tool_factory> factory, bool carry_state = false);
    /// Takes a tool whose file went away out of service (retired: its calls in flight finish).
    void remove(const std::string& name, plugin_sync_report& out);
    /// Registers a new tool and starts it on a started host.
    boost::system::result<void, std::string> add(std::shared_ptr<tool_factory> factory);
    /// Hands a slot taken out of service to the retirer, which cleans it up once its calls ended.
    void retire_later(tool_registry::slot_ptr slot, bool removed);
    /// The retirer's thread: waits for each retired slot to drain, then cleans it up.
    void run_retirer();
    /// A slot for `factory` one generation after `current`, not registered yet.
    boost::system::result<tool_registry::slot_ptr, std::string> next_generation(const tool_registry::slot_ptr& current,
                                                                                std::shared_ptr<tool_factory> factory);
    /// Puts `next` in `current`'s place, says so (log `what`, event "replaced") and retires
    /// `current`. False if `current` is no longer registered.
    bool take_over(const tool_registry::slot_ptr& current, const tool_registry::slot_ptr& next, std::string_view what);
    /// The retiring generations that share `slot`'s instance (a policy change).
    std::vector<tool_registry::slot_ptr> retiring_sharing(const tool_slot& slot);
    /// A generation of `current`'s tool with the configuration's new policy on the same instance:
    /// nothing is initialized again, breakers whose settings did not change go on.
    void replace_policy(const tool_registry::slot_ptr& current);
    /// Cleans up a retired slot whose calls ended (under the lifecycle mutex).
    void finish_retired(tool_slot& slot, bool removed);

    struct known_file {
        std::optional<file_identity> identity;  // as last looked at
        std::vector<std::string> tools;         // the tools this file provides now
    };
    struct retiring {
        tool_registry::slot_ptr slot;
        bool removed = false;  // no successor: its tool went away
    };

    host_config& config_;  // the host's; a reload assigns it under the lifecycle mutex
    plugin_loader loader_;
    tool_registry& registry_;
    call_pipeline& pipeline_;
    const event_bus& events_;
    call_telemetry& telemetry_;
    std::mutex mutex_;      // serializes start/shutdown/unregister/set_policy and sync's changes
    bool started_ = false;  // start() ran: tools that appear later are started too
    load_report load_report_;
    mutable std::mutex report_mutex_;  // load_report_'s changes, against rejected() on other threads

    std::mutex sync_mutex_;  // one sync (scan + changes) at a time; guards files_ and tool_files_
    std::map<std::filesystem::path, known_file> files_;                     // by canonical path
    std::map<std::string, std::filesystem::path, std::less<>> tool_files_;  // tool -> its file's canonical path

    std::mutex retire_mutex_;
    std::condition_variable retire_cv_;
    std::vector<retiring> retiring_;  // waiting for their calls to end, oldest first
    bool retirer_stop_ = false;
    std::thread retirer_;  // started with the first retirement
};

}  // namespace toolhost::detail

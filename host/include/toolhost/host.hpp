#pragma once
/// The host: a registry of tool factories (from plugin files or in-process), the lifecycle of
/// their instances, and the asynchronous call path onto a thread pool.
///
///     toolhost::host h(config);
///     h.load_plugins();
///     h.start({});
///     h.async_call("echo", "echo", {{"text", "hi"}}, {}, [](toolhost::call_result r) { ... });
///     auto f = h.async_call("echo", "echo", {}, {}, boost::asio::use_future);
///     auto r = co_await h.async_call("echo", "echo", {}, {}, boost::asio::use_awaitable);
///     h.shutdown();   // drains calls in flight, then cleans up in reverse order

#include <toolhost/config.hpp>
#include <toolhost/plugin_loader.hpp>
#include <toolhost/status.hpp>
#include <toolhost/tool_instance.hpp>
#include <toolhost/worker_pool.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace toolhost {

/// Where a registered tool is in its lifecycle.
enum class tool_state {
    registered,    ///< factory known, no instance
    initializing,  ///< instance created, initialize() running
    ready,         ///< accepting calls
    failed,        ///< create or initialize failed (see tool_status::error)
    stopping,      ///< draining calls before cleanup
    stopped,       ///< cleaned up
};
std::string_view tool_state_name(tool_state s) noexcept;

/// A snapshot of one registered tool.
struct tool_status {
    std::string name;
    std::string version;
    std::string plugin;
    bool enabled = true;
    tool_state state = tool_state::registered;
    std::string error;        ///< why it failed, when state == failed
    int64_t in_flight = 0;    ///< calls running now
};

/// How start() creates and initializes the enabled tools.
struct start_options {
    bool concurrent = true;      ///< initialize tools in parallel
    bool fail_on_error = false;  ///< one failure stops everything (and cleans up the others)
    /// Start only these tools (still subject to being enabled), e.g. for `toolhost call`.
    std::optional<std::vector<std::string>> only;
};

/// What start() did.
struct start_report {
    std::vector<std::string> ready;                            ///< initialized, in order
    std::vector<std::pair<std::string, tool_error>> failed;    ///< create/initialize failures
    bool ok() const noexcept { return failed.empty(); }
};

/// Per-call options.
struct call_options {
    std::string request_id;
    std::string session_id;
    std::string traceparent;
    /// The call's deadline. The plugin sees it through remaining_ns()/is_cancelled(); a call
    /// that has not started when it passes fails with DEADLINE_EXCEEDED without running.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    /// Progress reports from the plugin; called on a worker thread.
    progress_handler on_progress;
};

struct host_options {
    host_config config;
    plugin_loader::options loader;
};

namespace detail {
struct tool_slot;
}

class host {
public:
    using executor_type = worker_pool::executor_type;
    using strand_type = boost::asio::strand<executor_type>;

    explicit host(host_options options);
    explicit host(host_config config) : host(host_options{std::move(config), {}}) {}
    /// Shuts down (drains and cleans up) if that has not happened yet.
    ~host();
    host(const host&) = delete;
    host& operator=(const host&) = delete;

    const host_config& config() const noexcept { return config_; }
    executor_type get_executor() noexcept { return pool_.get_executor(); }

    // ------------------------------------------------------------------ registry (seed: ToolRegistry)

    /// Scans the configured plugin directories and registers every valid tool. Rejected files,
    /// refused descriptors and duplicate names are in the returned report; the rest load.
    const load_report& load_plugins();
    /// The last scan's report.
    const load_report& last_load() const noexcept { return load_report_; }

    /// Registers a factory. Fails if the name is taken (the message names the other plugin) or
    /// the descriptor is invalid.
    boost::system::result<void, std::string> register_factory(std::shared_ptr<tool_factory> factory);
    /// Registers the tools of a plugin entry linked into this program (no .so).
    boost::system::result<void, std::string> register_entry(const toolhost_plugin_entry_t* entry,
                                                            std::string name);
    /// Stops the tool if it runs (drains its calls, cleans it up) and removes its factory.
    /// False if no such tool.
    bool unregister(std::string_view name);

    /// Names of registered tools, in registration order.
    std::vector<std::string> list() const;
    /// The descriptor of a registered tool, or null.
    std::shared_ptr<const tool_factory> find(std::string_view name) const;
    /// Status of one tool, or nullopt.
    std::optional<tool_status> status(std::string_view name) const;
    /// Status of every tool, in registration order.
    std::vector<tool_status> status() const;
    /// Problems that would stop the configured tools from starting: configured tools that no
    /// plugin provides, configurations their schema rejects, rejected plugin files. Each entry is
    /// a complete message ("file:line:col: error: /tools/x/config/y: ...").
    std::vector<std::string> validate() const;

    // ------------------------------------------------------------------ lifecycle

    /// Creates and initializes the enabled tools (seed: create_and_initialize_tools). One
    /// failure does not stop the others unless fail_on_error, in which case the tools that did
    /// initialize are cleaned up again, in reverse order.
    start_report start(const start_options& options);

    /// Refuses new calls (UNAVAILABLE), waits for calls in flight, then cleans up every tool in
    /// reverse order of initialization. Idempotent. Must not be called from a pool thread.
    void shutdown();

    // ------------------------------------------------------------------ calls

    /// Calls `operation` of `tool` asynchronously. Arguments are validated against the
    /// operation's input schema before the plugin sees them. Completes with the tool's JSON
    /// result or a tool_error, through any Asio completion token: a callback
    /// `void(call_result)`, boost::asio::use_future, boost::asio::use_awaitable, deferred...
    /// Cancellation: bind a cancellation slot to the token (boost::asio::bind_cancellation_slot);
    /// emitting it marks the call cancelled for the plugin.
    template <class CompletionToken>
    auto async_call(std::string tool, std::string operation, boost::json::value arguments,
                    call_options options, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(call_result)>(
            [this](auto handler, std::string tool, std::string operation, boost::json::value arguments,
                   call_options options) {
                start_call(std::move(handler), tool, operation, arguments, std::move(options));
            },
            token, std::move(tool), std::move(operation), std::move(arguments), std::move(options));
    }

    /// Blocking convenience: async_call + wait. Must not be called from a pool thread.
    call_result call(std::string tool, std::string operation, boost::json::value arguments,
                     call_options options = {});

    /// The number of calls accepted and not yet finished by their plugin.
    int64_t in_flight() const noexcept;

private:
    // A call that passed lookup and validation, ready to run on a worker.
    struct prepared_call {
        detail::tool_slot* slot = nullptr;  // kept alive by the slot's in-flight count
        const operation_descriptor* op = nullptr;
        std::string arguments;
        call_options options;
        std::shared_ptr<call_control> control;
        const strand_type* strand = nullptr;  // null for thread-safe tools
    };

    boost::system::result<prepared_call, tool_error> prepare_call(std::string_view tool,
                                                                  std::string_view operation,
                                                                  const boost::json::value& arguments,
                                                                  call_options&& options);
    call_result run_call(prepared_call& call) noexcept;

    template <class Handler>
    void start_call(Handler handler, std::string_view tool, std::string_view operation,
                    const boost::json::value& arguments, call_options&& options) {
        auto ex = boost::asio::get_associated_executor(handler, pool_.get_executor());
        auto work = boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
        auto prepared = prepare_call(tool, operation, arguments, std::move(options));
        if (!prepared) {
            // Never complete inside the initiating function: post, as Asio operations do.
            boost::asio::post(work, [h = std::move(handler), e = std::move(prepared).error()]() mutable {
                std::move(h)(call_result(std::move(e)));
            });
            return;
        }
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([control = prepared->control](boost::asio::cancellation_type) { control->cancel(); });
        }
        const strand_type* strand = prepared->strand;
        auto job = [this, call = std::move(*prepared), h = std::move(handler), work = std::move(work)]() mutable {
            call_result r = run_call(call);
            boost::asio::dispatch(work, [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
        };
        if (strand != nullptr)
            boost::asio::post(*strand, std::move(job));
        else
            boost::asio::post(pool_, std::move(job));
    }

    detail::tool_slot* find_slot(std::string_view name) const;
    void stop_slot(detail::tool_slot& slot);
    void initialize_slot(detail::tool_slot& slot);
    void release(detail::tool_slot& slot) noexcept;

    host_config config_;
    plugin_loader loader_;
    load_report load_report_;
    worker_pool pool_;

    mutable std::shared_mutex registry_mutex_;
    std::vector<std::shared_ptr<detail::tool_slot>> slots_;  // registration order
    std::map<std::string, std::shared_ptr<detail::tool_slot>, std::less<>> by_name_;

    std::mutex lifecycle_mutex_;  // serializes start/shutdown/unregister
    std::mutex drain_mutex_;
    std::condition_variable drained_;
    std::atomic<bool> shut_down_{false};
    uint64_t next_init_seq_ = 0;
};

}  // namespace toolhost

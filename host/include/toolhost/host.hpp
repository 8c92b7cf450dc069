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

#include <toolhost/call_policy.hpp>
#include <toolhost/clock.hpp>
#include <toolhost/config.hpp>
#include <toolhost/export.hpp>
#include <toolhost/metrics.hpp>
#include <toolhost/plugin_loader.hpp>
#include <toolhost/timer_service.hpp>
#include <toolhost/tracing.hpp>
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

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <string>
#include <type_traits>
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
    /// Replaced by a newer generation (a new build of its plugin file, new settings) or removed:
    /// it finishes the calls it accepted, then is cleaned up; new calls go to the new generation
    /// (or fail as for an unknown tool).
    draining,
};
TOOLHOST_API std::string_view tool_state_name(tool_state s) noexcept;

/// The worker process of a tool that runs isolated (`"isolation": "process"`).
struct worker_status {
    int64_t pid = 0;        ///< the running worker's pid; 0 while none runs
    uint64_t restarts = 0;  ///< workers started after the first (crashes, kills at a deadline)
    /// starting, running, restarting (waiting out the backoff after a crash), failed (too many
    /// crashes: restart the tool), stopped
    std::string state;
    std::string last_exit;  ///< how the last worker ended, e.g. "was killed by signal SIGSEGV (...)"
};

/// A snapshot of one registered tool.
struct tool_status {
    std::string name;
    std::string version;
    std::string plugin;
    bool enabled = true;
    tool_state state = tool_state::registered;
    std::string error;                     ///< why it failed, when state == failed
    int64_t in_flight = 0;                 ///< calls running now
    std::string isolation = "in_process";  ///< in_process or process
    std::optional<worker_status> worker;   ///< when isolation is process and the tool has started
    /// 1 for the tool as first registered; +1 each time a new build or new settings replaced it.
    uint64_t generation = 1;
};

/// What host::sync_plugins() changed.
struct plugin_sync_report {
    std::vector<std::string> added;     ///< tools of new files, registered (and started on a started host)
    std::vector<std::string> replaced;  ///< tools whose new generation took over
    std::vector<std::string> removed;   ///< tools whose file went away or no longer offers them
    /// Files and tools refused, each with the reason; an old generation of a refused tool keeps serving.
    std::vector<rejected_plugin> failed;
    bool changed() const noexcept { return !added.empty() || !replaced.empty() || !removed.empty(); }
};

/// What host::reload() changed.
struct reload_report {
    std::vector<std::string> enabled;    ///< tools enabled (and started on a started host)
    std::vector<std::string> disabled;   ///< tools stopped because they are disabled now
    std::vector<std::string> restarted;  ///< tools whose settings or isolation changed: a new generation
    std::vector<std::string> policies;   ///< tools whose resilience policy changed, on the same instance
    /// Tools whose new generation did not start (the old one serves on), with the reason.
    std::vector<std::pair<std::string, std::string>> failed;
    /// Settings that changed but only a restart applies: "threads", "data_dir", "plugin_dirs",
    /// "tracing", "serve" (listen address, network threads, ...).
    std::vector<std::string> needs_restart;
    bool log_changed = false;  ///< log level or format applied
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
    std::vector<std::string> ready;                          ///< initialized, in order
    std::vector<std::pair<std::string, tool_error>> failed;  ///< create/initialize failures
    bool ok() const noexcept { return failed.empty(); }
};

/// Per-call options.
struct call_options {
    /// Correlation and idempotency id, the same for every attempt of the call. When empty the
    /// host makes one (16 hex digits), so a tool can always use it as an idempotency key.
    std::string request_id;
    std::string session_id;
    std::string traceparent;
    /// The call's deadline. The plugin sees it through remaining_ns()/is_cancelled(); a call
    /// that has not started when it passes fails with DEADLINE_EXCEEDED without running.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    /// Progress reports from the plugin; called on a worker thread.
    progress_handler on_progress;
    /// Who made the call, when it hears log messages and answers requests while the call runs
    /// (an MCP client). Nested calls inherit it.
    std::shared_ptr<call_peer> peer;
};

/// What a shutdown with a grace period left behind.
struct shutdown_report {
    /// The tools with calls still running in plugin code when the grace ran out.
    std::vector<std::string> left_running;
    bool complete() const noexcept { return left_running.empty(); }
};

struct host_options {
    host_config config;
    plugin_loader::options loader;
    /// The policy of every tool until set_policy() says otherwise.
    call_policy default_policy;
    /// Injected time, timers and randomness (tests use manual ones); null: the steady clock,
    /// a timer thread of the host's own, and a per-thread generator.
    const clock* time = nullptr;
    timer_service* timers = nullptr;
    random_source* random = nullptr;
    /// Where finished spans go. Null: the OTLP exporter when the configuration names a
    /// collector (tracing.otlp_endpoint), else no tracing at all.
    std::shared_ptr<span_exporter> exporter;
};

/// What an embedder can watch happen (host::subscribe). Views are valid only during the
/// handler call.
enum class host_event_kind {
    breaker_transition,     ///< a tool's circuit breaker changed state (from, to, message = reason)
    retry,                  ///< a failed attempt will be retried after `delay`
    attempt_timeout,        ///< an attempt hit its deadline; its plugin call was abandoned
    rejection,              ///< a call or retry refused without running (reason, status, message)
    tool_state_changed,     ///< a tool was registered, became ready, failed, stopped or was removed
                            ///< (state; reason "registered" / "unregistered" for those two), a new
                            ///< generation took its place (reason "replaced"), or its plugin file
                            ///< went away (reason "removed"; "unregistered" follows once drained)
    worker_started,         ///< an isolated tool's worker process is ready (pid)
    worker_exited,          ///< an isolated tool's worker process ended (pid; message: how)
    resource_updated,       ///< a tool said that its resource `uri` changed (toolhost/resource_events.h)
    resource_list_changed,  ///< a tool said that the list of its resources changed
    call_failed,            ///< a call the host accepted ended with an error (status, message,
                            ///< request_id; attempt: the attempts made, 0 when none ran)
};
TOOLHOST_API std::string_view host_event_kind_name(host_event_kind k) noexcept;

struct host_event {
    host_event_kind kind{};
    std::string_view tool;
    std::string_view operation;  ///< empty for breaker transitions
    std::string_view request_id;
    uint32_t attempt = 0;  ///< the attempt that failed, timed out or was refused
    status_code status = status_code::ok;
    std::string_view message;                    ///< the error, rejection text or transition reason
    std::string_view reason;                     ///< rejections: circuit_open, bulkhead_full, retry_budget
    std::chrono::nanoseconds delay{};            ///< retries: the backoff before the next attempt
    breaker_state from = breaker_state::closed;  ///< breaker transitions
    breaker_state to = breaker_state::closed;
    tool_state state = tool_state::registered;  ///< tool_state_changed: the state it is in now
    int64_t pid = 0;                            ///< worker_started, worker_exited
    std::string_view uri;                       ///< resource_updated
};
/// Runs synchronously on the thread where the event happened, possibly a worker in the middle
/// of a call: keep it short, never block, never call back into the host's lifecycle functions.
/// Exceptions it throws are caught and logged.
using host_event_handler = std::function<void(const host_event&)>;

namespace detail {
struct tool_slot;
struct call_state;
class event_bus;
class call_telemetry;
class tool_registry;
class call_pipeline;
class tool_lifecycle;

// A move-only, type-erased completion: what the call pipeline hands its result to. A callable
// of up to 64 bytes that moves without throwing (an Asio handler with its work-tracking
// executor, typically) is kept inside, so that a call does not allocate for its completion.
class completion_fn {
public:
    completion_fn() = default;
    template <class F>
    explicit completion_fn(F&& f) {
        using model_t = model<std::decay_t<F>>;
        if constexpr (sizeof(model_t) <= sizeof(buffer_) && alignof(model_t) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<std::decay_t<F>>)
            impl_ = ::new (static_cast<void*>(buffer_)) model_t(std::forward<F>(f));
        else
            impl_ = new model_t(std::forward<F>(f));
    }
    completion_fn(completion_fn&& o) noexcept { take(o); }
    completion_fn& operator=(completion_fn&& o) noexcept {
        if (this != &o) {
            reset();
            take(o);
        }
        return *this;
    }
    ~completion_fn() { reset(); }
    explicit operator bool() const noexcept { return impl_ != nullptr; }
    /// Calls it once; it is empty afterwards.
    void operator()(call_result r) {
        completion_fn self(std::move(*this));
        self.impl_->call(std::move(r));
    }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual void call(call_result r) = 0;
        /// Moves itself into `to` (inside buffers only) and destroys itself.
        virtual concept_t* relocate(void* to) noexcept = 0;
    };
    template <class F>
    struct model final : concept_t {
        template <class G>
        explicit model(G&& g) : fn(std::forward<G>(g)) {}
        void call(call_result r) override { std::move(fn)(std::move(r)); }
        concept_t* relocate(void* to) noexcept override {
            auto* moved = ::new (to) model(std::move(fn));
            this->~model();
            return moved;
        }
        F fn;
    };
    bool is_inline() const noexcept { return static_cast<const void*>(impl_) == static_cast<const void*>(buffer_); }
    void take(completion_fn& o) noexcept {
        if (o.impl_ == nullptr) return;
        impl_ = o.is_inline() ? o.impl_->relocate(buffer_) : o.impl_;
        o.impl_ = nullptr;
    }
    void reset() noexcept {
        if (impl_ == nullptr) return;
        if (is_inline())
            impl_->~concept_t();
        else
            delete impl_;
        impl_ = nullptr;
    }

    alignas(std::max_align_t) unsigned char buffer_[64];
    concept_t* impl_ = nullptr;
};
}  // namespace detail

/// A resolved tool operation, for callers that call the same operation often: it skips the
/// name look-ups. Stays valid (and safe to call with) after the tool stops; calls then fail
/// with UNAVAILABLE.
class operation_ref {
public:
    operation_ref() = default;
    explicit operator bool() const noexcept { return slot_ != nullptr; }
    const operation_descriptor& descriptor() const noexcept { return *op_; }

private:
    friend class host;
    std::shared_ptr<detail::tool_slot> slot_;
    const operation_descriptor* op_ = nullptr;
};

class TOOLHOST_API host : private nested_caller {
public:
    using executor_type = worker_pool::executor_type;
    using strand_type = boost::asio::strand<executor_type>;

    explicit host(host_options options);
    explicit host(host_config config) : host(make_options(std::move(config))) {}
    /// Shuts down (drains and cleans up) if that has not happened yet.
    ~host();
    host(const host&) = delete;
    host& operator=(const host&) = delete;

    /// The configuration in effect. A reload() replaces it: read it on the thread that reloads,
    /// or before serving starts.
    const host_config& config() const noexcept { return config_; }
    executor_type get_executor() noexcept { return pool_.get_executor(); }

    // ------------------------------------------------------------------ registry (seed: ToolRegistry)

    /// Scans the configured plugin directories and registers every valid tool. Rejected files,
    /// refused descriptors and duplicate names are in the returned report; the rest load.
    const load_report& load_plugins();
    /// The last scan's report.
    const load_report& last_load() const noexcept;

    /// Brings the tools in line with the plugin directories as they are now (a rescan; files whose
    /// identity did not change are not looked at again):
    /// - a new file's tools are scanned (in the scanner child), registered and, on a started host,
    ///   initialized, and only then callable;
    /// - a file replaced by a new build (or a tool that moved to another file) gets a new
    ///   generation of each of its tools, started next to the old one (in-process, from a private
    ///   copy of the file; isolated, in a new worker process). New calls then go to the new
    ///   generation at once; calls in flight finish on the old one, which is then cleaned up and
    ///   unloaded. If the new build does not scan, load or initialize, the old generation keeps
    ///   serving and the report says why;
    /// - a removed file's tools take no new calls (unknown tool), finish those in flight, and are
    ///   cleaned up.
    /// Tools registered by the program itself are never touched. One sync runs at a time; it is
    /// thread-safe with calls and with the other lifecycle functions. [serve runs it when a plugin
    /// directory changes]
    plugin_sync_report sync_plugins();

    /// Applies a new configuration while serving (SIGHUP and `POST /v1/admin/reload` of `toolhost
    /// serve`). It is checked first as `toolhost validate` checks one (tools configured that no
    /// plugin provides, configurations their schema rejects): with a problem nothing changes and
    /// the problems are returned. Else, without a failed call: tools disabled now are stopped
    /// (their calls finish), tools enabled now are started; a tool whose "config" or isolation
    /// changed gets a new generation (started next to the old one, as for a new build); one whose
    /// resilience changed gets the new policy on the same instance (nothing is initialized again),
    /// keeping its breakers, bulkhead and retry budget where their settings did not change; the
    /// log level and format and the trust list apply at once. Settings only a restart applies are
    /// kept as they were and named in the report. Thread-safe with calls and the other lifecycle
    /// functions.
    boost::system::result<reload_report, std::vector<std::string>> reload(host_config next);

    /// Registers a factory. Fails if the name is taken (the message names the other plugin) or
    /// the descriptor is invalid.
    boost::system::result<void, std::string> register_factory(std::shared_ptr<tool_factory> factory);
    /// Registers the tools of a plugin entry linked into this program (no .so).
    boost::system::result<void, std::string> register_entry(const toolhost_plugin_entry_t* entry, std::string name);
    /// Stops the tool if it runs (drains its calls, cleans it up) and removes its factory.
    /// False if no such tool.
    bool unregister(std::string_view name);

    /// Sets the resilience policy of a tool, or of one of its operations (deadlines and retry;
    /// the breaker and bulkhead are per tool). Only before the tool starts; the message says
    /// what is wrong otherwise.
    boost::system::result<void, std::string> set_policy(std::string_view tool, call_policy policy);
    boost::system::result<void, std::string> set_operation_policy(std::string_view tool, std::string_view operation,
                                                                  call_policy policy);

    /// Stops the tool if it runs (waiting up to `grace` for its calls) and starts it again with a
    /// fresh instance (and, isolated, a fresh worker process): how a tool that failed, e.g. whose
    /// worker crashed five times within a minute, is brought back. The error says why not.
    boost::system::result<void, tool_error> restart_tool(std::string_view name,
                                                         std::chrono::milliseconds grace = std::chrono::seconds(10));

    /// The seed's reset_circuit_breaker / reset_all_circuit_breakers, plus force-open and
    /// disable. Without an operation they act on every breaker of the tool (its own, or one per
    /// operation with circuit_breaker.per_operation); with one, on the breaker that operation's
    /// calls go through. False if there is no such tool or operation.
    bool reset_circuit_breaker(std::string_view tool, std::string_view operation = {});
    void reset_all_circuit_breakers();
    bool force_open_circuit_breaker(std::string_view tool, std::string_view operation = {});
    bool disable_circuit_breaker(std::string_view tool, std::string_view operation = {});
    /// The counters and state of the breaker `operation`'s calls go through (without an
    /// operation: the tool's breaker, or its first per-operation one), or nullopt if there is
    /// none.
    std::optional<circuit_breaker::snapshot> circuit_breaker_state(std::string_view tool,
                                                                   std::string_view operation = {}) const;
    /// One circuit breaker: the tool's own (operation empty) or one operation's.
    struct breaker_report {
        std::string tool;
        std::string operation;
        circuit_breaker::snapshot state;
        breaker_options options;  ///< what it opens at
    };
    /// Every circuit breaker of every registered tool, in registration order (the seed's
    /// get_tool_metrics view of the breakers; `GET /v1/circuit-breakers` of `toolhost serve`).
    std::vector<breaker_report> circuit_breakers() const;

    /// The counters and call latencies of one operation of a registered tool, cumulative since
    /// the tool was first registered (the numbers /metrics shows; every generation of a tool
    /// adds to the same ones): a dashboard takes the difference between two readings.
    struct operation_stats {
        std::string tool;
        std::string operation;
        std::array<uint64_t, 17> calls{};  ///< finished calls by status_code (index: the code)
        uint64_t retries = 0;
        uint64_t attempt_timeouts = 0;
        uint64_t short_circuited = 0;  ///< calls or retries refused by an open circuit breaker
        uint64_t bulkhead_full = 0;
        uint64_t retry_budget = 0;  ///< retries not made: the retry budget was spent
        /// Call durations, per bucket of default_latency_buckets() (not cumulative; the last
        /// one is +Inf), and their sum.
        std::vector<uint64_t> duration_buckets;
        uint64_t duration_sum_ns = 0;
    };
    /// Every operation of every registered tool, in registration and descriptor order. [thread-safe]
    std::vector<operation_stats> operation_statistics() const;
    /// The plugin files and tools refused now, with the reasons: the last load's, kept current
    /// by sync_plugins(). [thread-safe, unlike last_load()]
    std::vector<rejected_plugin> rejected_plugins() const;

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
    /// shutdown(), waiting at most `grace` for the calls in flight. A tool whose calls are still
    /// in plugin code then is left as it is (not cleaned up) and named in the report: in-process
    /// plugin code cannot be stopped, so such a program ends with std::_Exit() or quick_exit()
    /// (the host's destructor would wait for those calls, as it joins its threads).
    shutdown_report shutdown(std::chrono::milliseconds grace);

    // ------------------------------------------------------------------ calls

    /// Calls `operation` of `tool` asynchronously. Arguments are validated against the
    /// operation's input schema before the plugin sees them. Completes with the tool's JSON
    /// result or a tool_error, through any Asio completion token: a callback
    /// `void(call_result)`, boost::asio::use_future, boost::asio::use_awaitable, deferred...
    /// Cancellation: bind a cancellation slot to the token (boost::asio::bind_cancellation_slot);
    /// emitting it marks the call cancelled for the plugin.
    template <class CompletionToken>
    auto async_call(std::string tool, std::string operation, boost::json::value arguments, call_options options,
                    CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(call_result)>(
            [this](auto handler, std::string tool, std::string operation, boost::json::value arguments,
                   call_options options) {
                start_call(std::move(handler), tool, operation, arguments, std::move(options));
            },
            token, std::move(tool), std::move(operation), std::move(arguments), std::move(options));
    }

    /// Blocking convenience: async_call + wait. Must not be called from a pool thread.
    call_result call(std::string tool, std::string operation, boost::json::value arguments, call_options options = {});

    /// Looks up a tool's operation once, for call_inline().
    boost::system::result<operation_ref, tool_error> resolve(std::string_view tool, std::string_view operation) const;

    /// The inline path: runs the call on the calling thread, through the same validation,
    /// deadline, retry, circuit breaker, bulkhead, logs, traces and metrics as async_call.
    /// Differences, because the caller's thread is the one running the plugin:
    /// - an attempt timeout cannot abandon the plugin call; the plugin sees the deadline through
    ///   is_cancelled()/remaining_ns() and the result it returns is the attempt's result;
    /// - retries and bulkhead queueing wait on this thread (cancellable through the deadline);
    /// - a tool that is not thread-safe is called through its strand and waited for (so never
    ///   call it from a pool thread with every worker busy).
    /// No heap allocation for a successful call of a thread-safe tool whose input schema takes
    /// any object, with small arguments and result, logging below info and no tracing.
    call_result call_inline(const operation_ref& target, const boost::json::value& arguments,
                            const call_options& options = {});
    call_result call_inline(std::string_view tool, std::string_view operation, const boost::json::value& arguments,
                            const call_options& options = {});

    /// Subscribes to host events (breaker transitions, retries, timeouts, rejections). Returns
    /// an id for unsubscribe(). With no subscriber, a call pays one relaxed atomic load per
    /// event site. [thread-safe]
    uint64_t subscribe(host_event_handler handler);
    bool unsubscribe(uint64_t id);

    /// The number of calls accepted and not yet finished by their plugin.
    int64_t in_flight() const noexcept;

    /// The host's metrics (calls by status, latencies, retries, rejections, breaker state,
    /// timeouts, abandoned and in-flight calls), for Prometheus or JSON output.
    metrics_registry& metrics() noexcept { return metrics_; }
    const metrics_registry& metrics() const noexcept { return metrics_; }

    /// Calls abandoned at their deadline whose plugin call has not returned yet.
    int64_t abandoned_calls() const noexcept;

private:
    using completion = detail::completion_fn;
    static host_options make_options(host_config config) {
        host_options o;
        o.config = std::move(config);
        return o;
    }

    // The asynchronous path's entry into the pipeline (host/src/pipeline/call_pipeline.cpp).
    boost::system::result<std::shared_ptr<detail::call_state>, tool_error> prepare_call(
        std::string_view tool, std::string_view operation, const boost::json::value& arguments, call_options&& options);
    void launch(std::shared_ptr<detail::call_state> call, completion done);
    // The call's control, for a cancellation slot: weak, so that a slot kept after the call
    // finished does not keep the call's state alive.
    static std::weak_ptr<call_control> caller_control(const std::shared_ptr<detail::call_state>& call) noexcept;
    call_result call_nested(const invocation& parent, std::string_view tool, std::string_view operation,
                            std::string_view arguments) noexcept override;

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
            slot.assign([control = caller_control(*prepared)](boost::asio::cancellation_type) {
                if (auto c = control.lock()) c->cancel();
            });
        }
        // The handler runs on its own executor, which is kept busy (outstanding work) until then.
        launch(std::move(*prepared),
               completion([h = std::move(handler), work = std::move(work)](call_result r) mutable {
                   boost::asio::dispatch(
                       work, [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
               }));
    }

    // The rooms of the host (host/src/*/), in construction order; each is reached through the
    // ones declared before it.
    host_config config_;
    const clock* clock_;
    std::unique_ptr<timer_service> own_timers_;
    timer_service* timers_;
    random_source* random_;
    metrics_registry metrics_;  // before the registry, whose slots hold references into it
    worker_pool pool_;
    std::unique_ptr<detail::event_bus> events_;
    std::unique_ptr<detail::call_telemetry> telemetry_;
    std::unique_ptr<detail::tool_registry> registry_;  // after the pool: strands use its executor
    std::unique_ptr<detail::call_pipeline> pipeline_;
    std::unique_ptr<detail::tool_lifecycle> lifecycle_;
};

}  // namespace toolhost

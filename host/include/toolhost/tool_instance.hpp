#pragma once
/// The interface every tool instance is behind: the in-process C ABI adapter, a tool isolated in
/// a worker process (a child that loads the plugin and talks to the host over a socket) and the
/// C++ tools of an embedding program all implement it, and the call path sees no difference.

#include <toolhost/clock.hpp>
#include <toolhost/export.hpp>
#include <toolhost/status.hpp>
#include <toolhost/tool_descriptor.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace toolhost {

/// Receives progress reports of a running call: done so far, total (<= 0 when unknown), message.
using progress_handler = std::function<void(double, double, std::string_view)>;

/// The party a call came from, when it can hear from the call while it runs (an MCP client):
/// the call's log messages and requests of the plugin's to it ("toolhost.client/1").
/// Implementations are thread-safe; the plugin's worker thread calls them.
class TOOLHOST_API call_peer {
public:
    virtual ~call_peer() = default;
    /// Whether log messages at `level` (TOOLHOST_LOG_*) are wanted.
    virtual bool wants_log(int32_t level) const noexcept = 0;
    /// A log message of the call; `logger` names its source ("<tool>.<operation>").
    virtual void log(int32_t level, std::string_view logger, std::string_view message) noexcept = 0;
    /// Sends `method` with `params` (a JSON object as text, or empty) and waits for the answer
    /// until `control` is cancelled or its deadline passes. The result is the answer's JSON.
    virtual call_result request(std::string_view method, std::string_view params,
                                const class call_control& control) noexcept = 0;
};

/// The state a caller shares with one running call: cancellation, deadline and progress.
/// Thread-safe: the caller cancels from any thread while the tool polls.
class call_control {
public:
    using time_point = clock::time_point;

    call_control() = default;
    /// `parent`, when given, cancels this call too (the caller's cancellation of a call that
    /// spans several attempts). `clk` must outlive the control.
    explicit call_control(std::optional<time_point> deadline, const clock& clk = steady_clock_instance(),
                          std::shared_ptr<const call_control> parent = nullptr)
        : deadline_(deadline), clock_(&clk), parent_(std::move(parent)) {}

    /// True once cancel() was called (here or on the parent) or the deadline has passed.
    bool cancelled() const noexcept { return cancel_requested() || (deadline_ && clock_->now() >= *deadline_); }
    /// True only if cancel() was called (not merely the deadline).
    bool cancel_requested() const noexcept {
        return cancelled_.load(std::memory_order_acquire) || (parent_ && parent_->cancel_requested());
    }
    void cancel() noexcept { cancelled_.store(true, std::memory_order_release); }

    const std::optional<time_point>& deadline() const noexcept { return deadline_; }
    /// Moves the deadline. Only while no plugin call uses this control (the inline path reuses
    /// one control across the attempts of a call).
    void set_deadline(std::optional<time_point> deadline) noexcept { deadline_ = deadline; }
    /// Time left; nanoseconds::max() without a deadline.
    std::chrono::nanoseconds remaining() const noexcept {
        if (!deadline_) return std::chrono::nanoseconds::max();
        return std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline_ - clock_->now());
    }

    void set_progress_handler(progress_handler h) { progress_ = std::move(h); }
    void report_progress(double done, double total, std::string_view message) const {
        if (progress_)
            progress_(done, total, message);
        else if (parent_)
            parent_->report_progress(done, total, message);
    }

    /// The party the call came from (set before the call starts), or the parent's, or null.
    void set_peer(std::shared_ptr<call_peer> p) { peer_ = std::move(p); }
    call_peer* peer() const noexcept { return peer_ ? peer_.get() : parent_ ? parent_->peer() : nullptr; }

private:
    std::atomic<bool> cancelled_{false};
    std::optional<time_point> deadline_;
    const clock* clock_ = &steady_clock_instance();
    std::shared_ptr<const call_control> parent_;
    progress_handler progress_;
    std::shared_ptr<call_peer> peer_;
};

struct invocation;

/// Lets a running call call another tool (the "toolhost.tool_caller/1" ABI extension). The host
/// implements it; `parent` is the running call, whose deadline, cancellation, ids and trace
/// context the nested call inherits.
class TOOLHOST_API nested_caller {
public:
    virtual call_result call_nested(const invocation& parent, std::string_view tool, std::string_view operation,
                                    std::string_view arguments) noexcept = 0;

protected:
    ~nested_caller() = default;
};

/// Everything an instance needs for one call. All views stay valid until invoke() returns.
struct invocation {
    std::string_view tool;
    std::string_view operation;
    std::string_view arguments;  ///< a JSON object, validated against the input schema
    std::string_view request_id;
    std::string_view session_id;
    std::string_view traceparent;
    uint32_t attempt = 1;
    const call_control* control = nullptr;  ///< never null when called by the host
    nested_caller* nested = nullptr;        ///< null: this call cannot call other tools
    uint32_t nesting = 0;                   ///< 0 for a call from outside, 1 for a nested call, ...
};

/// What an instance tells the host outside its calls' results: that its resources changed (the
/// "toolhost.resource_events/1" ABI extension, toolhost/resource_events.h). The host implements
/// it and checks what it is told. Thread-safe and non-blocking: an instance calls it from any
/// thread while it lives.
class TOOLHOST_API instance_events {
public:
    /// The resource `uri`, one the tool's resource_read operation serves, changed or is gone.
    virtual void resource_updated(std::string_view uri) noexcept = 0;
    /// The list of the tool's resources changed.
    virtual void resource_list_changed() noexcept = 0;

protected:
    ~instance_events() = default;
};

/// What the host hands a factory for one new instance.
struct instance_context {
    /// Where the instance reports changes of its resources; null when nobody listens (an instance
    /// made outside a host). It outlives the instance.
    std::shared_ptr<instance_events> events;
};

/// One live instance of a tool.
class TOOLHOST_API tool_instance {
public:
    virtual ~tool_instance() = default;

    /// Prepares the instance with its validated configuration (a JSON object) and a data folder
    /// that exists. Called once, before any invoke().
    virtual void_result initialize(std::string_view config_json, const std::filesystem::path& data_dir) = 0;

    /// Runs one operation. Never throws: failures are values. Called concurrently only if the
    /// tool's descriptor says thread_safe.
    virtual call_result invoke(const invocation& call) noexcept = 0;

    /// Releases what initialize() acquired; only after a successful initialize() and after the
    /// last invoke() returned.
    virtual void cleanup() noexcept = 0;
};

/// Creates instances of one tool. The registry keeps one factory per tool name.
class TOOLHOST_API tool_factory {
public:
    virtual ~tool_factory() = default;
    virtual const tool_descriptor& descriptor() const noexcept = 0;
    virtual boost::system::result<std::unique_ptr<tool_instance>, tool_error> create(
        const instance_context& context) = 0;
};

/// A factory for in-process C++ tools (embedders, no .so): `make` builds a fresh instance.
TOOLHOST_API std::shared_ptr<tool_factory> make_tool_factory(tool_descriptor descriptor,
                                                             std::function<std::unique_ptr<tool_instance>()> make);
/// The same for a tool that reports changes of its resources: `make` gets the instance's context
/// and keeps its `events`.
TOOLHOST_API std::shared_ptr<tool_factory> make_tool_factory(
    tool_descriptor descriptor, std::function<std::unique_ptr<tool_instance>(const instance_context&)> make);

}  // namespace toolhost

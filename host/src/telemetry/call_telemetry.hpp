#pragma once
// What a call leaves behind: its metrics, its log lines, its span and the host events about it.
// The pipeline says what happened; this class decides how it is recorded. The metric handles
// of a tool are installed here too, once, when the tool is registered.

#include "pipeline/call_state.hpp"
#include "telemetry/event_bus.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/metrics.hpp>
#include <toolhost/retry_policy.hpp>
#include <toolhost/tracing.hpp>

#include <atomic>
#include <functional>
#include <memory>

namespace toolhost::detail {

class call_telemetry {
public:
    call_telemetry(metrics_registry& metrics, const event_bus& events, std::shared_ptr<span_exporter> exporter,
                   double sample_ratio, random_source& random);

    // --- a tool's instruments
    /// Looks up the slot's metric handles (counters and histograms, shared by every generation
    /// of the tool).
    void install(tool_slot& slot);
    /// Registers the slot's gauges, which read the slot: when it becomes the tool's current
    /// generation. Again after its breakers change.
    void publish(tool_slot& slot);
    /// Removes the slot's gauges (before the slot goes away, or another generation takes over).
    void uninstall(tool_slot& slot);
    /// The metrics of an isolated tool's worker process (once the tool runs isolated).
    void install_worker(tool_slot& slot);
    /// Counts, logs and reports the transitions of the breaker of `slot` (of `op`, when given).
    std::function<void(const breaker_transition&)> watch_breaker(const tool_slot& slot, const operation_descriptor* op);

    // --- a call, in the order the pipeline reports it
    /// The span and the "call started" line, when tracing or info logging is on.
    void begin(call_core& core) {
        if (exporter_ || logging::enabled(logging::level::info)) begin_traced(core);
    }
    void circuit_open(const call_core& core, const tool_error& e, clock::time_point now);
    void bulkhead_full(const call_core& core, const tool_error& e);
    void attempt_timed_out(const call_core& core, const tool_error& e);
    void attempt_finished(call_core& core, const call_result& r, clock::time_point started, clock::time_point ended) {
        core.metrics->attempt_duration->observe(ended - started);
        if (core.span) span_attempt(core, r, started, ended);
    }
    /// An abandoned plugin call returned after its caller was answered.
    void abandoned_returned(const call_core& core, const call_result& r, clock::time_point started,
                            clock::time_point ended);
    void budget_exhausted(const call_core& core, const tool_error& error);
    void retrying(call_core& core, const tool_error& error, std::chrono::nanoseconds delay, clock::time_point now);
    void end(call_core& core, const call_result& result, clock::time_point ended) {
        core.metrics->calls[static_cast<std::size_t>(result ? status_code::ok : result.error().code)]->inc();
        core.metrics->call_duration->observe(ended - core.started);
        if (!result && events_.active()) [[unlikely]]
            failed(core, result.error());
        if (core.span || logging::enabled(logging::level::info)) end_traced(core, result, ended);
    }

    /// Calls abandoned at their deadline whose plugin call has not returned yet.
    int64_t abandoned() const noexcept { return abandoned_.load(std::memory_order_relaxed); }
    /// Sends the spans still queued (at shutdown).
    void flush();

private:
    void begin_traced(call_core& core);
    void span_attempt(call_core& core, const call_result& r, clock::time_point started, clock::time_point ended);
    void end_traced(call_core& core, const call_result& result, clock::time_point ended);
    void failed(const call_core& core, const tool_error& error);

    metrics_registry& metrics_;
    const event_bus& events_;
    std::shared_ptr<span_exporter> exporter_;
    double sample_ratio_;
    random_source& random_;
    std::atomic<int64_t> abandoned_{0};
};

}  // namespace toolhost::detail

#include "telemetry/call_telemetry.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace toolhost::detail {

namespace {

namespace json = boost::json;

json::value opt_string(std::string_view s) { return s.empty() ? json::value() : json::value(s); }

double ms(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string_view status_text(const call_result& r) { return r ? std::string_view("OK") : status_name(r.error().code); }

// An event about one call; the caller sets the kind-specific fields (reason, delay).
host_event call_event(host_event_kind kind, const call_core& core, uint32_t attempt, status_code status,
                      std::string_view message, std::string_view reason = {}) {
    host_event ev;
    ev.kind = kind;
    ev.tool = core.slot->name;
    ev.operation = core.op->name;
    ev.request_id = core.request_id;
    ev.attempt = attempt;
    ev.status = status;
    ev.message = message;
    ev.reason = reason;
    return ev;
}

// Span times are wall-clock; the pipeline measures on the (injectable) monotonic clock. A span
// keeps its wall-clock start and adds monotonic durations to it, for every event, so that the
// events' order is the pipeline's own (and a virtual clock in a test moves them too).
std::chrono::system_clock::time_point wall_at(const span_data& span, clock::time_point started, clock::time_point t) {
    return span.start + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - started);
}

}  // namespace

call_telemetry::call_telemetry(metrics_registry& metrics, const event_bus& events,
                               std::shared_ptr<span_exporter> exporter, double sample_ratio, random_source& random)
    : metrics_(metrics), events_(events), exporter_(std::move(exporter)), sample_ratio_(sample_ratio), random_(random) {
}

// ------------------------------------------------------------------------- a tool's instruments

void call_telemetry::install(tool_slot& slot) {
    auto& calls = metrics_.counters("toolhost_tool_calls_total", "Calls finished, by tool, operation and status.",
                                    {"tool", "operation", "status"});
    auto& call_duration =
        metrics_.histograms("toolhost_tool_call_duration_seconds",
                            "Call latency from submit to result, retries included.", {"tool", "operation"});
    auto& attempt_duration = metrics_.histograms("toolhost_tool_attempt_duration_seconds",
                                                 "Latency of one attempt (one plugin call).", {"tool", "operation"});
    auto& retries = metrics_.counters("toolhost_tool_retries_total", "Retries made.", {"tool", "operation"});
    auto& timeouts =
        metrics_.counters("toolhost_tool_attempt_timeouts_total",
                          "Attempts that hit their deadline (their plugin call abandoned).", {"tool", "operation"});
    auto& rejections =
        metrics_.counters("toolhost_tool_rejections_total", "Calls or retries refused without running, by reason.",
                          {"tool", "operation", "reason"});
    for (const auto& op : slot.descriptor().operations) {
        tool_slot::op_metrics m;
        for (std::size_t code = 0; code < m.calls.size(); ++code)
            m.calls[code] = &calls.with({slot.name, op.name, status_name(static_cast<status_code>(code))});
        m.call_duration = &call_duration.with({slot.name, op.name});
        m.attempt_duration = &attempt_duration.with({slot.name, op.name});
        m.retries = &retries.with({slot.name, op.name});
        m.timeouts = &timeouts.with({slot.name, op.name});
        m.rejected_breaker = &rejections.with({slot.name, op.name, "circuit_open"});
        m.rejected_bulkhead = &rejections.with({slot.name, op.name, "bulkhead_full"});
        m.rejected_budget = &rejections.with({slot.name, op.name, "retry_budget"});
        slot.metrics_by_op.push_back(m);
    }
}

void call_telemetry::publish(tool_slot& slot) {
    // Gauges read at render time. The slot outlives them: uninstall() removes them first.
    tool_slot* s = &slot;
    metrics_.gauges("toolhost_tool_in_flight", "Calls accepted and not finished, plus plugin calls running.", {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->in_flight.total()); });
    metrics_
        .gauges("toolhost_tool_abandoned_calls",
                "Plugin calls still running after their caller was answered with DEADLINE_EXCEEDED.", {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->abandoned.load()); });
    metrics_
        .gauges("toolhost_tool_circuit_breaker_state",
                "Circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled.", {"tool"})
        .set_callback({slot.name}, [s] { return s->breaker ? static_cast<double>(s->breaker->state()) : 4.0; });
    metrics_
        .gauges("toolhost_tool_state",
                "Lifecycle state: 0 registered, 1 initializing, 2 ready, 3 failed, 4 stopping, 5 stopped, 6 draining.",
                {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->state.load()); });
    metrics_
        .gauges("toolhost_tool_generation", "The tool's generation: 1, then +1 for each new build or new settings.",
                {"tool"})
        .set_callback({slot.name}, [s] { return static_cast<double>(s->generation); });
    auto& op_state = metrics_.gauges(
        "toolhost_operation_circuit_breaker_state",
        "Per-operation circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled.",
        {"tool", "operation"});
    for (std::size_t i = 0; i < slot.op_breakers.size(); ++i)
        if (slot.op_breakers[i])
            op_state.set_callback({slot.name, slot.descriptor().operations[i].name}, [s, i] {
                return s->op_breakers[i] ? static_cast<double>(s->op_breakers[i]->state()) : 4.0;
            });
    if (slot.worker->isolated())
        metrics_
            .gauges("toolhost_tool_worker_pid", "The pid of an isolated tool's worker process; 0 while none runs.",
                    {"tool"})
            .set_callback({slot.name}, [s] { return static_cast<double>(s->worker->pid()); });
    slot.published = true;
}

void call_telemetry::install_worker(tool_slot& slot) {
    slot.worker->set_restart_counter(
        &metrics_
             .counters("toolhost_tool_worker_restarts_total",
                       "Worker processes of an isolated tool started after the first (after a crash or a kill).",
                       {"tool"})
             .with({slot.name}));
    slot.worker->set_exit_counters(
        &metrics_.counters("toolhost_tool_worker_exits_total",
                           "Ends of an isolated tool's worker processes, by how: a signal (SIGSEGV, ...), exit_<code>, "
                           "or killed_by_host (a call past its grace, a shutdown).",
                           {"tool", "reason"}),
        slot.name);
    // A generation that is not serving yet gets its gauge when it takes over (publish()).
    if (slot.published) publish(slot);
}

void call_telemetry::uninstall(tool_slot& slot) {
    if (!std::exchange(slot.published, false)) return;
    for (auto family : {"toolhost_tool_in_flight", "toolhost_tool_abandoned_calls",
                        "toolhost_tool_circuit_breaker_state", "toolhost_tool_state", "toolhost_tool_generation"})
        metrics_.gauges(family, "", {"tool"}).remove_callback({slot.name});
    if (slot.worker->isolated()) metrics_.gauges("toolhost_tool_worker_pid", "", {"tool"}).remove_callback({slot.name});
    for (std::size_t i = 0; i < slot.op_breakers.size(); ++i)
        if (slot.op_breakers[i])
            metrics_.gauges("toolhost_operation_circuit_breaker_state", "", {"tool", "operation"})
                .remove_callback({slot.name, slot.descriptor().operations[i].name});
}

std::function<void(const breaker_transition&)> call_telemetry::watch_breaker(const tool_slot& slot,
                                                                             const operation_descriptor* op) {
    counter_family& transitions =
        op ? metrics_.counters("toolhost_operation_circuit_breaker_transitions_total",
                               "State changes of per-operation circuit breakers, by the state entered.",
                               {"tool", "operation", "to"})
           : metrics_.counters("toolhost_tool_circuit_breaker_transitions_total",
                               "Circuit breaker state changes, by the state entered.", {"tool", "to"});
    std::array<counter*, 5> to{};
    for (std::size_t i = 0; i < to.size(); ++i) {
        const auto state = breaker_state_name(static_cast<breaker_state>(i));
        to[i] = op ? &transitions.with({slot.name, op->name, state}) : &transitions.with({slot.name, state});
    }
    return [this, tool = slot.name, operation = op ? op->name : std::string(), to](const breaker_transition& t) {
        if (static_cast<std::size_t>(t.to) < to.size()) to[static_cast<std::size_t>(t.to)]->inc();
        host_event ev;
        ev.kind = host_event_kind::breaker_transition;
        ev.tool = tool;
        ev.operation = operation;
        ev.message = t.reason;
        ev.from = t.from;
        ev.to = t.to;
        events_.emit(ev);
        logging::write(logging::level::warning, "breaker", "circuit breaker changed state",
                       {{"tool", tool},
                        {"operation", opt_string(operation)},
                        {"from", breaker_state_name(t.from)},
                        {"to", breaker_state_name(t.to)},
                        {"reason", t.reason}});
    };
}

// ------------------------------------------------------------------------------------ a call

void call_telemetry::begin_traced(call_core& core) {
    if (exporter_) {
        // Sampling: a caller's traceparent decides (its sampled flag); without one, the ratio.
        auto parent =
            core.options->traceparent.empty() ? std::nullopt : trace_context::parse(core.options->traceparent);
        const bool sampled = parent ? parent->sampled() : (sample_ratio_ >= 1.0 || random_.next_unit() < sample_ratio_);
        if (sampled) {
            auto span = std::make_unique<span_data>();
            trace_context own;
            if (parent) {
                own.trace_id = parent->trace_id;
                span->parent_span_id = parent->span_id;
            } else {
                random_id(random_, own.trace_id.data(), own.trace_id.size());
            }
            random_id(random_, own.span_id.data(), own.span_id.size());
            own.flags = 1;
            span->trace_id = own.trace_id;
            span->span_id = own.span_id;
            span->name = "tool." + core.slot->name + "." + core.op->name;
            span->start = std::chrono::system_clock::now();
            core.own_traceparent = own.to_traceparent();
            core.span = std::move(span);
        }
    }
    if (logging::enabled(logging::level::info)) {
        logging::write(logging::level::info, "call", "call started",
                       {{"tool", core.slot->name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"traceparent", opt_string(core.plugin_traceparent())}});
    }
}

void call_telemetry::circuit_open(const call_core& core, const tool_error& e, clock::time_point now) {
    core.metrics->rejected_breaker->inc();
    if (core.span)
        core.span->events.push_back(
            {"rejected", wall_at(*core.span, core.started, now), {{"reason", std::string("circuit_open")}}});
    events_.emit(call_event(host_event_kind::rejection, core, core.attempts + 1, e.code, e.message, "circuit_open"));
}

void call_telemetry::bulkhead_full(const call_core& core, const tool_error& e) {
    core.metrics->rejected_bulkhead->inc();
    events_.emit(call_event(host_event_kind::rejection, core, core.attempts, e.code, e.message, "bulkhead_full"));
}

void call_telemetry::attempt_timed_out(const call_core& core, const tool_error& e) {
    abandoned_.fetch_add(1);
    core.slot->abandoned.fetch_add(1);
    core.metrics->timeouts->inc();
    logging::write(logging::level::warning, "call", "attempt timed out; plugin call abandoned",
                   {{"tool", core.slot->name},
                    {"operation", core.op->name},
                    {"request_id", opt_string(core.request_id)},
                    {"attempt", core.attempts}});
    events_.emit(call_event(host_event_kind::attempt_timeout, core, core.attempts, e.code, e.message));
}

void call_telemetry::span_attempt(call_core& core, const call_result& r, clock::time_point started,
                                  clock::time_point ended) {
    attributes a{{"attempt", static_cast<int64_t>(core.attempts)},
                 {"status", std::string(status_text(r))},
                 {"duration_ms", ms(ended - started)}};
    if (!r) a.emplace_back("error", r.error().message);
    core.span->events.push_back({"attempt", wall_at(*core.span, core.started, ended), std::move(a)});
}

void call_telemetry::abandoned_returned(const call_core& core, const call_result& r, clock::time_point started,
                                        clock::time_point ended) {
    core.metrics->attempt_duration->observe(ended - started);
    abandoned_.fetch_sub(1);
    core.slot->abandoned.fetch_sub(1);
    logging::write(logging::level::info, "call", "abandoned plugin call finished",
                   {{"tool", core.slot->name},
                    {"operation", core.op->name},
                    {"request_id", opt_string(core.request_id)},
                    {"duration_ms", ms(ended - started)},
                    {"status", status_text(r)}});
}

void call_telemetry::budget_exhausted(const call_core& core, const tool_error& error) {
    core.metrics->rejected_budget->inc();
    logging::write(
        logging::level::warning, "call", "retry budget exhausted; not retrying",
        {{"tool", core.slot->name}, {"operation", core.op->name}, {"request_id", opt_string(core.request_id)}});
    events_.emit(call_event(host_event_kind::rejection, core, core.attempts, error.code, "retry budget exhausted",
                            "retry_budget"));
}

void call_telemetry::retrying(call_core& core, const tool_error& error, std::chrono::nanoseconds delay,
                              clock::time_point now) {
    const auto wait = std::chrono::duration_cast<clock::duration>(delay);
    core.metrics->retries->inc();
    if (logging::enabled(logging::level::info))
        logging::write(logging::level::info, "call", "retrying",
                       {{"tool", core.slot->name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"attempt", core.attempts},
                        {"status", status_name(error.code)},
                        {"error", error.message},
                        {"delay_ms", ms(wait)}});
    if (core.span)
        core.span->events.push_back({"retry",
                                     wall_at(*core.span, core.started, now),
                                     {{"attempt", static_cast<int64_t>(core.attempts)}, {"delay_ms", ms(wait)}}});
    host_event ev = call_event(host_event_kind::retry, core, core.attempts, error.code, error.message);
    ev.delay = delay;
    events_.emit(ev);
}

void call_telemetry::failed(const call_core& core, const tool_error& error) {
    events_.emit(call_event(host_event_kind::call_failed, core, core.attempts, error.code, error.message));
}

void call_telemetry::end_traced(call_core& core, const call_result& result, clock::time_point ended) {
    if (logging::enabled(logging::level::info)) {
        logging::write(logging::level::info, "call", "call finished",
                       {{"tool", core.slot->name},
                        {"operation", core.op->name},
                        {"request_id", opt_string(core.request_id)},
                        {"session_id", opt_string(core.options->session_id)},
                        {"attempt", core.attempts},
                        {"duration_ms", ms(ended - core.started)},
                        {"status", status_text(result)},
                        {"error", result ? json::value() : json::value(result.error().message)}});
    }
    if (!core.span) return;
    auto& span = *core.span;
    span.end = wall_at(span, core.started, ended);
    span.attributes = {{"toolhost.tool", core.slot->name},
                       {"toolhost.operation", core.op->name},
                       {"toolhost.attempts", static_cast<int64_t>(core.attempts)},
                       {"toolhost.status", std::string(status_text(result))}};
    span.attributes.emplace_back("toolhost.request_id", std::string(core.request_id));
    if (!core.options->session_id.empty())
        span.attributes.emplace_back("toolhost.session_id", core.options->session_id);
    if (core.nesting > 0) span.attributes.emplace_back("toolhost.nesting", static_cast<int64_t>(core.nesting));
    if (!result) {
        span.error = true;
        span.status_message = result.error().message;
    }
    exporter_->export_span(std::move(span));
    core.span.reset();
}

void call_telemetry::flush() {
    if (exporter_) exporter_->flush(std::chrono::seconds(5));
}

}  // namespace toolhost::detail

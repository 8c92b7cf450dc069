// The facade: host's public API, each function handed to the room that owns it (registry/,
// lifecycle/, pipeline/, telemetry/).

#include <toolhost/host.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/logging.hpp>

#include "lifecycle/tool_lifecycle.hpp"
#include "pipeline/call_errors.hpp"
#include "pipeline/call_pipeline.hpp"
#include "registry/tool_registry.hpp"
#include "telemetry/call_telemetry.hpp"
#include "telemetry/event_bus.hpp"

#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <thread>

namespace toolhost {

namespace json = boost::json;

namespace {

unsigned thread_count(unsigned configured) {
    if (configured > 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

// The exporter spans go to: the embedder's, else the OTLP one the configuration names, if any.
std::shared_ptr<span_exporter> make_exporter(const host_config& config, std::shared_ptr<span_exporter> given,
                                             metrics_registry& metrics) {
    if (!config.tracing || given) return given;
    std::string error;
    auto exporter = otlp_http_exporter::create(config.tracing->exporter, metrics, &error);
    if (!exporter)
        logging::write(logging::level::error, "trace", "tracing is off: cannot create the OTLP exporter",
                       {{"endpoint", config.tracing->exporter.endpoint}, {"error", error}});
    return exporter;
}

}  // namespace

std::string_view tool_state_name(tool_state s) noexcept {
    switch (s) {
    case tool_state::registered: return "registered";
    case tool_state::initializing: return "initializing";
    case tool_state::ready: return "ready";
    case tool_state::failed: return "failed";
    case tool_state::stopping: return "stopping";
    case tool_state::stopped: return "stopped";
    case tool_state::draining: return "draining";
    }
    return "unknown";
}

host::host(host_options options)
    : config_(std::move(options.config)), clock_(options.time ? options.time : &steady_clock_instance()),
      own_timers_(options.timers ? nullptr : std::make_unique<thread_timer_service>()),
      timers_(options.timers ? options.timers : own_timers_.get()),
      random_(options.random ? options.random : &default_random()), pool_(thread_count(config_.threads)) {
    // The configuration's log settings apply to the whole process: Boost.Log is process-wide.
    logging::init(logging::parse_level(config_.log_level).value_or(logging::level::info),
                  logging::parse_format(config_.log_format).value_or(logging::format::text));
    events_ = std::make_unique<detail::event_bus>();
    telemetry_ = std::make_unique<detail::call_telemetry>(
        metrics_, *events_, make_exporter(config_, std::move(options.exporter), metrics_),
        config_.tracing ? config_.tracing->sample_ratio : 1.0, *random_);
    registry_ = std::make_unique<detail::tool_registry>(config_, std::move(options.default_policy), *clock_,
                                                        *telemetry_, pool_.get_executor());
    pipeline_ = std::make_unique<detail::call_pipeline>(*registry_, *telemetry_, pool_, *clock_, *timers_, *random_,
                                                        static_cast<nested_caller&>(*this));
    lifecycle_ = std::make_unique<detail::tool_lifecycle>(config_, options.loader, *registry_, *pipeline_, *events_,
                                                          *telemetry_);
}

host::~host() {
    shutdown();
    pool_.join();
}

// ------------------------------------------------------------------------------------ registry

const load_report& host::load_plugins() { return lifecycle_->load_plugins(); }
const load_report& host::last_load() const noexcept { return lifecycle_->last_load(); }
plugin_sync_report host::sync_plugins() { return lifecycle_->sync_plugins(); }

boost::system::result<void, std::string> host::register_factory(std::shared_ptr<tool_factory> factory) {
    return lifecycle_->register_factory(std::move(factory));
}

boost::system::result<void, std::string> host::register_entry(const toolhost_plugin_entry_t* entry, std::string name) {
    return lifecycle_->register_entry(entry, std::move(name));
}

bool host::unregister(std::string_view name) { return lifecycle_->unregister(name); }

boost::system::result<void, std::string> host::set_policy(std::string_view tool, call_policy policy) {
    return lifecycle_->set_policy(tool, std::move(policy));
}

boost::system::result<void, std::string> host::set_operation_policy(std::string_view tool, std::string_view operation,
                                                                    call_policy policy) {
    return lifecycle_->set_operation_policy(tool, operation, std::move(policy));
}

bool host::reset_circuit_breaker(std::string_view tool, std::string_view operation) {
    return registry_->for_breakers(tool, operation, [](circuit_breaker& b) { b.reset(); });
}

void host::reset_all_circuit_breakers() { registry_->reset_all_breakers(); }

bool host::force_open_circuit_breaker(std::string_view tool, std::string_view operation) {
    return registry_->for_breakers(tool, operation, [](circuit_breaker& b) { b.force_open(); });
}

bool host::disable_circuit_breaker(std::string_view tool, std::string_view operation) {
    return registry_->for_breakers(tool, operation, [](circuit_breaker& b) { b.disable(); });
}

std::optional<circuit_breaker::snapshot> host::circuit_breaker_state(std::string_view tool,
                                                                     std::string_view operation) const {
    std::optional<circuit_breaker::snapshot> out;
    registry_->for_breakers(tool, operation, [&](circuit_breaker& b) {
        if (!out) out = b.get_snapshot();  // the tool's own breaker comes first
    });
    return out;
}

std::vector<host::breaker_report> host::circuit_breakers() const { return registry_->breakers(); }
std::vector<host::operation_stats> host::operation_statistics() const { return registry_->operation_statistics(); }
std::vector<rejected_plugin> host::rejected_plugins() const { return lifecycle_->rejected(); }
std::vector<std::string> host::list() const { return registry_->list(); }

std::shared_ptr<const tool_factory> host::find(std::string_view name) const {
    auto slot = registry_->find(name);
    return slot ? slot->factory : nullptr;
}

std::optional<tool_status> host::status(std::string_view name) const { return registry_->status(name); }
std::vector<tool_status> host::status() const { return registry_->status(); }
std::vector<std::string> host::validate() const { return lifecycle_->validate(); }

boost::system::result<reload_report, std::vector<std::string>> host::reload(host_config next) {
    return lifecycle_->reload(std::move(next));
}

// ------------------------------------------------------------------------------------ lifecycle

start_report host::start(const start_options& options) { return lifecycle_->start(options); }

boost::system::result<void, tool_error> host::restart_tool(std::string_view name, std::chrono::milliseconds grace) {
    return lifecycle_->restart(name, std::chrono::steady_clock::now() + grace);
}

void host::shutdown() {
    if (!lifecycle_->shutdown(std::nullopt)) return;
    telemetry_->flush();
    logging::write(logging::level::debug, "lifecycle", "host shut down");
}

shutdown_report host::shutdown(std::chrono::milliseconds grace) {
    auto left = lifecycle_->shutdown(std::chrono::steady_clock::now() + grace);
    if (!left) return {};
    telemetry_->flush();
    logging::write(logging::level::debug, "lifecycle", "host shut down", {{"left_running", left->size()}});
    return {std::move(*left)};
}

// ------------------------------------------------------------------------------------ calls

boost::system::result<std::shared_ptr<detail::call_state>, tool_error> host::prepare_call(std::string_view tool,
                                                                                          std::string_view operation,
                                                                                          const json::value& arguments,
                                                                                          call_options&& options) {
    return pipeline_->prepare(tool, operation, arguments, std::move(options));
}

void host::launch(std::shared_ptr<detail::call_state> call, completion done) {
    pipeline_->launch(std::move(call), std::move(done));
}

std::weak_ptr<call_control> host::caller_control(const std::shared_ptr<detail::call_state>& call) noexcept {
    return std::shared_ptr<call_control>(call, &call->caller);
}

call_result host::call(std::string tool, std::string operation, json::value arguments, call_options options) {
    auto f = async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                        boost::asio::use_future);
    return f.get();
}

boost::system::result<operation_ref, tool_error> host::resolve(std::string_view tool,
                                                               std::string_view operation) const {
    operation_ref ref;
    ref.slot_ = registry_->find(tool);
    if (!ref.slot_) return detail::call_errors::no_such_tool(tool);
    const auto& d = ref.slot_->descriptor();
    ref.op_ = d.find_operation(operation);
    if (ref.op_ == nullptr) return detail::call_errors::no_such_operation(d, operation);
    return ref;
}

call_result host::call_inline(std::string_view tool, std::string_view operation, const json::value& arguments,
                              const call_options& options) {
    auto target = resolve(tool, operation);
    if (!target) return std::move(target).error();
    return call_inline(*target, arguments, options);
}

call_result host::call_inline(const operation_ref& target, const json::value& arguments, const call_options& options) {
    if (!target) return make_tool_error(status_code::invalid_argument, "call_inline: empty operation_ref");
    return pipeline_->call_inline(*target.slot_, target.op_, arguments, {}, options, nullptr, 0);
}

// A tool calling another tool: the nested call inherits the running call's ids, trace context,
// deadline and cancellation, and runs inline on the running call's thread.
call_result host::call_nested(const invocation& parent, std::string_view tool, std::string_view operation,
                              std::string_view arguments) noexcept {
    constexpr uint32_t max_nesting = 8;
    try {
        if (tool == parent.tool)
            return make_tool_error(status_code::failed_precondition,
                                   "tool '" + std::string(tool) + "' cannot call itself through the host");
        if (parent.nesting + 1 > max_nesting)
            return make_tool_error(
                status_code::failed_precondition,
                "nested tool calls go deeper than " + std::to_string(max_nesting) + " levels (a cycle?)");
        auto parsed = parse_json_input(arguments, default_json_max_depth);
        if (!parsed)
            return make_tool_error(status_code::invalid_argument,
                                   "arguments for " + std::string(tool) + "." + std::string(operation) +
                                       " are not valid JSON: " + parsed.error().to_string());
        const json::value& args = *parsed;
        auto target = resolve(tool, operation);
        if (!target) return std::move(target).error();
        // A host started with only some tools (`toolhost call` starts just the one it calls)
        // starts an enabled tool that another tool calls on first use.
        if (target->slot_->state.load() == tool_state::registered && target->slot_->enabled.load())
            lifecycle_->start_on_demand(*target->slot_);
        call_options options;
        options.request_id = std::string(parent.request_id);
        options.session_id = std::string(parent.session_id);
        options.traceparent = std::string(parent.traceparent);
        if (parent.control && parent.control->deadline()) options.deadline = *parent.control->deadline();
        return pipeline_->call_inline(*target->slot_, target->op_, args, arguments, options, parent.control,
                                      parent.nesting + 1);
    } catch (const std::bad_alloc&) {
        return make_tool_error(status_code::resource_exhausted, "out of memory in a nested tool call");
    } catch (const std::exception& e) {
        return make_tool_error(status_code::internal, std::string("nested tool call failed: ") + e.what());
    }
}

// ------------------------------------------------------------------------------------ events

uint64_t host::subscribe(host_event_handler handler) { return events_->subscribe(std::move(handler)); }
bool host::unsubscribe(uint64_t id) { return events_->unsubscribe(id); }

int64_t host::in_flight() const noexcept { return registry_->in_flight(); }
int64_t host::abandoned_calls() const noexcept { return telemetry_->abandoned(); }

}  // namespace toolhost

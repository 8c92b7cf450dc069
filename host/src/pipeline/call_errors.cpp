#include "pipeline/call_errors.hpp"

#include "loading/plugin_source.hpp"

#include <string>

namespace toolhost::detail::call_errors {

namespace json = boost::json;

namespace {

std::string join_names(const std::vector<operation_descriptor>& ops) {
    std::string s;
    for (const auto& o : ops) {
        if (!s.empty()) s += ", ";
        s += o.name;
    }
    return s;
}

// " (plugin /path/file.so)" for a tool loaded from a file; empty for one the program registered.
std::string plugin_of(const tool_slot& slot) {
    const auto* from_file = dynamic_cast<const plugin_file_factory*>(slot.factory.get());
    if (from_file == nullptr) return {};
    const auto source = from_file->source();
    return source ? " (plugin " + source->file.string() + ")" : std::string();
}

std::string_view kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

std::string tool_operation(const call_core& core) { return core.slot->name + "." + core.op->name; }

}  // namespace

tool_error no_such_tool(std::string_view tool) {
    return make_tool_error(status_code::not_found, "no tool named '" + std::string(tool) + "'");
}

tool_error no_such_operation(const tool_descriptor& d, std::string_view operation) {
    return make_tool_error(status_code::not_found, "tool '" + d.name + "' has no operation '" + std::string(operation) +
                                                       "' (operations: " + join_names(d.operations) + ")");
}

tool_error host_shut_down() {
    return make_tool_error(status_code::unavailable, "the host is shut down; no new calls are accepted");
}

tool_error not_ready(const tool_slot& slot, tool_state state) {
    if (!slot.enabled.load() && state != tool_state::draining)
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot.name + "' is disabled in the configuration");
    switch (state) {
    case tool_state::failed:
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot.name + "' is not available: it failed to start: " + slot.error_text());
    case tool_state::stopping:
    case tool_state::stopped: return make_tool_error(status_code::unavailable, "tool '" + slot.name + "' is shut down");
    case tool_state::draining: return make_tool_error(status_code::not_found, "tool '" + slot.name + "' was removed");
    default:
        return make_tool_error(status_code::failed_precondition,
                               "tool '" + slot.name + "' is not initialized (state: " +
                                   std::string(tool_state_name(state)) + "); start the host first");
    }
}

tool_error not_an_object(const tool_slot& slot, const operation_descriptor& op, const json::value& arguments) {
    return make_tool_error(status_code::invalid_argument, "arguments of " + slot.name + "." + op.name +
                                                              " must be a JSON object, got " +
                                                              std::string(kind_name(arguments)));
}

tool_error invalid_arguments(const tool_slot& slot, const operation_descriptor& op, std::string_view problem) {
    return make_tool_error(status_code::invalid_argument,
                           "invalid arguments for " + slot.name + "." + op.name + ": " + std::string(problem));
}

tool_error cancelled(const call_core& core) {
    return make_tool_error(status_code::cancelled, core.attempts == 0 ? "the call was cancelled before it started"
                                                                      : "the call was cancelled between attempts");
}

tool_error deadline_passed(const call_core& core) {
    return make_tool_error(status_code::deadline_exceeded,
                           "the deadline passed before " + tool_operation(core) +
                               (core.attempts == 0 ? " started" : " could be tried again"));
}

tool_error bulkhead_full(const tool_slot& slot) {
    return make_tool_error(status_code::resource_exhausted,
                           "tool '" + slot.name + "' is at its concurrency limit (" +
                               std::to_string(slot.bulkhead->options().max_concurrent) + " running, " +
                               std::to_string(slot.bulkhead->options().max_queue) + " queued)");
}

tool_error deadline_passed_in_queue(const call_core& core) {
    return make_tool_error(status_code::deadline_exceeded,
                           "the deadline passed while " + tool_operation(core) + " waited for a free slot");
}

tool_error cancelled_before_plugin() {
    return make_tool_error(status_code::cancelled, "cancelled before the plugin ran");
}

tool_error attempt_timed_out(const call_core& core) {
    return make_tool_error(
        status_code::deadline_exceeded,
        tool_operation(core) + " did not answer by its deadline (attempt " + std::to_string(core.attempts) + ")");
}

tool_error stopped_at_deadline(const call_core& core, std::string_view message) {
    return make_tool_error(status_code::deadline_exceeded,
                           tool_operation(core) + " stopped at its deadline: " + std::string(message));
}

tool_error shut_down_before_retry(const tool_slot& slot) {
    return make_tool_error(status_code::unavailable,
                           "tool '" + slot.name + "' shut down before the call could be retried");
}

tool_error strand_from_worker(const tool_slot& slot) {
    return make_tool_error(
        status_code::failed_precondition,
        "call_inline of '" + slot.name + "' (not thread-safe) from a worker thread would wait on the pool it occupies");
}

tool_error strand_reentered(const tool_slot& slot) {
    return make_tool_error(status_code::failed_precondition,
                           "'" + slot.name +
                               "' is not thread-safe and is already serving this chain of calls; "
                               "calling it again would wait for itself");
}

// The plugin is at fault, not the caller: INTERNAL, with what the author has to change.
tool_error result_not_json(const tool_slot& slot, const operation_descriptor& op, std::string_view problem) {
    return make_tool_error(status_code::internal, slot.name + "." + op.name + plugin_of(slot) +
                                                      " returned a result that is not JSON (" + std::string(problem) +
                                                      "); its output_schema needs a JSON value");
}

tool_error result_breaks_output_schema(const tool_slot& slot, const operation_descriptor& op,
                                       std::string_view problem) {
    return make_tool_error(status_code::internal,
                           slot.name + "." + op.name + plugin_of(slot) +
                               " returned a result that does not match its output_schema: " + std::string(problem));
}

}  // namespace toolhost::detail::call_errors

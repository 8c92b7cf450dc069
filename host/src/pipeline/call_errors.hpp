#pragma once
// Every error the pipeline itself answers a call with, worded once for both paths. The
// wording says what happened to which tool and operation, and what to do where that helps.

#include "pipeline/call_state.hpp"

#include <boost/json/value.hpp>

#include <string_view>

namespace toolhost::detail::call_errors {

tool_error no_such_tool(std::string_view tool);
tool_error no_such_operation(const tool_descriptor& d, std::string_view operation);
tool_error host_shut_down();
/// A tool that is not ready: failed to start, shut down, or not started yet.
tool_error not_ready(const tool_slot& slot, tool_state state);
tool_error not_an_object(const tool_slot& slot, const operation_descriptor& op, const boost::json::value& arguments);
tool_error invalid_arguments(const tool_slot& slot, const operation_descriptor& op, std::string_view problem);
tool_error cancelled(const call_core& core);
tool_error deadline_passed(const call_core& core);
tool_error bulkhead_full(const tool_slot& slot);
tool_error deadline_passed_in_queue(const call_core& core);
tool_error cancelled_before_plugin();
tool_error attempt_timed_out(const call_core& core);
tool_error stopped_at_deadline(const call_core& core, std::string_view message);
tool_error shut_down_before_retry(const tool_slot& slot);
tool_error strand_from_worker(const tool_slot& slot);
tool_error strand_reentered(const tool_slot& slot);
/// The plugin answered OK with a result that is not JSON, or that breaks the operation's
/// declared output_schema (`problem` says where and how).
tool_error result_not_json(const tool_slot& slot, const operation_descriptor& op, std::string_view problem);
tool_error result_breaks_output_schema(const tool_slot& slot, const operation_descriptor& op, std::string_view problem);

}  // namespace toolhost::detail::call_errors

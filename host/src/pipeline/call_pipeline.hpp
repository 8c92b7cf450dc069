#pragma once
// The call pipeline: the steps every call goes through, in call_pipeline.cpp in the order they
// run, and the two ways of chaining them: asynchronously (launch: each step hands over to the
// next, across the worker pool and timers) and inline (call_inline: a loop on the caller's
// thread).

#include "pipeline/call_state.hpp"
#include "registry/tool_registry.hpp"
#include "telemetry/call_telemetry.hpp"

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <memory>
#include <optional>
#include <string_view>

namespace toolhost::detail {

class call_pipeline {
public:
    /// `nested` is what a running call calls other tools through (the host).
    call_pipeline(tool_registry& registry, call_telemetry& telemetry, worker_pool& pool, const clock& clk,
                  timer_service& timers, random_source& random, nested_caller& nested);

    /// Looks the call up and checks it (host::async_call before it returns): the tool's
    /// in-flight count is raised on success, until the call finishes.
    boost::system::result<std::shared_ptr<call_state>, tool_error> prepare(std::string_view tool,
                                                                           std::string_view operation,
                                                                           const boost::json::value& arguments,
                                                                           call_options&& options);
    /// Runs a prepared call asynchronously; `done` gets its result, once.
    void launch(std::shared_ptr<call_state> call, completion_fn done);

    /// Runs a call on this thread (host::call_inline). `arguments_text`, when not empty, is
    /// `arguments` as the caller already has it in text (a nested call's). `parent`: the
    /// running call that makes this one, for nested calls.
    call_result call_inline(tool_slot& slot, const operation_descriptor* op, const boost::json::value& arguments,
                            std::string_view arguments_text, const call_options& options, const call_control* parent,
                            uint32_t nesting);

    /// Ends the calls of `slot` that wait for a retry (the tool is stopping).
    void end_waiting_retries(tool_slot& slot);

private:
    struct retry_plan {
        bool retry = false;
        clock::time_point at{};
    };

    // --- the steps, in order
    std::optional<tool_error> check(tool_slot& slot, const operation_descriptor* op,
                                    const boost::json::value& arguments);
    void open(call_core& core, clock::time_point now);
    std::optional<tool_error> admit(call_core& core, const call_control& caller, circuit_breaker::admission& adm,
                                    clock::time_point now);
    tool_error refuse_entry(call_core& core, const circuit_breaker::admission& adm);
    tool_error leave_queue(call_core& core, const circuit_breaker::admission& adm);
    call_result invoke(call_core& core, std::string_view arguments, const call_control& control);
    static void check_result(const call_core& core, call_result& r);
    /// How deep a result checked against an output_schema may nest.
    static constexpr std::size_t result_max_depth = 512;
    retry_plan settle(call_core& core, const call_control& caller, const circuit_breaker::admission& adm,
                      call_result& result, bool breaker_told, clock::time_point ended);
    retry_plan plan_retry(call_core& core, const call_control& caller, const tool_error& error);

    // --- the asynchronous chain
    void do_admit(const std::shared_ptr<call_state>& call, clock::time_point now);
    void do_enter(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm,
                  clock::time_point now);
    bool on_slot_free(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm);
    void do_run(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm, clock::time_point now);
    void on_worker(const std::shared_ptr<attempt_state>& attempt);
    void on_attempt_timeout(const std::shared_ptr<attempt_state>& attempt);
    void do_settle(const std::shared_ptr<call_state>& call, const circuit_breaker::admission& adm, call_result result,
                   bool breaker_told, clock::time_point ended);
    void do_retry(const std::shared_ptr<call_state>& call, clock::time_point at);
    void on_retry_timer(const std::shared_ptr<call_state>& call);
    void do_finish(const std::shared_ptr<call_state>& call, call_result result, clock::time_point now);

    // --- the inline loop's waits and detours
    /// call_inline() on the generation that replaced `retired` (or on the tool of its name now).
    call_result call_successor(const tool_slot& retired, const operation_descriptor* op,
                               const boost::json::value& arguments, std::string_view arguments_text,
                               const call_options& options, const call_control* parent, uint32_t nesting);
    std::optional<tool_error> wait_for_bulkhead(call_core& core, const call_control& caller,
                                                const circuit_breaker::admission& adm);
    bool wait_for_retry(clock::time_point at, const call_control& caller);
    call_result call_through_strand(tool_slot& slot, const operation_descriptor* op,
                                    const boost::json::value& arguments, const call_options& options,
                                    const call_control* parent, uint32_t nesting);

    tool_registry& registry_;
    call_telemetry& telemetry_;
    worker_pool& pool_;
    const clock& clock_;
    timer_service& timers_;
    random_source& random_;
    nested_caller& nested_;
};

}  // namespace toolhost::detail

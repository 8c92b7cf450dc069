#pragma once
// What a call carries through the pipeline (call_core, on both paths), what an asynchronous
// call adds (call_state), and one asynchronous attempt (attempt_state).

#include "registry/tool_slot.hpp"

#include <toolhost/tracing.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::detail {

struct call_core {
    tool_slot* slot = nullptr;  // alive while the slot's in_flight counts this call
    const operation_descriptor* op = nullptr;
    const call_policy* policy = nullptr;
    tool_slot::op_metrics* metrics = nullptr;
    circuit_breaker* breaker = nullptr;  // the tool's or the operation's; null when disabled
    const call_options* options = nullptr;
    // The total deadline; max(): none. A plain time_point, not an optional: it is read right
    // after open() writes it, and copying a just-written optional stalled store forwarding.
    clock::time_point deadline = clock::time_point::max();
    clock::time_point started;
    uint32_t attempts = 0;            // attempts started; only touched by one step at a time
    uint32_t nesting = 0;             // 0: called from outside; n: a tool's nested call, n deep
    std::string_view request_id;      // the caller's, or generated_id
    char generated_id[16];            // a request id made by the host when the caller gave none
    std::unique_ptr<span_data> span;  // set when the call is traced (sampled)
    std::string own_traceparent;      // the traceparent naming `span`, handed to the plugin

    /// Points the core at `op` of `s`, with the policy, metrics and breaker its calls use.
    void target(tool_slot& s, const operation_descriptor* o) noexcept {
        slot = &s;
        op = o;
        policy = &s.policy_of(o);
        metrics = &s.metrics_for(o);
        breaker = s.breaker_for(o);
    }
    bool has_deadline() const noexcept { return deadline != clock::time_point::max(); }
    // An attempt starting at `start`: the call's deadline or the attempt timeout, the sooner.
    clock::time_point attempt_deadline(clock::time_point start) const noexcept {
        return policy->attempt_timeout ? std::min(deadline, start + *policy->attempt_timeout) : deadline;
    }
    static std::optional<clock::time_point> optional_deadline(clock::time_point d) noexcept {
        return d == clock::time_point::max() ? std::nullopt : std::optional<clock::time_point>(d);
    }
    std::string_view plugin_traceparent() const noexcept {
        return span ? std::string_view(own_traceparent) : std::string_view(options->traceparent);
    }
};

// One asynchronous call: from prepare to the completion handler, across attempts.
struct call_state {
    explicit call_state(const clock& clk) : caller(std::nullopt, clk) {}
    call_core core;
    std::string arguments;
    call_options options;
    call_control caller;  // the caller's cancellation and progress; shared by aliasing the call
    completion_fn done;
    std::atomic<bool> finished{false};
};

// One asynchronous attempt: whichever comes first, the plugin's return or the attempt's
// deadline, decides it.
struct attempt_state {
    attempt_state(std::shared_ptr<call_state> c, const circuit_breaker::admission& adm,
                  std::optional<clock::time_point> deadline, const clock& clk, clock::time_point queued)
        : call(std::move(c)), started(queued), admission(adm),
          control(deadline, clk, std::shared_ptr<const call_control>(call, &call->caller)) {}
    std::shared_ptr<call_state> call;
    // When the plugin call began; until then, when the attempt was queued. Atomic: the timeout
    // reads it on the timer thread while the worker may be writing it.
    std::atomic<clock::time_point> started;
    circuit_breaker::admission admission;
    call_control control;
    std::atomic<bool> decided{false};
    std::optional<timer_service::timer_id> timer;
    std::mutex timer_mutex;
};

}  // namespace toolhost::detail

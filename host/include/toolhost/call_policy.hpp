#pragma once
/// The resilience policy of a tool or operation: deadlines, retry, circuit breaker, bulkhead.

#include <toolhost/bulkhead.hpp>
#include <toolhost/circuit_breaker.hpp>
#include <toolhost/retry_policy.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace toolhost {

struct call_policy {
    /// The total deadline of a call, retries and backoff included (the caller's own deadline
    /// applies too; the earlier wins). nullopt: none.
    std::optional<std::chrono::milliseconds> timeout{std::chrono::seconds(60)};
    /// The deadline of one attempt. nullopt: none.
    std::optional<std::chrono::milliseconds> attempt_timeout{std::chrono::seconds(15)};
    retry_options retry;
    /// Overrides the operation's IDEMPOTENT flag for retry decisions.
    std::optional<bool> idempotent;
    bool breaker_enabled = true;
    breaker_options breaker;
    bulkhead_options bulkhead;
    /// Retry budget: retries allowed per call, and a floor per second for quiet tools.
    double retry_budget_ratio = 0.1;
    uint32_t retry_budget_min_per_second = 10;
};

/// Empty when the policy can work; otherwise one line per problem. Rejects combinations whose
/// worst case (attempts x attempt timeout + backoff) does not fit in the total deadline.
std::string validate(const call_policy& p);

}  // namespace toolhost

#pragma once
/// The resilience policy of a tool or operation: deadlines, retry, circuit breaker, bulkhead.

#include <toolhost/bulkhead.hpp>
#include <toolhost/circuit_breaker.hpp>
#include <toolhost/export.hpp>
#include <toolhost/retry_policy.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
    /// One breaker per operation instead of one per tool: an operation that fails (say, a
    /// write path) then does not shut off the tool's other operations.
    bool breaker_per_operation = false;
    breaker_options breaker;
    bulkhead_options bulkhead;
    /// Retry budget: retries allowed per call, and a floor per second for quiet tools.
    double retry_budget_ratio = 0.1;
    uint32_t retry_budget_min_per_second = 10;
};

/// Applies a "resilience" object of the configuration over `policy`: only the keys present
/// change (timeout_ms, attempt_timeout_ms, idempotent, retry{...}, circuit_breaker{...},
/// bulkhead{...}; see docs/resilience.md). Every problem is returned as (JSON pointer relative to
/// `settings`, message); unknown keys are problems.
TOOLHOST_API std::vector<std::pair<std::string, std::string>> apply_resilience(call_policy& policy,
                                                                               const boost::json::object& settings);

/// Empty when the policy can work; otherwise one line per problem. Rejects combinations whose
/// worst case (attempts x attempt timeout + backoff) does not fit in the total deadline.
TOOLHOST_API std::string validate(const call_policy& p);

}  // namespace toolhost

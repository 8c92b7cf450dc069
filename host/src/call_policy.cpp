#include <toolhost/call_policy.hpp>

namespace toolhost {

std::string validate(const call_policy& p) {
    std::string problems;
    auto add = [&](const std::string& line) {
        if (!problems.empty()) problems += "; ";
        problems += line;
    };
    if (auto r = validate(p.retry); !r.empty()) add(r);
    if (p.timeout && p.timeout->count() <= 0) add("timeout: must be positive");
    if (p.attempt_timeout && p.attempt_timeout->count() <= 0) add("attempt_timeout: must be positive");
    if (p.bulkhead.max_concurrent == 0) add("bulkhead.max_concurrent: must be at least 1");
    if (p.retry_budget_ratio < 0) add("retry_budget_ratio: must not be negative");
    if (p.timeout && p.attempt_timeout) {
        auto worst = worst_case_total(p.retry, *p.attempt_timeout);
        if (worst > *p.timeout)
            add("attempts x attempt_timeout + backoff (" +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(worst).count()) +
                " ms) does not fit in timeout (" + std::to_string(p.timeout->count()) +
                " ms): the last attempts could never run; lower max_attempts or attempt_timeout, or raise timeout");
    }
    return problems;
}

}  // namespace toolhost

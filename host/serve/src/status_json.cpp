#include <toolhost/serve/status_json.hpp>

#include <algorithm>

namespace toolhost::serve {

void add_status_json(boost::json::object& o, const tool_status& s) {
    o["state"] = tool_state_name(s.state);
    o["enabled"] = s.enabled;
    if (!s.error.empty()) o["error"] = s.error;
    o["isolation"] = s.isolation;
    if (s.worker) {
        boost::json::object w{{"pid", s.worker->pid}, {"state", s.worker->state}, {"restarts", s.worker->restarts}};
        if (!s.worker->last_exit.empty()) w["last_exit"] = s.worker->last_exit;
        o["worker"] = std::move(w);
    }
}

boost::json::object breaker_json(const host::breaker_report& b, clock::time_point now) {
    boost::json::value next_probe = nullptr;
    if (b.state.state == breaker_state::open || b.state.state == breaker_state::half_open)
        next_probe = std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(b.state.next_probe_at - now).count());
    return {{"tool", b.tool},
            {"operation", b.operation.empty() ? boost::json::value(nullptr) : boost::json::value(b.operation)},
            {"state", breaker_state_name(b.state.state)},
            {"calls", b.state.calls},
            {"failures", b.state.failures},
            {"consecutive_failures", b.state.consecutive_failures},
            {"failure_rate", b.state.failure_rate},
            {"transitions", b.state.transitions},
            {"failure_rate_threshold", b.options.failure_rate},
            {"minimum_calls", b.options.minimum_calls},
            {"consecutive_failures_threshold", b.options.consecutive_failures},
            {"next_probe_in_ms", std::move(next_probe)}};
}

}  // namespace toolhost::serve

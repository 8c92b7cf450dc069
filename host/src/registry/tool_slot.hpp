#pragma once
// One registered tool: its factory, its instance once started, and the resilience state and
// metric handles its calls use. Owned by the tool_registry; the pipeline reaches it through a
// raw pointer that the slot's in_flight count keeps valid.

#include "execution/sharded_count.hpp"
#include "isolation/worker_monitor.hpp"

#include <toolhost/bulkhead.hpp>
#include <toolhost/call_policy.hpp>
#include <toolhost/circuit_breaker.hpp>
#include <toolhost/host.hpp>
#include <toolhost/metrics.hpp>
#include <toolhost/retry_policy.hpp>
#include <toolhost/timer_service.hpp>
#include <toolhost/tool_instance.hpp>
#include <toolhost/worker_pool.hpp>

#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace toolhost::detail {

struct call_state;

struct tool_slot {
    using strand_type = boost::asio::strand<worker_pool::executor_type>;

    tool_slot(std::shared_ptr<tool_factory> f, worker_pool::executor_type ex)
        : factory(std::move(f)), name(factory->descriptor().name), operations(factory->descriptor().operations.data()) {
        if (!factory->descriptor().thread_safe) strand.emplace(ex);
    }

    const tool_descriptor& descriptor() const noexcept { return factory->descriptor(); }

    void set_error(std::optional<tool_error> e) {
        std::lock_guard lock(error_mutex);
        error = std::move(e);
    }
    std::optional<tool_error> get_error() const {
        std::lock_guard lock(error_mutex);
        return error;
    }
    std::string error_text() const {
        auto e = get_error();
        return e ? e->to_string() : std::string();
    }

    std::shared_ptr<tool_factory> factory;
    std::string name;
    const operation_descriptor* operations;  // the descriptor's (it never changes), for index_of()
    std::atomic<tool_state> state{tool_state::registered};
    // Written only under the lifecycle mutex, before ready. Shared with the generation that takes
    // this one's place when only its resilience policy changed (a reload): the same instance
    // serves on, and the last generation holding it cleans it up.
    std::shared_ptr<tool_instance> instance;
    std::optional<strand_type> strand;  // serializes calls of tools that are not thread-safe (shared with the instance)
    sharded_count in_flight;            // calls accepted and not finished, plus plugin calls running
    std::atomic<bool> enabled{true};    // as configured; written under the lifecycle mutex

    // Generations: a new build of the tool's plugin file (or new settings) is a new slot that
    // takes this one's place in the registry. The old one is then `retired`: it finishes the calls
    // it accepted (state draining), and callers that still hold it (an operation_ref) go on to
    // `successor`, or, without one (the tool was removed), look the name up again. Both are
    // written before the state becomes draining and never change after.
    std::uint64_t generation = 1;
    std::atomic<bool> retired{false};
    std::shared_ptr<tool_slot> successor;
    bool published = false;  // its gauges are registered (it is, or was, the current generation)

    // Resilience state, installed from the policy when the slot is created or the policy set.
    call_policy policy;
    std::map<std::string, call_policy, std::less<>> operation_policies;
    // Shared with the next generation when their settings did not change, so that a reload or a
    // new build keeps an open breaker open and the bulkhead's limit holds across the switch.
    std::shared_ptr<circuit_breaker> breaker;                   // the tool's, when enabled
    std::vector<std::shared_ptr<circuit_breaker>> op_breakers;  // by operation index; set when per-operation
    std::shared_ptr<toolhost::bulkhead> bulkhead;
    std::shared_ptr<retry_budget> budget;
    // Metric handles, looked up once at registration so the call path only increments.
    struct op_metrics {
        std::array<counter*, 17> calls{};  // by status code
        histogram* call_duration = nullptr;
        histogram* attempt_duration = nullptr;
        counter* retries = nullptr;
        counter* timeouts = nullptr;
        counter* rejected_breaker = nullptr;  // refused by an open breaker (short-circuited)
        counter* rejected_bulkhead = nullptr;
        counter* rejected_budget = nullptr;
    };
    std::vector<op_metrics> metrics_by_op;  // in the descriptor's operation order
    std::atomic<int64_t> abandoned{0};
    // The worker process, when the tool runs isolated; shared like the instance.
    std::shared_ptr<worker_monitor> worker = std::make_shared<worker_monitor>();

    std::size_t index_of(const operation_descriptor* op) const noexcept {
        return static_cast<std::size_t>(op - operations);
    }
    op_metrics& metrics_for(const operation_descriptor* op) { return metrics_by_op[index_of(op)]; }
    /// The breaker a call of `op` goes through: the operation's own, else the tool's (or none).
    circuit_breaker* breaker_for(const operation_descriptor* op) const noexcept {
        const std::size_t i = index_of(op);
        if (i < op_breakers.size() && op_breakers[i]) return op_breakers[i].get();
        return breaker.get();
    }

    // Calls waiting for a retry timer, so that stopping the tool can end them at once.
    std::mutex retry_mutex;
    std::map<timer_service::timer_id, std::shared_ptr<call_state>> waiting_retries;

    const call_policy& policy_for(std::string_view op) const {
        auto it = operation_policies.find(op);
        return it != operation_policies.end() ? it->second : policy;
    }
    // policy_for() of each operation, by operation index, for the call path (no name lookup).
    // Rebuilt by tool_registry::install_breakers(), which runs after every policy change.
    std::vector<const call_policy*> policy_by_op;
    const call_policy& policy_of(const operation_descriptor* op) const noexcept { return *policy_by_op[index_of(op)]; }
    mutable std::mutex error_mutex;
    std::optional<tool_error> error;  // why the last start failed
};

}  // namespace toolhost::detail

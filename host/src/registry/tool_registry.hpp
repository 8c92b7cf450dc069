#pragma once
// The registered tools: a name -> slot map in registration order, each slot's resilience
// policy and breakers, the in-flight count that keeps a slot alive while calls use it, and the
// registry's read-only views (list, status, breakers, validate).

#include "registry/tool_slot.hpp"

#include <toolhost/config.hpp>
#include <toolhost/plugin_loader.hpp>

#include <boost/system/result.hpp>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::detail {

class call_telemetry;

class tool_registry {
public:
    using slot_ptr = std::shared_ptr<tool_slot>;

    tool_registry(const host_config& config, call_policy default_policy, const clock& clk, call_telemetry& telemetry,
                  worker_pool::executor_type executor);

    /// A slot for `factory` with the policy the configuration gives it and its metric handles,
    /// not registered yet (a new generation is started before it takes the old one's place).
    boost::system::result<slot_ptr, std::string> make_slot(std::shared_ptr<tool_factory> factory);
    /// Registers a factory with the policy the configuration gives it. The message names the
    /// other plugin on a duplicate name.
    boost::system::result<slot_ptr, std::string> add(std::shared_ptr<tool_factory> factory);
    /// Registers a slot from make_slot(); the same message on a duplicate name.
    boost::system::result<void, std::string> insert(const slot_ptr& slot);
    /// Puts `next` in the place of `current` (the same name, at the same position) in one step:
    /// new calls find `next`, and `current` is retired (draining, its successor `next`). False if
    /// `current` is not registered any more.
    bool replace(const slot_ptr& current, slot_ptr next);
    /// Takes the slot out of the map (no new call finds it); null if there is no such tool.
    slot_ptr remove(std::string_view name);
    /// The same, retiring it (draining): the calls it accepted still finish, the others find no
    /// such tool. Null if there is no such tool.
    slot_ptr retire(std::string_view name);
    /// Lets `next` (a new generation of `current`'s tool) go on with `current`'s circuit breakers,
    /// bulkhead and retry budget where their settings did not change: an open breaker stays open,
    /// and the bulkhead's limit holds across the switch.
    void carry_state(tool_slot& next, const tool_slot& current) const;
    /// Removes a removed slot's gauges once its calls are drained.
    void forget(tool_slot& slot);

    /// The slot named `name`, or null.
    slot_ptr find(std::string_view name) const;
    /// The slot named `name` with its in-flight count raised (release() it), or null. The count
    /// rises under the registry lock, so remove() cannot free the slot before the caller holds it.
    tool_slot* acquire(std::string_view name);
    /// Counts a call (or a part of one) on a slot the caller already holds: ended by release().
    void enter(tool_slot& slot) noexcept { slot.in_flight.add(); }
    /// Ends what acquire() or enter() began, on any thread; wakes a drain waiting for the last call.
    /// The slot is not touched after the count went down: a drain that sees zero may free it (a
    /// retired generation).
    void release(tool_slot& slot) noexcept {
        // Only a stopping, draining or removed tool has anyone waiting for its last call.
        if (const auto st = slot.state.load(); st == tool_state::ready || st == tool_state::initializing) {
            slot.in_flight.remove();  // a drain that began meanwhile sees it at its next look
            return;
        }
        release_to_drain(slot);
    }
    /// Waits until no call uses the slot.
    void wait_drained(const tool_slot& slot);
    /// The same, giving up at `until`: whether the slot drained.
    bool wait_drained(const tool_slot& slot, std::chrono::steady_clock::time_point until);
    /// Every slot, in registration order.
    std::vector<slot_ptr> slots() const;
    bool contains(std::string_view name) const;

    /// Closes the registry to new calls (host shutdown); false if it was closed already. [thread-safe]
    bool close() noexcept { return !closed_.exchange(true); }
    bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

    /// Sets the policy of a tool, or of one of its operations; only while it is not running.
    boost::system::result<void, std::string> set_policy(std::string_view tool, call_policy policy);
    boost::system::result<void, std::string> set_operation_policy(std::string_view tool, std::string_view operation,
                                                                  call_policy policy);

    /// Runs `f` on the breakers `operation` names: every breaker of the tool when it is empty,
    /// else the one that operation's calls go through. False if there is no such tool or operation.
    bool for_breakers(std::string_view tool, std::string_view operation,
                      const std::function<void(circuit_breaker&)>& f) const;
    void reset_all_breakers();
    std::vector<host::breaker_report> breakers() const;
    std::vector<host::operation_stats> operation_statistics() const;

    std::vector<std::string> list() const;
    std::optional<tool_status> status(std::string_view name) const;
    std::vector<tool_status> status() const;
    /// Configured tools nobody provides, configurations their schema rejects (of `config`, the
    /// configuration in effect or one about to be), rejected files.
    std::vector<std::string> validate(const host_config& config, const load_report& loaded) const;
    int64_t in_flight() const noexcept;

private:
    void release_to_drain(tool_slot& slot) noexcept;
    void install_policy(tool_slot& slot, const call_policy& policy);
    void install_breakers(tool_slot& slot);
    std::shared_ptr<circuit_breaker> make_breaker(const tool_slot& slot, const operation_descriptor* op,
                                                  const call_policy& policy);
    call_policy policy_from_config(std::string_view tool) const;
    std::optional<call_policy> operation_policy_from_config(std::string_view tool, std::string_view op) const;

    const host_config& config_;
    call_policy default_policy_;
    const clock& clock_;
    call_telemetry& telemetry_;
    worker_pool::executor_type executor_;
    std::atomic<bool> closed_{false};

    mutable std::shared_mutex mutex_;
    std::vector<slot_ptr> slots_;  // registration order
    std::map<std::string, slot_ptr, std::less<>> by_name_;

    std::mutex drain_mutex_;
    std::condition_variable drained_;
};

/// Checks a tool's configuration against its schema; the message is a located diagnostic.
std::optional<std::string> check_tool_config(const host_config& cfg, const tool_descriptor& d);

}  // namespace toolhost::detail

#pragma once
// The host's event subscribers (host::subscribe): breaker transitions, retries, timeouts,
// rejections, tool state changes, worker processes and resource changes, delivered synchronously
// where they happen.

#include <toolhost/host.hpp>

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <utility>
#include <vector>

namespace toolhost::detail {

class event_bus {
public:
    /// Adds a handler; returns its id for unsubscribe(). [thread-safe]
    uint64_t subscribe(host_event_handler handler);
    /// Removes a handler; false if the id is unknown. [thread-safe]
    bool unsubscribe(uint64_t id);

    /// True while anyone listens: event sites check it before building an event.
    bool active() const noexcept { return has_subscribers_.load(std::memory_order_acquire); }
    /// Delivers `e` to every handler; a handler that throws is logged and skipped.
    void emit(const host_event& e) const;
    /// A tool_state_changed event.
    void emit_tool_state(std::string_view tool, tool_state state, std::string_view reason = {}) const;
    /// A worker_started or worker_exited event (`message`: how it ended).
    void emit_worker(std::string_view tool, host_event_kind kind, int64_t pid, std::string_view message) const;
    /// A resource_updated (with `uri`) or resource_list_changed event.
    void emit_resource(std::string_view tool, host_event_kind kind, std::string_view uri = {}) const;

private:
    std::atomic<bool> has_subscribers_{false};
    mutable std::shared_mutex mutex_;
    std::vector<std::pair<uint64_t, host_event_handler>> subscribers_;
    uint64_t next_id_ = 1;
};

}  // namespace toolhost::detail

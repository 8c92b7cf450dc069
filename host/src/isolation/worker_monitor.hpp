#pragma once
// What is known of an isolated tool's worker process, for status, metrics and events: written by
// the tool's worker_tool (its supervising thread), read by anyone. One per tool slot; it outlives
// the worker_tool instances that come and go with restarts of the tool.

#include <toolhost/host.hpp>
#include <toolhost/metrics.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace toolhost::detail {

class worker_monitor {
public:
    /// Called for every start and end of a worker (on the supervising thread): the host turns
    /// them into events and log records.
    using listener = std::function<void(host_event_kind, std::int64_t pid, std::string_view message)>;

    void set_listener(listener l) { listener_ = std::move(l); }
    void set_restart_counter(counter* c) noexcept { restarts_metric_ = c; }
    /// Exits are counted in `f` by (tool, reason): SIGSEGV, exit_3, killed_by_host, ...
    void set_exit_counters(counter_family* f, std::string tool) {
        exits_metric_ = f;
        tool_ = std::move(tool);
    }

    void isolate() noexcept { isolated_.store(true, std::memory_order_release); }
    bool isolated() const noexcept { return isolated_.load(std::memory_order_acquire); }
    std::int64_t pid() const noexcept { return pid_.load(std::memory_order_acquire); }

    void started(std::int64_t pid, bool restart) {
        {
            std::lock_guard lock(mutex_);
            pid_.store(pid, std::memory_order_release);
            state_ = "running";
            if (restart) {
                ++restarts_;
                if (restarts_metric_ != nullptr) restarts_metric_->inc();
            }
        }
        if (listener_) listener_(host_event_kind::worker_started, pid, {});
    }
    /// `next`: the state it is in now (restarting, or stopped when the host stopped it);
    /// `reason`: a short word for the metric (SIGSEGV, exit_3, killed_by_host).
    void ended(std::int64_t pid, std::string how, std::string next, std::string_view reason) {
        {
            std::lock_guard lock(mutex_);
            pid_.store(0, std::memory_order_release);
            last_exit_ = how;
            state_ = std::move(next);
        }
        if (exits_metric_ != nullptr) exits_metric_->with({tool_, reason}).inc();
        if (listener_) listener_(host_event_kind::worker_exited, pid, how);
    }
    void set_state(std::string state) {
        std::lock_guard lock(mutex_);
        state_ = std::move(state);
    }
    worker_status snapshot() const {
        std::lock_guard lock(mutex_);
        return worker_status{pid_.load(std::memory_order_relaxed), restarts_, state_, last_exit_};
    }

private:
    std::atomic<bool> isolated_{false};
    std::atomic<std::int64_t> pid_{0};
    mutable std::mutex mutex_;
    std::uint64_t restarts_ = 0;
    std::string state_ = "stopped";
    std::string last_exit_;
    counter* restarts_metric_ = nullptr;
    counter_family* exits_metric_ = nullptr;
    std::string tool_;
    listener listener_;
};

}  // namespace toolhost::detail

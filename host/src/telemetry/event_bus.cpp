#include "telemetry/event_bus.hpp"

#include <toolhost/logging.hpp>

#include <algorithm>
#include <mutex>

namespace toolhost {

std::string_view host_event_kind_name(host_event_kind k) noexcept {
    switch (k) {
    case host_event_kind::breaker_transition: return "breaker_transition";
    case host_event_kind::retry: return "retry";
    case host_event_kind::attempt_timeout: return "attempt_timeout";
    case host_event_kind::rejection: return "rejection";
    case host_event_kind::tool_state_changed: return "tool_state_changed";
    case host_event_kind::worker_started: return "worker_started";
    case host_event_kind::worker_exited: return "worker_exited";
    case host_event_kind::resource_updated: return "resource_updated";
    case host_event_kind::resource_list_changed: return "resource_list_changed";
    case host_event_kind::call_failed: return "call_failed";
    }
    return "unknown";
}

namespace detail {

uint64_t event_bus::subscribe(host_event_handler handler) {
    std::unique_lock lock(mutex_);
    const uint64_t id = next_id_++;
    subscribers_.emplace_back(id, std::move(handler));
    has_subscribers_.store(true, std::memory_order_release);
    return id;
}

bool event_bus::unsubscribe(uint64_t id) {
    std::unique_lock lock(mutex_);
    auto it = std::find_if(subscribers_.begin(), subscribers_.end(), [&](const auto& s) { return s.first == id; });
    if (it == subscribers_.end()) return false;
    subscribers_.erase(it);
    has_subscribers_.store(!subscribers_.empty(), std::memory_order_release);
    return true;
}

void event_bus::emit_worker(std::string_view tool, host_event_kind kind, int64_t pid, std::string_view message) const {
    if (!active()) return;
    host_event e;
    e.kind = kind;
    e.tool = tool;
    e.pid = pid;
    e.message = message;
    emit(e);
}

void event_bus::emit_resource(std::string_view tool, host_event_kind kind, std::string_view uri) const {
    if (!active()) return;
    host_event e;
    e.kind = kind;
    e.tool = tool;
    e.uri = uri;
    emit(e);
}

void event_bus::emit_tool_state(std::string_view tool, tool_state state, std::string_view reason) const {
    if (!active()) return;
    host_event e;
    e.kind = host_event_kind::tool_state_changed;
    e.tool = tool;
    e.state = state;
    e.reason = reason;
    emit(e);
}

void event_bus::emit(const host_event& e) const {
    if (!active()) return;
    std::shared_lock lock(mutex_);
    for (const auto& [id, handler] : subscribers_) {
        try {
            handler(e);
        } catch (const std::exception& ex) {
            logging::write(logging::level::error, "events", "event handler threw",
                           {{"subscriber", id}, {"event", host_event_kind_name(e.kind)}, {"error", ex.what()}});
        } catch (...) {
            logging::write(logging::level::error, "events", "event handler threw",
                           {{"subscriber", id}, {"event", host_event_kind_name(e.kind)}});
        }
    }
}

}  // namespace detail
}  // namespace toolhost

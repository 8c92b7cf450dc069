#pragma once
// What a tool instance says about its resources (toolhost.resource_events/1), checked and turned
// into host events: the instance_events the host hands each instance it creates, in process or
// in a worker process (whose notices reach the host over the worker's events socket).

#include "telemetry/event_bus.hpp"

#include <toolhost/tool_instance.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace toolhost::detail {

class resource_notices final : public instance_events {
public:
    /// For the tool `d`: the URIs it may announce are those its resource_read operation serves.
    resource_notices(const event_bus& events, const tool_descriptor& d);

    void resource_updated(std::string_view uri) noexcept override;
    void resource_list_changed() noexcept override;

    /// Why `uri` is not one this tool may announce, or nothing when it is.
    std::optional<std::string> refuse(std::string_view uri) const;

private:
    void dropped(std::string_view what, const std::string& why, std::string_view uri) noexcept;

    const event_bus& events_;
    std::string tool_;
    std::vector<std::string> prefixes_;  // the "uris" of the tool's resource_read operation
    bool lists_ = false;                 // it has a resource_list operation
    std::atomic<bool> warned_{false};    // the first dropped notice is a warning, the rest debug
};

}  // namespace toolhost::detail

#include "lifecycle/resource_notices.hpp"

#include "telemetry/utf8.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/resource_events.h>

namespace toolhost::detail {

resource_notices::resource_notices(const event_bus& events, const tool_descriptor& d) : events_(events), tool_(d.name) {
    for (const auto& op : d.operations) {
        if (op.role == operation_role::resource_list) lists_ = true;
        if (op.role != operation_role::resource_read) continue;
        if (const auto* uris = op.role_spec.if_contains("uris"); uris != nullptr && uris->is_array())
            for (const auto& u : uris->get_array())
                if (u.is_string()) prefixes_.emplace_back(u.get_string());
    }
}

std::optional<std::string> resource_notices::refuse(std::string_view uri) const {
    if (uri.empty()) return "the URI is empty";
    if (uri.size() > TOOLHOST_RESOURCE_URI_MAX)
        return "the URI is " + std::to_string(uri.size()) + " bytes long, more than " +
               std::to_string(TOOLHOST_RESOURCE_URI_MAX);
    for (std::size_t i = 0; i < uri.size();) {
        const auto c = static_cast<unsigned char>(uri[i]);
        if (c < 0x20 || c == 0x7f) return "the URI has a control character at byte " + std::to_string(i);
        const std::size_t n = utf8_sequence_length(uri, i);
        if (n == 0) return "the URI is not valid UTF-8 at byte " + std::to_string(i);
        i += n;
    }
    if (prefixes_.empty()) return "the tool has no resource_read operation";
    for (const auto& p : prefixes_)
        if (uri.starts_with(p)) return std::nullopt;
    return "the tool's resource_read operation does not serve it (its \"uris\" are the prefixes it reads)";
}

void resource_notices::resource_updated(std::string_view uri) noexcept {
    try {
        if (auto why = refuse(uri)) return dropped("resource_updated", *why, uri);
        events_.emit_resource(tool_, host_event_kind::resource_updated, uri);
    } catch (...) {
        // Out of memory building a message: the notice is lost, the plugin's thread goes on.
    }
}

void resource_notices::resource_list_changed() noexcept {
    try {
        if (!lists_) return dropped("resource_list_changed", "the tool has no resource_list operation", {});
        events_.emit_resource(tool_, host_event_kind::resource_list_changed);
    } catch (...) {
    }
}

void resource_notices::dropped(std::string_view what, const std::string& why, std::string_view uri) noexcept {
    const auto level = warned_.exchange(true) ? logging::level::debug : logging::level::warning;
    if (!logging::enabled(level)) return;
    try {
        logging::write(
            level, "plugin." + tool_, "resource notice dropped",
            {{"tool", tool_}, {"notice", what}, {"reason", why}, {"uri", sanitize_utf8(uri.substr(0, 256))}});
    } catch (...) {
    }
}

}  // namespace toolhost::detail

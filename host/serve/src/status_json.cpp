#include <toolhost/serve/status_json.hpp>

#include <toolhost/json_text.hpp>
#include <toolhost/tool_descriptor.hpp>

#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>

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

std::string plugin_set_digest(const host& h) {
    auto names = h.list();
    std::sort(names.begin(), names.end());
    std::string text;
    for (const auto& n : names)
        if (auto f = h.find(n)) {
            // Where the file lies is the host's business: two hosts with the same plugins in
            // different folders serve the same set.
            auto d = to_json(f->descriptor());
            if (auto* plugin = d.if_contains("plugin"); plugin && plugin->is_string())
                *plugin = std::filesystem::path(std::string(plugin->get_string())).filename().string();
            text += toolhost::json_text(d);
            text += '\n';
        }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (int i = 0; i < 8; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

}  // namespace toolhost::serve

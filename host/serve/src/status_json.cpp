#include <toolhost/serve/status_json.hpp>

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

}  // namespace toolhost::serve

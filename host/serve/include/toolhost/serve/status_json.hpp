#pragma once
/// The JSON shape of a tool's state, shared by the REST API, /readyz and `toolhost status --json`.

#include <toolhost/host.hpp>
#include <toolhost/serve/export.hpp>

#include <boost/json/object.hpp>

namespace toolhost::serve {

/// Adds to `o`: "state", "enabled", "error" (when there is one), "isolation" and, for a tool in
/// a worker process, "worker": {"pid", "state", "restarts", "last_exit"}.
TOOLHOST_SERVE_API void add_status_json(boost::json::object& o, const tool_status& s);

}  // namespace toolhost::serve

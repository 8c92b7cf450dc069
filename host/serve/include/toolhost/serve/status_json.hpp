#pragma once
/// The JSON shapes of a tool's state and of a circuit breaker, shared by the REST API, /readyz,
/// the console's status and `toolhost status --json`.

#include <toolhost/host.hpp>
#include <toolhost/serve/export.hpp>

#include <boost/json/object.hpp>

#include <string>

namespace toolhost::serve {

/// Adds to `o`: "state", "enabled", "error" (when there is one), "isolation" and, for a tool in
/// a worker process, "worker": {"pid", "state", "restarts", "last_exit"}.
TOOLHOST_SERVE_API void add_status_json(boost::json::object& o, const tool_status& s);

/// {"tool", "operation" (null for the tool's own), "state", "calls", "failures",
///  "consecutive_failures", "failure_rate", "transitions", "failure_rate_threshold",
///  "minimum_calls", "consecutive_failures_threshold", "next_probe_in_ms" (while open or
///  half-open, the time to the next probe from `now` on the host's clock; else null)}
TOOLHOST_SERVE_API boost::json::object breaker_json(const host::breaker_report& b, clock::time_point now);

/// The plugin set a host serves, as "sha256:" and 16 hex digits: a digest of every registered
/// tool's descriptor (name, version, plugin file name, operations and their schemas), in name
/// order. Two hosts with
/// the same digest offer the same tools; a different one is drift (docs/deployment.md).
TOOLHOST_SERVE_API std::string plugin_set_digest(const host& h);

}  // namespace toolhost::serve

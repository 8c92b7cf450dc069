#pragma once
// The worker process's side of an isolated tool (toolhost-worker tool): loads the plugin, makes
// the one tool instance, and runs the host's calls on threads of its own, answering over the
// channel on descriptor `fd` (worker_protocol.hpp); the tool's resource notices go to the host on
// the events socket. Returns the process's exit code.

#include <toolhost/entry.h>
#include <toolhost/export.hpp>

#include <cstdint>

namespace toolhost::detail {

struct worker_limits {
    std::uint64_t max_memory_bytes = 0;  ///< RLIMIT_AS; 0: none
    std::uint64_t max_cpu_seconds = 0;   ///< RLIMIT_CPU; 0: none
};

/// `events_fd`: the events socket (worker_protocol.hpp), or -1 for none.
TOOLHOST_API int run_tool_worker(int fd, int events_fd, toolhost_abi_version_t abi, const worker_limits& limits);

}  // namespace toolhost::detail

// toolhost-worker: the process in which the host runs plugin code it does not trust.
//
//   toolhost-worker scan --abi MAJOR.MINOR --parent PID
//       serves scan requests on descriptor 3 (plugin_scanner.hpp) until the host closes it;
//   toolhost-worker tool --abi MAJOR.MINOR --parent PID [--max-memory BYTES] [--max-cpu SECONDS]
//       loads one tool and runs its calls on descriptor 3; its resource notices go out on
//       descriptor 4 (worker_server.hpp, worker_protocol.hpp).
//
// It is started by the host (child_process.hpp), never by hand; it dies with the host.

#include "isolation/child_process.hpp"
#include "isolation/worker_server.hpp"
#include "loading/plugin_scanner.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Under a sanitizer, a plugin's SIGSEGV kills the worker as it does in a release build (the
// sanitizer's handler would turn it into its own report and an abort): the host reports how its
// worker ended, and says SIGSEGV.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() { return "handle_segv=0"; }
// The python plugin's interpreter is never finalized (plugins/python: finalizing CPython in a
// process that goes on is not safe), so what it allocated is still there at exit: not a leak of
// toolhost's. Only allocations whose stack is in libpython are left out; the same list is in
// host/app/main.cpp.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpython3\n"; }
#endif
#if defined(__SANITIZE_THREAD__)
// A race found in the worker ends it at once (exit code 66): the worker leaves with _exit(), which
// skips ThreadSanitizer's report at exit, so a race would otherwise go unnoticed by the tests.
extern "C" const char* __tsan_default_options() { return "handle_segv=0:halt_on_error=1"; }
#endif

namespace {

int usage() {
    std::fputs(
        "usage: toolhost-worker scan --abi MAJOR.MINOR --parent PID\n"
        "       toolhost-worker tool --abi MAJOR.MINOR --parent PID [--max-memory BYTES] [--max-cpu SECONDS]\n"
        "(started by the toolhost host process; not meant to be run by hand)\n",
        stderr);
    return 64;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::string_view mode = argv[1];
    if (mode != "scan" && mode != "tool") return usage();
    toolhost::detail::worker_limits limits;
    toolhost_abi_version_t abi{TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR};
    long parent = -1;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string_view key = argv[i];
        const std::string value = argv[i + 1];
        unsigned major = 0, minor = 0;
        if (key == "--abi" && std::sscanf(value.c_str(), "%u.%u", &major, &minor) == 2) {
            abi = {static_cast<uint16_t>(major), static_cast<uint16_t>(minor)};
        } else if (key == "--parent") {
            parent = std::strtol(value.c_str(), nullptr, 10);
        } else if (key == "--max-memory" && mode == "tool") {
            limits.max_memory_bytes = std::strtoull(value.c_str(), nullptr, 10);
        } else if (key == "--max-cpu" && mode == "tool") {
            limits.max_cpu_seconds = std::strtoull(value.c_str(), nullptr, 10);
        } else {
            return usage();
        }
    }
    // Die with the host: the kernel sends SIGKILL when the parent goes; a parent that went
    // before this line is noticed by the pid check.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (parent <= 0 || ::getppid() != static_cast<pid_t>(parent)) return 70;
    const int fd = toolhost::detail::child_process::channel_fd;
    if (mode == "tool")
        return toolhost::detail::run_tool_worker(fd, toolhost::detail::child_process::events_fd, abi, limits);
    return toolhost::detail::run_scan_child(fd, abi);
}

#pragma once
// Naming the plugin code a crash happened in. In-process plugins are trusted code: a fatal signal
// in one still ends the host. But before it does, a handler writes one line to stderr naming what
// the crashing thread was running (plugin file, tool, operation, request id), so the operator
// knows which tool to isolate. Each thread keeps a stack of `scope`s in a thread-local pointer,
// pushed around every entry into plugin code; the handler reads only that, formats with no
// allocation and writes with write(2), then lets the signal do what it did before (the previous
// handler, or the default action: a core dump or the exit status the shell reports).

#include <atomic>
#include <string_view>

namespace toolhost::detail::crash_report {

class scope;

/// The innermost scope of the calling thread, or null (read by the handler).
extern constinit thread_local const scope* current;

/// Marks the current thread as running plugin code until destroyed. The views must outlive it.
/// Inline, because every call enters one: out of line, its four views went through the stack
/// and the callee's 16-byte loads of the caller's 8-byte stores stalled store forwarding
/// (measured as a twentieth of an inline call).
class scope {
public:
    scope(std::string_view plugin_, std::string_view tool_, std::string_view operation_,
          std::string_view request_id_) noexcept
        : plugin(plugin_), tool(tool_), operation(operation_), request_id(request_id_), previous(current) {
        // Complete before it is visible to a handler on this thread.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        current = this;
    }
    ~scope() {
        current = previous;
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

    std::string_view plugin, tool, operation, request_id;
    const scope* previous;
};

/// Installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT, once per process,
/// keeping the handlers that were there to hand the signal on to.
void install() noexcept;

/// Keeps install() from installing anything in this process: the scanner child, whose crashes
/// the host reports itself.
void never_install() noexcept;

/// The line the handler writes for `signal` on a thread inside `s` (for tests), without the
/// trailing newline; at most `size` - 1 bytes in `out`, NUL-terminated. Returns its length.
std::size_t format(char* out, std::size_t size, int signal, const scope& s) noexcept;

}  // namespace toolhost::detail::crash_report

#pragma once
// Naming the plugin code a crash happened in. In-process plugins are trusted code: a fatal signal
// in one still ends the host. But before it does, a handler writes one line to stderr naming what
// the crashing thread was running (plugin file, tool, operation, request id), so the operator
// knows which tool to isolate. Each thread keeps a stack of `scope`s in a thread-local pointer,
// pushed around every entry into plugin code; the handler reads only that, formats with no
// allocation and writes with write(2), then lets the signal do what it did before (the previous
// handler, or the default action: a core dump or the exit status the shell reports).

#include <string_view>

namespace toolhost::detail::crash_report {

/// Marks the current thread as running plugin code until destroyed. The views must outlive it.
class scope {
public:
    scope(std::string_view plugin, std::string_view tool, std::string_view operation,
          std::string_view request_id) noexcept;
    ~scope();
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

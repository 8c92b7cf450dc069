#include "isolation/crash_report.hpp"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>

namespace toolhost::detail::crash_report {

constinit thread_local const scope* current = nullptr;

namespace {

constexpr std::array<int, 5> fatal_signals{SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
struct sigaction previous_actions[fatal_signals.size()];
std::atomic<bool> installed{false};

// Appends to a fixed buffer, truncating; no allocation (async-signal-safe).
struct line {
    char* out;
    std::size_t size;
    std::size_t used = 0;
    line& operator<<(std::string_view s) noexcept {
        for (char c : s) {
            if (used + 1 >= size) break;
            out[used++] = (c == '\n' || c == '\r') ? ' ' : c;
        }
        out[used] = '\0';
        return *this;
    }
};

void handle(int signal, siginfo_t* info, void*) {
    const int saved_errno = errno;
    std::size_t i = 0;
    while (i < fatal_signals.size() && fatal_signals[i] != signal) ++i;
    if (const scope* s = current; s != nullptr) {
        char buf[1024];
        const std::size_t n = format(buf, sizeof buf - 1, signal, *s);
        buf[n] = '\n';
        [[maybe_unused]] const auto written = ::write(STDERR_FILENO, buf, n + 1);
    }
    // Hand the signal on as before: the previous action comes back, and a fault re-executes the
    // faulting instruction under it on return. A signal that was sent rather than caused by an
    // instruction (raise(), kill(), abort()'s own raise: si_code <= 0) would not come again: it is
    // raised once more, and being blocked while this handler runs, arrives under the previous
    // action as soon as the handler returns (the process went on after a plugin's
    // raise(SIGSEGV), with only the line above to show for it).
    if (i < fatal_signals.size()) {
        ::sigaction(signal, &previous_actions[i], nullptr);
        if (info != nullptr && info->si_code <= 0) ::raise(signal);
    }
    errno = saved_errno;
}

}  // namespace

std::size_t format(char* out, std::size_t size, int signal, const scope& s) noexcept {
    line l{out, size};
    const char* abbrev = ::sigabbrev_np(signal);
    l << "toolhost: fatal signal SIG" << (abbrev ? abbrev : "?") << " in plugin code: " << s.plugin;
    if (!s.tool.empty()) l << ", tool " << s.tool;
    // A call names its operation; the other entries into plugin code name what they are.
    if (!s.operation.empty()) l << (s.request_id.empty() ? ", " : ", operation ") << s.operation;
    if (!s.request_id.empty()) l << ", request id " << s.request_id;
    l << "; the host ends with it (in-process plugins run as trusted code)";
    return l.used;
}

void never_install() noexcept { installed.store(true); }

void install() noexcept {
    if (installed.exchange(true)) return;
    for (std::size_t i = 0; i < fatal_signals.size(); ++i) {
        struct sigaction sa {};
        sa.sa_sigaction = &handle;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        ::sigaction(fatal_signals[i], &sa, &previous_actions[i]);
    }
}

}  // namespace toolhost::detail::crash_report

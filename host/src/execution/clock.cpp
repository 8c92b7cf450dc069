// steady_clock_source (clock.hpp): steady_clock's time from the CPU's time-stamp counter where
// that is safe (tsc_clock.hpp explains how), else std::chrono::steady_clock.
#include <toolhost/clock.hpp>

#include "tsc_clock.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace toolhost {
namespace {

using steady = std::chrono::steady_clock;

#if defined(__x86_64__)

struct cpu_counter {
    std::uint64_t counter() const noexcept { return __rdtsc(); }
    std::int64_t steady_ns() const noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
    }
};

// The counter runs at a constant rate in every power state (CPUID 0x80000007, EDX bit 8), and
// the kernel trusts it: it checked that the CPUs' counters agree and keeps time with it.
bool tsc_usable() {
    if (const char* v = std::getenv("TOOLHOST_CLOCK"); v != nullptr && std::strcmp(v, "steady") == 0) return false;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    __cpuid(0x80000007u, a, b, c, d);
    if ((d & (1u << 8)) == 0) return false;
    std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string source;
    return f >> source && source == "tsc";
}

// Null when the counter is not to be used.
detail::tsc_clock<cpu_counter>* tsc() {
    static detail::tsc_clock<cpu_counter>* const instance = [] {
        if (!tsc_usable()) return static_cast<detail::tsc_clock<cpu_counter>*>(nullptr);
        static detail::tsc_clock<cpu_counter> clock{cpu_counter{}};
        return clock.enabled() ? &clock : nullptr;
    }();
    return instance;
}

#endif

}  // namespace

clock::time_point steady_clock_source::now() const noexcept {
#if defined(__x86_64__)
    static auto* const t = tsc();
    if (t != nullptr) return time_point(std::chrono::nanoseconds(t->now_ns()));
#endif
    // What steady_clock::now() does, without its two calls in between (libstdc++, then libc).
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

bool steady_clock_source::reads_tsc() noexcept {
#if defined(__x86_64__)
    return tsc() != nullptr;
#else
    return false;
#endif
}

}  // namespace toolhost

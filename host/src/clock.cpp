// steady_clock_source (clock.hpp): steady_clock's time from the CPU's time-stamp counter where
// that is safe.
//
// time = base_ns + (tsc - base_tsc) * mult / 2^32, with (base_tsc, base_ns, mult) under a
// sequence lock. Calibrated once (2 ms against steady_clock) at first use; afterwards, the first
// reader past `next_tsc` re-anchors: it reads steady_clock and the counter together, keeps the
// clock continuous at that point (base_ns = the clock's own value there) and sets the rate for
// the next period so that the clock meets steady_clock at its end (the frequency measured over
// the whole run since calibration, corrected by the offset, the correction capped at 1% of the
// period). So the clock tracks steady_clock within microseconds, and a jump of the counter (a
// suspended VM) of more than 1 ms forwards is taken at once.
//
// The counter itself can step back by a few hundred nanoseconds now and then: measured on the
// 2-vCPU VMs this runs on (the hypervisor adjusting a vCPU's counter offset, or a thread moving
// to a vCPU whose counter is a little behind), where the kernel's vDSO hides it by never
// returning less than its last update. Here each thread never gets less than it got last time
// (a thread-local clamp, one load and one store), so a duration measured on one thread is never
// negative.
#include <toolhost/clock.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace toolhost {
namespace {

using steady = std::chrono::steady_clock;
__extension__ typedef __int128 i128;  // a GCC and Clang extension: -Wpedantic is told so
__extension__ typedef unsigned __int128 u128;

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

#if defined(__x86_64__)

std::uint64_t read_tsc() noexcept { return __rdtsc(); }

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

constexpr std::int64_t period_ns = 250'000'000;  // re-anchor this often
constexpr std::int64_t jump_ns = 1'000'000;      // an offset beyond this is taken at once

class tsc_clock {
public:
    tsc_clock() : enabled_(tsc_usable()) {
        if (!enabled_) return;
        // Pairs taken with the counter read on both sides of steady_clock, and the midpoint used.
        auto pair = [](std::uint64_t& tsc, std::int64_t& ns) {
            const std::uint64_t a = read_tsc();
            ns = steady_ns();
            const std::uint64_t b = read_tsc();
            tsc = a + (b - a) / 2;
        };
        pair(first_tsc_, first_ns_);
        std::uint64_t tsc = 0;
        std::int64_t ns = 0;
        do pair(tsc, ns);
        while (ns - first_ns_ < 2'000'000);
        const std::uint64_t ticks = tsc - first_tsc_;
        const double hz = static_cast<double>(ticks) * 1e9 / static_cast<double>(ns - first_ns_);
        if (!(hz > 1e8 && hz < 1e11)) {  // not a counter this code understands
            enabled_ = false;
            return;
        }
        const std::uint64_t mult = mult_for(ns - first_ns_, ticks);
        publish(tsc, ns, mult, tsc + ticks_for(period_ns, mult));
    }

    bool enabled() const noexcept { return enabled_; }

    std::int64_t now_ns() noexcept {
        const std::uint64_t tsc = read_tsc();
        for (;;) {
            const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
            const std::uint64_t base_tsc = base_tsc_.load(std::memory_order_relaxed);
            const std::int64_t base_ns = base_ns_.load(std::memory_order_relaxed);
            const std::uint64_t mult = mult_.load(std::memory_order_relaxed);
            const std::uint64_t next = next_tsc_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if ((s1 & 1) != 0 || seq_.load(std::memory_order_relaxed) != s1) continue;
            std::int64_t t = convert(tsc, base_tsc, base_ns, mult);
            if (static_cast<std::int64_t>(tsc - next) >= 0) reanchor(base_tsc, base_ns, mult);
            thread_local std::int64_t last = 0;
            if (t < last) t = last;
            last = t;
            return t;
        }
    }

private:
    static std::int64_t convert(std::uint64_t tsc, std::uint64_t base_tsc, std::int64_t base_ns,
                                std::uint64_t mult) noexcept {
        const auto delta = static_cast<i128>(static_cast<std::int64_t>(tsc - base_tsc));
        return base_ns + static_cast<std::int64_t>((delta * static_cast<i128>(mult)) >> 32);
    }
    // Nanoseconds per tick, times 2^32.
    static std::uint64_t mult_for(std::int64_t ns, std::uint64_t ticks) noexcept {
        return static_cast<std::uint64_t>((static_cast<u128>(ns) << 32) / ticks);
    }
    static std::uint64_t ticks_for(std::int64_t ns, std::uint64_t mult) noexcept {
        return static_cast<std::uint64_t>((static_cast<u128>(ns) << 32) / mult);
    }

    void publish(std::uint64_t base_tsc, std::int64_t base_ns, std::uint64_t mult, std::uint64_t next) noexcept {
        const std::uint64_t s = seq_.load(std::memory_order_relaxed);
        seq_.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        base_tsc_.store(base_tsc, std::memory_order_relaxed);
        base_ns_.store(base_ns, std::memory_order_relaxed);
        mult_.store(mult, std::memory_order_relaxed);
        next_tsc_.store(next, std::memory_order_relaxed);
        seq_.store(s + 2, std::memory_order_release);
    }

    // One thread at a time; the others go on with the current calibration.
    void reanchor(std::uint64_t base_tsc, std::int64_t base_ns, std::uint64_t mult) noexcept {
        if (updating_.exchange(true, std::memory_order_acquire)) return;
        if (base_tsc_.load(std::memory_order_relaxed) == base_tsc) {  // not re-anchored meanwhile
            const std::uint64_t a = read_tsc();
            const std::int64_t real = steady_ns();
            const std::uint64_t b = read_tsc();
            const std::uint64_t tsc = a + (b - a) / 2;
            const std::int64_t own = convert(tsc, base_tsc, base_ns, mult);
            const std::int64_t offset = real - own;
            const std::uint64_t rate = mult_for(real - first_ns_, tsc - first_tsc_);  // the long-run rate
            const std::uint64_t period_ticks = ticks_for(period_ns, rate);
            if (offset > jump_ns) {
                publish(tsc, real, rate, tsc + period_ticks);
            } else {
                const std::int64_t cap = period_ns / 100;
                const std::int64_t correction = offset < -cap ? -cap : (offset > cap ? cap : offset);
                publish(tsc, own, mult_for(period_ns + correction, period_ticks), tsc + period_ticks);
            }
        }
        updating_.store(false, std::memory_order_release);
    }

    bool enabled_;
    std::uint64_t first_tsc_ = 0;  // the calibration's first pair
    std::int64_t first_ns_ = 0;
    std::atomic<std::uint64_t> seq_{0};
    std::atomic<std::uint64_t> base_tsc_{0};
    std::atomic<std::int64_t> base_ns_{0};
    std::atomic<std::uint64_t> mult_{0};
    std::atomic<std::uint64_t> next_tsc_{0};
    std::atomic<bool> updating_{false};
};

tsc_clock& tsc() {
    static tsc_clock instance;
    return instance;
}

#endif

}  // namespace

clock::time_point steady_clock_source::now() const noexcept {
#if defined(__x86_64__)
    static tsc_clock& t = tsc();
    if (t.enabled()) return time_point(std::chrono::nanoseconds(t.now_ns()));
#endif
    return steady::now();
}

bool steady_clock_source::reads_tsc() noexcept {
#if defined(__x86_64__)
    return tsc().enabled();
#else
    return false;
#endif
}

}  // namespace toolhost

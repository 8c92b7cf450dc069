#pragma once
// tsc_clock: a monotonic clock read from a fast counter and kept on steady_clock's time; what
// steady_clock_source (clock.hpp) uses on x86-64 with the CPU's time-stamp counter (clock.cpp).
// Internal; a template over where the counter and steady_clock's readings come from, so that the
// tests drive it with a simulated counter (paused VMs, suspends, counters stepping back).
//
// time = base_ns + (tsc - base_tsc) * mult / 2^32, with (base_tsc, base_ns, mult) under a
// sequence lock. Calibrated against steady_clock over 2 ms at first use. Afterwards, every
// 10 ms, the first reader past `next_tsc` re-anchors before it answers: it reads steady_clock
// and the counter together, keeps the clock continuous at that point (base_ns = the clock's own
// value there) and sets the rate for the next period so that the clock meets steady_clock at
// its end (the counter's frequency measured since the last resynchronization, corrected by the
// offset, the correction capped at 1% of the period). Readers that find another thread
// re-anchoring answer with steady_clock itself for that moment. So the clock tracks
// steady_clock within microseconds, and costs one steady_clock read per 10 ms in all.
//
// An offset of more than 1 ms either way means the counter and steady_clock parted: a VM paused
// or migrated, or a machine suspended to idle (where the counter runs on and CLOCK_MONOTONIC
// does not). The clock then resynchronizes to steady_clock at once and measures the frequency
// afresh; a step back is seen only by readings taken since the last re-anchor (at most 10 ms),
// which were ahead of steady_clock.
//
// The counter itself can step back by a few hundred nanoseconds now and then: measured on the
// 2-vCPU VMs this runs on (the hypervisor adjusting a vCPU's counter offset, or a thread moving
// to a vCPU whose counter is a little behind), where the kernel's vDSO hides it by never
// returning less than its last update. Here each thread never gets less than it got last time
// (a thread-local clamp, reset only by a resynchronization), so a duration measured on one
// thread is never negative.
#include <atomic>
#include <cstdint>
#include <utility>

namespace toolhost::detail {

__extension__ typedef __int128 tsc_i128;  // a GCC and Clang extension: -Wpedantic is told so
__extension__ typedef unsigned __int128 tsc_u128;

/// Source: `std::uint64_t counter()` (ticks at a constant rate) and `std::int64_t steady_ns()`
/// (steady_clock's time in nanoseconds), both callable from any thread.
template <class Source>
class tsc_clock {
public:
    static constexpr std::int64_t period_ns = 10'000'000;  // re-anchor this often
    static constexpr std::int64_t resync_ns = 1'000'000;   // an offset beyond this is corrected at once

    /// Calibrates against src.steady_ns() over 2 ms; enabled() is false when the counter's
    /// frequency is not between 100 MHz and 100 GHz.
    explicit tsc_clock(Source src) : src_(std::move(src)) {
        origin_ = read_pair();
        pair_reading p{};
        do p = read_pair();
        while (p.ns - origin_.ns < 2'000'000);
        const std::uint64_t ticks = p.tsc - origin_.tsc;
        const double hz = static_cast<double>(ticks) * 1e9 / static_cast<double>(p.ns - origin_.ns);
        enabled_ = hz > 1e8 && hz < 1e11;
        if (!enabled_) return;
        const std::uint64_t mult = mult_for(p.ns - origin_.ns, ticks);
        publish(p.tsc, p.ns, mult, p.tsc + ticks_for(period_ns, mult));
    }

    bool enabled() const noexcept { return enabled_; }

    /// Nanoseconds on steady_clock's scale; never less than this thread's previous reading of
    /// this clock (until a resynchronization that steps back).
    std::int64_t now_ns() noexcept {
        std::int64_t t = 0;
        for (;;) {
            const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
            const std::uint64_t base_tsc = base_tsc_.load(std::memory_order_relaxed);
            const std::int64_t base_ns = base_ns_.load(std::memory_order_relaxed);
            const std::uint64_t mult = mult_.load(std::memory_order_relaxed);
            const std::uint64_t next = next_tsc_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if ((s1 & 1) != 0 || seq_.load(std::memory_order_relaxed) != s1) continue;
            const std::uint64_t tsc = src_.counter();  // after the snapshot: never before its anchor
            if (static_cast<std::int64_t>(tsc - next) < 0) {
                t = convert(tsc, base_tsc, base_ns, mult);
                break;
            }
            if (reanchor(base_tsc, base_ns, mult)) continue;  // answer with the new calibration
            t = src_.steady_ns();                             // another thread is re-anchoring right now
            break;
        }
        thread_local struct {
            std::uint64_t clock = 0;  // the id_ of the clock `last` belongs to
            std::uint64_t epoch = 0;
            std::int64_t last = 0;
        } mine;
        const std::uint64_t epoch = epoch_.load(std::memory_order_relaxed);
        if (mine.clock != id_ || mine.epoch != epoch) {
            mine.clock = id_;
            mine.epoch = epoch;
            mine.last = t;
        }
        if (t < mine.last) t = mine.last;
        mine.last = t;
        return t;
    }

private:
    // A (counter, steady_clock) pair, the counter read on both sides and the midpoint taken.
    struct pair_reading {
        std::uint64_t tsc;
        std::int64_t ns;
    };
    pair_reading read_pair() noexcept {
        const std::uint64_t a = src_.counter();
        const std::int64_t ns = src_.steady_ns();
        const std::uint64_t b = src_.counter();
        return {a + (b - a) / 2, ns};
    }

    static std::int64_t convert(std::uint64_t tsc, std::uint64_t base_tsc, std::int64_t base_ns,
                                std::uint64_t mult) noexcept {
        const auto delta = static_cast<tsc_i128>(static_cast<std::int64_t>(tsc - base_tsc));
        return base_ns + static_cast<std::int64_t>((delta * static_cast<tsc_i128>(mult)) >> 32);
    }
    // Nanoseconds per tick, times 2^32.
    static std::uint64_t mult_for(std::int64_t ns, std::uint64_t ticks) noexcept {
        return static_cast<std::uint64_t>((static_cast<tsc_u128>(ns) << 32) / ticks);
    }
    static std::uint64_t ticks_for(std::int64_t ns, std::uint64_t mult) noexcept {
        return static_cast<std::uint64_t>((static_cast<tsc_u128>(ns) << 32) / mult);
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

    // One thread at a time. True when this thread re-anchored (or found it done meanwhile);
    // false when another thread is at it.
    bool reanchor(std::uint64_t base_tsc, std::int64_t base_ns, std::uint64_t mult) noexcept {
        if (updating_.exchange(true, std::memory_order_acquire)) return false;
        if (base_tsc_.load(std::memory_order_relaxed) == base_tsc) {  // not re-anchored meanwhile
            const pair_reading p = read_pair();
            const std::int64_t own = convert(p.tsc, base_tsc, base_ns, mult);
            const std::int64_t offset = p.ns - own;
            if (offset > resync_ns || offset < -resync_ns || p.ns <= origin_.ns || p.tsc <= origin_.tsc) {
                // The counter and steady_clock parted: start again from here, at the last rate.
                if (offset < 0) epoch_.fetch_add(1, std::memory_order_relaxed);  // a step back
                origin_ = p;
                publish(p.tsc, p.ns, mult, p.tsc + ticks_for(period_ns, mult));
            } else {
                const std::uint64_t rate = mult_for(p.ns - origin_.ns, p.tsc - origin_.tsc);
                const std::uint64_t period_ticks = ticks_for(period_ns, rate);
                const std::int64_t cap = period_ns / 100;
                const std::int64_t correction = offset < -cap ? -cap : (offset > cap ? cap : offset);
                publish(p.tsc, own, mult_for(period_ns + correction, period_ticks), p.tsc + period_ticks);
            }
        }
        updating_.store(false, std::memory_order_release);
        return true;
    }

    static std::uint64_t next_id() noexcept {
        static std::atomic<std::uint64_t> ids{0};
        return ids.fetch_add(1, std::memory_order_relaxed) + 1;
    }

    Source src_;
    const std::uint64_t id_ = next_id();  // unique, unlike an address, for the thread-local clamp
    bool enabled_ = false;
    pair_reading origin_{};  // where the frequency is measured from; only the re-anchoring thread
    std::atomic<std::uint64_t> seq_{0};
    std::atomic<std::uint64_t> base_tsc_{0};
    std::atomic<std::int64_t> base_ns_{0};
    std::atomic<std::uint64_t> mult_{0};
    std::atomic<std::uint64_t> next_tsc_{0};
    std::atomic<std::uint64_t> epoch_{0};  // bumped by a resynchronization that steps back
    std::atomic<bool> updating_{false};
};

}  // namespace toolhost::detail

#pragma once
/// Time and randomness as injectable services, so every policy that depends on them (deadlines,
/// backoff, breaker windows, jitter) can be tested deterministically on a virtual clock.

#include <toolhost/export.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace toolhost {

/// A monotonic clock. The host uses steady_clock; tests use manual_clock.
class TOOLHOST_API clock {
public:
    using duration = std::chrono::steady_clock::duration;
    using time_point = std::chrono::steady_clock::time_point;

    virtual ~clock() = default;
    /// The current time. [thread-safe]
    virtual time_point now() const noexcept = 0;
};

/// std::chrono::steady_clock's time, read cheaply. On x86-64, when the CPU's time-stamp counter
/// is invariant and the kernel itself keeps time with it (clocksource "tsc"), now() converts a
/// counter reading (about 10 ns on the machines measured, docs/performance.md) instead of asking
/// the kernel's vDSO (about 24 ns); the conversion is calibrated against steady_clock when first
/// used and re-anchored to it every 10 ms (slewing; resynchronized at once when the two part by
/// more than 1 ms, as after a suspend), and a thread never reads a time below its previous
/// reading (host/src/execution/tsc_clock.hpp). Elsewhere, or when TOOLHOST_CLOCK=steady is in the environment at the first use, now() is
/// std::chrono::steady_clock::now().
class TOOLHOST_API steady_clock_source final : public clock {
public:
    time_point now() const noexcept override;
    /// Whether now() reads the time-stamp counter.
    static bool reads_tsc() noexcept;
};

/// The process-wide steady clock instance.
TOOLHOST_API inline const clock& steady_clock_instance() noexcept {
    static const steady_clock_source instance;
    return instance;
}

/// A clock that moves only when told to. [thread-safe]
class TOOLHOST_API manual_clock final : public clock {
public:
    explicit manual_clock(time_point start = time_point(std::chrono::hours(1))) : now_(start) {}
    time_point now() const noexcept override {
        std::lock_guard lock(mutex_);
        return now_;
    }
    void advance(duration d) {
        std::lock_guard lock(mutex_);
        now_ += d;
    }
    void set(time_point t) {
        std::lock_guard lock(mutex_);
        now_ = t;
    }

private:
    mutable std::mutex mutex_;
    time_point now_;
};

/// A source of uniformly distributed random numbers in [0, 1), for jitter. [thread-safe]
class TOOLHOST_API random_source {
public:
    virtual ~random_source() = default;
    virtual double next_unit() noexcept = 0;
};

}  // namespace toolhost

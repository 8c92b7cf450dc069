#pragma once
/// Time and randomness as injectable services, so every policy that depends on them (deadlines,
/// backoff, breaker windows, jitter) can be tested deterministically on a virtual clock.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace toolhost {

/// A monotonic clock. The host uses steady_clock; tests use manual_clock.
class clock {
public:
    using duration = std::chrono::steady_clock::duration;
    using time_point = std::chrono::steady_clock::time_point;

    virtual ~clock() = default;
    /// The current time. [thread-safe]
    virtual time_point now() const noexcept = 0;
};

/// std::chrono::steady_clock.
class steady_clock_source final : public clock {
public:
    time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
};

/// The process-wide steady clock instance.
inline const clock& steady_clock_instance() noexcept {
    static const steady_clock_source instance;
    return instance;
}

/// A clock that moves only when told to. [thread-safe]
class manual_clock final : public clock {
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
class random_source {
public:
    virtual ~random_source() = default;
    virtual double next_unit() noexcept = 0;
};

}  // namespace toolhost

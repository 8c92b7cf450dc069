#pragma once
/// Timers for the call pipeline (backoff delays, attempt timeouts), on an injectable clock.
///
/// The host uses thread_timer_service (one thread, steady clock). Tests use
/// manual_timer_service, whose timers fire only when the test advances its manual_clock, so
/// retries, timeouts and breaker windows run deterministically in virtual time.

#include <toolhost/clock.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace toolhost {

class timer_service {
public:
    using callback = std::function<void()>;
    using timer_id = uint64_t;

    virtual ~timer_service() = default;
    /// The clock the deadlines are measured on.
    virtual const clock& get_clock() const noexcept = 0;
    /// Runs `fn` once at or after `when`, on the service's thread (or the thread that advances
    /// a manual clock), unless cancelled first. [thread-safe]
    virtual timer_id schedule(clock::time_point when, callback fn) = 0;
    /// Cancels a timer. True if it will not run; false if it already ran or is running.
    /// [thread-safe]
    virtual bool cancel(timer_id id) = 0;
};

/// Timers on the steady clock, fired by one dedicated thread.
class thread_timer_service final : public timer_service {
public:
    thread_timer_service();
    ~thread_timer_service() override;  // pending timers are dropped, not run
    const clock& get_clock() const noexcept override { return steady_clock_instance(); }
    timer_id schedule(clock::time_point when, callback fn) override;
    bool cancel(timer_id id) override;

private:
    void run();

    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<clock::time_point, std::pair<timer_id, callback>> queue_;
    std::unordered_map<timer_id, std::multimap<clock::time_point, std::pair<timer_id, callback>>::iterator> index_;
    timer_id next_id_ = 1;
    bool stop_ = false;
    // When the timer thread will wake up next on its own. A new timer due later needs no
    // notification: the common case (an attempt timeout of seconds, cancelled within
    // microseconds) then costs no wake-up of the timer thread.
    clock::time_point wake_at_ = clock::time_point::max();
    std::thread thread_;
};

/// Timers on a manual_clock: advance() moves the clock and fires what is due, in deadline
/// order, on the calling thread. For tests.
class manual_timer_service final : public timer_service {
public:
    explicit manual_timer_service(manual_clock& c) : clock_(c) {}
    const clock& get_clock() const noexcept override { return clock_; }
    timer_id schedule(clock::time_point when, callback fn) override;
    bool cancel(timer_id id) override;

    /// Moves the clock forward by `d`, firing every timer that falls due on the way (each at
    /// its own time), including timers that fired callbacks schedule within the span.
    void advance(clock::duration d);
    /// Timers waiting to fire.
    std::size_t pending() const;

private:
    manual_clock& clock_;
    mutable std::mutex mutex_;
    std::multimap<clock::time_point, std::pair<timer_id, callback>> queue_;
    timer_id next_id_ = 1;
};

}  // namespace toolhost

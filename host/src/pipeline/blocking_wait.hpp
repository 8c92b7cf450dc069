#pragma once
// The inline path's one way to block its thread until something else happens (a bulkhead slot
// frees, a retry timer fires, a call through a strand completes). Shared by the waiter and the
// signaller (hold it in a shared_ptr): whichever of signal() and giving up comes first wins.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace toolhost::detail {

class blocking_wait {
public:
    /// Wakes the waiter. False if it gave up already (what it waited for is not taken).
    bool signal() {
        std::lock_guard lock(mutex_);
        if (state_ == state::gave_up) return false;
        state_ = state::signalled;
        cv_.notify_all();
        return true;
    }

    /// Waits for signal(); true if it came. `give_up()` is asked now and then, since what it
    /// watches (a cancellation flag, the clock) sends no notification; once it says so the wait
    /// ends with false.
    template <class GiveUp>
    bool wait(GiveUp give_up) {
        std::unique_lock lock(mutex_);
        while (state_ == state::waiting) {
            if (give_up()) {
                state_ = state::gave_up;
                return false;
            }
            cv_.wait_for(lock, poll_interval);
        }
        return state_ == state::signalled;
    }

private:
    static constexpr std::chrono::milliseconds poll_interval{10};
    enum class state { waiting, signalled, gave_up };
    std::mutex mutex_;
    std::condition_variable cv_;
    state state_ = state::waiting;
};

}  // namespace toolhost::detail

#pragma once
/// Timers for the call pipeline (backoff delays, attempt timeouts), on an injectable clock.
///
/// The host uses thread_timer_service (one thread, steady clock). Tests use
/// manual_timer_service, whose timers fire only when the test advances its manual_clock, so
/// retries, timeouts and breaker windows run deterministically in virtual time.

#include <toolhost/clock.hpp>
#include <toolhost/export.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace toolhost {

class TOOLHOST_API timer_service {
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
///
/// The queue is split into shards, one picked per scheduling thread, each with its own lock: the
/// call path arms and cancels an attempt timer per call from every worker, and one shared lock
/// was the pipeline's main cost under load. A timer id names its shard and its place there, so
/// cancel() locks only that shard and finds the timer without a search. A shard keeps its timers
/// in a slab of reused entries ordered by an indexed binary heap: arming and cancelling cost
/// O(log n) and, once the slab has grown to the number of timers pending at once, no heap
/// allocation. The timer thread sleeps until the earliest deadline it knows of; a new timer due
/// before that wakes it, a later one (the common case: attempt timeouts of seconds, cancelled
/// within microseconds) costs no wake-up.
class TOOLHOST_API thread_timer_service final : public timer_service {
public:
    thread_timer_service();
    ~thread_timer_service() override;  // pending timers are dropped, not run
    const clock& get_clock() const noexcept override { return steady_clock_instance(); }
    timer_id schedule(clock::time_point when, callback fn) override;
    bool cancel(timer_id id) override;

private:
    static constexpr std::size_t shard_count = 8;
    struct alignas(64) shard {
        struct entry {
            clock::time_point when{};
            timer_id id = 0;  // 0: a free entry
            callback fn;
            std::uint32_t heap_pos = 0;
        };
        std::mutex mutex;
        std::vector<entry> slab;  // entries, reused through `free_entries`
        std::vector<std::uint32_t> free_entries;
        std::vector<std::uint32_t> heap;  // entry indexes, earliest (when, id) first
        timer_id next_seq = 1;

        bool earlier(std::uint32_t a, std::uint32_t b) const noexcept {
            return slab[a].when < slab[b].when || (slab[a].when == slab[b].when && slab[a].id < slab[b].id);
        }
        void place(std::size_t pos, std::uint32_t e) noexcept {
            heap[pos] = e;
            slab[e].heap_pos = static_cast<std::uint32_t>(pos);
        }
        void sift_up(std::size_t pos) noexcept;
        void sift_down(std::size_t pos) noexcept;
        /// Takes entry `e` out of the heap and frees it; returns its callback.
        callback take(std::uint32_t e) noexcept;
    };
    void run();
    /// Pops one timer due at `now` from any shard into `fn`; else returns the earliest deadline.
    bool pop_due(clock::time_point now, callback& fn, clock::time_point& earliest);

    std::array<shard, shard_count> shards_;
    std::mutex wake_mutex_;  // guards stop_ and the timer thread's sleep
    std::condition_variable cv_;
    bool stop_ = false;
    // When the timer thread will wake up next on its own (steady-clock ticks).
    std::atomic<clock::duration::rep> wake_at_{clock::time_point::max().time_since_epoch().count()};
    std::thread thread_;
};

/// Timers on a manual_clock: advance() moves the clock and fires what is due, in deadline
/// order, on the calling thread. For tests.
class TOOLHOST_API manual_timer_service final : public timer_service {
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

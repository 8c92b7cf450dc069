#pragma once
/// A circuit breaker for one tool (or one operation of a tool).
///
/// It trips on consecutive failures or on a failure rate over a sliding time window, rejects
/// calls fast while open, then lets exactly one probe call through at a time (half-open). A
/// successful probe closes it; a failed probe opens it again for longer, up to a cap.
///
/// Usage, per call:
///
///     auto adm = breaker.try_acquire();
///     if (!adm.allowed) return breaker.rejection_error(adm);
///     auto result = run_the_call();
///     breaker.on_result(adm, result ? status_code::ok : result.error().code);
///     return result;   // the call that trips the breaker still returns its own error
///
/// Each allowed admission must be reported exactly once, by on_result(), on_abandoned() or
/// release().
/// Rejected admissions need no report (reporting one does nothing).
///
/// Semantics chosen:
/// - A code that is not a failure (OK, INVALID_ARGUMENT, NOT_FOUND, CANCELLED, ...) shows the
///   tool is alive: it ends a run of consecutive failures and counts as a call, not a failure,
///   in the rate window.
/// - OK, INVALID_ARGUMENT and CANCELLED are never failures, even if listed in failure_codes:
///   they are the caller's doing, not the tool's.
/// - The rate trigger is evaluated after every recorded call, success or failure.
/// - Results are accepted only in the state (closed, or the current probe of half_open) the
///   admission was made in; every state change, reset and new probe starts a new generation,
///   and results of older generations are ignored.
/// - open becomes half_open lazily, in the first try_acquire() at or after next_probe_at.
///
/// All members are [thread-safe]. The transition callback runs outside the breaker's lock,
/// one transition at a time and in order, on one of the threads that caused a transition.

#include <toolhost/clock.hpp>
#include <toolhost/export.hpp>
#include <toolhost/metrics.hpp>
#include <toolhost/status.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

/// The states of a circuit_breaker.
enum class breaker_state : std::uint8_t {
    closed,       ///< calls pass; results are recorded
    open,         ///< calls are rejected until next_probe_at
    half_open,    ///< one probe call at a time passes; its result decides
    forced_open,  ///< rejects everything until reset()
    disabled,     ///< admits everything, records nothing, until reset()
};

/// "closed", "open", "half_open", "forced_open", "disabled"; "unknown" outside the enum.
TOOLHOST_API std::string_view breaker_state_name(breaker_state s) noexcept;

/// Configuration of a circuit_breaker. The defaults are those of design.md.
struct breaker_options {
    /// Opens after this many failures in a row (while closed). 0 disables this trigger.
    std::uint32_t consecutive_failures = 5;
    /// Opens when failures / calls >= failure_rate, in (0, 1] ...
    double failure_rate = 0.5;
    /// ... over at least this many calls (0 disables the rate trigger) ...
    std::uint32_t minimum_calls = 20;
    /// ... within this sliding window. The window is 10 buckets of window/10, the current one
    /// included, so it covers the last 0.9 * window to 1.0 * window.
    std::chrono::milliseconds window{30000};
    /// How long the first opening lasts.
    std::chrono::milliseconds open_duration{30000};
    /// After each failed probe the open duration is multiplied by this (>= 1) ...
    double open_multiplier = 2.0;
    /// ... up to this (>= open_duration).
    std::chrono::milliseconds max_open_duration{300000};
    /// A half-open probe with no result after this long frees the gate for another probe; the
    /// late result of the old probe is then ignored.
    std::chrono::milliseconds probe_timeout{60000};
    /// The codes that count as failures. OK, INVALID_ARGUMENT and CANCELLED never do, even if
    /// listed here.
    std::vector<status_code> failure_codes = {status_code::unavailable, status_code::deadline_exceeded,
                                              status_code::internal, status_code::resource_exhausted};
    bool operator==(const breaker_options&) const = default;
};

/// One state change, as given to the transition callback.
struct breaker_transition {
    breaker_state from;
    breaker_state to;
    clock::time_point at;
    /// Why, e.g. "5 consecutive failures", "probe failed (UNAVAILABLE)", "reset".
    std::string reason;
};

/// A circuit breaker. Not copyable or movable. All members are [thread-safe].
class TOOLHOST_API circuit_breaker {
public:
    /// The answer of try_acquire().
    struct admission {
        /// The call may proceed (closed, disabled, or the one half-open probe).
        bool allowed = false;
        /// The call is the half-open probe; its result closes or re-opens the breaker.
        bool probe = false;
        /// The generation the admission belongs to (0 for rejections); see on_result().
        std::uint64_t generation = 0;
        /// For a rejection: when a probe may be admitted next (open: next_probe_at; half_open:
        /// when the running probe times out; forced_open: time_point::max()). Else unset.
        clock::time_point retry_at{};
        /// The state that decided the admission.
        breaker_state state = breaker_state::closed;
    };

    /// The counters and timers at one instant.
    struct snapshot {
        breaker_state state;
        std::uint64_t calls;                              ///< calls recorded in the current window
        std::uint64_t failures;                           ///< failures recorded in the current window
        std::uint64_t consecutive_failures;               ///< the current run of failures
        double failure_rate;                              ///< failures / calls, 0 without calls
        clock::time_point opened_at;                      ///< when it last opened; epoch if never since reset
        clock::time_point next_probe_at;                  ///< open: next probe; half_open: probe timeout
        std::chrono::milliseconds current_open_duration;  ///< the next or current open period
        std::uint64_t transitions;                        ///< state changes since construction
    };

    /// Throws std::invalid_argument if the options are out of range (failure_rate outside
    /// (0, 1], open_multiplier < 1, non-positive durations, max_open_duration <
    /// open_duration, or any duration over 366 days). `clk` must outlive the breaker.
    circuit_breaker(std::string name, breaker_options options, const clock& clk);
    circuit_breaker(const circuit_breaker&) = delete;
    circuit_breaker& operator=(const circuit_breaker&) = delete;
    ~circuit_breaker();

    /// Decides whether a call may proceed. Closed, disabled and forced_open take one atomic
    /// load and no clock read; open (before next_probe_at) and half_open with a probe running
    /// take one atomic load and one clock read. Only the moment a probe is admitted locks.
    admission try_acquire() noexcept {
        // Inline: the closed case, every healthy call's, builds the answer in the caller's frame.
        const std::uint64_t word = word_.load(std::memory_order_acquire);
        const auto state = static_cast<breaker_state>(word & state_mask);
        if (state == breaker_state::closed || state == breaker_state::disabled)
            return {true, false, word >> state_bits, {}, state};
        return try_acquire_other(word);
    }

    /// Records the result of an allowed call. Ignored if the admission was rejected or belongs
    /// to an older generation (the breaker changed state, was reset, or admitted a newer
    /// probe since). May change the state and run the transition callback.
    void on_result(const admission& adm, status_code code) noexcept;
    /// The same with the caller's reading of the clock (saves a clock read on the call path).
    /// A success while closed takes no lock: two relaxed atomic updates, inline.
    void on_result(const admission& adm, status_code code, clock::time_point now) noexcept {
        if (adm.allowed && !adm.probe && !counts_as_failure(code) && count_success(adm, now)) return;
        record(adm, code, now);
    }

    /// The caller gave up on the call (its deadline passed) while the plugin call may still
    /// run: records DEADLINE_EXCEEDED now (a failure unless removed from failure_codes). Do
    /// not report the same admission again when the plugin call finally returns.
    void on_abandoned(const admission& adm) noexcept;

    /// The admitted call did not run after all (the bulkhead rejected it, or its deadline
    /// passed while it waited): records nothing. If it was the half-open probe, the gate is
    /// freed at once for the next caller. Counts as the admission's one report.
    void release(const admission& adm) noexcept;

    /// To closed from any state: counters cleared, open duration back to the initial one,
    /// results of earlier admissions ignored.
    void reset();
    /// Rejects every call until reset().
    void force_open();
    /// Admits every call and records nothing until reset().
    void disable();

    /// The current state (half_open only once a caller has asked after next_probe_at).
    breaker_state state() const noexcept;
    snapshot get_snapshot() const;
    const std::string& name() const noexcept { return name_; }
    const breaker_options& options() const noexcept { return options_; }

    /// Sets the function called on every state change, outside the breaker's lock. Set it
    /// before use; with none set, transitions cost nothing extra. It must not throw (it may
    /// be called from noexcept members); it may call the breaker's members.
    void on_transition(std::function<void(const breaker_transition&)> fn);

    /// Whether `code` counts as a failure under these options.
    bool counts_as_failure(status_code code) const noexcept {
        const auto i = static_cast<unsigned>(code);
        return i < 32 && ((failure_mask_ >> i) & 1u) != 0;
    }

    /// The error for a rejected admission: UNAVAILABLE, e.g. "circuit breaker 'rag' is open
    /// after 5 consecutive failures; next probe in 12.3 s" with retry_after set, or "circuit
    /// breaker 'rag' is forced open; reset it to allow calls".
    tool_error rejection_error(const admission& adm) const;

private:
    /// A slice of the rate window. Atomics so that a success while closed is counted without
    /// the lock; a slice is moved to a new index (and zeroed) only under the lock.
    struct bucket {
        std::atomic<std::int64_t> index{-1};  ///< (time - base_) / bucket_width_ of the slice it holds
        std::atomic<std::uint32_t> calls{0};
        std::atomic<std::uint32_t> failures{0};
    };
    static constexpr std::size_t bucket_count = 10;

    /// Successes counted without the lock, by thread shard (metrics.hpp) and slice of the
    /// window: each word holds a tag naming the slice (and the counters' epoch) in its high half
    /// and the count in its low half, so that a thread that owns its shard counts with a plain
    /// load and store, and a word left from an older slice or epoch is told apart without being
    /// zeroed.
    struct alignas(64) success_shard {
        std::array<std::atomic<std::uint64_t>, bucket_count> words{};
    };
    static std::uint32_t slice_tag(std::int64_t index, std::uint32_t epoch) noexcept {
        return static_cast<std::uint32_t>(index) + epoch * 2654435761u;  // distinct for any slice within 2^32
    }
    /// The lock-free successes of slice `index` (in the window).
    std::uint64_t fast_successes(std::int64_t index, std::uint32_t epoch) const noexcept;

    admission try_acquire_other(std::uint64_t word) noexcept;  // forced_open, open, half_open

    // The fast-path word: state in the low 3 bits, a payload above. For closed, disabled and
    // forced_open the payload is the generation; for open and half_open it is the time,
    // in clock ticks since base_, before which callers are rejected without locking.
    static constexpr unsigned state_bits = 3;
    static constexpr std::uint64_t state_mask = (1u << state_bits) - 1;
    static constexpr std::uint64_t payload_max = ~std::uint64_t{0} >> state_bits;

    admission acquire_slow(clock::time_point now) noexcept;
    void record(const admission& adm, status_code code, clock::time_point now) noexcept;
    std::int64_t bucket_index(clock::time_point now) const noexcept {
        const std::int64_t i = (now - base_) / bucket_width_;
        return i < 0 ? 0 : i;
    }
    // A success (not of a probe) while closed with no failure in the window cannot trip the
    // breaker (the consecutive count stays 0 and the rate stays 0), so it is only counted:
    // lock-free while its slice of the window is current. Stale admissions (the word's
    // generation moved on) and disabled breakers count nothing. False when the success needs
    // the locked path of record().
    bool count_success(const admission& adm, clock::time_point now) noexcept {
        const std::uint64_t word = word_.load(std::memory_order_acquire);
        const auto state = static_cast<breaker_state>(word & state_mask);
        if (state == breaker_state::disabled) return true;
        if (state != breaker_state::closed || (word >> state_bits) != (adm.generation & payload_max)) return false;
        const std::int64_t index = bucket_index(now);
        if (index < failure_horizon_.load(std::memory_order_acquire)) return false;
        // A thread stalled between the check of the state and this line would count its call
        // after a transition (in the new epoch): harmless.
        const std::uint64_t tag = std::uint64_t{slice_tag(index, epoch_.load(std::memory_order_acquire))} << 32;
        const detail::metric_shard_id s = detail::metric_shard();
        std::atomic<std::uint64_t>& cell = successes_[s.index].words[static_cast<std::size_t>(index) % bucket_count];
        // One more for this slice, or the first of it when the word still holds an older one.
        auto counted = [tag](std::uint64_t w) { return (w & ~std::uint64_t{0xffffffff}) == tag ? w + 1 : tag | 1; };
        std::uint64_t w = cell.load(std::memory_order_relaxed);
        if (s.exclusive)
            cell.store(counted(w), std::memory_order_relaxed);
        else
            while (!cell.compare_exchange_weak(w, counted(w), std::memory_order_relaxed)) {
            }
        if (consecutive_.load(std::memory_order_relaxed) != 0) consecutive_.store(0, std::memory_order_relaxed);
        return true;
    }

    // The helpers below require mutex_ to be held.
    void set_state(breaker_state to, clock::time_point now, std::string_view reason);
    void open_for(clock::time_point now, std::chrono::milliseconds duration);
    void clear_counters() noexcept;
    void publish() noexcept;
    std::uint64_t ticks_since_base(clock::time_point t) const noexcept;
    bucket& current_bucket(clock::time_point now) noexcept;
    void window_totals(clock::time_point now, std::uint64_t& calls, std::uint64_t& failures) const noexcept;

    /// Runs the queued transition callbacks, unless another thread already is.
    void deliver_transitions();

    const std::string name_;
    const breaker_options options_;
    const clock& clock_;
    const clock::time_point base_;  ///< construction time, origin of ticks and buckets
    const clock::duration bucket_width_;
    std::uint32_t failure_mask_ = 0;  ///< bit i set: status_code i is a failure

    std::atomic<std::uint64_t> word_{0};

    mutable std::mutex mutex_;
    breaker_state state_ = breaker_state::closed;
    std::uint64_t generation_ = 1;
    std::atomic<std::uint64_t> consecutive_{0};  ///< written under the lock, except reset to 0 by a success
    std::array<bucket, bucket_count> buckets_{};
    std::array<success_shard, detail::metric_shards> successes_{};
    /// Raised (under the lock) when the counters are cleared: the words of successes_ tagged
    /// with an older epoch count no more.
    std::atomic<std::uint32_t> epoch_{0};
    /// Bucket index from which the window holds no failure (written under the lock).
    std::atomic<std::int64_t> failure_horizon_{0};
    std::chrono::milliseconds current_open_;
    clock::time_point opened_at_{};
    clock::time_point next_probe_at_{};  ///< open: when the next probe may start
    bool probe_running_ = false;
    clock::time_point probe_deadline_{};  ///< half_open with a probe running: its timeout
    std::string open_reason_;             ///< "5 consecutive failures", for rejection_error
    std::uint64_t transitions_ = 0;

    std::function<void(const breaker_transition&)> listener_;
    std::deque<breaker_transition> pending_;  ///< transitions not yet given to listener_
    bool delivering_ = false;
};

}  // namespace toolhost

#pragma once
/// When and after how long a failed call is tried again, and the per-tool budget that keeps
/// retries from multiplying the load on a tool that is already failing.
///
/// Everything here is stateless or thread-safe; the state of one call (its attempt number) lives
/// with the call, never in the policy (design.md, "Resilience defaults").

#include <toolhost/clock.hpp>
#include <toolhost/export.hpp>
#include <toolhost/status.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace toolhost {

/// How the computed backoff d is randomised.
enum class backoff_jitter {
    none,   ///< exactly d
    full,   ///< uniform in [0, d]
    equal,  ///< d/2 + uniform in [0, d/2]
};

/// The retry settings of a tool or operation. Defaults follow design.md.
struct retry_options {
    /// Attempts in total, the first one included; 1 disables retries.
    std::uint32_t max_attempts = 3;
    /// The backoff before the second attempt, before jitter.
    std::chrono::milliseconds initial_backoff{200};
    /// Each further backoff is the previous one times this.
    double multiplier = 2.0;
    /// The backoff before jitter never exceeds this (a plugin's retry-after hint may).
    std::chrono::milliseconds max_backoff{10000};
    backoff_jitter jitter = backoff_jitter::full;
    /// The codes worth another attempt. CANCELLED is never retried, even if listed here.
    std::vector<status_code> retry_on = {status_code::unavailable, status_code::deadline_exceeded,
                                         status_code::resource_exhausted, status_code::aborted};
};

/// Empty if `o` is usable, else one line per problem, each "field: what is wrong"
/// (field = the member name, e.g. "max_attempts: must be at least 1, got 0"). Checks:
/// max_attempts >= 1, multiplier finite and >= 1, backoffs >= 0, initial <= max, and that
/// retry_on names neither OK nor CANCELLED (listing them would have no effect).
TOOLHOST_API std::string validate(const retry_options& o);

/// The delay before attempt `attempt + 1`: attempt 1 is the delay before the 2nd attempt.
/// d = min(initial_backoff * multiplier^(attempt-1), max_backoff), then jitter with
/// `random.next_unit()` u (clamped to [0, 1]): full = u*d, equal = d/2 + u*d/2, none = d (no
/// random number is drawn). attempt 0 gives 0. [thread-safe if `random` is]
TOOLHOST_API std::chrono::nanoseconds backoff(const retry_options& o, std::uint32_t attempt, random_source& random);

/// Whether to try again after `error`, having made `attempts_made` attempts (>= 1): only if the
/// operation is idempotent, the code is listed in retry_on and is not CANCELLED (nor OK), and
/// attempts_made < max_attempts. The retry budget and the remaining deadline are the caller's
/// next checks. [thread-safe]
TOOLHOST_API bool should_retry(const retry_options& o, const tool_error& error, std::uint32_t attempts_made,
                               bool idempotent) noexcept;

/// The delay before the next attempt after `error` on attempt number `attempt` (as backoff()):
/// max(backoff(o, attempt, random), error.retry_after).
///
/// The plugin's retry-after hint is honoured even above max_backoff: a tool that says "not
/// before 30 s" will fail again if asked sooner, and the call's total deadline bounds the wait
/// anyway. A caller whose remaining deadline is shorter than the delay should not wait at all
/// but return the error at once.
TOOLHOST_API std::chrono::nanoseconds next_delay(const retry_options& o, const tool_error& error, std::uint32_t attempt,
                                                 random_source& random);

/// The longest a call can take with these options when every attempt runs into
/// `attempt_timeout`: max_attempts * attempt_timeout + the sum of the max_attempts - 1 backoffs
/// before jitter (jitter only shortens them). Retry-after hints are not included. Saturates at
/// nanoseconds::max(). `toolhost validate` rejects options whose worst case exceeds the total
/// deadline.
TOOLHOST_API std::chrono::nanoseconds worst_case_total(const retry_options& o,
                                                       std::chrono::nanoseconds attempt_timeout) noexcept;

/// A per-tool token bucket that bounds retries to a fraction of calls.
///
/// Every call deposits `ratio` tokens (the pool is capped at `max_tokens`); every retry
/// withdraws one. So under a failure storm retries are at most `ratio` of calls, plus a burst of
/// at most `max_tokens`. A second, time-based reserve refills `min_retries_per_second` tokens per
/// second (holding at most one second's worth), so a tool with little traffic can still retry.
/// The pool starts empty and the reserve full.
///
/// Lock-free: the pool is an atomic fixed-point balance (a deposit into a full pool is a single
/// load, no write), the reserve a GCRA "theoretical arrival time" in one atomic. Deterministic on
/// a manual_clock. [thread-safe]
class TOOLHOST_API retry_budget {
public:
    /// Throws std::invalid_argument unless ratio is finite and >= 0 and max_tokens >= 0.
    /// `clk` must outlive the budget.
    explicit retry_budget(double ratio = 0.1, std::uint32_t min_retries_per_second = 10,
                          const clock& clk = steady_clock_instance(), double max_tokens = 100.0);

    /// Record a call (first attempts only, not retries).
    void deposit() noexcept;
    /// Take one token for a retry from the pool, else from the reserve; false if neither has one.
    bool try_withdraw() noexcept;

    /// The tokens in the pool (without the reserve).
    double tokens() const noexcept;
    /// The tokens the reserve would hand out now.
    double reserve_tokens() const noexcept;

    double ratio() const noexcept { return ratio_; }
    std::uint32_t min_retries_per_second() const noexcept { return min_per_second_; }

private:
    static constexpr std::int64_t unit = 1'000'000;  // fixed point: micro-tokens

    bool try_reserve() noexcept;

    const double ratio_;
    const std::uint32_t min_per_second_;
    const clock& clock_;
    const std::int64_t deposit_units_;
    const std::int64_t cap_units_;
    /// Nanoseconds between reserve tokens, and how far ahead of now the reserve may run.
    const std::int64_t interval_ns_;
    const std::int64_t window_ns_;
    alignas(64) std::atomic<std::int64_t> balance_{0};
    /// The reserve's theoretical arrival time in ns since the clock's epoch.
    alignas(64) std::atomic<std::int64_t> reserve_tat_;
};

/// Uniform doubles in [0, 1) from a per-thread splitmix64 generator seeded from
/// std::random_device, so concurrent callers never share state or a lock. One process-wide
/// instance: default_random(). [thread-safe]
class TOOLHOST_API thread_local_random final : public random_source {
public:
    double next_unit() noexcept override;
};

/// The process-wide thread_local_random.
TOOLHOST_API random_source& default_random() noexcept;

/// Returns the given values in order, starting over after the last, for tests. An empty
/// sequence returns 0. [thread-safe]
class TOOLHOST_API sequence_random final : public random_source {
public:
    explicit sequence_random(std::vector<double> values) : values_(std::move(values)) {}
    double next_unit() noexcept override;
    /// How many numbers were drawn.
    std::size_t draws() const noexcept { return next_.load(std::memory_order_relaxed); }

private:
    std::vector<double> values_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace toolhost

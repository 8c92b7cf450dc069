#include <toolhost/retry_policy.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace toolhost {
namespace {

using std::chrono::nanoseconds;

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r;
    return __builtin_add_overflow(a, b, &r) ? int64_max : r;
}

std::int64_t saturating_mul(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? int64_max : r;
}

/// The backoff before jitter, in ns, for attempt >= 1.
double raw_backoff_ns(const retry_options& o, std::uint32_t attempt) noexcept {
    const double initial = static_cast<double>(nanoseconds(o.initial_backoff).count());
    const double cap = static_cast<double>(nanoseconds(o.max_backoff).count());
    if (initial <= 0 || cap <= 0) return 0;
    const double multiplier = std::isfinite(o.multiplier) && o.multiplier >= 1 ? o.multiplier : 1.0;
    const double d = initial * std::pow(multiplier, static_cast<double>(attempt - 1));
    return std::min(d, cap);  // also when pow overflowed to +inf
}

std::int64_t to_units(double v, std::int64_t unit) noexcept {
    const double u = v * static_cast<double>(unit);
    return u >= 9.2e18 ? int64_max : std::llround(u);
}

std::int64_t now_ns(const clock& c) noexcept {
    return std::chrono::duration_cast<nanoseconds>(c.now().time_since_epoch()).count();
}

std::uint64_t splitmix64_next(std::uint64_t& state) noexcept {
    state += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::uint64_t fresh_seed() noexcept {
    try {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        // No entropy source: fall back to something that still differs between threads.
        std::uint64_t local = 0;
        return reinterpret_cast<std::uintptr_t>(&local) ^
               static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

}  // namespace

std::string validate(const retry_options& o) {
    std::string problems;
    const auto problem = [&](std::string line) {
        if (!problems.empty()) problems += '\n';
        problems += line;
    };
    if (o.max_attempts < 1) problem("max_attempts: must be at least 1, got 0");
    if (!std::isfinite(o.multiplier) || o.multiplier < 1.0) {
        problem("multiplier: must be a finite number >= 1, got " + std::to_string(o.multiplier));
    }
    if (o.initial_backoff.count() < 0) problem("initial_backoff: must not be negative");
    if (o.max_backoff.count() < 0) problem("max_backoff: must not be negative");
    if (o.initial_backoff > o.max_backoff) {
        problem("initial_backoff: " + std::to_string(o.initial_backoff.count()) + " ms is more than max_backoff (" +
                std::to_string(o.max_backoff.count()) + " ms)");
    }
    for (status_code c : o.retry_on) {
        if (c == status_code::cancelled || c == status_code::ok) {
            problem("retry_on: " + std::string(status_name(c)) + " is never retried");
        }
    }
    return problems;
}

nanoseconds backoff(const retry_options& o, std::uint32_t attempt, random_source& random) {
    if (attempt == 0) return nanoseconds(0);
    const double d = raw_backoff_ns(o, attempt);
    if (o.jitter == backoff_jitter::none || d <= 0) return nanoseconds(static_cast<std::int64_t>(d));
    double u = random.next_unit();
    u = std::isnan(u) ? 0.0 : std::clamp(u, 0.0, 1.0);
    const double jittered = o.jitter == backoff_jitter::full ? u * d : d / 2 + u * (d / 2);
    return nanoseconds(static_cast<std::int64_t>(jittered));
}

bool should_retry(const retry_options& o, const tool_error& error, std::uint32_t attempts_made,
                  bool idempotent) noexcept {
    if (!idempotent || attempts_made >= o.max_attempts) return false;
    if (error.code == status_code::cancelled || error.code == status_code::ok) return false;
    return std::find(o.retry_on.begin(), o.retry_on.end(), error.code) != o.retry_on.end();
}

nanoseconds next_delay(const retry_options& o, const tool_error& error, std::uint32_t attempt, random_source& random) {
    const nanoseconds d = backoff(o, attempt, random);
    if (error.retry_after && *error.retry_after > d) return nanoseconds(*error.retry_after);
    return d;
}

nanoseconds worst_case_total(const retry_options& o, nanoseconds attempt_timeout) noexcept {
    const std::int64_t per_attempt = std::max<std::int64_t>(attempt_timeout.count(), 0);
    std::int64_t total = saturating_mul(per_attempt, o.max_attempts);
    const double cap = raw_backoff_ns(o, std::numeric_limits<std::uint32_t>::max());
    for (std::uint32_t k = 1; k < o.max_attempts; ++k) {
        const double d = raw_backoff_ns(o, k);
        if (d >= cap) {
            // Every later backoff is capped too: add them in one step.
            const auto remaining = static_cast<std::int64_t>(o.max_attempts - k);
            return nanoseconds(saturating_add(total, saturating_mul(static_cast<std::int64_t>(d), remaining)));
        }
        total = saturating_add(total, static_cast<std::int64_t>(d));
    }
    return nanoseconds(total);
}

// --- retry_budget

retry_budget::retry_budget(double ratio, std::uint32_t min_retries_per_second, const clock& clk, double max_tokens)
    : ratio_(ratio), min_per_second_(min_retries_per_second), clock_(clk),
      deposit_units_(std::isfinite(ratio) && ratio >= 0 ? to_units(ratio, unit) : 0),
      cap_units_(std::isfinite(max_tokens) && max_tokens >= 0 ? to_units(max_tokens, unit) : 0),
      interval_ns_(min_retries_per_second > 0 ? 1'000'000'000 / min_retries_per_second : 0), window_ns_(1'000'000'000),
      reserve_tat_(std::numeric_limits<std::int64_t>::min()) {
    if (!std::isfinite(ratio) || ratio < 0) {
        throw std::invalid_argument("retry_budget: ratio must be a finite number >= 0");
    }
    if (!std::isfinite(max_tokens) || max_tokens < 0) {
        throw std::invalid_argument("retry_budget: max_tokens must be a finite number >= 0");
    }
}

void retry_budget::deposit() noexcept {
    std::int64_t cur = balance_.load(std::memory_order_relaxed);
    // A full pool (the usual state of a healthy tool) costs one load and no write.
    while (cur < cap_units_) {
        const std::int64_t next = std::min(cap_units_, saturating_add(cur, deposit_units_));
        if (balance_.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return;
    }
}

bool retry_budget::try_withdraw() noexcept {
    std::int64_t cur = balance_.load(std::memory_order_relaxed);
    while (cur >= unit) {
        if (balance_.compare_exchange_weak(cur, cur - unit, std::memory_order_relaxed)) return true;
    }
    return try_reserve();
}

bool retry_budget::try_reserve() noexcept {
    if (interval_ns_ == 0) return false;
    const std::int64_t now = now_ns(clock_);
    std::int64_t tat = reserve_tat_.load(std::memory_order_relaxed);
    for (;;) {
        // GCRA: each token moves the theoretical arrival time one interval on; the reserve is
        // empty when that would put it more than one second ahead of now.
        const std::int64_t next = std::max(tat, now) + interval_ns_;
        if (next - now > window_ns_) return false;
        if (reserve_tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return true;
    }
}

double retry_budget::tokens() const noexcept {
    return static_cast<double>(balance_.load(std::memory_order_relaxed)) / static_cast<double>(unit);
}

double retry_budget::reserve_tokens() const noexcept {
    if (interval_ns_ == 0) return 0;
    const std::int64_t now = now_ns(clock_);
    const std::int64_t ahead = std::max(reserve_tat_.load(std::memory_order_relaxed), now) - now;
    return std::floor(static_cast<double>(window_ns_ - ahead) / static_cast<double>(interval_ns_));
}

// --- random sources

double thread_local_random::next_unit() noexcept {
    thread_local std::uint64_t state = fresh_seed();
    return static_cast<double>(splitmix64_next(state) >> 11) * 0x1.0p-53;
}

random_source& default_random() noexcept {
    static thread_local_random instance;
    return instance;
}

double sequence_random::next_unit() noexcept {
    const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    return values_.empty() ? 0.0 : values_[i % values_.size()];
}

}  // namespace toolhost

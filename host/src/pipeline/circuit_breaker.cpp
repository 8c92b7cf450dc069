#include <toolhost/circuit_breaker.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace toolhost {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds longest_duration = std::chrono::hours(24 * 366);

void check_duration(milliseconds d, const char* what) {
    if (d <= milliseconds::zero() || d > longest_duration) {
        throw std::invalid_argument(std::string("circuit breaker option ") + what +
                                    " must be positive and at most 366 days");
    }
}

/// "30 s", "1.5 s", "250 ms".
std::string format_duration(milliseconds d) {
    char buf[48];
    if (d.count() % 1000 == 0) {
        std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(d.count() / 1000));
    } else if (d < std::chrono::seconds(1)) {
        std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(d.count()));
    } else {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
    }
    return buf;
}

/// "12.3 s" (always one decimal, never negative).
std::string format_wait(clock::duration d) {
    const double seconds = std::max(0.0, std::chrono::duration<double>(d).count());
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    return buf;
}

}  // namespace

std::string_view breaker_state_name(breaker_state s) noexcept {
    switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
    case breaker_state::forced_open: return "forced_open";
    case breaker_state::disabled: return "disabled";
    }
    return "unknown";
}

circuit_breaker::circuit_breaker(std::string name, breaker_options options, const clock& clk)
    : name_(std::move(name)), options_(std::move(options)), clock_(clk), base_(clk.now()),
      bucket_width_(std::max(clock::duration(1), std::chrono::duration_cast<clock::duration>(options_.window) /
                                                     static_cast<long>(bucket_count))),
      current_open_(options_.open_duration) {
    if (!(options_.failure_rate > 0.0 && options_.failure_rate <= 1.0)) {
        throw std::invalid_argument("circuit breaker option failure_rate must be in (0, 1]");
    }
    if (!(options_.open_multiplier >= 1.0 && std::isfinite(options_.open_multiplier))) {
        throw std::invalid_argument("circuit breaker option open_multiplier must be finite and >= 1");
    }
    check_duration(options_.window, "window");
    check_duration(options_.open_duration, "open_duration");
    check_duration(options_.max_open_duration, "max_open_duration");
    check_duration(options_.probe_timeout, "probe_timeout");
    if (options_.max_open_duration < options_.open_duration) {
        throw std::invalid_argument("circuit breaker option max_open_duration must be >= open_duration");
    }
    for (status_code c : options_.failure_codes) {
        // The caller's own doing says nothing about the tool's health.
        if (c == status_code::ok || c == status_code::invalid_argument || c == status_code::cancelled) continue;
        const auto i = static_cast<unsigned>(c);
        if (i < 32) failure_mask_ |= 1u << i;
    }
    publish();
}

circuit_breaker::~circuit_breaker() = default;

circuit_breaker::admission circuit_breaker::try_acquire_other(std::uint64_t word) noexcept {
    // Not closed or disabled: try_acquire() answered those.
    const auto state = static_cast<breaker_state>(word & state_mask);
    if (state == breaker_state::forced_open) return {false, false, 0, clock::time_point::max(), state};
    const std::uint64_t payload = word >> state_bits;  // open or half_open: reject before this
    const clock::time_point now = clock_.now();
    const clock::duration reject_until(static_cast<clock::duration::rep>(payload));
    if (now - base_ < reject_until) return {false, false, 0, base_ + reject_until, state};
    return acquire_slow(now);
}

circuit_breaker::admission circuit_breaker::acquire_slow(clock::time_point now) noexcept {
    std::unique_lock lock(mutex_);
    admission result;
    switch (state_) {
    case breaker_state::closed:
    case breaker_state::disabled: return {true, false, generation_, {}, state_};
    case breaker_state::forced_open: return {false, false, 0, clock::time_point::max(), state_};
    case breaker_state::open:
        if (now < next_probe_at_) return {false, false, 0, next_probe_at_, state_};
        set_state(breaker_state::half_open, now, "open period over");
        [[fallthrough]];
    case breaker_state::half_open:
        if (probe_running_ && now < probe_deadline_) {
            result = {false, false, 0, probe_deadline_, state_};
            break;
        }
        // A new probe, possibly replacing one that timed out: its own generation makes the
        // old probe's late result stale.
        probe_running_ = true;
        probe_deadline_ = now + options_.probe_timeout;
        ++generation_;
        result = {true, true, generation_, {}, state_};
        publish();
        break;
    }
    const bool notify = !pending_.empty();
    lock.unlock();
    if (notify) deliver_transitions();
    return result;
}

void circuit_breaker::on_result(const admission& adm, status_code code) noexcept {
    if (adm.allowed) record(adm, code, clock_.now());
}

void circuit_breaker::on_abandoned(const admission& adm) noexcept {
    if (adm.allowed) record(adm, status_code::deadline_exceeded, clock_.now());
}

void circuit_breaker::release(const admission& adm) noexcept {
    if (!adm.allowed || !adm.probe) return;  // a closed or disabled admission holds nothing
    std::lock_guard lock(mutex_);
    if (adm.generation != generation_ || state_ != breaker_state::half_open || !probe_running_) return;
    probe_running_ = false;
    ++generation_;  // a report of the released probe after all is stale
    publish();
}

void circuit_breaker::record(const admission& adm, status_code code, clock::time_point now) noexcept {
    if (!adm.allowed) return;
    const bool failure = counts_as_failure(code);
    if (!failure && !adm.probe && count_success(adm, now)) return;
    std::unique_lock lock(mutex_);
    if (adm.generation != generation_) return;  // stale: from before a transition or reset
    switch (state_) {
    case breaker_state::closed: {
        bucket& b = current_bucket(now);
        b.calls.fetch_add(1, std::memory_order_relaxed);
        if (failure) {
            b.failures.fetch_add(1, std::memory_order_relaxed);
            // Until this failure ages out of the window, successes take the locked path, where
            // the rate is evaluated (a success can complete minimum_calls).
            failure_horizon_.store(bucket_index(now) + static_cast<std::int64_t>(bucket_count),
                                   std::memory_order_release);
        }
        const std::uint64_t consecutive = failure ? consecutive_.load(std::memory_order_relaxed) + 1 : 0;
        consecutive_.store(consecutive, std::memory_order_relaxed);
        std::string reason;
        if (options_.consecutive_failures != 0 && consecutive >= options_.consecutive_failures) {
            reason = std::to_string(consecutive) + " consecutive failures";
        } else if (options_.minimum_calls != 0) {
            std::uint64_t calls = 0;
            std::uint64_t failures = 0;
            window_totals(now, calls, failures);
            if (calls >= options_.minimum_calls &&
                static_cast<double>(failures) >= options_.failure_rate * static_cast<double>(calls)) {
                const auto percent = static_cast<long long>(
                    std::lround(100.0 * static_cast<double>(failures) / static_cast<double>(calls)));
                reason = "a failure rate of " + std::to_string(percent) + "% (" + std::to_string(failures) + " of " +
                         std::to_string(calls) + " calls in " + format_duration(options_.window) + ")";
            }
        }
        if (reason.empty()) return;
        set_state(breaker_state::open, now, reason);
        open_reason_ = std::move(reason);
        open_for(now, current_open_);
        break;
    }
    case breaker_state::half_open:
        probe_running_ = false;
        if (failure) {
            const double grown = static_cast<double>(current_open_.count()) * options_.open_multiplier;
            current_open_ = grown >= static_cast<double>(options_.max_open_duration.count())
                                ? options_.max_open_duration
                                : milliseconds(std::llround(grown));
            std::string reason = "a failed probe (" + std::string(status_name(code)) + ")";
            set_state(breaker_state::open, now, reason);
            open_reason_ = std::move(reason);
            open_for(now, current_open_);
        } else {
            set_state(breaker_state::closed, now, "probe succeeded (" + std::string(status_name(code)) + ")");
            clear_counters();
            current_open_ = options_.open_duration;
            open_reason_.clear();
        }
        break;
    case breaker_state::open:
    case breaker_state::forced_open:
    case breaker_state::disabled: return;  // not reachable with a current generation; nothing to record anyway
    }
    publish();
    const bool notify = !pending_.empty();
    lock.unlock();
    if (notify) deliver_transitions();
}

void circuit_breaker::reset() {
    const clock::time_point now = clock_.now();
    std::unique_lock lock(mutex_);
    if (state_ != breaker_state::closed) {
        set_state(breaker_state::closed, now, "reset");
    } else {
        ++generation_;  // results of calls admitted before the reset are stale
    }
    clear_counters();
    current_open_ = options_.open_duration;
    opened_at_ = {};
    next_probe_at_ = {};
    probe_running_ = false;
    open_reason_.clear();
    publish();
    const bool notify = !pending_.empty();
    lock.unlock();
    if (notify) deliver_transitions();
}

void circuit_breaker::force_open() {
    const clock::time_point now = clock_.now();
    std::unique_lock lock(mutex_);
    if (state_ == breaker_state::forced_open) return;
    set_state(breaker_state::forced_open, now, "forced open");
    probe_running_ = false;
    publish();
    const bool notify = !pending_.empty();
    lock.unlock();
    if (notify) deliver_transitions();
}

void circuit_breaker::disable() {
    const clock::time_point now = clock_.now();
    std::unique_lock lock(mutex_);
    if (state_ == breaker_state::disabled) return;
    set_state(breaker_state::disabled, now, "disabled");
    probe_running_ = false;
    publish();
    const bool notify = !pending_.empty();
    lock.unlock();
    if (notify) deliver_transitions();
}

breaker_state circuit_breaker::state() const noexcept {
    return static_cast<breaker_state>(word_.load(std::memory_order_acquire) & state_mask);
}

circuit_breaker::snapshot circuit_breaker::get_snapshot() const {
    const clock::time_point now = clock_.now();
    std::lock_guard lock(mutex_);
    snapshot s{};
    s.state = state_;
    window_totals(now, s.calls, s.failures);
    s.consecutive_failures = consecutive_.load(std::memory_order_relaxed);
    s.failure_rate = s.calls == 0 ? 0.0 : static_cast<double>(s.failures) / static_cast<double>(s.calls);
    s.opened_at = opened_at_;
    if (state_ == breaker_state::open) {
        s.next_probe_at = next_probe_at_;
    } else if (state_ == breaker_state::half_open) {
        s.next_probe_at = probe_running_ ? probe_deadline_ : next_probe_at_;
    }
    s.current_open_duration = current_open_;
    s.transitions = transitions_;
    return s;
}

void circuit_breaker::on_transition(std::function<void(const breaker_transition&)> fn) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(fn);
}

tool_error circuit_breaker::rejection_error(const admission& adm) const {
    const std::string prefix = "circuit breaker '" + name_ + "' is ";
    if (adm.state == breaker_state::forced_open) {
        return make_tool_error(status_code::unavailable, prefix + "forced open; reset it to allow calls");
    }
    std::string reason;
    {
        std::lock_guard lock(mutex_);
        reason = open_reason_;
    }
    const clock::duration wait = std::max(clock::duration::zero(), adm.retry_at - clock_.now());
    std::string message = prefix;
    if (adm.state == breaker_state::half_open) {
        message += "half-open and its probe call is still running";
        if (!reason.empty()) message += " (opened after " + reason + ")";
        message += "; next probe in " + format_wait(wait) + " at the latest";
    } else {
        message += "open";
        if (!reason.empty()) message += " after " + reason;
        message += "; next probe in " + format_wait(wait);
    }
    tool_error e = make_tool_error(status_code::unavailable, std::move(message));
    e.retry_after = std::chrono::ceil<milliseconds>(wait);
    return e;
}

void circuit_breaker::set_state(breaker_state to, clock::time_point now, std::string_view reason) {
    const breaker_state from = state_;
    state_ = to;
    ++generation_;
    ++transitions_;
    if (listener_) pending_.push_back(breaker_transition{from, to, now, std::string(reason)});
}

void circuit_breaker::open_for(clock::time_point now, milliseconds duration) {
    opened_at_ = now;
    next_probe_at_ = now + duration;
}

void circuit_breaker::clear_counters() noexcept {
    consecutive_.store(0, std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    failure_horizon_.store(0, std::memory_order_release);
    for (bucket& b : buckets_) {
        b.index.store(-1, std::memory_order_relaxed);
        b.calls.store(0, std::memory_order_relaxed);
        b.failures.store(0, std::memory_order_relaxed);
    }
}

void circuit_breaker::publish() noexcept {
    std::uint64_t payload = 0;
    switch (state_) {
    case breaker_state::closed:
    case breaker_state::disabled:
    case breaker_state::forced_open: payload = generation_ & payload_max; break;
    case breaker_state::open: payload = ticks_since_base(next_probe_at_); break;
    case breaker_state::half_open: payload = probe_running_ ? ticks_since_base(probe_deadline_) : 0; break;
    }
    word_.store((payload << state_bits) | static_cast<std::uint64_t>(state_), std::memory_order_release);
}

std::uint64_t circuit_breaker::ticks_since_base(clock::time_point t) const noexcept {
    const auto ticks = (t - base_).count();
    if (ticks <= 0) return 0;
    return std::min(static_cast<std::uint64_t>(ticks), payload_max);
}

circuit_breaker::bucket& circuit_breaker::current_bucket(clock::time_point now) noexcept {
    const std::int64_t index = bucket_index(now);
    bucket& b = buckets_[static_cast<std::size_t>(index) % bucket_count];
    // `now` was read before the lock: a slot already holding a newer slice keeps it (only a
    // thread stalled for a whole window could see that; its call then counts as newer).
    if (b.index.load(std::memory_order_relaxed) < index) {
        b.calls.store(0, std::memory_order_relaxed);
        b.failures.store(0, std::memory_order_relaxed);
        b.index.store(index, std::memory_order_release);  // lock-free counters may use it now
    }
    return b;
}

void circuit_breaker::window_totals(clock::time_point now, std::uint64_t& calls,
                                    std::uint64_t& failures) const noexcept {
    const std::int64_t index = bucket_index(now);
    calls = 0;
    failures = 0;
    for (const bucket& b : buckets_) {
        if (b.index.load(std::memory_order_acquire) > index - static_cast<std::int64_t>(bucket_count)) {
            calls += b.calls.load(std::memory_order_relaxed);
            failures += b.failures.load(std::memory_order_relaxed);
        }
    }
    const std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
    for (std::int64_t i = std::max<std::int64_t>(0, index - static_cast<std::int64_t>(bucket_count) + 1); i <= index;
         ++i)
        calls += fast_successes(i, epoch);
}

std::uint64_t circuit_breaker::fast_successes(std::int64_t index, std::uint32_t epoch) const noexcept {
    const std::uint64_t tag = std::uint64_t{slice_tag(index, epoch)} << 32;
    std::uint64_t n = 0;
    for (const success_shard& s : successes_) {
        const std::uint64_t w = s.words[static_cast<std::size_t>(index) % bucket_count].load(std::memory_order_relaxed);
        if ((w & ~std::uint64_t{0xffffffff}) == tag) n += w & 0xffffffff;
    }
    return n;
}

void circuit_breaker::deliver_transitions() {
    std::unique_lock lock(mutex_);
    if (delivering_) return;  // the delivering thread picks ours up, in order
    delivering_ = true;
    while (!pending_.empty()) {
        breaker_transition t = std::move(pending_.front());
        pending_.pop_front();
        // A copy, so that the callback may replace the listener without destroying itself.
        auto fn = listener_;
        lock.unlock();
        try {
            if (fn) fn(t);
        } catch (...) {
            lock.lock();
            delivering_ = false;
            throw;
        }
        lock.lock();
    }
    delivering_ = false;
}

}  // namespace toolhost

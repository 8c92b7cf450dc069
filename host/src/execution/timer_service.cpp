#include <toolhost/timer_service.hpp>

namespace toolhost {

namespace {
// Timer ids carry their shard in the low bits.
constexpr unsigned shard_bits = 3;

std::size_t this_thread_shard(std::size_t count) noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine % count;
}
}  // namespace

thread_timer_service::thread_timer_service() {
    static_assert(shard_count <= (std::size_t{1} << shard_bits));
    thread_ = std::thread([this] { run(); });
}

thread_timer_service::~thread_timer_service() {
    {
        std::lock_guard lock(wake_mutex_);
        stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

timer_service::timer_id thread_timer_service::schedule(clock::time_point when, callback fn) {
    const std::size_t k = this_thread_shard(shard_count);
    shard& sh = shards_[k];
    timer_id id;
    {
        std::lock_guard lock(sh.mutex);
        id = (sh.next_seq++ << shard_bits) | k;
        sh.index.emplace(id, sh.queue.emplace(when, std::make_pair(id, std::move(fn))));
    }
    // Wake the timer thread only when this timer is due before it would wake anyway.
    const clock::duration::rep at = when.time_since_epoch().count();
    clock::duration::rep wake = wake_at_.load(std::memory_order_acquire);
    while (at < wake) {
        if (wake_at_.compare_exchange_weak(wake, at, std::memory_order_acq_rel)) {
            std::lock_guard lock(wake_mutex_);  // pairs with the sleeper's check: no lost wake-up
            cv_.notify_one();
            break;
        }
    }
    return id;
}

bool thread_timer_service::cancel(timer_id id) {
    shard& sh = shards_[id & ((timer_id{1} << shard_bits) - 1)];
    std::lock_guard lock(sh.mutex);
    auto it = sh.index.find(id);
    if (it == sh.index.end()) return false;
    sh.queue.erase(it->second);
    sh.index.erase(it);
    return true;
}

bool thread_timer_service::pop_due(clock::time_point now, callback& fn, clock::time_point& earliest) {
    earliest = clock::time_point::max();
    for (shard& sh : shards_) {
        std::lock_guard lock(sh.mutex);
        auto first = sh.queue.begin();
        if (first == sh.queue.end()) continue;
        if (first->first <= now) {
            fn = std::move(first->second.second);
            sh.index.erase(first->second.first);
            sh.queue.erase(first);
            return true;
        }
        earliest = std::min(earliest, first->first);
    }
    return false;
}

void thread_timer_service::run() {
    // Wakes at least this often even with nothing due, so that timers far in the future are
    // added without waking the thread (see wake_at_).
    constexpr auto idle_tick = std::chrono::milliseconds(250);
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        callback fn;
        clock::time_point earliest;
        if (pop_due(now, fn, earliest)) {
            fn();  // without any lock: a callback may schedule or cancel timers
            continue;
        }
        const auto until = std::min(earliest, now + idle_tick);
        std::unique_lock lock(wake_mutex_);
        if (stop_) return;
        // Publish the wake-up time, then re-check: a timer scheduled in between either saw the
        // old (later) value and notifies under wake_mutex_, or is found by the next pop_due().
        wake_at_.store(until.time_since_epoch().count(), std::memory_order_release);
        cv_.wait_until(lock, until, [&] {
            return stop_ || wake_at_.load(std::memory_order_acquire) < until.time_since_epoch().count();
        });
        if (stop_) return;
    }
}

timer_service::timer_id manual_timer_service::schedule(clock::time_point when, callback fn) {
    std::lock_guard lock(mutex_);
    const timer_id id = next_id_++;
    queue_.emplace(when, std::make_pair(id, std::move(fn)));
    return id;
}

bool manual_timer_service::cancel(timer_id id) {
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->second.first == id) {
            queue_.erase(it);
            return true;
        }
    }
    return false;
}

void manual_timer_service::advance(clock::duration d) {
    const auto target = clock_.now() + d;
    for (;;) {
        callback fn;
        {
            std::lock_guard lock(mutex_);
            auto first = queue_.begin();
            if (first == queue_.end() || first->first > target) break;
            if (first->first > clock_.now()) clock_.set(first->first);
            fn = std::move(first->second.second);
            queue_.erase(first);
        }
        fn();
    }
    if (clock_.now() < target) clock_.set(target);
}

std::size_t manual_timer_service::pending() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

}  // namespace toolhost

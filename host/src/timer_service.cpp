#include <toolhost/timer_service.hpp>

namespace toolhost {

thread_timer_service::thread_timer_service() : thread_([this] { run(); }) {}

thread_timer_service::~thread_timer_service() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

timer_service::timer_id thread_timer_service::schedule(clock::time_point when, callback fn) {
    std::unique_lock lock(mutex_);
    const timer_id id = next_id_++;
    index_.emplace(id, queue_.emplace(when, std::make_pair(id, std::move(fn))));
    const bool sooner = when < wake_at_;
    if (sooner) wake_at_ = when;
    lock.unlock();
    if (sooner) cv_.notify_one();
    return id;
}

bool thread_timer_service::cancel(timer_id id) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    queue_.erase(it->second);
    index_.erase(it);
    return true;
}

void thread_timer_service::run() {
    // Wakes at least this often even with nothing due, so that timers far in the future are
    // added without waking the thread (see wake_at_).
    constexpr auto idle_tick = std::chrono::milliseconds(250);
    std::unique_lock lock(mutex_);
    while (!stop_) {
        const auto now = std::chrono::steady_clock::now();
        auto first = queue_.begin();
        if (first == queue_.end() || now < first->first) {
            wake_at_ = first == queue_.end() ? now + idle_tick : std::min(first->first, now + idle_tick);
            cv_.wait_until(lock, wake_at_);
            continue;
        }
        callback fn = std::move(first->second.second);
        index_.erase(first->second.first);
        queue_.erase(first);
        // Run without the lock: a callback may schedule or cancel timers.
        lock.unlock();
        fn();
        lock.lock();
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

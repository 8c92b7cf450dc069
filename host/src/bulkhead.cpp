#include <toolhost/bulkhead.hpp>

namespace toolhost {

bulkhead::admission bulkhead::acquire(waiter w) {
    std::lock_guard lock(mutex_);
    if (running_.load(std::memory_order_relaxed) < options_.max_concurrent && queue_.empty()) {
        running_.fetch_add(1, std::memory_order_relaxed);
        return admission::entered;
    }
    if (queue_.size() >= options_.max_queue) return admission::rejected;
    queue_.push_back(std::move(w));
    return admission::queued;
}

void bulkhead::release() {
    for (;;) {
        waiter next;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty()) {
                running_.fetch_sub(1, std::memory_order_relaxed);
                return;
            }
            next = std::move(queue_.front());
            queue_.pop_front();
        }
        // The slot passes to `next` without ever being free, so nobody can overtake the queue.
        if (next()) return;
    }
}

uint32_t bulkhead::queued() const {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(queue_.size());
}

}  // namespace toolhost

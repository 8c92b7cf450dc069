#include <toolhost/bulkhead.hpp>

namespace toolhost {

bulkhead::admission bulkhead::acquire(waiter w) {
    // Nobody waits: take a slot without the lock (waiters, when there are any, go first).
    if (queued_.load() == 0 && try_take_slot()) return admission::entered;
    {
        std::lock_guard lock(mutex_);
        if (queue_.empty() && try_take_slot()) return admission::entered;
        if (queue_.size() >= options_.max_queue) return admission::rejected;
        queue_.push_back(std::move(w));
        queued_.store(static_cast<uint32_t>(queue_.size()));
    }
    // A slot freed between the failed take and the push would otherwise go unnoticed.
    hand_out_free_slots();
    return admission::queued;
}

void bulkhead::hand_out_free_slots() {
    for (;;) {
        waiter next;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty() || !try_take_slot()) return;
            next = std::move(queue_.front());
            queue_.pop_front();
            queued_.store(static_cast<uint32_t>(queue_.size()));
        }
        // Run outside the lock: the waiter starts a call. One that no longer wants its slot
        // (its deadline passed) gives it back for the next.
        if (!next()) running_.fetch_sub(1);
    }
}

}  // namespace toolhost

#pragma once
/// A bulkhead: at most `max_concurrent` calls of one tool run at once, at most `max_queue` more
/// wait for a slot, and anything beyond is rejected at once (RESOURCE_EXHAUSTED).
///
/// A slot is held from acquire until release(), which the pipeline calls only when the plugin
/// really returns: a call abandoned at its deadline keeps its slot until then.

#include <toolhost/export.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

namespace toolhost {

struct bulkhead_options {
    uint32_t max_concurrent = 64;
    uint32_t max_queue = 256;
    bool operator==(const bulkhead_options&) const = default;
};

class TOOLHOST_API bulkhead {
public:
    /// Called with a slot held once a queued acquire gets one. Returns false when the caller no
    /// longer wants it (its deadline passed while it waited); the slot then goes to the next.
    using waiter = std::function<bool()>;
    enum class admission { entered, queued, rejected };

    explicit bulkhead(bulkhead_options o) : options_(o) {}

    /// Takes a slot if one is free and nobody waits; the allocation-free fast path. [thread-safe]
    bool try_enter() noexcept { return queued_.load() == 0 && try_take_slot(); }
    /// entered: the caller holds a slot now (`w` is dropped). queued: `w` runs later, on the
    /// thread that releases a slot. rejected: the queue is full. [thread-safe]
    admission acquire(waiter w);
    /// Frees a slot, or hands it to the oldest waiter that still wants it. [thread-safe]
    void release() {
        running_.fetch_sub(1);
        if (queued_.load() != 0) hand_out_free_slots();
    }

    const bulkhead_options& options() const noexcept { return options_; }
    uint32_t running() const noexcept { return running_.load(std::memory_order_relaxed); }
    uint32_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }

private:
    bool try_take_slot() noexcept {
        uint32_t r = running_.load();
        while (r < options_.max_concurrent) {
            if (running_.compare_exchange_weak(r, r + 1)) return true;
        }
        return false;
    }
    void hand_out_free_slots();

    // Fast path: while nobody waits, acquire and release are one atomic operation each. The
    // mutex guards the queue only. A release and an enqueue that race are both followed by
    // hand_out_free_slots(), and the seq_cst order of `running_` and `queued_` guarantees that
    // at least one of them sees the other, so no waiter sleeps next to a free slot.
    bulkhead_options options_;
    mutable std::mutex mutex_;
    std::deque<waiter> queue_;
    std::atomic<uint32_t> running_{0};
    std::atomic<uint32_t> queued_{0};
};

}  // namespace toolhost

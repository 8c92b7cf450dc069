#pragma once
// The calls a tool has in flight: what keeps its slot (and its instance) alive, and what a
// stopping or removed tool waits to drain.
//
// A call that may end on another thread than the one it started on (the asynchronous path)
// counts in one shared atomic. A call that starts and ends on the same thread (the inline path)
// counts in that thread's shard instead: with a shard of its own (metrics.hpp), a thread updates
// it with plain loads and stores, no locked instruction, and the drain pays for the ordering
// with a heavy_fence() (asymmetric_fence.hpp). Either way, a count that reaches zero on a
// stopping tool wakes the drain, which re-reads the total.

#include "execution/asymmetric_fence.hpp"

#include <toolhost/metrics.hpp>

#include <array>
#include <atomic>
#include <cstdint>

namespace toolhost::detail {

class in_flight_count {
public:
    /// A call that may end on another thread. [thread-safe]
    void add() noexcept { shared_.fetch_add(1); }
    /// Ends what add() began. True when the shared count reached zero. [thread-safe]
    bool remove() noexcept { return shared_.fetch_sub(1) == 1; }

    /// A call that ends on this thread, by leave_here() with the shard returned. Ordered before
    /// the caller's next load (the tool's state) by a fence that pairs with the drain's
    /// heavy_fence(). [thread-safe]
    metric_shard_id enter_here() noexcept {
        const metric_shard_id s = metric_shard();
        std::atomic<int64_t>& n = cells_[s.index].n;
        if (s.exclusive && asymmetric_fences()) {
            n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            light_fence();
        } else {
            n.fetch_add(1);
        }
        return s;
    }
    /// Ends what enter_here() began. True when this thread's count reached zero. Everything the
    /// call did happens before a drain that sees the count fall (release). [thread-safe]
    bool leave_here(metric_shard_id s) noexcept {
        std::atomic<int64_t>& n = cells_[s.index].n;
        if (s.exclusive && asymmetric_fences()) {
            const int64_t left = n.load(std::memory_order_relaxed) - 1;
            n.store(left, std::memory_order_release);
            light_fence();
            return left == 0;
        }
        return n.fetch_sub(1) == 1;
    }

    /// All calls in flight. Exact only after a heavy_fence() that follows the store of a state
    /// in which no call starts (a drain); a reading for gauges otherwise. [thread-safe]
    int64_t total() const noexcept {
        int64_t t = shared_.load();
        for (const cell& c : cells_) t += c.n.load(std::memory_order_acquire);
        return t;
    }

private:
    struct alignas(64) cell {
        std::atomic<int64_t> n{0};
    };
    std::atomic<int64_t> shared_{0};
    std::array<cell, metric_shards> cells_{};
};

}  // namespace toolhost::detail

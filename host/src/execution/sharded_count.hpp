#pragma once
// A count that threads raise and lower millions of times a second and that someone rarely
// waits to see at zero: the calls a tool has in flight (what keeps its slot alive, and what a
// stopping tool drains), the work a worker pool has outstanding (what join() waits for).
//
// Each thread counts in its own shard (metrics.hpp): a unit is added on the thread where it
// starts and removed on the thread where it ends, which is usually the same thread (the worker
// pool runs a call's steps where they were posted), so no cache line travels between cores per
// unit. A thread with a shard of its own updates it with plain loads and stores, no locked
// instruction, and the waiter pays for the ordering with a heavy_fence() (asymmetric_fence.hpp).
//
// A shard keeps two counts that only grow, additions and removals, and total() reads every
// removal count before any addition count. A removal happens after its addition, so every
// removal total() sees has its addition seen too: the sum never falls below the units still
// open, not even for a moment (with one signed count per shard, reading a shard's stale
// addition before another's fresh removal could sum to zero while a unit is still open). The
// shards do not tell when the sum reaches zero, so a waiter is woken on removals and re-reads
// the sum: the side that waits sets a flag (a stopping state, join() called), heavy_fence()s and
// reads total(); the side that removes reads the flag after remove(). One of the two sees the
// other.

#include "execution/asymmetric_fence.hpp"

#include <toolhost/metrics.hpp>

#include <array>
#include <atomic>
#include <cstdint>

namespace toolhost::detail {

class sharded_count {
public:
    /// A unit starts. Ordered before the caller's next load (a stopping flag) by a fence that
    /// pairs with the waiter's heavy_fence(). [thread-safe]
    void add() noexcept { count(&cell::added); }
    /// A unit that add() counted ends, on this thread or another. Everything done before
    /// happens before a waiter that sees the sum fall (release), and the change is ordered
    /// before the caller's next load as in add(). [thread-safe]
    void remove() noexcept { count(&cell::removed); }

    /// The units open. Exact only after a heavy_fence() that follows the store of a state in
    /// which no unit starts (a drain); a reading for gauges otherwise (never negative).
    /// [thread-safe]
    int64_t total() const noexcept {
        uint64_t removed = 0;
        for (const cell& c : cells_) removed += c.removed.load(std::memory_order_acquire);
        uint64_t added = 0;
        for (const cell& c : cells_) added += c.added.load(std::memory_order_acquire);
        return static_cast<int64_t>(added - removed);
    }

private:
    struct alignas(64) cell {
        std::atomic<uint64_t> added{0};
        std::atomic<uint64_t> removed{0};
    };

    void count(std::atomic<uint64_t> cell::*which) noexcept {
        const metric_shard_id s = metric_shard();
        std::atomic<uint64_t>& n = cells_[s.index].*which;
        if (s.exclusive && asymmetric_fences()) {
            n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_release);
            light_fence();
        } else {
            n.fetch_add(1);
        }
    }

    std::array<cell, metric_shards> cells_{};
};

}  // namespace toolhost::detail

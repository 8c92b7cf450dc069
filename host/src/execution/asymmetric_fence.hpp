#pragma once
// A cheap fence on a hot path paired with an expensive one on a rare path, as folly's
// asymmetricLightBarrier/asymmetricHeavyBarrier and the kernel's membarrier(2) intend.
//
// Two threads that each store and then load what the other stores (Dekker's pattern: "count
// my call, then read the tool's state" against "mark the tool stopping, then read the count")
// need a full fence between the store and the load on both sides. When one side runs millions
// of times a second and the other once in a tool's life, the frequent side can use
// light_fence() (a compiler barrier) and the rare side heavy_fence(), which makes every
// running thread of the process execute a full fence (membarrier, private expedited).
//
// Where membarrier is not available (a kernel before 4.14, or a seccomp filter that refuses
// it), both are full fences: correct, only not cheaper.

#include <atomic>

namespace toolhost::detail {

/// Registers with membarrier once and returns whether heavy_fence() uses it (out of line).
bool register_asymmetric_fences() noexcept;

/// 0 before the first call of asymmetric_fences(), then 1 (membarrier) or 2 (plain fences).
inline constinit std::atomic<unsigned char> asymmetric_fence_mode{0};

/// Whether heavy_fence() uses membarrier (decided once, at the first call): one relaxed load
/// on the hot paths that ask. [thread-safe]
inline bool asymmetric_fences() noexcept {
    const unsigned char mode = asymmetric_fence_mode.load(std::memory_order_relaxed);
    if (mode != 0) [[likely]]
        return mode == 1;
    return register_asymmetric_fences();
}

/// The hot side: a compiler barrier when asymmetric_fences(), else a full fence.
inline void light_fence() noexcept {
    if (asymmetric_fences())
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The rare side: a full fence on every running thread of the process (a system call of about
/// a microsecond), or on this thread only without membarrier.
void heavy_fence() noexcept;

}  // namespace toolhost::detail

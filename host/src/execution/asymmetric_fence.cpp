#include "execution/asymmetric_fence.hpp"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace toolhost::detail {

namespace {

bool register_membarrier() noexcept {
#if defined(__linux__) && defined(__NR_membarrier)
    const long supported = ::syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return ::syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

}  // namespace

bool register_asymmetric_fences() noexcept {
    // Registers once; threads racing here wait for it and store the same mode.
    static const bool registered = register_membarrier();
    asymmetric_fence_mode.store(registered ? 1 : 2, std::memory_order_relaxed);
    return registered;
}

void heavy_fence() noexcept {
#if defined(__linux__) && defined(__NR_membarrier)
    // Registered: the command cannot fail. A fence on this thread as well, in any case.
    if (asymmetric_fences()) ::syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace toolhost::detail

#pragma once
// What worker_pool.cpp and worker_pool_elastic.cpp share: the thread's pool, the spinning lock,
// a worker's own queue and the elastic part's state.

#include <toolhost/worker_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace toolhost::detail {

// The pool whose worker is the current thread, for running_in_this_thread() and for posting to
// the worker's own queue, and that worker's index in the pool; and the pool whose extra thread
// (worker_pool_elastic.cpp) the current thread is, which posts to the shared queue.
inline constinit thread_local const worker_pool* current_pool = nullptr;
inline constinit thread_local std::size_t current_index = 0;

inline constinit thread_local const worker_pool* current_extra_pool = nullptr;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Takes the pool's mutex, trying for a moment before sleeping on it. Its critical sections are a
// few pointer moves, so a holder lets go within nanoseconds; a worker that sleeps on the mutex
// instead pays a futex wake-up, and on a VM whose vCPU went idle meanwhile that wake-up costs
// microseconds (measured: two workers passing calls to each other ran at half the speed).
inline void lock_spinning(std::mutex& m) noexcept {
    for (int i = 0; i < 64; ++i) {
        if (m.try_lock()) return;
        cpu_relax();
    }
    m.lock();
}

// lock_spinning() for an unlocked unique_lock.
inline void relock(std::unique_lock<std::mutex>& lock) noexcept {
    std::mutex* m = lock.release();
    lock_spinning(*m);
    lock = std::unique_lock<std::mutex>(*m, std::adopt_lock);
}

}  // namespace toolhost::detail

namespace toolhost {

// A worker's own queue: what the worker posts. The owner pushes and pops; an idle worker may
// take from it (try_steal). The mutex is uncontended unless someone steals.
struct alignas(64) worker_pool::local_queue {
    std::mutex mutex;
    detail::op_fifo ops;                // guarded by mutex
    std::atomic<uint64_t> handlers{0};  // handlers the owner started; written by the owner only

    void push(detail::worker_pool_op* op) noexcept {
        detail::lock_spinning(mutex);
        std::lock_guard lock(mutex, std::adopt_lock);
        ops.push(op);
    }
    detail::worker_pool_op* pop() noexcept {
        detail::lock_spinning(mutex);
        std::lock_guard lock(mutex, std::adopt_lock);
        return ops.pop();
    }
    std::size_t size() const noexcept { return ops.size.load(std::memory_order_relaxed); }
};

// The elastic part's state (worker_pool_elastic.cpp).
struct worker_pool::elastic {
    elastic_options options;
    std::mutex mutex;  // guards stopping and threads
    std::condition_variable wake;
    bool stopping = false;
    std::thread monitor;
    struct extra {
        std::thread thread;
        std::atomic<bool> done{false};
    };
    std::list<extra> threads;  // the extra threads, ended ones reaped by the monitor
    std::atomic<std::size_t> running{0};
    std::atomic<std::uint64_t> started{0};
    std::atomic<std::uint64_t> handlers{0};  // handlers the extra threads started

    void reap() {  // under mutex
        for (auto it = threads.begin(); it != threads.end();) {
            if (it->done.load(std::memory_order_acquire)) {
                it->thread.join();
                it = threads.erase(it);
            } else {
                ++it;
            }
        }
    }
};

}  // namespace toolhost

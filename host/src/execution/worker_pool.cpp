#include <toolhost/worker_pool.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace toolhost {

namespace {

// --- Memory for queued functions.
//
// The usual pattern is one thread posting and another running and freeing, so a plain
// per-thread free list would only ever fill on the worker and stay empty on the poster. Blocks
// therefore travel in batches through a shared depot: a thread whose cache grows past
// cache_limit hands batch_size blocks to the depot, and a thread with an empty cache takes a
// whole batch back. That is one short lock per batch_size posts instead of a malloc/free pair
// per post.

constexpr std::size_t block_size = 128;  // the op header plus a handler of up to 112 bytes
constexpr std::size_t block_align = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
constexpr std::size_t batch_size = 32;
constexpr std::size_t cache_limit = 2 * batch_size;
constexpr std::size_t depot_limit = 64;  // batches, so at most 256 KiB parked in the depot

// ASan should see every op freed, so that a use after free is caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycle_blocks = false;
#else
constexpr bool recycle_blocks = true;
#endif

struct free_block {
    free_block* next;        // next block in this batch / cache
    free_block* next_batch;  // next batch in the depot (first block of a batch only)
};
static_assert(sizeof(free_block) <= block_size);

void free_chain(free_block* b) noexcept {
    while (b) {
        free_block* next = b->next;
        ::operator delete(b);
        b = next;
    }
}

class block_depot {
public:
    // Takes a chain of blocks (a full batch, or what a dying thread had left).
    void put(free_block* batch) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (count_ < depot_limit) {
                batch->next_batch = batches_;
                batches_ = batch;
                ++count_;
                return;
            }
        }
        free_chain(batch);
    }

    // Returns a chain of blocks, or nullptr when the depot is empty.
    free_block* take() noexcept {
        std::lock_guard lock(mutex_);
        free_block* batch = batches_;
        if (batch) {
            batches_ = batch->next_batch;
            --count_;
        }
        return batch;
    }

private:
    std::mutex mutex_;
    free_block* batches_ = nullptr;
    std::size_t count_ = 0;
};

// Never destroyed: threads that outlive main() may still return blocks during their exit.
block_depot& depot() {
    static block_depot* instance = new block_depot;
    return *instance;
}

// Trivially destructible, so it stays usable while the thread's other thread_local objects
// (which may free ops) are destroyed; `dead` then sends blocks straight to the heap.
struct block_cache {
    free_block* head;
    std::size_t count;
    bool flusher_armed;
    bool dead;
};
constinit thread_local block_cache cache{};

// Returns the cache's blocks when the thread exits. Only odr-used (and so only registered for
// destruction) by threads that actually free a block.
struct cache_flusher {
    bool armed = false;
    ~cache_flusher() {
        block_cache& c = cache;
        c.dead = true;
        if (c.head) depot().put(c.head);
        c.head = nullptr;
        c.count = 0;
    }
};
thread_local cache_flusher flusher;

void* allocate_block() {
    block_cache& c = cache;
    if (!c.head && !c.dead) {
        if (free_block* batch = depot().take()) {
            c.head = batch;
            // A batch is batch_size blocks, except the leftovers of an exited thread; the count
            // only decides when to give blocks back, so an estimate is enough.
            c.count = batch_size;
        }
    }
    if (free_block* b = c.head) {
        c.head = b->next;
        if (c.count) --c.count;
        return b;
    }
    return ::operator new(block_size);
}

void deallocate_block(void* p) noexcept {
    block_cache& c = cache;
    if (c.dead) {
        ::operator delete(p);
        return;
    }
    if (!c.flusher_armed) {
        c.flusher_armed = true;
        flusher.armed = true;
    }
    auto* b = static_cast<free_block*>(p);
    b->next = c.head;
    c.head = b;
    if (++c.count < cache_limit) return;
    // Keep the most recently freed blocks (warm in this core's cache); give away the rest.
    free_block* last = c.head;
    for (std::size_t i = 1; i < cache_limit - batch_size && last->next; ++i) last = last->next;
    free_block* batch = last->next;
    last->next = nullptr;
    c.count = cache_limit - batch_size;
    if (batch) depot().put(batch);
}

// The pool whose worker is the current thread, for running_in_this_thread().
constinit thread_local const worker_pool* current_pool = nullptr;

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
void lock_spinning(std::mutex& m) noexcept {
    for (int i = 0; i < 64; ++i) {
        if (m.try_lock()) return;
        cpu_relax();
    }
    m.lock();
}

// lock_spinning() for an unlocked unique_lock.
void relock(std::unique_lock<std::mutex>& lock) noexcept {
    std::mutex* m = lock.release();
    lock_spinning(*m);
    lock = std::unique_lock<std::mutex>(*m, std::adopt_lock);
}

}  // namespace

namespace detail {

void* allocate_op(std::size_t size, std::size_t align) {
    if (recycle_blocks && size <= block_size && align <= block_align) return allocate_block();
    if (align > block_align) return ::operator new(size, std::align_val_t(align));
    return ::operator new(size);
}

void deallocate_op(void* p, std::size_t size, std::size_t align) noexcept {
    if (recycle_blocks && size <= block_size && align <= block_align) return deallocate_block(p);
    if (align > block_align) return ::operator delete(p, size, std::align_val_t(align));
    ::operator delete(p, size);
}

void worker_pool_handler_threw() noexcept {
    try {
        throw;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "toolhost::worker_pool: a handler threw an exception: %s; terminating\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "toolhost::worker_pool: a handler threw an unknown exception; terminating\n");
    }
    std::terminate();
}

}  // namespace detail

worker_pool::worker_pool(std::size_t threads, std::chrono::nanoseconds spin)
    : spin_(std::max(spin, std::chrono::nanoseconds::zero())) {
    threads = std::max<std::size_t>(threads, 1);
    // Spinners beyond half the cores would steal CPU from the threads that submit work (and
    // from each other), which costs more latency than the spin saves.
    max_spinning_ = std::clamp<std::size_t>(std::thread::hardware_concurrency() / 2, 1, threads);
    threads_.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run_worker(); });
    } catch (...) {
        stop();
        for (auto& t : threads_) t.join();
        throw;
    }
}

worker_pool::~worker_pool() {
    stop();
    join();
    // Services (strands) destroy the handlers they still hold; those may own tracked executors
    // that call back into this pool, so it must happen while our members are alive.
    shutdown();
    destroy_queued();
}

bool worker_pool::running_in_this_thread() const noexcept { return current_pool == this; }

void worker_pool::stop() {
    std::lock_guard lock(mutex_);
    stop_locked();
}

void worker_pool::stop_locked() noexcept {
    stopped_.store(true, std::memory_order_relaxed);
    // Under the lock: the caller may be the last user of a pool another thread is about to
    // destroy, so it must not touch the condition variable after releasing the mutex.
    wake_.notify_all();
}

void worker_pool::join() {
    if (!join_called_.exchange(true, std::memory_order_acq_rel)) work_finished();
    {
        std::lock_guard lock(join_mutex_);
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    destroy_queued();
}

void worker_pool::work_finished() noexcept {
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex_);
        stop_locked();
    }
}

void worker_pool::enqueue(detail::worker_pool_op* op, bool continuation) noexcept {
    work_started();  // before the push, so that join() cannot finish while the op is queued
    lock_spinning(mutex_);
    std::lock_guard lock(mutex_, std::adopt_lock);
    op->next_ = nullptr;
    if (tail_)
        tail_->next_ = op;
    else
        head_ = op;
    tail_ = op;
    const std::size_t queued = queued_.load(std::memory_order_relaxed) + 1;
    queued_.store(queued, std::memory_order_relaxed);
    // Wake a sleeper only if the spinners cannot take all queued work. A continuation posted
    // by one of our workers is left to that worker, which checks the queue as soon as its
    // handler returns.
    if (parked_ != 0 && queued > spinning_ && !stopped_.load(std::memory_order_relaxed) &&
        !(continuation && current_pool == this)) {
        --parked_;
        ++spinning_;
        ++wake_tokens_;
        // Under the lock, although the woken worker may then wait for it briefly: once the
        // lock is released, the op can run, and its owner can join and destroy the pool
        // while a notify outside the lock would still be touching the condition variable.
        wake_.notify_one();
    }
}

detail::worker_pool_op* worker_pool::pop_locked() noexcept {
    detail::worker_pool_op* op = head_;
    if (op) {
        head_ = op->next_;
        if (!head_) tail_ = nullptr;
        queued_.store(queued_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    return op;
}

void worker_pool::complete(detail::worker_pool_op* op) noexcept {
    try {
        op->complete_(op, true);
    } catch (...) {
        detail::worker_pool_handler_threw();
    }
    work_finished();
}

// Called unlocked by a worker counted in spinning_. Returns with the lock held and the worker
// no longer counted in spinning_, with an op, or with nullptr if the pool stopped or the budget
// ran out (the queue was then seen empty under the lock, so parking right away loses nothing).
detail::worker_pool_op* worker_pool::spin_for_work(std::unique_lock<std::mutex>& lock) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    // Pause-polling answers fastest but holds the core: when the scheduler has put this worker
    // on the submitter's CPU (it often does after a wake-up), the submitter cannot run until we
    // stop, which measured as 50-200 us per call with a 100 us pause phase. So pause only for a
    // moment (enough for a back-to-back resubmission) and then poll with sched_yield, which
    // costs well under a microsecond when the core is ours alone and hands it over otherwise.
    constexpr auto pause_phase = std::chrono::microseconds(2);
    const auto yield_from = start + std::min<std::chrono::nanoseconds>(spin_, pause_phase);
    const auto deadline = start + spin_;
    bool yielding = false;
    for (unsigned i = 1;; ++i) {
        // Polling two relaxed atomics keeps the spinners off the mutex (and its cache line)
        // until there is something to take; the lock then decides who gets it.
        if (queued_.load(std::memory_order_relaxed) != 0 || stopped_.load(std::memory_order_relaxed)) {
            relock(lock);
            if (stopped_.load(std::memory_order_relaxed)) {
                --spinning_;
                return nullptr;
            }
            if (detail::worker_pool_op* op = pop_locked()) {
                --spinning_;
                return op;
            }
            lock.unlock();  // another worker was faster
        }
        if (yielding)
            std::this_thread::yield();
        else
            cpu_relax();
        // The clock costs about as much as a few pauses, so read it once every 16 of them.
        if (yielding || i % 16 == 0) {
            const auto now = clock::now();
            if (now >= deadline) break;
            yielding = now >= yield_from;
        }
    }
    relock(lock);
    --spinning_;
    return stopped_.load(std::memory_order_relaxed) ? nullptr : pop_locked();
}

// Lost wake-ups are impossible because every change of a worker's state (running, spinning,
// parked) and every push happen under mutex_, and the push decides whether to wake from exact
// counts: a worker only parks after seeing the queue empty under the lock, so a later push sees
// it in parked_; while spinning_ >= queued, each spinner re-checks the queue under the lock
// before it may park; running workers re-check it when their handler returns. A woken worker
// is claimed by a token, so spurious wake-ups and double wakes of the same sleeper do not count.
void worker_pool::run_worker() {
    current_pool = this;
    std::unique_lock lock(mutex_);
    while (!stopped_.load(std::memory_order_relaxed)) {
        detail::worker_pool_op* op = pop_locked();
        if (!op && spin_.count() > 0 && spinning_ < max_spinning_) {
            ++spinning_;
            lock.unlock();
            op = spin_for_work(lock);
        }
        if (!op) {
            if (stopped_.load(std::memory_order_relaxed)) break;
            ++parked_;
            wake_.wait(lock, [this] { return wake_tokens_ != 0 || stopped_.load(std::memory_order_relaxed); });
            if (stopped_.load(std::memory_order_relaxed)) break;  // the counts no longer matter
            --wake_tokens_;  // the waker already moved us from parked_ to spinning_
            lock.unlock();
            op = spin_for_work(lock);
            if (!op) continue;
        }
        lock.unlock();
        complete(op);
        relock(lock);
    }
    current_pool = nullptr;
}

void worker_pool::destroy_queued() noexcept {
    // Destructors of queued functions may post again (to this pool): repeat until empty.
    for (;;) {
        detail::worker_pool_op* list;
        {
            std::lock_guard lock(mutex_);
            list = head_;
            head_ = tail_ = nullptr;
            queued_.store(0, std::memory_order_relaxed);
        }
        if (!list) return;
        while (list) {
            detail::worker_pool_op* next = list->next_;
            list->complete_(list, false);
            work_finished();
            list = next;
        }
    }
}

}  // namespace toolhost

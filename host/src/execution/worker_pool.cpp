#include <toolhost/worker_pool.hpp>

#include "execution/asymmetric_fence.hpp"
#include "execution/sharded_count.hpp"

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

// The pool whose worker is the current thread, for running_in_this_thread(), and that worker's
// index in the pool.
constinit thread_local const worker_pool* current_pool = nullptr;
constinit thread_local std::size_t current_index = 0;

// How long an idle worker lets another worker's only queued function wait before it takes it.
// A worker that posts the next step of its work (a completion starting the next call) returns
// from its handler and picks that step up within a microsecond or so; taking it away sooner
// moves the call's cache lines to another core for nothing. A worker still inside the same
// handler after this long is blocked (a plugin call), and the function should not wait for it.
constexpr auto steal_delay = std::chrono::microseconds(4);

// Every how many handlers a worker looks at the shared queue before its own.
constexpr uint32_t shared_queue_interval = 61;

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

// A worker's own queue: what the worker posts. The owner pushes and pops; an idle worker may
// take from it (try_steal). The mutex is uncontended unless someone steals.
struct alignas(64) worker_pool::local_queue {
    std::mutex mutex;
    detail::op_fifo ops;                // guarded by mutex
    std::atomic<uint64_t> handlers{0};  // handlers the owner started; written by the owner only

    void push(detail::worker_pool_op* op) noexcept {
        lock_spinning(mutex);
        std::lock_guard lock(mutex, std::adopt_lock);
        ops.push(op);
    }
    detail::worker_pool_op* pop() noexcept {
        lock_spinning(mutex);
        std::lock_guard lock(mutex, std::adopt_lock);
        return ops.pop();
    }
    std::size_t size() const noexcept { return ops.size.load(std::memory_order_relaxed); }
};

// What an idle worker last saw of each other worker whose queue held one function: the owner's
// handler count then, and when. Unchanged for steal_delay: the owner is stuck in that handler.
struct worker_pool::steal_watch {
    struct seen {
        uint64_t handlers = 0;
        std::chrono::steady_clock::time_point since{};
        bool armed = false;
    };
    std::vector<seen> workers;
};

worker_pool::worker_pool(std::size_t threads, std::chrono::nanoseconds spin)
    : spin_(std::max(spin, std::chrono::nanoseconds::zero())) {
    threads = std::max<std::size_t>(threads, 1);
    // Spinners beyond half the cores would steal CPU from the threads that submit work (and
    // from each other), which costs more latency than the spin saves.
    max_spinning_ = std::clamp<std::size_t>(std::thread::hardware_concurrency() / 2, 1, threads);
    outstanding_ = std::make_unique<detail::sharded_count>();
    locals_ = std::make_unique<local_queue[]>(threads);
    local_count_ = threads;
    threads_.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run_worker(i); });
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
    if (!join_called_.exchange(true, std::memory_order_acq_rel)) {
        // Pairs with the fence in work_finished(): either a unit finishing from now on sees
        // join_called_, or this reading sees it finished.
        detail::heavy_fence();
        if (outstanding_->total() == 0) stop();
    }
    {
        std::lock_guard lock(join_mutex_);
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    destroy_queued();
}

void worker_pool::work_started() noexcept { outstanding_->add(); }

void worker_pool::work_finished() noexcept {
    outstanding_->remove();
    // Before join(), nobody needs to know whether this was the last unit.
    if (!join_called_.load()) return;
    // Two units finishing at once on two threads each store their removal and then read the
    // other's: without a full fence between (remove() has only a compiler barrier when the
    // asymmetric fences are on), both could read the other's older count, neither would see
    // zero, and join() would wait forever.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (outstanding_->total() == 0) stop();
}

bool worker_pool::locals_empty() const noexcept {
    for (std::size_t i = 0; i < local_count_; ++i) {
        if (locals_[i].size() != 0) return false;
    }
    return true;
}

std::size_t worker_pool::pending() const noexcept {
    std::size_t n = shared_.size.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < local_count_; ++i) n += locals_[i].size();
    return n;
}

// Wakes a sleeper if the spinners cannot take all queued work: the shared queue's after a push
// there (a spinner looks at it before anything else), everything after a push to a worker's own
// queue (which only a thief takes). Called with mutex_ held.
void worker_pool::wake_one_locked(bool shared_only) noexcept {
    const std::size_t parked = parked_.load(std::memory_order_relaxed);
    if (parked == 0 || stopped_.load(std::memory_order_relaxed)) return;
    const std::size_t waiting = shared_only ? shared_.size.load(std::memory_order_relaxed) : pending();
    if (waiting > spinning_) {
        parked_.store(parked - 1, std::memory_order_relaxed);
        ++spinning_;
        ++wake_tokens_;
        // Under the lock, although the woken worker may then wait for it briefly: once the
        // lock is released, the op can run, and its owner can join and destroy the pool
        // while a notify outside the lock would still be touching the condition variable.
        wake_.notify_one();
    }
}

void worker_pool::enqueue(detail::worker_pool_op* op, bool continuation) noexcept {
    work_started();  // before the push, so that join() cannot finish while the op is queued
    if (current_pool == this) {
        // One of our workers: its own queue. A continuation is left to it (it checks its queue
        // as soon as its handler returns), and so is anything else while no worker sleeps.
        locals_[current_index].push(op);
        if (continuation) return;
        // Pairs with the heavy_fence() of a worker about to park (idle()): either it sees this
        // push, or this load sees it parked.
        detail::light_fence();
        if (parked_.load(std::memory_order_relaxed) == 0) return;
        lock_spinning(mutex_);
        std::lock_guard lock(mutex_, std::adopt_lock);
        wake_one_locked(false);
        return;
    }
    lock_spinning(mutex_);
    std::lock_guard lock(mutex_, std::adopt_lock);
    shared_.push(op);
    wake_one_locked(true);
}

detail::worker_pool_op* worker_pool::pop_locked() noexcept { return shared_.pop(); }

detail::worker_pool_op* worker_pool::pop_shared() noexcept {
    if (shared_.size.load(std::memory_order_relaxed) == 0) return nullptr;
    lock_spinning(mutex_);
    std::lock_guard lock(mutex_, std::adopt_lock);
    return stopped_.load(std::memory_order_relaxed) ? nullptr : pop_locked();
}

// The worker's own queue first, except every shared_queue_interval-th time, so that work from
// outside is not held back by a worker that keeps posting to itself.
detail::worker_pool_op* worker_pool::next_op(local_queue& own, uint32_t tick) noexcept {
    if (tick % shared_queue_interval == 0) {
        if (detail::worker_pool_op* op = pop_shared()) return op;
    }
    if (own.size() != 0) {
        if (detail::worker_pool_op* op = own.pop()) return op;
    }
    return pop_shared();
}

// Takes a function from another worker's queue: from a backlog (more than the owner can start
// at once) at once, a single one only when the owner has been inside one handler for
// steal_delay (blocked, most likely in a plugin call).
detail::worker_pool_op* worker_pool::try_steal(std::size_t index, steal_watch& watch,
                                               std::chrono::steady_clock::time_point now) noexcept {
    const std::size_t n = local_count_;
    for (std::size_t k = 1; k < n; ++k) {
        const std::size_t v = (index + k) % n;
        local_queue& q = locals_[v];
        auto& seen = watch.workers[v];
        const std::size_t size = q.size();
        if (size == 0) {
            seen.armed = false;
            continue;
        }
        if (size == 1) {
            const uint64_t handlers = q.handlers.load(std::memory_order_relaxed);
            if (!seen.armed || seen.handlers != handlers) {
                seen = {handlers, now, true};
                continue;
            }
            if (now - seen.since < steal_delay) continue;
        }
        seen.armed = false;
        if (detail::worker_pool_op* op = q.pop()) return op;
    }
    return nullptr;
}

void worker_pool::complete(detail::worker_pool_op* op, bool invoke) noexcept {
    try {
        op->complete_(op, invoke);
    } catch (...) {
        detail::worker_pool_handler_threw();
    }
    work_finished();
}

// Called with the lock released by a worker counted in spinning_. Returns with the lock held
// and the worker no longer counted in spinning_, with an op, or with nullptr if the pool
// stopped or the budget ran out (the shared queue was then seen empty under the lock).
detail::worker_pool_op* worker_pool::spin_for_work(std::size_t index, steal_watch& watch,
                                                   std::unique_lock<std::mutex>& lock) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto now = start;
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
        // Polling relaxed atomics keeps the spinners off the mutexes (and their cache lines)
        // until there is something to take; the lock then decides who gets it.
        if (shared_.size.load(std::memory_order_relaxed) != 0 || stopped_.load(std::memory_order_relaxed)) {
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
        if (detail::worker_pool_op* op = try_steal(index, watch, now)) {
            relock(lock);
            --spinning_;
            return op;
        }
        if (yielding)
            std::this_thread::yield();
        else
            cpu_relax();
        // The clock costs about as much as a few pauses, so read it once every 16 of them.
        if (yielding || i % 16 == 0) {
            now = clock::now();
            if (now >= deadline) break;
            yielding = now >= yield_from;
        }
    }
    relock(lock);
    --spinning_;
    return stopped_.load(std::memory_order_relaxed) ? nullptr : pop_locked();
}

// A worker with nothing in its own queue: spins for work, then parks. Returns an op, or nullptr
// when the pool stopped or the worker was woken with nothing left for it (it then looks again).
//
// Lost wake-ups are impossible. Every change of a worker's state (running, spinning, parked)
// and every push to the shared queue happen under mutex_, and the push decides whether to wake
// from exact counts: a worker parks only after seeing the shared queue empty under the lock, so
// a later push sees it in parked_; while spinning_ >= pending, each spinner re-checks under the
// lock before it may park; running workers re-check when their handler returns. A worker's push
// to its own queue is not under mutex_: it reads parked_ after a fence, and a parking worker
// raises parked_ and then, after the matching fence, checks every worker's queue, so one of the
// two sees the other. A woken worker is claimed by a token, so spurious wake-ups and double
// wakes of the same sleeper do not count.
detail::worker_pool_op* worker_pool::idle(std::size_t index, steal_watch& watch) {
    std::unique_lock lock(mutex_, std::defer_lock);
    relock(lock);
    for (;;) {
        if (stopped_.load(std::memory_order_relaxed)) return nullptr;
        if (detail::worker_pool_op* op = pop_locked()) return op;
        if (spin_.count() > 0 && spinning_ < max_spinning_) {
            ++spinning_;
            lock.unlock();
            detail::worker_pool_op* op = spin_for_work(index, watch, lock);
            if (op || stopped_.load(std::memory_order_relaxed)) return op;
        }
        // Park, unless a push to a worker's own queue (which takes no lock) would have woken us
        // had we been parked a moment earlier: the same rule as wake_one_locked(), and one more
        // since the owner of a queued function may be blocked: someone must stay awake to
        // take it.
        parked_.store(parked_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        detail::heavy_fence();
        const bool backlog = pending() > spinning_;                // more than the spinners can take
        const bool unwatched = spinning_ == 0 && !locals_empty();  // nobody awake to watch the owners
        if (backlog || unwatched) {
            parked_.store(parked_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
            if (spin_.count() > 0) {
                ++spinning_;  // as a waker counts the worker it wakes
                lock.unlock();
                return spin_for_work(index, watch, lock);
            }
            // No spin budget: wait for those queues as a spinner would, until they empty or the
            // shared queue gets work.
            lock.unlock();
            while (!locals_empty() && shared_.size.load(std::memory_order_relaxed) == 0 &&
                   !stopped_.load(std::memory_order_relaxed)) {
                if (detail::worker_pool_op* op = try_steal(index, watch, std::chrono::steady_clock::now())) return op;
                std::this_thread::yield();
            }
            relock(lock);
            continue;
        }
        wake_.wait(lock, [this] { return wake_tokens_ != 0 || stopped_.load(std::memory_order_relaxed); });
        if (stopped_.load(std::memory_order_relaxed)) return nullptr;  // the counts no longer matter
        --wake_tokens_;  // the waker already moved us from parked_ to spinning_
        lock.unlock();
        if (spin_.count() == 0) {
            relock(lock);
            --spinning_;
            continue;
        }
        return spin_for_work(index, watch, lock);
    }
}

void worker_pool::run_worker(std::size_t index) {
    current_pool = this;
    current_index = index;
    local_queue& own = locals_[index];
    steal_watch watch;
    watch.workers.resize(local_count_);
    uint32_t tick = 0;
    while (!stopped_.load(std::memory_order_relaxed)) {
        detail::worker_pool_op* op = next_op(own, ++tick);
        if (!op) op = idle(index, watch);
        if (!op) continue;
        if (stopped_.load(std::memory_order_relaxed)) {
            // Stopped while this worker took it: it must not run (stop()'s promise).
            complete(op, false);
            break;
        }
        own.handlers.store(own.handlers.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        complete(op, true);
    }
    current_pool = nullptr;
}

void worker_pool::destroy_queued() noexcept {
    // Destructors of queued functions may post again (to this pool): repeat until empty.
    for (;;) {
        detail::worker_pool_op* list;
        {
            std::lock_guard lock(mutex_);
            list = shared_.head;
            shared_.head = shared_.tail = nullptr;
            shared_.size.store(0, std::memory_order_relaxed);
        }
        for (std::size_t i = 0; i < local_count_; ++i) {
            while (detail::worker_pool_op* op = locals_[i].pop()) {
                op->next_ = list;
                list = op;
            }
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

#include <toolhost/worker_pool.hpp>

#include "execution/asymmetric_fence.hpp"
#include "execution/sharded_count.hpp"
#include "execution/worker_pool_parts.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>

namespace toolhost {

using detail::cpu_relax;
using detail::current_extra_pool;
using detail::current_index;
using detail::current_pool;
using detail::lock_spinning;
using detail::relock;

namespace {

// How long an idle worker lets another worker's only queued function wait before it takes it.
// A worker that posts the next step of its work (a completion starting the next call) returns
// from its handler and picks that step up within a microsecond or so; taking it away sooner
// moves the call's cache lines to another core for nothing. A worker still inside the same
// handler after this long is blocked (a plugin call), and the function should not wait for it.
constexpr auto steal_delay = std::chrono::microseconds(4);

// Every how many handlers a worker looks at the shared queue before its own.
constexpr uint32_t shared_queue_interval = 61;

}  // namespace

namespace detail {

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
    : worker_pool(threads, spin, elastic_options{}) {}

worker_pool::worker_pool(std::size_t threads, std::chrono::nanoseconds spin, elastic_options elastic)
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
        if (elastic.max_extra > 0) start_elastic(elastic);
    } catch (...) {
        stop();
        stop_elastic();
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

bool worker_pool::running_in_this_thread() const noexcept { return current_pool == this || current_extra_pool == this; }

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
        stop_elastic();  // after the workers: the pool has stopped, so the extra threads end too
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

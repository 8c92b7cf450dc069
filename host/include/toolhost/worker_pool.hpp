#pragma once
/// A fixed set of worker threads for blocking plugin calls, as a Boost.Asio execution context.
///
/// It is a drop-in for boost::asio::thread_pool where latency matters: an idle worker first
/// polls the queue for a short "spin budget" (a couple of microseconds with the pause
/// instruction, then with sched_yield) before it parks on a condition variable, so a call
/// submitted soon after the previous one is picked up in well under a microsecond, without a
/// futex wake-up on either side. After the budget an idle pool uses no CPU. At most half the
/// cores' worth of workers spin at once; the others park at once. Throughput and shutdown
/// semantics are those of thread_pool.
///
/// Handler exceptions: an exception that escapes a handler run by the pool (queued, or inline
/// through dispatch) prints a message to stderr and calls std::terminate(). thread_pool lets
/// it escape run() and end the worker thread, after which the pool silently has one thread
/// less; a crash with a message is easier to diagnose than a slowly dying pool.

#include <toolhost/export.hpp>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace toolhost {

namespace detail {

class sharded_count;

/// One queued function, type-erased behind a single function pointer.
struct worker_pool_op {
    worker_pool_op* next_ = nullptr;
    /// Invokes the function if `invoke`, then always destroys it and frees the op.
    void (*complete_)(worker_pool_op* op, bool invoke);
};

/// An intrusive FIFO of ops, guarded by its user's mutex; the size is written under it and
/// may be read without it.
struct op_fifo {
    worker_pool_op* head = nullptr;
    worker_pool_op* tail = nullptr;
    std::atomic<std::size_t> size{0};

    void push(worker_pool_op* op) noexcept {
        op->next_ = nullptr;
        if (tail)
            tail->next_ = op;
        else
            head = op;
        tail = op;
        size.store(size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    worker_pool_op* pop() noexcept {
        worker_pool_op* op = head;
        if (op) {
            head = op->next_;
            if (!head) tail = nullptr;
            size.store(size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        }
        return op;
    }
};

/// Memory for ops. Small, default-aligned ops are recycled through per-thread caches, so a
/// steady stream of posts does not touch the heap. [thread-safe]
TOOLHOST_API void* allocate_op(std::size_t size, std::size_t align);
TOOLHOST_API void deallocate_op(void* p, std::size_t size, std::size_t align) noexcept;

/// Reports an exception that escaped a handler and calls std::terminate(). Call from a catch.
[[noreturn]] TOOLHOST_API void worker_pool_handler_threw() noexcept;

template <class Function>
struct worker_pool_op_impl final : worker_pool_op {
    template <class F>
    explicit worker_pool_op_impl(F&& f) : function_(std::forward<F>(f)) {
        complete_ = &do_complete;
    }

    static void do_complete(worker_pool_op* base, bool invoke) {
        auto* self = static_cast<worker_pool_op_impl*>(base);
        // Destroy and free even when the function throws (the pool then terminates, but the
        // sanitizers should not report a leak first).
        struct release {
            worker_pool_op_impl* op;
            ~release() {
                op->~worker_pool_op_impl();
                deallocate_op(op, sizeof(worker_pool_op_impl), alignof(worker_pool_op_impl));
            }
        } guard{self};
        if (invoke) self->function_();
    }

    Function function_;
};

template <class F>
worker_pool_op* make_worker_pool_op(F&& f) {
    using op_type = worker_pool_op_impl<std::decay_t<F>>;
    void* memory = allocate_op(sizeof(op_type), alignof(op_type));
    try {
        return ::new (memory) op_type(std::forward<F>(f));
    } catch (...) {
        deallocate_op(memory, sizeof(op_type), alignof(op_type));
        throw;
    }
}

}  // namespace detail

/// N worker threads that run posted functions, with a short spin before idle workers sleep.
/// All members are [thread-safe] unless stated otherwise.
class TOOLHOST_API worker_pool : public boost::asio::execution_context {
public:
    template <unsigned Bits>
    class basic_executor_type;
    /// The executor returned by get_executor(): untracked, blocking.possibly, relationship.fork.
    using executor_type = basic_executor_type<0>;

    /// How long an idle worker polls for new work before it parks.
    static constexpr std::chrono::nanoseconds default_spin = std::chrono::microseconds(100);

    /// When the workers are all stuck (blocked in plugin calls, most likely), extra threads take
    /// the work that waits, so that one slow tool cannot hold up the others: a monitor thread
    /// looks every `stall` while work is queued, and when no handler started since its last
    /// look, it starts an extra thread (at most `max_extra` at once). An extra thread takes
    /// queued work from the shared queue and from the workers' own queues, and ends after
    /// `keep_alive` without work. `max_extra` 0: a fixed pool.
    struct elastic_options {
        std::size_t max_extra = 256;
        std::chrono::microseconds stall{1000};
        std::chrono::milliseconds keep_alive{2000};
    };

    /// Starts `threads` workers (at least one). `spin` is the idle polling budget; zero makes
    /// idle workers park at once, like thread_pool. Throws std::system_error if a thread cannot
    /// be started (the ones already started are stopped and joined first).
    explicit worker_pool(std::size_t threads, std::chrono::nanoseconds spin = default_spin);
    worker_pool(std::size_t threads, std::chrono::nanoseconds spin, elastic_options elastic);

    /// Stops, joins the threads, and destroys work that never ran. Must not run on a worker.
    ~worker_pool();

    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    /// An untracked executor for this pool.
    executor_type get_executor() noexcept;

    /// Waits until no work is queued or running and no tracked executor remains, then stops
    /// and joins the threads; after stop(), only joins. Work that never ran (posted after the
    /// pool stopped) is destroyed before join() returns. Must not be called from a worker.
    void join();

    /// Makes the workers exit as soon as their current handler returns. Queued work will not
    /// run; it is destroyed by join() or the destructor. Does not wait.
    void stop();

    /// The number of worker threads (without the extra ones).
    std::size_t thread_count() const noexcept { return threads_.size(); }
    /// The extra threads running now (elastic_options).
    std::size_t extra_thread_count() const noexcept;
    /// Extra threads started since construction.
    std::uint64_t extra_threads_started() const noexcept;

    /// The idle polling budget given at construction.
    std::chrono::nanoseconds spin_budget() const noexcept { return spin_; }

    /// True when called from one of this pool's worker threads.
    bool running_in_this_thread() const noexcept;

private:
    template <unsigned>
    friend class basic_executor_type;

    struct local_queue;  // a worker's own queue (worker_pool.cpp)
    struct elastic;      // the monitor and the extra threads (worker_pool_elastic.cpp)
    struct steal_watch;  // what an idle worker saw of the others' queues (worker_pool.cpp)

    void run_worker(std::size_t index);
    void run_monitor();
    void run_extra();
    detail::worker_pool_op* take_any() noexcept;
    std::uint64_t handlers_started() const noexcept;
    void start_elastic(elastic_options o);
    void stop_elastic() noexcept;
    detail::worker_pool_op* next_op(local_queue& own, uint32_t tick) noexcept;
    detail::worker_pool_op* pop_shared() noexcept;
    detail::worker_pool_op* idle(std::size_t index, steal_watch& watch);
    detail::worker_pool_op* spin_for_work(std::size_t index, steal_watch& watch, std::unique_lock<std::mutex>& lock);
    detail::worker_pool_op* try_steal(std::size_t index, steal_watch& watch,
                                      std::chrono::steady_clock::time_point now) noexcept;
    bool locals_empty() const noexcept;
    std::size_t pending() const noexcept;
    detail::worker_pool_op* pop_locked() noexcept;
    void enqueue(detail::worker_pool_op* op, bool continuation) noexcept;  // counts it as work
    void wake_one_locked(bool shared_only) noexcept;
    void complete(detail::worker_pool_op* op, bool invoke) noexcept;
    void work_started() noexcept;
    void work_finished() noexcept;
    void stop_locked() noexcept;
    void destroy_queued() noexcept;

    const std::chrono::nanoseconds spin_;
    std::size_t max_spinning_ = 1;  ///< idle workers allowed to spin at once; the rest park

    std::mutex mutex_;
    std::condition_variable wake_;
    // The shared queue, guarded by mutex_ (its size is read without it).
    detail::op_fifo shared_;
    // Written under mutex_, read without it by spinning workers.
    std::atomic<bool> stopped_{false};
    // Worker states, guarded by mutex_: polling for work, asleep, and woken-but-not-yet-running
    // (a submitter that wakes a sleeper moves it from parked_ to spinning_ and adds a token).
    // parked_ is also read without the lock, by a worker that posted to its own queue.
    std::size_t spinning_ = 0;
    std::atomic<std::size_t> parked_{0};
    std::size_t wake_tokens_ = 0;
    std::unique_ptr<local_queue[]> locals_;  // one per worker, made before the threads start
    std::size_t local_count_ = 0;            // entries in locals_ (threads_ grows while workers run)

    // Queued and running handlers, tracked executors, plus one held by the pool until join().
    // Counted per thread (sharded_count.hpp), so that a call's post and completion and its
    // tracked executor do not each write a line every worker shares; join() sets join_called_,
    // and from then on each finished unit checks whether it was the last.
    std::unique_ptr<detail::sharded_count> outstanding_;
    std::atomic<bool> join_called_{false};

    std::mutex join_mutex_;  ///< serializes joining the threads
    std::vector<std::thread> threads_;
    std::unique_ptr<elastic> elastic_;  // null for a fixed pool
};

/// The executor of a worker_pool. `Bits` holds the compile-time properties (outstanding_work).
/// Satisfies boost::asio::execution::executor; supports blocking.possibly / never,
/// relationship.fork / continuation, outstanding_work.untracked / tracked, allocator (always
/// std::allocator<void>), context, mapping and occupancy.
template <unsigned Bits>
class worker_pool::basic_executor_type {
    static constexpr unsigned tracked_bit = 1;         // compile-time: Bits
    static constexpr unsigned blocking_never_bit = 1;  // run-time: bits_
    static constexpr unsigned continuation_bit = 2;    // run-time: bits_

public:
    basic_executor_type(const basic_executor_type& other) noexcept : pool_(other.pool_), bits_(other.bits_) {
        if constexpr ((Bits & tracked_bit) != 0) {
            if (pool_) pool_->work_started();
        }
    }

    basic_executor_type(basic_executor_type&& other) noexcept : pool_(other.pool_), bits_(other.bits_) {
        if constexpr ((Bits & tracked_bit) != 0) other.pool_ = nullptr;
    }

    ~basic_executor_type() {
        if constexpr ((Bits & tracked_bit) != 0) {
            if (pool_) pool_->work_finished();
        }
    }

    basic_executor_type& operator=(const basic_executor_type& other) noexcept {
        if (this != &other) {
            worker_pool* old = pool_;
            pool_ = other.pool_;
            bits_ = other.bits_;
            if constexpr ((Bits & tracked_bit) != 0) {
                if (pool_) pool_->work_started();
                if (old) old->work_finished();
            }
        }
        return *this;
    }

    basic_executor_type& operator=(basic_executor_type&& other) noexcept {
        if (this != &other) {
            worker_pool* old = pool_;
            pool_ = other.pool_;
            bits_ = other.bits_;
            if constexpr ((Bits & tracked_bit) != 0) {
                other.pool_ = nullptr;
                if (old) old->work_finished();
            }
        }
        return *this;
    }

    // --- properties (called through boost::asio::query / require / prefer)

    static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept {
        return boost::asio::execution::mapping.thread;
    }

    worker_pool& query(boost::asio::execution::context_t) const noexcept { return *pool_; }

    constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) const noexcept {
        return (bits_ & blocking_never_bit) != 0
                   ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                   : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
    }

    constexpr boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) const noexcept {
        return (bits_ & continuation_bit) != 0
                   ? boost::asio::execution::relationship_t(boost::asio::execution::relationship.continuation)
                   : boost::asio::execution::relationship_t(boost::asio::execution::relationship.fork);
    }

    static constexpr boost::asio::execution::outstanding_work_t query(
        boost::asio::execution::outstanding_work_t) noexcept {
        return (Bits & tracked_bit) != 0
                   ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
                   : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
    }

    template <class OtherAllocator>
    constexpr std::allocator<void> query(boost::asio::execution::allocator_t<OtherAllocator>) const noexcept {
        return {};
    }

    std::size_t query(boost::asio::execution::occupancy_t) const noexcept { return pool_->thread_count(); }

    basic_executor_type require(boost::asio::execution::blocking_t::possibly_t) const noexcept {
        return basic_executor_type(pool_, bits_ & ~blocking_never_bit);
    }

    /// blocking.never: execute() always queues, even on a worker thread.
    basic_executor_type require(boost::asio::execution::blocking_t::never_t) const noexcept {
        return basic_executor_type(pool_, bits_ | blocking_never_bit);
    }

    basic_executor_type require(boost::asio::execution::relationship_t::fork_t) const noexcept {
        return basic_executor_type(pool_, bits_ & ~continuation_bit);
    }

    /// relationship.continuation: a function queued from a worker does not wake another
    /// worker, since the current one picks it up as soon as its handler returns.
    basic_executor_type require(boost::asio::execution::relationship_t::continuation_t) const noexcept {
        return basic_executor_type(pool_, bits_ | continuation_bit);
    }

    /// outstanding_work.tracked: while such an executor exists, join() keeps waiting.
    basic_executor_type<Bits | tracked_bit> require(
        boost::asio::execution::outstanding_work_t::tracked_t) const noexcept {
        return basic_executor_type<Bits | tracked_bit>(pool_, bits_);
    }

    basic_executor_type<Bits & ~tracked_bit> require(
        boost::asio::execution::outstanding_work_t::untracked_t) const noexcept {
        return basic_executor_type<Bits & ~tracked_bit>(pool_, bits_);
    }

    basic_executor_type require(boost::asio::execution::allocator_t<void>) const noexcept { return *this; }

    // --- execution

    /// True when called from one of the pool's worker threads.
    bool running_in_this_thread() const noexcept { return pool_->running_in_this_thread(); }

    /// Runs `f` now if blocking.possibly and called from a worker of this pool; otherwise
    /// queues it. Throws std::bad_alloc if the function cannot be stored.
    template <class Function>
    void execute(Function&& f) const {
        using function_type = std::decay_t<Function>;
        if ((bits_ & blocking_never_bit) == 0 && pool_->running_in_this_thread()) {
            function_type local(std::forward<Function>(f));
            try {
                local();
            } catch (...) {
                detail::worker_pool_handler_threw();
            }
            return;
        }
        pool_->enqueue(detail::make_worker_pool_op(std::forward<Function>(f)), (bits_ & continuation_bit) != 0);
    }

    friend bool operator==(const basic_executor_type& a, const basic_executor_type& b) noexcept {
        return a.pool_ == b.pool_ && a.bits_ == b.bits_;
    }
    friend bool operator!=(const basic_executor_type& a, const basic_executor_type& b) noexcept { return !(a == b); }

private:
    friend class worker_pool;
    template <unsigned>
    friend class basic_executor_type;

    basic_executor_type(worker_pool* pool, unsigned bits) noexcept : pool_(pool), bits_(bits) {
        if constexpr ((Bits & tracked_bit) != 0) {
            if (pool_) pool_->work_started();
        }
    }

    worker_pool* pool_;
    unsigned bits_;
};

inline worker_pool::executor_type worker_pool::get_executor() noexcept { return executor_type(this, 0); }

}  // namespace toolhost

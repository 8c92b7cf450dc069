// The elastic part of worker_pool: when every worker is stuck in a handler (a plugin call that
// blocks) while work waits, extra threads take that work, so one slow tool cannot hold up the
// others (Go's scheduler hands a blocked thread's work to a new one in the same way).
//
// The extra threads stay out of the workers' bookkeeping (spinning, parked, wake tokens): they
// take work under the same locks (the shared queue's mutex, a worker's queue mutex) and poll
// with growing sleeps instead of parking, so nothing that keeps the workers' wake-ups exact
// changes. They post to the shared queue (they have no queue of their own) and count as the
// pool's threads for running_in_this_thread().

#include <toolhost/worker_pool.hpp>

#include "execution/worker_pool_parts.hpp"

#include <algorithm>

namespace toolhost {

void worker_pool::start_elastic(elastic_options o) {
    elastic_ = std::make_unique<elastic>();
    elastic_->options = o;
    elastic_->monitor = std::thread([this] { run_monitor(); });
}

void worker_pool::stop_elastic() noexcept {
    if (!elastic_) return;
    {
        std::lock_guard lock(elastic_->mutex);
        elastic_->stopping = true;
    }
    elastic_->wake.notify_all();
    if (elastic_->monitor.joinable()) elastic_->monitor.join();
    // The pool has stopped: every extra thread ends after its current handler.
    std::lock_guard lock(elastic_->mutex);
    for (auto& e : elastic_->threads) e.thread.join();
    elastic_->threads.clear();
}

std::size_t worker_pool::extra_thread_count() const noexcept {
    return elastic_ ? elastic_->running.load(std::memory_order_relaxed) : 0;
}

std::uint64_t worker_pool::extra_threads_started() const noexcept {
    return elastic_ ? elastic_->started.load(std::memory_order_relaxed) : 0;
}

std::uint64_t worker_pool::handlers_started() const noexcept {
    std::uint64_t n = elastic_ ? elastic_->handlers.load(std::memory_order_relaxed) : 0;
    for (std::size_t i = 0; i < local_count_; ++i) n += locals_[i].handlers.load(std::memory_order_relaxed);
    return n;
}

// Looks every `stall` while work is queued (less often while none is); when no handler started
// since the last look although work waited all along, every thread is stuck: one more joins.
void worker_pool::run_monitor() {
    elastic& e = *elastic_;
    std::uint64_t last = handlers_started();
    bool waited = false;  // work was queued at the last look
    std::unique_lock lock(e.mutex);
    for (;;) {
        const auto tick = waited ? std::chrono::duration_cast<std::chrono::nanoseconds>(e.options.stall)
                                 : std::chrono::duration_cast<std::chrono::nanoseconds>(e.options.stall) * 20;
        e.wake.wait_for(lock, tick, [&] { return e.stopping; });
        if (e.stopping || stopped_.load(std::memory_order_relaxed)) return;
        e.reap();
        const std::uint64_t now = handlers_started();
        const bool waiting = pending() != 0;
        if (waited && waiting && now == last && e.running.load(std::memory_order_relaxed) < e.options.max_extra) {
            auto& x = e.threads.emplace_back();
            e.running.fetch_add(1, std::memory_order_relaxed);
            e.started.fetch_add(1, std::memory_order_relaxed);
            try {
                x.thread = std::thread([this, &x] {
                    run_extra();
                    elastic_->running.fetch_sub(1, std::memory_order_relaxed);
                    x.done.store(true, std::memory_order_release);
                });
            } catch (...) {  // no thread to be had: the work waits for a worker, as without this
                e.running.fetch_sub(1, std::memory_order_relaxed);
                e.threads.pop_back();
            }
        }
        last = now;
        waited = waiting;
    }
}

// Queued work for an extra thread: the shared queue's first, else any worker's (their owners are
// stuck, or the work would not have waited).
detail::worker_pool_op* worker_pool::take_any() noexcept {
    if (detail::worker_pool_op* op = pop_shared()) return op;
    for (std::size_t i = 0; i < local_count_; ++i) {
        if (locals_[i].size() == 0) continue;
        if (detail::worker_pool_op* op = locals_[i].pop()) return op;
    }
    return nullptr;
}

void worker_pool::run_extra() {
    detail::current_extra_pool = this;
    elastic& e = *elastic_;
    using clock = std::chrono::steady_clock;
    auto idle_since = clock::now();
    auto pause = std::chrono::microseconds(20);
    while (!stopped_.load(std::memory_order_relaxed)) {
        if (detail::worker_pool_op* op = take_any()) {
            if (stopped_.load(std::memory_order_relaxed)) {
                complete(op, false);
                break;
            }
            e.handlers.fetch_add(1, std::memory_order_relaxed);
            complete(op, true);
            idle_since = clock::now();
            pause = std::chrono::microseconds(20);
            continue;
        }
        if (clock::now() - idle_since >= e.options.keep_alive) break;
        std::this_thread::sleep_for(pause);
        pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::microseconds(1000));
    }
    detail::current_extra_pool = nullptr;
}

}  // namespace toolhost

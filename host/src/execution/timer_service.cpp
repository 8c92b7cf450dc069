#include <toolhost/timer_service.hpp>

#include <stdexcept>

namespace toolhost {

namespace {
// A timer id: a sequence number (high 32 bits), the entry's index in its shard's slab, then the
// shard (low bits). The sequence number tells a reused entry from the timer that had it before.
constexpr unsigned shard_bits = 3;
constexpr unsigned entry_bits = 29;

std::size_t this_thread_shard(std::size_t count) noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine % count;
}
}  // namespace

thread_timer_service::thread_timer_service() {
    static_assert(shard_count <= (std::size_t{1} << shard_bits));
    thread_ = std::thread([this] { run(); });
}

thread_timer_service::~thread_timer_service() {
    {
        std::lock_guard lock(wake_mutex_);
        stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

void thread_timer_service::shard::sift_up(std::size_t pos) noexcept {
    const std::uint32_t e = heap[pos];
    while (pos > 0) {
        const std::size_t parent = (pos - 1) / 2;
        if (!earlier(e, heap[parent])) break;
        place(pos, heap[parent]);
        pos = parent;
    }
    place(pos, e);
}

void thread_timer_service::shard::sift_down(std::size_t pos) noexcept {
    const std::uint32_t e = heap[pos];
    for (;;) {
        std::size_t child = 2 * pos + 1;
        if (child >= heap.size()) break;
        if (child + 1 < heap.size() && earlier(heap[child + 1], heap[child])) ++child;
        if (!earlier(heap[child], e)) break;
        place(pos, heap[child]);
        pos = child;
    }
    place(pos, e);
}

timer_service::callback thread_timer_service::shard::take(std::uint32_t e) noexcept {
    const std::size_t pos = slab[e].heap_pos;
    const std::uint32_t last = heap.back();
    heap.pop_back();
    if (last != e) {
        place(pos, last);
        // The moved entry may belong above or below its new place.
        if (pos > 0 && earlier(last, heap[(pos - 1) / 2]))
            sift_up(pos);
        else
            sift_down(pos);
    }
    callback fn = std::move(slab[e].fn);
    slab[e].fn = nullptr;
    slab[e].id = 0;
    free_entries.push_back(e);
    return fn;
}

timer_service::timer_id thread_timer_service::schedule(clock::time_point when, callback fn) {
    const std::size_t k = this_thread_shard(shard_count);
    shard& sh = shards_[k];
    timer_id id;
    {
        std::lock_guard lock(sh.mutex);
        std::uint32_t e;
        if (sh.free_entries.empty()) {
            if (sh.slab.size() >= (std::size_t{1} << entry_bits))
                throw std::length_error("thread_timer_service: too many timers");
            e = static_cast<std::uint32_t>(sh.slab.size());
            sh.slab.emplace_back();
        } else {
            e = sh.free_entries.back();
            sh.free_entries.pop_back();
        }
        id = (sh.next_seq++ << 32) | (timer_id{e} << shard_bits) | k;
        if ((id >> 32) == 0) id = (sh.next_seq++ << 32) | (timer_id{e} << shard_bits) | k;  // never 0 after wrapping
        auto& entry = sh.slab[e];
        entry.when = when;
        entry.id = id;
        entry.fn = std::move(fn);
        sh.heap.push_back(e);
        sh.sift_up(sh.heap.size() - 1);
    }
    // Wake the timer thread only when this timer is due before it would wake anyway.
    const clock::duration::rep at = when.time_since_epoch().count();
    clock::duration::rep wake = wake_at_.load(std::memory_order_acquire);
    while (at < wake) {
        if (wake_at_.compare_exchange_weak(wake, at, std::memory_order_acq_rel)) {
            std::lock_guard lock(wake_mutex_);  // pairs with the sleeper's check: no lost wake-up
            cv_.notify_one();
            break;
        }
    }
    return id;
}

bool thread_timer_service::cancel(timer_id id) {
    shard& sh = shards_[id & ((timer_id{1} << shard_bits) - 1)];
    const auto e = static_cast<std::uint32_t>((id >> shard_bits) & ((timer_id{1} << entry_bits) - 1));
    callback dropped;  // destroyed after the lock: what it holds may schedule or cancel timers
    std::lock_guard lock(sh.mutex);
    if (e >= sh.slab.size() || sh.slab[e].id != id) return false;  // ran, running, or cancelled
    dropped = sh.take(e);
    return true;
}

bool thread_timer_service::pop_due(clock::time_point now, callback& fn, clock::time_point& earliest) {
    earliest = clock::time_point::max();
    for (shard& sh : shards_) {
        std::lock_guard lock(sh.mutex);
        if (sh.heap.empty()) continue;
        const std::uint32_t first = sh.heap.front();
        if (sh.slab[first].when <= now) {
            fn = sh.take(first);
            return true;
        }
        earliest = std::min(earliest, sh.slab[first].when);
    }
    return false;
}

void thread_timer_service::run() {
    // Wakes at least this often even with nothing due, so that timers far in the future are
    // added without waking the thread (see wake_at_).
    constexpr auto idle_tick = std::chrono::milliseconds(250);
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        callback fn;
        clock::time_point earliest;
        if (pop_due(now, fn, earliest)) {
            fn();  // without any lock: a callback may schedule or cancel timers
            continue;
        }
        const auto until = std::min(earliest, now + idle_tick);
        std::unique_lock lock(wake_mutex_);
        if (stop_) return;
        // Publish the wake-up time, then re-check: a timer scheduled in between either saw the
        // old (later) value and notifies under wake_mutex_, or is found by the next pop_due().
        wake_at_.store(until.time_since_epoch().count(), std::memory_order_release);
        cv_.wait_until(lock, until, [&] {
            return stop_ || wake_at_.load(std::memory_order_acquire) < until.time_since_epoch().count();
        });
        if (stop_) return;
    }
}

timer_service::timer_id manual_timer_service::schedule(clock::time_point when, callback fn) {
    std::lock_guard lock(mutex_);
    const timer_id id = next_id_++;
    queue_.emplace(when, std::make_pair(id, std::move(fn)));
    return id;
}

bool manual_timer_service::cancel(timer_id id) {
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->second.first == id) {
            queue_.erase(it);
            return true;
        }
    }
    return false;
}

void manual_timer_service::advance(clock::duration d) {
    const auto target = clock_.now() + d;
    for (;;) {
        callback fn;
        {
            std::lock_guard lock(mutex_);
            auto first = queue_.begin();
            if (first == queue_.end() || first->first > target) break;
            if (first->first > clock_.now()) clock_.set(first->first);
            fn = std::move(first->second.second);
            queue_.erase(first);
        }
        fn();
    }
    if (clock_.now() < target) clock_.set(target);
}

std::size_t manual_timer_service::pending() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

}  // namespace toolhost

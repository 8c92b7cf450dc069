#pragma once
// Administrative work that blocks (a configuration reload, a tool restart that waits for its
// calls and initializes a new instance) runs here, on a thread of its own, one job at a time in
// order, never on an I/O thread: the other clients of that thread would wait with it.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace toolhost::serve::detail {

class admin_queue {
public:
    admin_queue() = default;
    admin_queue(const admin_queue&) = delete;
    admin_queue& operator=(const admin_queue&) = delete;
    ~admin_queue() { stop(); }

    // Queues `job`; false once stopped (the job is dropped). The thread starts with the first job.
    bool post(std::function<void()> job) {
        std::lock_guard lock(m_);
        if (stopped_) return false;
        jobs_.push_back(std::move(job));
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        cv_.notify_one();
        return true;
    }

    // Lets the job under way finish, drops those queued, and joins the thread.
    void stop() {
        {
            std::lock_guard lock(m_);
            stopped_ = true;
            jobs_.clear();
            cv_.notify_one();
        }
        if (thread_.joinable()) thread_.join();
    }

private:
    void run() {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return stopped_ || !jobs_.empty(); });
            if (stopped_) return;
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();  // jobs catch what they throw (they answer through a responder)
            lock.lock();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopped_ = false;
    std::thread thread_;
};

}  // namespace toolhost::serve::detail

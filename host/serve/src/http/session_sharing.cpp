#include "session_sharing.hpp"

#include <toolhost/logging.hpp>

#include <exception>

namespace toolhost::serve::detail {
namespace {

// What the store did wrong, for the log: at most one record per 10 s, with how many were left out.
class failure_log {
public:
    void write(std::string_view what, const std::string& id, const char* error) {
        const auto now = std::chrono::steady_clock::now();
        if (now < next_) {
            ++skipped_;
            return;
        }
        next_ = now + std::chrono::seconds(10);
        logging::write(logging::level::warning, "serve.cluster", std::string(what),
                       {{"session", id}, {"error", std::string(error)}, {"left_out", std::exchange(skipped_, 0)}});
    }

private:
    std::chrono::steady_clock::time_point next_{};
    std::uint64_t skipped_ = 0;
};

failure_log& failures() {
    static thread_local failure_log log;  // the sharing thread's
    return log;
}

// Runs `fn`, logging what it throws as `what` failing for session `id`; whether it returned.
template <class Fn>
bool guarded(std::string_view what, const std::string& id, Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const std::exception& e) {
        failures().write(what, id, e.what());
    } catch (...) {
        failures().write(what, id, "an exception that is not a std::exception");
    }
    return false;
}

}  // namespace

bool session_sharing::post(std::function<void()> job, bool urgent) {
    std::lock_guard lock(m_);
    if (stopped_) return false;
    if (urgent)
        jobs_.push_front(std::move(job));
    else
        jobs_.push_back(std::move(job));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_one();
    return true;
}

void session_sharing::save(shared_session s) {
    std::string id = s.id;
    {
        std::lock_guard lock(m_);
        if (stopped_) return;
        auto [it, fresh] = queued_saves_.insert_or_assign(id, std::move(s));
        if (!fresh) return;  // its write is queued already and will take the newest state
    }
    post([this, id = std::move(id)] { write(id); });
}

void session_sharing::write(const std::string& id) {
    std::optional<shared_session> s;
    {
        std::lock_guard lock(m_);
        auto it = queued_saves_.find(id);
        if (it == queued_saves_.end()) return;
        s = std::move(it->second);
        queued_saves_.erase(it);
    }
    guarded("a session could not be saved to the shared store; it is served by this host only", id,
            [&] { cluster_->save_session(*s); });
}

void session_sharing::touch(std::string id) {
    post([this, id = std::move(id)] {
        guarded("a session's last use could not be recorded in the shared store", id,
                [&] { cluster_->touch_session(id); });
    });
}

void session_sharing::drop(std::string id) {
    {
        std::lock_guard lock(m_);
        queued_saves_.erase(id);  // an ended session is not written again
    }
    post([this, id = std::move(id)] {
        guarded("an ended session could not be removed from the shared store", id, [&] { cluster_->drop_session(id); });
    });
}

void session_sharing::expire(int64_t idle_ms) {
    {
        std::lock_guard lock(m_);
        const auto now = std::chrono::steady_clock::now();
        if (now < next_expiry_) return;
        next_expiry_ = now + std::chrono::minutes(1);
    }
    post([this, idle_ms] {
        int64_t expired = 0;
        if (guarded("idle sessions could not be expired in the shared store", {},
                    [&] { expired = cluster_->expire_sessions(idle_ms); }) &&
            expired > 0)
            logging::write(logging::level::debug, "serve.cluster", "shared sessions expired", {{"expired", expired}});
    });
}

void session_sharing::lookup(std::string id, found done) {
    auto job = [this, id, done] {
        std::optional<shared_session> s;
        guarded("a session could not be read from the shared store", id, [&] { s = cluster_->load_session(id); });
        done(std::move(s));
    };
    if (!post(std::move(job), true)) done(std::nullopt);
}

void session_sharing::stop() {
    {
        std::lock_guard lock(m_);
        if (stopped_ && !thread_.joinable()) return;
        stopped_ = true;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

void session_sharing::run() {
    std::unique_lock lock(m_);
    for (;;) {
        cv_.wait(lock, [&] { return stopped_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopped, and everything queued is done
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

}  // namespace toolhost::serve::detail

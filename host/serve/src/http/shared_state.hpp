#pragma once

#include "common.hpp"

namespace toolhost::serve::detail {

// What outlives the server: the exchanges, streams and call completions handed to other
// threads hold it, never the server itself.
struct shared_state {
    std::shared_mutex gate_m;  // shared: posting to a connection; exclusive: closing the gate
    bool open = true;

    std::atomic<std::int64_t> busy{0};
    std::atomic<bool> stopping{false};
    std::mutex wait_m;
    std::condition_variable wait_cv;

    std::atomic<std::int64_t> connections{0};  // open, counted against max_connections
    std::atomic<std::int64_t> refusing{0};     // being answered 503 for being over it
    std::atomic<std::int64_t> sessions{0};
    std::atomic<std::uint64_t> next_event_id{0};
    std::atomic<std::uint64_t> next_seq{0};

    void acquire() noexcept { busy.fetch_add(1); }
    void release() noexcept {
        // seq_cst on both sides: either stop() sees 0 or this sees stopping and notifies.
        if (busy.fetch_sub(1) == 1 && stopping.load()) {
            { std::lock_guard l(wait_m); }
            wait_cv.notify_all();
        }
    }
};

class busy_token {
public:
    busy_token() = default;
    explicit busy_token(std::shared_ptr<shared_state> st) : st_(std::move(st)) { st_->acquire(); }
    busy_token(busy_token&& o) noexcept : st_(std::move(o.st_)) {}
    busy_token& operator=(busy_token&& o) noexcept {
        if (this != &o) {
            reset();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    busy_token(const busy_token&) = delete;
    busy_token& operator=(const busy_token&) = delete;
    ~busy_token() { reset(); }
    void reset() noexcept {
        if (auto s = std::move(st_)) s->release();
    }
    explicit operator bool() const noexcept { return st_ != nullptr; }

private:
    std::shared_ptr<shared_state> st_;
};

}  // namespace toolhost::serve::detail

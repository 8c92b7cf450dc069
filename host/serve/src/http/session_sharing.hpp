#pragma once
// The HTTP server's side of serve::cluster: 2025-era sessions written to the shared store behind
// the requests that change them, and read back when a request names a session this host does not
// hold (its owner died or was drained, and the load balancer sent the client here).
//
// The store is reached on a thread of its own, never on an I/O thread: a database that is slow or
// away delays the writes and the look-ups, not the other clients of the I/O thread. Writes are
// queued and coalesced per session (the newest state wins); look-ups go ahead of them. A write
// that fails is logged and dropped: the session goes on here, and only a failover would lose it
// (the client then gets 404 and initializes again, as the specification says).

#include <toolhost/serve/cluster.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace toolhost::serve::detail {

class session_sharing {
public:
    explicit session_sharing(std::shared_ptr<cluster> c) : cluster_(std::move(c)) {}
    session_sharing(const session_sharing&) = delete;
    session_sharing& operator=(const session_sharing&) = delete;
    ~session_sharing() { stop(); }

    // Queues a write of `s` (replacing a queued write of the same session).
    void save(shared_session s);
    void touch(std::string id);
    void drop(std::string id);
    // Forgets sessions unused for `idle_ms`, everywhere (at most once a minute, whoever asks).
    void expire(int64_t idle_ms);
    // Reads `id` from the store, then calls `done` on the sharing thread: the session, or none
    // (not stored, or the store failed: then it is logged).
    using found = std::function<void(std::optional<shared_session>)>;
    void lookup(std::string id, found done);

    // Writes what is queued (each write bounded by the cluster's own deadline), then ends the
    // thread. Later calls are ignored.
    void stop();

private:
    void run();
    bool post(std::function<void()> job, bool urgent = false);
    void write(const std::string& id);

    const std::shared_ptr<cluster> cluster_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::unordered_map<std::string, shared_session> queued_saves_;  // by id: the newest state
    std::chrono::steady_clock::time_point next_expiry_{};
    bool stopped_ = false;
    std::thread thread_;
};

}  // namespace toolhost::serve::detail

// Connections to one SQLite file, handed out one call at a time.
//
// A sqlite3 connection must not be used by two threads at once, and one connection behind a
// mutex would serialize every read. WAL mode lets any number of readers run next to one writer,
// so each call leases a connection of its own: readers never wait for each other, and writers
// wait for each other in SQLite's busy handler (BEGIN IMMEDIATE + busy timeout), the same way
// they wait for writers in other processes.
#pragma once

#include <toolhost_plugins/sqlite.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

namespace toolhost::plugins::sqlite {

class connection_pool {
public:
    /// Keeps at most `max_idle` connections open between calls; more may be open while calls run.
    /// Every connection is opened with `options`.
    connection_pool(std::filesystem::path path, open_options options, size_t max_idle);

    /// One connection for the duration of a call; goes back to the pool when destroyed.
    /// The holder may lower the connection's busy timeout for its call (sqlite3_busy_timeout);
    /// the pool restores options.busy_timeout_ms when it takes the connection back.
    class lease {
    public:
        lease(lease&& other) noexcept = default;
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease();
        database& operator*() const noexcept { return *db_; }
        database* operator->() const noexcept { return db_.get(); }

    private:
        friend class connection_pool;
        lease(connection_pool& pool, std::unique_ptr<database> db) noexcept : pool_(&pool), db_(std::move(db)) {}
        connection_pool* pool_;
        std::unique_ptr<database> db_;
    };

    /// An idle connection, or a new one. Opening a new one waits at most `max_wait` for locks.
    /// Throws sqlite_error (UNAVAILABLE, DATA_LOSS...) when the file cannot be opened.
    /// [thread-safe]
    lease acquire(std::chrono::milliseconds max_wait);
    /// acquire() waiting up to options.busy_timeout_ms. [thread-safe]
    lease acquire() { return acquire(std::chrono::milliseconds(options_.busy_timeout_ms)); }

    /// Closes the idle connections. Leases still out close when they are returned, and so do
    /// connections acquired later: the pool keeps none from then on. [thread-safe]
    void close_idle() noexcept;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    /// database::open() with the busy timeout cut to `max_wait`.
    database open_connection(std::chrono::milliseconds max_wait) const;
    void give_back(std::unique_ptr<database> db) noexcept;

    const std::filesystem::path path_;
    const open_options options_;
    const size_t max_idle_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<database>> idle_;  // guarded by mutex_
    bool closed_ = false;                          // guarded by mutex_; set by close_idle()
};

}  // namespace toolhost::plugins::sqlite

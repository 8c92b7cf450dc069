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

namespace toolhost::plugins::memory {

class connection_pool {
public:
    /// Keeps at most `max_idle` connections open between calls; more may be open while calls run.
    connection_pool(std::filesystem::path path, sqlite::open_options options, size_t max_idle);

    /// One connection for the duration of a call; goes back to the pool when destroyed.
    class lease {
    public:
        lease(lease&& other) noexcept = default;
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease();
        sqlite::database& operator*() const noexcept { return *db_; }
        sqlite::database* operator->() const noexcept { return db_.get(); }

    private:
        friend class connection_pool;
        lease(connection_pool& pool, std::unique_ptr<sqlite::database> db) noexcept
            : pool_(&pool), db_(std::move(db)) {}
        connection_pool* pool_;
        std::unique_ptr<sqlite::database> db_;
    };

    /// An idle connection, or a new one. Opening a new one waits at most `max_wait` for locks.
    /// Throws sqlite_error (UNAVAILABLE, DATA_LOSS...) when the file cannot be opened.
    /// [thread-safe]
    lease acquire(std::chrono::milliseconds max_wait);

    /// Closes the idle connections. Leases still out close when they are returned. [thread-safe]
    void close_idle() noexcept;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    /// sqlite::database::open(), retried while it fails with SQLITE_BUSY, for up to `max_wait`.
    sqlite::database open_connection(std::chrono::milliseconds max_wait) const;
    void give_back(std::unique_ptr<sqlite::database> db) noexcept;

    const std::filesystem::path path_;
    const sqlite::open_options options_;
    const size_t max_idle_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<sqlite::database>> idle_;  // guarded by mutex_
};

}  // namespace toolhost::plugins::memory

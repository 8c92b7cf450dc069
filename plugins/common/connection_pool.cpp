#include <toolhost_plugins/connection_pool.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace toolhost::plugins::sqlite {

connection_pool::connection_pool(std::filesystem::path path, open_options options, size_t max_idle)
    : path_(std::move(path)), options_(options), max_idle_(max_idle) {
    idle_.reserve(max_idle_);  // so that give_back() never allocates
}

connection_pool::lease::~lease() {
    if (db_) pool_->give_back(std::move(db_));
}

connection_pool::lease connection_pool::acquire(std::chrono::milliseconds max_wait) {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto db = std::move(idle_.back());
            idle_.pop_back();
            return lease(*this, std::move(db));
        }
    }
    // Opened outside the lock: opening touches the file system and may wait for a lock.
    return lease(*this, std::make_unique<database>(open_connection(max_wait)));
}

database connection_pool::open_connection(std::chrono::milliseconds max_wait) const {
    // database::open waits out a concurrent switch to WAL for up to the busy timeout; this call
    // may have less time left than that. give_back() restores the full timeout.
    open_options options = options_;
    options.busy_timeout_ms = static_cast<int>(std::clamp<int64_t>(max_wait.count(), 0, options.busy_timeout_ms));
    return database::open(path_, options);
}

void connection_pool::give_back(std::unique_ptr<database> db) noexcept {
    // A connection still inside a transaction (a bug, or a ROLLBACK that itself failed) would
    // hand its half-finished state to the next call: close it instead, which rolls it back.
    if (sqlite3_get_autocommit(db->handle()) == 0) return;
    // The last holder may have cut the busy timeout to its own deadline (or opened the
    // connection with a cut one); the next holder starts from the configured one.
    sqlite3_busy_timeout(db->handle(), options_.busy_timeout_ms);
    std::unique_ptr<database> surplus;
    {
        std::lock_guard lock(mutex_);
        if (!closed_ && idle_.size() < max_idle_) {
            idle_.push_back(std::move(db));
            return;
        }
        surplus = std::move(db);
    }
    // surplus closes here, outside the lock.
}

void connection_pool::close_idle() noexcept {
    std::vector<std::unique_ptr<database>> closing;
    {
        std::lock_guard lock(mutex_);
        closing.swap(idle_);  // idle_ is left without capacity: from now on give_back() closes
        closed_ = true;
    }
    // closing's connections close here, outside the lock.
}

}  // namespace toolhost::plugins::sqlite

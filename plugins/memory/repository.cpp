#include "repository.hpp"

#include "sqlite_repository.hpp"
#if TOOLHOST_MEMORY_POSTGRESQL
#include "postgres_repository.hpp"
#endif

namespace toolhost::plugins::memory {

std::unique_ptr<repository> open_repository(const memory_config& config) {
    if (!config.storage.postgresql())
        return std::make_unique<sqlite_repository>(config.database, config.sync, config.busy_timeout_ms);
#if TOOLHOST_MEMORY_POSTGRESQL
    // Checked first, so that a URL libpq cannot read is named by where it came from.
    postgres::check_url(config.storage.url, config.storage.origin);
    // Start-up has no call deadline; this bounds the wait for the server and for another host's
    // migration of the same database.
    return std::make_unique<postgres_repository>(config.storage.url, config.storage.connections,
                                                 std::chrono::steady_clock::now() + std::chrono::seconds(60));
#else
    storage::no_postgresql_support(config.storage, "memory");
#endif
}

}  // namespace toolhost::plugins::memory

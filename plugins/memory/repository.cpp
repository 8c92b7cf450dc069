#include "repository.hpp"

#include "sqlite_repository.hpp"
#if TOOLHOST_MEMORY_POSTGRESQL
#include "postgres_repository.hpp"
#endif

namespace toolhost::plugins::memory {

std::unique_ptr<repository> open_repository(const memory_config& config) {
    if (config.storage_url.empty())
        return std::make_unique<sqlite_repository>(config.database, config.sync, config.busy_timeout_ms);
#if TOOLHOST_MEMORY_POSTGRESQL
    // Checked first, so that a URL libpq cannot read is named by where it came from.
    try {
        postgres::describe(config.storage_url);
    } catch (const sdk::error& e) {
        throw sdk::error(e.code(), config.storage_origin + ": " + e.what());
    }
    // Start-up has no call deadline; this bounds the wait for the server and for another host's
    // migration of the same database.
    return std::make_unique<postgres_repository>(config.storage_url,
                                                 std::chrono::steady_clock::now() + std::chrono::seconds(60));
#else
    throw sdk::error(sdk::status::failed_precondition,
                     config.storage_origin +
                         ": a PostgreSQL storage needs PostgreSQL support, and this build of the memory tool has "
                         "none (libpq was not found when it was built: install libpq-dev, e.g. with "
                         "scripts/setup-deps.sh, and build again); leave it unset for the embedded SQLite storage");
#endif
}

}  // namespace toolhost::plugins::memory

#include "repository.hpp"

#include "sqlite_repository.hpp"
#if TOOLHOST_ESCALATION_POSTGRESQL
#include "postgres_repository.hpp"

#include <boost/json/parse.hpp>
#endif

namespace toolhost::plugins::escalation {

std::unique_ptr<repository> open_repository(const escalation_config& config, const std::filesystem::path& data_dir) {
    if (!config.storage.postgresql()) return std::make_unique<sqlite_repository>(data_dir / "tickets.db", config.store);
#if TOOLHOST_ESCALATION_POSTGRESQL
    postgres::check_url(config.storage.url, config.storage.origin);
    std::vector<new_ticket> sample;
    if (config.store.seed_sample) sample = sample_tickets(boost::json::parse(config.store.sample_json));
    // Start-up has no call deadline; this bounds the wait for the server and for another host's
    // migration of the same database.
    return std::make_unique<postgres_repository>(config.storage.url, config.storage.connections, sample,
                                                 std::chrono::steady_clock::now() + std::chrono::seconds(60));
#else
    storage::no_postgresql_support(config.storage, "escalation");
#endif
}

}  // namespace toolhost::plugins::escalation

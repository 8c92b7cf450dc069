#include "toolhost_plugins/storage.hpp"

#include <cstdlib>

namespace toolhost::plugins::storage {

namespace {

bool is_postgresql_url(std::string_view text) {
    return text.starts_with("postgresql://") || text.starts_with("postgres://");
}

}  // namespace

std::optional<std::string> database_url_from_environment() {
    const char* value = std::getenv(database_url_variable);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

choice read(const args& config, const std::optional<std::string>& database_url,
            std::initializer_list<std::string_view> sqlite_keys, std::string_view tool, std::string_view prefix) {
    const std::string key = std::string(prefix) + "storage";
    const std::string connections_key = std::string(prefix) + "storage_connections";
    std::optional<int64_t> connections = config.optional_int("storage_connections");
    if (connections && (*connections < 1 || static_cast<uint64_t>(*connections) > max_connections))
        invalid_argument(connections_key, "must be between 1 and " + std::to_string(max_connections) + ", got " +
                                              std::to_string(*connections));
    const auto postgresql = [&](std::string url, std::string origin) {
        choice c{std::move(url), std::move(origin)};
        if (connections) c.connections = static_cast<size_t>(*connections);
        return c;
    };
    if (auto storage = config.optional_string("storage")) {
        if (*storage == "sqlite") {
            if (connections)
                invalid_argument(connections_key,
                                 "applies to a PostgreSQL storage only, and \"storage\" is \"sqlite\"");
            return {};
        }
        if (!is_postgresql_url(*storage)) invalid_argument(key, "must be \"sqlite\" or a postgresql:// URL");
        for (const auto sqlite_key : sqlite_keys)
            if (config.has(sqlite_key))
                invalid_argument(std::string(prefix) + std::string(sqlite_key),
                                 "applies to the SQLite storage only, and \"storage\" is a PostgreSQL URL");
        return postgresql(*storage, key);
    }
    if (!database_url || database_url->empty()) return {};
    if (!is_postgresql_url(*database_url))
        invalid_argument(database_url_variable, "must be a postgresql:// URL (or unset); to keep the " +
                                                    std::string(tool) +
                                                    " tool on SQLite while it is set, give it \"storage\": \"sqlite\"");
    return postgresql(*database_url, database_url_variable);
}

void no_postgresql_support(const choice& c, std::string_view tool) {
    throw sdk::error(sdk::status::failed_precondition,
                     c.origin + ": a PostgreSQL storage needs PostgreSQL support, and this build of the " +
                         std::string(tool) +
                         " tool has none (libpq was not found when it was built: install libpq-dev, e.g. with "
                         "scripts/setup-deps.sh, and build again); leave it unset for the embedded SQLite storage");
}

deadline deadline_of(const sdk::call_context& call) {
    const auto remaining = call.remaining();
    const auto now = std::chrono::steady_clock::now();
    if (remaining >= deadline::max() - now) return deadline::max();
    return now + std::chrono::duration_cast<deadline::duration>(remaining);
}

}  // namespace toolhost::plugins::storage

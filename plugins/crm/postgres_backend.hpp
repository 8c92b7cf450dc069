// The crm tool's shared database backend: customers and interactions in one PostgreSQL database
// that several hosts use at once, built only when libpq is found. The same contract as
// sqlite_backend (model.hpp): the same values stored, the same results, the same errors.
//
// Every call leases its own connection from a pool; unique constraints, INSERT ... ON CONFLICT and
// row locks order concurrent writers, here and on other hosts alike. The schema (versioned in
// toolhost_migrations, component "crm", under its own advisory lock): crm_customers,
// crm_interactions and crm_meta; every name starts with crm_, so that the tools can share one
// database.
#pragma once

#include "model.hpp"

#include <toolhost_plugins/postgres.hpp>
#include <toolhost_plugins/storage.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::crm {

class postgres_backend final : public backend {
public:
    /// Connects to `url` (keeping at most `connections` connections to it), brings the schema up to date (waiting for another host that is
    /// migrating the same database) and, given a sample, seeds it unless this database was seeded
    /// before (once, whichever host gets there first), giving up at `until`. Throws postgres_error.
    postgres_backend(const std::string& url, size_t connections, const std::optional<sample_rows>& sample,
                     storage::deadline until);

    /// The schema as numbered steps for postgres::migrate(); never edit a released step, add one.
    static const std::vector<std::string_view>& schema_steps();

    boost::json::object get_customer(const customer_key& key, const sdk::call_context& call) override;
    customer_page search(const std::string& query, int64_t limit, int64_t offset,
                         const sdk::call_context& call) override;
    upsert_result upsert(const customer_update& update, const sdk::call_context& call) override;
    log_result log_interaction(const new_interaction& interaction, const sdk::call_context& call) override;
    boost::json::array recent_interactions(const std::string& customer_id, int64_t limit,
                                           const sdk::call_context& call) override;
    void error_context(std::string_view operation, const sdk::error& e) const override;

private:
    postgres::connection_pool pool_;
};

}  // namespace toolhost::plugins::crm

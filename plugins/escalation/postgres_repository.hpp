// The escalation tool's shared storage: one PostgreSQL database that several hosts use at once
// (repository.hpp), built only when libpq is found. Every call leases its own connection from a
// pool; PostgreSQL's sequences, unique constraints and row locks order concurrent writers, here
// and on other hosts alike.
//
// The schema (versioned in toolhost_migrations, component "escalation", under its own advisory
// lock): escalation_tickets, escalation_events (the status history), escalation_notifications
// (the webhook's delivery state, a row per ticket, apart so that a delivery's row lock never
// blocks a status change) and escalation_meta; every name starts with escalation_, so that the
// tools can share one database.
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/postgres.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::escalation {

class postgres_repository final : public repository {
public:
    /// Connects to `url` (keeping at most `connections` connections to it), brings the schema up to date (waiting for another host that is
    /// migrating the same database) and seeds `sample` unless this database was seeded before
    /// (once, whichever host gets there first), giving up at `until`. Throws postgres_error.
    postgres_repository(const std::string& url, size_t connections, std::span<const new_ticket> sample, deadline until);

    /// The schema as numbered steps for postgres::migrate(); never edit a released step, add one.
    static const std::vector<std::string_view>& schema_steps();

    insert_outcome insert(const new_ticket& t, deadline until) override;
    std::optional<ticket_record> find(int64_t id, bool with_history, deadline until) override;
    ticket_page page(const ticket_filter& filter, int64_t limit, int64_t offset, deadline until) override;
    std::optional<ticket_record> change_status(int64_t id, const ticket_event& move, deadline until) override;
    std::unique_ptr<notification_claim> claim_notification(int64_t id, deadline until) override;
    void error_context(std::string_view operation, const sdk::error& e) const override;

private:
    class claim;

    postgres::connection_pool pool_;
};

}  // namespace toolhost::plugins::escalation

// The escalation tool's ticket storage, behind one narrow interface at the level of the tool's
// operations.
//
// escalation_tool.cpp decides everything (argument checks, the workflow, replays of an
// idempotency key, the JSON, the webhook); a repository only keeps and finds tickets, and each of
// its methods is one atomic step, correct also when several hosts share the storage. Two
// implementations:
//
// - sqlite_repository: one SQLite file in WAL mode, the embedded default;
// - postgres_repository: one PostgreSQL database that several hosts share (built only when libpq
//   is found).
//
// One contract test suite runs against both (tests/plugins/test_escalation_storage.cpp).
//
// Every method takes the deadline of the call it serves (PostgreSQL never waits past it; SQLite
// waits at most busy_timeout_ms). Storage trouble is thrown as toolhost::sdk::error with a status
// the host can act on (UNAVAILABLE for a database that is locked, away or broken); error_context()
// then names the database for the operator.
#pragma once

#include "config.hpp"
#include "ticket.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/storage.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::escalation {

using deadline = storage::deadline;

/// What an insert did.
struct insert_outcome {
    ticket_record ticket;
    /// false: a ticket already held the idempotency key; it is returned as stored, and nothing
    /// was written (comparing the two requests is the caller's business).
    bool created = false;
};

struct ticket_filter {
    std::optional<std::string> status;
    std::optional<std::string> customer;
};

struct ticket_page {
    std::vector<ticket_record> tickets;  ///< without history
    int64_t total = 0;                   ///< every ticket the filter matches
};

/// The exclusive right to deliver one ticket's pending notification, held until it is destroyed.
/// Record the outcome with delivered() or failed(), once; destroyed without either, it gives the
/// claim up and the notification stays pending as it was.
class notification_claim {
public:
    virtual ~notification_claim() = default;
    /// The notification is delivered: one more attempt, no error, delivered_at = `at`.
    virtual void delivered(std::string_view at) = 0;
    /// The attempt failed: one more attempt, last_error = `error`; the notification stays pending.
    virtual void failed(std::string_view error) = 0;
};

class repository {
public:
    virtual ~repository() = default;

    /// Stores `t` with its history and returns it with its new id, unless a ticket already holds
    /// t.idempotency_key: then that ticket is returned with created = false and nothing is
    /// stored. Concurrent inserts with one key, from threads or hosts, store one ticket. Ids are
    /// unique and never reused, also across hosts (PostgreSQL: a sequence, which may leave gaps).
    virtual insert_outcome insert(const new_ticket& t, deadline until) = 0;

    /// The ticket with this id (with its status history when asked, read in the same snapshot).
    virtual std::optional<ticket_record> find(int64_t id, bool with_history, deadline until) = 0;

    /// Up to `limit` tickets after the first `offset` that `filter` matches, newest (highest id)
    /// first, and how many it matches in all, in one snapshot.
    virtual ticket_page page(const ticket_filter& filter, int64_t limit, int64_t offset, deadline until) = 0;

    /// Compare and set: moves ticket `id` to move.to, updated_at = move.at, and appends `move` to
    /// its history, in one transaction, only if its status is still *move.from. The ticket after
    /// the move; nullopt when its status is no longer *move.from (another call moved it first) or
    /// there is no such ticket. So concurrent moves never lose one another.
    virtual std::optional<ticket_record> change_status(int64_t id, const ticket_event& move, deadline until) = 0;

    /// Claims ticket `id`'s pending notification for delivery; nullptr when it is not pending
    /// (delivered meanwhile) or another call holds the claim (PostgreSQL: on any host, a row lock
    /// taken with FOR UPDATE SKIP LOCKED and held until the claim ends; SQLite: in this process).
    virtual std::unique_ptr<notification_claim> claim_notification(int64_t id, deadline until) = 0;

    /// For an error thrown by this repository: throws it again with the database named (never a
    /// password) and the same status. Returns for any other error.
    virtual void error_context(std::string_view operation, const sdk::error& e) const = 0;
};

/// The repository that the configuration chooses, open, with its schema created or migrated and
/// the sample seeded once when the configuration asks for it. SQLite lives in
/// `data_dir`/tickets.db. Throws FAILED_PRECONDITION when the configuration asks for PostgreSQL
/// and this build has no libpq; otherwise what opening the backend throws.
std::unique_ptr<repository> open_repository(const escalation_config& config, const std::filesystem::path& data_dir);

}  // namespace toolhost::plugins::escalation

// Escalation tickets in SQLite (WAL), with their status history and the delivery state of the
// notification webhook.
//
// Thread safety: every public function locks the store's mutex for the duration of its SQL (one
// connection, serialized). Nothing slow runs under the lock: the webhook is sent by the caller
// between create() and mark_delivered()/mark_failed().
#pragma once

#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::escalation {

/// Ticket statuses and the moves between them.
///   open -> in_progress | resolved | closed
///   in_progress -> open | resolved
///   resolved -> closed | open (reopened)
///   closed -> (final)
bool is_status(std::string_view s) noexcept;
bool transition_allowed(std::string_view from, std::string_view to) noexcept;
/// "in_progress, resolved, closed", or "none" for a final status.
std::string allowed_from(std::string_view from);

struct new_ticket {
    std::string customer;
    std::string subject;
    std::string description;
    std::string priority = "normal";
    boost::json::array reasons;
    std::optional<std::string> session_id;
    std::optional<std::string> idempotency_key;
};

struct create_outcome {
    boost::json::object ticket;
    bool created = false;  ///< false: the idempotency key returned an existing ticket
    bool notification_pending = false;
};

struct ticket_page {
    boost::json::array tickets;
    int64_t total = 0;
};

struct status_change {
    boost::json::object ticket;
    std::string previous_status;
    bool changed = false;
};

class ticket_store {
public:
    using options = sqlite::store_options;

    /// Opens (creating and migrating) the database at `file`. On first use, and when asked,
    /// loads the sample tickets (options::sample_json) once.
    ticket_store(const std::filesystem::path& file, const options& opts);

    /// Creates a ticket, or returns the one created earlier with the same idempotency key. A key
    /// reused with different fields is ALREADY_EXISTS. `notify` marks a new ticket's
    /// notification as pending (else "none").
    create_outcome create(const new_ticket& t, bool notify);

    /// NOT_FOUND when there is no such ticket. With `history`, adds the status changes.
    boost::json::object get(int64_t id, bool history = false);

    ticket_page list(const std::optional<std::string>& status, const std::optional<std::string>& customer,
                     int64_t limit, int64_t offset);

    /// Moves a ticket to `status`. Setting the status it already has changes nothing (so that a
    /// retried call succeeds); a move the workflow does not allow is FAILED_PRECONDITION naming
    /// both states.
    status_change update_status(int64_t id, std::string_view status, const std::optional<std::string>& note);

    void mark_delivered(int64_t id);
    void mark_failed(int64_t id, std::string_view error);

private:
    boost::json::object load(int64_t id);
    static void insert_sample(sqlite::database& db, const boost::json::value& sample);

    std::mutex m_;
    sqlite::database db_;
};

/// The ticket's notification payload: {"event":"ticket.created","ticket":{...}} without the
/// delivery bookkeeping.
boost::json::object notification_payload(const boost::json::object& ticket);

}  // namespace toolhost::plugins::escalation

// The escalation tool's tickets: what every storage keeps (new_ticket, ticket_record, their status
// history and notification state), and what the tool decides about them (statuses and their
// workflow, the fingerprint of a create request, the JSON shape, the sample), in one place, so that
// a repository only keeps rows.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
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

/// One entry of a ticket's status history.
struct ticket_event {
    std::optional<std::string> from;  ///< none for the ticket's creation
    std::string to;
    std::optional<std::string> note;
    std::string at;  ///< UTC "YYYY-MM-DDTHH:MM:SSZ"
};

/// Where a ticket's announcement to the webhook stands.
struct notification_state {
    std::string state = "none";  ///< none, pending or delivered
    int64_t attempts = 0;
    std::optional<std::string> last_error;
    std::optional<std::string> delivered_at;
};

/// What repository::insert stores.
struct new_ticket {
    std::string customer;
    std::string subject;
    std::string description;
    std::string priority = "normal";
    std::string status = "open";
    std::string reasons = "[]";  ///< a JSON array, as text
    std::optional<std::string> session_id;
    std::optional<std::string> idempotency_key;
    std::string fingerprint;            ///< what a repeated request must agree on (fingerprint())
    std::string created_at;             ///< also its updated_at; UTC "YYYY-MM-DDTHH:MM:SSZ"
    std::string notification = "none";  ///< none, or pending when a webhook is to be told
    std::vector<ticket_event> history;  ///< stored with the ticket, in this order
};

/// A stored ticket.
struct ticket_record {
    int64_t id = 0;
    std::string customer;
    std::string subject;
    std::string description;
    std::string priority;
    std::string status;
    std::string reasons;  ///< a JSON array, as text
    std::optional<std::string> session_id;
    std::optional<std::string> idempotency_key;
    std::string fingerprint;
    std::string created_at;
    std::string updated_at;
    notification_state notification;
    std::vector<ticket_event> history;  ///< only when it was asked for
};

/// What a repeated create_ticket must agree on to count as the same request.
std::string fingerprint(const std::string& customer, const std::string& subject, const std::string& description,
                        const std::string& priority, const boost::json::array& reasons);

/// A ticket as the operations return it; with `history`, its status changes too.
boost::json::object ticket_json(const ticket_record& t, bool history = false);

/// The ticket's notification payload: {"event":"ticket.created","ticket":{...}} without the
/// delivery bookkeeping.
boost::json::object notification_payload(const boost::json::object& ticket);

/// The tickets of the sample ({"tickets": [{customer, subject, description, priority, status,
/// reasons, created_at}]}), as stored: fingerprint "sample", no key, no notification, a history
/// that opens each and moves it to its status.
std::vector<new_ticket> sample_tickets(const boost::json::value& sample);

}  // namespace toolhost::plugins::escalation

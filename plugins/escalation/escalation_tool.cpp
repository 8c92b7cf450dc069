// The "escalation" tool: decides whether a conversation should go to a human (evaluate), and
// opens and tracks the tickets for the humans (create_ticket, get_ticket, list_tickets,
// update_status), optionally announcing each new ticket to a webhook.
//
// This file holds everything the operations decide (argument checks, the workflow, replays of an
// idempotency key, the results, the webhook); the repository (repository.hpp: SQLite, or a
// PostgreSQL database that several hosts share) only keeps and finds tickets, each of its methods
// one atomic step.
//
// Thread safety: thread_safe = true. The rules are immutable after initialize(); the repository
// is thread-safe; the webhook is sent by an immutable client, while the call holds the claim on
// the ticket's notification and no other lock.
//
// create_ticket is idempotent by design, so that the host may retry it: the ticket is committed
// (with its notification marked pending) before the webhook is attempted, and a repeated call
// with the same idempotency key (default: the call's request id) returns the stored ticket and
// re-sends a notification that was not delivered yet, instead of opening a second ticket.
#include "config.hpp"
#include "repository.hpp"
#include "schemas.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>
#include <toolhost_plugins/storage.hpp>
#include <toolhost_plugins/time.hpp>

#include <boost/json.hpp>

#include <climits>
#include <filesystem>
#include <charconv>
#include <memory>
#include <optional>

namespace toolhost::plugins::escalation {
namespace {

namespace json = boost::json;

std::string trimmed_required(const args& a, std::string_view field) {
    std::string s = a.required_string(field);
    if (s.find_first_not_of(" \t\r\n") == std::string::npos) invalid_argument(field, "must not be blank");
    return s;
}

// Reads a nested object's fields with errors that name the full path ("context/failed_attempts").
template <class F>
auto within(std::string_view prefix, F&& read) {
    try {
        return read();
    } catch (const sdk::error& e) {
        throw sdk::error(e.code(), std::string(prefix) + "/" + e.what());
    }
}

class escalation_tool {
public:
    explicit escalation_tool(sdk::host host) : host_(host) {}

    static const json_table<escalation_tool>& table();

    void initialize(sdk::init_context& init) {
        escalation_config config = read_config(init.config(), storage::database_url_from_environment());
        rules_ = std::make_unique<rule_set>(std::move(config.rules));
        repo_ = open_repository(config, std::filesystem::path(init.data_dir()));
        if (config.webhook) {
            notifier_ = std::make_unique<notifier>(std::move(*config.webhook));
            host_.log(sdk::log_level::info, "new tickets are announced to " + notifier_->url());
        }
    }

    void cleanup() {
        notifier_.reset();
        repo_.reset();
        rules_.reset();
    }

    /// Names the database (PostgreSQL: its host, port and name) in the storage errors of every
    /// operation.
    void error_context(std::string_view operation, const sdk::error& e) const {
        if (repo_) repo_->error_context(operation, e);
    }

private:
    // The operations, in the order of the table.
    json::object evaluate(const args& a, const sdk::call_context&) {
        const std::string message = a.required_string("message");
        conversation_context ctx;
        if (auto c = a.optional_object("context")) {
            const args ca(*c);
            within("context", [&] {
                ctx.failed_attempts = ca.int_or("failed_attempts", 0, 0, INT32_MAX);
                ctx.customer_tier = ca.optional_string("customer_tier");
                ctx.retrieval_confidence = ca.optional_number("retrieval_confidence");
                if (ctx.retrieval_confidence && (*ctx.retrieval_confidence < 0 || *ctx.retrieval_confidence > 1))
                    invalid_argument("retrieval_confidence", "must be between 0 and 1");
            });
        }
        return rules_->evaluate(message, ctx).to_json();
    }

    json::object create_ticket(const args& a, const sdk::call_context& call) {
        new_ticket t;
        t.customer = trimmed_required(a, "customer");
        t.subject = trimmed_required(a, "subject");
        t.description = a.string_or("description", "");
        t.priority = a.string_or("priority", "normal");
        if (t.priority != "low" && t.priority != "normal" && t.priority != "high" && t.priority != "urgent")
            invalid_argument("priority", "must be one of low, normal, high, urgent");
        json::array reasons;
        if (const auto* r = a.object().if_contains("reasons"); r && !r->is_null()) {
            if (!r->is_array()) invalid_argument("reasons", "must be an array");
            for (size_t i = 0; i < r->as_array().size(); ++i)
                if (!r->as_array()[i].is_string() && !r->as_array()[i].is_object())
                    invalid_argument("reasons/" + std::to_string(i), "must be a string or an object");
            reasons = r->as_array();
        }
        t.reasons = toolhost::json_text(reasons);
        t.fingerprint = fingerprint(t.customer, t.subject, t.description, t.priority, reasons);
        if (!call.session_id().empty()) t.session_id = std::string(call.session_id());
        t.idempotency_key = a.optional_string("idempotency_key");
        if (!t.idempotency_key && !call.request_id().empty()) t.idempotency_key = std::string(call.request_id());
        t.created_at = time::utc_now();
        t.notification = notifier_ ? "pending" : "none";
        t.history.push_back({std::nullopt, "open", "created", t.created_at});

        const auto until = storage::deadline_of(call);
        insert_outcome outcome = repo_->insert(t, until);
        const ticket_record& stored = outcome.ticket;
        // A replay wrote nothing, so refusing it here changes nothing either.
        if (!outcome.created && stored.fingerprint != t.fingerprint)
            throw sdk::error(sdk::status::already_exists,
                             "idempotency_key '" + *t.idempotency_key + "': already used for ticket " +
                                 std::to_string(stored.id) + " with different fields; use a new key for a new ticket");
        json::object ticket = ticket_json(stored);
        // Whatever happens to the notification below, the stored ticket is there to read.
        if (outcome.created) host_.resource_updated(ticket_uri(stored.id));
        if (stored.notification.state == "pending" && notifier_) {
            ticket = deliver(ticket, t.idempotency_key.has_value(), call);
            host_.resource_updated(ticket_uri(stored.id));
        }
        return json::object{{"ticket", std::move(ticket)}, {"created", outcome.created}};
    }

    // Sends the notification of a stored ticket and records the outcome, holding the claim on it
    // meanwhile: a call that finds the notification claimed by another (here or on another host)
    // or delivered already returns the ticket as it stands, without sending. With an idempotency
    // key, a failure fails the call as UNAVAILABLE: a retry finds the ticket and sends again.
    // Without one a retry would open a second ticket, so the call succeeds and the ticket shows
    // its notification as pending, with the error.
    json::object deliver(const json::object& ticket, bool has_key, const sdk::call_context& call) {
        const int64_t id = ticket.at("id").as_int64();
        const auto until = storage::deadline_of(call);
        if (auto claim = repo_->claim_notification(id, until)) {
            try {
                notifier_->send(ticket, call);
            } catch (const sdk::error& e) {
                record_failure(*claim, id, e.what(), call);
                claim.reset();
                if (!has_key) {
                    call.log(sdk::log_level::warning, "ticket " + std::to_string(id) +
                                                          " stored without an idempotency key; its notification "
                                                          "failed and stays pending: " +
                                                          e.what());
                    return load(id, false, call);
                }
                throw sdk::error(e.code(), "ticket " + std::to_string(id) +
                                               " is stored but its notification failed (repeat the call with the "
                                               "same idempotency_key to send it again): " +
                                               e.what());
            }
            claim->delivered(time::utc_now());
        }
        return load(id, false, call);
    }

    void record_failure(notification_claim& claim, int64_t id, const std::string& error,
                        const sdk::call_context& call) noexcept {
        try {
            claim.failed(error);
        } catch (const std::exception& e) {
            // The delivery error is what the caller needs; the bookkeeping error goes to the log.
            call.log(sdk::log_level::warning,
                     "ticket " + std::to_string(id) + ": cannot record the failed notification: " + e.what());
        }
    }

    // The ticket with this id as the operations return it; NOT_FOUND when there is none.
    json::object load(int64_t id, bool history, const sdk::call_context& call) {
        auto ticket = repo_->find(id, history, storage::deadline_of(call));
        if (!ticket) throw sdk::error(sdk::status::not_found, "ticket " + std::to_string(id) + " not found");
        return ticket_json(*ticket, history);
    }

    json::object get_ticket(const args& a, const sdk::call_context& call) {
        return json::object{{"ticket", load(a.required_int("id"), /*history=*/true, call)}};
    }

    static constexpr std::string_view ticket_prefix = "escalation://tickets/";
    static std::string ticket_uri(int64_t id) { return std::string(ticket_prefix) + std::to_string(id); }

    // A ticket as an MCP resource: escalation://tickets/<id>, with its status history, as JSON
    // (resource_read role; the template lets clients build the URI). New tickets and status changes
    // tell the clients that watch it (resource_updated).
    json::object read_ticket(const args& a, const sdk::call_context& call) {
        constexpr std::string_view prefix = ticket_prefix;
        const std::string uri = a.required_string("uri");
        const std::string_view digits = std::string_view(uri).substr(std::min(uri.size(), prefix.size()));
        int64_t id = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
        if (!std::string_view(uri).starts_with(prefix) || digits.empty() || ec != std::errc() ||
            end != digits.data() + digits.size() || id < 1)
            throw sdk::error(sdk::status::not_found, "no ticket resource " + uri + " (escalation://tickets/<number>)");
        return json::object{
            {"contents", json::array{json::object{{"uri", uri},
                                                  {"mimeType", "application/json"},
                                                  {"text", toolhost::json_text(load(id, /*history=*/true, call))}}}}};
    }

    json::object list_tickets(const args& a, const sdk::call_context& call) {
        ticket_filter filter{a.optional_string("status"), a.optional_string("customer")};
        if (filter.status && !is_status(*filter.status))
            invalid_argument("status", "must be one of open, in_progress, resolved, closed");
        const int64_t limit = a.int_or("limit", 20, 1, 100);
        const int64_t offset = a.int_or("offset", 0, 0, INT64_MAX);
        const auto page = repo_->page(filter, limit, offset, storage::deadline_of(call));
        json::array tickets;
        for (const auto& t : page.tickets) tickets.emplace_back(ticket_json(t));
        const int64_t next = offset + static_cast<int64_t>(page.tickets.size());
        return json::object{{"tickets", std::move(tickets)},
                            {"total", page.total},
                            {"next_offset", next < page.total ? json::value(next) : json::value(nullptr)}};
    }

    // Reads the ticket, checks the move against the workflow, and moves it only if its status is
    // still the one read (repository::change_status); a call that loses that race to another
    // move reads the ticket again and decides again, so no move is ever lost or made from a
    // status the ticket no longer has.
    json::object update_status(const args& a, const sdk::call_context& call) {
        const int64_t id = a.required_int("id");
        const std::string to = a.required_string("status");
        if (!is_status(to)) invalid_argument("status", "must be one of open, in_progress, resolved, closed");
        const auto note = a.optional_string("note");
        const auto until = storage::deadline_of(call);
        for (int attempt = 0; attempt < max_status_attempts; ++attempt) {
            auto current = repo_->find(id, false, until);
            if (!current) throw sdk::error(sdk::status::not_found, "ticket " + std::to_string(id) + " not found");
            const std::string from = current->status;
            if (from == to)
                return json::object{{"ticket", ticket_json(*current)}, {"changed", false}, {"previous_status", from}};
            if (!transition_allowed(from, to))
                throw sdk::error(sdk::status::failed_precondition,
                                 "ticket " + std::to_string(id) + ": cannot move from '" + from + "' to '" + to +
                                     "' (allowed from '" + from + "': " + allowed_from(from) + ")");
            if (auto moved = repo_->change_status(id, {from, to, note, time::utc_now()}, until)) {
                host_.resource_updated(ticket_uri(id));
                return json::object{{"ticket", ticket_json(*moved)}, {"changed", true}, {"previous_status", from}};
            }
        }
        throw sdk::error(sdk::status::unavailable, "ticket " + std::to_string(id) + ": its status changed " +
                                                       std::to_string(max_status_attempts) +
                                                       " times while this call ran; try again");
    }

    // How often update_status reads again after another call moved the ticket first.
    static constexpr int max_status_attempts = 16;

    sdk::host host_;
    std::unique_ptr<rule_set> rules_;
    std::unique_ptr<repository> repo_;
    std::unique_ptr<notifier> notifier_;
};

const json_table<escalation_tool>& escalation_tool::table() {
    constexpr uint64_t idempotent = TOOLHOST_OPERATION_IDEMPOTENT;
    constexpr uint64_t query = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY;
    static const json_table<escalation_tool> t{
        .name = "escalation",
        .version = "1.0.0",
        .description =
            "Decides whether a conversation should be handed to a human, and opens and tracks the "
            "tickets for them (SQLite under the data directory, or a PostgreSQL database shared by several hosts; "
            "optional notification webhook).",
        .config_schema = schemas::config,
        .thread_safe = true,
        .operations =
            {
                {.name = "evaluate",
                 .description = "Scores a customer message and its context with the configured rules and says "
                                "whether to escalate, with the reasons.",
                 .input_schema = schemas::evaluate_input,
                 .output_schema = schemas::evaluate_output,
                 .flags = query,
                 .run = {&escalation_tool::evaluate}},
                {.name = "create_ticket",
                 .description = "Opens a ticket for a human and notifies the webhook. Idempotent: the same "
                                "idempotency_key (default: the request id) returns the same ticket.",
                 .input_schema = schemas::create_ticket_input,
                 .output_schema = schemas::create_ticket_output(),
                 .flags = idempotent | TOOLHOST_OPERATION_CANCELLABLE,
                 .run = {&escalation_tool::create_ticket}},
                {.name = "get_ticket",
                 .description = "Returns a ticket with its status history.",
                 .input_schema = schemas::get_ticket_input,
                 .output_schema = schemas::get_ticket_output(),
                 .flags = query,
                 .run = {&escalation_tool::get_ticket}},
                {.name = "list_tickets",
                 .description = "Lists tickets, newest first, filtered by status and customer, a page at a time.",
                 .input_schema = schemas::list_tickets_input,
                 .output_schema = schemas::list_tickets_output(),
                 .flags = query,
                 .run = {&escalation_tool::list_tickets}},
                {.name = "update_status",
                 .description = "Moves a ticket along open -> in_progress -> resolved -> closed (also: open -> "
                                "resolved|closed, in_progress -> open, resolved -> open). Setting the current "
                                "status again changes nothing.",
                 .input_schema = schemas::update_status_input,
                 .output_schema = schemas::update_status_output(),
                 .flags = idempotent,
                 .run = {&escalation_tool::update_status}},
                {.name = "read_ticket",
                 .description = "A ticket with its status history, as the MCP resource escalation://tickets/<id>.",
                 .input_schema = schemas::read_ticket_input,
                 .output_schema = {},
                 .flags = query,
                 .run = {&escalation_tool::read_ticket},
                 .role = R"({"role":"resource_read","uris":["escalation://tickets/"],"templates":[{)"
                         R"("uriTemplate":"escalation://tickets/{id}","name":"ticket","title":"An escalation ticket",)"
                         R"("description":"A ticket and its status history (id: a number).",)"
                         R"("mimeType":"application/json"}]})"},
            },
    };
    return t;
}

}  // namespace
}  // namespace toolhost::plugins::escalation

TOOLHOST_PLUGIN("escalation", "1.0.0", toolhost::plugins::escalation::escalation_tool)

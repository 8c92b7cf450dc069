// The "escalation" tool: decides whether a conversation should go to a human (evaluate), and
// opens and tracks the tickets for the humans (create_ticket, get_ticket, list_tickets,
// update_status), optionally announcing each new ticket to a webhook.
//
// Thread safety: thread_safe = true. The rules are immutable after initialize(); the ticket
// store serializes its SQL on one connection with a mutex; the webhook is sent outside that lock
// by an immutable client.
//
// create_ticket is idempotent by design, so that the host may retry it: the ticket is committed
// (with its notification marked pending) before the webhook is attempted, and a repeated call
// with the same idempotency key (default: the call's request id) returns the stored ticket and
// re-sends a notification that was not delivered yet, instead of opening a second ticket.
#include "config.hpp"
#include "schemas.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>

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
        escalation_config config = read_config(init.config());
        rules_ = std::make_unique<rule_set>(std::move(config.rules));
        store_ = std::make_unique<ticket_store>(std::filesystem::path(init.data_dir()) / "tickets.db", config.store);
        if (config.webhook) {
            notifier_ = std::make_unique<notifier>(std::move(*config.webhook));
            host_.log(sdk::log_level::info, "new tickets are announced to " + notifier_->url());
        }
    }

    void cleanup() {
        notifier_.reset();
        store_.reset();
        rules_.reset();
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
        if (const auto* r = a.object().if_contains("reasons"); r && !r->is_null()) {
            if (!r->is_array()) invalid_argument("reasons", "must be an array");
            for (size_t i = 0; i < r->as_array().size(); ++i)
                if (!r->as_array()[i].is_string() && !r->as_array()[i].is_object())
                    invalid_argument("reasons/" + std::to_string(i), "must be a string or an object");
            t.reasons = r->as_array();
        }
        if (!call.session_id().empty()) t.session_id = std::string(call.session_id());
        t.idempotency_key = a.optional_string("idempotency_key");
        if (!t.idempotency_key && !call.request_id().empty()) t.idempotency_key = std::string(call.request_id());

        create_outcome created = store_->create(t, notifier_ != nullptr);
        const int64_t id = created.ticket.at("id").as_int64();
        // Whatever happens to the notification below, the stored ticket is there to read.
        if (created.created) host_.resource_updated(ticket_uri(id));
        if (created.notification_pending && notifier_) {
            created.ticket = deliver(created.ticket, t.idempotency_key.has_value(), call);
            host_.resource_updated(ticket_uri(id));
        }
        return json::object{{"ticket", std::move(created.ticket)}, {"created", created.created}};
    }

    // Sends the notification of a stored ticket and records the outcome. With an idempotency
    // key, a failure fails the call as UNAVAILABLE: a retry finds the ticket and sends again.
    // Without one a retry would open a second ticket, so the call succeeds and the ticket shows
    // its notification as pending, with the error.
    json::object deliver(const json::object& ticket, bool has_key, const sdk::call_context& call) {
        const int64_t id = ticket.at("id").as_int64();
        try {
            notifier_->send(ticket, call);
        } catch (const sdk::error& e) {
            record_failure(id, e.what(), call);
            if (!has_key) {
                call.log(sdk::log_level::warning, "ticket " + std::to_string(id) +
                                                      " stored without an idempotency key; its notification failed "
                                                      "and stays pending: " +
                                                      e.what());
                return store_->get(id);
            }
            throw sdk::error(e.code(), "ticket " + std::to_string(id) +
                                           " is stored but its notification failed (repeat the call with the same "
                                           "idempotency_key to send it again): " +
                                           e.what());
        }
        store_->mark_delivered(id);
        return store_->get(id);
    }

    void record_failure(int64_t id, const std::string& error, const sdk::call_context& call) noexcept {
        try {
            store_->mark_failed(id, error);
        } catch (const std::exception& e) {
            // The delivery error is what the caller needs; the bookkeeping error goes to the log.
            call.log(sdk::log_level::warning,
                     "ticket " + std::to_string(id) + ": cannot record the failed notification: " + e.what());
        }
    }

    json::object get_ticket(const args& a, const sdk::call_context&) {
        return json::object{{"ticket", store_->get(a.required_int("id"), /*history=*/true)}};
    }

    static constexpr std::string_view ticket_prefix = "escalation://tickets/";
    static std::string ticket_uri(int64_t id) { return std::string(ticket_prefix) + std::to_string(id); }

    // A ticket as an MCP resource: escalation://tickets/<id>, with its status history, as JSON
    // (resource_read role; the template lets clients build the URI). New tickets and status changes
    // tell the clients that watch it (resource_updated).
    json::object read_ticket(const args& a, const sdk::call_context&) {
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
                                                  {"text", toolhost::json_text(store_->get(id, /*history=*/true))}}}}};
    }

    json::object list_tickets(const args& a, const sdk::call_context&) {
        const auto status_filter = a.optional_string("status");
        if (status_filter && !is_status(*status_filter))
            invalid_argument("status", "must be one of open, in_progress, resolved, closed");
        const int64_t limit = a.int_or("limit", 20, 1, 100);
        const int64_t offset = a.int_or("offset", 0, 0, INT64_MAX);
        auto page = store_->list(status_filter, a.optional_string("customer"), limit, offset);
        const int64_t next = offset + static_cast<int64_t>(page.tickets.size());
        return json::object{{"tickets", std::move(page.tickets)},
                            {"total", page.total},
                            {"next_offset", next < page.total ? json::value(next) : json::value(nullptr)}};
    }

    json::object update_status(const args& a, const sdk::call_context&) {
        const int64_t id = a.required_int("id");
        const std::string to = a.required_string("status");
        if (!is_status(to)) invalid_argument("status", "must be one of open, in_progress, resolved, closed");
        auto change = store_->update_status(id, to, a.optional_string("note"));
        if (change.changed) host_.resource_updated(ticket_uri(id));
        return json::object{{"ticket", std::move(change.ticket)},
                            {"changed", change.changed},
                            {"previous_status", change.previous_status}};
    }

    sdk::host host_;
    std::unique_ptr<rule_set> rules_;
    std::unique_ptr<ticket_store> store_;
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
            "tickets for them (SQLite; optional notification webhook).",
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

#include "ticket.hpp"

#include <toolhost/json_text.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>

namespace toolhost::plugins::escalation {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 4> statuses = {"open", "in_progress", "resolved", "closed"};

json::value nullable(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

}  // namespace

bool is_status(std::string_view s) noexcept { return std::find(statuses.begin(), statuses.end(), s) != statuses.end(); }

bool transition_allowed(std::string_view from, std::string_view to) noexcept {
    if (from == "open") return to == "in_progress" || to == "resolved" || to == "closed";
    if (from == "in_progress") return to == "open" || to == "resolved";
    if (from == "resolved") return to == "closed" || to == "open";
    return false;  // closed is final
}

std::string allowed_from(std::string_view from) {
    std::string out;
    for (auto to : statuses) {
        if (!transition_allowed(from, to)) continue;
        if (!out.empty()) out += ", ";
        out += to;
    }
    return out.empty() ? "none" : out;
}

std::string fingerprint(const std::string& customer, const std::string& subject, const std::string& description,
                        const std::string& priority, const json::array& reasons) {
    return toolhost::json_text(json::object{{"customer", customer},
                                            {"subject", subject},
                                            {"description", description},
                                            {"priority", priority},
                                            {"reasons", reasons}});
}

json::object ticket_json(const ticket_record& t, bool history) {
    boost::system::error_code ec;
    json::value reasons = json::parse(t.reasons, ec);
    if (ec || !reasons.is_array()) reasons = json::array();
    json::object out{
        {"id", t.id},
        {"customer", t.customer},
        {"subject", t.subject},
        {"description", t.description},
        {"priority", t.priority},
        {"status", t.status},
        {"reasons", std::move(reasons)},
        {"session_id", nullable(t.session_id)},
        {"idempotency_key", nullable(t.idempotency_key)},
        {"created_at", t.created_at},
        {"updated_at", t.updated_at},
        {"notification", json::object{{"state", t.notification.state},
                                      {"attempts", t.notification.attempts},
                                      {"last_error", nullable(t.notification.last_error)},
                                      {"delivered_at", nullable(t.notification.delivered_at)}}},
    };
    if (history) {
        json::array events;
        for (const auto& e : t.history)
            events.emplace_back(
                json::object{{"from", nullable(e.from)}, {"to", e.to}, {"note", nullable(e.note)}, {"at", e.at}});
        out["history"] = std::move(events);
    }
    return out;
}

json::object notification_payload(const json::object& ticket) {
    json::object t = ticket;
    t.erase("notification");
    t.erase("history");
    return json::object{{"event", "ticket.created"}, {"ticket", std::move(t)}};
}

std::vector<new_ticket> sample_tickets(const json::value& sample) {
    std::vector<new_ticket> out;
    for (const auto& v : sample.at("tickets").as_array()) {
        const auto& s = v.as_object();
        new_ticket t;
        t.customer = s.at("customer").as_string();
        t.subject = s.at("subject").as_string();
        t.description = s.at("description").as_string();
        t.priority = s.at("priority").as_string();
        t.status = s.at("status").as_string();
        t.reasons = toolhost::json_text(s.at("reasons"));
        t.fingerprint = "sample";
        t.created_at = s.at("created_at").as_string();
        t.history.push_back({std::nullopt, "open", "sample ticket", t.created_at});
        if (t.status != "open") t.history.push_back({"open", t.status, std::nullopt, t.created_at});
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace toolhost::plugins::escalation

#include "ticket_store.hpp"

#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/time.hpp>

#include <boost/json/parse.hpp>
#include <toolhost/json_text.hpp>

#include <algorithm>
#include <array>

namespace toolhost::plugins::escalation {

namespace json = boost::json;
using sdk::status;

namespace {

constexpr std::array<std::string_view, 4> statuses = {"open", "in_progress", "resolved", "closed"};

const std::vector<std::string_view> migrations = {
    R"sql(
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT UNIQUE,
        fingerprint TEXT NOT NULL,
        customer TEXT NOT NULL,
        subject TEXT NOT NULL,
        description TEXT NOT NULL,
        priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
        reasons TEXT NOT NULL,
        session_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        notification TEXT NOT NULL CHECK (notification IN ('none', 'pending', 'delivered')),
        notification_attempts INTEGER NOT NULL DEFAULT 0,
        notification_error TEXT,
        notified_at TEXT
    );
    CREATE INDEX tickets_by_status ON tickets (status, id);
    CREATE INDEX tickets_by_customer ON tickets (customer, id);
    CREATE TABLE ticket_events (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets (id),
        from_status TEXT,
        to_status TEXT NOT NULL,
        note TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    )sql",
};

constexpr std::string_view ticket_columns =
    "id, customer, subject, description, priority, status, reasons, session_id, idempotency_key, created_at, "
    "updated_at, notification, notification_attempts, notification_error, notified_at";

json::value nullable(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

json::object ticket_from_row(const sqlite::statement& st) {
    boost::system::error_code ec;
    json::value reasons = json::parse(st.text(6), ec);
    if (ec || !reasons.is_array()) reasons = json::array();
    return json::object{
        {"id", st.int64(0)},
        {"customer", st.string(1)},
        {"subject", st.string(2)},
        {"description", st.string(3)},
        {"priority", st.string(4)},
        {"status", st.string(5)},
        {"reasons", std::move(reasons)},
        {"session_id", nullable(st.optional_string(7))},
        {"idempotency_key", nullable(st.optional_string(8))},
        {"created_at", st.string(9)},
        {"updated_at", st.string(10)},
        {"notification", json::object{{"state", st.string(11)},
                                      {"attempts", st.int64(12)},
                                      {"last_error", nullable(st.optional_string(13))},
                                      {"delivered_at", nullable(st.optional_string(14))}}},
    };
}

// What a repeated create_ticket must agree on to count as the same request.
std::string fingerprint(const new_ticket& t) {
    return toolhost::json_text(json::object{{"customer", t.customer},
                                            {"subject", t.subject},
                                            {"description", t.description},
                                            {"priority", t.priority},
                                            {"reasons", t.reasons}});
}

[[noreturn]] void not_found(int64_t id) {
    throw sdk::error(status::not_found, "ticket " + std::to_string(id) + " not found");
}

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

json::object notification_payload(const json::object& ticket) {
    json::object t = ticket;
    t.erase("notification");
    t.erase("history");
    return json::object{{"event", "ticket.created"}, {"ticket", std::move(t)}};
}

// --------------------------------------------------------------------------------------- store

ticket_store::ticket_store(const std::filesystem::path& file, const options& opts)
    : db_(sqlite::open_store(file, opts, migrations, "meta", &insert_sample)) {}

void ticket_store::insert_sample(sqlite::database& db, const json::value& sample) {
    auto insert = db.prepare(
        "INSERT INTO tickets (fingerprint, customer, subject, description, priority, status, reasons, created_at, "
        "updated_at, notification) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'none')");
    auto event = db.prepare(
        "INSERT INTO ticket_events (ticket_id, from_status, to_status, note, at) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const auto& v : sample.at("tickets").as_array()) {
        const auto& t = v.as_object();
        const std::string status_now(t.at("status").as_string());
        const std::string at(t.at("created_at").as_string());
        insert
            .bind_all("sample", t.at("customer").as_string(), t.at("subject").as_string(),
                      t.at("description").as_string(), t.at("priority").as_string(), status_now,
                      toolhost::json_text(t.at("reasons")), at)
            .run();
        insert.reset();
        const int64_t id = db.last_insert_rowid();
        event.bind_all(id, nullptr, "open", "sample ticket", at).run();
        event.reset();
        if (status_now != "open") {
            event.bind_all(id, "open", status_now, nullptr, at).run();
            event.reset();
        }
    }
}

json::object ticket_store::load(int64_t id) {
    auto st = db_.prepare("SELECT " + std::string(ticket_columns) + " FROM tickets WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) not_found(id);
    return ticket_from_row(st);
}

create_outcome ticket_store::create(const new_ticket& t, bool notify) {
    const std::string fp = fingerprint(t);
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    if (t.idempotency_key) {
        auto existing = db_.prepare("SELECT id, fingerprint, notification FROM tickets WHERE idempotency_key = ?1");
        existing.bind(1, *t.idempotency_key);
        if (existing.step()) {
            const int64_t id = existing.int64(0);
            if (existing.text(1) != fp)
                throw sdk::error(status::already_exists, "idempotency_key '" + *t.idempotency_key +
                                                             "': already used for ticket " + std::to_string(id) +
                                                             " with different fields; use a new key for a new ticket");
            create_outcome out{load(id), false, existing.text(2) == "pending"};
            tx.commit();
            return out;
        }
    }
    const std::string now = time::utc_now();
    auto insert = db_.prepare(
        "INSERT INTO tickets (idempotency_key, fingerprint, customer, subject, description, priority, status, "
        "reasons, session_id, created_at, updated_at, notification) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8, ?9, ?9, ?10)");
    insert
        .bind_all(t.idempotency_key, fp, t.customer, t.subject, t.description, t.priority,
                  toolhost::json_text(t.reasons), t.session_id, now, notify ? "pending" : "none")
        .run();
    const int64_t id = db_.last_insert_rowid();
    auto event = db_.prepare(
        "INSERT INTO ticket_events (ticket_id, from_status, to_status, note, at) VALUES (?1, NULL, 'open', 'created', "
        "?2)");
    event.bind_all(id, now).run();
    create_outcome out{load(id), true, notify};
    tx.commit();
    return out;
}

json::object ticket_store::get(int64_t id, bool history) {
    std::lock_guard l(m_);
    json::object ticket = load(id);
    if (history) {
        json::array events;
        auto st =
            db_.prepare("SELECT from_status, to_status, note, at FROM ticket_events WHERE ticket_id = ?1 ORDER BY id");
        st.bind(1, id);
        while (st.step())
            events.emplace_back(json::object{{"from", nullable(st.optional_string(0))},
                                             {"to", st.string(1)},
                                             {"note", nullable(st.optional_string(2))},
                                             {"at", st.string(3)}});
        ticket["history"] = std::move(events);
    }
    return ticket;
}

ticket_page ticket_store::list(const std::optional<std::string>& status_filter,
                               const std::optional<std::string>& customer, int64_t limit, int64_t offset) {
    static constexpr std::string_view where = " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR customer = ?2)";
    std::lock_guard l(m_);
    ticket_page page;
    auto count = db_.prepare("SELECT count(*) FROM tickets" + std::string(where));
    count.bind_all(status_filter, customer);
    if (count.step()) page.total = count.int64(0);
    auto st = db_.prepare("SELECT " + std::string(ticket_columns) + " FROM tickets" + std::string(where) +
                          " ORDER BY id DESC LIMIT ?3 OFFSET ?4");
    st.bind_all(status_filter, customer, limit, offset);
    while (st.step()) page.tickets.emplace_back(ticket_from_row(st));
    return page;
}

status_change ticket_store::update_status(int64_t id, std::string_view to, const std::optional<std::string>& note) {
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    json::object ticket = load(id);
    const std::string from(ticket.at("status").as_string());
    status_change out;
    out.previous_status = from;
    if (from == to) {
        out.ticket = std::move(ticket);
        tx.commit();
        return out;
    }
    if (!transition_allowed(from, to))
        throw sdk::error(status::failed_precondition, "ticket " + std::to_string(id) + ": cannot move from '" + from +
                                                          "' to '" + std::string(to) + "' (allowed from '" + from +
                                                          "': " + allowed_from(from) + ")");
    const std::string now = time::utc_now();
    auto update = db_.prepare("UPDATE tickets SET status = ?1, updated_at = ?2 WHERE id = ?3");
    update.bind_all(to, now, id).run();
    auto event = db_.prepare(
        "INSERT INTO ticket_events (ticket_id, from_status, to_status, note, at) VALUES (?1, ?2, ?3, ?4, ?5)");
    event.bind_all(id, from, to, note, now).run();
    out.ticket = load(id);
    out.changed = true;
    tx.commit();
    return out;
}

void ticket_store::mark_delivered(int64_t id) {
    std::lock_guard l(m_);
    auto st = db_.prepare(
        "UPDATE tickets SET notification = 'delivered', notification_attempts = notification_attempts + 1, "
        "notification_error = NULL, notified_at = ?1 WHERE id = ?2 AND notification = 'pending'");
    st.bind_all(time::utc_now(), id).run();
}

void ticket_store::mark_failed(int64_t id, std::string_view error) {
    std::lock_guard l(m_);
    auto st = db_.prepare(
        "UPDATE tickets SET notification_attempts = notification_attempts + 1, notification_error = ?1 "
        "WHERE id = ?2 AND notification = 'pending'");
    st.bind_all(error, id).run();
}

}  // namespace toolhost::plugins::escalation

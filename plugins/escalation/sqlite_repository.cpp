#include "sqlite_repository.hpp"

#include <toolhost_plugins/sample.hpp>

namespace toolhost::plugins::escalation {

namespace {

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
    "id, customer, subject, description, priority, status, reasons, session_id, idempotency_key, fingerprint, "
    "created_at, updated_at, notification, notification_attempts, notification_error, notified_at";

ticket_record record_from_row(const sqlite::statement& st) {
    ticket_record t;
    auto& n = t.notification;
    st.read_row(t.id, t.customer, t.subject, t.description, t.priority, t.status, t.reasons, t.session_id,
                t.idempotency_key, t.fingerprint, t.created_at, t.updated_at, n.state, n.attempts, n.last_error,
                n.delivered_at);
    return t;
}

void insert_event(sqlite::database& db, int64_t ticket_id, const ticket_event& e) {
    auto st = db.prepare(
        "INSERT INTO ticket_events (ticket_id, from_status, to_status, note, at) VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind_all(ticket_id, e.from, e.to, e.note, e.at).run();
}

}  // namespace

sqlite_repository::sqlite_repository(const std::filesystem::path& file, const sqlite::store_options& opts)
    : db_(sqlite::open_store(file, opts, migrations, "meta",
                             [](sqlite::database& db, const boost::json::value& sample) {
                                 for (const auto& t : sample_tickets(sample)) insert_row(db, t);
                             })) {}

int64_t sqlite_repository::insert_row(sqlite::database& db, const new_ticket& t) {
    auto insert = db.prepare(
        "INSERT INTO tickets (idempotency_key, fingerprint, customer, subject, description, priority, status, "
        "reasons, session_id, created_at, updated_at, notification) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)");
    insert
        .bind_all(t.idempotency_key, t.fingerprint, t.customer, t.subject, t.description, t.priority, t.status,
                  t.reasons, t.session_id, t.created_at, t.notification)
        .run();
    const int64_t id = db.last_insert_rowid();
    for (const auto& e : t.history) insert_event(db, id, e);
    return id;
}

std::optional<ticket_record> sqlite_repository::load(int64_t id) {
    auto st = db_.prepare("SELECT " + std::string(ticket_columns) + " FROM tickets WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return record_from_row(st);
}

insert_outcome sqlite_repository::insert(const new_ticket& t, deadline) {
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    if (t.idempotency_key) {
        auto existing = db_.prepare("SELECT id FROM tickets WHERE idempotency_key = ?1");
        existing.bind(1, *t.idempotency_key);
        if (existing.step()) {
            insert_outcome out{*load(existing.int64(0)), false};
            tx.commit();
            return out;
        }
    }
    insert_outcome out{*load(insert_row(db_, t)), true};
    tx.commit();
    return out;
}

std::optional<ticket_record> sqlite_repository::find(int64_t id, bool with_history, deadline) {
    std::lock_guard l(m_);
    auto ticket = load(id);
    if (ticket && with_history) {
        auto st =
            db_.prepare("SELECT from_status, to_status, note, at FROM ticket_events WHERE ticket_id = ?1 ORDER BY id");
        st.bind(1, id);
        while (st.step()) {
            ticket_event e;
            st.read_row(e.from, e.to, e.note, e.at);
            ticket->history.push_back(std::move(e));
        }
    }
    return ticket;
}

ticket_page sqlite_repository::page(const ticket_filter& filter, int64_t limit, int64_t offset, deadline) {
    static constexpr std::string_view where = " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR customer = ?2)";
    std::lock_guard l(m_);
    ticket_page page;
    auto count = db_.prepare("SELECT count(*) FROM tickets" + std::string(where));
    count.bind_all(filter.status, filter.customer);
    if (count.step()) page.total = count.int64(0);
    auto st = db_.prepare("SELECT " + std::string(ticket_columns) + " FROM tickets" + std::string(where) +
                          " ORDER BY id DESC LIMIT ?3 OFFSET ?4");
    st.bind_all(filter.status, filter.customer, limit, offset);
    while (st.step()) page.tickets.push_back(record_from_row(st));
    return page;
}

std::optional<ticket_record> sqlite_repository::change_status(int64_t id, const ticket_event& move, deadline) {
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    auto update = db_.prepare("UPDATE tickets SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = ?4");
    update.bind_all(move.to, move.at, id, move.from).run();
    if (db_.changes() == 0) return std::nullopt;  // rolled back: nothing was written
    insert_event(db_, id, move);
    auto out = load(id);
    tx.commit();
    return out;
}

// A claim of this process: the ticket's id in claimed_ for as long as the claim lives.
class sqlite_repository::claim final : public notification_claim {
public:
    claim(sqlite_repository& repo, int64_t id) : repo_(repo), id_(id) {}
    ~claim() override {
        std::lock_guard l(repo_.m_);
        repo_.claimed_.erase(id_);
    }

    void delivered(std::string_view at) override {
        std::lock_guard l(repo_.m_);
        auto st = repo_.db_.prepare(
            "UPDATE tickets SET notification = 'delivered', notification_attempts = notification_attempts + 1, "
            "notification_error = NULL, notified_at = ?1 WHERE id = ?2 AND notification = 'pending'");
        st.bind_all(at, id_).run();
    }

    void failed(std::string_view error) override {
        std::lock_guard l(repo_.m_);
        auto st = repo_.db_.prepare(
            "UPDATE tickets SET notification_attempts = notification_attempts + 1, notification_error = ?1 "
            "WHERE id = ?2 AND notification = 'pending'");
        st.bind_all(error, id_).run();
    }

private:
    sqlite_repository& repo_;
    const int64_t id_;
};

std::unique_ptr<notification_claim> sqlite_repository::claim_notification(int64_t id, deadline) {
    std::lock_guard l(m_);
    auto st = db_.prepare("SELECT 1 FROM tickets WHERE id = ?1 AND notification = 'pending'");
    st.bind(1, id);
    if (!st.step() || !claimed_.insert(id).second) return nullptr;
    return std::make_unique<claim>(*this, id);
}

}  // namespace toolhost::plugins::escalation

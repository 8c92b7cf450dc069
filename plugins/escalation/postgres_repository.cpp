#include "postgres_repository.hpp"

#include <toolhost_plugins/args.hpp>

namespace toolhost::plugins::escalation {

namespace pg = postgres;

namespace {

// Step 1 of the schema.
//
// Ticket ids are an identity column: a sequence hands every host distinct numbers and never
// the same one twice (a rolled-back insert leaves a gap). The unique constraint on
// idempotency_key is what INSERT ... ON CONFLICT relies on; NULL keys never conflict. Times are
// the RFC 3339 text the tool writes, as on SQLite; reasons is json (kept as the text given).
//
// escalation_notifications holds the webhook's delivery state, one row per ticket: a delivery
// claims the row with SELECT ... FOR UPDATE SKIP LOCKED and keeps it locked while it sends, so
// two hosts never send the same notification at once, and a status change, which locks the
// ticket's row, never waits for a webhook.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE escalation_tickets (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text,
    fingerprint     text NOT NULL,
    customer        text NOT NULL,
    subject         text NOT NULL,
    description     text NOT NULL,
    priority        text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status          text NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    reasons         json NOT NULL,
    session_id      text,
    created_at      text NOT NULL,
    updated_at      text NOT NULL,
    CONSTRAINT escalation_tickets_idempotency UNIQUE (idempotency_key)
);
CREATE INDEX escalation_tickets_by_status ON escalation_tickets (status, id);
CREATE INDEX escalation_tickets_by_customer ON escalation_tickets (customer, id);

CREATE TABLE escalation_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES escalation_tickets (id),
    from_status text,
    to_status   text NOT NULL,
    note        text,
    at          text NOT NULL
);
CREATE INDEX escalation_events_by_ticket ON escalation_events (ticket_id, id);

CREATE TABLE escalation_notifications (
    ticket_id    bigint PRIMARY KEY REFERENCES escalation_tickets (id),
    state        text    NOT NULL CHECK (state IN ('none', 'pending', 'delivered')),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    delivered_at text
);

CREATE TABLE escalation_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
)sql";

const std::string select_tickets =
    "SELECT t.id, t.customer, t.subject, t.description, t.priority, t.status, t.reasons, t.session_id,"
    " t.idempotency_key, t.fingerprint, t.created_at, t.updated_at, n.state, n.attempts, n.last_error,"
    " n.delivered_at FROM escalation_tickets AS t JOIN escalation_notifications AS n ON n.ticket_id = t.id";

ticket_record read_record(const pg::result& r, int row) {
    ticket_record t;
    auto& n = t.notification;
    r.read_row(row, t.id, t.customer, t.subject, t.description, t.priority, t.status, t.reasons, t.session_id,
               t.idempotency_key, t.fingerprint, t.created_at, t.updated_at, n.state, n.attempts, n.last_error,
               n.delivered_at);
    return t;
}

std::optional<ticket_record> first_record(const pg::result& r) {
    if (r.rows() == 0) return std::nullopt;
    return read_record(r, 0);
}

std::optional<ticket_record> load(pg::connection& c, int64_t id) {
    return first_record(c.exec(select_tickets + " WHERE t.id = $1", id));
}

std::optional<ticket_record> find_by_key(pg::connection& c, const std::string& key) {
    return first_record(c.exec(select_tickets + " WHERE t.idempotency_key = $1", key));
}

void insert_event(pg::connection& c, int64_t ticket_id, const ticket_event& e) {
    c.exec("INSERT INTO escalation_events (ticket_id, from_status, to_status, note, at) VALUES ($1, $2, $3, $4, $5)",
           ticket_id, e.from, e.to, e.note, e.at);
}

// Inserts `t`, its history and its notification row, inside the caller's transaction; with a
// key, only when no ticket holds it (the unique constraint decides, also against a concurrent
// insert on another host, which it waits for). The new id, or nullopt when the key was taken.
std::optional<int64_t> insert_row(pg::connection& c, const new_ticket& t) {
    const auto r = c.exec(
        "INSERT INTO escalation_tickets (idempotency_key, fingerprint, customer, subject, description, priority,"
        " status, reasons, session_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        t.idempotency_key, t.fingerprint, t.customer, t.subject, t.description, t.priority, t.status, t.reasons,
        t.session_id, t.created_at);
    if (r.rows() == 0) return std::nullopt;
    const int64_t id = r.int64(0, 0);
    for (const auto& e : t.history) insert_event(c, id, e);
    c.exec("INSERT INTO escalation_notifications (ticket_id, state) VALUES ($1, $2)", id, t.notification);
    return id;
}

}  // namespace

const std::vector<std::string_view>& postgres_repository::schema_steps() {
    static const std::vector<std::string_view> steps{schema_v1};
    return steps;
}

postgres_repository::postgres_repository(const std::string& url, size_t connections, std::span<const new_ticket> sample,
                                         deadline until)
    : pool_(url, connections, "toolhost escalation") {
    try {
        auto c = pool_.acquire(until);
        pg::migrate(*c, "escalation", schema_steps());
        if (sample.empty()) return;
        pg::transaction tx(*c);
        // The marker first: a host that seeds at the same moment waits here for this transaction,
        // then finds the marker and seeds nothing.
        const auto marked = c->exec(
            "INSERT INTO escalation_meta (key, value) VALUES ('sample_seeded', 'true') ON CONFLICT (key) DO NOTHING"
            " RETURNING key");
        if (marked.rows() == 0) return;
        for (const auto& t : sample) insert_row(*c, t);
        tx.commit();
    } catch (const sdk::error& e) {
        error_context("initialize", e);
        throw;
    }
}

insert_outcome postgres_repository::insert(const new_ticket& t, deadline until) {
    auto c = pool_.acquire(until);
    // A replay finds its ticket without touching the sequence.
    if (t.idempotency_key)
        if (auto held = find_by_key(*c, *t.idempotency_key)) return {std::move(*held), false};
    // INSERT ... ON CONFLICT DO NOTHING, then read the holder: the unique constraint admits one
    // insert, and a concurrent one with the same key waits for its commit, then inserts nothing.
    // Tickets are never deleted, so the holder is there to read.
    pg::transaction tx(*c);
    if (auto id = insert_row(*c, t)) {
        auto stored = load(*c, *id);
        tx.commit();
        return {std::move(*stored), true};
    }
    if (t.idempotency_key)
        if (auto held = find_by_key(*c, *t.idempotency_key)) return {std::move(*held), false};
    throw sdk::error(sdk::status::unavailable, "idempotency_key: held by a ticket that cannot be read; try again");
}

std::optional<ticket_record> postgres_repository::find(int64_t id, bool with_history, deadline until) {
    auto c = pool_.acquire(until);
    // One snapshot for the ticket and its history.
    pg::transaction tx(*c, "ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    auto ticket = load(*c, id);
    if (ticket && with_history) {
        const auto r = c->exec(
            "SELECT from_status, to_status, note, at FROM escalation_events WHERE ticket_id = $1 ORDER BY id", id);
        for (int i = 0; i < r.rows(); ++i) {
            ticket_event e;
            r.read_row(i, e.from, e.to, e.note, e.at);
            ticket->history.push_back(std::move(e));
        }
    }
    tx.commit();
    return ticket;
}

ticket_page postgres_repository::page(const ticket_filter& filter, int64_t limit, int64_t offset, deadline until) {
    static const std::string where =
        " WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.customer = $2)";
    auto c = pool_.acquire(until);
    pg::transaction tx(*c, "ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    ticket_page page;
    page.total =
        c->exec("SELECT count(*) FROM escalation_tickets AS t" + where, filter.status, filter.customer).int64(0, 0);
    const auto r = c->exec(select_tickets + where + " ORDER BY t.id DESC LIMIT $3 OFFSET $4", filter.status,
                           filter.customer, limit, offset);
    for (int i = 0; i < r.rows(); ++i) page.tickets.push_back(read_record(r, i));
    tx.commit();
    return page;
}

std::optional<ticket_record> postgres_repository::change_status(int64_t id, const ticket_event& move, deadline until) {
    auto c = pool_.acquire(until);
    pg::transaction tx(*c);
    // Compare and set. A concurrent move of the same ticket holds the row until it commits; this
    // UPDATE then re-reads the row and finds the status changed: no row, nothing written.
    const auto moved =
        c->exec("UPDATE escalation_tickets SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4 RETURNING id",
                id, move.to, move.at, move.from);
    if (moved.rows() == 0) return std::nullopt;
    insert_event(*c, id, move);
    auto out = load(*c, id);
    tx.commit();
    return out;
}

// A claim: a transaction on a leased connection that holds the notification's row lock until it
// ends, committing the outcome or rolling back. A host that dies while it sends loses its
// connection, and the server ends the transaction, which frees the row.
class postgres_repository::claim final : public notification_claim {
public:
    claim(pg::connection_pool::lease lease, int64_t id) : lease_(std::move(lease)), tx_(*lease_), id_(id) {}

    // Taken with SKIP LOCKED: a row another call has claimed is passed over, not waited for.
    bool take() {
        return lease_
                   ->exec(
                       "SELECT ticket_id FROM escalation_notifications WHERE ticket_id = $1 AND state = 'pending'"
                       " FOR UPDATE SKIP LOCKED",
                       id_)
                   .rows() == 1;
    }

    void delivered(std::string_view at) override {
        lease_->exec(
            "UPDATE escalation_notifications SET state = 'delivered', attempts = attempts + 1, last_error = NULL,"
            " delivered_at = $2 WHERE ticket_id = $1",
            id_, at);
        tx_.commit();
    }

    void failed(std::string_view error) override {
        lease_->exec(
            "UPDATE escalation_notifications SET attempts = attempts + 1, last_error = $2 WHERE ticket_id = $1", id_,
            error);
        tx_.commit();
    }

private:
    pg::connection_pool::lease lease_;
    pg::transaction tx_;  // after lease_: ends before the connection goes back
    const int64_t id_;
};

std::unique_ptr<notification_claim> postgres_repository::claim_notification(int64_t id, deadline until) {
    auto held = std::make_unique<claim>(pool_.acquire(until), id);
    if (!held->take()) return nullptr;
    return held;
}

void postgres_repository::error_context(std::string_view operation, const sdk::error& e) const {
    pg::name_the_database("escalation." + std::string(operation), e, pool_.where());
}

}  // namespace toolhost::plugins::escalation

#include "postgres_repository.hpp"

#include <toolhost_plugins/args.hpp>

#include <algorithm>
#include <unordered_map>

namespace toolhost::plugins::memory {

namespace pg = postgres;

namespace {

// How often a store retries when the holder of its idempotency key changes under it (another
// host deleting an expired holder, or forgetting a live one, at the same moment).
constexpr int max_key_attempts = 8;

// Step 1 of the schema.
//
// Full text: memory_search and memory_search_text() (postgres::fts5_like_search_objects(): what
// the SQLite side's FTS5 tokenizer matches). The `search` column is generated from the content,
// so it can never disagree with it; GIN indexes it.
//
// memory_memories_by_session orders a session newest first for list's keyset paging
// (created_at, id) and carries what a recall without a query reads (importance, expiry, kind),
// so that scan never touches the table itself. The unique constraint on (session_id,
// idempotency_key) is what INSERT ... ON CONFLICT relies on; NULL keys never conflict.
//
// Times are unix milliseconds (bigint), as on the SQLite side. Ids are an identity column: a
// sequence never hands out a value twice, so an id is never reused. metadata is json (kept as
// the text given, unlike jsonb, so it comes back exactly as stored).
constexpr std::string_view schema_v1_tables = R"sql(
CREATE TABLE memory_memories (
    id              bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      text             NOT NULL CHECK (length(session_id) > 0),
    kind            text             NOT NULL CHECK (length(kind) > 0),
    content         text             NOT NULL,
    importance      double precision NOT NULL CHECK (importance >= 0 AND importance <= 1),
    created_at      bigint           NOT NULL,
    expires_at      bigint,
    ttl_seconds     bigint,
    metadata        json             NOT NULL DEFAULT '{}',
    idempotency_key text,
    search          tsvector         GENERATED ALWAYS AS
                        (to_tsvector('memory_search', memory_search_text(content))) STORED,
    CONSTRAINT memory_memories_idempotency UNIQUE (session_id, idempotency_key)
);
CREATE INDEX memory_memories_by_session
    ON memory_memories (session_id, created_at, id) INCLUDE (importance, expires_at, kind);
CREATE INDEX memory_memories_by_expiry ON memory_memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memory_memories_search ON memory_memories USING gin (search);

CREATE TABLE memory_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
)sql";

const std::string record_columns =
    "id, session_id, kind, content, importance, created_at, expires_at, ttl_seconds, metadata, idempotency_key";

memory_record read_record(const pg::result& r, int row) {
    memory_record m;
    r.read_row(row, m.id, m.session_id, m.kind, m.content, m.importance, m.created_at, m.expires_at, m.ttl_seconds,
               m.metadata, m.idempotency_key);
    return m;
}

std::optional<memory_record> first_record(const pg::result& r) {
    if (r.rows() == 0) return std::nullopt;
    return read_record(r, 0);
}

// The scope's conditions, shared by the reads: $1 session, $2 now, $3 kinds (text[] or NULL).
const std::string scope_conditions =
    " m.session_id = $1"
    " AND (m.expires_at IS NULL OR m.expires_at > $2)"
    " AND ($3::text[] IS NULL OR m.kind = ANY ($3::text[]))";

pg::param kinds_param(const scope& s) { return s.kinds.empty() ? pg::param(nullptr) : pg::text_array(s.kinds); }

// PostgreSQL text cannot hold U+0000 (SQLite can): named here rather than as "a parameter".
void check_storable(std::string_view field, std::string_view text) {
    if (text.find('\0') != std::string_view::npos)
        invalid_argument(field, "contains a NUL character (U+0000), which the PostgreSQL storage cannot hold");
}

const std::string insert_sql =
    "INSERT INTO memory_memories (session_id, kind, content, importance, created_at, expires_at, ttl_seconds,"
    " metadata, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

// Inserts `m`; with a key, only when no memory of the session holds it (the unique constraint
// decides, also against a concurrent insert on another connection, which it waits for). The new
// id, or nullopt when the key was taken.
std::optional<int64_t> insert_row(pg::connection& c, const new_memory& m) {
    const auto r =
        c.exec(insert_sql + (m.idempotency_key ? " ON CONFLICT (session_id, idempotency_key) DO NOTHING" : "") +
                   " RETURNING id",
               m.session_id, m.kind, m.content, m.importance, m.created_at, m.expires_at, m.ttl_seconds, m.metadata,
               m.idempotency_key);
    if (r.rows() == 0) return std::nullopt;
    return r.int64(0, 0);
}

std::optional<memory_record> find_by_key(pg::connection& c, std::string_view session_id, std::string_view key) {
    return first_record(
        c.exec("SELECT " + record_columns + " FROM memory_memories WHERE session_id = $1 AND idempotency_key = $2",
               session_id, key));
}

}  // namespace

const std::vector<std::string_view>& postgres_repository::schema_steps() {
    static const std::string schema_v1 = pg::fts5_like_search_objects("memory") + std::string(schema_v1_tables);
    static const std::vector<std::string_view> steps{schema_v1};
    return steps;
}

postgres_repository::postgres_repository(const std::string& url, size_t connections, deadline until)
    : pool_(url, connections, "toolhost memory") {
    try {
        auto c = pool_.acquire(until);
        pg::migrate(*c, "memory", schema_steps());
    } catch (const sdk::error& e) {
        error_context("initialize", e);
        throw;
    }
}

insert_outcome postgres_repository::insert(const new_memory& m, time::unix_ms now, deadline until) {
    check_storable("session_id", m.session_id);
    check_storable("kind", m.kind);
    check_storable("content", m.content);
    if (m.idempotency_key) check_storable("idempotency_key", *m.idempotency_key);
    auto c = pool_.acquire(until);
    // INSERT ... ON CONFLICT DO NOTHING, then read the holder: correct when hosts race, because
    // the unique constraint admits one insert and makes the others wait for its commit. The
    // loop covers the holder changing between the two statements.
    //
    // Even a plain INSERT runs in an explicit transaction, committed only once it has returned:
    // if the call's deadline passes while it waits for a lock, the connection is abandoned, and
    // the server rolls the open transaction back when it reads on. An autocommitted INSERT
    // would instead still be stored after the caller was told that the store failed.
    for (int attempt = 0; attempt < max_key_attempts; ++attempt) {
        pg::transaction tx(*c);
        if (auto id = insert_row(*c, m)) {
            tx.commit();
            return {memory_record{m, *id}, false};
        }
        auto holder = find_by_key(*c, m.session_id, *m.idempotency_key);
        if (!holder) continue;                                        // forgotten in between: free again
        if (holder->live_at(now)) return {std::move(*holder), true};  // rolled back: nothing written
        // An expired memory is gone as far as callers can tell, and so is its claim on the key:
        // it goes in the same transaction as the insert that takes the key over.
        c->exec("DELETE FROM memory_memories WHERE id = $1", holder->id);
        if (auto id = insert_row(*c, m)) {
            tx.commit();
            return {memory_record{m, *id}, false};
        }
        // Another store took the key in between; the next round reads its memory.
    }
    throw sdk::error(sdk::status::unavailable, "idempotency_key: changed hands " + std::to_string(max_key_attempts) +
                                                   " times while this store ran; try again");
}

std::optional<memory_record> postgres_repository::find(int64_t id, deadline until) {
    auto c = pool_.acquire(until);
    return first_record(c->exec("SELECT " + record_columns + " FROM memory_memories WHERE id = $1", id));
}

std::vector<memory_record> postgres_repository::recall(const scope& s, std::span<const std::string> words,
                                                       size_t max_candidates, const choose_fn& choose, deadline until) {
    auto c = pool_.acquire(until);
    // One snapshot for the candidates and the records read after choosing among them.
    pg::transaction tx(*c, "ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    std::vector<candidate> candidates;
    if (words.empty()) {
        const auto r =
            c->exec("SELECT m.id, m.created_at, m.importance FROM memory_memories AS m WHERE" + scope_conditions,
                    s.session_id, s.now, kinds_param(s));
        for (int i = 0; i < r.rows(); ++i) candidates.push_back({r.int64(i, 0), 0.0, r.int64(i, 1), r.real(i, 2)});
    } else {
        // Each word becomes one quoted phrase of websearch_to_tsquery, joined by "or": words are
        // OR-ed and each is a literal (inside quotes "or" and "-" are words, and
        // memory_search_text has removed every quote), exactly as the SQLite side quotes each
        // word for FTS5. Relevance is ts_rank_cd (cover density) divided by 1 + log(the
        // memory's length in words), normalization 1: like bm25 it favours short memories that
        // mention the words more often; ranking.hpp makes it relative to the best match.
        const auto r = c->exec(
            "SELECT m.id, ts_rank_cd(m.search, q.query, 1), m.created_at, m.importance"
            " FROM memory_memories AS m,"
            "  websearch_to_tsquery('memory_search', (SELECT string_agg('\"' || memory_search_text(w) || '\"', ' or ')"
            "   FROM unnest($4::text[]) AS w)) AS q(query)"
            " WHERE" +
                scope_conditions + " AND m.search @@ q.query ORDER BY 2 DESC, m.id DESC LIMIT $5",
            s.session_id, s.now, kinds_param(s), pg::text_array(std::vector<std::string>(words.begin(), words.end())),
            max_candidates);
        for (int i = 0; i < r.rows(); ++i)
            candidates.push_back({r.int64(i, 0), r.real(i, 1), r.int64(i, 2), r.real(i, 3)});
    }
    const auto ids = choose(candidates);
    std::vector<memory_record> out;
    if (!ids.empty()) {
        const auto r = c->exec("SELECT " + record_columns + " FROM memory_memories WHERE id = ANY ($1::bigint[])",
                               pg::int_array(ids));
        std::unordered_map<int64_t, memory_record> by_id;
        for (int i = 0; i < r.rows(); ++i) {
            auto m = read_record(r, i);
            by_id.emplace(m.id, std::move(m));
        }
        for (const int64_t id : ids)
            if (auto it = by_id.find(id); it != by_id.end()) out.push_back(std::move(it->second));
    }
    tx.commit();
    return out;
}

std::vector<memory_record> postgres_repository::page(const scope& s, std::optional<page_position> after, size_t limit,
                                                     deadline until) {
    auto c = pool_.acquire(until);
    const std::string select = "SELECT " + record_columns + " FROM memory_memories AS m WHERE" + scope_conditions;
    const std::string order = " ORDER BY m.created_at DESC, m.id DESC";
    // Keyset paging: strictly after the last row of the previous page, a range on
    // memory_memories_by_session.
    const auto r = after ? c->exec(select + " AND (m.created_at, m.id) < ($4, $5)" + order + " LIMIT $6", s.session_id,
                                   s.now, kinds_param(s), after->created_at, after->id, limit)
                         : c->exec(select + order + " LIMIT $4", s.session_id, s.now, kinds_param(s), limit);
    std::vector<memory_record> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_record(r, i));
    return out;
}

int64_t postgres_repository::remove(int64_t id, std::optional<std::string_view> session_id, deadline until) {
    auto c = pool_.acquire(until);
    return c
        ->exec("DELETE FROM memory_memories WHERE id = $1 AND ($2::text IS NULL OR session_id = $2)", id, session_id)
        .affected();
}

int64_t postgres_repository::remove_session(std::string_view session_id, deadline until) {
    auto c = pool_.acquire(until);
    return c->exec("DELETE FROM memory_memories WHERE session_id = $1", session_id).affected();
}

int64_t postgres_repository::delete_expired(time::unix_ms now, std::optional<std::string_view> session_id, int batch,
                                            deadline until) {
    auto c = pool_.acquire(until);
    // SKIP LOCKED: hosts that prune at the same moment take different rows instead of queueing
    // behind each other for the same ones.
    return c
        ->exec(
            "DELETE FROM memory_memories WHERE id IN (SELECT id FROM memory_memories"
            " WHERE expires_at <= $1 AND ($2::text IS NULL OR session_id = $2) LIMIT $3 FOR UPDATE SKIP LOCKED)",
            now, session_id, batch)
        .affected();
}

std::vector<std::string> postgres_repository::sessions_over_cap(int64_t cap, std::optional<std::string_view> session_id,
                                                                deadline until) {
    auto c = pool_.acquire(until);
    // COLLATE "C": byte order, as SQLite orders them.
    const auto r = c->exec(
        "SELECT session_id FROM memory_memories WHERE ($1::text IS NULL OR session_id = $1)"
        " GROUP BY session_id HAVING count(*) > $2 ORDER BY session_id COLLATE \"C\"",
        session_id, cap);
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.string(i, 0));
    return out;
}

int64_t postgres_repository::delete_over_cap(std::string_view session_id, int64_t cap, int batch, deadline until) {
    auto c = pool_.acquire(until);
    return c
        ->exec(
            "DELETE FROM memory_memories WHERE id IN ("
            " SELECT id FROM (SELECT id, row_number() OVER"
            "   (ORDER BY importance DESC, created_at DESC, id DESC) AS position"
            "   FROM memory_memories WHERE session_id = $1) AS ranked"
            " WHERE position > $2 ORDER BY position DESC LIMIT $3)",
            session_id, cap, batch)
        .affected();
}

bool postgres_repository::sample_seeded(deadline until) {
    auto c = pool_.acquire(until);
    return c->exec("SELECT 1 FROM memory_meta WHERE key = 'sample_seeded'").rows() > 0;
}

bool postgres_repository::seed_sample(std::span<const new_memory> memories, std::string_view note, deadline until) {
    auto c = pool_.acquire(until);
    pg::transaction tx(*c);
    // The marker first: a host that seeds at the same moment waits here for this transaction,
    // then finds the marker and seeds nothing.
    const auto marked = c->exec(
        "INSERT INTO memory_meta (key, value) VALUES ('sample_seeded', $1) ON CONFLICT (key) DO NOTHING RETURNING key",
        note);
    if (marked.rows() == 0) return false;
    for (const auto& m : memories) insert_row(*c, m);
    tx.commit();
    return true;
}

void postgres_repository::error_context(std::string_view operation, const sdk::error& e) const {
    if (dynamic_cast<const pg::postgres_error*>(&e) == nullptr) return;
    const std::string op = "memory." + std::string(operation);
    // The database's place (never the URL: it may hold a password), and what went wrong.
    if (e.code() == sdk::status::unavailable)
        throw sdk::error(e.code(), op + ": the database at " + pool_.where() + " is unavailable: " + e.what());
    throw sdk::error(e.code(), op + " on the database at " + pool_.where() + ": " + e.what());
}

void postgres_repository::close(sdk::host&) noexcept { pool_.close_idle(); }

}  // namespace toolhost::plugins::memory

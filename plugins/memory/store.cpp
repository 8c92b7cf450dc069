#include "store.hpp"

namespace toolhost::plugins::memory::db {

namespace {

// Step 1 of the schema.
//
// memories_fts is an external-content FTS5 index over memories (the text is stored once), kept
// in step by triggers inside the same transaction as the row, so the row and its index entry
// commit or roll back together.
//
// The index has a second column, session_key: the session id as one hex token ('s' || hex()).
// A recall matches `session_key : "s..." AND content : (...)`, so FTS5 intersects the query's
// posting lists with the session's instead of scoring every matching memory of every session
// and filtering afterwards; bm25() gives that column weight 0, so it never affects relevance.
// It is a generated column, so it can never disagree with session_id.
//
// memories_by_session orders a session newest first for list's keyset paging (created_at, id),
// and also holds everything a recall without a query reads (importance, expiry, kind), so that
// scan never touches the table itself.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE IF NOT EXISTS memories (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      TEXT    NOT NULL CHECK (length(session_id) > 0),
    kind            TEXT    NOT NULL CHECK (length(kind) > 0),
    content         TEXT    NOT NULL,
    importance      REAL    NOT NULL CHECK (importance >= 0 AND importance <= 1),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    ttl_seconds     INTEGER,
    metadata        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    idempotency_key TEXT,
    session_key     TEXT GENERATED ALWAYS AS ('s' || hex(session_id)) VIRTUAL
);
CREATE INDEX IF NOT EXISTS memories_by_session
    ON memories (session_id, created_at, id, importance, expires_at, kind);
CREATE INDEX IF NOT EXISTS memories_by_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS memories_by_key ON memories (session_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    content, session_key,
    content = 'memories', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_after_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, session_key) VALUES (new.id, new.content, new.session_key);
END;
CREATE TRIGGER IF NOT EXISTS memories_after_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, session_key)
        VALUES ('delete', old.id, old.content, old.session_key);
END;
-- No operation updates a memory today; this keeps the index right if one ever does.
CREATE TRIGGER IF NOT EXISTS memories_after_update AFTER UPDATE OF content, session_id ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, session_key)
        VALUES ('delete', old.id, old.content, old.session_key);
    INSERT INTO memories_fts (rowid, content, session_key) VALUES (new.id, new.content, new.session_key);
END;

CREATE TABLE IF NOT EXISTS memory_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

constexpr std::string_view record_columns =
    "id, session_id, kind, content, importance, created_at, expires_at, ttl_seconds, metadata, idempotency_key";

memory_record read_record(const sqlite::statement& st) {
    memory_record r;
    st.read_row(r.id, r.session_id, r.kind, r.content, r.importance, r.created_at, r.expires_at, r.ttl_seconds,
                r.metadata, r.idempotency_key);
    return r;
}

std::optional<memory_record> first_record(sqlite::statement& st) {
    if (!st.step()) return std::nullopt;
    return read_record(st);
}

// The session's token as the generated column writes it: 's' || hex(session_id), where hex()
// is the upper-case hex of the UTF-8 bytes.
std::string session_token(std::string_view session_id) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(1 + 2 * session_id.size());
    out += 's';
    for (unsigned char c : session_id) {
        out += digits[c >> 4];
        out += digits[c & 0x0f];
    }
    return out;
}

// The scope's conditions, shared by the reads. ?1 session, ?2 now, ?3 kinds (JSON array or NULL).
constexpr std::string_view scope_conditions =
    " m.session_id = ?1"
    " AND (m.expires_at IS NULL OR m.expires_at > ?2)"
    " AND (?3 IS NULL OR m.kind IN (SELECT value FROM json_each(?3)))";

void bind_scope(sqlite::statement& st, const scope& s) {
    st.bind(1, s.session_id).bind(2, s.now).bind(3, s.kinds_json);
}

}  // namespace

const std::vector<std::string_view>& schema_steps() {
    static const std::vector<std::string_view> steps{schema_v1};
    return steps;
}

int64_t insert(sqlite::database& db, const new_memory& m) {
    auto st = db.prepare(
        "INSERT INTO memories (session_id, kind, content, importance, created_at, expires_at, ttl_seconds,"
        " metadata, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind_all(m.session_id, m.kind, m.content, m.importance, m.created_at, m.expires_at, m.ttl_seconds, m.metadata,
                m.idempotency_key)
        .run();
    return db.last_insert_rowid();
}

std::optional<memory_record> find(sqlite::database& db, int64_t id) {
    auto st = db.prepare("SELECT " + std::string(record_columns) + " FROM memories WHERE id = ?");
    st.bind(1, id);
    return first_record(st);
}

std::vector<memory_record> find_all(sqlite::database& db, std::span<const int64_t> ids) {
    auto st = db.prepare("SELECT " + std::string(record_columns) + " FROM memories WHERE id = ?");
    std::vector<memory_record> out;
    out.reserve(ids.size());
    for (const int64_t id : ids) {
        st.bind(1, id);
        if (st.step()) out.push_back(read_record(st));
        st.reset();
    }
    return out;
}

std::optional<memory_record> find_by_key(sqlite::database& db, std::string_view session_id, std::string_view key) {
    auto st = db.prepare("SELECT " + std::string(record_columns) +
                         " FROM memories WHERE session_id = ? AND idempotency_key = ?");
    st.bind_all(session_id, key);
    return first_record(st);
}

int remove(sqlite::database& db, int64_t id, std::optional<std::string_view> session_id) {
    auto st = db.prepare("DELETE FROM memories WHERE id = ?1 AND (?2 IS NULL OR session_id = ?2)");
    st.bind_all(id, session_id).run();
    return db.changes();
}

int remove_session(sqlite::database& db, std::string_view session_id) {
    auto st = db.prepare("DELETE FROM memories WHERE session_id = ?");
    st.bind(1, session_id);
    st.run();
    return db.changes();
}

std::vector<candidate> matching(sqlite::database& db, const scope& s, std::string_view fts_query, size_t max) {
    // CROSS JOIN keeps the FTS index as the outer loop: it yields the matches, and each is then
    // looked up by primary key.
    auto st = db.prepare(
        "SELECT m.id, -bm25(memories_fts, 1.0, 0.0), m.created_at, m.importance"
        " FROM memories_fts CROSS JOIN memories AS m ON m.id = memories_fts.rowid"
        " WHERE memories_fts MATCH ?4 AND" +
        std::string(scope_conditions) + " ORDER BY bm25(memories_fts, 1.0, 0.0) LIMIT ?5");
    bind_scope(st, s);
    const std::string match =
        "session_key : \"" + session_token(s.session_id) + "\" AND content : (" + std::string(fts_query) + ")";
    st.bind(4, match).bind(5, max);
    std::vector<candidate> out;
    while (st.step()) out.push_back({st.int64(0), st.real(1), st.int64(2), st.real(3)});
    return out;
}

std::vector<candidate> all_live(sqlite::database& db, const scope& s) {
    auto st =
        db.prepare("SELECT m.id, m.created_at, m.importance FROM memories AS m WHERE" + std::string(scope_conditions));
    bind_scope(st, s);
    std::vector<candidate> out;
    while (st.step()) out.push_back({st.int64(0), 0.0, st.int64(1), st.real(2)});
    return out;
}

std::vector<memory_record> page(sqlite::database& db, const scope& s, std::optional<page_position> after,
                                size_t limit) {
    // Keyset paging: a page starts strictly after the last row of the previous one, so memories
    // stored or forgotten between two pages neither repeat nor shift rows. The first page and
    // the others are two statements, so that the row-value bound becomes a range on
    // memories_by_session instead of a filter over every newer row.
    const std::string sql = "SELECT " + std::string(record_columns) + " FROM memories AS m WHERE" +
                            std::string(scope_conditions) + (after ? " AND (m.created_at, m.id) < (?4, ?5)" : "") +
                            " ORDER BY m.created_at DESC, m.id DESC LIMIT ?6";
    auto st = db.prepare(sql);
    bind_scope(st, s);
    if (after) st.bind(4, after->created_at).bind(5, after->id);
    st.bind(6, limit);
    std::vector<memory_record> out;
    while (st.step()) out.push_back(read_record(st));
    return out;
}

int delete_expired(sqlite::database& db, time::unix_ms now, std::optional<std::string_view> session_id, int batch) {
    auto st = db.prepare(
        "DELETE FROM memories WHERE id IN (SELECT id FROM memories"
        " WHERE expires_at <= ?1 AND (?2 IS NULL OR session_id = ?2) LIMIT ?3)");
    st.bind_all(now, session_id, batch).run();
    return db.changes();
}

std::vector<std::string> sessions_over_cap(sqlite::database& db, int64_t cap,
                                           std::optional<std::string_view> session_id) {
    auto st = db.prepare(
        "SELECT session_id FROM memories WHERE (?1 IS NULL OR session_id = ?1)"
        " GROUP BY session_id HAVING count(*) > ?2 ORDER BY session_id");
    st.bind_all(session_id, cap);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.string(0));
    return out;
}

int delete_over_cap(sqlite::database& db, std::string_view session_id, int64_t cap, int batch) {
    auto st = db.prepare(
        "DELETE FROM memories WHERE id IN ("
        " SELECT id FROM (SELECT id, row_number() OVER"
        "   (ORDER BY importance DESC, created_at DESC, id DESC) AS position"
        "   FROM memories WHERE session_id = ?1)"
        " WHERE position > ?2 ORDER BY position DESC LIMIT ?3)");
    st.bind_all(session_id, cap, batch).run();
    return db.changes();
}

}  // namespace toolhost::plugins::memory::db

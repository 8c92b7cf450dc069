#include "sqlite_repository.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost_plugins/sample.hpp>

#include <boost/json/array.hpp>

#include <algorithm>

namespace toolhost::plugins::memory {

namespace {

// Idle connections kept between calls; more are opened while more calls run at once.
constexpr size_t max_idle_connections = 8;
// The tool's own key/value table (key TEXT PRIMARY KEY, value TEXT NOT NULL), where the
// sample's marker lives.
constexpr std::string_view meta_table = "memory_meta";

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
    std::optional<std::string> kinds;
    if (!s.kinds.empty()) kinds = toolhost::json_text(boost::json::array(s.kinds.begin(), s.kinds.end()));
    st.bind(1, s.session_id).bind(2, s.now).bind(3, kinds);
}

// A read transaction: every SELECT inside sees the same snapshot of the database, even while
// other connections commit (WAL). Never takes the write lock.
class read_snapshot {
public:
    explicit read_snapshot(sqlite::database& db) : db_(db) { db_.exec("BEGIN DEFERRED"); }
    read_snapshot(const read_snapshot&) = delete;
    read_snapshot& operator=(const read_snapshot&) = delete;
    // Ending a transaction that wrote nothing cannot lose anything: ROLLBACK just releases it.
    ~read_snapshot() { sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr); }

private:
    sqlite::database& db_;
};

int64_t insert_row(sqlite::database& db, const new_memory& m) {
    auto st = db.prepare(
        "INSERT INTO memories (session_id, kind, content, importance, created_at, expires_at, ttl_seconds,"
        " metadata, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind_all(m.session_id, m.kind, m.content, m.importance, m.created_at, m.expires_at, m.ttl_seconds, m.metadata,
                m.idempotency_key)
        .run();
    return db.last_insert_rowid();
}

std::optional<memory_record> find_by_key(sqlite::database& db, std::string_view session_id, std::string_view key) {
    auto st = db.prepare("SELECT " + std::string(record_columns) +
                         " FROM memories WHERE session_id = ? AND idempotency_key = ?");
    st.bind_all(session_id, key);
    return first_record(st);
}

int remove_row(sqlite::database& db, int64_t id, std::optional<std::string_view> session_id) {
    auto st = db.prepare("DELETE FROM memories WHERE id = ?1 AND (?2 IS NULL OR session_id = ?2)");
    st.bind_all(id, session_id).run();
    return db.changes();
}

// The scope's memories that match `words`, with their bm25 relevance; the `max` most relevant.
std::vector<candidate> matching(sqlite::database& db, const scope& s, std::span<const std::string> words, size_t max) {
    // Every word quoted: FTS5 syntax in a query is searched for, never interpreted.
    std::string text;
    for (const auto& w : words) text += w + " ";
    const std::string fts_query = sqlite::fts5_query(text);
    // CROSS JOIN keeps the FTS index as the outer loop: it yields the matches, and each is then
    // looked up by primary key.
    auto st = db.prepare(
        "SELECT m.id, -bm25(memories_fts, 1.0, 0.0), m.created_at, m.importance"
        " FROM memories_fts CROSS JOIN memories AS m ON m.id = memories_fts.rowid"
        " WHERE memories_fts MATCH ?4 AND" +
        std::string(scope_conditions) + " ORDER BY bm25(memories_fts, 1.0, 0.0) LIMIT ?5");
    bind_scope(st, s);
    const std::string match = "session_key : \"" + session_token(s.session_id) + "\" AND content : (" + fts_query + ")";
    st.bind(4, match).bind(5, max);
    std::vector<candidate> out;
    while (st.step()) out.push_back({st.int64(0), st.real(1), st.int64(2), st.real(3)});
    return out;
}

// Every memory of the scope, for a recall without a query (text_score 0).
std::vector<candidate> all_live(sqlite::database& db, const scope& s) {
    auto st =
        db.prepare("SELECT m.id, m.created_at, m.importance FROM memories AS m WHERE" + std::string(scope_conditions));
    bind_scope(st, s);
    std::vector<candidate> out;
    while (st.step()) out.push_back({st.int64(0), 0.0, st.int64(1), st.real(2)});
    return out;
}

// The memories with these ids, in the same order; ids that do not exist are skipped.
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

}  // namespace

const std::vector<std::string_view>& sqlite_repository::schema_steps() {
    static const std::vector<std::string_view> steps{schema_v1};
    return steps;
}

sqlite_repository::sqlite_repository(const std::filesystem::path& file, sqlite::synchronous sync, int busy_timeout_ms)
    : busy_timeout_ms_(busy_timeout_ms) {
    sqlite::open_options options;
    options.sync = sync;
    options.busy_timeout_ms = busy_timeout_ms;
    pool_ = std::make_unique<sqlite::connection_pool>(file, options, max_idle_connections);
    auto db = pool_->acquire();
    sqlite::migrate(*db, schema_steps());
}

sqlite::connection_pool::lease sqlite_repository::connect(deadline until) {
    const auto now = std::chrono::steady_clock::now();
    const int64_t remaining =
        until <= now ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    const auto timeout = std::clamp<int64_t>(remaining, 0, busy_timeout_ms_);
    auto db = pool_->acquire(std::chrono::milliseconds(timeout));
    sqlite3_busy_timeout(db->handle(), static_cast<int>(timeout));
    return db;
}

insert_outcome sqlite_repository::insert(const new_memory& m, time::unix_ms now, deadline until) {
    auto db = connect(until);
    // One write transaction: the idempotency check, the removal of an expired holder of the
    // key, and the insert (with its FTS entry) happen together or not at all.
    sqlite::transaction tx(*db);
    if (m.idempotency_key) {
        if (auto earlier = find_by_key(*db, m.session_id, *m.idempotency_key)) {
            if (earlier->live_at(now)) return {std::move(*earlier), true};
            // An expired memory is gone as far as callers can tell, and so is its claim on the key.
            remove_row(*db, earlier->id, std::nullopt);
        }
    }
    const int64_t id = insert_row(*db, m);
    tx.commit();
    return {memory_record{m, id}, false};
}

std::optional<memory_record> sqlite_repository::find(int64_t id, deadline until) {
    auto db = connect(until);
    auto st = db->prepare("SELECT " + std::string(record_columns) + " FROM memories WHERE id = ?");
    st.bind(1, id);
    return first_record(st);
}

std::vector<memory_record> sqlite_repository::recall(const scope& s, std::span<const std::string> words,
                                                     size_t max_candidates, const choose_fn& choose, deadline until) {
    auto db = connect(until);
    read_snapshot snapshot(*db);
    const auto candidates = words.empty() ? all_live(*db, s) : matching(*db, s, words, max_candidates);
    return find_all(*db, choose(candidates));
}

std::vector<memory_record> sqlite_repository::page(const scope& s, std::optional<page_position> after, size_t limit,
                                                   deadline until) {
    // Keyset paging: a page starts strictly after the last row of the previous one. The first
    // page and the others are two statements, so that the row-value bound becomes a range on
    // memories_by_session instead of a filter over every newer row.
    const std::string sql = "SELECT " + std::string(record_columns) + " FROM memories AS m WHERE" +
                            std::string(scope_conditions) + (after ? " AND (m.created_at, m.id) < (?4, ?5)" : "") +
                            " ORDER BY m.created_at DESC, m.id DESC LIMIT ?6";
    auto db = connect(until);
    auto st = db->prepare(sql);
    bind_scope(st, s);
    if (after) st.bind(4, after->created_at).bind(5, after->id);
    st.bind(6, limit);
    std::vector<memory_record> out;
    while (st.step()) out.push_back(read_record(st));
    return out;
}

int64_t sqlite_repository::remove(int64_t id, std::optional<std::string_view> session_id, deadline until) {
    auto db = connect(until);
    sqlite::transaction tx(*db);
    const int n = remove_row(*db, id, session_id);
    tx.commit();
    return n;
}

int64_t sqlite_repository::remove_session(std::string_view session_id, deadline until) {
    auto db = connect(until);
    sqlite::transaction tx(*db);
    auto st = db->prepare("DELETE FROM memories WHERE session_id = ?");
    st.bind(1, session_id);
    st.run();
    const int n = db->changes();
    tx.commit();
    return n;
}

int64_t sqlite_repository::delete_expired(time::unix_ms now, std::optional<std::string_view> session_id, int batch,
                                          deadline until) {
    auto db = connect(until);
    sqlite::transaction tx(*db);
    auto st = db->prepare(
        "DELETE FROM memories WHERE id IN (SELECT id FROM memories"
        " WHERE expires_at <= ?1 AND (?2 IS NULL OR session_id = ?2) LIMIT ?3)");
    st.bind_all(now, session_id, batch).run();
    const int n = db->changes();
    tx.commit();
    return n;
}

std::vector<std::string> sqlite_repository::sessions_over_cap(int64_t cap, std::optional<std::string_view> session_id,
                                                              deadline until) {
    auto db = connect(until);
    auto st = db->prepare(
        "SELECT session_id FROM memories WHERE (?1 IS NULL OR session_id = ?1)"
        " GROUP BY session_id HAVING count(*) > ?2 ORDER BY session_id");
    st.bind_all(session_id, cap);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.string(0));
    return out;
}

int64_t sqlite_repository::delete_over_cap(std::string_view session_id, int64_t cap, int batch, deadline until) {
    auto db = connect(until);
    sqlite::transaction tx(*db);
    auto st = db->prepare(
        "DELETE FROM memories WHERE id IN ("
        " SELECT id FROM (SELECT id, row_number() OVER"
        "   (ORDER BY importance DESC, created_at DESC, id DESC) AS position"
        "   FROM memories WHERE session_id = ?1)"
        " WHERE position > ?2 ORDER BY position DESC LIMIT ?3)");
    st.bind_all(session_id, cap, batch).run();
    const int n = db->changes();
    tx.commit();
    return n;
}

bool sqlite_repository::sample_seeded(deadline until) {
    auto db = connect(until);
    return sqlite::sample_seeded(*db, meta_table);
}

bool sqlite_repository::seed_sample(std::span<const new_memory> memories, std::string_view note, deadline until) {
    auto db = connect(until);
    return sqlite::seed_once(*db, meta_table, [&] {
        for (const auto& m : memories) insert_row(*db, m);
        return std::string(note);
    });
}

void sqlite_repository::error_context(std::string_view operation, const sdk::error& e) const {
    // Same status (BUSY -> UNAVAILABLE, CORRUPT -> DATA_LOSS...), with the file named for the
    // operator who has to look at it.
    if (dynamic_cast<const sqlite::sqlite_error*>(&e) != nullptr)
        throw sdk::error(e.code(), std::string(operation) + " on " + pool_->path().string() + ": " + e.what());
}

void sqlite_repository::close(sdk::host& host) noexcept {
    try {
        // Lets SQLite refresh the statistics its query planner uses, as its docs advise on close.
        auto db = pool_->acquire();
        db->exec("PRAGMA optimize");
    } catch (const std::exception& e) {
        host.log(sdk::log_level::debug, std::string("PRAGMA optimize skipped: ") + e.what());
    }
    pool_->close_idle();
}

}  // namespace toolhost::plugins::memory

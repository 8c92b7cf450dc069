#include "sqlite_repository.hpp"

#include "query.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <utility>

namespace toolhost::plugins::rag {

namespace json = boost::json;

namespace {

// Schema steps for sqlite::migrate(); append new steps, never edit old ones.
// The chunk text lives only in the FTS5 table (rowid = chunks.id); chunks holds where it came
// from. `chunk_size`/`chunk_overlap` record how a document was cut, so a change of settings
// re-chunks it on the next index run even when its content did not change.
const std::vector<std::string_view> schema_steps = {
    R"sql(
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    source        TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('file', 'text')),
    content_hash  TEXT    NOT NULL,
    bytes         INTEGER NOT NULL,
    chars         INTEGER NOT NULL,
    chunks        INTEGER NOT NULL,
    chunk_size    INTEGER NOT NULL,
    chunk_overlap INTEGER NOT NULL,
    indexed_at    TEXT    NOT NULL
);
CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    start_char  INTEGER NOT NULL,
    end_char    INTEGER NOT NULL,
    UNIQUE (document_id, seq)
);
CREATE TABLE tags (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    PRIMARY KEY (document_id, tag)
) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON tags (tag);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2');
)sql",
};

std::optional<stored_document> find_document(sqlite::database& db, std::string_view source) {
    auto st = db.prepare(
        "SELECT id, kind, content_hash, chars, chunks, chunk_size, chunk_overlap FROM documents WHERE source = ?1");
    st.bind(1, source);
    if (!st.step()) return std::nullopt;
    stored_document d;
    st.read_row(d.id, d.kind, d.content_hash, d.chars, d.chunks, d.chunk_size, d.chunk_overlap);
    return d;
}

void check_kind(const std::optional<stored_document>& stored, const document_input& doc) {
    if (stored) rag::check_kind(stored->kind, doc);
}

std::vector<std::string> stored_tags(sqlite::database& db, int64_t id) {
    auto st = db.prepare("SELECT tag FROM tags WHERE document_id = ?1 ORDER BY tag");
    st.bind(1, id);
    std::vector<std::string> tags;
    while (st.step()) tags.push_back(st.string(0));
    return tags;
}

// Replaces the tags of a document; false when they were already exactly these.
bool replace_tags(sqlite::database& db, int64_t id, const std::vector<std::string>& tags) {
    if (stored_tags(db, id) == tags) return false;
    db.prepare("DELETE FROM tags WHERE document_id = ?1").bind(1, id).run();
    auto insert = db.prepare("INSERT INTO tags (document_id, tag) VALUES (?1, ?2)");
    for (const auto& tag : tags) {
        insert.bind_all(id, tag).run();
        insert.reset();
    }
    return true;
}

void delete_chunks(sqlite::database& db, int64_t document_id) {
    db.prepare("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?1)")
        .bind(1, document_id)
        .run();
    db.prepare("DELETE FROM chunks WHERE document_id = ?1").bind(1, document_id).run();
}

// Writes the document row and its chunks; returns the document id. Runs inside a transaction.
int64_t write_document(sqlite::database& db, const document_input& doc, const std::optional<stored_document>& existing,
                       const std::vector<chunk_span>& chunks, const chunk_options& chunking, int64_t chars) {
    int64_t id = 0;
    if (existing) {
        id = existing->id;
        delete_chunks(db, id);
        db.prepare(
              "UPDATE documents SET content_hash = ?2, bytes = ?3, chars = ?4, chunks = ?5, chunk_size = ?6, "
              "chunk_overlap = ?7, indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1")
            .bind_all(id, doc.content_hash, doc.bytes, chars, chunks.size(), chunking.size, chunking.overlap)
            .run();
    } else {
        db.prepare(
              "INSERT INTO documents (source, kind, content_hash, bytes, chars, chunks, chunk_size, chunk_overlap, "
              "indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))")
            .bind_all(doc.source, kind_name(doc.kind), doc.content_hash, doc.bytes, chars, chunks.size(), chunking.size,
                      chunking.overlap)
            .run();
        id = db.last_insert_rowid();
    }
    auto insert_chunk =
        db.prepare("INSERT INTO chunks (document_id, seq, start_char, end_char) VALUES (?1, ?2, ?3, ?4)");
    auto insert_text = db.prepare("INSERT INTO chunks_fts (rowid, text) VALUES (?1, ?2)");
    const std::string_view text = doc.text;
    for (size_t i = 0; i < chunks.size(); ++i) {
        const auto& c = chunks[i];
        insert_chunk.bind_all(id, i, c.begin_char, c.end_char).run();
        insert_chunk.reset();
        insert_text.bind_all(db.last_insert_rowid(), text.substr(c.begin_byte, c.end_byte - c.begin_byte)).run();
        insert_text.reset();
    }
    return id;
}

// A JSON array of strings to bind for json_each(), or nullopt for an empty list (a NULL
// parameter switches the filter off).
std::optional<std::string> json_list(const std::vector<std::string>& items) {
    if (items.empty()) return std::nullopt;
    json::array a;
    for (const auto& s : items) a.emplace_back(s);
    return toolhost::json_text(a);
}

// A document lies below folder F when its source is in the range ("F/", "F0"): '0' is the byte
// after '/', so the range holds exactly the names that continue with "/" and more after F
// (folder_prefixes() has taken the trailing '/' off).
constexpr std::string_view documents_matching =
    "SELECT id, chunks, source FROM documents AS d WHERE d.source IN (SELECT value FROM json_each(?1)) "
    "OR EXISTS (SELECT 1 FROM json_each(?2) AS f WHERE d.source > f.value || '/' AND d.source < f.value || '0')";

// Ordering by FTS5's `rank` column (BM25 unless configured otherwise) lets FTS5 sort the matches
// itself and hand them over best first, so SQLite never builds a sorter: the joins and filters
// run on rows in rank order, LIMIT stops early, and snippet() and the tags subquery are computed
// only for the rows returned. (Ordering by bm25(...) instead costs 20-35% more CPU per search on
// the benchmark corpus: SQLite then sorts every match itself.)
constexpr std::string_view search_sql = R"sql(
SELECT d.source, c.seq, c.start_char, c.end_char, chunks_fts.text, -chunks_fts.rank,
       snippet(chunks_fts, 0, '<mark>', '</mark>', '…', ?6),
       (SELECT json_group_array(tag) FROM (SELECT tag FROM tags WHERE document_id = d.id ORDER BY tag))
FROM chunks_fts
JOIN chunks AS c ON c.id = chunks_fts.rowid
JOIN documents AS d ON d.id = c.document_id
WHERE chunks_fts MATCH ?1
  AND (?2 IS NULL OR d.source IN (SELECT value FROM json_each(?2)))
  AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(?3) AS f
                             WHERE d.source > f.value || '/' AND d.source < f.value || '0'))
  AND (?4 IS NULL OR (SELECT count(*) FROM tags AS t
                      WHERE t.document_id = d.id AND t.tag IN (SELECT value FROM json_each(?4)))
                     = json_array_length(?4))
ORDER BY chunks_fts.rank
LIMIT ?5
)sql";

// Connections kept open between operations; more may be open while operations run.
constexpr size_t max_idle_connections = 8;

}  // namespace

// ------------------------------------------------------------------------- sqlite_repository

sqlite_repository::sqlite_repository(const std::filesystem::path& file, const chunk_options& chunking,
                                     int busy_timeout_ms)
    : chunking_(chunking), pool_(file, sqlite::open_options{.busy_timeout_ms = busy_timeout_ms}, max_idle_connections) {
    auto db = pool_.acquire();
    sqlite::migrate(*db, schema_steps);
}

bool sqlite_repository::is_storage_error(const sdk::error& e) const noexcept {
    return dynamic_cast<const sqlite::sqlite_error*>(&e) != nullptr;
}

upsert_result sqlite_repository::upsert(const document_input& doc, bool force, deadline) {
    const auto& chunking = chunking_;
    const auto wanted_tags = doc.tags ? std::optional(sorted_unique(*doc.tags)) : std::nullopt;
    auto content_is_current = [&](const std::optional<stored_document>& s) {
        return rag::content_is_current(s, doc, chunking, force);
    };
    auto db = pool_.acquire();

    // Look first without the write lock: re-indexing a folder mostly finds unchanged files, and
    // those then cost one read and never wait for a writer.
    const auto before = find_document(*db, doc.source);
    check_kind(before, doc);
    if (content_is_current(before) && (!wanted_tags || *wanted_tags == stored_tags(*db, before->id)))
        return {change::unchanged, before->chunks, before->chars, false};

    // Chunk before BEGIN IMMEDIATE, so the write lock is held only for the inserts.
    std::optional<std::vector<chunk_span>> chunks;
    if (!content_is_current(before)) chunks = split_into_chunks(doc.text, chunking);

    sqlite::transaction tx(*db);
    const auto now = find_document(*db, doc.source);  // another writer may have been first
    check_kind(now, doc);
    upsert_result result;
    int64_t id = 0;
    if (content_is_current(now)) {
        id = now->id;
        result = {change::unchanged, now->chunks, now->chars, false};
    } else {
        if (!chunks) chunks = split_into_chunks(doc.text, chunking);
        const auto chars = static_cast<int64_t>(plugins::text::count_chars(doc.text));
        id = write_document(*db, doc, now, *chunks, chunking, chars);
        result = {now ? change::updated : change::added, static_cast<int64_t>(chunks->size()), chars, false};
    }
    if (wanted_tags) result.tags_changed = replace_tags(*db, id, *wanted_tags);
    tx.commit();
    return result;
}

std::vector<search_hit> sqlite_repository::search(const search_request& request, deadline) {
    auto db = pool_.acquire();
    auto st = db->prepare(search_sql);
    st.bind_all(match_expression(request.words), json_list(request.sources),
                json_list(folder_prefixes(request.folders)), json_list(sorted_unique(request.tags)), request.limit,
                request.snippet_tokens);
    std::vector<search_hit> hits;
    while (st.step()) {
        hits.push_back(search_hit{st.string(0), st.int64(1), st.int64(2), st.int64(3), st.string(4), st.real(5),
                                  st.string(6), st.string(7)});
    }
    return hits;
}

store_stats sqlite_repository::stats(deadline) {
    auto db = pool_.acquire();
    // One read transaction, so the counts agree with each other under concurrent writes.
    db->exec("BEGIN");
    store_stats s;
    {
        auto st = db->prepare(
            "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(bytes), 0), max(indexed_at) "
            "FROM documents");
        if (st.step()) {
            s.documents = st.int64(0);
            s.chunks = st.int64(1);
            s.bytes = st.int64(2);
            s.last_indexed = st.optional_string(3);
        }
    }
    db->exec("COMMIT");
    return s;
}

std::vector<document_summary> sqlite_repository::documents(int64_t after_id, int64_t limit, deadline) {
    auto db = pool_.acquire();
    auto st = db->prepare(
        "SELECT d.id, d.source, d.kind, d.chars, d.chunks, "
        "(SELECT coalesce(json_group_array(tag), '[]') FROM (SELECT tag FROM tags WHERE document_id = d.id "
        "ORDER BY tag)) FROM documents d WHERE d.id > ?1 ORDER BY d.id LIMIT ?2");
    st.bind_all(after_id, limit);
    std::vector<document_summary> out;
    while (st.step()) out.push_back({st.int64(0), st.string(1), st.string(2), st.int64(3), st.int64(4), st.string(5)});
    return out;
}

std::optional<std::string> sqlite_repository::text_of(const std::string& source, deadline) {
    auto db = pool_.acquire();
    sqlite::transaction tx(*db);  // one snapshot: the document and its chunks agree
    auto st = db->prepare(
        "SELECT c.start_char, c.end_char, f.text FROM documents d JOIN chunks c ON c.document_id = d.id "
        "JOIN chunks_fts f ON f.rowid = c.id WHERE d.source = ?1 ORDER BY c.seq");
    st.bind_all(source);
    std::optional<std::string> out;
    int64_t covered = 0;  // characters of the document already in `out`
    auto exists = db->prepare("SELECT 1 FROM documents WHERE source = ?1");
    exists.bind_all(source);
    if (exists.step()) out.emplace();
    while (st.step()) append_chunk(*out, covered, st.int64(0), st.int64(1), st.text(2));
    tx.commit();
    return out;
}

removal sqlite_repository::remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders,
                                  deadline) {
    auto db = pool_.acquire();
    sqlite::transaction tx(*db);
    std::vector<std::pair<int64_t, int64_t>> doomed;  // id, chunks
    removal r;
    {
        auto st = db->prepare(documents_matching);
        st.bind_all(json_list(sources).value_or("[]"), json_list(folder_prefixes(folders)).value_or("[]"));
        while (st.step()) {
            doomed.emplace_back(st.int64(0), st.int64(1));
            r.sources.emplace_back(st.text(2));
        }
    }
    auto delete_tags = db->prepare("DELETE FROM tags WHERE document_id = ?1");
    auto delete_document = db->prepare("DELETE FROM documents WHERE id = ?1");
    for (const auto& [id, chunks] : doomed) {
        delete_chunks(*db, id);
        delete_tags.bind(1, id).run();
        delete_tags.reset();
        delete_document.bind(1, id).run();
        delete_document.reset();
        r.documents += 1;
        r.chunks += chunks;
    }
    tx.commit();
    return r;
}

std::vector<std::string> sqlite_repository::file_sources_under(const std::string& folder, deadline) {
    const std::string prefix = folder_prefixes({folder}).front();
    auto db = pool_.acquire();
    auto st = db->prepare("SELECT source FROM documents WHERE kind = 'file' AND source > ?1 AND source < ?2");
    st.bind_all(prefix + "/", prefix + "0");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.string(0));
    return out;
}

}  // namespace toolhost::plugins::rag

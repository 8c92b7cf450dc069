#include "postgres_repository.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/text.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace toolhost::plugins::rag {

namespace pg = postgres;
namespace json = boost::json;

namespace {

// How often an upsert looks again when the document it wants to write appears and disappears
// under it (another host inserting, then deleting, the same source at the same moment).
constexpr int max_upsert_attempts = 8;

// Step 1 of the schema.
//
// Full text: rag_search and rag_search_text() (postgres::fts5_like_search_objects(): what the
// SQLite side's FTS5 tokenizer matches, since both backends must find the same chunks for a
// query), the same configuration as memory's under rag's own names.
//
// unaccent, the database's, is memory's too: migrate()'s schema lock keeps the two tools from
// creating it at once (postgres::schema_lock_key()).
//
// rag_documents holds what `index` compares to skip unchanged files (content_hash and how the
// document was cut), unique by source: INSERT ... ON CONFLICT (source) is what makes concurrent
// upserts of one source, here or on other hosts, end as one document. rag_documents_by_prefix
// serves the folder filters (LIKE 'folder/%' under any collation). The chunk text lives in
// rag_chunks; its `search` column is generated from it, so it can never disagree with it, and
// GIN indexes it. Tags and chunks go with their document (ON DELETE CASCADE).
constexpr std::string_view schema_v1_tables = R"sql(
CREATE TABLE rag_documents (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text        NOT NULL CHECK (length(source) > 0),
    kind          text        NOT NULL CHECK (kind IN ('file', 'text')),
    content_hash  text        NOT NULL,
    bytes         bigint      NOT NULL,
    chars         bigint      NOT NULL,
    chunks        bigint      NOT NULL,
    chunk_size    bigint      NOT NULL,
    chunk_overlap bigint      NOT NULL,
    indexed_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rag_documents_source UNIQUE (source)
);
CREATE INDEX rag_documents_by_prefix ON rag_documents (source text_pattern_ops);

CREATE TABLE rag_tags (
    document_id bigint NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
    tag         text   NOT NULL,
    PRIMARY KEY (document_id, tag)
);
CREATE INDEX rag_tags_by_tag ON rag_tags (tag);

CREATE TABLE rag_chunks (
    id          bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id bigint   NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
    seq         integer  NOT NULL,
    start_char  bigint   NOT NULL,
    end_char    bigint   NOT NULL,
    text        text     NOT NULL,
    search      tsvector GENERATED ALWAYS AS (to_tsvector('rag_search', rag_search_text(text))) STORED,
    CONSTRAINT rag_chunks_position UNIQUE (document_id, seq)
);
CREATE INDEX rag_chunks_search ON rag_chunks USING gin (search);
)sql";

// PostgreSQL text cannot hold U+0000 (SQLite can). Extracted text never has one (sanitize_utf8
// drops it), but a source or a tag from a caller may.
bool storable(std::string_view text) { return text.find('\0') == std::string_view::npos; }

void check_storable(std::string_view field, std::string_view text) {
    if (!storable(text))
        invalid_argument(field, "contains a NUL character (U+0000), which the PostgreSQL storage cannot hold");
}

// The document named `source`; with `lock`, its row stays locked until the transaction ends
// (FOR UPDATE: a concurrent writer of the same source waits for this one, then reads what it
// wrote).
std::optional<stored_document> find_document(pg::connection& c, std::string_view source, bool lock) {
    const auto r =
        c.exec(std::string("SELECT id, kind, content_hash, chars, chunks, chunk_size, chunk_overlap FROM rag_documents"
                           " WHERE source = $1") +
                   (lock ? " FOR UPDATE" : ""),
               source);
    if (r.rows() == 0) return std::nullopt;
    stored_document d;
    r.read_row(0, d.id, d.kind, d.content_hash, d.chars, d.chunks, d.chunk_size, d.chunk_overlap);
    return d;
}

std::vector<std::string> stored_tags(pg::connection& c, int64_t id) {
    // COLLATE "C": by byte, as SQLite and sorted_unique() order them.
    const auto r = c.exec("SELECT tag FROM rag_tags WHERE document_id = $1 ORDER BY tag COLLATE \"C\"", id);
    std::vector<std::string> tags;
    for (int i = 0; i < r.rows(); ++i) tags.push_back(r.string(i, 0));
    return tags;
}

// Replaces the tags of a document; false when they were already exactly these.
bool replace_tags(pg::connection& c, int64_t id, const std::vector<std::string>& tags) {
    if (stored_tags(c, id) == tags) return false;
    c.exec("DELETE FROM rag_tags WHERE document_id = $1", id);
    if (!tags.empty())
        c.exec("INSERT INTO rag_tags (document_id, tag) SELECT $1, unnest($2::text[])", id, pg::text_array(tags));
    return true;
}

// Inserts the chunks of a document (which has none), in one statement.
void insert_chunks(pg::connection& c, int64_t id, std::string_view text, const std::vector<chunk_span>& chunks) {
    if (chunks.empty()) return;
    std::vector<int64_t> starts, ends;
    std::vector<std::string> texts;
    for (const auto& s : chunks) {
        starts.push_back(static_cast<int64_t>(s.begin_char));
        ends.push_back(static_cast<int64_t>(s.end_char));
        texts.emplace_back(text.substr(s.begin_byte, s.end_byte - s.begin_byte));
    }
    c.exec(
        "INSERT INTO rag_chunks (document_id, seq, start_char, end_char, text)"
        " SELECT $1, u.n - 1, u.s, u.e, u.t FROM unnest($2::bigint[], $3::bigint[], $4::text[])"
        " WITH ORDINALITY AS u(s, e, t, n)",
        id, pg::int_array(starts), pg::int_array(ends), pg::text_array(texts));
}

// A LIKE pattern for the names below `folder` (without its trailing '/'): "folder/" and at least
// one more character, as the SQLite side's range ("folder/", "folder0") selects. The folder's own
// '%', '_' and '\' are escaped: they are characters of a name, not wildcards.
std::string below_pattern(std::string_view folder) {
    std::string p;
    for (const char ch : folder) {
        if (ch == '%' || ch == '_' || ch == '\\') p += '\\';
        p += ch;
    }
    return p + "/_%";
}

// The LIKE patterns of the storable folders (see folder_prefixes()).
std::vector<std::string> below_patterns(const std::vector<std::string>& folders) {
    std::vector<std::string> out;
    for (const auto& f : folder_prefixes(folders))
        if (storable(f)) out.push_back(below_pattern(f));
    return out;
}

std::vector<std::string> storable_only(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names)
        if (storable(n)) out.push_back(n);
    return out;
}

pg::param optional_array(const std::vector<std::string>& items) {
    return items.empty() ? pg::param(nullptr) : pg::text_array(items);
}

// A JSON array from PostgreSQL's json_agg() (which puts a space after each comma), in the
// compact form SQLite's json_group_array() gives, so that both backends describe tags alike.
std::string compact_json(std::string_view text) { return json::serialize(json::parse(text)); }

// The tags of document d as a JSON array, by byte.
constexpr std::string_view tags_json_sql =
    "(SELECT coalesce(json_agg(t.tag ORDER BY t.tag COLLATE \"C\"), '[]') FROM rag_tags AS t"
    " WHERE t.document_id = d.id)::text";

// The tsquery of the words: each becomes one quoted phrase of websearch_to_tsquery, joined by
// "or", so the words are OR-ed and each is a literal (inside quotes "or" and "-" are words, and
// rag_search_text has removed every quote), exactly as the SQLite side quotes each word for FTS5.
// A word that is only punctuation becomes an empty phrase, which matches nothing on both sides.
//
// Ranking: ts_rank_cd (cover density) with normalization 1, dividing by 1 + log(the chunk's
// length in words): like bm25 it favours short chunks that mention the words more often; unlike
// bm25 it knows nothing of the rest of the corpus (no IDF). Ties go to the older chunk.
//
// The tsquery is computed once (the CTE) and used as a value, (SELECT query FROM q): so the
// planner sees a constant for `search @@` and takes the GIN index (a join with the tsquery as a
// row instead scans every chunk). The inner query ranks, filters and cuts to LIMIT; ts_headline
// and the tags run only for the rows returned. Filters: $2 sources (exact names), $3 LIKE
// patterns (below_pattern()), $4 tags, every one of which a document must carry (sorted_unique(),
// so cardinality counts each once).
const std::string search_sql = R"sql(
WITH q AS (SELECT websearch_to_tsquery('rag_search', (SELECT string_agg('"' || rag_search_text(w) || '"', ' or ')
                                                      FROM unnest($1::text[]) AS w)) AS query)
SELECT r.source, r.seq, r.start_char, r.end_char, r.text, r.score,
       ts_headline('rag_search', r.text, (SELECT query FROM q), $6),
       (SELECT coalesce(json_agg(t.tag ORDER BY t.tag COLLATE "C"), '[]') FROM rag_tags AS t
        WHERE t.document_id = r.document_id)::text
FROM (SELECT d.source, c.seq, c.start_char, c.end_char, c.text, c.id, c.document_id,
             ts_rank_cd(c.search, (SELECT query FROM q), 1) AS score
      FROM rag_chunks AS c
      JOIN rag_documents AS d ON d.id = c.document_id
      WHERE c.search @@ (SELECT query FROM q)
        AND ($2::text[] IS NULL OR d.source = ANY ($2::text[]))
        AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS f(pattern)
                                           WHERE d.source LIKE f.pattern))
        AND ($4::text[] IS NULL OR (SELECT count(*) FROM rag_tags AS t
                                    WHERE t.document_id = d.id AND t.tag = ANY ($4::text[]))
                                   = cardinality($4::text[]))
      ORDER BY score DESC, c.id
      LIMIT $5) AS r
ORDER BY r.score DESC, r.id
)sql";

// ts_headline's options for a snippet of about `tokens` words around the best match, the matches
// in <mark></mark> as FTS5's snippet() marks them.
std::string headline_options(int tokens) {
    const int max_words = std::max(2, tokens);
    const int min_words = std::max(1, max_words / 2);
    return "StartSel=<mark>, StopSel=</mark>, MaxWords=" + std::to_string(max_words) +
           ", MinWords=" + std::to_string(min_words) + ", ShortWord=0, MaxFragments=1, FragmentDelimiter=\"…\"";
}

bool has_word_character(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char ch) { return std::isalnum(ch) || ch >= 0x80; });
}

// ts_headline's excerpt with "…" where it leaves out words before or after it, as FTS5's
// snippet() does. Left as it is when the excerpt cannot be found in the chunk.
std::string with_ellipses(const std::string& headline, std::string_view chunk) {
    std::string plain = headline;
    for (const std::string_view mark : {std::string_view("<mark>"), std::string_view("</mark>")})
        for (auto at = plain.find(mark); at != std::string::npos; at = plain.find(mark, at))
            plain.erase(at, mark.size());
    const auto at = chunk.find(plain);
    if (plain.empty() || at == std::string_view::npos) return headline;
    std::string out;
    if (has_word_character(chunk.substr(0, at))) out += "…";
    out += headline;
    if (has_word_character(chunk.substr(at + plain.size()))) out += "…";
    return out;
}

}  // namespace

const std::vector<std::string_view>& postgres_repository::schema_steps() {
    static const std::string schema_v1 = pg::fts5_like_search_objects("rag") + std::string(schema_v1_tables);
    static const std::vector<std::string_view> steps{schema_v1};
    return steps;
}

postgres_repository::postgres_repository(const std::string& url, size_t connections, const chunk_options& chunking,
                                         deadline until)
    : chunking_(chunking), pool_(url, connections, "toolhost rag") {
    try {
        auto c = pool_.acquire(until);
        pg::migrate(*c, "rag", schema_steps());
    } catch (const sdk::error& e) {
        error_context("initialize", e);
        throw;
    }
}

bool postgres_repository::is_storage_error(const sdk::error& e) const noexcept {
    return dynamic_cast<const pg::postgres_error*>(&e) != nullptr;
}

void postgres_repository::error_context(std::string_view operation, const sdk::error& e) const {
    pg::name_the_database("rag." + std::string(operation), e, pool_.where());
}

upsert_result postgres_repository::upsert(const document_input& doc, bool force, deadline until) {
    check_storable("source", doc.source);
    check_storable("text", doc.text);
    if (doc.tags)
        for (size_t i = 0; i < doc.tags->size(); ++i) check_storable("tags/" + std::to_string(i), (*doc.tags)[i]);
    const auto wanted_tags = doc.tags ? std::optional(sorted_unique(*doc.tags)) : std::nullopt;
    auto content_is_current = [&](const std::optional<stored_document>& s) {
        return rag::content_is_current(s, doc, chunking_, force);
    };
    auto c = pool_.acquire(until);

    // Look first without a lock: re-indexing a folder mostly finds unchanged files, and those then
    // cost one read and never wait for a writer.
    const auto before = find_document(*c, doc.source, false);
    if (before) check_kind(before->kind, doc);
    if (content_is_current(before) && (!wanted_tags || *wanted_tags == stored_tags(*c, before->id)))
        return {change::unchanged, before->chunks, before->chars, false};

    // Chunk before the transaction, so that locks are held only for the writes.
    std::optional<std::vector<chunk_span>> chunks;
    const auto cut = [&]() -> const std::vector<chunk_span>& {
        if (!chunks) chunks = split_into_chunks(doc.text, chunking_);
        return *chunks;
    };
    if (!content_is_current(before)) cut();
    const auto chars = static_cast<int64_t>(text::count_chars(doc.text));

    // Everything in one transaction: the document, its chunks and its tags commit together or not
    // at all (and a write abandoned at the call's deadline is rolled back by the server).
    pg::transaction tx(*c);
    upsert_result result;
    int64_t id = 0;
    for (int attempt = 0;; ++attempt) {
        if (attempt == max_upsert_attempts)
            throw sdk::error(sdk::status::unavailable, "source: " + doc.source + " was added and removed " +
                                                           std::to_string(max_upsert_attempts) +
                                                           " times by others while this write ran; try again");
        // Another writer may have been first: lock what is stored, if anything, and decide on it.
        if (const auto now = find_document(*c, doc.source, true)) {
            check_kind(now->kind, doc);
            id = now->id;
            if (content_is_current(now)) {
                result = {change::unchanged, now->chunks, now->chars, false};
            } else {
                const auto& spans = cut();
                c->exec(
                    "UPDATE rag_documents SET content_hash = $2, bytes = $3, chars = $4, chunks = $5, chunk_size = $6,"
                    " chunk_overlap = $7, indexed_at = now() WHERE id = $1",
                    id, doc.content_hash, doc.bytes, chars, spans.size(), chunking_.size, chunking_.overlap);
                c->exec("DELETE FROM rag_chunks WHERE document_id = $1", id);
                insert_chunks(*c, id, doc.text, spans);
                result = {change::updated, static_cast<int64_t>(spans.size()), chars, false};
            }
            break;
        }
        // Nothing stored: insert. ON CONFLICT waits for a concurrent insert of the same source on
        // another connection; once that commits, nothing is inserted here, and the next round
        // locks and reads its document.
        const auto& spans = cut();
        const auto inserted = c->exec(
            "INSERT INTO rag_documents (source, kind, content_hash, bytes, chars, chunks, chunk_size, chunk_overlap)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source) DO NOTHING RETURNING id",
            doc.source, kind_name(doc.kind), doc.content_hash, doc.bytes, chars, spans.size(), chunking_.size,
            chunking_.overlap);
        if (inserted.rows() == 1) {
            id = inserted.int64(0, 0);
            insert_chunks(*c, id, doc.text, spans);
            result = {change::added, static_cast<int64_t>(spans.size()), chars, false};
            break;
        }
    }
    if (wanted_tags) result.tags_changed = replace_tags(*c, id, *wanted_tags);
    tx.commit();
    return result;
}

std::vector<search_hit> postgres_repository::search(const search_request& request, deadline until) {
    // A name or tag with U+0000 cannot be stored here, so a filter on it alone matches nothing.
    const auto sources = storable_only(request.sources);
    const auto patterns = below_patterns(request.folders);
    const auto tags = sorted_unique(request.tags);
    if ((!request.sources.empty() && sources.empty()) || (!request.folders.empty() && patterns.empty()) ||
        !std::all_of(tags.begin(), tags.end(), [](const std::string& t) { return storable(t); }))
        return {};
    auto c = pool_.acquire(until);
    const auto r = c->exec(search_sql, pg::text_array(request.words), optional_array(sources), optional_array(patterns),
                           optional_array(tags), request.limit, headline_options(request.snippet_tokens));
    std::vector<search_hit> hits;
    for (int i = 0; i < r.rows(); ++i) {
        search_hit h;
        std::string headline, tags_json;
        r.read_row(i, h.source, h.chunk, h.start_char, h.end_char, h.text, h.score, headline, tags_json);
        h.snippet = with_ellipses(headline, h.text);
        h.tags_json = compact_json(tags_json);
        hits.push_back(std::move(h));
    }
    return hits;
}

store_stats postgres_repository::stats(deadline until) {
    auto c = pool_.acquire(until);
    // One statement, one snapshot: the counts agree with each other under concurrent writes.
    const auto r = c->exec(
        "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(bytes), 0),"
        " to_char(max(indexed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM rag_documents");
    store_stats s;
    r.read_row(0, s.documents, s.chunks, s.bytes, s.last_indexed);
    return s;
}

std::vector<document_summary> postgres_repository::documents(int64_t after_id, int64_t limit, deadline until) {
    auto c = pool_.acquire(until);
    const auto r = c->exec("SELECT d.id, d.source, d.kind, d.chars, d.chunks, " + std::string(tags_json_sql) +
                               " FROM rag_documents AS d WHERE d.id > $1 ORDER BY d.id LIMIT $2",
                           after_id, limit);
    std::vector<document_summary> out;
    for (int i = 0; i < r.rows(); ++i) {
        document_summary d;
        r.read_row(i, d.id, d.source, d.kind, d.chars, d.chunks, d.tags_json);
        d.tags_json = compact_json(d.tags_json);
        out.push_back(std::move(d));
    }
    return out;
}

std::optional<std::string> postgres_repository::text_of(const std::string& source, deadline until) {
    if (!storable(source)) return std::nullopt;
    auto c = pool_.acquire(until);
    // One snapshot: the document and its chunks agree.
    pg::transaction tx(*c, "ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    if (c->exec("SELECT 1 FROM rag_documents WHERE source = $1", source).rows() == 0) return std::nullopt;
    const auto r = c->exec(
        "SELECT c.start_char, c.end_char, c.text FROM rag_documents AS d JOIN rag_chunks AS c ON c.document_id = d.id"
        " WHERE d.source = $1 ORDER BY c.seq",
        source);
    std::string out;
    int64_t covered = 0;  // characters of the document already in `out`
    for (int i = 0; i < r.rows(); ++i) append_chunk(out, covered, r.int64(i, 0), r.int64(i, 1), r.text(i, 2));
    tx.commit();
    return out;
}

removal postgres_repository::remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders,
                                    deadline until) {
    const auto names = storable_only(sources);
    const auto patterns = below_patterns(folders);
    removal out;
    if (names.empty() && patterns.empty()) return out;
    auto c = pool_.acquire(until);
    // One statement in a transaction of its own: a delete abandoned at the call's deadline is
    // rolled back, never half done. Tags and chunks go with their documents (ON DELETE CASCADE).
    pg::transaction tx(*c);
    const auto r = c->exec(
        "DELETE FROM rag_documents AS d WHERE d.source = ANY ($1::text[])"
        " OR EXISTS (SELECT 1 FROM unnest($2::text[]) AS f(pattern) WHERE d.source LIKE f.pattern)"
        " RETURNING d.id, d.source, d.chunks",
        pg::text_array(names), pg::text_array(patterns));
    std::vector<std::pair<int64_t, int>> order;  // id, row: the sources by id, as SQLite lists them
    for (int i = 0; i < r.rows(); ++i) order.emplace_back(r.int64(i, 0), i);
    std::sort(order.begin(), order.end());
    for (const auto& [id, row] : order) {
        out.documents += 1;
        out.chunks += r.int64(row, 2);
        out.sources.push_back(r.string(row, 1));
    }
    tx.commit();
    return out;
}

std::vector<std::string> postgres_repository::file_sources_under(const std::string& folder, deadline until) {
    const auto patterns = below_patterns({folder});
    if (patterns.empty()) return {};
    auto c = pool_.acquire(until);
    const auto r =
        c->exec("SELECT source FROM rag_documents WHERE kind = 'file' AND source LIKE $1 ORDER BY source COLLATE \"C\"",
                patterns.front());
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.string(i, 0));
    return out;
}

}  // namespace toolhost::plugins::rag

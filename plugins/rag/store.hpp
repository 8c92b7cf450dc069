// rag's storage: one SQLite file (WAL) holding documents, their tags, their chunks and an FTS5
// index over the chunk text.
//
// Threading: a store is safe to use from several threads at once. Each operation borrows a
// connection from a small pool, so searches run in parallel (WAL readers never block each
// other or the writer) and writes serialize on SQLite's own write lock (BEGIN IMMEDIATE, waiting
// up to the busy timeout, then UNAVAILABLE). Several processes may share the file the same way.
//
// Atomicity: every write (one document, or one deletion) is a single transaction; a failure
// rolls it back and leaves the previous state intact, never half a document.
#pragma once

#include "chunker.hpp"

#include <toolhost_plugins/connection_pool.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace toolhost::plugins::rag {

namespace sqlite = toolhost::plugins::sqlite;

struct store_options {
    std::filesystem::path file;
    chunk_options chunking;
    int busy_timeout_ms = 5000;
};

/// A document from a file (kept in step with the file system by `index`) or from index_text.
enum class document_kind { file, text };
std::string_view kind_name(document_kind k) noexcept;

struct document_input {
    std::string source;  ///< unique name: a file's path, or index_text's source
    document_kind kind = document_kind::text;
    std::string content_hash;  ///< SHA-256 of the raw content; equal hashes mean "unchanged"
    int64_t bytes = 0;         ///< size of the raw content
    std::string text;          ///< the extracted text to chunk (valid UTF-8)
    /// The document's tags; nullopt keeps the ones it has (none for a new document).
    std::optional<std::vector<std::string>> tags;
};

enum class change { added, updated, unchanged };
std::string_view change_name(change c) noexcept;

struct upsert_result {
    change what = change::unchanged;
    int64_t chunks = 0;  ///< chunks the document has now
    int64_t chars = 0;   ///< characters of its text
    bool tags_changed = false;
};

struct search_request {
    std::string match;                 ///< an FTS5 expression (from sqlite::fts5_query)
    std::vector<std::string> sources;  ///< keep documents with one of these exact names (empty: all)
    std::vector<std::string> folders;  ///< keep documents below one of these prefixes (empty: all)
    std::vector<std::string> tags;     ///< keep documents that carry every one of these
    int64_t limit = 5;
    int snippet_tokens = 24;
};

struct search_hit {
    std::string source;
    int64_t chunk = 0;       ///< 0-based index of the chunk in its document
    int64_t start_char = 0;  ///< character range of the chunk in the document's text
    int64_t end_char = 0;
    std::string text;
    double score = 0;       ///< -bm25: higher is better
    std::string snippet;    ///< with the matched terms in <mark></mark>
    std::string tags_json;  ///< the document's tags as a JSON array
};

struct store_stats {
    int64_t documents = 0;
    int64_t chunks = 0;
    int64_t bytes = 0;
    std::optional<std::string> last_indexed;  ///< ISO 8601 UTC of the newest write
};

/// One stored document as a listing shows it.
struct document_summary {
    int64_t id = 0;
    std::string source;
    std::string kind;  ///< "file" or "text"
    int64_t chars = 0;
    int64_t chunks = 0;
    std::string tags_json;  ///< a JSON array
};

struct removal {
    int64_t documents = 0;
    int64_t chunks = 0;
    std::vector<std::string> sources;  ///< of the documents removed
};

class store {
public:
    /// Opens (creating) the database and brings its schema up to date. Throws sqlite_error.
    explicit store(store_options options);

    /// Adds or replaces one document, unless its content hash and the chunking settings are
    /// what is stored already (and `force` is false): then only its tags may change. Chunking
    /// happens before the write lock is taken. A source stored with another kind is refused
    /// (FAILED_PRECONDITION naming it): files and texts never overwrite each other.
    upsert_result upsert(const document_input& doc, bool force);

    /// The best `limit` chunks for `request.match`, best first.
    std::vector<search_hit> search(const search_request& request);

    store_stats stats();

    /// Up to `limit` documents with an id above `after_id`, by id (a page of a listing).
    std::vector<document_summary> documents(int64_t after_id, int64_t limit);

    /// The text of the document `source` as its chunks hold it (overlaps removed); none when there
    /// is no such document.
    std::optional<std::string> text_of(const std::string& source);

    /// Removes the documents named in `sources` and those below the prefixes in `folders`, in
    /// one transaction.
    removal remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders);

    /// The file documents below `folder` (for spotting files that disappeared).
    std::vector<std::string> file_sources_under(const std::string& folder);

    const store_options& options() const noexcept { return options_; }

private:
    store_options options_;
    sqlite::connection_pool pool_;
};

}  // namespace toolhost::plugins::rag

// rag's storage, behind one narrow interface at the level of the tool's operations.
//
// rag_tool.cpp and indexer.cpp read arguments and files, extract text and shape results; a
// repository only keeps documents (their tags, their chunks and the content hashes that make
// `index` incremental) and finds chunks for a query. Each method is one atomic step (one
// transaction, or one snapshot for a read), so an operation never needs to know how its backend
// makes it atomic. Two implementations:
//
// - sqlite_repository: one SQLite file in WAL mode with an FTS5 index (BM25), the embedded
//   default;
// - postgres_repository: one PostgreSQL database that several hosts share, with a generated
//   tsvector column under a GIN index (ts_rank_cd), built only when libpq is found.
//
// One contract test suite runs against both, and an agreement test compares what they find on one
// corpus (tests/plugins/test_rag_storage.cpp).
//
// Threading: a repository is safe to use from several threads at once; every call leases a
// connection of its own from a pool.
//
// Every method takes the deadline of the call it serves. PostgreSQL never waits past it for a
// lock or the network; SQLite waits for another writer up to busy_timeout_ms, as it always did.
// Storage trouble is thrown as toolhost::sdk::error with a status the host can act on
// (UNAVAILABLE for a database that is locked, away or broken; retried for the idempotent
// operations); is_storage_error() tells it from a problem with one document, and error_context()
// names the place for the operator.
#pragma once

#include "chunker.hpp"
#include "config.hpp"

#include <toolhost/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

using deadline = std::chrono::steady_clock::time_point;

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
    /// The words to look for (query_words(): stop words dropped, no white space or control
    /// characters in a word), OR-ed, each a literal: every backend quotes each one for its own
    /// full-text syntax.
    std::vector<std::string> words;
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
    double score = 0;       ///< higher is better; SQLite: -bm25, PostgreSQL: ts_rank_cd
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

class repository {
public:
    virtual ~repository() = default;

    /// Adds or replaces one document, unless its content hash and the chunking settings are
    /// what is stored already (and `force` is false): then only its tags may change. Chunking
    /// happens before any write lock is taken. A source stored with another kind is refused
    /// (FAILED_PRECONDITION naming it): files and texts never overwrite each other. Concurrent
    /// upserts of one source, from threads or hosts, leave one document with the chunks of one
    /// of them; of equal ones, one is `added` and the others `unchanged`.
    virtual upsert_result upsert(const document_input& doc, bool force, deadline until) = 0;

    /// The best `limit` chunks for `request.words`, best first.
    virtual std::vector<search_hit> search(const search_request& request, deadline until) = 0;

    /// The counts, from one snapshot.
    virtual store_stats stats(deadline until) = 0;

    /// Up to `limit` documents with an id above `after_id`, by id (a page of a listing).
    virtual std::vector<document_summary> documents(int64_t after_id, int64_t limit, deadline until) = 0;

    /// The text of the document `source` as its chunks hold it (overlaps removed); none when there
    /// is no such document.
    virtual std::optional<std::string> text_of(const std::string& source, deadline until) = 0;

    /// Removes the documents named in `sources` and those below the prefixes in `folders`, in
    /// one transaction.
    virtual removal remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders,
                           deadline until) = 0;

    /// The file documents below `folder` (for spotting files that disappeared).
    virtual std::vector<std::string> file_sources_under(const std::string& folder, deadline until) = 0;

    /// Whether `e` is this repository's storage in trouble (the database locked, away, full or
    /// broken), rather than a problem with what one call asked for: a folder run stops on it
    /// instead of listing it as one file's error.
    virtual bool is_storage_error(const sdk::error& e) const noexcept = 0;

    /// For an error thrown by this repository: throws it again with its place named and the same
    /// status (PostgreSQL: "rag.<operation>: the database at host:port/name is unavailable: ...",
    /// never a password). Returns for any other error, and for SQLite's, whose messages are
    /// what they always were.
    virtual void error_context(std::string_view operation, const sdk::error& e) const = 0;

    /// The tool stops: closes idle connections.
    virtual void close() noexcept = 0;
};

/// Folder prefixes without a trailing '/', so that "docs/" and "docs" mean the same: a document
/// lies below folder F when its source starts with "F/" and goes on after it.
std::vector<std::string> folder_prefixes(const std::vector<std::string>& folders);

/// `tags` sorted (by byte, as both backends compare them) without repeats.
std::vector<std::string> sorted_unique(std::vector<std::string> tags);

/// What a repository reads of a stored document to decide an upsert.
struct stored_document {
    int64_t id = 0;
    std::string kind;  ///< "file" or "text"
    std::string content_hash;
    int64_t chars = 0;
    int64_t chunks = 0;
    int64_t chunk_size = 0;  ///< how it was cut
    int64_t chunk_overlap = 0;
};

/// Whether `stored` already holds `doc` as `chunking` would cut it (same content hash, same
/// chunk size and overlap), so that an upsert without `force` has no text to write.
bool content_is_current(const std::optional<stored_document>& stored, const document_input& doc,
                        const chunk_options& chunking, bool force) noexcept;

/// Refuses to let `doc` replace a stored document of another kind (`stored_kind`: "file" or
/// "text"): FAILED_PRECONDITION naming the source.
void check_kind(std::string_view stored_kind, const document_input& doc);

/// Appends the part of one chunk (characters [start, end) of its document, text `chunk`) that
/// `out` does not hold yet; `covered` is the characters `out` holds. Chunks overlap: fed in order,
/// they rebuild the document's text.
void append_chunk(std::string& out, int64_t& covered, int64_t start, int64_t end, std::string_view chunk);

/// The repository that the configuration chooses, open, with its schema created or migrated.
/// Throws FAILED_PRECONDITION when the configuration asks for PostgreSQL and this build has no
/// libpq; otherwise what opening the backend throws.
std::unique_ptr<repository> open_repository(const rag_config& config, const std::filesystem::path& data_dir);

}  // namespace toolhost::plugins::rag

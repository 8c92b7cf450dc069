// rag's embedded storage: one SQLite file (WAL) holding documents, their tags, their chunks and an
// FTS5 index over the chunk text (repository.hpp).
//
// Threading: each operation borrows a connection from a small pool, so searches run in parallel
// (WAL readers never block each other or the writer) and writes serialize on SQLite's own write
// lock (BEGIN IMMEDIATE, waiting up to the busy timeout, then UNAVAILABLE). Several processes may
// share the file the same way. The call's deadline is not used: a write waits for another writer
// up to busy_timeout_ms.
//
// Atomicity: every write (one document, or one deletion) is a single transaction; a failure
// rolls it back and leaves the previous state intact, never half a document.
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/connection_pool.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <filesystem>

namespace toolhost::plugins::rag {

namespace sqlite = toolhost::plugins::sqlite;

class sqlite_repository final : public repository {
public:
    /// Opens (creating) the database and brings its schema up to date. Throws sqlite_error.
    sqlite_repository(const std::filesystem::path& file, const chunk_options& chunking, int busy_timeout_ms);

    upsert_result upsert(const document_input& doc, bool force, deadline until) override;
    std::vector<search_hit> search(const search_request& request, deadline until) override;
    store_stats stats(deadline until) override;
    std::vector<document_summary> documents(int64_t after_id, int64_t limit, deadline until) override;
    std::optional<std::string> text_of(const std::string& source, deadline until) override;
    removal remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders,
                   deadline until) override;
    std::vector<std::string> file_sources_under(const std::string& folder, deadline until) override;
    bool is_storage_error(const sdk::error& e) const noexcept override;
    void error_context(std::string_view, const sdk::error&) const override {}  // sqlite_error names the file
    void close() noexcept override { pool_.close_idle(); }

private:
    const chunk_options chunking_;
    sqlite::connection_pool pool_;
};

}  // namespace toolhost::plugins::rag

// rag's shared storage: one PostgreSQL database that several hosts use at once (repository.hpp),
// built only when libpq is found. Every call leases its own connection from a pool; PostgreSQL's
// row locks and unique indexes order concurrent writers, here and on other hosts alike.
//
// The schema (versioned in toolhost_migrations, component "rag"): rag_documents (with the content
// hashes that make `index` incremental), rag_tags, and rag_chunks, whose generated tsvector column
// `search` has a GIN index; the text search configuration rag_search and the function
// rag_search_text(). Every object's name starts with rag_, so that the tools can share one
// database; the unaccent extension is the database's, shared with memory (see schema_steps()).
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/postgres.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::rag {

class postgres_repository final : public repository {
public:
    /// Connects to `url` (keeping at most `connections` connections to it) and brings the schema up to date (waiting for another host that is
    /// migrating the same database), giving up at `until`. Throws sdk::error naming the database
    /// ("rag.initialize: the database at host:port/name is unavailable: ...").
    postgres_repository(const std::string& url, size_t connections, const chunk_options& chunking, deadline until);

    /// The schema as numbered steps for postgres::migrate(); never edit a released step, add one.
    static const std::vector<std::string_view>& schema_steps();

    upsert_result upsert(const document_input& doc, bool force, deadline until) override;
    std::vector<search_hit> search(const search_request& request, deadline until) override;
    store_stats stats(deadline until) override;
    std::vector<document_summary> documents(int64_t after_id, int64_t limit, deadline until) override;
    std::optional<std::string> text_of(const std::string& source, deadline until) override;
    removal remove(const std::vector<std::string>& sources, const std::vector<std::string>& folders,
                   deadline until) override;
    std::vector<std::string> file_sources_under(const std::string& folder, deadline until) override;
    bool is_storage_error(const sdk::error& e) const noexcept override;
    void error_context(std::string_view operation, const sdk::error& e) const override;
    void close() noexcept override { pool_.close_idle(); }

private:
    const chunk_options chunking_;
    postgres::connection_pool pool_;
};

}  // namespace toolhost::plugins::rag

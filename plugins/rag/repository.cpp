#include "repository.hpp"

#include "sqlite_repository.hpp"
#if TOOLHOST_RAG_POSTGRESQL
#include "postgres_repository.hpp"
#endif

#include <toolhost_plugins/text.hpp>

#include <algorithm>
#include <utility>

namespace toolhost::plugins::rag {

std::string_view kind_name(document_kind k) noexcept { return k == document_kind::file ? "file" : "text"; }

std::string_view change_name(change c) noexcept {
    switch (c) {
    case change::added: return "added";
    case change::updated: return "updated";
    case change::unchanged: return "unchanged";
    }
    return "unchanged";
}

std::vector<std::string> folder_prefixes(const std::vector<std::string>& folders) {
    std::vector<std::string> out;
    for (auto f : folders) {
        while (!f.empty() && f.back() == '/') f.pop_back();
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

bool content_is_current(const std::optional<stored_document>& stored, const document_input& doc,
                        const chunk_options& chunking, bool force) noexcept {
    return stored && !force && stored->content_hash == doc.content_hash &&
           stored->chunk_size == static_cast<int64_t>(chunking.size) &&
           stored->chunk_overlap == static_cast<int64_t>(chunking.overlap);
}

void check_kind(std::string_view stored_kind, const document_input& doc) {
    if (stored_kind != kind_name(doc.kind))
        throw sdk::error(sdk::status::failed_precondition,
                         doc.source + " is already indexed as a " + std::string(stored_kind) + " document, and a " +
                             std::string(kind_name(doc.kind)) +
                             " document cannot replace it; delete it first or use another name");
}

void append_chunk(std::string& out, int64_t& covered, int64_t start, int64_t end, std::string_view chunk) {
    if (end <= covered) return;
    // Chunks overlap: skip the characters of this one that `out` has already.
    const auto skip = static_cast<std::size_t>(std::max<int64_t>(0, covered - start));
    const std::string_view head = text::truncate_chars(chunk, skip);
    out.append(chunk.substr(head.size()));
    covered = end;
}

std::unique_ptr<repository> open_repository(const rag_config& config, const std::filesystem::path& data_dir) {
    if (!config.storage.postgresql())
        return std::make_unique<sqlite_repository>(data_dir / "rag.db", config.chunking, config.busy_timeout_ms);
#if TOOLHOST_RAG_POSTGRESQL
    // Checked first, so that a URL libpq cannot read is named by where it came from.
    postgres::check_url(config.storage.url, config.storage.origin);
    // Start-up has no call deadline; this bounds the wait for the server and for another host's
    // migration of the same database.
    return std::make_unique<postgres_repository>(config.storage.url, config.storage.connections, config.chunking,
                                                 std::chrono::steady_clock::now() + std::chrono::seconds(60));
#else
    storage::no_postgresql_support(config.storage, "rag");
#endif
}

}  // namespace toolhost::plugins::rag

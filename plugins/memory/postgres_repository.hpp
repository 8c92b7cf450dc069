// The memory tool's shared storage: one PostgreSQL database that several hosts use at once
// (repository.hpp), built only when libpq is found. Every call leases its own connection from a
// pool; PostgreSQL's row locks and unique indexes order concurrent writers, here and on other
// hosts alike.
//
// The schema (versioned in toolhost_migrations, component "memory"): memory_memories, with a
// generated tsvector column `search` under a GIN index, and memory_meta; every object's name
// starts with memory_, so that the tools can share one database.
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/postgres.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::memory {

class postgres_repository final : public repository {
public:
    /// Connects to `url` (keeping at most `connections` connections to it) and brings the schema up to date (waiting for another host that is
    /// migrating the same database), giving up at `until`. Throws postgres_error.
    postgres_repository(const std::string& url, size_t connections, deadline until);

    /// The schema as numbered steps for postgres::migrate(); never edit a released step, add one.
    static const std::vector<std::string_view>& schema_steps();

    insert_outcome insert(const new_memory& m, time::unix_ms now, deadline until) override;
    std::optional<memory_record> find(int64_t id, deadline until) override;
    std::vector<memory_record> recall(const scope& s, std::span<const std::string> words, size_t max_candidates,
                                      const choose_fn& choose, deadline until) override;
    std::vector<memory_record> page(const scope& s, std::optional<page_position> after, size_t limit,
                                    deadline until) override;
    int64_t remove(int64_t id, std::optional<std::string_view> session_id, deadline until) override;
    int64_t remove_session(std::string_view session_id, deadline until) override;
    int64_t delete_expired(time::unix_ms now, std::optional<std::string_view> session_id, int batch,
                           deadline until) override;
    std::vector<std::string> sessions_over_cap(int64_t cap, std::optional<std::string_view> session_id,
                                               deadline until) override;
    int64_t delete_over_cap(std::string_view session_id, int64_t cap, int batch, deadline until) override;
    bool sample_seeded(deadline until) override;
    bool seed_sample(std::span<const new_memory> memories, std::string_view note, deadline until) override;
    void error_context(std::string_view operation, const sdk::error& e) const override;
    void close(sdk::host& host) noexcept override;

private:
    postgres::connection_pool pool_;
};

}  // namespace toolhost::plugins::memory

// The memory tool's embedded storage: one SQLite file in WAL mode with an FTS5 index
// (repository.hpp). Every call leases its own connection from a pool, so reads run in parallel
// and never wait for a writer; writers queue on SQLite's lock (BEGIN IMMEDIATE plus the busy
// timeout), here and in other processes on the same file alike.
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/connection_pool.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace toolhost::plugins::memory {

class sqlite_repository final : public repository {
public:
    /// Opens (creating) the file, brings its schema up to date. Throws sqlite_error naming the
    /// file (UNAVAILABLE, DATA_LOSS for a file that is not a database, FAILED_PRECONDITION for a
    /// schema newer than this plugin).
    sqlite_repository(const std::filesystem::path& file, sqlite::synchronous sync, int busy_timeout_ms);

    /// The schema as numbered steps for sqlite::migrate(). Every statement is IF NOT EXISTS: two
    /// processes that open a new file at the same moment may both run step 1, and the second must
    /// find nothing to do rather than fail.
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
    /// A connection whose busy timeout never outlasts `until`.
    sqlite::connection_pool::lease connect(deadline until);

    const int busy_timeout_ms_;
    std::unique_ptr<sqlite::connection_pool> pool_;
};

}  // namespace toolhost::plugins::memory

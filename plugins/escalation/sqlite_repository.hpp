// The escalation tool's embedded storage: tickets, their status history and the delivery state of
// their notification in one SQLite file (WAL) (repository.hpp).
//
// Thread safety: every method locks the repository's mutex for the duration of its SQL (one
// connection, serialized); other processes on the same file queue on SQLite's lock (busy
// timeout). Nothing slow runs under the mutex: a notification claim is a mark in this process,
// not a lock on the file, so the webhook is sent without holding either.
#pragma once

#include "repository.hpp"

#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include <filesystem>
#include <mutex>
#include <set>

namespace toolhost::plugins::escalation {

class sqlite_repository final : public repository {
public:
    /// Opens (creating and migrating) the database at `file`. On first use, and when asked,
    /// loads the sample tickets (options::sample_json) once.
    sqlite_repository(const std::filesystem::path& file, const sqlite::store_options& opts);

    insert_outcome insert(const new_ticket& t, deadline until) override;
    std::optional<ticket_record> find(int64_t id, bool with_history, deadline until) override;
    ticket_page page(const ticket_filter& filter, int64_t limit, int64_t offset, deadline until) override;
    std::optional<ticket_record> change_status(int64_t id, const ticket_event& move, deadline until) override;
    std::unique_ptr<notification_claim> claim_notification(int64_t id, deadline until) override;
    void error_context(std::string_view, const sdk::error&) const override {}  // sqlite_error names the file

private:
    class claim;

    std::optional<ticket_record> load(int64_t id);
    static int64_t insert_row(sqlite::database& db, const new_ticket& t);

    std::mutex m_;
    sqlite::database db_;
    std::set<int64_t> claimed_;  // tickets whose notification a call of this process is delivering
};

}  // namespace toolhost::plugins::escalation

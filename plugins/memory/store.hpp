// The memory tool's storage: the schema and every SQL statement it runs, as functions over one
// connection. All SQL is constant text with bound parameters; nothing a caller sends is ever
// spliced into SQL (the only composed text is an FTS5 MATCH expression, from quoted tokens).
//
// These functions do not open transactions: the operations in memory_tool.cpp decide what must
// be atomic and wrap it in sqlite::transaction (writes) or read_snapshot (multi-step reads).
#pragma once

#include "ranking.hpp"
#include <toolhost_plugins/time.hpp>

#include <toolhost_plugins/sqlite.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::memory::db {

/// The schema as numbered steps for sqlite::migrate(). Every statement is IF NOT EXISTS: two
/// processes that open a new file at the same moment may both run step 1, and the second must
/// find nothing to do rather than fail.
const std::vector<std::string_view>& schema_steps();

/// What store inserts.
struct new_memory {
    std::string session_id;
    std::string kind;
    std::string content;
    double importance = 0;
    time::unix_ms created_at = 0;
    std::optional<time::unix_ms> expires_at;
    std::optional<int64_t> ttl_seconds;  ///< as requested; expires_at = created_at + ttl
    std::string metadata = "{}";         ///< a JSON object, as text
    std::optional<std::string> idempotency_key;
};

/// One stored memory: what was inserted, and the id it was given.
struct memory_record : new_memory {
    int64_t id = 0;

    bool live_at(time::unix_ms now) const noexcept { return !expires_at || *expires_at > now; }
};

/// Inserts a memory (and, by trigger, its full-text entry); returns its id. Ids are never
/// reused (AUTOINCREMENT), so a stale id held by a client can never name a newer memory.
int64_t insert(sqlite::database& db, const new_memory& m);

/// The memory with this id, expired or not.
std::optional<memory_record> find(sqlite::database& db, int64_t id);
/// The memories with these ids, in the same order; ids that do not exist are skipped.
std::vector<memory_record> find_all(sqlite::database& db, std::span<const int64_t> ids);
/// The memory stored in `session_id` under `key`, expired or not.
std::optional<memory_record> find_by_key(sqlite::database& db, std::string_view session_id, std::string_view key);

/// Deletes one memory; with `session_id`, only if it belongs to that session. Returns 0 or 1.
int remove(sqlite::database& db, int64_t id, std::optional<std::string_view> session_id = std::nullopt);
/// Deletes every memory of a session; returns how many.
int remove_session(sqlite::database& db, std::string_view session_id);

/// Which memories a read may see: one session, live at `now`, optionally only some kinds.
struct scope {
    std::string_view session_id;
    time::unix_ms now = 0;
    std::optional<std::string> kinds_json;  ///< a JSON array of kind names; nullopt: every kind
};

/// Memories of the scope that match `fts_query` (an FTS5 expression built by
/// sqlite::fts5_query), with their bm25 relevance; the `max` most relevant.
std::vector<candidate> matching(sqlite::database& db, const scope& s, std::string_view fts_query, size_t max);
/// Every memory of the scope, for a recall without a query (bm25 = 0).
std::vector<candidate> all_live(sqlite::database& db, const scope& s);

/// Where a page of `list` starts: strictly older than this (created_at, id).
struct page_position {
    time::unix_ms created_at = 0;
    int64_t id = 0;
};
/// Up to `limit` memories of the scope, newest first, after `after` when given.
std::vector<memory_record> page(sqlite::database& db, const scope& s, std::optional<page_position> after, size_t limit);

/// Deletes up to `batch` memories that expired at or before `now` (of one session, or all).
int delete_expired(sqlite::database& db, time::unix_ms now, std::optional<std::string_view> session_id, int batch);
/// Sessions with more than `cap` memories (only `session_id` when given).
std::vector<std::string> sessions_over_cap(sqlite::database& db, int64_t cap,
                                           std::optional<std::string_view> session_id);
/// Deletes up to `batch` memories of `session_id` beyond the `cap` it may keep: the least
/// important first and, among equally important ones, the oldest first.
int delete_over_cap(sqlite::database& db, std::string_view session_id, int64_t cap, int batch);

/// The tool's own key/value table (key TEXT PRIMARY KEY, value TEXT NOT NULL), where the
/// sample's marker lives.
inline constexpr std::string_view meta_table = "memory_meta";

}  // namespace toolhost::plugins::memory::db

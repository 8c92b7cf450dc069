// The memory tool's storage, behind one narrow interface at the level of the tool's operations.
//
// memory_tool.cpp reads and checks arguments, ranks and writes results; a repository only keeps
// and finds memories, and each of its methods is one atomic step (one transaction, or one
// snapshot for a recall), so an operation never needs to know how its backend makes it atomic.
// Two implementations:
//
// - sqlite_repository: one SQLite file in WAL mode with an FTS5 index, the embedded default;
// - postgres_repository: one PostgreSQL database that several hosts share, with a generated
//   tsvector column and a GIN index (built only when libpq is found).
//
// One contract test suite runs against both (tests/plugins/test_memory_storage.cpp).
//
// Every method takes the deadline of the call it serves and never waits past it for a lock or
// the network (SQLite: never longer than busy_timeout_ms either). Storage trouble is thrown as
// toolhost::sdk::error with a status the host can act on (UNAVAILABLE for a database that is
// locked, away or broken; retried for the idempotent operations); error_context() then names the
// place for the operator.
#pragma once

#include "config.hpp"
#include "ranking.hpp"

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/time.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::memory {

using deadline = std::chrono::steady_clock::time_point;

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

/// Which memories a read may see: one session, live at `now`, optionally only some kinds.
struct scope {
    std::string_view session_id;
    time::unix_ms now = 0;
    std::vector<std::string> kinds;  ///< empty: every kind
};

/// Where a page of `list` starts: strictly older than this (created_at, id).
struct page_position {
    time::unix_ms created_at = 0;
    int64_t id = 0;
};

/// What a store did.
struct insert_outcome {
    memory_record memory;
    /// true: a live memory of the session already held the idempotency key; it is returned as
    /// stored, and nothing was written.
    bool replayed = false;
};

/// Picks, from a recall's candidates, the ids whose records to read, in the order wanted.
using choose_fn = std::function<std::vector<int64_t>(std::span<const candidate>)>;

class repository {
public:
    virtual ~repository() = default;

    /// Stores `m` and returns it with its new id (ids are never reused, even after a memory is
    /// forgotten), unless `m` has an idempotency key that a memory of its session, live at
    /// `now`, already holds: then that memory is returned with replayed = true and nothing is
    /// stored (comparing the two requests is the caller's business). An expired holder of the
    /// key gives it up: it is deleted in the same transaction as the insert. Concurrent stores
    /// with one key, from threads or hosts, store one memory.
    virtual insert_outcome insert(const new_memory& m, time::unix_ms now, deadline until) = 0;

    /// The memory with this id, expired or not.
    virtual std::optional<memory_record> find(int64_t id, deadline until) = 0;

    /// One consistent read for a recall. The candidates: with `words`, the scope's memories that
    /// contain at least one of them (each word a literal, tokenized as the backend's full-text
    /// index tokenizes the text), the `max_candidates` most relevant, each with its text_score;
    /// without words, every memory of the scope, with text_score 0. Then the records of the ids
    /// that `choose` picks from the candidates, in its order, read in the same snapshot, so none
    /// of them can have vanished in between.
    virtual std::vector<memory_record> recall(const scope& s, std::span<const std::string> words, size_t max_candidates,
                                              const choose_fn& choose, deadline until) = 0;

    /// Up to `limit` memories of the scope, newest first (by created_at, then id), strictly after
    /// `after` when given: keyset paging, so memories stored or forgotten between two pages
    /// neither repeat nor shift rows.
    virtual std::vector<memory_record> page(const scope& s, std::optional<page_position> after, size_t limit,
                                            deadline until) = 0;

    /// Deletes one memory; with `session_id`, only if it belongs to that session. Returns 0 or 1.
    virtual int64_t remove(int64_t id, std::optional<std::string_view> session_id, deadline until) = 0;
    /// Deletes every memory of a session, all or none; returns how many.
    virtual int64_t remove_session(std::string_view session_id, deadline until) = 0;

    /// One batch of prune, its own transaction: deletes up to `batch` memories that expired at
    /// or before `now` (of one session, or of all); returns how many.
    virtual int64_t delete_expired(time::unix_ms now, std::optional<std::string_view> session_id, int batch,
                                   deadline until) = 0;
    /// Sessions with more than `cap` memories (only `session_id` when given).
    virtual std::vector<std::string> sessions_over_cap(int64_t cap, std::optional<std::string_view> session_id,
                                                       deadline until) = 0;
    /// One batch of prune, its own transaction: deletes up to `batch` memories of `session_id`
    /// beyond the `cap` it may keep, the least important first and, among equally important
    /// ones, the oldest first; returns how many.
    virtual int64_t delete_over_cap(std::string_view session_id, int64_t cap, int batch, deadline until) = 0;

    /// Whether the sample was ever seeded into this database (its marker is there).
    virtual bool sample_seeded(deadline until) = 0;
    /// In one transaction: unless the marker is there (another process seeded meanwhile), stores
    /// `memories` and the marker with the value `note`. Returns whether this call seeded.
    virtual bool seed_sample(std::span<const new_memory> memories, std::string_view note, deadline until) = 0;

    /// For an error thrown by this repository: throws it again with its place named (the file,
    /// or the database's host, port and name; never a password) and the same status. Returns
    /// for any other error.
    virtual void error_context(std::string_view operation, const sdk::error& e) const = 0;

    /// The tool stops: closes idle connections (SQLite also refreshes its planner's statistics).
    virtual void close(sdk::host& host) noexcept = 0;
};

/// The repository that the configuration chooses, open, with its schema created or migrated.
/// Throws FAILED_PRECONDITION when the configuration asks for PostgreSQL and this build has no
/// libpq; otherwise what opening the backend throws.
std::unique_ptr<repository> open_repository(const memory_config& config);

}  // namespace toolhost::plugins::memory

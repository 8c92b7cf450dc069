// A thin RAII layer over libpq (PostgreSQL's C client) for the bundled plugins, in the shape of
// sqlite.hpp, so that a tool can keep its data in one PostgreSQL database shared by several hosts.
//
// - connection::open() connects to a URL (postgresql://user:password@host:port/database?...),
//   waiting at most until a deadline; server notices are dropped, never printed.
// - Statements are parameterized only: exec(sql, values...) sends the SQL text and the values
//   apart (PQexecParams' protocol), so nothing a caller sends is ever parsed as SQL. Constant
//   multi-statement text (a migration) goes through exec_script(), which takes no values.
// - Every statement waits at most until the connection's deadline, which the holder of a lease
//   sets from its call. A statement that outlives it is abandoned with its connection (DEADLINE_
//   EXCEEDED): the statement's outcome is then unknown, like any timed-out write.
// - Errors are thrown as postgres_error, a toolhost::sdk::error whose status says whether the
//   caller may retry (status_of() below): a database that cannot be reached, a connection that
//   broke, a server shutting down, a serialization failure or a deadlock are UNAVAILABLE, with
//   the reason; a constraint violation is FAILED_PRECONDITION (as with SQLite); bad data
//   INVALID_ARGUMENT. Messages never contain the password.
// - transaction is BEGIN ... COMMIT, rolled back by the destructor unless committed.
// - connection_pool hands out one connection per call; a connection that broke is dropped when it
//   comes back, and an idle one that the server closed meanwhile (a restart) is dropped before it
//   is handed out, so the next call opens a new one instead of failing on the dead one.
// - migrate() applies a component's numbered schema steps once per database, recorded in
//   toolhost_migrations and serialized by an advisory lock, so several hosts starting at once
//   migrate once; the steps of different components never run at once either (one more lock
//   for the whole database), since some create objects that several components share.
//
// A connection is not thread-safe (like a PGconn); lease one per call from a connection_pool.
#pragma once

#include <toolhost/plugin.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// libpq's types, so that this header does not pull in libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace toolhost::plugins::postgres {

using deadline = std::chrono::steady_clock::time_point;

/// No deadline: wait as long as it takes.
inline constexpr deadline no_deadline = deadline::max();

/// The status that fits a SQLSTATE (the five-character error code of the server):
/// class 08 (connection), 57P01-57P03 (shutdown, crash, not yet accepting), 53300 (too many
/// connections), 53100 (disk full), 55P03 (lock not available), 40001 (serialization failure),
/// 40P01 (deadlock) -> UNAVAILABLE; 57014 (statement cancelled) -> DEADLINE_EXCEEDED;
/// class 23 (integrity constraint) -> FAILED_PRECONDITION; class 22 (data exception) ->
/// INVALID_ARGUMENT; class 28 and 42501 (authorization) -> PERMISSION_DENIED; 53200 (out of
/// memory) and 54 (program limit) -> RESOURCE_EXHAUSTED; XX001/XX002 (corrupt data) -> DATA_LOSS;
/// anything else INTERNAL.
sdk::status status_of(std::string_view sqlstate) noexcept;

class postgres_error : public sdk::error {
public:
    /// `sqlstate` is empty for failures that happen in the client (cannot connect, connection
    /// lost, deadline).
    postgres_error(sdk::status code, const std::string& message, std::string sqlstate = {})
        : sdk::error(code, message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    std::string sqlstate_;
};

/// What a URL names, without its password: "host:port/database", e.g. "db.internal:5432/toolhost"
/// (a Unix socket folder as host when the URL gives one). Throws INVALID_ARGUMENT when libpq
/// cannot parse `url`; the message never contains the password.
std::string describe(const std::string& url);

/// Checks that libpq can read `url` (see describe()); INVALID_ARGUMENT starting with `origin` (the
/// key or variable it came from) when it cannot, without the password.
void check_url(const std::string& url, std::string_view origin);

/// For an error thrown by this library (a postgres_error): throws it again, same status, starting
/// with `operation` ("crm.upsert") and naming the database by `where` ("host:port/database",
/// never a password): "<operation>: the database at <where> is unavailable: ..." for UNAVAILABLE,
/// "<operation> on the database at <where>: ..." otherwise. Returns for any other error.
void name_the_database(std::string_view operation, const sdk::error& e, const std::string& where);

/// One value sent apart from the SQL text: text, or NULL.
class param {
public:
    param(std::nullptr_t) noexcept {}
    param(std::nullopt_t) noexcept {}
    param(bool value) : text_(value ? "t" : "f") {}
    param(int64_t value) : text_(std::to_string(value)) {}
    template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, int64_t>) param(T value) : param(checked(value)) {}
    /// The shortest text that reads back as exactly `value`, so a double survives the trip.
    param(double value);
    /// Text must not contain a NUL character: libpq sends text values as C strings, so one would
    /// cut the value short. Throws INVALID_ARGUMENT instead.
    param(std::string_view value);
    param(const std::string& value) : param(std::string_view(value)) {}
    param(const char* value) : param(std::string_view(value)) {}
    template <class T>
    param(const std::optional<T>& value) : param(value ? param(*value) : param(nullptr)) {}

    bool is_null() const noexcept { return !text_; }
    const char* c_str() const noexcept { return text_ ? text_->c_str() : nullptr; }

private:
    template <std::integral T>
    static int64_t checked(T value) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
            if (value > static_cast<T>(std::numeric_limits<int64_t>::max()))
                throw postgres_error(sdk::status::out_of_range, "a value above the 64-bit range cannot be sent");
        }
        return static_cast<int64_t>(value);
    }
    std::optional<std::string> text_;
};

/// A text[] value (an array literal with every element quoted), for `= ANY($n::text[])`.
param text_array(std::span<const std::string> values);
/// A bigint[] value, for `= ANY($n::bigint[])`.
param int_array(std::span<const int64_t> values);

/// The rows of a statement, read by row and column (both from 0), as text converted on read.
class result {
public:
    result() = default;
    explicit result(pg_result* r) noexcept;
    result(result&&) noexcept = default;
    result& operator=(result&&) noexcept = default;
    ~result();

    int rows() const noexcept;
    int columns() const noexcept;
    /// Rows changed by INSERT/UPDATE/DELETE (PQcmdTuples).
    int64_t affected() const noexcept;
    /// The number of the column called `name`; throws INTERNAL when there is none.
    int column(std::string_view name) const;

    bool is_null(int row, int col) const noexcept;
    /// The value as text; valid as long as this result.
    std::string_view text(int row, int col) const noexcept;
    std::string string(int row, int col) const { return std::string(text(row, col)); }
    /// The value as a number; throws INTERNAL when it is not one (a column of another type).
    int64_t int64(int row, int col) const;
    double real(int row, int col) const;
    bool boolean(int row, int col) const noexcept { return text(row, col) == "t"; }

    /// Reads `row`'s columns 0, 1, ... into `out`, in order, each by its type (int64_t, double,
    /// bool, std::string, or std::optional of one: NULL -> nullopt).
    template <class... T>
    void read_row(int row, T&... out) const {
        check_columns(static_cast<int>(sizeof...(out)));
        int col = 0;
        (read(row, col++, out), ...);
    }

    pg_result* handle() const noexcept { return r_.get(); }

private:
    void read(int row, int col, int64_t& out) const { out = int64(row, col); }
    void read(int row, int col, double& out) const { out = real(row, col); }
    void read(int row, int col, bool& out) const { out = boolean(row, col); }
    void read(int row, int col, std::string& out) const { out.assign(text(row, col)); }
    template <class T>
    void read(int row, int col, std::optional<T>& out) const {
        if (is_null(row, col)) {
            out.reset();
        } else {
            read(row, col, out.emplace());
        }
    }
    void check_columns(int wanted) const;

    struct clear {
        void operator()(pg_result* r) const noexcept;
    };
    std::unique_ptr<pg_result, clear> r_;
};

class connection {
public:
    /// Connects to `url`, giving up at `until` (UNAVAILABLE naming the server and the reason).
    /// The server shows the connection as `application_name` (pg_stat_activity) unless the URL
    /// names one.
    static connection open(const std::string& url, deadline until, const std::string& application_name = "toolhost");

    connection() = default;
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    /// Runs one statement with its values bound to $1, $2, ... in order.
    template <class... T>
    result exec(const std::string& sql, const T&... values) {
        const param params[] = {param(values)..., param(nullptr)};  // never empty
        return exec_params(sql, std::span<const param>(params, sizeof...(values)));
    }
    result exec_params(const std::string& sql, std::span<const param> params);
    /// Runs constant SQL that may hold several statements (a migration step). Never give it text
    /// that came from outside the program: it takes no values.
    void exec_script(const std::string& sql);

    /// Statements wait for the server until `until` at most (no_deadline: as long as it takes).
    void set_deadline(deadline until) noexcept { deadline_ = until; }
    deadline current_deadline() const noexcept { return deadline_; }

    /// False once the connection failed in a way it cannot recover from (lost, abandoned at a
    /// deadline); a pool drops it.
    bool usable() const noexcept;
    /// Whether a transaction is open (or failed and not yet rolled back).
    bool in_transaction() const noexcept;
    /// Reads what the server sent while the connection was idle, without waiting: false when it
    /// closed the connection meanwhile (a restart, an administrator, an idle timeout).
    bool still_open() noexcept;

    /// A NOTIFY this connection heard (after LISTEN channel).
    struct notification {
        std::string channel;
        std::string payload;
        int sender_pid = 0;  ///< the server process of the session that sent it
    };
    /// The notifications that arrived since the last call; when none has, waits for one until
    /// `until` (empty then). Throws UNAVAILABLE when the connection broke meanwhile.
    std::vector<notification> notifications(deadline until);

    /// "host:port/database", for messages.
    const std::string& where() const noexcept { return where_; }
    pg_conn* handle() const noexcept { return conn_; }
    explicit operator bool() const noexcept { return conn_ != nullptr; }

private:
    /// Sends what is queued and collects the statement's results; the last one (or the first
    /// error) is returned.
    result finish(std::string_view what);
    /// Waits until the socket is readable (and writable, when `write`), or throws at the deadline.
    void wait(bool write, std::string_view what);
    [[noreturn]] void fail_client(std::string_view what);
    [[noreturn]] void fail_result(const result& r, std::string_view what);

    pg_conn* conn_ = nullptr;
    deadline deadline_ = no_deadline;
    bool broken_ = false;
    std::string where_;
};

/// BEGIN on construction (with `mode` after it, e.g. "ISOLATION LEVEL REPEATABLE READ, READ
/// ONLY"); ROLLBACK on destruction unless commit() was called.
class transaction {
public:
    explicit transaction(connection& c, std::string_view mode = {});
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    ~transaction();
    void commit();

private:
    connection* c_;
    bool done_ = false;
};

/// Connections to one database, handed out one call at a time.
class connection_pool {
public:
    /// Keeps at most `size` connections open, idle or in use: a call that finds all of them in
    /// use waits for one to come back (until its deadline), so that a burst of calls neither opens
    /// a connection per call (a server process each, at the cost of a fork) nor exhausts the
    /// server's max_connections when several hosts share it. A new connection waits at most
    /// `connect_timeout` (and never past the caller's deadline); it is named `application_name`
    /// on the server (a tool's pool says which tool: "toolhost memory"). Throws INVALID_ARGUMENT
    /// when `url` cannot be parsed.
    connection_pool(std::string url, size_t size, std::string application_name = "toolhost",
                    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));
    ~connection_pool();
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    /// One connection for the duration of a call, its statements bounded by `until`; it goes
    /// back to the pool when the lease is destroyed, unless it broke or is still inside a
    /// transaction (then it is closed, which rolls the transaction back).
    class lease {
    public:
        lease(lease&& other) noexcept = default;
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease();
        connection& operator*() const noexcept { return *c_; }
        connection* operator->() const noexcept { return c_.get(); }

    private:
        friend class connection_pool;
        lease(connection_pool& pool, std::unique_ptr<connection> c) noexcept : pool_(&pool), c_(std::move(c)) {}
        connection_pool* pool_;
        std::unique_ptr<connection> c_;
    };

    /// An idle connection that is still open, or a new one while fewer than `size` are open, or
    /// the first one that comes back. Throws postgres_error: UNAVAILABLE when the database cannot
    /// be reached before `until`, DEADLINE_EXCEEDED when every connection stayed in use until
    /// then. [thread-safe]
    lease acquire(deadline until);

    /// Connections open now, idle or in use. [thread-safe]
    size_t open_connections() const;

    /// Closes the idle connections; leases still out close when they come back. [thread-safe]
    void close_idle() noexcept;

    /// "host:port/database", for messages (never the password).
    const std::string& where() const noexcept { return where_; }

private:
    void give_back(std::unique_ptr<connection> c) noexcept;

    const std::string url_;
    const std::string where_;
    const std::string application_name_;
    const size_t size_;
    const std::chrono::milliseconds connect_timeout_;
    mutable std::mutex mutex_;
    std::condition_variable returned_;               // a connection came back, or one closed
    std::vector<std::unique_ptr<connection>> idle_;  // guarded by mutex_
    size_t open_ = 0;                                // guarded by mutex_: idle, leased or being opened
    bool closed_ = false;                            // guarded by mutex_
};

/// The SQL (a migration step's beginning) that creates `prefix`_search, a text search
/// configuration that matches what SQLite's FTS5 tokenizer 'porter unicode61 remove_diacritics 2'
/// matches, and `prefix`_search_text(text), the function a tool's tsvector and tsquery apply to
/// their text first, so that a tool's two backends agree on what a query finds:
/// - neither 'english' nor 'simple' as they are: 'english' drops stop words ("the", "for",
///   "not"), which FTS5 indexes and finds, and 'simple' does not stem ("trips" must find "trip").
///   So: Snowball's English stemmer (`prefix`_english_stem, Porter's successor) without a
///   stop-word list, after unaccent ("Cafe" finds "café", as remove_diacritics does), for every
///   kind of word;
/// - `prefix`_search_text() turns ASCII punctuation into spaces before the parser sees the text.
///   FTS5 (unicode61) splits at every character that is not a letter or a digit, while
///   PostgreSQL's parser keeps e-mail addresses, URLs, file paths, version numbers and hyphenated
///   words together as tokens of their own; without punctuation both see the same words
///   ("ada@example.com" is "ada", "example", "com" on both).
/// Each tool names its own objects (neither depends on another's); the unaccent extension is the
/// database's, created if missing (safe under migrate()'s schema lock). `prefix` is a constant of
/// the program, never outside text.
std::string fts5_like_search_objects(std::string_view prefix);

/// The advisory lock key of a component's migrations: a 64-bit FNV-1a hash of
/// "toolhost.migrations." + component, the same in every version of every host.
int64_t migration_lock_key(std::string_view component);

/// The advisory lock that migrate() holds, besides the component's own, while it runs steps: one
/// key for the whole database (a 64-bit FNV-1a hash of "toolhost.schema"), so that no two
/// components ever run steps at the same time. Steps may create objects that belong to the whole
/// database rather than to one component, and some of those statements are not safe against
/// themselves in another session: memory's and rag's schemas both run CREATE EXTENSION IF NOT
/// EXISTS unaccent, and of two sessions that run it at once on a database without it, the second
/// fails (a unique violation on pg_extension). Under this lock the second finds it there.
int64_t schema_lock_key();

/// Brings `component`'s schema to version steps.size(): in one transaction, holding
/// pg_advisory_xact_lock(migration_lock_key(component)), runs steps[i] for every version i + 1
/// not yet recorded in toolhost_migrations (component, version, applied_at) and records it. A
/// host that starts while another migrates waits for the lock, then finds the work done. When
/// there are steps to run, it also takes pg_advisory_xact_lock(schema_lock_key()) (after the
/// component's lock; nothing takes them the other way round), so a start with nothing to migrate
/// never waits for another component's migration. Throws postgres_error naming the step that
/// failed; a database with a newer version than `steps` is refused as FAILED_PRECONDITION.
/// toolhost_migrations is created when missing.
void migrate(connection& c, std::string_view component, const std::vector<std::string_view>& steps);

}  // namespace toolhost::plugins::postgres

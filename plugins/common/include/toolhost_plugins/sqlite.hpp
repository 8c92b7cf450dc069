// A thin RAII layer over the SQLite C API for the bundled plugins.
//
// - database::open() creates the file's folder, turns on WAL, a busy timeout and foreign keys,
//   and chooses the synchronous level (NORMAL survives a killed process; FULL also a power cut).
// - Errors are thrown as sqlite_error, a toolhost::sdk::error whose status says whether the
//   caller may retry: SQLITE_BUSY/LOCKED/IOERR/FULL/CANTOPEN/READONLY → UNAVAILABLE,
//   CORRUPT/NOTADB → DATA_LOSS, CONSTRAINT → FAILED_PRECONDITION, anything else → INTERNAL.
//   The SDK's boundary turns an uncaught one into the call's error, so an operation body can
//   simply let it propagate.
// - transaction is BEGIN IMMEDIATE ... COMMIT, rolled back by the destructor unless committed:
//   a failed call never leaves half a change behind.
// - migrate() applies numbered schema steps guarded by PRAGMA user_version.
//
// A database object is not thread-safe (like a sqlite3*); a plugin serializes access with its
// own mutex, keeps one connection per thread, or leases one per call from a connection_pool
// (connection_pool.hpp).
#pragma once

#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <toolhost/plugin.hpp>

namespace toolhost::plugins::sqlite {

/// Status that fits a SQLite result code (primary or extended).
sdk::status status_of(int sqlite_code) noexcept;

class sqlite_error : public sdk::error {
public:
    sqlite_error(int code, const std::string& message) : sdk::error(status_of(code), message), sqlite_code_(code) {}
    int sqlite_code() const noexcept { return sqlite_code_; }

private:
    int sqlite_code_;
};

enum class synchronous { off, normal, full };

struct open_options {
    bool read_only = false;
    bool wal = true;
    synchronous sync = synchronous::normal;
    int busy_timeout_ms = 5000;
    bool create_parent_dirs = true;
};

class statement;

class database {
public:
    database() = default;
    /// Opens (creating when allowed) the database at `path`. Throws sqlite_error naming the path.
    static database open(const std::filesystem::path& path, const open_options& options = {});

    database(database&& other) noexcept;
    database& operator=(database&& other) noexcept;
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    ~database();

    /// Runs one or more statements that return no rows.
    void exec(std::string_view sql);
    statement prepare(std::string_view sql);

    int64_t last_insert_rowid() const noexcept;
    int changes() const noexcept;
    const std::filesystem::path& path() const noexcept { return path_; }
    sqlite3* handle() const noexcept { return db_; }
    explicit operator bool() const noexcept { return db_ != nullptr; }

    /// Throws sqlite_error for `rc` with the connection's message, prefixed by `what`.
    [[noreturn]] void fail(int rc, std::string_view what) const;

private:
    sqlite3* db_ = nullptr;
    std::filesystem::path path_;
};

/// A prepared statement. bind() indexes start at 1, column() indexes at 0, as in SQLite.
class statement {
public:
    statement() = default;
    statement(const database& db, sqlite3_stmt* stmt) noexcept : db_(&db), stmt_(stmt) {}
    statement(statement&& other) noexcept;
    statement& operator=(statement&& other) noexcept;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    statement& bind(int index, std::nullptr_t);
    statement& bind(int index, int64_t value);
    /// Any other integer (int, size_t...) as a 64-bit integer; an unsigned value above INT64_MAX
    /// throws sqlite_error (SQLITE_TOOBIG) instead of wrapping around.
    template <std::integral T>
    statement& bind(int index, T value) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t))
            if (value > static_cast<T>(std::numeric_limits<int64_t>::max())) too_big(index);
        return bind(index, static_cast<int64_t>(value));
    }
    statement& bind(int index, double value);
    statement& bind(int index, std::string_view text);
    statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    statement& bind_blob(int index, const void* data, size_t size);
    template <class T>
    statement& bind(int index, const std::optional<T>& value) {
        if (value) return bind(index, *value);
        return bind(index, nullptr);
    }
    /// Binds by parameter name (":name", "@name" or "$name"); throws if the name is unknown.
    template <class T>
    statement& bind(const char* name, const T& value) {
        return bind(parameter_index(name), value);
    }
    int parameter_index(const char* name) const;
    /// Binds `values` to ?1, ?2, ... in order: one value per parameter number (a number used
    /// twice in the SQL, "VALUES (?8, ?8)", takes one value). Throws sqlite_error (SQLITE_RANGE)
    /// when the statement's highest parameter number is not sizeof...(values), so a value cannot
    /// go missing or land in the wrong column unnoticed.
    template <class... T>
    statement& bind_all(const T&... values) {
        check_parameter_count(static_cast<int>(sizeof...(values)));
        int index = 0;
        (bind(++index, values), ...);
        return *this;
    }
    int parameter_count() const noexcept;

    /// Steps once: true when a row is available, false when done.
    bool step();
    /// Steps to completion, for statements that return no rows.
    void run();
    /// Resets the statement and clears its bindings, ready to run again.
    void reset() noexcept;

    int column_count() const noexcept;
    bool is_null(int col) const noexcept;
    int64_t int64(int col) const noexcept;
    double real(int col) const noexcept;
    /// The column as text; valid until the next step(), reset() or destruction.
    std::string_view text(int col) const noexcept;
    std::string string(int col) const { return std::string(text(col)); }
    std::optional<std::string> optional_string(int col) const;
    std::optional<int64_t> optional_int64(int col) const noexcept;
    std::optional<double> optional_real(int col) const noexcept;
    /// Reads the current row's columns 0, 1, ... into `out`, in order, each by its type
    /// (int64_t, double, std::string, or std::optional of one: NULL -> nullopt). Reading fewer
    /// columns than the row has is allowed (the rest are ignored); reading more throws
    /// sqlite_error (SQLITE_RANGE).
    template <class... T>
    void read_row(T&... out) const {
        check_column_count(static_cast<int>(sizeof...(out)));
        int col = 0;
        (read(col++, out), ...);
    }

    sqlite3_stmt* handle() const noexcept { return stmt_; }

private:
    void read(int col, int64_t& out) const noexcept { out = int64(col); }
    void read(int col, double& out) const noexcept { out = real(col); }
    void read(int col, std::string& out) const { out.assign(text(col)); }
    template <class T>
    void read(int col, std::optional<T>& out) const {
        if (is_null(col)) {
            out.reset();
        } else {
            read(col, out.emplace());
        }
    }
    [[noreturn]] void too_big(int index) const;
    void check_parameter_count(int given) const;
    void check_column_count(int wanted) const;

    const database* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

/// BEGIN IMMEDIATE on construction (takes the write lock up front, so a busy database is
/// reported at the start, not half-way); ROLLBACK on destruction unless commit() was called.
class transaction {
public:
    explicit transaction(database& db);
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    ~transaction();
    void commit();

private:
    database* db_;
    bool done_ = false;
};

/// Brings the schema to version steps.size(): runs steps[i] for every i >= PRAGMA user_version,
/// each in its own transaction together with the user_version bump. Throws sqlite_error with
/// `steps[i]`'s index when one fails; a database newer than `steps` is refused as
/// FAILED_PRECONDITION.
void migrate(database& db, const std::vector<std::string_view>& steps);

/// Escapes user text for an FTS5 MATCH: every whitespace-separated token is quoted, so
/// punctuation and FTS operators in a user's query are searched for, never interpreted.
/// Tokens are joined with `joiner` (" OR " by default). Returns "" when there is no token.
std::string fts5_query(std::string_view text, std::string_view joiner = " OR ");

}  // namespace toolhost::plugins::sqlite

#include "toolhost_plugins/sqlite.hpp"

#include "toolhost_plugins/text.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <system_error>
#include <utility>

namespace toolhost::plugins::sqlite {

sdk::status status_of(int code) noexcept {
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS: return sdk::status::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return sdk::status::data_loss;
    case SQLITE_CONSTRAINT: return sdk::status::failed_precondition;
    case SQLITE_TOOBIG:
    case SQLITE_NOMEM: return sdk::status::resource_exhausted;
    case SQLITE_INTERRUPT: return sdk::status::cancelled;
    case SQLITE_PERM:
    case SQLITE_AUTH: return sdk::status::permission_denied;
    default: return sdk::status::internal;
    }
}

// ----------------------------------------------------------------------------------- database

namespace {
// "PRAGMA journal_mode = WAL" on a file not yet in WAL mode needs an exclusive lock while it holds
// a shared one; when two processes do it at once (both creating the file) SQLite answers BUSY at
// once instead of calling the busy handler, which could deadlock. Wait it out here as the busy
// handler would, up to the busy timeout.
void switch_to_wal(database& db, int busy_timeout_ms) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        try {
            auto st = db.prepare("PRAGMA journal_mode = WAL");
            if (st.step() && st.text(0) != "wal")
                throw sqlite_error(SQLITE_CANTOPEN,
                                   "cannot switch " + db.path().string() + " to WAL mode (got " + st.string(0) + ")");
            return;
        } catch (const sqlite_error& e) {
            const int primary = e.sqlite_code() & 0xff;
            if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
                std::chrono::steady_clock::now() + pause > give_up)
                throw;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(100));
    }
}
}  // namespace

database database::open(const std::filesystem::path& path, const open_options& options) {
    if (options.create_parent_dirs && !options.read_only && path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec)
            throw sqlite_error(SQLITE_CANTOPEN,
                               "cannot create folder " + path.parent_path().string() + ": " + ec.message());
    }
    database db;
    db.path_ = path;
    const int flags =
        (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc);
        throw sqlite_error(rc, "cannot open database " + path.string() + ": " + msg);
    }
    sqlite3_extended_result_codes(db.db_, 1);
    sqlite3_busy_timeout(db.db_, options.busy_timeout_ms);
    try {
        // Reading the schema here turns "file is not a database" into an error at open time.
        db.exec("PRAGMA foreign_keys = ON");
        if (!options.read_only && options.wal) switch_to_wal(db, options.busy_timeout_ms);
        switch (options.sync) {
        case synchronous::off: db.exec("PRAGMA synchronous = OFF"); break;
        case synchronous::normal: db.exec("PRAGMA synchronous = NORMAL"); break;
        case synchronous::full: db.exec("PRAGMA synchronous = FULL"); break;
        }
        auto check = db.prepare("SELECT count(*) FROM sqlite_schema");
        check.step();
    } catch (const sqlite_error& e) {
        throw sqlite_error(e.sqlite_code(), "cannot open database " + path.string() + ": " + e.what());
    }
    return db;
}

database::database(database&& other) noexcept : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

database& database::operator=(database&& other) noexcept {
    if (this != &other) {
        if (db_) sqlite3_close_v2(db_);
        db_ = std::exchange(other.db_, nullptr);
        path_ = std::move(other.path_);
    }
    return *this;
}

database::~database() {
    if (db_) sqlite3_close_v2(db_);
}

void database::fail(int rc, std::string_view what) const {
    std::string msg(what);
    msg += ": ";
    msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw sqlite_error(rc, msg);
}

void database::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw sqlite_error(rc, "SQL failed: " + msg);
    }
}

statement database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) fail(rc, "cannot prepare statement");
    return statement(*this, stmt);
}

int64_t database::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }
int database::changes() const noexcept { return sqlite3_changes(db_); }

// ---------------------------------------------------------------------------------- statement

statement::statement(statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

statement& statement::operator=(statement&& other) noexcept {
    if (this != &other) {
        if (stmt_) sqlite3_finalize(stmt_);
        db_ = std::exchange(other.db_, nullptr);
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

statement::~statement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

namespace {
void check_bind(const database* db, int rc, int index) {
    if (rc != SQLITE_OK) db->fail(rc, "cannot bind parameter " + std::to_string(index));
}
}  // namespace

statement& statement::bind(int index, std::nullptr_t) {
    check_bind(db_, sqlite3_bind_null(stmt_, index), index);
    return *this;
}
statement& statement::bind(int index, int64_t value) {
    check_bind(db_, sqlite3_bind_int64(stmt_, index, value), index);
    return *this;
}
statement& statement::bind(int index, double value) {
    check_bind(db_, sqlite3_bind_double(stmt_, index, value), index);
    return *this;
}
statement& statement::bind(int index, std::string_view text) {
    check_bind(db_, sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
    return *this;
}
statement& statement::bind_blob(int index, const void* data, size_t size) {
    check_bind(db_, sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT), index);
    return *this;
}

int statement::parameter_index(const char* name) const {
    const int i = sqlite3_bind_parameter_index(stmt_, name);
    if (i == 0) throw sqlite_error(SQLITE_RANGE, std::string("no SQL parameter named ") + name);
    return i;
}

int statement::parameter_count() const noexcept { return sqlite3_bind_parameter_count(stmt_); }

void statement::too_big(int index) const {
    throw sqlite_error(SQLITE_TOOBIG, "cannot bind parameter " + std::to_string(index) + ": above the 64-bit range");
}

void statement::check_parameter_count(int given) const {
    const int wanted = parameter_count();
    if (given != wanted)
        throw sqlite_error(SQLITE_RANGE, "bind_all: the statement has " + std::to_string(wanted) + " parameters, " +
                                             std::to_string(given) + " values were given");
}

void statement::check_column_count(int wanted) const {
    const int has = column_count();
    if (wanted > has)
        throw sqlite_error(SQLITE_RANGE, "read_row: the row has " + std::to_string(has) + " columns, " +
                                             std::to_string(wanted) + " were read");
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_->fail(rc, "SQL statement failed");
}

void statement::run() {
    while (step()) {
    }
}

void statement::reset() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int statement::column_count() const noexcept { return sqlite3_column_count(stmt_); }
bool statement::is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t statement::int64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
double statement::real(int col) const noexcept { return sqlite3_column_double(stmt_, col); }

std::string_view statement::text(int col) const noexcept {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (!p) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::optional<std::string> statement::optional_string(int col) const {
    if (is_null(col)) return std::nullopt;
    return string(col);
}
std::optional<int64_t> statement::optional_int64(int col) const noexcept {
    if (is_null(col)) return std::nullopt;
    return int64(col);
}
std::optional<double> statement::optional_real(int col) const noexcept {
    if (is_null(col)) return std::nullopt;
    return real(col);
}

// -------------------------------------------------------------------------------- transaction

transaction::transaction(database& db) : db_(&db) { db.exec("BEGIN IMMEDIATE"); }

transaction::~transaction() {
    if (!done_) sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void transaction::commit() {
    db_->exec("COMMIT");
    done_ = true;
}

// --------------------------------------------------------------------------------- migrations

void migrate(database& db, const std::vector<std::string_view>& steps) {
    for (;;) {
        // The version is read inside the write transaction, so two processes opening the same
        // new file never both run a step: the second waits, then sees the step done.
        transaction tx(db);
        int64_t version = 0;
        {
            auto st = db.prepare("PRAGMA user_version");
            if (st.step()) version = st.int64(0);
        }
        if (version > static_cast<int64_t>(steps.size()))
            throw sdk::error(sdk::status::failed_precondition,
                             db.path().string() + " has schema version " + std::to_string(version) +
                                 ", newer than this plugin knows (" + std::to_string(steps.size()) + ")");
        if (version == static_cast<int64_t>(steps.size())) return;  // up to date (rolled back: nothing written)
        const auto i = static_cast<size_t>(version);
        try {
            db.exec(steps[i]);
        } catch (const sqlite_error& e) {
            throw sqlite_error(e.sqlite_code(),
                               "schema step " + std::to_string(i + 1) + " of " + db.path().string() + ": " + e.what());
        }
        db.exec("PRAGMA user_version = " + std::to_string(i + 1));
        tx.commit();
    }
}

// ----------------------------------------------------------------------------------------- fts

std::string fts5_query(std::string_view query, std::string_view joiner) {
    std::string out;
    auto add = [&](std::string_view word) {
        if (!out.empty()) out += joiner;
        out += '"';
        for (char c : word) {
            if (c == '"') out += '"';
            out += c;
        }
        out += '"';
    };
    for (std::string_view word : text::words(query)) {
        // FTS5 reads its query as C text: a NUL inside ended it mid-string ("unterminated
        // string", a failed call). Its tokenizers separate tokens at control characters anyway,
        // so here they split words.
        std::size_t start = 0;
        for (std::size_t i = 0; i <= word.size(); ++i) {
            const bool control = i < word.size() && (static_cast<unsigned char>(word[i]) < 0x20 || word[i] == 0x7f);
            if (i < word.size() && !control) continue;
            if (i > start) add(word.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

}  // namespace toolhost::plugins::sqlite

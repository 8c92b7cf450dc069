#include "toolhost_plugins/postgres.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

namespace toolhost::plugins::postgres {

// ------------------------------------------------------------------------------- classification

sdk::status status_of(std::string_view s) noexcept {
    if (s.size() != 5) return sdk::status::internal;
    const std::string_view cls = s.substr(0, 2);
    // Worth retrying: the database is away, going away, busy, or chose this transaction as the
    // one to abort so that another could go on.
    if (cls == "08" || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300" || s == "53100" || s == "55P03" ||
        s == "40001" || s == "40P01")
        return sdk::status::unavailable;
    if (s == "57014") return sdk::status::deadline_exceeded;
    if (cls == "23") return sdk::status::failed_precondition;
    if (cls == "22") return sdk::status::invalid_argument;
    if (cls == "28" || s == "42501") return sdk::status::permission_denied;
    if (s == "53200" || cls == "54") return sdk::status::resource_exhausted;
    if (s == "XX001" || s == "XX002") return sdk::status::data_loss;
    return sdk::status::internal;
}

namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// a status message is one line.
std::string one_line(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

struct conninfo_free {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};

// The password of a URL as written in it (still percent-encoded), or "" when it has none. Used
// only to cut it out of libpq's parse errors, which quote the offending part of the text.
std::string_view raw_password(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    const auto rest = url.substr(scheme + 3);
    const auto at = rest.find('@');
    if (at == std::string_view::npos) return {};
    const auto userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    return colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1);
}

std::string redact(std::string text, std::string_view secret) {
    if (secret.empty()) return text;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 5))
        text.replace(at, secret.size(), "*****");
    return text;
}

// The poll() timeout until `until`: -1 (forever) for no_deadline, else at least 0 ms.
int poll_timeout(deadline until) {
    if (until == no_deadline) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, std::numeric_limits<int>::max()));
}

// Server notices (NOTICE: text-search query contains only stop words...) are for people at a
// console; a plugin must not write to the host's stderr.
void ignore_notice(void*, const char*) {}

constexpr std::string_view url_hint = "see https://www.postgresql.org/docs/current/libpq-connect.html";

}  // namespace

std::string describe(const std::string& url) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, conninfo_free> options(PQconninfoParse(url.c_str(), &error));
    if (!options) {
        std::string why = error ? one_line(error) : "out of memory";
        PQfreemem(error);
        throw postgres_error(sdk::status::invalid_argument,
                             "not a valid PostgreSQL URL: " + redact(std::move(why), raw_password(url)) + " (" +
                                 std::string(url_hint) + ")");
    }
    std::string host, hostaddr, port, dbname, user;
    for (auto* o = options.get(); o->keyword != nullptr; ++o) {
        if (o->val == nullptr) continue;
        const std::string_view k = o->keyword;
        if (k == "host") host = o->val;
        if (k == "hostaddr") hostaddr = o->val;
        if (k == "port") port = o->val;
        if (k == "dbname") dbname = o->val;
        if (k == "user") user = o->val;
    }
    // What libpq falls back to when the URL says nothing (without PGHOST and friends: the local
    // socket, 5432, the user's name as the database).
    if (host.empty()) host = hostaddr.empty() ? "localhost" : hostaddr;
    if (port.empty()) port = "5432";
    if (dbname.empty()) dbname = user.empty() ? "(the user's name)" : user;
    return host + ":" + port + "/" + dbname;
}

void check_url(const std::string& url, std::string_view origin) {
    try {
        describe(url);
    } catch (const sdk::error& e) {
        throw postgres_error(e.code(), std::string(origin) + ": " + e.what());
    }
}

void name_the_database(std::string_view operation, const sdk::error& e, const std::string& where) {
    if (dynamic_cast<const postgres_error*>(&e) == nullptr) return;
    if (e.code() == sdk::status::unavailable)
        throw sdk::error(e.code(),
                         std::string(operation) + ": the database at " + where + " is unavailable: " + e.what());
    throw sdk::error(e.code(), std::string(operation) + " on the database at " + where + ": " + e.what());
}

// ------------------------------------------------------------------------------------- params

param::param(double value) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    text_.emplace(buffer, ec == std::errc() ? end : buffer);
    // to_chars writes "inf" and "nan"; PostgreSQL reads "Infinity" and "NaN".
    if (*text_ == "inf") *text_ = "Infinity";
    if (*text_ == "-inf") *text_ = "-Infinity";
    if (*text_ == "nan" || *text_ == "-nan") *text_ = "NaN";
}

param::param(std::string_view value) {
    if (value.find('\0') != std::string_view::npos)
        throw postgres_error(sdk::status::invalid_argument,
                             "text with a NUL character (U+0000) cannot be stored in PostgreSQL");
    text_.emplace(value);
}

param text_array(std::span<const std::string> values) {
    std::string literal = "{";
    for (const auto& v : values) {
        if (literal.size() > 1) literal += ',';
        literal += '"';
        for (char c : v) {
            if (c == '"' || c == '\\') literal += '\\';
            literal += c;
        }
        literal += '"';
    }
    literal += '}';
    return param(literal);
}

param int_array(std::span<const int64_t> values) {
    std::string literal = "{";
    for (const int64_t v : values) {
        if (literal.size() > 1) literal += ',';
        literal += std::to_string(v);
    }
    literal += '}';
    return param(literal);
}

// ------------------------------------------------------------------------------------- result

result::result(pg_result* r) noexcept : r_(r) {}
result::~result() = default;
void result::clear::operator()(pg_result* r) const noexcept { PQclear(r); }

int result::rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }
int result::columns() const noexcept { return r_ ? PQnfields(r_.get()) : 0; }

int64_t result::affected() const noexcept {
    if (!r_) return 0;
    const char* n = PQcmdTuples(r_.get());
    int64_t out = 0;
    std::from_chars(n, n + std::strlen(n), out);
    return out;
}

int result::column(std::string_view name) const {
    const int c = r_ ? PQfnumber(r_.get(), std::string(name).c_str()) : -1;
    if (c < 0) throw postgres_error(sdk::status::internal, "the result has no column " + std::string(name));
    return c;
}

bool result::is_null(int row, int col) const noexcept { return PQgetisnull(r_.get(), row, col) != 0; }

std::string_view result::text(int row, int col) const noexcept {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
}

int64_t result::int64(int row, int col) const {
    const auto t = text(row, col);
    int64_t out = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || end != t.data() + t.size())
        throw postgres_error(sdk::status::internal, "column " + std::string(PQfname(r_.get(), col)) +
                                                        " is not an integer: \"" + std::string(t) + "\"");
    return out;
}

double result::real(int row, int col) const {
    const auto t = text(row, col);
    double out = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || end != t.data() + t.size())
        throw postgres_error(sdk::status::internal, "column " + std::string(PQfname(r_.get(), col)) +
                                                        " is not a number: \"" + std::string(t) + "\"");
    return out;
}

void result::check_columns(int wanted) const {
    if (wanted > columns())
        throw postgres_error(sdk::status::internal, "read_row: the row has " + std::to_string(columns()) +
                                                        " columns, " + std::to_string(wanted) + " were read");
}

// --------------------------------------------------------------------------------- connection

connection connection::open(const std::string& url, deadline until, const std::string& application_name) {
    connection c;
    c.where_ = describe(url);
    // The URL goes in as dbname (expanded); client_encoding after it wins over the URL, since
    // every string this program handles is UTF-8.
    const char* keywords[] = {"fallback_application_name", "dbname", "client_encoding", nullptr};
    const char* values[] = {application_name.c_str(), url.c_str(), "UTF8", nullptr};
    c.conn_ = PQconnectStartParams(keywords, values, 1);
    if (c.conn_ == nullptr)
        throw postgres_error(sdk::status::resource_exhausted, "cannot connect to " + c.where_ + ": out of memory");
    c.deadline_ = until;
    // Connecting without blocking, so that the wait is bounded by the deadline rather than by
    // the operating system's TCP timeouts.
    const auto started = std::chrono::steady_clock::now();
    for (PostgresPollingStatusType state = PGRES_POLLING_WRITING;;) {
        if (PQstatus(c.conn_) == CONNECTION_BAD || state == PGRES_POLLING_FAILED) c.fail_client("cannot connect");
        if (state == PGRES_POLLING_OK) break;
        try {
            c.wait(state == PGRES_POLLING_WRITING, "cannot connect");
        } catch (const postgres_error& e) {
            if (e.code() != sdk::status::deadline_exceeded) throw;
            const auto waited =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
            throw postgres_error(sdk::status::unavailable, "cannot connect: no answer from the server within " +
                                                               std::to_string(waited.count()) + " ms");
        }
        state = PQconnectPoll(c.conn_);
    }
    PQsetNoticeProcessor(c.conn_, ignore_notice, nullptr);
    // Non-blocking sends, so that a large statement never blocks past the deadline either.
    if (PQsetnonblocking(c.conn_, 1) != 0) c.fail_client("cannot configure the connection");
    c.deadline_ = no_deadline;
    return c;
}

connection::connection(connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), deadline_(other.deadline_), broken_(other.broken_),
      where_(std::move(other.where_)) {}

connection& connection::operator=(connection&& other) noexcept {
    if (this != &other) {
        if (conn_) PQfinish(conn_);
        conn_ = std::exchange(other.conn_, nullptr);
        deadline_ = other.deadline_;
        broken_ = other.broken_;
        where_ = std::move(other.where_);
    }
    return *this;
}

connection::~connection() {
    if (conn_) PQfinish(conn_);
}

bool connection::usable() const noexcept { return conn_ != nullptr && !broken_ && PQstatus(conn_) == CONNECTION_OK; }

bool connection::in_transaction() const noexcept {
    return conn_ != nullptr && PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

bool connection::still_open() noexcept {
    if (!usable()) return false;
    // An idle connection has nothing to read unless the server said something on its own: almost
    // always the error it sends before it closes the connection (shutdown, restart, idle
    // timeout), followed by the end of the stream.
    for (int i = 0; i < 4; ++i) {
        pollfd p{PQsocket(conn_), POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) return true;
        if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
            broken_ = true;
            return false;
        }
    }
    return usable();
}

std::vector<connection::notification> connection::notifications(deadline until) {
    std::vector<notification> out;
    auto collect = [&] {
        if (PQconsumeInput(conn_) == 0) fail_client("waiting for notifications");
        while (PGnotify* n = PQnotifies(conn_)) {
            out.push_back({n->relname ? n->relname : "", n->extra ? n->extra : "", n->be_pid});
            PQfreemem(n);
        }
    };
    if (!usable()) fail_client("waiting for notifications");
    collect();
    while (out.empty()) {
        pollfd p{PQsocket(conn_), POLLIN, 0};
        const int n = ::poll(&p, 1, poll_timeout(until));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_client("waiting for notifications");
        if (n == 0) break;  // the deadline: nothing came
        collect();
        if (PQstatus(conn_) != CONNECTION_OK) fail_client("waiting for notifications");
    }
    return out;
}

void connection::wait(bool write, std::string_view what) {
    pollfd p{PQsocket(conn_), static_cast<short>(POLLIN | (write ? POLLOUT : 0)), 0};
    for (;;) {
        const int n = ::poll(&p, 1, poll_timeout(deadline_));
        if (n > 0) return;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_client(what);
        // The deadline passed. The statement may still run on the server; without its
        // connection it cannot report back, so the connection goes and the outcome is unknown.
        broken_ = true;
        throw postgres_error(sdk::status::deadline_exceeded,
                             std::string(what) + ": the database at " + where_ +
                                 " did not answer before the call's deadline (the statement's outcome is unknown)");
    }
}

void connection::fail_client(std::string_view what) {
    // Everything the client itself detects (refused, unreachable, lost, protocol trouble) is
    // worth another try, on a new connection when this one is gone.
    std::string why = conn_ ? one_line(PQerrorMessage(conn_)) : std::string();
    if (why.empty()) why = std::strerror(errno);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    throw postgres_error(sdk::status::unavailable, std::string(what) + ": " + why);
}

void connection::fail_result(const result& r, std::string_view what) {
    const PGresult* raw = r.handle();
    const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(raw, PG_DIAG_MESSAGE_DETAIL);
    std::string sqlstate = state ? state : "";
    std::string message = primary ? one_line(primary) : one_line(PQresultErrorMessage(raw));
    if (detail) message += " (" + one_line(detail) + ")";
    // No SQLSTATE: libpq made the error up itself, because the connection broke mid-statement.
    sdk::status code = sqlstate.empty() ? sdk::status::unavailable : status_of(sqlstate);
    if (PQstatus(conn_) != CONNECTION_OK) {
        broken_ = true;
        code = sdk::status::unavailable;
    }
    if (!sqlstate.empty()) message += " [SQLSTATE " + sqlstate + "]";
    throw postgres_error(code, std::string(what) + ": " + message, std::move(sqlstate));
}

result connection::finish(std::string_view what) {
    // Send everything (non-blocking: PQflush returns 1 while data is left).
    for (;;) {
        const int f = PQflush(conn_);
        if (f == 0) break;
        if (f < 0) fail_client(what);
        wait(true, what);
        if (PQconsumeInput(conn_) == 0) fail_client(what);
    }
    // Collect every result of the statement(s): the first error, else the last result. Reading
    // on past an error leaves the connection ready for the next statement (ROLLBACK).
    result kept;
    result error;
    for (;;) {
        while (PQisBusy(conn_) != 0) {
            wait(false, what);
            if (PQconsumeInput(conn_) == 0) fail_client(what);
        }
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) break;
        const auto status = PQresultStatus(r);
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
            if (!error.handle()) {
                error = result(r);
            } else {
                PQclear(r);
            }
        } else {
            kept = result(r);
        }
        // A connection that broke yields the same error result forever.
        if (PQstatus(conn_) != CONNECTION_OK) break;
    }
    if (error.handle()) fail_result(error, what);
    if (PQstatus(conn_) != CONNECTION_OK) fail_client(what);
    return kept;
}

result connection::exec_params(const std::string& sql, std::span<const param> params) {
    if (!usable()) fail_client("cannot run a statement");
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    // Text values, text results: the server converts to and from each column's type.
    if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr,
                          0) == 0)
        fail_client("cannot send a statement");
    return finish("SQL statement failed");
}

void connection::exec_script(const std::string& sql) {
    if (!usable()) fail_client("cannot run a statement");
    if (PQsendQuery(conn_, sql.c_str()) == 0) fail_client("cannot send a statement");
    finish("SQL failed");
}

// -------------------------------------------------------------------------------- transaction

transaction::transaction(connection& c, std::string_view mode) : c_(&c) {
    c.exec(mode.empty() ? std::string("BEGIN") : "BEGIN " + std::string(mode));
}

transaction::~transaction() {
    if (done_ || !c_->usable()) return;
    try {
        c_->exec("ROLLBACK");
    } catch (const std::exception&) {
        // The connection is then marked broken or left inside the transaction; either way the
        // pool closes it, and closing rolls the transaction back on the server.
    }
}

void transaction::commit() {
    c_->exec("COMMIT");
    done_ = true;
}

// -------------------------------------------------------------------------------------- pool

connection_pool::connection_pool(std::string url, size_t size, std::string application_name,
                                 std::chrono::milliseconds connect_timeout)
    : url_(std::move(url)), where_(describe(url_)), application_name_(std::move(application_name)),
      size_(std::max<size_t>(size, 1)), connect_timeout_(connect_timeout) {
    idle_.reserve(size_);  // so that give_back() never allocates
}

connection_pool::~connection_pool() = default;

connection_pool::lease::~lease() {
    if (c_) pool_->give_back(std::move(c_));
}

size_t connection_pool::open_connections() const {
    std::lock_guard lock(mutex_);
    return open_;
}

connection_pool::lease connection_pool::acquire(deadline until) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (!idle_.empty()) {
            auto c = std::move(idle_.back());
            idle_.pop_back();
            lock.unlock();
            // Checked outside the lock. One the server closed meanwhile is dropped here rather
            // than failing the call that would have used it.
            if (c->still_open()) {
                c->set_deadline(until);
                return lease(*this, std::move(c));
            }
            c.reset();
            lock.lock();
            --open_;
            continue;
        }
        if (open_ < size_) break;
        // Every connection is in use: wait for one to come back, within the call's deadline.
        if (until == no_deadline) {
            returned_.wait(lock);
        } else if (returned_.wait_until(lock, until) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
            throw postgres_error(sdk::status::deadline_exceeded, "all " + std::to_string(size_) +
                                                                     " connections to the database at " + where_ +
                                                                     " stayed in use until the call's deadline");
        }
    }
    ++open_;  // this call's, while it connects
    lock.unlock();
    try {
        // Opened outside the lock: connecting waits for the network and the server.
        const deadline connect_by = std::min(until, std::chrono::steady_clock::now() + connect_timeout_);
        auto c = std::make_unique<connection>(connection::open(url_, connect_by, application_name_));
        c->set_deadline(until);
        return lease(*this, std::move(c));
    } catch (...) {
        lock.lock();
        --open_;
        returned_.notify_one();
        throw;
    }
}

void connection_pool::give_back(std::unique_ptr<connection> c) noexcept {
    c->set_deadline(no_deadline);
    {
        std::lock_guard lock(mutex_);
        // A connection that broke, or that is still inside a transaction (a bug, or a ROLLBACK
        // that failed), would hand its trouble to the next call: it is closed instead (below,
        // outside the lock), and its place is free for a new one.
        if (!closed_ && c->usable() && !c->in_transaction()) {
            idle_.push_back(std::move(c));
        } else {
            --open_;
        }
    }
    returned_.notify_one();
}

void connection_pool::close_idle() noexcept {
    std::vector<std::unique_ptr<connection>> closing;
    {
        std::lock_guard lock(mutex_);
        closing.swap(idle_);
        open_ -= closing.size();
        closed_ = true;
    }
    returned_.notify_all();
}

// -------------------------------------------------------------------------------- migrations

namespace {

// FNV-1a, 64 bits: fixed by its definition, unlike std::hash, so every host of every version
// takes the same lock for the same name.
int64_t lock_key(std::string_view name) {
    uint64_t h = 14695981039346656037ull;
    for (const char c : name) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return static_cast<int64_t>(h);
}

}  // namespace

std::string fts5_like_search_objects(std::string_view prefix) {
    const std::string n(prefix);
    return "CREATE EXTENSION IF NOT EXISTS unaccent;\n\n"
           "CREATE TEXT SEARCH DICTIONARY " +
           n +
           "_english_stem (TEMPLATE = snowball, LANGUAGE = english);\n"
           "CREATE TEXT SEARCH CONFIGURATION " +
           n +
           "_search (COPY = simple);\n"
           "ALTER TEXT SEARCH CONFIGURATION " +
           n +
           "_search\n"
           "    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part,\n"
           "                      hword_numpart\n"
           "    WITH unaccent, " +
           n +
           "_english_stem;\n\n"
           "CREATE FUNCTION " +
           n +
           "_search_text(content text) RETURNS text\n"
           "    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE\n"
           "    AS $$ SELECT translate(content, '!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~', repeat(' ', 32)) $$;\n";
}

int64_t migration_lock_key(std::string_view component) {
    return lock_key("toolhost.migrations." + std::string(component));
}

int64_t schema_lock_key() { return lock_key("toolhost.schema"); }

void migrate(connection& c, std::string_view component, const std::vector<std::string_view>& steps) {
    {
        // The table every component records its versions in. CREATE TABLE IF NOT EXISTS is not
        // safe against itself (two sessions can both decide to create), so it runs under a lock
        // of its own, shared by every component.
        transaction tx(c);
        c.exec("SELECT pg_advisory_xact_lock($1)", migration_lock_key("toolhost_migrations"));
        c.exec_script(
            "CREATE TABLE IF NOT EXISTS toolhost_migrations ("
            " component  text        NOT NULL,"
            " version    integer     NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (component, version))");
        tx.commit();
    }
    transaction tx(c);
    // Held until this transaction ends: a host that starts now waits here, then reads the
    // versions this one recorded.
    c.exec("SELECT pg_advisory_xact_lock($1)", migration_lock_key(component));
    const auto current = c.exec("SELECT coalesce(max(version), 0) FROM toolhost_migrations WHERE component = $1",
                                std::string(component));
    const int64_t version = current.int64(0, 0);
    if (version > static_cast<int64_t>(steps.size()))
        throw postgres_error(sdk::status::failed_precondition,
                             "the database at " + c.where() + " has " + std::string(component) + " schema version " +
                                 std::to_string(version) + ", newer than this plugin knows (" +
                                 std::to_string(steps.size()) + ")");
    // Steps to run: not at the same time as another component's (see schema_lock_key()).
    if (version < static_cast<int64_t>(steps.size())) c.exec("SELECT pg_advisory_xact_lock($1)", schema_lock_key());
    for (auto i = static_cast<size_t>(version); i < steps.size(); ++i) {
        try {
            c.exec_script(std::string(steps[i]));
        } catch (const postgres_error& e) {
            throw postgres_error(e.code(),
                                 std::string(component) + " schema step " + std::to_string(i + 1) +
                                     " on the database at " + c.where() + ": " + e.what(),
                                 e.sqlstate());
        }
        c.exec("INSERT INTO toolhost_migrations (component, version) VALUES ($1, $2)", std::string(component),
               static_cast<int64_t>(i + 1));
    }
    tx.commit();
}

}  // namespace toolhost::plugins::postgres

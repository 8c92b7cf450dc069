#pragma once
// The scaffolding of the storage contract suites (test_memory_storage.cpp,
// test_escalation_storage.cpp, test_crm_storage.cpp): one tool driven through the real host on
// either of its storages, an SQLite file in a data folder or a database of a throwaway PostgreSQL
// cluster, and CONTRACT_CASE, which registers a case once per backend.
//
//     class storage_env : public toolhost::test::storage::storage_env {   // in the suite's file
//     public:
//         explicit storage_env(backend b, postgres_cluster* c = nullptr) : ... (spec, b, c) {}
//     };
//     CONTRACT_CASE(tickets_survive_a_restart) { auto h = env.start(); ... }
//
// Every suite also declares the postgresql suite with its precondition (postgresql_available()),
// so that it is skipped, saying what to install, where no cluster can be started.

#include <toolhost/host.hpp>

#include "postgres_cluster.hpp"
#include "test_support.hpp"

#include <toolhost_plugins/sqlite.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace toolhost::test::storage {

enum class backend { sqlite, postgresql };

/// One cluster for the whole executable, started by the first case that needs it; each case gets
/// a database of its own. Cases that stop the server start their own cluster.
inline postgres_cluster& shared_cluster() {
    static postgres_cluster cluster;
    return cluster;
}

/// A new database named <prefix>_<n>; its URL.
inline std::string new_database(postgres_cluster& cluster, const std::string& prefix) {
    static std::atomic<int> next{0};
    return cluster.create_database(prefix + "_" + std::to_string(next++));
}

/// The precondition of a postgresql suite: a cluster can be started here (postgres_cluster::
/// unavailable()) and the plugin has PostgreSQL support (`missing_support` says why not).
inline boost::test_tools::assertion_result postgresql_available(const std::string& suite,
                                                                const std::optional<std::string>& missing_support) {
    const auto why = missing_support ? missing_support : postgres_cluster::unavailable();
    if (!why) return true;
    // Boost reports a failed precondition only at a verbose log level; ctest's log shows this.
    std::cerr << suite << ": skipping the postgresql suite: " << *why << "\n";
    boost::test_tools::assertion_result r(false);
    r.message() << *why;
    return r;
}

/// What the contract needs to know of a tool.
struct tool_spec {
    std::string tool;                   ///< "escalation"
    std::filesystem::path plugin_file;  ///< the built .so
    std::string sqlite_file;            ///< its SQLite file, inside <data_dir>/<tool>
    /// The tables that sql() names by placeholder: {"table", {"tickets", "escalation_tickets"}}
    /// replaces "{table}" by the SQLite or the PostgreSQL name. count() counts "{table}".
    std::map<std::string, std::pair<std::string, std::string>> tables;
};

/// A plugin folder holding only the tool (and its sample), a data folder, and the tool's storage:
/// an SQLite file in the data folder, or a database of a PostgreSQL cluster. Hosts started on them.
class storage_env {
public:
    storage_env(tool_spec spec, backend b, postgres_cluster* cluster) : spec_(std::move(spec)), backend_(b) {
        std::filesystem::create_directory(plugins_);
        copy_into(spec_.plugin_file, plugins_, spec_.tool + ".so");
        // The sample data ships next to the plugin (<plugin folder>/<tool>/sample).
        const auto sample = spec_.plugin_file.parent_path() / spec_.tool / "sample";
        if (std::filesystem::is_directory(sample)) {
            std::filesystem::create_directories(plugins_ / spec_.tool / "sample");
            std::filesystem::copy(sample, plugins_ / spec_.tool / "sample", std::filesystem::copy_options::recursive);
        }
        if (b == backend::postgresql) {
            cluster_ = cluster ? cluster : &shared_cluster();
            url_ = new_database(*cluster_, spec_.tool);
            database_ = url_.substr(url_.rfind('/') + 1);
        }
    }

    backend kind() const noexcept { return backend_; }
    const std::string& url() const noexcept { return url_; }
    const std::string& database() const noexcept { return database_; }
    postgres_cluster& cluster() const { return *cluster_; }
    const std::string& tool() const noexcept { return spec_.tool; }
    /// The database as messages name it: "127.0.0.1:<port>/<database>".
    std::string where() const { return "127.0.0.1:" + std::to_string(cluster_->port()) + "/" + database_; }

    /// The tool's configuration: `config` with this environment's storage ("storage": null: with
    /// none, leaving it to TOOLHOST_DATABASE_URL), and without the sample unless it says so.
    boost::json::object config(boost::json::object config = {}) const {
        if (!config.contains("storage")) config["storage"] = backend_ == backend::sqlite ? "sqlite" : url_;
        if (config.at("storage").is_null()) config.erase("storage");
        if (!config.contains("sample_data")) config["sample_data"] = false;  // seeded only when a case says so
        return config;
    }

    /// A host configuration with the tool configured as `tool_config` (taken as it is), and its
    /// resilience settings when given.
    toolhost::host_config host_config(boost::json::object tool_config, unsigned threads,
                                      boost::json::object resilience = {}) const {
        auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins_};
        c.data_dir = data_;
        c.threads = threads;
        c.log_level = "off";
        tool_settings tool;
        tool.pointer = "/tools/" + spec_.tool;
        tool.config = std::move(tool_config);
        if (!resilience.empty())
            tool.resilience = resilience_settings{std::move(resilience), tool.pointer + "/resilience"};
        c.tools[spec_.tool] = std::move(tool);
        return c;
    }

    /// A host with the tool started on this storage (the case stops if it does not start).
    std::unique_ptr<host> start(boost::json::object tool_config = {}, unsigned threads = 4,
                                boost::json::object resilience = {}) const {
        auto h = std::make_unique<host>(host_config(config(std::move(tool_config)), threads, std::move(resilience)));
        h->load_plugins();
        const auto report =
            h->start({.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{spec_.tool}});
        BOOST_TEST_REQUIRE(report.ok(), (report.ok() ? "" : report.failed.front().second.to_string()));
        return h;
    }

    /// `hosts` hosts started at the same moment (released together from threads of their own) with
    /// the tool configured as config(`tool_config`); every one must start.
    std::vector<std::unique_ptr<host>> start_together(int hosts, boost::json::object tool_config) const {
        std::vector<std::unique_ptr<host>> started(static_cast<size_t>(hosts));
        std::vector<std::string> errors(static_cast<size_t>(hosts));
        {
            std::latch go(hosts);
            std::vector<std::jthread> threads;
            for (size_t i = 0; i < started.size(); ++i)
                threads.emplace_back([&, i] {
                    auto h = std::make_unique<host>(host_config(config(tool_config), 2));
                    h->load_plugins();
                    go.arrive_and_wait();
                    const auto report = h->start(
                        {.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{spec_.tool}});
                    if (!report.ok()) errors[i] = report.failed.front().second.to_string();
                    started[i] = std::move(h);
                });
        }
        for (const auto& e : errors) BOOST_TEST(e.empty(), e);
        return started;
    }

    /// Why the tool fails to start with this configuration (taken as it is).
    tool_error start_error(boost::json::object tool_config) const {
        host h(host_config(std::move(tool_config), 2));
        h.load_plugins();
        const auto report =
            h.start({.concurrent = false, .fail_on_error = false, .only = std::vector<std::string>{spec_.tool}});
        BOOST_TEST_REQUIRE(report.failed.size() == 1u);
        return report.failed.front().second;
    }

    /// Runs SQL on the storage directly, with the table placeholders of the tool_spec replaced;
    /// the rows one a line, columns separated by '|'.
    std::string sql(std::string text) const {
        for (const auto& [placeholder, names] : spec_.tables) {
            const std::string p = "{" + placeholder + "}";
            const std::string& name = backend_ == backend::sqlite ? names.first : names.second;
            for (auto at = text.find(p); at != std::string::npos; at = text.find(p)) text.replace(at, p.size(), name);
        }
        if (backend_ == backend::postgresql) return cluster_->psql(text, database_);
        auto db = plugins::sqlite::database::open(data_ / spec_.tool / spec_.sqlite_file);
        auto st = db.prepare(text);
        std::string out;
        while (st.step()) {
            if (!out.empty()) out += "\n";
            for (int c = 0; c < st.column_count(); ++c) {
                if (c > 0) out += "|";
                out += st.text(c);
            }
        }
        return out;
    }

    /// Stored rows of "{table}" that satisfy `where`.
    int64_t count(const std::string& where = "1 = 1") const {
        return std::stoll(sql("SELECT count(*) FROM {table} WHERE " + where));
    }

private:
    tool_spec spec_;
    backend backend_;
    temp_dir dir_;
    std::filesystem::path plugins_ = dir_ / "plugins";
    std::filesystem::path data_ = dir_ / "var";
    postgres_cluster* cluster_ = nullptr;
    std::string url_;
    std::string database_;
};

/// The result of a call that must succeed, parsed.
inline boost::json::value call_ok(host& h, const std::string& tool, const std::string& op, boost::json::object args,
                                  const call_options& options = {}) {
    const auto r = h.call(tool, op, std::move(args), options);
    BOOST_TEST_REQUIRE(r.has_value(), op << " failed: " << (r ? "" : r.error().to_string()));
    return boost::json::parse(*r);
}

/// The error of a call that must fail.
inline tool_error call_fails(host& h, const std::string& tool, const std::string& op, boost::json::object args) {
    const auto r = h.call(tool, op, std::move(args));
    BOOST_TEST_REQUIRE(!r.has_value(), op << " succeeded: " << (r ? *r : ""));
    return r.error();
}

inline int code(const tool_error& e) { return static_cast<int>(e.code); }
inline int code(status_code c) { return static_cast<int>(c); }

// Calls the hosts make at once, released together: `calls_per_host` threads per host, each making
// `call(host, thread, i)` `rounds` times. The results, in no particular order.
inline std::vector<call_result> at_once(const std::vector<host*>& hosts, int calls_per_host, int rounds,
                                        const std::function<call_result(host&, int, int)>& call) {
    std::mutex m;
    std::vector<call_result> results;
    const int threads = static_cast<int>(hosts.size()) * calls_per_host;
    std::latch go(threads);
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                auto& h = *hosts[static_cast<size_t>(t) % hosts.size()];
                go.arrive_and_wait();
                for (int i = 0; i < rounds; ++i) {
                    auto r = call(h, t, i);
                    std::lock_guard lock(m);
                    results.push_back(std::move(r));
                }
            });
    }
    return results;
}

/// What a writer saw while its database went away and came back.
struct outage {
    std::map<long, std::string> acked;  ///< write n -> its result
    std::vector<std::string> failures;  ///< every failed attempt, as tool_error::to_string()
    size_t before = 0;                  ///< writes acknowledged when the database stopped
};

/// Runs `write(n)` for n = 0, 1, 2, ... on a thread of its own, each write repeated (same n) until
/// it is acknowledged; stops `cluster` once 20 writes are, waits for 3 failed attempts, runs
/// `while_away` (the case's checks on calls made meanwhile), starts the cluster again and waits
/// for 20 more acknowledgements on the same tool instance. A write that may be repeated must be
/// idempotent (an idempotency key per n), since an attempt whose answer was lost may have
/// happened.
inline outage write_through_an_outage(postgres_cluster& cluster, const std::function<call_result(long)>& write,
                                      const std::function<void()>& while_away, const std::string& password) {
    std::mutex m;
    outage seen;
    std::atomic<bool> stop{false};
    std::jthread writer([&] {
        for (long n = 0; !stop;) {
            const auto r = write(n);
            std::lock_guard lock(m);
            if (r) {
                seen.acked[n++] = *r;
            } else {
                seen.failures.push_back(r.error().to_string());
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    });
    const auto acks = [&] {
        std::lock_guard lock(m);
        return seen.acked.size();
    };
    BOOST_TEST_REQUIRE(eventually([&] { return acks() >= 20; }, std::chrono::seconds(30)));
    cluster.stop();
    seen.before = acks();
    BOOST_TEST_REQUIRE(eventually(
        [&] {
            std::lock_guard lock(m);
            return seen.failures.size() >= 3;
        },
        std::chrono::seconds(30)));
    while_away();
    {
        std::lock_guard lock(m);
        BOOST_TEST(seen.acked.size() <= seen.before + 1);  // at most the write in flight when it stopped
    }
    cluster.restart();
    BOOST_TEST_REQUIRE(eventually([&] { return acks() >= seen.before + 20; }, std::chrono::seconds(30)), cluster.log());
    stop = true;
    writer.join();
    std::lock_guard lock(m);
    // Every failure was retryable, and none showed the password.
    for (const auto& f : seen.failures) {
        BOOST_TEST(contains(f, "UNAVAILABLE"), f);
        BOOST_TEST(!contains(f, password), f);
    }
    return seen;
}

/// A host with `env`'s tool on its PostgreSQL database through a URL that carries `password`
/// (which no message may show), and no circuit breaker: a test that stops the database on purpose
/// wants the tool's own answers, not the breaker's fast failures.
inline std::unique_ptr<host> start_with_password(const storage_env& env, const std::string& password,
                                                 boost::json::object config = {}) {
    config["storage"] = env.cluster().url(env.database(), password);
    auto h = env.start(std::move(config));
    h->disable_circuit_breaker(env.tool());
    return h;
}

/// Each of `calls` (operation, arguments) fails as it must while the database is away:
/// UNAVAILABLE, "<tool>.<operation>: the database at <where> is unavailable: <why>", never with the
/// password.
inline void check_unavailable(host& h, const storage_env& env,
                              const std::vector<std::pair<std::string, boost::json::object>>& calls,
                              const std::string& password) {
    for (const auto& [op, args] : calls) {
        const auto e = call_fails(h, env.tool(), op, args);
        BOOST_TEST_MESSAGE(e.to_string());
        BOOST_TEST(code(e) == code(status_code::unavailable), op << ": " << e.to_string());
        BOOST_TEST(
            contains(e.message, env.tool() + "." + op + ": the database at " + env.where() + " is unavailable: "),
            e.message);
        BOOST_TEST(!contains(e.message, password), e.message);
    }
}

/// The PostgreSQL schema of `env`'s tool: versioned in toolhost_migrations as `component` versions
/// 1 to `latest`, its tables (`tables`, in order) next to that one only, migrated once however
/// often hosts start, and a newer version than the tool knows refused.
inline void check_migrations(const storage_env& env, const std::string& component, const std::string& tables,
                             int latest = 1) {
    env.start().reset();
    std::string versions;
    for (int v = 1; v <= latest; ++v) versions += (v > 1 ? ", " : "") + component + " " + std::to_string(v);
    BOOST_TEST(env.sql("SELECT string_agg(component || ' ' || version, ', ' ORDER BY version) FROM "
                       "toolhost_migrations") == versions);
    // The tables share the database with other tools' under their prefix.
    BOOST_TEST(env.sql("SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = "
                       "'public'") == tables + " toolhost_migrations");
    env.start().reset();  // a second start migrates nothing
    BOOST_TEST(env.sql("SELECT count(*) FROM toolhost_migrations") == std::to_string(latest));
    env.sql("INSERT INTO toolhost_migrations (component, version) VALUES ('" + component + "', 99)");
    const auto e = env.start_error(env.config());
    BOOST_TEST(code(e) == code(status_code::failed_precondition), e.to_string());
    BOOST_TEST(contains(e.message, "schema version 99"), e.to_string());
}

/// TOOLHOST_DATABASE_URL set to a value for as long as this object lives.
class database_url_variable {
public:
    explicit database_url_variable(const std::string& value) { ::setenv("TOOLHOST_DATABASE_URL", value.c_str(), 1); }
    ~database_url_variable() { ::unsetenv("TOOLHOST_DATABASE_URL"); }
    database_url_variable(const database_url_variable&) = delete;
    database_url_variable& operator=(const database_url_variable&) = delete;
};

/// How `env`'s tool (on PostgreSQL) chooses its storage: without "storage", TOOLHOST_DATABASE_URL
/// decides and the SQLite key (`sqlite_key`: `sqlite_value`) is ignored; "storage": "sqlite" (with
/// `sqlite_config`) wins over the variable; a variable that is not a postgresql:// URL is refused
/// naming it; the SQLite key next to a "storage" URL is INVALID_ARGUMENT naming it (after
/// `prefix`, "config/" or none); a URL libpq cannot read is INVALID_ARGUMENT naming storage and a
/// server that is not there UNAVAILABLE naming it, neither showing the password;
/// "storage_connections" bounds the connections the tool opens (all named "toolhost <tool>"),
/// and is refused out of range or next to "storage": "sqlite". `write` stores one record through
/// a host and returns the call's result (checked here; it runs on several threads at once).
inline void check_storage_choice(const storage_env& env, const std::string& prefix, const std::string& sqlite_key,
                                 const boost::json::value& sqlite_value, boost::json::object sqlite_config,
                                 const std::function<call_result(host&)>& write) {
    const auto written = [](const call_result& r) {
        BOOST_TEST_REQUIRE(r.has_value(), "the write failed: " << r.error().to_string());
    };
    {
        database_url_variable url(env.url());
        auto h = env.start({{"storage", nullptr}, {sqlite_key, sqlite_value}});
        written(write(*h));
        BOOST_TEST(env.count() == 1);
    }
    {
        database_url_variable url(env.url());
        sqlite_config["storage"] = "sqlite";
        auto h = env.start(std::move(sqlite_config));
        written(write(*h));
        BOOST_TEST(env.count() == 1);  // not in PostgreSQL
    }
    {
        database_url_variable url("mysql://nope");
        auto config = env.config();
        config.erase("storage");
        const auto e = env.start_error(config);
        BOOST_TEST(contains(e.message, "TOOLHOST_DATABASE_URL"), e.to_string());
    }
    auto e = env.start_error(env.config({{sqlite_key, sqlite_value}}));
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, prefix + sqlite_key), e.to_string());
    e = env.start_error(env.config({{"storage", "postgresql://u:pa%zzss@127.0.0.1:1/x"}}));
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(!contains(e.message, "pa%zzss"), e.to_string());
    BOOST_TEST(contains(e.message, prefix + "storage"), e.to_string());
    e = env.start_error(env.config({{"storage", "postgresql://u:hidden@127.0.0.1:1/x"}}));
    BOOST_TEST(code(e) == code(status_code::unavailable), e.to_string());
    BOOST_TEST(contains(e.message, env.tool() + ".initialize: the database at 127.0.0.1:1/x is unavailable"),
               e.to_string());
    BOOST_TEST(!contains(e.message, "hidden"), e.to_string());

    for (const int wrong : {0, 1001}) {
        e = env.start_error(env.config({{"storage_connections", wrong}}));
        BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
        BOOST_TEST(contains(e.message, "storage_connections"), e.to_string());
    }
    {
        auto config = sqlite_config;
        config["storage"] = "sqlite";
        config["storage_connections"] = 2;
        e = env.start_error(std::move(config));
        BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
        BOOST_TEST(contains(e.message, prefix + "storage_connections: applies to a PostgreSQL storage only"),
                   e.to_string());
    }
    {
        // Forty writes from eight threads at once through one connection: the pool opens no
        // second one (with the default of 8 it would open one per call in flight).
        auto h = env.start(env.config({{"storage_connections", 1}}));
        for (const auto& r : at_once({h.get()}, 8, 5, [&](host&on, int, int) { return write(on); })) written(r);
        const std::string connections =
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'toolhost " +
            env.tool() + "'";
        // Connections of the hosts above may take a moment to leave pg_stat_activity.
        BOOST_TEST(toolhost::test::eventually([&] { return env.sql(connections) == "1"; }, std::chrono::seconds(10)),
                   env.sql(connections) << " connections named 'toolhost " << env.tool() << "'");
    }
}

/// A build of the tool without libpq refuses a PostgreSQL storage, naming `storage_key` and what
/// to install.
inline void check_refused_without_postgresql_support(const storage_env& env, const std::string& storage_key) {
    const auto e = env.start_error(env.config({{"storage", "postgresql://u@127.0.0.1:1/x"}}));
    BOOST_TEST(code(e) == code(status_code::failed_precondition), e.to_string());
    BOOST_TEST(contains(e.message, storage_key + ": a PostgreSQL storage needs PostgreSQL support"), e.to_string());
    BOOST_TEST(contains(e.message, "libpq-dev"), e.to_string());
}

}  // namespace toolhost::test::storage

// STORAGE_CONTRACT_SUITES(name, missing_support): declares the postgresql suite, run only where a
// cluster can be started and the plugin has PostgreSQL support (`missing_support`: nullptr, or why
// not), skipped otherwise, saying why; `name` names the test in that message.
#define STORAGE_CONTRACT_SUITES(name, missing_support)                                         \
    namespace {                                                                                \
    boost::test_tools::assertion_result postgresql_available(boost::unit_test::test_unit_id) { \
        const char* missing = (missing_support);                                               \
        return toolhost::test::storage::postgresql_available(                                  \
            name, missing ? std::optional<std::string>(missing) : std::nullopt);               \
    }                                                                                          \
    }                                                                                          \
    BOOST_AUTO_TEST_SUITE(postgresql, *boost::unit_test::precondition(postgresql_available))   \
    BOOST_AUTO_TEST_SUITE_END()

// CONTRACT_CASE(name) { ... env ... }: one case of the contract, registered as sqlite/name and
// postgresql/name, its body run with a storage_env (the suite's own class, constructible from a
// backend) of each backend.
#define CONTRACT_CASE(name)                   \
    namespace contract {                      \
    void name(storage_env& env);              \
    }                                         \
    BOOST_AUTO_TEST_SUITE(sqlite)             \
    BOOST_AUTO_TEST_CASE(name) {              \
        storage_env env(backend::sqlite);     \
        contract::name(env);                  \
    }                                         \
    BOOST_AUTO_TEST_SUITE_END()               \
    BOOST_AUTO_TEST_SUITE(postgresql)         \
    BOOST_AUTO_TEST_CASE(name) {              \
        storage_env env(backend::postgresql); \
        contract::name(env);                  \
    }                                         \
    BOOST_AUTO_TEST_SUITE_END()               \
    void contract::name(storage_env& env)

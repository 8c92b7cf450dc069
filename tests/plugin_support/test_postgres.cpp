// toolhost_plugin_postgres: the RAII layer over libpq, against a throwaway cluster started by the
// test (tests/support/postgres_cluster.hpp): values sent apart from the SQL, errors classified by
// SQLSTATE, the deadline of a statement, the pool dropping what broke, migrations applied once
// under their lock. Without PostgreSQL's server binaries, the cases that need a server are
// skipped, saying what to install.
#define BOOST_TEST_MODULE postgres
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/postgres.hpp>

#include "postgres_cluster.hpp"
#include "test_support.hpp"

#include <atomic>
#include <iostream>
#include <latch>
#include <thread>
#include <vector>

namespace pg = toolhost::plugins::postgres;
namespace sdk = toolhost::sdk;
using toolhost::test::contains;
using toolhost::test::postgres_cluster;

namespace {

int code(const sdk::error& e) { return static_cast<int>(e.code()); }
int code(sdk::status s) { return static_cast<int>(s); }

pg::deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
pg::deadline soon() { return in(std::chrono::seconds(10)); }

postgres_cluster& cluster() {
    static postgres_cluster c;
    return c;
}

std::string new_database() {
    static int next = 0;
    return cluster().create_database("postgres_" + std::to_string(next++));
}

boost::test_tools::assertion_result server_available(boost::unit_test::test_unit_id) {
    const auto why = postgres_cluster::unavailable();
    if (!why) return true;
    std::cerr << "test_postgres: skipping the cases that need a server: " << *why << "\n";
    boost::test_tools::assertion_result r(false);
    r.message() << *why;
    return r;
}

/// Ends the server process `pid` as an administrator would; true once it is gone.
bool terminate_backend(int64_t pid) {
    cluster().psql("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    return toolhost::test::eventually(
        [&] {
            return cluster().psql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == "0";
        },
        std::chrono::seconds(10));
}

/// The error `f` throws (it must throw a postgres_error).
template <class F>
pg::postgres_error error_of(F&& f) {
    try {
        f();
    } catch (const pg::postgres_error& e) {
        return e;
    }
    BOOST_FAIL("no postgres_error thrown");
    return pg::postgres_error(sdk::status::internal, "unreachable");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(without_a_server)

BOOST_AUTO_TEST_CASE(sqlstates_map_to_statuses_that_say_whether_to_retry) {
    using s = sdk::status;
    for (const char* retry : {"08006", "08001", "57P01", "57P02", "57P03", "53300", "53100", "55P03", "40001", "40P01"})
        BOOST_TEST(code(pg::status_of(retry)) == code(s::unavailable), retry);
    BOOST_TEST(code(pg::status_of("23505")) == code(s::failed_precondition));
    BOOST_TEST(code(pg::status_of("23514")) == code(s::failed_precondition));
    BOOST_TEST(code(pg::status_of("22P02")) == code(s::invalid_argument));
    BOOST_TEST(code(pg::status_of("28P01")) == code(s::permission_denied));
    BOOST_TEST(code(pg::status_of("42501")) == code(s::permission_denied));
    BOOST_TEST(code(pg::status_of("57014")) == code(s::deadline_exceeded));
    BOOST_TEST(code(pg::status_of("53200")) == code(s::resource_exhausted));
    BOOST_TEST(code(pg::status_of("XX001")) == code(s::data_loss));
    BOOST_TEST(code(pg::status_of("42P01")) == code(s::internal));  // a bug: no such table
    BOOST_TEST(code(pg::status_of("")) == code(s::internal));
}

BOOST_AUTO_TEST_CASE(a_url_is_described_without_its_password) {
    BOOST_TEST(pg::describe("postgresql://u:secret@db.internal:6543/app?sslmode=require") == "db.internal:6543/app");
    BOOST_TEST(pg::describe("postgres://u@db.internal/app") == "db.internal:5432/app");
    const auto e = error_of([] { pg::describe("postgresql://u:pa%zzss@db/app"); });
    BOOST_TEST(code(e) == code(sdk::status::invalid_argument));
    BOOST_TEST(contains(e.what(), "not a valid PostgreSQL URL"), e.what());
    BOOST_TEST(!contains(e.what(), "pa%zzss"), e.what());
}

BOOST_AUTO_TEST_CASE(values_are_text_that_reads_back_exactly_and_never_holds_nul) {
    BOOST_TEST(pg::param(0.1).c_str() == std::string("0.1"));
    BOOST_TEST(std::stod(pg::param(1.0 / 3).c_str()) == 1.0 / 3);
    BOOST_TEST(pg::param(int64_t{-42}).c_str() == std::string("-42"));
    BOOST_TEST(pg::param(true).c_str() == std::string("t"));
    BOOST_TEST(pg::param(std::optional<int64_t>()).is_null());
    BOOST_TEST(pg::param(nullptr).is_null());
    const auto e = error_of([] { pg::param(std::string_view("a\0b", 3)); });
    BOOST_TEST(code(e) == code(sdk::status::invalid_argument));
    BOOST_TEST(code(error_of([] { pg::param(std::numeric_limits<uint64_t>::max()); })) ==
               code(sdk::status::out_of_range));
}

BOOST_AUTO_TEST_CASE(a_server_that_is_not_there_is_unavailable) {
    // Port 1 on loopback: nothing listens there.
    const auto e = error_of([] { pg::connection::open("postgresql://u:secret@127.0.0.1:1/x", soon()); });
    BOOST_TEST(code(e) == code(sdk::status::unavailable), e.what());
    BOOST_TEST(contains(e.what(), "cannot connect"), e.what());
    BOOST_TEST(!contains(e.what(), "secret"), e.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(with_a_server, *boost::unit_test::precondition(server_available))

BOOST_AUTO_TEST_CASE(values_travel_apart_from_the_sql_and_come_back_by_type) {
    auto c = pg::connection::open(new_database(), soon());
    const std::string tricky = "'); DROP TABLE x; -- \"quoted\" \\ back";
    const auto r = c.exec("SELECT $1::text, $2::bigint, $3::float8, $4::text IS NULL, $5::text[], $6::bigint[]", tricky,
                          int64_t{9007199254740993}, 1.0 / 3, std::optional<std::string>(),
                          pg::text_array(std::vector<std::string>{"a,b", "c\"d", "e\\f", ""}),
                          pg::int_array(std::vector<int64_t>{1, -2}));
    BOOST_TEST_REQUIRE(r.rows() == 1);
    std::string text;
    int64_t big = 0;
    double third = 0;
    bool null = false;
    r.read_row(0, text, big, third, null);
    BOOST_TEST(text == tricky);
    BOOST_TEST(big == 9007199254740993);
    BOOST_TEST(third == 1.0 / 3);
    BOOST_TEST(null);
    BOOST_TEST(r.text(0, 4) == R"({"a,b","c\"d","e\\f",""})");
    BOOST_TEST(r.text(0, 5) == "{1,-2}");
    BOOST_TEST(r.column("int8") == 1);
}

BOOST_AUTO_TEST_CASE(errors_carry_the_sqlstate_and_the_status_to_act_on) {
    auto c = pg::connection::open(new_database(), soon());
    c.exec_script("CREATE TABLE t (id int PRIMARY KEY)");
    c.exec("INSERT INTO t VALUES ($1)", 1);
    auto e = error_of([&] { c.exec("INSERT INTO t VALUES ($1)", 1); });
    BOOST_TEST(code(e) == code(sdk::status::failed_precondition), e.what());
    BOOST_TEST(e.sqlstate() == "23505");
    BOOST_TEST(contains(e.what(), "duplicate key"), e.what());
    // A transaction the server aborted to let another go on: worth retrying.
    e = error_of([&] { c.exec_script("DO $$ BEGIN RAISE EXCEPTION 'chosen' USING ERRCODE = '40001'; END $$"); });
    BOOST_TEST(code(e) == code(sdk::status::unavailable), e.what());
    BOOST_TEST(c.usable());  // the connection itself is fine
    // An administrator ends the session: unavailable, and the connection is done for.
    const auto pid = c.exec("SELECT pg_backend_pid()").int64(0, 0);
    auto other = pg::connection::open(cluster().url(), soon());
    other.exec("SELECT pg_terminate_backend($1)", pid);
    e = error_of([&] { c.exec("SELECT 1"); });
    BOOST_TEST(code(e) == code(sdk::status::unavailable), e.what());
    BOOST_TEST(!c.usable());
}

BOOST_AUTO_TEST_CASE(a_statement_never_outlasts_the_deadline) {
    auto c = pg::connection::open(new_database(), soon());
    c.set_deadline(in(std::chrono::milliseconds(200)));
    const auto started = std::chrono::steady_clock::now();
    const auto e = error_of([&] { c.exec("SELECT pg_sleep(30)"); });
    BOOST_TEST(code(e) == code(sdk::status::deadline_exceeded), e.what());
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
    BOOST_TEST(!c.usable());  // abandoned: a pool closes it
}

BOOST_AUTO_TEST_CASE(a_transaction_rolls_back_unless_committed) {
    auto c = pg::connection::open(new_database(), soon());
    c.exec_script("CREATE TABLE t (id int)");
    {
        pg::transaction tx(c);
        c.exec("INSERT INTO t VALUES (1)");
    }
    {
        pg::transaction tx(c);
        c.exec("INSERT INTO t VALUES (2)");
        tx.commit();
    }
    {
        pg::transaction tx(c);
        BOOST_CHECK_THROW(c.exec("INSERT INTO t VALUES ($1)", "not a number"), pg::postgres_error);
    }  // the failed transaction is rolled back, and the connection goes on
    BOOST_TEST(!c.in_transaction());
    BOOST_TEST(c.exec("SELECT string_agg(id::text, ',') FROM t").string(0, 0) == "2");
}

BOOST_AUTO_TEST_CASE(the_pool_drops_connections_that_broke_or_that_the_server_closed) {
    const auto url = new_database();
    pg::connection_pool pool(url, 4);
    BOOST_TEST(pool.where() == url.substr(url.find('@') + 1));
    int64_t first_pid = 0;
    {
        auto a = pool.acquire(soon());
        first_pid = a->exec("SELECT pg_backend_pid()").int64(0, 0);
    }
    {
        auto again = pool.acquire(soon());  // the idle one, reused
        BOOST_TEST(again->exec("SELECT pg_backend_pid()").int64(0, 0) == first_pid);
    }
    // Closed by the server while idle: replaced before it is handed out.
    BOOST_TEST_REQUIRE(terminate_backend(first_pid));
    int64_t second_pid = 0;
    {
        auto b = pool.acquire(soon());
        second_pid = b->exec("SELECT pg_backend_pid()").int64(0, 0);
        BOOST_TEST(second_pid != first_pid);
        // Left inside a transaction: closed when it comes back, which rolls it back.
        b->exec("BEGIN");
    }
    auto c = pool.acquire(soon());
    BOOST_TEST(c->exec("SELECT pg_backend_pid()").int64(0, 0) != second_pid);
    BOOST_TEST(!c->in_transaction());
}

BOOST_AUTO_TEST_CASE(the_pool_opens_at_most_its_size_and_callers_wait_for_a_connection) {
    const auto url = new_database();
    pg::connection_pool pool(url, 3);
    // A burst of 12 calls at once, each holding its connection a moment: never more than 3 open
    // (the server sees no more), and every call gets one.
    std::atomic<int> done{0};
    std::atomic<size_t> most{0};
    std::vector<std::thread> callers;
    for (int i = 0; i < 12; ++i)
        callers.emplace_back([&] {
            auto c = pool.acquire(soon());
            most = std::max(most.load(), pool.open_connections());
            c->exec("SELECT pg_sleep(0.02)");
            ++done;
        });
    for (auto& t : callers) t.join();
    BOOST_TEST(done.load() == 12);
    BOOST_TEST(most.load() <= 3u);
    BOOST_TEST(pool.open_connections() <= 3u);
    const auto db = url.substr(url.rfind('/') + 1);
    BOOST_TEST(std::stoi(cluster().psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db + "'")) <= 3);

    // All of them held: the next call waits until its deadline, then says why.
    {
        auto a = pool.acquire(soon());
        auto b = pool.acquire(soon());
        auto c = pool.acquire(soon());
        const auto e = error_of([&] { pool.acquire(in(std::chrono::milliseconds(50))); });
        BOOST_TEST(code(e) == code(sdk::status::deadline_exceeded));
        BOOST_TEST(contains(e.what(), "all 3 connections"), e.what());
        // One coming back is handed to a waiting call at once.
        std::thread later([&] { auto gone = std::move(a); });
        auto d = pool.acquire(soon());
        later.join();
        BOOST_TEST(d->exec("SELECT 1").int64(0, 0) == 1);
    }
    // A connection that broke frees its place.
    {
        auto broken = pool.acquire(soon());
        const auto pid = broken->exec("SELECT pg_backend_pid()").int64(0, 0);
        BOOST_TEST_REQUIRE(terminate_backend(pid));
        BOOST_CHECK_THROW(broken->exec("SELECT 1"), pg::postgres_error);
    }
    BOOST_TEST(pool.open_connections() <= 2u);
    auto fresh = pool.acquire(soon());
    BOOST_TEST(fresh->exec("SELECT 1").int64(0, 0) == 1);
}

BOOST_AUTO_TEST_CASE(a_listening_connection_hears_notifications_and_waits_no_longer_than_asked) {
    const auto url = new_database();
    auto listener = pg::connection::open(url, soon());
    listener.set_deadline(soon());
    listener.exec("LISTEN toolhost_test");
    BOOST_TEST(
        listener.notifications(in(std::chrono::milliseconds(50))).empty());  // nothing came: back at the deadline
    auto sender = pg::connection::open(url, soon());
    sender.set_deadline(soon());
    sender.exec("SELECT pg_notify('toolhost_test', $1)", "one");
    sender.exec("SELECT pg_notify('other_channel', 'not for it')");
    sender.exec("SELECT pg_notify('toolhost_test', $1)", "two");
    std::vector<std::string> heard;
    while (heard.size() < 2) {
        auto got = listener.notifications(soon());
        BOOST_TEST_REQUIRE(!got.empty());
        for (const auto& n : got) {
            BOOST_TEST(n.channel == "toolhost_test");
            BOOST_TEST(n.sender_pid > 0);
            heard.push_back(n.payload);
        }
    }
    BOOST_TEST(heard == (std::vector<std::string>{"one", "two"}), boost::test_tools::per_element());
    // The server goes away: the listener learns it instead of waiting on.
    cluster().psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
    BOOST_CHECK_THROW(
        {
            for (int i = 0; i < 100; ++i) listener.notifications(in(std::chrono::milliseconds(100)));
        },
        pg::postgres_error);
}

BOOST_AUTO_TEST_CASE(migrations_run_once_when_several_hosts_start_together) {
    const auto url = new_database();
    const std::vector<std::string_view> steps{"CREATE TABLE demo_items (id int)",
                                              "ALTER TABLE demo_items ADD COLUMN name text"};
    constexpr int hosts = 6;
    std::vector<std::string> errors(hosts);
    {
        std::latch go(hosts);
        std::vector<std::jthread> threads;
        for (int i = 0; i < hosts; ++i)
            threads.emplace_back([&, i] {
                try {
                    auto c = pg::connection::open(url, soon());
                    go.arrive_and_wait();
                    pg::migrate(c, "demo", steps);
                } catch (const std::exception& e) {
                    errors[static_cast<size_t>(i)] = e.what();
                }
            });
    }
    for (const auto& e : errors) BOOST_TEST(e.empty(), e);
    auto c = pg::connection::open(url, soon());
    BOOST_TEST(
        c.exec("SELECT string_agg(component || version, ',' ORDER BY version) FROM toolhost_migrations").string(0, 0) ==
        "demo1,demo2");

    // A step that fails leaves nothing of the migration behind and names itself.
    const std::vector<std::string_view> broken{steps[0], steps[1], "CREATE TABLE demo_more (id int)",
                                               "ALTER TABLE no_such_table ADD COLUMN x int"};
    const auto e = error_of([&] { pg::migrate(c, "demo", broken); });
    BOOST_TEST(contains(e.what(), "demo schema step 4"), e.what());
    BOOST_TEST(c.exec("SELECT to_regclass('demo_more') IS NULL").boolean(0, 0));
    BOOST_TEST(c.exec("SELECT max(version) FROM toolhost_migrations").int64(0, 0) == 2);

    // Written by a newer version: refused.
    const auto newer = error_of([&] { pg::migrate(c, "demo", {steps[0]}); });
    BOOST_TEST(code(newer) == code(sdk::status::failed_precondition), newer.what());
}

BOOST_AUTO_TEST_SUITE_END()

// toolhost_plugin_sqlite: the RAII layer over SQLite, the connection pool, and the sample data
// seeded once (sample.hpp).
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/connection_pool.hpp>
#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/sqlite.hpp>

#include "test_support.hpp"

#include <functional>
#include <limits>
#include <optional>

namespace plugins = toolhost::plugins;
namespace sqlite = toolhost::plugins::sqlite;
namespace sdk = toolhost::sdk;
using toolhost::test::temp_dir;

namespace {

int64_t count(sqlite::database& db, const std::string& table) {
    auto st = db.prepare("SELECT count(*) FROM " + table);
    st.step();
    return st.int64(0);
}

const std::vector<std::string_view> schema = {
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sqlite_database)

BOOST_AUTO_TEST_CASE(migrates_once_and_rolls_back_what_is_not_committed) {
    temp_dir dir;
    auto db = sqlite::database::open(dir.path() / "sub" / "a.db");
    sqlite::migrate(db, schema);
    sqlite::migrate(db, schema);  // already there: nothing to do
    {
        sqlite::transaction tx(db);
        db.prepare("INSERT INTO items (name) VALUES (?1)").bind(1, "kept").run();
        tx.commit();
    }
    {
        sqlite::transaction tx(db);
        db.prepare("INSERT INTO items (name) VALUES (?1)").bind(1, "dropped").run();
    }
    BOOST_TEST(count(db, "items") == 1);
    const std::vector<std::string_view> older = {schema[0]};
    BOOST_CHECK_THROW(sqlite::migrate(db, older), sdk::error);  // newer than the code
}

BOOST_AUTO_TEST_CASE(errors_carry_a_status_that_says_whether_to_retry) {
    BOOST_TEST(static_cast<int>(sqlite::status_of(SQLITE_BUSY)) == static_cast<int>(sdk::status::unavailable));
    BOOST_TEST(static_cast<int>(sqlite::status_of(SQLITE_CORRUPT)) == static_cast<int>(sdk::status::data_loss));
    BOOST_TEST(static_cast<int>(sqlite::status_of(SQLITE_CONSTRAINT_UNIQUE)) ==
               static_cast<int>(sdk::status::failed_precondition));
    temp_dir dir;
    auto db = sqlite::database::open(dir.path() / "a.db");
    BOOST_CHECK_THROW(db.exec("SELECT * FROM nowhere"), sqlite::sqlite_error);
}

BOOST_AUTO_TEST_CASE(fts5_queries_quote_every_word) {
    BOOST_TEST(sqlite::fts5_query("refund  NOT \"x") == R"("refund" OR "NOT" OR """x")");
    BOOST_TEST(sqlite::fts5_query("a b", " AND ") == R"("a" AND "b")");
    BOOST_TEST(sqlite::fts5_query("   ").empty());
    // A NUL (or another control character) separates words: FTS5 would end its query there.
    BOOST_TEST(sqlite::fts5_query(std::string_view("re\0fund\x01", 9)) == R"("re" OR "fund")");
    BOOST_TEST(sqlite::fts5_query(std::string_view("\0", 1)).empty());
}

BOOST_AUTO_TEST_CASE(the_pool_hands_out_connections_and_keeps_idle_ones) {
    temp_dir dir;
    sqlite::connection_pool pool(dir.path() / "p.db", {}, 2);
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        a->exec("CREATE TABLE t (x)");
        b->exec("INSERT INTO t VALUES (1)");
    }
    auto c = pool.acquire();
    BOOST_TEST(count(*c, "t") == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sqlite_statement)

// A table with a column of every kind the helpers read, and the statement that fills it.
sqlite::database typed_table(const temp_dir& dir) {
    auto db = sqlite::database::open(dir.path() / "t.db");
    db.exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, n TEXT, copy TEXT)");
    return db;
}
constexpr std::string_view insert_typed = "INSERT INTO t (i, r, s, n, copy) VALUES (?1, ?2, ?3, ?4, ?3)";

int64_t sqlite_code(const std::function<void()>& f) {
    try {
        f();
    } catch (const sqlite::sqlite_error& e) {
        return e.sqlite_code();
    }
    return SQLITE_OK;
}

BOOST_AUTO_TEST_CASE(bind_all_binds_the_numbered_parameters_in_order) {
    temp_dir dir;
    auto db = typed_table(dir);
    const size_t count_of_things = 7;
    db.prepare(insert_typed).bind_all(count_of_things, 0.5, std::string("text"), std::optional<std::string>()).run();
    db.prepare(insert_typed).bind_all(-3, 1.5, "second", std::optional<std::string>("given")).run();
    auto st = db.prepare("SELECT i, r, s, n, copy FROM t ORDER BY rowid");
    BOOST_TEST_REQUIRE(st.step());
    BOOST_TEST(st.int64(0) == 7);
    BOOST_TEST(st.real(1) == 0.5);
    BOOST_TEST(st.string(2) == "text");
    BOOST_TEST(st.is_null(3));
    BOOST_TEST(st.string(4) == "text");  // ?3 used twice, bound once
    BOOST_TEST_REQUIRE(st.step());
    BOOST_TEST(st.int64(0) == -3);
    BOOST_TEST(st.string(3) == "given");
    BOOST_TEST(!st.step());
}

BOOST_AUTO_TEST_CASE(bind_all_refuses_too_few_or_too_many_values) {
    temp_dir dir;
    auto db = typed_table(dir);
    auto st = db.prepare(insert_typed);
    BOOST_TEST(st.parameter_count() == 4);
    BOOST_TEST(sqlite_code([&] { st.bind_all(1, 2.0, "three"); }) == SQLITE_RANGE);
    BOOST_TEST(sqlite_code([&] { st.bind_all(1, 2.0, "three", "four", "five"); }) == SQLITE_RANGE);
    BOOST_TEST(sqlite_code([&] { db.prepare("SELECT 1").bind_all(); }) == SQLITE_OK);
}

BOOST_AUTO_TEST_CASE(unsigned_values_beyond_int64_are_refused_not_wrapped) {
    temp_dir dir;
    auto db = typed_table(dir);
    auto st = db.prepare("SELECT ?1");
    const uint64_t largest = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    st.bind(1, largest);
    BOOST_TEST_REQUIRE(st.step());
    BOOST_TEST(st.int64(0) == std::numeric_limits<int64_t>::max());
    st.reset();
    BOOST_TEST(sqlite_code([&] { st.bind(1, largest + 1); }) == SQLITE_TOOBIG);
    const uint32_t small = 4000000000u;  // fits: widened, not wrapped
    st.bind(1, small);
    BOOST_TEST_REQUIRE(st.step());
    BOOST_TEST(st.int64(0) == 4000000000);
}

BOOST_AUTO_TEST_CASE(read_row_reads_the_columns_in_order_by_type) {
    temp_dir dir;
    auto db = typed_table(dir);
    db.prepare(insert_typed).bind_all(42, 2.5, "word", nullptr).run();
    auto st = db.prepare("SELECT i, r, s, n, i, s FROM t");
    BOOST_TEST_REQUIRE(st.step());
    int64_t i = 0;
    double r = 0;
    std::string s = "old";
    std::optional<std::string> n = "not null before";
    std::optional<int64_t> i_again;
    std::optional<std::string> s_again;
    st.read_row(i, r, s, n, i_again, s_again);
    BOOST_TEST(i == 42);
    BOOST_TEST(r == 2.5);
    BOOST_TEST(s == "word");
    BOOST_TEST(!n.has_value());
    BOOST_TEST((i_again == std::optional<int64_t>(42)));
    BOOST_TEST((s_again == std::optional<std::string>("word")));
    int64_t first = 0;
    st.read_row(first);  // a prefix of the columns is fine
    BOOST_TEST(first == 42);
    std::string extra;
    BOOST_TEST(sqlite_code([&] { st.read_row(i, r, s, n, i_again, s_again, extra); }) == SQLITE_RANGE);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sample_data)

BOOST_AUTO_TEST_CASE(is_wanted_by_default_and_seed_sample_is_its_old_name) {
    BOOST_TEST(sqlite::sample_data_wanted(plugins::args("{}")));
    BOOST_TEST(!sqlite::sample_data_wanted(plugins::args(R"({"sample_data":false})")));
    BOOST_TEST(!sqlite::sample_data_wanted(plugins::args(R"({"seed_sample":false})")));
    BOOST_TEST(sqlite::sample_data_wanted(plugins::args(R"({"seed_sample":true})")));
    BOOST_CHECK_THROW(sqlite::sample_data_wanted(plugins::args(R"({"seed_sample":true,"sample_data":true})")),
                      sdk::error);
}

BOOST_AUTO_TEST_CASE(store_options_come_from_the_configuration) {
    BOOST_TEST(sqlite::busy_timeout_ms(plugins::args("{}")) == 5000);
    BOOST_TEST(sqlite::busy_timeout_ms(plugins::args(R"({"busy_timeout_ms":0})")) == 0);
    BOOST_CHECK_THROW(sqlite::busy_timeout_ms(plugins::args(R"({"busy_timeout_ms":600001})")), sdk::error);

    temp_dir dir;
    const auto sample = dir.path() / "sample.json";
    toolhost::test::write_file(sample, R"({"rows":[1,2]})");
    const auto on = sqlite::store_options_of(plugins::args(R"({"busy_timeout_ms":250})"), sample);
    BOOST_TEST(on.busy_timeout_ms == 250);
    BOOST_TEST(on.seed_sample);
    BOOST_TEST(on.sample_json == R"({"rows":[1,2]})");

    // Not wanted: the file is not read, so a missing one is no error.
    const auto off = sqlite::store_options_of(plugins::args(R"({"sample_data":false})"), dir.path() / "missing.json");
    BOOST_TEST(!off.seed_sample);
    BOOST_TEST(off.sample_json.empty());
    try {
        sqlite::store_options_of(plugins::args("{}"), dir.path() / "missing.json");
        BOOST_FAIL("a wanted sample that cannot be read must fail");
    } catch (const sdk::error& e) {
        BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(sdk::status::invalid_argument));
        BOOST_TEST(toolhost::test::contains(e.what(), "config/sample_data"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(is_seeded_once_even_after_its_records_are_deleted) {
    temp_dir dir;
    auto db = sqlite::database::open(dir.path() / "s.db");
    sqlite::migrate(db, schema);
    int runs = 0;
    const auto insert = [&] {
        ++runs;
        db.exec("INSERT INTO items (name) VALUES ('sample')");
        return std::string("seeded for the test");
    };
    BOOST_TEST(!sqlite::sample_seeded(db, "meta"));
    BOOST_TEST(sqlite::seed_once(db, "meta", insert));
    BOOST_TEST(sqlite::sample_seeded(db, "meta"));
    db.exec("DELETE FROM items");
    BOOST_TEST(!sqlite::seed_once(db, "meta", insert));
    BOOST_TEST(runs == 1);
    BOOST_TEST(count(db, "items") == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_seed_leaves_nothing_behind) {
    temp_dir dir;
    auto db = sqlite::database::open(dir.path() / "s.db");
    sqlite::migrate(db, schema);
    BOOST_CHECK_THROW(sqlite::seed_once(db, "meta",
                                        [&]() -> std::string {
                                            db.exec("INSERT INTO items (name) VALUES ('half')");
                                            throw sdk::error(sdk::status::invalid_argument, "bad sample");
                                        }),
                      sdk::error);
    BOOST_TEST(count(db, "items") == 0);
    BOOST_TEST(!sqlite::sample_seeded(db, "meta"));
}

BOOST_AUTO_TEST_SUITE_END()

// The crm tool's own database, its storage contract run against both backends: every case of the
// contract is registered twice, as sqlite/<case> and postgresql/<case>, and drives crm.so through
// the real host, first on an SQLite file, then on a PostgreSQL database (a throwaway cluster
// started by the test with Debian's binaries, a new database per case): the documented scenario,
// searches, upserts and idempotent logs, and hosts that race on them. Then what only PostgreSQL
// has: the same results as SQLite, a database that goes away and comes back, migrations,
// configuration, and the three stateful tools starting together on one database. Without
// PostgreSQL's server binaries the postgresql suite is skipped, saying what to install.
// (test_crm.cpp covers the tool's rules, the REST backend and what is SQLite's own.)
#define BOOST_TEST_MODULE crm_storage
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "crm_scenario.hpp"
#include "postgres_cluster.hpp"
#include "storage_contract.hpp"
#include "test_support.hpp"
#include "tool_env.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <set>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::status_code;
using toolhost::test::contains;
using toolhost::test::postgres_cluster;
using toolhost::test::with_request_id;
using toolhost::test::storage::at_once;
using toolhost::test::storage::backend;
using toolhost::test::storage::code;

namespace {

// crm.so with its sample, a data folder, and its storage. "{table}" in sql() is the customers,
// "{interactions}" the interactions.
class storage_env : public toolhost::test::storage::storage_env {
public:
    explicit storage_env(backend b, postgres_cluster* cluster = nullptr)
        : toolhost::test::storage::storage_env(
              {"crm",
               TOOLHOST_CRM_PLUGIN,
               "crm.db",
               {{"table", {"customers", "crm_customers"}}, {"interactions", {"interactions", "crm_interactions"}}}},
              b, cluster) {}
};

json::object ok(toolhost::host& h, const std::string& op, json::object args, const toolhost::call_options& o = {}) {
    return toolhost::test::storage::call_ok(h, "crm", op, std::move(args), o).as_object();
}

toolhost::tool_error fails(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_fails(h, "crm", op, std::move(args));
}

json::object customer(toolhost::host& h, json::object key) {
    return ok(h, "get_customer", std::move(key)).at("customer").as_object();
}

int64_t customer_total(toolhost::host& h) { return ok(h, "search", {}).at("total").as_int64(); }

std::vector<std::string> names(const json::object& page) {
    std::vector<std::string> out;
    for (const auto& c : page.at("customers").as_array()) out.emplace_back(c.at("name").as_string());
    return out;
}

}  // namespace

#if TOOLHOST_CRM_POSTGRESQL
STORAGE_CONTRACT_SUITES("test_crm_storage", nullptr)
#else
STORAGE_CONTRACT_SUITES("test_crm_storage", "crm.so was built without PostgreSQL support (libpq-dev was missing)")
#endif

// ====================================================================================== contract

CONTRACT_CASE(the_scenario_gives_the_documented_results) {
    toolhost::test::crm::check_scenario(toolhost::test::crm::run_scenario(*env.start({{"sample_data", true}})));
}

CONTRACT_CASE(sample_data_is_loaded_once_and_only_when_asked) {
    {
        auto h = env.start({{"sample_data", true}});
        BOOST_TEST(customer_total(*h) == 10);
        const auto recent = ok(*h, "recent_interactions", {{"customer_id", "C-1001"}});
        BOOST_TEST(recent.at("interactions").as_array().size() == 2u);
        BOOST_TEST(recent.at("interactions").at(0).at("outcome") == "resolved");
        BOOST_TEST(recent.at("interactions").at(0).at("id") == "I-2");
    }
    auto h = env.start({{"sample_data", true}});  // a restart does not add them again
    BOOST_TEST(customer_total(*h) == 10);
    BOOST_TEST(env.sql("SELECT count(*) FROM {interactions}") == "13");
    storage_env empty(env.kind());
    BOOST_TEST(customer_total(*empty.start()) == 0);
}

CONTRACT_CASE(search_matches_and_orders_as_sqlite_does) {
    auto h = env.start({{"sample_data", true}});
    // LIKE's wildcards and SQL are text.
    for (const char* q : {"%", "_", "a%", "\\"})
        BOOST_TEST(ok(*h, "search", {{"query", q}}).at("total").as_int64() == 0, q);
    BOOST_TEST(ok(*h, "search", {{"query", "berners-lee"}}).at("total").as_int64() == 1);
    BOOST_TEST(ok(*h, "search", {{"query", "'; DROP TABLE customers; --"}}).at("total").as_int64() == 0);
    BOOST_TEST(customer_total(*h) == 10);
    // Case is folded for ASCII letters only (SQLite's LIKE and NOCASE), and names order by their
    // bytes with ASCII case folded, then by id.
    for (const auto& [id, name] : std::vector<std::pair<std::string, std::string>>{
             {"Z-1", "Émile Zola"}, {"Z-2", "_under score"}, {"Z-3", "zed"}, {"Z-4", "ZED"}, {"Z-5", "Zeta"}})
        ok(*h, "upsert", {{"id", id}, {"name", name}, {"company", "Zorder"}});
    BOOST_TEST(ok(*h, "search", {{"query", "émile"}}).at("total").as_int64() == 0);
    BOOST_TEST(ok(*h, "search", {{"query", "Émile ZOLA"}}).at("total").as_int64() == 1);
    BOOST_TEST(names(ok(*h, "search", {{"query", "zorder"}})) ==
               (std::vector<std::string>{"_under score", "zed", "ZED", "Zeta", "Émile Zola"}));
    BOOST_TEST(names(ok(*h, "search", {{"query", "ALAN bletchley"}})) == std::vector<std::string>{"Alan Turing"});
    const auto page = ok(*h, "search", {{"query", "zorder"}, {"limit", 2}, {"offset", 2}});
    BOOST_TEST(names(page) == (std::vector<std::string>{"ZED", "Zeta"}));
    BOOST_TEST(page.at("total").as_int64() == 5);
    BOOST_TEST(page.at("next_offset").as_int64() == 4);
}

CONTRACT_CASE(an_unchanged_upsert_writes_nothing) {
    auto h = env.start({{"sample_data", true}});
    const json::object args{{"id", "C-1005"}, {"name", "Linus Torvalds"}, {"tier", "free"}};
    const auto first = ok(*h, "upsert", args);
    const auto second = ok(*h, "upsert", args);
    BOOST_TEST(!first.at("created").as_bool());
    BOOST_TEST(first.at("customer").at("updated_at") == "2024-04-01T08:00:00Z");  // nothing changed
    BOOST_TEST(second == first);
    const auto by_email = ok(*h, "upsert", {{"email", "LINUS@kernel.example"}, {"company", nullptr}});
    BOOST_TEST(by_email == first);
}

CONTRACT_CASE(a_refused_upsert_changes_nothing) {
    auto h = env.start({{"sample_data", true}});
    const auto before_1001 = customer(*h, {{"id", "C-1001"}});
    const auto before_1002 = customer(*h, {{"id", "C-1002"}});
    // The name would change, but the e-mail address is taken: the whole update is refused.
    auto e = fails(*h, "upsert", {{"id", "C-1001"}, {"name", "Renamed"}, {"email", "grace@cobol.example"}});
    BOOST_TEST(code(e) == code(status_code::already_exists));
    BOOST_TEST(e.message == "email 'grace@cobol.example' already belongs to customer C-1002");
    e = fails(*h, "upsert", {{"email", "new@x.example"}, {"name", "New"}, {"phone", "+1 415 555 0102"}});
    BOOST_TEST(e.message == "phone '+14155550102' already belongs to customer C-1002");
    e = fails(*h, "upsert", {{"id", "NEW-1"}, {"email", "new@x.example"}});
    BOOST_TEST(code(e) == code(status_code::invalid_argument));
    BOOST_TEST(e.message == "name: is required to create a customer");
    BOOST_TEST(customer(*h, {{"id", "C-1001"}}) == before_1001);
    BOOST_TEST(customer(*h, {{"id", "C-1002"}}) == before_1002);
    BOOST_TEST(customer_total(*h) == 10);
}

CONTRACT_CASE(a_generated_id_skips_the_ids_callers_gave) {
    auto h = env.start();
    // New customers without an id are C-<1000 + their number>, their number counting every
    // customer created; an id a caller already gave is skipped.
    BOOST_TEST(ok(*h, "upsert", {{"email", "a@x.example"}, {"name", "A"}}).at("customer").at("id") == "C-1001");
    BOOST_TEST(ok(*h, "upsert", {{"id", "C-1003"}, {"name", "Given"}}).at("created").as_bool());
    BOOST_TEST(ok(*h, "upsert", {{"email", "b@x.example"}, {"name", "B"}}).at("customer").at("id") == "C-1004");
    BOOST_TEST(customer_total(*h) == 3);
}

CONTRACT_CASE(data_survives_a_restart) {
    {
        auto h = env.start();
        ok(*h, "upsert", {{"email", "kept@x.example"}, {"name", "Kept"}});
        ok(*h, "log_interaction",
           {{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "kept too"}, {"outcome", "resolved"}});
    }
    auto h = env.start();
    BOOST_TEST(customer(*h, {{"email", "kept@x.example"}}).at("name") == "Kept");
    const auto recent = ok(*h, "recent_interactions", {{"customer_id", "C-1001"}});
    BOOST_TEST(recent.at("interactions").at(0).at("summary") == "kept too");
}

CONTRACT_CASE(two_hosts_logging_one_key_record_one_interaction) {
    auto first = env.start({{"sample_data", true}}, 4);
    auto second = env.start({{"sample_data", true}}, 4);
    const json::object args{
        {"customer_id", "C-1006"}, {"channel", "email"}, {"summary", "Renewal"}, {"outcome", "follow_up"}};
    for (int round = 0; round < 10; ++round) {
        const std::string key = "same-request-" + std::to_string(round);
        const auto results = at_once({first.get(), second.get()}, 3, 1, [&](toolhost::host& h, int, int) {
            return h.call("crm", "log_interaction", args, with_request_id(key));
        });
        std::set<std::string> ids;
        int created = 0;
        for (const auto& r : results) {
            const auto v = toolhost::test::ok(r);
            ids.insert(std::string(v.at("interaction").at("id").as_string()));
            created += v.at("created").as_bool() ? 1 : 0;
        }
        BOOST_TEST(ids.size() == 1u, key);
        BOOST_TEST(created == 1, key);
    }
    const auto recent = ok(*first, "recent_interactions", {{"customer_id", "C-1006"}, {"limit", 100}});
    BOOST_TEST(recent.at("interactions").as_array().size() == 11u);  // the sample one and these ten
}

CONTRACT_CASE(two_hosts_racing_upserts_on_one_key_leave_one_row_with_one_of_the_written_values) {
    // Two hosts, three threads each, create-or-update one customer at once, by e-mail address
    // (no id) and by id, round after round, each writing a name of its own. One row every time;
    // the last write wins: the row is what one of the calls returned, with that call's name.
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    for (int round = 0; round < 10; ++round) {
        for (const bool by_id : {false, true}) {
            const std::string email = "race-" + std::to_string(round) + (by_id ? "-id" : "") + "@x.example";
            const std::string id = "R-" + std::to_string(round);
            const auto results = at_once({first.get(), second.get()}, 3, 1, [&](toolhost::host& h, int t, int) {
                json::object args{{"email", email}, {"name", "Writer " + std::to_string(t)}};
                if (by_id) args["id"] = id;
                return h.call("crm", "upsert", args);
            });
            std::vector<json::value> returned;
            int created = 0;
            for (const auto& r : results) {
                const auto v = toolhost::test::ok(r);
                returned.push_back(v.at("customer"));
                created += v.at("created").as_bool() ? 1 : 0;
            }
            BOOST_TEST(created == 1, email);
            BOOST_TEST(env.count("email = '" + email + "'") == 1, email);
            const json::value stored = customer(*first, {{"email", email}});
            BOOST_TEST((std::find(returned.begin(), returned.end(), stored) != returned.end()), stored);
            if (by_id) BOOST_TEST(stored.at("id") == json::value(id));
        }
    }
}

CONTRACT_CASE(concurrent_upserts_of_different_fields_keep_both) {
    // Absent fields stay: two hosts that update different fields of one customer at once lose
    // neither update.
    auto first = env.start({{"sample_data", true}}, 4);
    auto second = env.start({{"sample_data", true}}, 4);
    const auto results = at_once({first.get(), second.get()}, 1, 20, [&](toolhost::host& h, int t, int i) {
        const std::string value = std::to_string(i);
        return h.call("crm", "upsert",
                      t == 0 ? json::object{{"id", "C-1004"}, {"company", "Company " + value}}
                             : json::object{{"id", "C-1004"}, {"notes", "Note " + value}});
    });
    for (const auto& r : results) toolhost::test::ok(r);
    const auto c = customer(*first, {{"id", "C-1004"}});
    BOOST_TEST(c.at("company") == "Company 19");
    BOOST_TEST(c.at("notes") == "Note 19");
    BOOST_TEST(c.at("name") == "Katherine Johnson");
}

CONTRACT_CASE(two_hosts_creating_customers_at_once_get_distinct_ids) {
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    constexpr int per_thread = 25;
    const auto results = at_once({first.get(), second.get()}, 4, per_thread, [&](toolhost::host& h, int t, int i) {
        return h.call("crm", "upsert",
                      json::object{{"email", "n-" + std::to_string(t) + "-" + std::to_string(i) + "@x.example"},
                                   {"name", "Numbered"}});
    });
    std::set<std::string> ids;
    for (const auto& r : results) {
        const auto v = toolhost::test::ok(r);
        BOOST_TEST(v.at("created").as_bool());
        ids.insert(std::string(v.at("customer").at("id").as_string()));
    }
    BOOST_TEST(ids.size() == results.size());
    BOOST_TEST(env.count() == static_cast<int64_t>(results.size()));
}

CONTRACT_CASE(hosts_starting_together_set_up_and_seed_once) {
    const auto started = env.start_together(4, {{"sample_data", true}});
    BOOST_TEST(env.count() == 10);
    BOOST_TEST(env.sql("SELECT count(*) FROM {interactions}") == "13");
    // A customer created through one host is there for every other.
    ok(*started[0], "upsert", {{"email", "shared@x.example"}, {"name", "Shared"}});
    BOOST_TEST(customer(*started[3], {{"email", "shared@x.example"}}).at("id") == "C-1011");
}

#if !TOOLHOST_CRM_POSTGRESQL
BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_AUTO_TEST_CASE(a_build_without_libpq_refuses_a_postgresql_storage_naming_what_is_missing) {
    toolhost::test::storage::check_refused_without_postgresql_support(storage_env(backend::sqlite), "config/storage");
}

BOOST_AUTO_TEST_SUITE_END()
#endif

// ================================================================= what only PostgreSQL has

BOOST_AUTO_TEST_SUITE(postgresql)

BOOST_AUTO_TEST_CASE(gives_the_same_results_as_sqlite) {
    // The whole scenario, every field of every result, except the times each run sets to now.
    storage_env lite(backend::sqlite);
    storage_env pg(backend::postgresql);
    const auto on_sqlite = toolhost::test::crm::run_scenario(*lite.start({{"sample_data", true}}));
    const auto on_postgresql = toolhost::test::crm::run_scenario(*pg.start({{"sample_data", true}}));
    const auto& steps = toolhost::test::crm::scenario();
    BOOST_TEST_REQUIRE(on_postgresql.size() == on_sqlite.size());
    for (size_t i = 0; i < steps.size(); ++i)
        BOOST_TEST(on_sqlite[i] == on_postgresql[i], "step " << i << " (" << steps[i].operation << ")\n  sqlite:     "
                                                             << on_sqlite[i] << "\n  postgresql: " << on_postgresql[i]);
}

BOOST_AUTO_TEST_CASE(a_database_that_goes_away_is_unavailable_and_comes_back_without_losing_anything) {
    // A cluster of its own, stopped and started again under a writer that keeps creating
    // customers (an upsert by e-mail address may be repeated: it converges).
    postgres_cluster own;
    storage_env env(backend::postgresql, &own);
    const std::string password = "s3cret-never-shown";
    auto h = toolhost::test::storage::start_with_password(env, password, {{"sample_data", true}});
    const auto email = [](long n) { return "entry-" + std::to_string(n) + "@x.example"; };
    const auto seen = toolhost::test::storage::write_through_an_outage(
        own,
        [&](long n) {
            return h->call("crm", "upsert", {{"email", email(n)}, {"name", "Entry " + std::to_string(n)}});
        },
        [&] {
            // Every operation fails the same way while the database is away; no crash.
            toolhost::test::storage::check_unavailable(
                *h, env,
                {{"get_customer", {{"id", "C-1001"}}},
                 {"search", {{"query", "ada"}}},
                 {"upsert", {{"email", "away@x.example"}, {"name", "Away"}}},
                 {"log_interaction",
                  {{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "x"}, {"outcome", "resolved"}}},
                 {"recent_interactions", {{"customer_id", "C-1001"}}},
                 {"read_customer", {{"uri", "crm://customers/C-1001"}}}},
                password);
        },
        password);
    // Nothing acknowledged is lost, nothing is stored twice, and the tool writes again.
    for (const auto& [n, result] : seen.acked) {
        const auto stored = customer(*h, {{"email", email(n)}});
        BOOST_TEST(stored.at("name").as_string() == "Entry " + std::to_string(n));
        BOOST_TEST(stored.at("id") == json::parse(result).at("customer").at("id"));
    }
    BOOST_TEST(env.count("email LIKE 'entry-%'") == static_cast<int64_t>(seen.acked.size()));
    BOOST_TEST(ok(*h, "log_interaction",
                  {{"customer_id", "C-1001"}, {"channel", "chat"}, {"summary", "back"}, {"outcome", "resolved"}})
                   .at("created")
                   .as_bool());
}

BOOST_AUTO_TEST_CASE(migrations_are_versioned_and_a_newer_schema_is_refused) {
    toolhost::test::storage::check_migrations(storage_env(backend::postgresql), "crm",
                                              "crm_customers crm_interactions crm_meta", 2);
}

BOOST_AUTO_TEST_CASE(the_storage_comes_from_the_configuration_or_toolhost_database_url) {
    storage_env env(backend::postgresql);
    toolhost::test::storage::check_storage_choice(env, "config/", "busy_timeout_ms", 100, {}, [](toolhost::host& h) {
        return h.call("crm", "upsert", {{"email", "one@x.example"}, {"name", "One"}});
    });
    // "backend": "database" (and "sqlite", its older name) is the tool's own database: the
    // variable decides there too.
    {
        toolhost::test::storage::database_url_variable url(env.url());
        auto h = env.start({{"storage", nullptr}, {"backend", "database"}});
        ok(*h, "upsert", {{"email", "two@x.example"}, {"name", "Two"}});
        BOOST_TEST(env.count() == 2);
    }
    {
        toolhost::test::storage::database_url_variable url(env.url());
        auto h = env.start({{"storage", nullptr}, {"backend", "sqlite"}});
        ok(*h, "upsert", {{"email", "three@x.example"}, {"name", "Three"}});
        BOOST_TEST(env.count() == 3);
    }
    // A REST backend is the storage: the variable does not apply to it, and "storage" is an error.
    toolhost::test::storage::database_url_variable url("mysql://not-even-a-postgresql-url");
    json::object config{{"backend", "rest"}, {"rest", {{"base_url", "http://127.0.0.1:1"}}}, {"storage", nullptr}};
    env.start(config).reset();
    config["storage"] = env.url();
    const auto e = env.start_error(config);
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, "config/storage"), e.to_string());
}

BOOST_AUTO_TEST_CASE(the_three_stateful_tools_start_together_on_one_database) {
    // memory, escalation and crm in one database, three hosts starting at the same moment: each
    // tool migrates once, under an advisory lock of its own, into tables of its own prefix, next
    // to memory's text search objects; and each works.
    postgres_cluster& cluster = toolhost::test::storage::shared_cluster();
    const std::string url = toolhost::test::storage::new_database(cluster, "shared");
    const std::string database = url.substr(url.rfind('/') + 1);
    toolhost::test::temp_dir dir;
    const fs::path plugins = dir / "plugins";
    fs::create_directory(plugins);
    for (const auto& [name, file] :
         std::vector<std::pair<std::string, fs::path>>{{"memory", TOOLHOST_MEMORY_PLUGIN},
                                                       {"escalation", TOOLHOST_ESCALATION_PLUGIN},
                                                       {"crm", TOOLHOST_CRM_PLUGIN}})
        toolhost::test::copy_into(file, plugins, name + ".so");
    const auto config = [&](int i) {
        auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins};
        c.data_dir = dir / ("var" + std::to_string(i));
        c.threads = 2;
        c.log_level = "off";
        for (const char* tool : {"memory", "escalation", "crm"}) {
            toolhost::tool_settings t;
            t.pointer = std::string("/tools/") + tool;
            t.config = json::object{{"storage", url}, {"sample_data", false}};
            c.tools[tool] = std::move(t);
        }
        return c;
    };
    constexpr int hosts = 3;
    std::vector<std::unique_ptr<toolhost::host>> started(hosts);
    std::vector<std::string> errors(hosts);
    {
        std::latch go(hosts);
        std::vector<std::jthread> threads;
        for (int i = 0; i < hosts; ++i)
            threads.emplace_back([&, i] {
                auto h = std::make_unique<toolhost::host>(config(i));
                h->load_plugins();
                go.arrive_and_wait();
                // Concurrent initialization: the three tools of a host migrate at once, too.
                const auto report = h->start({.concurrent = true, .fail_on_error = false, .only = std::nullopt});
                for (const auto& [tool, error] : report.failed)
                    errors[static_cast<size_t>(i)] += tool + ": " + error.to_string() + "\n";
                started[static_cast<size_t>(i)] = std::move(h);
            });
    }
    for (const auto& e : errors) BOOST_TEST(e.empty(), e);
    BOOST_TEST(cluster.psql("SELECT string_agg(component || ' ' || version, ', ' ORDER BY component) FROM "
                            "toolhost_migrations",
                            database) == "crm 1, crm 2, escalation 1, memory 1");
    BOOST_TEST(cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE "
                            "'crm\\_%' AND tablename NOT LIKE 'escalation\\_%' AND tablename NOT LIKE 'memory\\_%'",
                            database) == "1");  // toolhost_migrations
    ok(*started[0], "upsert", {{"email", "one@x.example"}, {"name", "One"}});
    BOOST_TEST(toolhost::test::ok(started[1]->call("escalation", "create_ticket",
                                                   json::object{{"customer", "C-1001"}, {"subject", "shared"}}))
                   .at("created")
                   .as_bool());
    BOOST_TEST(toolhost::test::ok(
                   started[2]->call("memory", "store", json::object{{"session_id", "s"}, {"content", "shared"}}))
                   .contains("id"));
    BOOST_TEST(customer(*started[2], {{"email", "one@x.example"}}).at("name") == "One");
}

BOOST_AUTO_TEST_SUITE_END()

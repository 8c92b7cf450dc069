// The escalation tool's storage contract, run against both backends: every case of the contract
// is registered twice, as sqlite/<case> and postgresql/<case>, and drives escalation.so through
// the real host, first on an SQLite file, then on a PostgreSQL database (a throwaway cluster
// started by the test with Debian's binaries, a new database per case): tickets and their
// workflow, idempotent creates, hosts that race on one key, on ticket numbers and on status
// changes, the webhook's delivery state and its claim. Then what only PostgreSQL has: a
// notification claimed across hosts, a database that goes away and comes back, migrations and
// configuration. Without PostgreSQL's server binaries the postgresql suite is skipped, saying what
// to install. (test_escalation.cpp covers the rules, the arguments, the webhook's requests and
// what is SQLite's own: its locks, a corrupt file.)
#define BOOST_TEST_MODULE escalation_storage
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "http_server.hpp"
#include "postgres_cluster.hpp"
#include "storage_contract.hpp"
#include "test_support.hpp"
#include "tool_env.hpp"

#if TOOLHOST_ESCALATION_POSTGRESQL
#include <toolhost_plugins/postgres.hpp>
#endif

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <cstdlib>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::status_code;
using toolhost::test::contains;
using toolhost::test::gate;
using toolhost::test::http_request;
using toolhost::test::http_response;
using toolhost::test::http_server;
using toolhost::test::postgres_cluster;
using toolhost::test::temp_dir;
using toolhost::test::with_request_id;
using toolhost::test::storage::at_once;
using toolhost::test::storage::backend;
using toolhost::test::storage::code;

namespace {

// escalation.so with its sample, a data folder, and its storage. "{table}" in sql() is the
// tickets, "{events}" their status history.
class storage_env : public toolhost::test::storage::storage_env {
public:
    explicit storage_env(backend b, postgres_cluster* cluster = nullptr)
        : toolhost::test::storage::storage_env(
              {"escalation",
               TOOLHOST_ESCALATION_PLUGIN,
               "tickets.db",
               {{"table", {"tickets", "escalation_tickets"}}, {"events", {"ticket_events", "escalation_events"}}}},
              b, cluster) {}
};

json::object ok(toolhost::host& h, const std::string& op, json::object args, const toolhost::call_options& o = {}) {
    return toolhost::test::storage::call_ok(h, "escalation", op, std::move(args), o).as_object();
}

toolhost::tool_error fails(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_fails(h, "escalation", op, std::move(args));
}

json::object new_ticket(std::string subject = "Refund for a double charge") {
    return json::object{{"customer", "C-1003"}, {"subject", std::move(subject)}, {"priority", "high"}};
}

json::object keyed_ticket(const std::string& key, std::string subject = "Refund for a double charge") {
    auto t = new_ticket(std::move(subject));
    t["idempotency_key"] = key;
    return t;
}

int64_t ticket_count(toolhost::host& h) { return ok(h, "list_tickets", {}).at("total").as_int64(); }

json::object get_ticket(toolhost::host& h, int64_t id) {
    return ok(h, "get_ticket", {{"id", id}}).at("ticket").as_object();
}

// A webhook that answers 200, except requests the test holds or fails.
json::object webhook_config(const http_server& server) {
    return json::object{{"webhook", {{"url", server.url() + "/hook"}, {"timeout_ms", 60000}}}};
}

// No retries, and attempts as long as the test needs them (a request held behind a gate).
json::object single_attempt() { return json::object{{"retry", {{"max_attempts", 1}}}, {"attempt_timeout_ms", 60000}}; }

// Four calls with one key at once, spread over `hosts` hosts on this storage, the webhook holding
// its first request behind a gate: the call that claimed the notification waits there, and every
// other returns at once without sending (the ticket shows its notification pending). Then the gate
// opens: exactly one request reached the webhook, and the ticket shows it delivered.
void one_key_sends_one_notification(const storage_env& env, size_t hosts) {
    auto held = std::make_shared<gate>();
    std::atomic<int> requests{0};
    http_server server([&](const http_request&) {
        auto res = http_response::json(200, {{"ok", true}});
        if (requests++ == 0) res.hold = held;
        return res;
    });
    std::vector<std::unique_ptr<toolhost::host>> started;
    for (size_t i = 0; i < hosts; ++i) started.push_back(env.start(webhook_config(server), 4, single_attempt()));
    constexpr size_t calls = 4;
    std::vector<std::future<toolhost::call_result>> results;
    for (size_t i = 0; i < calls; ++i)
        results.push_back(started[i % hosts]->async_call("escalation", "create_ticket", keyed_ticket("k-once"), {},
                                                         boost::asio::use_future));
    const auto returned = [&] {
        size_t n = 0;
        for (const auto& f : results) n += f.wait_for(std::chrono::seconds(0)) == std::future_status::ready ? 1 : 0;
        return n;
    };
    // The claimer's request reaches the server in its own time: wait for both.
    BOOST_TEST_REQUIRE(toolhost::test::eventually([&] { return returned() == calls - 1 && requests.load() > 0; },
                                                  std::chrono::seconds(30)));
    BOOST_TEST(returned() == calls - 1);  // the claimer is still held
    held->open();
    std::set<int64_t> ids;
    int created = 0;
    for (auto& f : results) {
        const auto v = toolhost::test::ok(f.get());
        ids.insert(v.at("ticket").at("id").as_int64());
        created += v.at("created").as_bool() ? 1 : 0;
    }
    BOOST_TEST(ids.size() == 1u);
    BOOST_TEST(created == 1);
    BOOST_TEST(requests.load() == 1);
    const auto n = get_ticket(*started.front(), *ids.begin()).at("notification");
    BOOST_TEST(n.at("state") == "delivered");
    BOOST_TEST(n.at("attempts").as_int64() == 1);
}

}  // namespace

#if TOOLHOST_ESCALATION_POSTGRESQL
STORAGE_CONTRACT_SUITES("test_escalation_storage", nullptr)
#else
STORAGE_CONTRACT_SUITES("test_escalation_storage",
                        "escalation.so was built without PostgreSQL support (libpq-dev was missing)")
#endif

// ====================================================================================== contract

CONTRACT_CASE(sample_tickets_are_loaded_once_and_only_when_asked) {
    {
        auto h = env.start({{"sample_data", true}});
        BOOST_TEST(ticket_count(*h) == 3);
        const auto t = get_ticket(*h, 1);
        BOOST_TEST(t.at("customer") == "C-1003");
        BOOST_TEST(t.at("status") == "in_progress");
        BOOST_TEST(t.at("reasons") == (json::array{"keywords: refund", "customer_tier: enterprise"}));
        BOOST_TEST(t.at("history").as_array().size() == 2u);
        BOOST_TEST(t.at("history").at(0).at("note") == "sample ticket");
        BOOST_TEST(t.at("notification").at("state") == "none");
    }
    auto h = env.start({{"sample_data", true}});  // a restart does not add them again
    BOOST_TEST(ticket_count(*h) == 3);
    BOOST_TEST(env.count() == 3);

    storage_env empty(env.kind());
    BOOST_TEST(ticket_count(*empty.start()) == 0);
}

CONTRACT_CASE(create_get_list_and_page) {
    auto h = env.start();
    toolhost::call_options o;
    o.session_id = "sess-9";
    const auto created = ok(*h, "create_ticket",
                            {{"customer", "C-1003"},
                             {"subject", "Wants a human"},
                             {"description", "Asked twice"},
                             {"reasons", json::array{"explicit_request", {{"rule", "keywords"}}}}},
                            o);
    BOOST_TEST(created.at("created").as_bool());
    const auto& t = created.at("ticket").as_object();
    BOOST_TEST(t.at("id").as_int64() == 1);
    BOOST_TEST(t.at("status") == "open");
    BOOST_TEST(t.at("priority") == "normal");
    BOOST_TEST(t.at("session_id") == "sess-9");
    // No key given: the call's request id is the key, and the host made one (16 hex digits).
    BOOST_TEST(t.at("idempotency_key").as_string().size() == 16u);
    BOOST_TEST(t.at("reasons") == json::parse(R"(["explicit_request",{"rule":"keywords"}])"));
    BOOST_TEST(t.at("notification").at("state") == "none");
    BOOST_TEST(t.at("created_at") == t.at("updated_at"));

    const auto got = get_ticket(*h, 1);
    BOOST_TEST(got.at("subject") == "Wants a human");
    BOOST_TEST(got.at("description") == "Asked twice");
    BOOST_TEST(got.at("history").as_array().size() == 1u);
    BOOST_TEST(got.at("history").at(0) ==
               (json::object{{"from", nullptr}, {"to", "open"}, {"note", "created"}, {"at", t.at("created_at")}}));

    for (int i = 0; i < 4; ++i)
        ok(*h, "create_ticket", {{"customer", i % 2 ? "C-1" : "C-2"}, {"subject", "t" + std::to_string(i)}});
    auto page = ok(*h, "list_tickets", {{"limit", 2}});
    BOOST_TEST(page.at("total").as_int64() == 5);
    BOOST_TEST(page.at("next_offset").as_int64() == 2);
    BOOST_TEST(page.at("tickets").at(0).at("id").as_int64() == 5);  // newest first
    BOOST_TEST(!page.at("tickets").at(0).as_object().contains("history"));
    page = ok(*h, "list_tickets", {{"limit", 2}, {"offset", 4}});
    BOOST_TEST(page.at("tickets").as_array().size() == 1u);
    BOOST_TEST(page.at("next_offset").is_null());
    page = ok(*h, "list_tickets", {{"customer", "C-1"}});
    BOOST_TEST(page.at("total").as_int64() == 2);
    for (const auto& x : page.at("tickets").as_array()) BOOST_TEST(x.at("customer") == "C-1");
    ok(*h, "update_status", {{"id", 2}, {"status", "in_progress"}});
    page = ok(*h, "list_tickets", {{"status", "in_progress"}});
    BOOST_TEST(page.at("total").as_int64() == 1);
    BOOST_TEST(page.at("tickets").at(0).at("id").as_int64() == 2);
    page = ok(*h, "list_tickets", {{"status", "open"}, {"customer", "C-2"}});
    BOOST_TEST(page.at("total").as_int64() == 1);  // ticket 2 (C-2) moved on; ticket 4 remains
    BOOST_TEST(ok(*h, "list_tickets", {{"customer", "nobody"}}).at("tickets").as_array().empty());
}

CONTRACT_CASE(a_missing_ticket_is_not_found) {
    auto h = env.start();
    auto e = fails(*h, "get_ticket", {{"id", 42}});
    BOOST_TEST(code(e) == code(status_code::not_found));
    BOOST_TEST(e.message == "ticket 42 not found");
    e = fails(*h, "update_status", {{"id", 42}, {"status", "closed"}});
    BOOST_TEST(code(e) == code(status_code::not_found));
    e = fails(*h, "read_ticket", {{"uri", "escalation://tickets/42"}});
    BOOST_TEST(code(e) == code(status_code::not_found));
}

CONTRACT_CASE(status_workflow) {
    auto h = env.start();
    ok(*h, "create_ticket", new_ticket());
    auto move = [&](const char* to) {
        return h->call("escalation", "update_status",
                       json::object{{"id", 1}, {"status", to}, {"note", std::string("to ") + to}});
    };
    auto r = toolhost::test::ok(move("in_progress"));
    BOOST_TEST(r.at("changed").as_bool());
    BOOST_TEST(r.at("previous_status") == "open");
    BOOST_TEST(r.at("ticket").at("status") == "in_progress");
    r = toolhost::test::ok(move("in_progress"));  // again: nothing changes, no error (a retry must succeed)
    BOOST_TEST(!r.at("changed").as_bool());
    BOOST_TEST(r.at("previous_status") == "in_progress");
    toolhost::test::ok(move("resolved"));
    toolhost::test::ok(move("open"));  // reopened
    toolhost::test::ok(move("resolved"));
    toolhost::test::ok(move("closed"));

    auto e = toolhost::test::failed(move("open"));
    BOOST_TEST(code(e) == code(status_code::failed_precondition));
    BOOST_TEST(e.message == "ticket 1: cannot move from 'closed' to 'open' (allowed from 'closed': none)");
    ok(*h, "create_ticket", new_ticket("second"));
    ok(*h, "update_status", {{"id", 2}, {"status", "in_progress"}});
    e = fails(*h, "update_status", {{"id", 2}, {"status", "closed"}});
    BOOST_TEST(code(e) == code(status_code::failed_precondition));
    BOOST_TEST(contains(e.message, "'in_progress' to 'closed'"), e.message);
    BOOST_TEST(contains(e.message, "allowed from 'in_progress': open, resolved"), e.message);

    const auto t = get_ticket(*h, 1);
    std::vector<std::string> path;
    for (const auto& ev : t.at("history").as_array()) path.emplace_back(ev.at("to").as_string());
    BOOST_TEST(path == (std::vector<std::string>{"open", "in_progress", "resolved", "open", "resolved", "closed"}));
    BOOST_TEST(t.at("history").at(1).at("note") == "to in_progress");
    BOOST_TEST(t.at("history").at(1).at("from") == "open");
    BOOST_TEST(t.at("updated_at") == t.at("history").at(5).at("at"));
}

CONTRACT_CASE(a_refused_transition_changes_nothing) {
    auto h = env.start();
    ok(*h, "create_ticket", new_ticket());
    ok(*h, "update_status", {{"id", 1}, {"status", "closed"}});
    const auto before = get_ticket(*h, 1);
    fails(*h, "update_status", {{"id", 1}, {"status", "in_progress"}, {"note", "x"}});
    BOOST_TEST(get_ticket(*h, 1) == before);
    BOOST_TEST(env.sql("SELECT count(*) FROM {events}") == "2");
}

CONTRACT_CASE(create_ticket_is_idempotent_by_key_and_request_id) {
    auto h = env.start();
    const auto args = keyed_ticket("conv-77");
    const auto first = ok(*h, "create_ticket", args);
    const auto again = ok(*h, "create_ticket", args);
    BOOST_TEST(first.at("created").as_bool());
    BOOST_TEST(!again.at("created").as_bool());
    BOOST_TEST(again.at("ticket") == first.at("ticket"));

    // Without a key, the request id is the key.
    const auto by_request = ok(*h, "create_ticket", new_ticket("other"), with_request_id("req-1"));
    const auto by_request_again = ok(*h, "create_ticket", new_ticket("other"), with_request_id("req-1"));
    BOOST_TEST(by_request.at("ticket").at("idempotency_key") == "req-1");
    BOOST_TEST(by_request_again.at("ticket").at("id") == by_request.at("ticket").at("id"));
    BOOST_TEST(ticket_count(*h) == 2);

    // The same key for a different ticket is refused, and stores nothing.
    for (const auto& changed : {json::object{{"subject", "something else"}}, json::object{{"priority", "low"}},
                                json::object{{"customer", "C-1"}}, json::object{{"description", "more"}},
                                json::object{{"reasons", {"keywords"}}}}) {
        auto different = args;
        for (const auto& [k, v] : changed) different[k] = v;
        const auto e = fails(*h, "create_ticket", different);
        BOOST_TEST(code(e) == code(status_code::already_exists));
        BOOST_TEST(contains(e.message, "idempotency_key 'conv-77': already used for ticket " +
                                           std::to_string(first.at("ticket").at("id").as_int64())),
                   e.message);
    }
    BOOST_TEST(ticket_count(*h) == 2);

    // Separate calls without a key or request id each get their own request id from the host,
    // so each opens a ticket; numbers go up and are never reused.
    const auto a = ok(*h, "create_ticket", new_ticket("no key")).at("ticket").at("id").as_int64();
    const auto b = ok(*h, "create_ticket", new_ticket("no key")).at("ticket").at("id").as_int64();
    BOOST_TEST(b > a);
    BOOST_TEST(a > by_request.at("ticket").at("id").as_int64());
    BOOST_TEST(ticket_count(*h) == 4);
}

CONTRACT_CASE(tickets_survive_a_restart) {
    {
        auto h = env.start();
        ok(*h, "create_ticket", new_ticket());
        ok(*h, "update_status", {{"id", 1}, {"status", "resolved"}});
    }
    auto h = env.start();
    const auto t = get_ticket(*h, 1);
    BOOST_TEST(t.at("status") == "resolved");
    BOOST_TEST(t.at("subject") == "Refund for a double charge");
    BOOST_TEST(t.at("history").as_array().size() == 2u);
    BOOST_TEST(ok(*h, "create_ticket", new_ticket("after")).at("ticket").at("id").as_int64() > 1);
}

CONTRACT_CASE(two_hosts_racing_on_one_key_create_one_ticket) {
    // Two hosts on the same storage (two processes' worth of tool instances and connections), two
    // threads each, released at once with the same key, round after round.
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    constexpr int rounds = 25;
    for (int round = 0; round < rounds; ++round) {
        const std::string key = "race-" + std::to_string(round);
        const auto results = at_once({first.get(), second.get()}, 2, 1, [&](toolhost::host& h, int, int) {
            return h.call("escalation", "create_ticket", keyed_ticket(key, "once: " + key));
        });
        std::set<int64_t> ids;
        int created = 0;
        for (const auto& r : results) {
            const auto v = toolhost::test::ok(r);
            ids.insert(v.at("ticket").at("id").as_int64());
            created += v.at("created").as_bool() ? 1 : 0;
        }
        BOOST_TEST(ids.size() == 1u, key);
        BOOST_TEST(created == 1, key);
        BOOST_TEST(env.count("idempotency_key = '" + key + "'") == 1, key);
    }
    BOOST_TEST(env.count() == rounds);
    BOOST_TEST(env.sql("SELECT count(*) FROM {events}") == std::to_string(rounds));
}

CONTRACT_CASE(two_hosts_creating_at_once_get_distinct_numbers) {
    // Four hundred tickets from two hosts, four threads each, every call with a key of its own:
    // every ticket its own number, none lost.
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    constexpr int per_thread = 50;
    const auto results = at_once({first.get(), second.get()}, 4, per_thread, [&](toolhost::host& h, int t, int i) {
        return h.call("escalation", "create_ticket",
                      keyed_ticket("n-" + std::to_string(t) + "-" + std::to_string(i), "numbered"));
    });
    std::set<int64_t> ids;
    for (const auto& r : results) {
        const auto v = toolhost::test::ok(r);
        BOOST_TEST(v.at("created").as_bool());
        ids.insert(v.at("ticket").at("id").as_int64());
    }
    BOOST_TEST(results.size() == 8u * per_thread);
    BOOST_TEST(ids.size() == results.size());  // zero duplicates
    BOOST_TEST(env.count() == static_cast<int64_t>(results.size()));
    BOOST_TEST(env.sql("SELECT count(DISTINCT id) FROM {table}") == std::to_string(results.size()));
    // And a number once given is never given again, whichever host asks next.
    BOOST_TEST(ok(*first, "create_ticket", new_ticket("later")).at("ticket").at("id").as_int64() > *ids.rbegin());
}

CONTRACT_CASE(concurrent_status_changes_lose_none) {
    // Two hosts, three threads each, move one ticket back and forth between open and in_progress.
    // Every move that says it changed the ticket is in its history, in an unbroken chain: each
    // move starts where the one before it ended, so none was lost or made from a stale status.
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    ok(*first, "create_ticket", new_ticket());
    constexpr int per_thread = 20;
    const auto results = at_once({first.get(), second.get()}, 3, per_thread, [&](toolhost::host& h, int t, int i) {
        return h.call("escalation", "update_status",
                      json::object{{"id", 1}, {"status", (t + i) % 2 ? "open" : "in_progress"}});
    });
    int changed = 0;
    for (const auto& r : results) {
        const auto v = toolhost::test::ok(r);
        if (!v.at("changed").as_bool()) continue;
        ++changed;
        BOOST_TEST(v.at("previous_status") != v.at("ticket").at("status"));
    }
    const auto t = get_ticket(*first, 1);
    const auto& history = t.at("history").as_array();
    BOOST_TEST(history.size() == static_cast<size_t>(changed) + 1);
    for (size_t i = 1; i < history.size(); ++i) {
        BOOST_TEST(history[i].at("from") == history[i - 1].at("to"), "move " << i);
        BOOST_TEST(history[i].at("from") != history[i].at("to"), "move " << i);
    }
    BOOST_TEST(t.at("status") == history.back().at("to"));
    BOOST_TEST(changed > 0);
}

CONTRACT_CASE(hosts_starting_together_set_up_and_seed_once) {
    // Four hosts start on a new storage at the same moment: every one starts, the schema is made
    // once, and the sample is seeded once.
    const auto started = env.start_together(4, {{"sample_data", true}});
    BOOST_TEST(env.count() == 3);
    BOOST_TEST(env.sql("SELECT count(*) FROM {events}") == "5");
    BOOST_TEST(ticket_count(*started[1]) == 3);
    // A ticket created through one host is there for every other.
    const auto id = ok(*started[2], "create_ticket", new_ticket()).at("ticket").at("id");
    BOOST_TEST(get_ticket(*started[3], id.as_int64()).at("subject") == "Refund for a double charge");
}

CONTRACT_CASE(the_delivery_state_of_a_notification_is_kept) {
    std::atomic<int> requests{0};
    http_server server([&](const http_request&) {
        if (requests++ == 0) return http_response::json(503, {{"error", {{"message", "maintenance"}}}});
        return http_response::json(200, {{"ok", true}});
    });
    auto h = env.start(webhook_config(server), 4, single_attempt());
    // The first delivery fails: the ticket is stored, its notification pending with the error.
    const auto e = fails(*h, "create_ticket", keyed_ticket("k-hook"));
    BOOST_TEST(code(e) == code(status_code::unavailable));
    BOOST_TEST(contains(e.message, "ticket 1 is stored"), e.message);
    auto n = get_ticket(*h, 1).at("notification");
    BOOST_TEST(n.at("state") == "pending");
    BOOST_TEST(n.at("attempts").as_int64() == 1);
    BOOST_TEST(contains(n.at("last_error").as_string(), "HTTP 503"));
    BOOST_TEST(n.at("delivered_at").is_null());
    // The repeated call delivers it.
    const auto r = ok(*h, "create_ticket", keyed_ticket("k-hook"));
    BOOST_TEST(!r.at("created").as_bool());
    n = r.at("ticket").at("notification");
    BOOST_TEST(n.at("state") == "delivered");
    BOOST_TEST(n.at("attempts").as_int64() == 2);
    BOOST_TEST(n.at("last_error").is_null());
    BOOST_TEST(n.at("delivered_at").is_string());
    // Once delivered, never sent again.
    ok(*h, "create_ticket", keyed_ticket("k-hook"));
    BOOST_TEST(requests.load() == 2);
    BOOST_TEST(get_ticket(*h, 1).at("notification") == n);
}

CONTRACT_CASE(concurrent_calls_with_one_key_send_one_notification) { one_key_sends_one_notification(env, 1); }

#if !TOOLHOST_ESCALATION_POSTGRESQL
BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_AUTO_TEST_CASE(a_build_without_libpq_refuses_a_postgresql_storage_naming_what_is_missing) {
    toolhost::test::storage::check_refused_without_postgresql_support(storage_env(backend::sqlite), "config/storage");
}

BOOST_AUTO_TEST_SUITE_END()
#endif

// ================================================================= what only PostgreSQL has

BOOST_AUTO_TEST_SUITE(postgresql)

BOOST_AUTO_TEST_CASE(two_hosts_with_one_key_send_one_notification) {
    // The claim is a row lock taken with FOR UPDATE SKIP LOCKED: a host never sends what another
    // host is sending. (SQLite's claim is its process's own.)
    storage_env env(backend::postgresql);
    one_key_sends_one_notification(env, 2);
}

BOOST_AUTO_TEST_CASE(a_database_that_goes_away_is_unavailable_and_comes_back_without_losing_anything) {
    // A cluster of its own, stopped and started again under a writer that keeps creating tickets,
    // each with an idempotency key so that it may retry a create whose outcome it did not learn.
    postgres_cluster own;
    storage_env env(backend::postgresql, &own);
    const std::string password = "s3cret-never-shown";
    auto h = toolhost::test::storage::start_with_password(env, password);
    const auto seen = toolhost::test::storage::write_through_an_outage(
        own,
        [&](long n) {
            return h->call("escalation", "create_ticket",
                           keyed_ticket("entry-" + std::to_string(n), "entry " + std::to_string(n)));
        },
        [&] {
            // Every operation that needs the database fails the same way while it is away; no
            // crash. What needs no database goes on.
            toolhost::test::storage::check_unavailable(*h, env,
                                                       {{"create_ticket", keyed_ticket("during the outage")},
                                                        {"get_ticket", {{"id", 1}}},
                                                        {"list_tickets", json::object{}},
                                                        {"update_status", {{"id", 1}, {"status", "in_progress"}}},
                                                        {"read_ticket", {{"uri", "escalation://tickets/1"}}}},
                                                       password);
            BOOST_TEST(ok(*h, "evaluate", {{"message", "talk to a person"}}).at("should_escalate").as_bool());
        },
        password);
    // Nothing acknowledged is lost, nothing is stored twice, and the tool writes again.
    for (const auto& [n, result] : seen.acked) {
        const auto id = json::parse(result).at("ticket").at("id").as_int64();
        BOOST_TEST(get_ticket(*h, id).at("subject").as_string() == "entry " + std::to_string(n));
    }
    BOOST_TEST(env.count() == static_cast<int64_t>(seen.acked.size()));
    BOOST_TEST(env.sql("SELECT count(DISTINCT idempotency_key) FROM {table}") == std::to_string(seen.acked.size()));
    BOOST_TEST(ok(*h, "update_status", {{"id", 1}, {"status", "in_progress"}}).at("changed").as_bool());
}

BOOST_AUTO_TEST_CASE(migrations_are_versioned_under_a_lock_of_their_own_and_a_newer_schema_is_refused) {
    toolhost::test::storage::check_migrations(
        storage_env(backend::postgresql), "escalation",
        "escalation_events escalation_meta escalation_notifications escalation_tickets");
#if TOOLHOST_ESCALATION_POSTGRESQL
    // Each tool migrates under an advisory lock of its own; the table of versions under a shared one.
    namespace pg = toolhost::plugins::postgres;
    const std::set<int64_t> keys{pg::migration_lock_key("escalation"), pg::migration_lock_key("memory"),
                                 pg::migration_lock_key("crm"), pg::migration_lock_key("rag"),
                                 pg::migration_lock_key("toolhost_migrations")};
    BOOST_TEST(keys.size() == 5u);
#endif
}

BOOST_AUTO_TEST_CASE(text_postgresql_cannot_hold_is_invalid_argument) {
    // U+0000 is the one difference in what the two backends accept: PostgreSQL's text cannot
    // hold it. The create is refused before anything is sent.
    storage_env env(backend::postgresql);
    auto h = env.start();
    const auto e = fails(*h, "create_ticket", new_ticket(std::string("a\0b", 3)));
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(env.count() == 0);
}

BOOST_AUTO_TEST_CASE(the_storage_comes_from_the_configuration_or_toolhost_database_url) {
    toolhost::test::storage::check_storage_choice(
        storage_env(backend::postgresql), "config/", "busy_timeout_ms", 100, {},
        [](toolhost::host& h) { return h.call("escalation", "create_ticket", new_ticket()); });
}

BOOST_AUTO_TEST_SUITE_END()

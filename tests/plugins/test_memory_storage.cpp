// The memory tool's storage contract, run against both backends: every case of the contract is
// registered twice, as sqlite/<case> and postgresql/<case>, and drives memory.so through the real
// host, first on an SQLite file, then on a PostgreSQL database (a throwaway cluster started by
// the test with Debian's binaries, a new database per case). Then what only PostgreSQL has: the
// two backends agreeing on a corpus, a database that goes away and comes back, migrations and
// configuration. Without PostgreSQL's server binaries the postgresql suite is skipped, saying what
// to install. (test_memory.cpp covers what is SQLite's own: the file, its locks, kill -9.)
#define BOOST_TEST_MODULE memory_storage
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "postgres_cluster.hpp"
#include "storage_contract.hpp"
#include "test_support.hpp"

#include <toolhost_plugins/sqlite.hpp>
#include <toolhost_plugins/time.hpp>
#if TOOLHOST_MEMORY_POSTGRESQL
#include <toolhost_plugins/postgres.hpp>
#endif

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace ptime = toolhost::plugins::time;
using toolhost::status_code;
using toolhost::test::contains;
using toolhost::test::postgres_cluster;
using toolhost::test::temp_dir;

namespace {

// 2024-05-01T12:00:00Z and instants around it, for calls that take `now` or `created_at`.
constexpr ptime::unix_ms t0 = 1714564800000;
constexpr ptime::unix_ms hour = 3600 * 1000;
constexpr ptime::unix_ms day = 24 * hour;
std::string at(ptime::unix_ms t) { return ptime::format_rfc3339(t); }

using toolhost::test::storage::backend;
using toolhost::test::storage::code;

// A plugin folder holding only memory.so, a data folder, and the tool's storage: an SQLite file
// in the data folder, or a database of a PostgreSQL cluster. "{table}" in sql() is the memories.
class storage_env : public toolhost::test::storage::storage_env {
public:
    explicit storage_env(backend b, postgres_cluster* cluster = nullptr)
        : toolhost::test::storage::storage_env(
              {"memory", TOOLHOST_MEMORY_PLUGIN, "memory.db", {{"table", {"memories", "memory_memories"}}}}, b,
              cluster) {}
};

json::value ok(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_ok(h, "memory", op, std::move(args));
}

toolhost::tool_error fails(toolhost::host& h, const std::string& op, json::object args) {
    return toolhost::test::storage::call_fails(h, "memory", op, std::move(args));
}

int64_t store(toolhost::host& h, json::object args) { return ok(h, "store", std::move(args)).at("id").as_int64(); }

std::vector<int64_t> ids_of(const json::value& result) {
    std::vector<int64_t> ids;
    for (const auto& m : result.at("memories").as_array()) ids.push_back(m.at("id").as_int64());
    return ids;
}

std::vector<int64_t> sorted(std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

#if TOOLHOST_MEMORY_POSTGRESQL
STORAGE_CONTRACT_SUITES("test_memory_storage", nullptr)
#else
STORAGE_CONTRACT_SUITES("test_memory_storage", "memory.so was built without PostgreSQL support (libpq-dev was missing)")
#endif

// ====================================================================================== contract

CONTRACT_CASE(store_then_get_returns_what_was_stored) {
    auto h = env.start();
    const auto stored = ok(*h, "store",
                           {{"session_id", "s1"},
                            {"content", "Ada prefers window seats"},
                            {"kind", "preference"},
                            {"importance", 0.75},
                            {"created_at", "2024-05-01T14:00:00+02:00"},
                            {"ttl_seconds", 3600},
                            {"metadata", {{"source", "chat"}, {"turn", 3}, {"nested", {{"b", 1}, {"a", 0.1}}}}}});
    BOOST_TEST(stored.at("replayed").as_bool() == false);
    const auto got = ok(*h, "get", {{"id", stored.at("id")}, {"now", at(t0 + 1000)}});
    BOOST_TEST(got.at("session_id").as_string() == "s1");
    BOOST_TEST(got.at("content").as_string() == "Ada prefers window seats");
    BOOST_TEST(got.at("kind").as_string() == "preference");
    BOOST_TEST(got.at("importance").to_number<double>() == 0.75);
    BOOST_TEST(got.at("created_at").as_string() == "2024-05-01T12:00:00.000Z");
    BOOST_TEST(got.at("expires_at").as_string() == "2024-05-01T13:00:00.000Z");
    BOOST_TEST(json::serialize(got.at("metadata")) == json::serialize(stored.at("metadata")));  // same key order
    BOOST_TEST(got.at("metadata") ==
               (json::value{{"source", "chat"}, {"turn", 3}, {"nested", {{"b", 1}, {"a", 0.1}}}}));

    const auto defaults = ok(*h, "get", {{"id", store(*h, {{"session_id", "s1"}, {"content", "plain"}})}});
    BOOST_TEST(defaults.at("kind").as_string() == "fact");
    BOOST_TEST(defaults.at("importance").to_number<double>() == 0.5);
    BOOST_TEST(defaults.at("metadata") == json::object{});
    BOOST_TEST(!defaults.as_object().contains("expires_at"));
    BOOST_TEST(!defaults.as_object().contains("idempotency_key"));

    // A double that has no short decimal form comes back bit for bit.
    const double third = 1.0 / 3;
    const auto id = store(*h, {{"session_id", "s1"}, {"content", "a third"}, {"importance", third}});
    BOOST_TEST(ok(*h, "get", {{"id", id}}).at("importance").as_double() == third);

    const auto e = fails(*h, "get", {{"id", 4242}});
    BOOST_TEST(code(e) == code(status_code::not_found));
    BOOST_TEST(contains(e.message, "4242"));
}

CONTRACT_CASE(data_survives_a_restart_of_the_host_and_ids_are_never_reused) {
    int64_t id = 0;
    int64_t forgotten = 0;
    {
        auto h = env.start();
        id = store(*h, {{"session_id", "s"}, {"content", "kept across restarts"}});
        forgotten = store(*h, {{"session_id", "s"}, {"content", "forgotten before the restart"}});
        BOOST_TEST(ok(*h, "forget", {{"id", forgotten}}).at("forgotten").as_int64() == 1);
        h->shutdown();
    }
    auto h = env.start();
    BOOST_TEST(ok(*h, "get", {{"id", id}}).at("content").as_string() == "kept across restarts");
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "restarts"}})) == std::vector<int64_t>{id});
    BOOST_TEST(store(*h, {{"session_id", "s"}, {"content", "new"}}) > forgotten);
}

CONTRACT_CASE(list_pages_newest_first_without_repeating_or_skipping) {
    auto h = env.start();
    std::vector<int64_t> ids;
    for (int i = 0; i < 5; ++i)
        ids.push_back(store(
            *h, {{"session_id", "s"}, {"content", "item " + std::to_string(i)}, {"created_at", at(t0 + i * hour)}}));
    // Two memories at the same instant are ordered by id, newest first.
    ids.push_back(store(*h, {{"session_id", "s"}, {"content", "tie"}, {"created_at", at(t0 + 4 * hour)}}));
    store(*h, {{"session_id", "other"}, {"content", "not in s"}});
    const auto now = at(t0 + day);

    auto page1 = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"now", now}});
    BOOST_TEST(ids_of(page1) == (std::vector<int64_t>{ids[5], ids[4]}));
    // Something stored between two pages does not shift the next page.
    store(*h, {{"session_id", "s"}, {"content", "late"}, {"created_at", at(t0 + 5 * hour)}});
    auto page2 = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"cursor", page1.at("next_cursor")}, {"now", now}});
    BOOST_TEST(ids_of(page2) == (std::vector<int64_t>{ids[3], ids[2]}));
    auto page3 = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"cursor", page2.at("next_cursor")}, {"now", now}});
    BOOST_TEST(ids_of(page3) == (std::vector<int64_t>{ids[1], ids[0]}));
    BOOST_TEST(page3.at("next_cursor").is_null());

    // A page boundary between two memories of the same instant.
    const auto first = ok(*h, "list", {{"session_id", "s"}, {"limit", 2}, {"now", now}});  // late, ids[5]
    auto single =
        ok(*h, "list", {{"session_id", "s"}, {"limit", 1}, {"cursor", first.at("next_cursor")}, {"now", now}});
    BOOST_TEST(ids_of(single) == std::vector<int64_t>{ids[4]});

    // Kinds filter the page.
    store(*h, {{"session_id", "s"}, {"content", "a summary"}, {"kind", "summary"}, {"created_at", at(t0)}});
    const auto summaries = ok(*h, "list", {{"session_id", "s"}, {"kinds", {"summary", "preference"}}, {"now", now}});
    BOOST_TEST(summaries.at("memories").as_array().size() == 1u);
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "nobody"}})).empty());
}

CONTRACT_CASE(forget_one_memory_or_a_whole_session) {
    auto h = env.start();
    const auto a = store(*h, {{"session_id", "s"}, {"content", "alpha"}});
    const auto b = store(*h, {{"session_id", "s"}, {"content", "beta"}});
    store(*h, {{"session_id", "s"}, {"content", "gamma"}});
    const auto other = store(*h, {{"session_id", "t"}, {"content", "alpha too"}});

    BOOST_TEST(ok(*h, "forget", {{"id", a}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"id", a}}).at("forgotten").as_int64() == 0);  // already gone: fine
    BOOST_TEST(ok(*h, "forget", {{"id", other}, {"session_id", "s"}}).at("forgotten").as_int64() == 0);  // not in s
    BOOST_TEST(ok(*h, "forget", {{"id", b}, {"session_id", "s"}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"session_id", "s"}}).at("forgotten").as_int64() == 1);
    BOOST_TEST(ok(*h, "forget", {{"session_id", "s"}}).at("forgotten").as_int64() == 0);
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "alpha beta gamma"}})).empty());
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "t"}, {"query", "alpha"}})) == std::vector<int64_t>{other});
    BOOST_TEST(env.count() == 1);
}

CONTRACT_CASE(expired_memories_are_never_returned_and_prune_deletes_them) {
    auto h = env.start();
    const auto id = store(
        *h, {{"session_id", "s"}, {"content", "parking spot B12"}, {"created_at", at(t0)}, {"ttl_seconds", 3600}});
    const auto keep =
        store(*h, {{"session_id", "s"}, {"content", "parking is free on Sundays"}, {"created_at", at(t0)}});

    const auto before = at(t0 + hour - 1);
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "parking"}, {"now", before}})).size() == 2u);
    BOOST_TEST(ok(*h, "get", {{"id", id}, {"now", before}}).at("id").as_int64() == id);

    const auto after = at(t0 + hour);  // expires_at is exclusive: gone at that instant
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "parking"}, {"now", after}})) ==
               std::vector<int64_t>{keep});
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"now", after}})) == std::vector<int64_t>{keep});
    BOOST_TEST(ids_of(ok(*h, "list", {{"session_id", "s"}, {"now", after}})) == std::vector<int64_t>{keep});
    BOOST_TEST(code(fails(*h, "get", {{"id", id}, {"now", after}})) == code(status_code::not_found));
    BOOST_TEST(env.count() == 2);  // still stored, only hidden

    const auto pruned = ok(*h, "prune", {{"now", after}});
    BOOST_TEST(pruned.at("expired").as_int64() == 1);
    BOOST_TEST(pruned.at("over_cap").as_int64() == 0);
    BOOST_TEST(env.count() == 1);
    BOOST_TEST(ok(*h, "prune", {{"now", after}}).at("expired").as_int64() == 0);  // idempotent
}

CONTRACT_CASE(prune_caps_each_session_dropping_the_least_important_oldest_first) {
    auto h = env.start({{"max_memories_per_session", 3}});
    const auto add = [&](const char* session, double importance, ptime::unix_ms created) {
        return store(
            *h, {{"session_id", session}, {"content", "m"}, {"importance", importance}, {"created_at", at(created)}});
    };
    const auto old_mid = add("big", 0.5, t0 - 3 * day);
    const auto low = add("big", 0.1, t0);
    const auto high = add("big", 0.9, t0 - 9 * day);
    const auto mid = add("big", 0.5, t0 - 2 * day);
    const auto new_mid = add("big", 0.5, t0 - day);
    store(*h, {{"session_id", "big"},
               {"content", "m"},
               {"importance", 1.0},
               {"created_at", at(t0 - day)},
               {"ttl_seconds", 60}});  // expired at t0
    add("small", 0.0, t0 - 9 * day);
    add("small", 0.0, t0 - 9 * day);

    BOOST_TEST(ok(*h, "prune", {{"session_id", "small"}, {"now", at(t0)}}).at("over_cap").as_int64() == 0);
    BOOST_TEST(env.count() == 8);

    const auto pruned = ok(*h, "prune", {{"now", at(t0)}});
    BOOST_TEST(pruned.at("expired").as_int64() == 1);
    BOOST_TEST(pruned.at("over_cap").as_int64() == 2);
    BOOST_TEST(sorted(ids_of(ok(*h, "list", {{"session_id", "big"}, {"now", at(t0)}}))) ==
               (std::vector<int64_t>{high, mid, new_mid}));
    BOOST_TEST(code(fails(*h, "get", {{"id", low}})) == code(status_code::not_found));
    BOOST_TEST(code(fails(*h, "get", {{"id", old_mid}})) == code(status_code::not_found));
    BOOST_TEST(ok(*h, "prune", {{"now", at(t0)}}).at("over_cap").as_int64() == 0);
}

CONTRACT_CASE(prune_works_in_batches_across_many_memories) {
    auto h = env.start({{"max_memories_per_session", 100}});
    // More than one batch (500) of expired memories and of memories over the cap, written
    // directly (the same SQL runs on both).
    env.sql(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1199)"
        " INSERT INTO {table} (session_id, kind, content, importance, created_at, expires_at)"
        " SELECT 'bulk', 'fact', 'bulk ' || i, 0.5, " +
        std::to_string(t0) + " + i, CASE WHEN i % 2 = 1 THEN NULL ELSE " + std::to_string(t0) + " END FROM n");
    BOOST_TEST(env.count() == 1200);
    const auto pruned = ok(*h, "prune", {{"now", at(t0)}});
    BOOST_TEST(pruned.at("expired").as_int64() == 600);
    BOOST_TEST(pruned.at("over_cap").as_int64() == 500);
    BOOST_TEST(env.count() == 100);
    BOOST_TEST(env.count("created_at < " + std::to_string(t0 + 1200 - 200)) == 0);  // the newest kept
}

CONTRACT_CASE(recall_scores_are_the_documented_blend_and_relevance_is_relative) {
    auto h = env.start();  // default weights 0.6 / 0.25 / 0.15, half-life 7 days
    const auto a = store(
        *h,
        {{"session_id", "s"}, {"content", "coffee in the morning"}, {"importance", 0.2}, {"created_at", at(t0 - day)}});
    const auto b = store(*h, {{"session_id", "s"},
                              {"content", "the coffee shop on the corner"},
                              {"importance", 0.9},
                              {"created_at", at(t0 - 7 * day)}});
    store(*h, {{"session_id", "s"}, {"content", "tea at five"}, {"importance", 1.0}, {"created_at", at(t0)}});

    const auto r = ok(*h, "recall", {{"session_id", "s"}, {"query", "coffee"}, {"now", at(t0)}});
    const auto& w = r.at("weights");
    const auto& ms = r.at("memories").as_array();
    BOOST_TEST_REQUIRE(ms.size() == 2u);  // "tea" does not match
    double best_relevance = 0;
    double previous = 2;
    for (const auto& m : ms) {
        const auto& c = m.at("components");
        const double rel = c.at("relevance").to_number<double>(), rec = c.at("recency").to_number<double>(),
                     imp = c.at("importance").to_number<double>();
        BOOST_TEST(rel > 0.0);
        BOOST_TEST(rel <= 1.0);
        const double expected = w.at("relevance").to_number<double>() * rel +
                                w.at("recency").to_number<double>() * rec +
                                w.at("importance").to_number<double>() * imp;
        BOOST_TEST(m.at("score").to_number<double>() == expected, boost::test_tools::tolerance(1e-12));
        BOOST_TEST(m.at("score").to_number<double>() <= previous);  // best first
        previous = m.at("score").to_number<double>();
        best_relevance = std::max(best_relevance, rel);
        if (m.at("id").as_int64() == a) BOOST_TEST(rec == std::exp2(-1.0 / 7), boost::test_tools::tolerance(1e-12));
        if (m.at("id").as_int64() == b) BOOST_TEST(rec == 0.5, boost::test_tools::tolerance(1e-12));
    }
    BOOST_TEST(best_relevance == 1.0);  // relevance is relative to the best match
}

CONTRACT_CASE(recall_matches_words_as_literals_with_stems_and_without_accents) {
    auto h = env.start();
    const auto fact = store(*h, {{"session_id", "s"}, {"content", "Lisbon trip in June"}, {"kind", "fact"}});
    const auto summary =
        store(*h, {{"session_id", "s"}, {"content", "Summary: Lisbon, June, Alfama"}, {"kind", "summary"}});
    const auto cafe = store(*h, {{"session_id", "s"}, {"content", "Meet at the café near ada@example.com's office"}});
    const auto mail = store(*h, {{"session_id", "s"}, {"content", "Send the e-mail before 07:35"}});
    store(*h, {{"session_id", "other"}, {"content", "Lisbon for someone else"}});

    const auto recall = [&](json::object args) {
        args["session_id"] = "s";
        return sorted(ids_of(ok(*h, "recall", std::move(args))));
    };
    BOOST_TEST(recall({{"query", "lisbon"}}) == (std::vector<int64_t>{fact, summary}));
    BOOST_TEST(recall({{"query", "lisbon"}, {"kinds", {"summary"}}}) == std::vector<int64_t>{summary});
    BOOST_TEST(recall({{"kinds", {"preference"}}}).empty());
    // Query syntax of either engine is searched for, never interpreted: words are OR-ed literals.
    BOOST_TEST(recall({{"query", "NOT alfama* OR ( \"-"}}) == std::vector<int64_t>{summary});
    BOOST_TEST(recall({{"query", "session_key:x"}}).empty());
    BOOST_TEST(recall({{"query", "-june"}}) == (std::vector<int64_t>{fact, summary}));
    BOOST_TEST(recall({{"query", "\"lisbon trip\" or"}}) == (std::vector<int64_t>{fact, summary}));
    // Stems: "trips" finds "trip"; case and accents do not matter.
    BOOST_TEST(recall({{"query", "trips"}}) == std::vector<int64_t>{fact});
    BOOST_TEST(recall({{"query", "CAFE"}}) == std::vector<int64_t>{cafe});
    // Words split at punctuation the same way on both sides.
    BOOST_TEST(recall({{"query", "example"}}) == std::vector<int64_t>{cafe});
    BOOST_TEST(recall({{"query", "mail"}}) == std::vector<int64_t>{mail});
    BOOST_TEST(recall({{"query", "e-mail"}}) == std::vector<int64_t>{mail});
    BOOST_TEST(recall({{"query", "35"}}) == std::vector<int64_t>{mail});
    // Stop words are words: "the" finds every memory that has it.
    BOOST_TEST(recall({{"query", "the"}}) == (std::vector<int64_t>{cafe, mail}));
}

CONTRACT_CASE(an_empty_query_recalls_by_recency_and_importance) {
    auto h = env.start(
        {{"weights", {{"relevance", 5}, {"recency", 1}, {"importance", 1}}}, {"recency_half_life_seconds", 86400}});
    const auto old_important = store(
        *h, {{"session_id", "s"}, {"content", "old but vital"}, {"importance", 1.0}, {"created_at", at(t0 - 3 * day)}});
    const auto new_trivial =
        store(*h, {{"session_id", "s"}, {"content", "new and trivial"}, {"importance", 0.0}, {"created_at", at(t0)}});
    const auto middle = store(*h, {{"session_id", "s"},
                                   {"content", "yesterday, fairly important"},
                                   {"importance", 0.6},
                                   {"created_at", at(t0 - day)}});
    const auto r = ok(*h, "recall", {{"session_id", "s"}, {"now", at(t0)}});
    BOOST_TEST(ids_of(r) == (std::vector<int64_t>{old_important, middle, new_trivial}));
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", " \t "}, {"now", at(t0)}, {"limit", 1}})) ==
               std::vector<int64_t>{old_important});
}

CONTRACT_CASE(an_idempotency_key_stores_once_and_replays_the_first_memory) {
    auto h = env.start();
    const json::object args{{"session_id", "s"},
                            {"content", "remember me"},
                            {"idempotency_key", "turn-7"},
                            {"importance", 0.7},
                            {"metadata", {{"a", 1}, {"b", 2}}}};
    const auto first = ok(*h, "store", args);
    json::object again = args;
    again["metadata"] = json::object{{"b", 2}, {"a", 1}};  // the same object, keys in another order
    const auto second = ok(*h, "store", again);
    BOOST_TEST(first.at("replayed").as_bool() == false);
    BOOST_TEST(second.at("replayed").as_bool() == true);
    BOOST_TEST(second.at("id") == first.at("id"));
    BOOST_TEST(second.at("created_at") == first.at("created_at"));
    BOOST_TEST(second.at("idempotency_key").as_string() == "turn-7");
    BOOST_TEST(env.count() == 1);

    // A different request with a used key is refused, and changes nothing.
    for (const json::object& changed :
         {json::object{{"content", "second"}}, json::object{{"importance", 0.9}}, json::object{{"kind", "summary"}},
          json::object{{"ttl_seconds", 60}}, json::object{{"metadata", {{"x", 1}}}},
          json::object{{"created_at", "2001-01-01T00:00:00Z"}}}) {
        json::object different = args;
        for (const auto& [k, v] : changed) different[k] = v;
        const auto e = fails(*h, "store", different);
        BOOST_TEST(code(e) == code(status_code::invalid_argument));
        BOOST_TEST(contains(e.message, "idempotency_key"), e.message);
    }
    BOOST_TEST(env.count() == 1);

    // Keys belong to a session.
    json::object other = args;
    other["session_id"] = "t";
    BOOST_TEST(ok(*h, "store", other).at("id") != first.at("id"));
    BOOST_TEST(env.count() == 2);

    // An expired memory gives up its key: the store that takes it over replaces it.
    const auto old_id = store(*h, {{"session_id", "s"},
                                   {"content", "old"},
                                   {"idempotency_key", "k"},
                                   {"created_at", at(t0)},
                                   {"ttl_seconds", 60}});
    const auto fresh = ok(*h, "store", {{"session_id", "s"}, {"content", "new"}, {"idempotency_key", "k"}});
    BOOST_TEST(fresh.at("replayed").as_bool() == false);
    BOOST_TEST(fresh.at("id").as_int64() > old_id);
    BOOST_TEST(env.count("idempotency_key = 'k'") == 1);
    BOOST_TEST(env.count() == 3);
}

CONTRACT_CASE(two_hosts_racing_with_one_key_store_one_memory) {
    // Two hosts on the same storage (two processes' worth of tool instances and connections), two
    // threads each, released at once with the same key, round after round.
    auto first = env.start({}, 4);
    auto second = env.start({}, 4);
    constexpr int rounds = 25, per_host = 2;
    for (int round = 0; round < rounds; ++round) {
        const std::string key = "race-" + std::to_string(round);
        const auto results = toolhost::test::storage::at_once(
            {first.get(), second.get()}, per_host, 1, [&](toolhost::host& h, int, int) {
                return h.call("memory", "store",
                              {{"session_id", "race"}, {"content", "stored once: " + key}, {"idempotency_key", key}});
            });
        std::set<int64_t> ids;
        int created = 0;
        for (const auto& r : results) {
            BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
            const auto v = json::parse(*r);
            ids.insert(v.at("id").as_int64());
            created += v.at("replayed").as_bool() ? 0 : 1;
        }
        BOOST_TEST(ids.size() == 1u, key);
        BOOST_TEST(created == 1, key);
        BOOST_TEST(env.count("idempotency_key = '" + key + "'") == 1, key);
    }
    BOOST_TEST(env.count() == rounds);
}

CONTRACT_CASE(threads_of_one_host_store_and_recall_at_once) {
    auto h = env.start({}, 8);
    constexpr int threads = 6, per_thread = 20;
    std::mutex m;
    std::set<int64_t> ids;
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    const auto s = h->call("memory", "store",
                                           {{"session_id", "shared"},
                                            {"content", "thread " + std::to_string(t) + " item " + std::to_string(i)}});
                    const auto r =
                        h->call("memory", "recall", {{"session_id", "shared"}, {"query", "item"}, {"limit", 5}});
                    if (!s || !r) {
                        ++failures;
                        continue;
                    }
                    std::lock_guard lock(m);
                    ids.insert(json::parse(*s).at("id").as_int64());
                }
            });
    }
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(ids.size() == static_cast<size_t>(threads * per_thread));
    BOOST_TEST(env.count() == threads * per_thread);
}

CONTRACT_CASE(hosts_starting_together_set_up_and_seed_once) {
    // Four hosts start on a new storage at the same moment: every one starts, the schema is made
    // once, and the sample is seeded once.
    auto started = env.start_together(4, {{"sample_data", true}, {"sample_file", TOOLHOST_MEMORY_SAMPLE}});
    BOOST_TEST(env.count() == 12);
    BOOST_TEST(env.count("session_id = 'demo'") == 12);
    const auto r = ok(*started[1], "recall", {{"session_id", "demo"}, {"query", "flight"}});
    BOOST_TEST(!r.at("memories").as_array().empty());
    // Forgetting the demo keeps it forgotten for a host that starts later.
    BOOST_TEST(ok(*started[2], "forget", {{"session_id", "demo"}}).at("forgotten").as_int64() == 12);
    started.clear();
    auto later = env.start({{"sample_data", true}, {"sample_file", TOOLHOST_MEMORY_SAMPLE}});
    BOOST_TEST(ids_of(ok(*later, "list", {{"session_id", "demo"}})).empty());
}

#if !TOOLHOST_MEMORY_POSTGRESQL
BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_AUTO_TEST_CASE(a_build_without_libpq_refuses_a_postgresql_storage_naming_what_is_missing) {
    toolhost::test::storage::check_refused_without_postgresql_support(storage_env(backend::sqlite), "config/storage");
}

BOOST_AUTO_TEST_SUITE_END()
#endif

// ================================================================= what only PostgreSQL has

BOOST_AUTO_TEST_SUITE(postgresql)

BOOST_AUTO_TEST_CASE(agrees_with_sqlite_on_what_matches_and_on_the_unambiguous_top_result) {
    // The demo session on both backends; the same recalls. Both must find the same memories.
    // The top result must be the same wherever it is unambiguous: here, where SQLite's best score
    // leads the next by 0.05 or more (checked below, so the list cannot drift into close calls).
    // Scores differ by design: bm25 weighs rare words up (IDF) and saturates repeated ones,
    // ts_rank_cd counts every occurrence alike; close calls ("vegetarian restaurant": 0.809
    // against 0.789 on SQLite) may come out the other way round.
    storage_env lite(backend::sqlite);
    storage_env pg(backend::postgresql);
    const json::object sample{{"sample_data", true}, {"sample_file", TOOLHOST_MEMORY_SAMPLE}};
    auto h_lite = lite.start(sample);
    auto h_pg = pg.start(sample);

    const std::vector<std::string> close_calls{
        "vegetarian restaurant", "flight seat",         "flights", "Alfama", "June", "the",
        "guesthouse pets",       "NOT alfama* OR ( \"-"};
    const std::vector<std::string> clear{"coffee",         "Lisbon trip",  "booked",
                                         "walking",        "museum",       "07:35",
                                         "BA500",          "14A",          "check-in",
                                         "Ada's",          "and is a",     "cats allergic",
                                         "tram crowded",   "budget euros", "Heathrow morning",
                                         "data engineer",  "sugar black",  "science mathematics",
                                         "name",           "dinner",       "window",
                                         "taxi",           "15:00",        "two weeks",
                                         "question",       "London",       "small independent shops",
                                         "weeks",          "travelling",   "reserved",
                                         "nothing matches"};
    const auto recall = [](toolhost::host& h, const std::string& query) {
        return ok(h, "recall", {{"session_id", "demo"}, {"query", query}, {"limit", 100}}).at("memories").as_array();
    };
    const auto contents = [](const json::array& ms) {
        std::set<std::string> out;
        for (const auto& m : ms) out.insert(std::string(m.at("content").as_string()));
        return out;
    };
    for (const auto* queries : {&close_calls, &clear}) {
        for (const auto& q : *queries) {
            const auto a = recall(*h_lite, q);
            const auto b = recall(*h_pg, q);
            BOOST_TEST((contents(a) == contents(b)), "\"" << q << "\" matches different memories");
            if (queries == &close_calls || a.empty() || b.empty()) continue;
            if (a.size() > 1)
                BOOST_TEST_REQUIRE(a[0].at("score").to_number<double>() - a[1].at("score").to_number<double>() >= 0.05,
                                   "\"" << q << "\" is a close call on SQLite: move it to close_calls");
            BOOST_TEST(a[0].at("content") == b[0].at("content"), "\"" << q << "\": different top results");
            BOOST_TEST(b[0].at("components").at("relevance").to_number<double>() == 1.0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_database_that_goes_away_is_unavailable_and_comes_back_without_losing_anything) {
    // A cluster of its own, stopped and started again under a writer that keeps storing, with an
    // idempotency key per entry so that it may retry a store whose outcome it did not learn.
    postgres_cluster own;
    storage_env env(backend::postgresql, &own);
    const std::string password = "s3cret-never-shown";
    auto h = toolhost::test::storage::start_with_password(env, password);
    const auto seen = toolhost::test::storage::write_through_an_outage(
        own,
        [&](long n) {
            return h->call("memory", "store",
                           {{"session_id", "w"},
                            {"content", "entry " + std::to_string(n)},
                            {"idempotency_key", "entry-" + std::to_string(n)}});
        },
        [&] {
            // Every operation fails the same way while the database is away; no crash.
            toolhost::test::storage::check_unavailable(
                *h, env,
                {{"store", {{"session_id", "w"}, {"content", "during the outage"}}},
                 {"recall", {{"session_id", "w"}, {"query", "entry"}}},
                 {"get", {{"id", 1}}},
                 {"list", {{"session_id", "w"}}},
                 {"forget", {{"id", 1}}},
                 {"prune", json::object{}}},
                password);
        },
        password);

    // Calls worked again on the same tool instance, which opened new connections. Nothing
    // acknowledged is lost, and nothing is stored twice.
    for (const auto& [n, result] : seen.acked)
        BOOST_TEST(ok(*h, "get", {{"id", json::parse(result).at("id")}}).at("content").as_string() ==
                   "entry " + std::to_string(n));
    BOOST_TEST(env.count("session_id = 'w'") == static_cast<int64_t>(seen.acked.size()));
    BOOST_TEST(env.count("session_id = 'w'") == std::stoll(env.sql("SELECT count(DISTINCT content) FROM {table}")));
}

BOOST_AUTO_TEST_CASE(connections_the_server_cut_are_replaced_without_failing_a_call) {
    postgres_cluster own;
    storage_env env(backend::postgresql, &own);
    auto h = env.start({}, 8);
    const auto idle_connections = [&] {
        // Calls at once, so that the pool keeps several connections.
        std::vector<std::jthread> threads;
        for (int t = 0; t < 6; ++t)
            threads.emplace_back([&] { h->call("memory", "recall", {{"session_id", "s"}, {"query", "x"}}); });
    };
    const auto toolhost_backends = [&] {
        return own.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'toolhost memory'");
    };
    // store is not retried by the host: each of these must succeed at its first attempt.
    const auto stores_succeed = [&](const std::string& tag) {
        for (int i = 0; i < 10; ++i) {
            const auto r = h->call("memory", "store", {{"session_id", "s"}, {"content", tag + std::to_string(i)}});
            BOOST_TEST(r.has_value(), tag << i << ": " << (r ? "" : r.error().to_string()));
        }
    };

    idle_connections();
    BOOST_TEST_REQUIRE(std::stoi(toolhost_backends()) > 1);
    // An administrator (or an idle timeout) ends the idle sessions.
    own.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'toolhost memory'");
    BOOST_TEST_REQUIRE(
        toolhost::test::eventually([&] { return toolhost_backends() == "0"; }, std::chrono::seconds(10)));
    stores_succeed("after terminate ");

    // The server restarts between two calls.
    idle_connections();
    own.stop();
    own.restart();
    stores_succeed("after restart ");
    BOOST_TEST(env.count() == 20);
}

#if TOOLHOST_MEMORY_POSTGRESQL
BOOST_AUTO_TEST_CASE(a_store_that_outlives_its_deadline_is_abandoned_and_rolled_back) {
    namespace pg = toolhost::plugins::postgres;
    storage_env env(backend::postgresql);
    auto h = env.start();
    store(*h, {{"session_id", "s"}, {"content", "before the lock"}});
    // Another session holds a lock that stops inserts (not reads) until it ends.
    auto locker = pg::connection::open(env.url(), std::chrono::steady_clock::now() + std::chrono::seconds(10));
    locker.exec("BEGIN");
    locker.exec("LOCK TABLE memory_memories IN SHARE MODE");

    toolhost::call_options options;
    options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    const auto started = std::chrono::steady_clock::now();
    const auto r = h->call("memory", "store", {{"session_id", "s"}, {"content", "must not appear"}}, options);
    const auto took = std::chrono::steady_clock::now() - started;
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((took < std::chrono::seconds(5)));
    BOOST_TEST((r.error().code == status_code::deadline_exceeded || r.error().code == status_code::unavailable),
               r.error().to_string());
    BOOST_TEST(ids_of(ok(*h, "recall", {{"session_id", "s"}, {"query", "lock"}})).size() == 1u);  // reads go on
    locker.exec("COMMIT");

    // The abandoned INSERT runs once the lock is gone; its transaction was never committed, so
    // the server rolls it back when it finds the connection closed.
    BOOST_TEST_REQUIRE(toolhost::test::eventually(
        [&] {
            return env.cluster().psql(
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'toolhost memory'"
                       " AND state <> 'idle'") == "0";
        },
        std::chrono::seconds(10)));
    BOOST_TEST(env.count() == 1);
    store(*h, {{"session_id", "s"}, {"content", "after the lock"}});
    // The plugin's call gave up at the deadline too: shutdown, which waits for running calls,
    // returns at once (were it still waiting for the lock, it would have been stored).
    h->shutdown();
    BOOST_TEST(env.count() == 2);
}
#endif

BOOST_AUTO_TEST_CASE(migrations_are_versioned_and_a_newer_schema_is_refused) {
    toolhost::test::storage::check_migrations(storage_env(backend::postgresql), "memory",
                                              "memory_memories memory_meta");
}

BOOST_AUTO_TEST_CASE(text_postgresql_cannot_hold_is_invalid_argument_naming_the_field) {
    // U+0000 is the one difference in what the two backends accept: PostgreSQL's text cannot
    // hold it. The store is refused before anything is sent.
    storage_env env(backend::postgresql);
    auto h = env.start();
    const auto e = fails(*h, "store", {{"session_id", "s"}, {"content", std::string("a\0b", 3)}});
    BOOST_TEST(code(e) == code(status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, "content"), e.to_string());
    const auto r = h->call("memory", "list", {{"session_id", std::string("s\0t", 3)}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(code(r.error()) == code(status_code::invalid_argument), r.error().to_string());
    BOOST_TEST(env.count() == 0);
}

BOOST_AUTO_TEST_CASE(the_storage_comes_from_the_configuration_or_toolhost_database_url) {
    temp_dir scratch;
    toolhost::test::storage::check_storage_choice(
        storage_env(backend::postgresql), "", "synchronous", "normal", {{"database", (scratch / "m.db").string()}},
        [](toolhost::host& h) {
            return h.call("memory", "store", {{"session_id", "s"}, {"content", "a memory"}});
        });
    BOOST_TEST(fs::exists(scratch / "m.db"));  // "storage": "sqlite" with its own SQLite keys
}

BOOST_AUTO_TEST_SUITE_END()

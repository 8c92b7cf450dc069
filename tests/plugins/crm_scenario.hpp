#pragma once
// One scenario of thirty crm calls (lookups, searches, upserts, idempotent logs, and the failures)
// on the sample data, shared by test_crm.cpp, which runs it on SQLite and on the REST backend and
// compares, and test_crm_storage.cpp, which runs it on SQLite and PostgreSQL and checks the
// results (check_scenario).

#include <toolhost/host.hpp>

#include "tool_env.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <ctime>
#include <string>
#include <vector>

namespace toolhost::test::crm {

namespace json = boost::json;

inline std::string now_text() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Replaces the times a backend set to "now" during a run (at or after `start`), which two runs
// cannot share; the sample's times stay.
inline json::value without_clock_times(json::value v, const std::string& start) {
    if (v.is_object()) {
        auto& o = v.as_object();
        for (auto& [k, x] : o) {
            if ((k == "created_at" || k == "updated_at") && x.is_string() && x.as_string() >= start)
                x = "<now>";
            else
                x = without_clock_times(x, start);
        }
    } else if (v.is_array()) {
        for (auto& x : v.as_array()) x = without_clock_times(x, start);
    }
    return v;
}

// One step of the shared scenario: the operation, its arguments, and an optional request id.
struct step {
    std::string operation;
    json::object args;
    std::string request_id;
};

inline const std::vector<step>& scenario() {
    static const std::vector<step> steps = {
        {"get_customer", {{"id", "C-1003"}}, ""},
        {"get_customer", {{"email", "  ALAN@Bletchley.example "}}, ""},
        {"get_customer", {{"phone", "+44 (1908) 640-103"}}, ""},
        {"get_customer", {{"phone", "0044 1908 640103"}}, ""},
        {"search", {{"query", "compiler"}, {"limit", 1}}, ""},
        {"search", {{"query", "compiler"}, {"limit", 1}, {"offset", 1}}, ""},
        {"search", {{"query", "ADA analytical"}}, ""},
        {"search", {{"limit", 100}}, ""},
        {"search", {{"query", "nobody-matches-this"}}, ""},
        {"upsert", {{"email", "Joan@Bletchley.example"}, {"name", "Joan Clarke"}, {"phone", "+44 1908 640 999"}}, ""},
        {"upsert", {{"email", "joan@bletchley.example"}, {"name", "Joan Clarke"}}, ""},
        {"upsert", {{"id", "C-1002"}, {"tier", "enterprise"}, {"phone", nullptr}, {"notes", "Upgraded"}}, ""},
        {"upsert", {{"id", "X-1"}, {"name", "External Id"}, {"company", "Elsewhere"}}, ""},
        {"get_customer", {{"phone", "+1 415 555 0102"}}, ""},
        {"log_interaction",
         {{"customer_id", "C-1002"},
          {"channel", "phone"},
          {"summary", "Upgrade call"},
          {"outcome", "resolved"},
          {"occurred_at", "2025-04-01T12:00:00+02:00"},
          {"idempotency_key", "k-1"}},
         ""},
        {"log_interaction",
         {{"customer_id", "C-1002"},
          {"channel", "phone"},
          {"summary", "Upgrade call"},
          {"outcome", "resolved"},
          {"occurred_at", "2025-04-01T12:00:00+02:00"},
          {"idempotency_key", "k-1"}},
         ""},
        {"log_interaction",
         {{"customer_id", "C-1002"},
          {"channel", "chat"},
          {"summary", "Follow-up"},
          {"outcome", "follow_up"},
          {"occurred_at", "2025-04-02T08:00:00Z"}},
         "req-7"},
        {"log_interaction",
         {{"customer_id", "C-1002"},
          {"channel", "chat"},
          {"summary", "Follow-up"},
          {"outcome", "follow_up"},
          {"occurred_at", "2025-04-02T08:00:00Z"}},
         "req-7"},
        {"recent_interactions", {{"customer_id", "C-1002"}, {"limit", 5}}, ""},
        {"recent_interactions", {{"customer_id", "C-1004"}}, ""},
        // failures
        {"get_customer", {{"id", "C-9999"}}, ""},
        {"get_customer", {{"email", "nobody@nowhere.example"}}, ""},
        {"upsert", {{"id", "C-1001"}, {"email", "grace@cobol.example"}}, ""},
        {"upsert", {{"id", "C-1001"}, {"phone", "+1 757 555 0104"}}, ""},
        {"upsert", {{"id", "NEW-1"}, {"tier", "free"}}, ""},
        {"log_interaction",
         {{"customer_id", "C-9999"}, {"channel", "chat"}, {"summary", "x"}, {"outcome", "resolved"}},
         ""},
        {"log_interaction",
         {{"customer_id", "C-1002"},
          {"channel", "phone"},
          {"summary", "Different"},
          {"outcome", "resolved"},
          {"occurred_at", "2025-04-01T12:00:00+02:00"},
          {"idempotency_key", "k-1"}},
         ""},
        {"recent_interactions", {{"customer_id", "C-9999"}}, ""},
        // after the failures, nothing changed
        {"get_customer", {{"id", "C-1001"}}, ""},
        {"search", {{"limit", 100}}, ""},
    };
    return steps;
}

// Runs the scenario; each entry is the result, or {"error": CODE}.
inline std::vector<json::value> run_scenario(host& h) {
    const std::string start = now_text();
    std::vector<json::value> out;
    for (const auto& s : scenario()) {
        auto r = h.call("crm", s.operation, s.args, with_request_id(s.request_id));
        if (r)
            out.push_back(without_clock_times(json::parse(*r), start));
        else
            out.push_back(json::object{{"error", status_name(r.error().code)}});
    }
    return out;
}

/// The results of run_scenario() on the sample data are the right ones.
inline void check_scenario(const std::vector<json::value>& on) {
    BOOST_TEST_REQUIRE(on.size() == scenario().size());
    const auto& r = on;
    BOOST_TEST(r[0].at("customer").at("name") == "Alan Turing");
    BOOST_TEST(r[1].at("customer").at("id") == "C-1003");
    BOOST_TEST(r[2].at("customer").at("id") == "C-1003");
    BOOST_TEST(r[3].at("customer").at("phone") == "+441908640103");
    BOOST_TEST(r[4].at("customers").at(0).at("name") == "Dennis Ritchie");
    BOOST_TEST(r[4].at("total").as_int64() == 2);
    BOOST_TEST(r[4].at("next_offset").as_int64() == 1);
    BOOST_TEST(r[5].at("customers").at(0).at("name") == "Grace Hopper");
    BOOST_TEST(r[5].at("next_offset").is_null());
    BOOST_TEST(r[6].at("total").as_int64() == 1);
    BOOST_TEST(r[7].at("total").as_int64() == 10);
    BOOST_TEST(r[7].at("customers").at(0).at("name") == "Ada Lovelace");  // by name
    BOOST_TEST(r[8].at("total").as_int64() == 0);
    BOOST_TEST(r[9].at("created").as_bool());
    BOOST_TEST(r[9].at("customer").at("id") == "C-1011");
    BOOST_TEST(r[9].at("customer").at("email") == "joan@bletchley.example");
    BOOST_TEST(r[9].at("customer").at("phone") == "+441908640999");
    BOOST_TEST(r[9].at("customer").at("tier") == "standard");
    BOOST_TEST(!r[10].at("created").as_bool());
    BOOST_TEST(r[10].at("customer").at("phone") == "+441908640999");  // absent fields stay
    BOOST_TEST(r[11].at("customer").at("tier") == "enterprise");
    BOOST_TEST(r[11].at("customer").at("phone").is_null());  // null clears
    BOOST_TEST(r[11].at("customer").at("company") == "Compiler Works");
    BOOST_TEST(r[12].at("created").as_bool());
    BOOST_TEST(r[12].at("customer").at("id") == "X-1");
    BOOST_TEST(r[13] == json::value(json::object{{"error", "NOT_FOUND"}}));  // the phone was cleared
    BOOST_TEST(r[14].at("created").as_bool());
    BOOST_TEST(r[14].at("interaction").at("occurred_at") == "2025-04-01T10:00:00Z");
    BOOST_TEST(!r[15].at("created").as_bool());
    BOOST_TEST(r[15].at("interaction").at("id") == r[14].at("interaction").at("id"));
    BOOST_TEST(r[16].at("interaction").at("idempotency_key") == "req-7");
    BOOST_TEST(!r[17].at("created").as_bool());
    BOOST_TEST(r[18].at("interactions").as_array().size() == 3u);
    BOOST_TEST(r[18].at("interactions").at(0).at("summary") == "Follow-up");  // newest first
    BOOST_TEST(r[19].at("interactions").at(0).at("summary") == "Thanked the team for the quick rate limit change.");
    const std::vector<std::string> errors = {"NOT_FOUND",        "NOT_FOUND", "ALREADY_EXISTS", "ALREADY_EXISTS",
                                             "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "NOT_FOUND"};
    for (size_t i = 0; i < errors.size(); ++i)
        BOOST_TEST(r[20 + i] == json::value(json::object{{"error", errors[i]}}), "step " << 20 + i);
    BOOST_TEST(r[28].at("customer").at("email") == "ada@analytical.example");
    BOOST_TEST(r[28].at("customer").at("phone") == "+442079460101");
    BOOST_TEST(r[29].at("total").as_int64() == 12);
}

}  // namespace toolhost::test::crm

// The escalation tool (plugins/escalation), loaded from its .so through the real host, with its
// SQLite file in a temporary folder and its webhook pointed at a real HTTP server on loopback:
// the rules of evaluate, ticket arguments and resources, idempotent create_ticket through the
// host's retries, webhook delivery and its failures, and what is SQLite's own (a locked, a corrupt
// file). The ticket storage itself (the workflow, idempotency, races, the delivery state) is
// test_escalation_storage.cpp's contract, run on SQLite and PostgreSQL.
#define BOOST_TEST_MODULE escalation
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "http_server.hpp"
#include "test_support.hpp"
#include "tool_env.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <sqlite3.h>

#include <future>
#include <set>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using toolhost::test::failed;
using toolhost::test::gate;
using toolhost::test::http_request;
using toolhost::test::http_response;
using toolhost::test::http_server;
using toolhost::test::ok;
using toolhost::test::refused_port;
using toolhost::test::temp_dir;

namespace {

using toolhost::test::contains;
using toolhost::test::with_request_id;

// A host whose only plugin folder holds the escalation plugin, with its data in a temporary folder.
class escalation_env : public toolhost::test::tool_env {
public:
    escalation_env() : tool_env("escalation", TOOLHOST_ESCALATION_PLUGIN) {}
    fs::path database() const { return var() / "escalation" / "tickets.db"; }
};

json::object evaluate(host& h, std::string message, json::object context = {}) {
    json::object args{{"message", std::move(message)}};
    if (!context.empty()) args["context"] = std::move(context);
    return ok(h.call("escalation", "evaluate", args));
}

std::vector<std::string> rules_of(const json::object& assessment) {
    std::vector<std::string> out;
    for (const auto& r : assessment.at("reasons").as_array()) out.emplace_back(r.at("rule").as_string());
    return out;
}

const json::object* reason(const json::object& assessment, std::string_view rule) {
    for (const auto& r : assessment.at("reasons").as_array())
        if (r.at("rule").as_string() == rule) return &r.as_object();
    return nullptr;
}

double number(const json::value& v) { return v.to_number<double>(); }

int64_t ticket_count(host& h) {
    return ok(h.call("escalation", "list_tickets", json::object{})).at("total").as_int64();
}

json::object new_ticket(std::string subject = "Refund for a double charge") {
    return json::object{{"customer", "C-1003"}, {"subject", std::move(subject)}, {"priority", "high"}};
}

json::object webhook(const std::string& url, json::object extra = {}) {
    json::object w{{"url", url}};
    for (auto& [k, v] : extra) w[k] = v;
    return json::object{{"webhook", std::move(w)}, {"sample_data", false}};
}

json::object no_retries() { return json::object{{"retry", json::object{{"max_attempts", 1}}}}; }

}  // namespace

// ======================================================================================= evaluate

BOOST_AUTO_TEST_SUITE(evaluate_rules)

BOOST_AUTO_TEST_CASE(an_explicit_request_for_a_human_escalates) {
    escalation_env env;
    auto h = env.start();
    auto a = evaluate(*h, "This is not helping. Can I talk to a person, please?");
    BOOST_TEST(a.at("should_escalate").as_bool());
    BOOST_TEST(number(a.at("score")) == 1.0);
    BOOST_TEST(number(a.at("threshold")) == 0.6);
    const auto* r = reason(a, "explicit_request");
    BOOST_TEST_REQUIRE(r != nullptr);
    BOOST_TEST(r->at("matched") == json::array{"talk to a person"});
}

BOOST_AUTO_TEST_CASE(a_calm_question_does_not_escalate) {
    escalation_env env;
    auto h = env.start();
    auto a = evaluate(*h, "How do I change the email address on my account?");
    BOOST_TEST(!a.at("should_escalate").as_bool());
    BOOST_TEST(number(a.at("score")) == 0.0);
    BOOST_TEST(a.at("priority") == "low");
    BOOST_TEST(a.at("reasons").as_array().empty());
}

BOOST_AUTO_TEST_CASE(matching_is_whole_word_and_case_insensitive) {
    escalation_env env;
    auto h = env.start();
    // Words that merely contain a phrase do not match.
    for (const char* m : {"Which reagent do I need?", "Our management approved it", "The agents list is long",
                          "I was suing nobody", "unrefundable?"}) {
        auto a = evaluate(*h, m);
        BOOST_TEST(a.at("reasons").as_array().empty(), m);
    }
    // Case, punctuation and typographic apostrophes do not hide a match.
    BOOST_TEST(rules_of(evaluate(*h, "AGENT!!!")) == std::vector<std::string>{"explicit_request"});
    BOOST_TEST(rules_of(evaluate(*h, "I want a REFUND.")) == std::vector<std::string>{"keywords"});
    BOOST_TEST(rules_of(evaluate(*h, "I'm fed-up with this")) == std::vector<std::string>{"negative_sentiment"});
    auto a = evaluate(*h, "You\xE2\x80\x99re not a bot, right? Let me speak   to\tsomeone");
    const auto* r = reason(a, "explicit_request");
    BOOST_TEST_REQUIRE(r != nullptr);
    BOOST_TEST(r->at("matched") == (json::array{"speak to someone", "not a bot"}));
}

BOOST_AUTO_TEST_CASE(lexicon_points_are_per_distinct_match_and_capped) {
    escalation_env env;
    auto h = env.start();
    auto a = evaluate(*h, "This is ridiculous.");
    BOOST_TEST(number(reason(a, "negative_sentiment")->at("weight")) == 0.15);
    a = evaluate(*h, "Ridiculous, ridiculous, RIDICULOUS");  // one distinct match
    BOOST_TEST(number(reason(a, "negative_sentiment")->at("weight")) == 0.15);
    a = evaluate(*h, "terrible awful useless ridiculous unacceptable service, I am furious");
    BOOST_TEST(number(reason(a, "negative_sentiment")->at("weight")) == 0.45);  // capped
    a = evaluate(*h, "refund, chargeback, lawyer, fraud");
    BOOST_TEST(number(reason(a, "keywords")->at("weight")) == 0.6);  // capped
    BOOST_TEST(reason(a, "keywords")->at("matched").as_array().size() == 4u);
}

BOOST_AUTO_TEST_CASE(failed_attempts_add_up_to_the_threshold) {
    escalation_env env;
    auto h = env.start();
    auto a = evaluate(*h, "still broken", {{"failed_attempts", 2}});
    BOOST_TEST(!a.at("should_escalate").as_bool());
    BOOST_TEST(number(a.at("score")) == 0.4);
    a = evaluate(*h, "still broken", {{"failed_attempts", 3}});
    BOOST_TEST(a.at("should_escalate").as_bool());  // 0.6 reaches 0.6
    a = evaluate(*h, "still broken", {{"failed_attempts", 30}});
    BOOST_TEST(number(a.at("score")) == 0.6);  // capped
}

BOOST_AUTO_TEST_CASE(the_customer_tier_lowers_the_threshold) {
    escalation_env env;
    auto h = env.start();
    const std::string message = "This is ridiculous, I want to cancel my account";  // 0.15 + 0.3
    auto standard = evaluate(*h, message, {{"customer_tier", "standard"}});
    BOOST_TEST(!standard.at("should_escalate").as_bool());
    BOOST_TEST(number(standard.at("score")) == 0.45);
    BOOST_TEST(reason(standard, "customer_tier") == nullptr);
    auto enterprise = evaluate(*h, message, {{"customer_tier", "Enterprise"}});
    BOOST_TEST(enterprise.at("should_escalate").as_bool());
    BOOST_TEST(number(enterprise.at("threshold")) == 0.4);
    BOOST_TEST(contains(reason(enterprise, "customer_tier")->at("detail").as_string(), "enterprise"));
}

BOOST_AUTO_TEST_CASE(low_retrieval_confidence_counts) {
    escalation_env env;
    auto h = env.start();
    auto a = evaluate(*h, "what is the SLA", {{"retrieval_confidence", 0.2}});
    BOOST_TEST(number(reason(a, "low_retrieval_confidence")->at("weight")) == 0.3);
    a = evaluate(*h, "what is the SLA", {{"retrieval_confidence", 0.4}});
    BOOST_TEST(reason(a, "low_retrieval_confidence") == nullptr);
    // Everything together: a high priority escalation.
    a = evaluate(*h, "I am furious, get me a manager", {{"failed_attempts", 2}, {"retrieval_confidence", 0.1}});
    BOOST_TEST(a.at("should_escalate").as_bool());
    BOOST_TEST(a.at("priority") == "high");
    BOOST_TEST(rules_of(a) == (std::vector<std::string>{"explicit_request", "negative_sentiment", "failed_attempts",
                                                        "low_retrieval_confidence"}));
}

BOOST_AUTO_TEST_CASE(rules_come_from_the_configuration) {
    escalation_env env;
    auto h = env.start({{"threshold", 0.5},
                        {"keywords", json::array{"outage", "data loss"}},
                        {"negative_terms", json::array{"meh"}},
                        {"explicit_request_phrases", json::array{"escalate"}},
                        {"weights", {{"keyword", 0.5}, {"negative_sentiment", 0.05}}},
                        {"tier_thresholds", {{"gold", 0.05}}}});
    auto a = evaluate(*h, "We have an outage");
    BOOST_TEST(a.at("should_escalate").as_bool());
    BOOST_TEST(number(a.at("score")) == 0.5);
    // The default lexicons are replaced, not extended.
    BOOST_TEST(evaluate(*h, "I want a refund from an agent").at("reasons").as_array().empty());
    BOOST_TEST(number(evaluate(*h, "meh").at("score")) == 0.05);
    BOOST_TEST(evaluate(*h, "meh", {{"customer_tier", "GOLD"}}).at("should_escalate").as_bool());
    BOOST_TEST(!evaluate(*h, "meh", {{"customer_tier", "enterprise"}}).at("should_escalate").as_bool());
    BOOST_TEST(evaluate(*h, "please escalate").at("should_escalate").as_bool());
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_field) {
    escalation_env env;
    auto h = env.start();
    auto e = failed(h->call("escalation", "evaluate", json::object{}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "message"), e.message);
    e = failed(
        h->call("escalation", "evaluate", json::object{{"message", "hi"}, {"context", {{"failed_attempts", -1}}}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "failed_attempts"), e.message);
    e = failed(h->call("escalation", "evaluate",
                       json::object{{"message", "hi"}, {"context", {{"retrieval_confidence", 1.5}}}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "retrieval_confidence"), e.message);
    e = failed(h->call("escalation", "evaluate", json::object{{"message", 5}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "message"), e.message);
}

BOOST_AUTO_TEST_CASE(a_configuration_that_cannot_work_fails_start_up_naming_the_key) {
    escalation_env env;
    auto e = env.start_failure({{"keywords", json::array{"refund", "!!!"}}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "config/keywords/1"), e.message);
    e = env.start_failure(webhook("ftp://example.com/hook"));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "config/webhook/url"), e.message);
    e = env.start_failure(
        {{"webhook", {{"url", "http://127.0.0.1:1/"}, {"bearer_token_env", "TOOLHOST_TEST_SURELY_UNSET_VAR"}}}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "TOOLHOST_TEST_SURELY_UNSET_VAR"), e.message);
}

BOOST_AUTO_TEST_SUITE_END()

// ======================================================================================== tickets

BOOST_AUTO_TEST_SUITE(tickets)

BOOST_AUTO_TEST_CASE(a_ticket_reads_as_a_resource) {
    escalation_env env;
    auto h = env.start();
    auto r = ok(h->call("escalation", "read_ticket", json::object{{"uri", "escalation://tickets/1"}}));
    const auto& content = r.at("contents").at(0).as_object();
    BOOST_TEST(content.at("uri") == "escalation://tickets/1");
    const auto ticket = json::parse(content.at("text").as_string());
    BOOST_TEST(ticket.at("customer") == "C-1003");
    BOOST_TEST(ticket.at("history").as_array().size() == 2u);
    for (const char* uri : {"escalation://tickets/99", "escalation://tickets/0", "escalation://tickets/1x",
                            "escalation://tickets/", "escalation://tickets/99999999999999999999"}) {
        auto e = failed(h->call("escalation", "read_ticket", json::object{{"uri", uri}}));
        BOOST_TEST((e.code == status_code::not_found), uri << ": " << e.message);
    }
    const auto* op = h->find("escalation")->descriptor().find_operation("read_ticket");
    BOOST_TEST_REQUIRE(op != nullptr);
    BOOST_TEST((op->role == toolhost::operation_role::resource_read));
}

BOOST_AUTO_TEST_CASE(bad_ticket_input_names_the_field) {
    escalation_env env;
    auto h = env.start({{"sample_data", false}});
    auto e = failed(h->call("escalation", "create_ticket", json::object{{"customer", "C-1"}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "subject"), e.message);
    e = failed(h->call("escalation", "create_ticket", json::object{{"customer", "  "}, {"subject", "x"}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(e.message == "customer: must not be blank");
    e = failed(h->call("escalation", "create_ticket",
                       json::object{{"customer", "C"}, {"subject", "x"}, {"priority", "asap"}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "priority"), e.message);
    e = failed(h->call("escalation", "list_tickets", json::object{{"limit", 0}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "limit"), e.message);
    e = failed(h->call("escalation", "update_status", json::object{{"id", 1}, {"status", "done"}}));
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "status"), e.message);
    BOOST_TEST(ticket_count(*h) == 0);
}

BOOST_AUTO_TEST_CASE(a_locked_database_is_unavailable_and_loses_nothing) {
    escalation_env env;
    auto h = env.start({{"sample_data", false}, {"busy_timeout_ms", 50}}, no_retries());
    ok(h->call("escalation", "create_ticket", new_ticket("kept")));

    // Another process holds the write lock.
    sqlite3* other = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open(env.database().c_str(), &other) == SQLITE_OK);
    BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    auto e = failed(h->call("escalation", "create_ticket", new_ticket("blocked"), with_request_id("blocked-1")));
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    e = failed(h->call("escalation", "update_status", json::object{{"id", 1}, {"status", "closed"}}));
    BOOST_TEST((e.code == status_code::unavailable), e.to_string());
    BOOST_TEST(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);

    BOOST_TEST(ticket_count(*h) == 1);  // the failed create left nothing behind
    auto kept = ok(h->call("escalation", "get_ticket", json::object{{"id", 1}})).at("ticket");
    BOOST_TEST(kept.at("status") == "open");
    BOOST_TEST(kept.at("history").as_array().size() == 1u);
    // The same request now succeeds, once.
    ok(h->call("escalation", "create_ticket", new_ticket("blocked"), with_request_id("blocked-1")));
    ok(h->call("escalation", "create_ticket", new_ticket("blocked"), with_request_id("blocked-1")));
    BOOST_TEST(ticket_count(*h) == 2);
}

BOOST_AUTO_TEST_CASE(a_corrupt_database_fails_start_up_as_data_loss) {
    escalation_env env;
    fs::create_directories(env.database().parent_path());
    toolhost::test::write_file(env.database(), std::string(4096, 'x'));
    auto e = env.start_failure({});
    BOOST_TEST((e.code == status_code::data_loss), e.to_string());
    BOOST_TEST(contains(e.message, "tickets.db"), e.message);
    BOOST_TEST(toolhost::test::read_file(env.database()) == std::string(4096, 'x'));  // left as it was
}

BOOST_AUTO_TEST_SUITE_END()

// ======================================================================================== webhook

BOOST_AUTO_TEST_SUITE(notification_webhook)

BOOST_AUTO_TEST_CASE(delivers_the_ticket_json_with_its_headers) {
    http_server server([](const http_request&) { return http_response::json(202, {{"received", true}}); });
    escalation_env env;
    auto h = env.start(webhook(server.url() + "/hooks/tickets", {{"bearer_token", "hook-secret"}}));
    call_options o;
    o.request_id = "req-42";
    o.session_id = "sess-42";
    o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    auto r = ok(h->call("escalation", "create_ticket", new_ticket(), o));
    const auto& t = r.at("ticket");
    BOOST_TEST(t.at("notification").at("state") == "delivered");
    BOOST_TEST(t.at("notification").at("attempts").as_int64() == 1);
    BOOST_TEST(t.at("notification").at("last_error").is_null());
    BOOST_TEST(t.at("notification").at("delivered_at").is_string());

    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    const auto& req = seen[0];
    BOOST_TEST(req.method == "POST");
    BOOST_TEST(req.target == "/hooks/tickets");
    BOOST_TEST(req.header("Authorization").value_or("") == "Bearer hook-secret");
    BOOST_TEST(req.header("Content-Type").value_or("") == "application/json");
    BOOST_TEST(req.header("traceparent").value_or("") == o.traceparent);
    BOOST_TEST(req.header("Idempotency-Key").value_or("") == "ticket-1-created");
    auto body = req.json().as_object();
    BOOST_TEST(body.at("event") == "ticket.created");
    const auto& sent = body.at("ticket").as_object();
    BOOST_TEST(sent.at("id").as_int64() == 1);
    BOOST_TEST(sent.at("customer") == "C-1003");
    BOOST_TEST(sent.at("subject") == "Refund for a double charge");
    BOOST_TEST(sent.at("priority") == "high");
    BOOST_TEST(sent.at("status") == "open");
    BOOST_TEST(sent.at("session_id") == "sess-42");
    BOOST_TEST(sent.at("idempotency_key") == "req-42");
    BOOST_TEST(!sent.contains("notification"));

    // Repeating the call returns the ticket without sending it again.
    auto again = ok(h->call("escalation", "create_ticket", new_ticket(), o));
    BOOST_TEST(!again.at("created").as_bool());
    BOOST_TEST(server.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(a_500_then_success_through_the_host_retries) {
    std::atomic<int> calls{0};
    http_server server([&](const http_request&) {
        if (calls++ == 0) return http_response::json(500, {{"error", "database hiccup"}});
        return http_response::json(200, {{"ok", true}});
    });
    escalation_env env;
    auto h = env.start(webhook(server.url() + "/hook"),
                       {{"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 1}, {"max_backoff_ms", 2}}}});
    auto r = ok(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-retry")));
    BOOST_TEST(!r.at("created").as_bool());  // the second attempt found the ticket of the first
    BOOST_TEST(r.at("ticket").at("notification").at("state") == "delivered");
    BOOST_TEST(r.at("ticket").at("notification").at("attempts").as_int64() == 2);

    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].json() == seen[1].json());  // the same ticket, twice
    BOOST_TEST(seen[0].header("Idempotency-Key").value_or("a") == seen[1].header("Idempotency-Key").value_or("b"));
    BOOST_TEST(ticket_count(*h) == 1);
}

BOOST_AUTO_TEST_CASE(a_failing_webhook_is_unavailable_with_retry_after_and_the_ticket_stays) {
    http_server server([](const http_request&) {
        auto res = http_response::json(503, {{"error", {{"message", "maintenance"}}}});
        res.headers.emplace_back("Retry-After", "7");
        return res;
    });
    escalation_env env;
    auto h = env.start(webhook(server.url() + "/hook"), no_retries());
    auto e = failed(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-503")));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "ticket 1 is stored"), e.message);
    BOOST_TEST(contains(e.message, "HTTP 503"), e.message);
    BOOST_TEST(contains(e.message, "maintenance"), e.message);
    BOOST_TEST_REQUIRE(e.retry_after.has_value());
    BOOST_TEST(e.retry_after->count() == 7000);

    auto t = ok(h->call("escalation", "get_ticket", json::object{{"id", 1}})).at("ticket");
    BOOST_TEST(t.at("notification").at("state") == "pending");
    BOOST_TEST(t.at("notification").at("attempts").as_int64() == 1);
    BOOST_TEST(contains(t.at("notification").at("last_error").as_string(), "HTTP 503"));
}

BOOST_AUTO_TEST_CASE(a_client_error_from_the_webhook_is_unavailable_too) {
    http_server server([](const http_request&) { return http_response::json(401, {{"error", "bad token"}}); });
    escalation_env env;
    auto h = env.start(webhook(server.url() + "/hook"), no_retries());
    auto e = failed(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-401")));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "HTTP 401"), e.message);
    BOOST_TEST(contains(e.message, "bad token"), e.message);
}

BOOST_AUTO_TEST_CASE(a_webhook_timeout_keeps_the_notification_pending_until_a_retry_delivers_it) {
    auto held = std::make_shared<gate>();
    std::atomic<bool> hold_next{true};
    http_server server([&](const http_request&) {
        auto res = http_response::json(200, {{"ok", true}});
        if (hold_next.exchange(false)) res.hold = held;  // only the first request hangs
        return res;
    });
    escalation_env env;
    auto h = env.start(webhook(server.url() + "/hook", {{"timeout_ms", 200}}), no_retries());
    auto e = failed(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-slow")));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "timed out after 200 ms"), e.message);
    auto t = ok(h->call("escalation", "get_ticket", json::object{{"id", 1}})).at("ticket");
    BOOST_TEST(t.at("notification").at("state") == "pending");
    BOOST_TEST(contains(t.at("notification").at("last_error").as_string(), "timed out"));
    held->open();

    // The caller repeats the request: the same ticket, delivered now.
    auto r = ok(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-slow")));
    BOOST_TEST(!r.at("created").as_bool());
    BOOST_TEST(r.at("ticket").at("id").as_int64() == 1);
    BOOST_TEST(r.at("ticket").at("notification").at("state") == "delivered");
    BOOST_TEST(r.at("ticket").at("notification").at("attempts").as_int64() == 2);
    BOOST_TEST(server.request_count() == 2u);
    BOOST_TEST(ticket_count(*h) == 1);
}

BOOST_AUTO_TEST_CASE(an_unreachable_webhook_is_unavailable) {
    refused_port port;
    escalation_env env;
    auto h = env.start(webhook(port.url() + "/hook"), no_retries());
    auto e = failed(h->call("escalation", "create_ticket", new_ticket(), with_request_id("req-down")));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(contains(e.message, "cannot connect"), e.message);
    auto t = ok(h->call("escalation", "get_ticket", json::object{{"id", 1}})).at("ticket");
    BOOST_TEST(t.at("notification").at("state") == "pending");
    BOOST_TEST(t.at("subject") == "Refund for a double charge");  // the ticket itself is safe
}

BOOST_AUTO_TEST_CASE(without_a_key_the_hosts_retries_still_open_one_ticket) {
    refused_port port;
    escalation_env env;
    // Three attempts, no explicit key: the host's request id (the same for every attempt) is the
    // key, so each retry finds the ticket the first attempt stored and only retries the webhook.
    auto h = env.start(
        webhook(port.url() + "/hook"),
        json::object{{"retry", json::object{{"max_attempts", 3}, {"initial_backoff_ms", 1}, {"max_backoff_ms", 1}}}});
    auto e = failed(h->call("escalation", "create_ticket", new_ticket()));
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(ticket_count(*h) == 1);
    auto t = ok(h->call("escalation", "get_ticket", json::object{{"id", 1}})).at("ticket").as_object();
    BOOST_TEST(t.at("notification").at("state") == "pending");
    BOOST_TEST(t.at("notification").at("attempts").as_int64() == 3);
}

BOOST_AUTO_TEST_SUITE_END()

// The MCP engine (toolhost::mcp): lifecycle, tools/list and tools/call, progress, logging,
// cancellation, requests to the client, list_changed, naming; and `toolhost serve --stdio` as a
// real child process.
#define BOOST_TEST_MODULE mcp
#include <boost/test/unit_test.hpp>

#include "mcp_engine_support.hpp"

#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using toolhost::test::contains;
using toolhost::test::temp_dir;

using namespace toolhost::test::mcp_engine;

BOOST_AUTO_TEST_CASE(initialize_negotiates_the_revision_and_declares_tools_and_logging) {
    env e;
    for (auto [asked, got] : {std::pair{"2025-11-25", "2025-11-25"}, std::pair{"2025-06-18", "2025-06-18"},
                              std::pair{"2025-03-26", "2025-03-26"}, std::pair{"2024-11-05", "2025-11-25"},
                              std::pair{"2099-01-01", "2025-11-25"}}) {
        auto s = e.srv->open_session("x");
        auto r = result_of(
            env::request(*s, 1, "initialize", {{"protocolVersion", asked}, {"capabilities", json::object{}}}));
        BOOST_TEST(r.at("protocolVersion").as_string() == got);
        BOOST_TEST(r.at("capabilities").at("tools").at("listChanged").as_bool());
        BOOST_TEST(r.at("capabilities").as_object().contains("logging"));
        BOOST_TEST(r.at("serverInfo").at("name").as_string() == "toolhost");
        BOOST_TEST(!r.at("serverInfo").at("version").as_string().empty());
        BOOST_TEST(s->protocol_version() == got);
        // A second initialize on the same session is refused.
        BOOST_TEST(error_code_of(env::request(*s, 2, "initialize", {{"protocolVersion", asked}})) ==
                   mcp::invalid_request);
    }
    auto s = e.srv->open_session("y");
    BOOST_TEST(error_code_of(env::request(*s, 1, "initialize", {})) == mcp::invalid_params);
}

BOOST_AUTO_TEST_CASE(only_ping_works_before_initialize) {
    env e;
    auto s = e.srv->open_session("x");
    BOOST_TEST(result_of(env::request(*s, 1, "ping")).empty());
    auto r = env::request(*s, 2, "tools/list");
    BOOST_TEST(error_code_of(r) == mcp::invalid_request);
    BOOST_TEST(std::string(r.at("error").at("message").as_string()).find("initialize") != std::string::npos);
    // A stateless session needs no initialize.
    auto st = e.srv->stateless_session();
    BOOST_TEST(result_of(env::request(*st, 3, "tools/list")).at("tools").as_array().size() > 0u);
}

BOOST_AUTO_TEST_CASE(malformed_messages_get_json_rpc_errors) {
    env e;
    auto s = e.initialized();
    auto send_raw = [&](std::string_view text) {
        auto r = std::make_shared<recorder>();
        s->handle(text, r);
        return r->wait();
    };
    BOOST_TEST(error_code_of(send_raw("{not json")) == mcp::parse_error);
    BOOST_TEST(error_code_of(send_raw(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")) == mcp::invalid_request);
    BOOST_TEST(error_code_of(send_raw(R"({"id":1,"method":"ping"})")) == mcp::invalid_request);
    BOOST_TEST(error_code_of(send_raw(R"({"jsonrpc":"2.0","id":1,"method":7})")) == mcp::invalid_request);
    BOOST_TEST(error_code_of(send_raw(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})")) ==
               mcp::invalid_params);
    // A known method without what it needs.
    BOOST_TEST(error_code_of(send_raw(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe"})")) ==
               mcp::invalid_params);
    BOOST_TEST(error_code_of(send_raw(R"({"jsonrpc":"2.0","id":1,"method":"no/such"})")) == mcp::method_not_found);
    auto r = send_raw(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})");
    BOOST_TEST(r.at("id").as_string() == "abc");
    // Unknown notifications are ignored: no response at all.
    BOOST_TEST(send_raw(R"({"jsonrpc":"2.0","method":"notifications/whatever"})").is_null());
}

BOOST_AUTO_TEST_CASE(tools_list_shows_every_operation_with_schemas_and_annotations_in_pages) {
    mcp::server_options o;
    o.page_size = 3;
    env e(o);
    auto s = e.initialized();
    json::array all;
    json::value cursor;
    int pages = 0;
    do {
        json::object params;
        if (!cursor.is_null()) params["cursor"] = cursor;
        auto r = result_of(env::request(*s, 10 + pages, "tools/list", std::move(params)));
        const auto& tools = r.at("tools").as_array();
        BOOST_TEST(tools.size() <= 3u);
        for (const auto& t : tools) all.push_back(t);
        cursor = r.contains("nextCursor") ? r.at("nextCursor") : json::value();
        ++pages;
    } while (!cursor.is_null() && pages < 100);
    BOOST_TEST(all == e.srv->tools());
    BOOST_TEST(pages > 1);
    const json::object* echo = nullptr;
    for (const auto& t : all) {
        const std::string name(t.at("name").as_string());
        BOOST_TEST(name.size() <= 64u);
        BOOST_TEST(name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                   std::string::npos);
        BOOST_TEST(!t.at("description").as_string().empty());
        BOOST_TEST(t.at("inputSchema").at("type").as_string() == "object");
        if (name == "testkit_mt_echo") echo = &t.as_object();
    }
    BOOST_TEST_REQUIRE(echo != nullptr);
    BOOST_TEST(echo->at("annotations").at("readOnlyHint").as_bool());
    BOOST_TEST(echo->at("annotations").at("idempotentHint").as_bool());
    BOOST_TEST(!echo->at("annotations").at("destructiveHint").as_bool());
    BOOST_CHECK(e.srv->resolve("testkit_mt_echo") == (std::pair<std::string, std::string>{"testkit_mt", "echo"}));

    BOOST_TEST(error_code_of(env::request(*s, 99, "tools/list", {{"cursor", "bogus"}})) == mcp::invalid_params);
    BOOST_TEST(error_code_of(env::request(*s, 98, "tools/list", {{"cursor", "page:100000"}})) == mcp::invalid_params);

    // 2025-03-26 had no titles and no output schemas.
    auto old = e.initialized("2025-03-26");
    const auto listed = env::request(*old, 1, "tools/list");
    for (const auto& t : result_of(listed).at("tools").as_array()) {
        BOOST_TEST(!t.as_object().contains("title"));
        BOOST_TEST(!t.as_object().contains("outputSchema"));
    }
}

BOOST_AUTO_TEST_CASE(tools_call_returns_content_and_structured_content) {
    env e;
    auto s = e.initialized();
    auto r = result_of(env::request(*s, 1, "tools/call", call("testkit_mt_echo", {{"text", "hi"}})));
    BOOST_TEST(r.at("content").at(0).at("type").as_string() == "text");
    BOOST_TEST(json::parse(r.at("content").at(0).at("text").as_string()) == (json::object{{"text", "hi"}}));
    BOOST_TEST(r.at("structuredContent") == (json::object{{"text", "hi"}}));
    BOOST_TEST(!r.contains("isError"));
    // Missing arguments are an empty object.
    auto none = result_of(env::request(*s, 2, "tools/call", {{"name", "testkit_mt_context"}}));
    BOOST_TEST(none.at("structuredContent").at("session_id").as_string() == "s-1");

    auto old = e.initialized("2025-03-26");
    auto r2 = result_of(env::request(*old, 1, "tools/call", call("testkit_mt_echo", {{"text", "hi"}})));
    BOOST_TEST(!r2.contains("structuredContent"));
    BOOST_TEST(json::parse(r2.at("content").at(0).at("text").as_string()) == (json::object{{"text", "hi"}}));
}

BOOST_AUTO_TEST_CASE(tool_failures_are_is_error_results_and_protocol_problems_are_errors) {
    env e;
    auto s = e.initialized();
    auto failed = result_of(env::request(
        *s, 1, "tools/call", call("testkit_mt_fail_unsafe", {{"code", "NOT_FOUND"}, {"message", "no such customer"}})));
    BOOST_TEST(failed.at("isError").as_bool());
    BOOST_TEST(failed.at("content").at(0).at("text").as_string() == "NOT_FOUND: no such customer");
    BOOST_TEST(failed.at("_meta").at("toolhost/error").at("code").as_string() == "NOT_FOUND");

    // Argument validation is the tool's failure too (the model can correct itself).
    auto invalid = result_of(env::request(*s, 2, "tools/call", call("testkit_mt_sleep", {{"ms", "soon"}})));
    BOOST_TEST(invalid.at("isError").as_bool());
    BOOST_TEST(std::string(invalid.at("content").at(0).at("text").as_string()).starts_with("INVALID_ARGUMENT: "));

    BOOST_TEST(error_code_of(env::request(*s, 3, "tools/call", call("no_such_tool", {}))) == mcp::invalid_params);
    BOOST_TEST(error_code_of(env::request(*s, 4, "tools/call", {{"arguments", json::object{}}})) ==
               mcp::invalid_params);
    BOOST_TEST(error_code_of(env::request(*s, 5, "tools/call", {{"name", "testkit_mt_echo"}, {"arguments", 3}})) ==
               mcp::invalid_params);
}

BOOST_AUTO_TEST_CASE(progress_notifications_come_only_with_a_progress_token) {
    env e;
    auto s = e.initialized();
    auto r = std::make_shared<recorder>();
    s->handle(json::serialize(json::object{{"jsonrpc", "2.0"},
                                           {"id", 1},
                                           {"method", "tools/call"},
                                           {"params",
                                            {{"name", "testkit_mt_progress"},
                                             {"arguments", {{"steps", 3}}},
                                             {"_meta", {{"progressToken", "tok-1"}}}}}}),
              r);
    auto response = r->wait();
    BOOST_TEST(result_of(response).at("structuredContent").at("steps").to_number<int>() == 3);
    auto sent = r->all_sent();
    BOOST_TEST_REQUIRE(sent.size() == 3u);
    for (int i = 0; i < 3; ++i) {
        BOOST_TEST(sent[i].at("method").as_string() == "notifications/progress");
        BOOST_TEST(sent[i].at("params").at("progressToken").as_string() == "tok-1");
        BOOST_TEST(sent[i].at("params").at("progress").to_number<double>() == i + 1);
        BOOST_TEST(sent[i].at("params").at("total").to_number<double>() == 3);
        BOOST_TEST(sent[i].at("params").at("message").as_string() == "step " + std::to_string(i + 1));
    }
    auto quiet = std::make_shared<recorder>();
    s->handle(json::serialize(json::object{{"jsonrpc", "2.0"},
                                           {"id", 2},
                                           {"method", "tools/call"},
                                           {"params", call("testkit_mt_progress", {{"steps", 3}})}}),
              quiet);
    quiet->wait();
    BOOST_TEST(quiet->all_sent().empty());
}

BOOST_AUTO_TEST_CASE(log_messages_of_a_call_reach_the_client_at_its_level) {
    env e;
    auto s = e.initialized();
    auto log_call = [&](int id, std::string_view level) {
        auto r = std::make_shared<recorder>();
        s->handle(
            json::serialize(json::object{{"jsonrpc", "2.0"},
                                         {"id", id},
                                         {"method", "tools/call"},
                                         {"params", call("testkit_mt_log", {{"level", level}, {"message", "note"}})}}),
            r);
        r->wait();
        return r->all_sent();
    };
    // Default: info and above.
    BOOST_TEST(log_call(1, "debug").empty());
    auto info = log_call(2, "info");
    BOOST_TEST_REQUIRE(info.size() == 1u);
    BOOST_TEST(info[0].at("method").as_string() == "notifications/message");
    BOOST_TEST(info[0].at("params").at("level").as_string() == "info");
    BOOST_TEST(info[0].at("params").at("logger").as_string() == "testkit_mt.log");
    BOOST_TEST(info[0].at("params").at("data").as_string() == "note");

    BOOST_TEST(result_of(env::request(*s, 3, "logging/setLevel", {{"level", "debug"}})).empty());
    auto trace = log_call(4, "trace");
    BOOST_TEST_REQUIRE(trace.size() == 1u);
    BOOST_TEST(trace[0].at("params").at("level").as_string() == "debug");
    BOOST_TEST(result_of(env::request(*s, 5, "logging/setLevel", {{"level", "error"}})).empty());
    BOOST_TEST(log_call(6, "warning").empty());
    BOOST_TEST(log_call(7, "error").size() == 1u);
    BOOST_TEST(error_code_of(env::request(*s, 8, "logging/setLevel", {{"level", "loud"}})) == mcp::invalid_params);
}

BOOST_AUTO_TEST_CASE(notifications_cancelled_cancels_the_call_and_it_gets_no_response) {
    env e;
    auto s = e.initialized();
    auto r = std::make_shared<recorder>();
    s->handle(json::serialize(json::object{{"jsonrpc", "2.0"},
                                           {"id", "c-7"},
                                           {"method", "tools/call"},
                                           {"params", call("testkit_mt_wait_cancel", {})}}),
              r);
    BOOST_TEST(s->in_flight() == 1u);
    auto n = std::make_shared<recorder>();
    s->handle(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"c-7","reason":"user"}})",
              n);
    BOOST_TEST(n->wait().is_null());
    BOOST_TEST(r->wait().is_null());
    BOOST_TEST(s->in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(closing_a_session_cancels_its_calls) {
    env e;
    auto s = e.initialized();
    auto r = std::make_shared<recorder>();
    s->handle(
        json::serialize(json::object{
            {"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"}, {"params", call("testkit_mt_wait_cancel", {})}}),
        r);
    s->close();
    BOOST_TEST(r->wait().is_null());
    BOOST_TEST(s->closed());
    BOOST_TEST(error_code_of(env::request(*s, 2, "tools/list")) == mcp::invalid_request);
}

BOOST_AUTO_TEST_CASE(a_tool_can_ask_the_client_and_gets_its_answer) {
    env e;
    auto s = e.initialized("2025-11-25", {{"sampling", json::object{}}});
    auto r = std::make_shared<recorder>();
    const json::object params{
        {"messages", json::array{{{"role", "user"}, {"content", {{"type", "text"}, {"text", "hi"}}}}}},
        {"maxTokens", 10}};
    s->handle(
        json::serialize(json::object{
            {"jsonrpc", "2.0"},
            {"id", 1},
            {"method", "tools/call"},
            {"params", call("testkit_mt_ask_client", {{"method", "sampling/createMessage"}, {"params", params}})}}),
        r);
    auto request = r->sent(0);
    BOOST_TEST(request.at("method").as_string() == "sampling/createMessage");
    BOOST_TEST(request.at("params") == params);
    BOOST_TEST(!r->finished());
    // The client answers on the session (over HTTP: another POST).
    auto ack = std::make_shared<recorder>();
    s->handle(json::serialize(json::object{
                  {"jsonrpc", "2.0"},
                  {"id", request.at("id")},
                  {"result", {{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "hello"}}}}}}),
              ack);
    BOOST_TEST(ack->wait().is_null());
    auto out = result_of(r->wait()).at("structuredContent");
    BOOST_TEST(out.at("status").to_number<int>() == 0);
    BOOST_TEST(out.at("result").at("content").at("text").as_string() == "hello");

    // An error answer is UNAVAILABLE naming the client's error.
    auto r2 = std::make_shared<recorder>();
    s->handle(json::serialize(
                  json::object{{"jsonrpc", "2.0"},
                               {"id", 2},
                               {"method", "tools/call"},
                               {"params", call("testkit_mt_ask_client", {{"method", "sampling/createMessage"}})}}),
              r2);
    auto req2 = r2->sent(0);
    env::ask(*s,
             json::object{
                 {"jsonrpc", "2.0"}, {"id", req2.at("id")}, {"error", {{"code", -1}, {"message", "user declined"}}}});
    auto out2 = result_of(r2->wait()).at("structuredContent");
    BOOST_TEST(out2.at("status").to_number<int>() == static_cast<int>(status_code::unavailable));
    BOOST_TEST(std::string(out2.at("error").as_string()).find("user declined") != std::string::npos);

    // Without the capability the tool learns why at once.
    auto r3 = std::make_shared<recorder>();
    s->handle(
        json::serialize(json::object{{"jsonrpc", "2.0"},
                                     {"id", 3},
                                     {"method", "tools/call"},
                                     {"params", call("testkit_mt_ask_client", {{"method", "elicitation/create"}})}}),
        r3);
    auto out3 = result_of(r3->wait()).at("structuredContent");
    BOOST_TEST(out3.at("status").to_number<int>() == static_cast<int>(status_code::failed_precondition));
    BOOST_TEST(std::string(out3.at("error").as_string()).find("'elicitation' capability") != std::string::npos);
    BOOST_TEST(r3->all_sent().empty());
}

// A client's answer the tool cannot use fails the tool's request with what is wrong with it,
// at once, instead of half read (or never, for the probe's ids above INT64_MAX).
BOOST_AUTO_TEST_CASE(a_malformed_answer_of_the_client_fails_the_tools_request_with_what_is_wrong) {
    env e;
    auto s = e.initialized("2025-11-25", {{"sampling", json::object{}}});
    auto ask = [&](int id, std::string_view answer_tail) {
        auto r = std::make_shared<recorder>();
        s->handle(json::serialize(
                      json::object{{"jsonrpc", "2.0"},
                                   {"id", id},
                                   {"method", "tools/call"},
                                   {"params", call("testkit_mt_ask_client", {{"method", "sampling/createMessage"}})}}),
                  r);
        const auto request_id = json::serialize(r->sent(0).at("id"));
        // Responses that match no request are ignored; then the answer itself.
        auto none = std::make_shared<recorder>();
        s->handle(R"({"jsonrpc":"2.0","id":18446744073709551615,"result":{}})", none);
        BOOST_TEST(none->wait().is_null());
        auto ack = std::make_shared<recorder>();
        s->handle(R"({"jsonrpc":"2.0","id":)" + request_id + std::string(answer_tail), ack);
        BOOST_TEST(ack->wait().is_null());
        return result_of(r->wait()).at("structuredContent");
    };
    auto both = ask(1, R"(,"result":{"role":"assistant"},"error":{"code":1,"message":"no"}})");
    BOOST_TEST(both.at("status").to_number<int>() == static_cast<int>(status_code::unavailable));
    BOOST_TEST(contains(both.at("error").as_string(), R"(the response has both "result" and "error")"), both);

    auto not_object = ask(2, R"(,"error":"declined"})");
    BOOST_TEST(contains(not_object.at("error").as_string(), R"(has an "error" that is not an object)"), not_object);

    auto infinite = ask(3, R"(,"result":{"role":"assistant","score":[0,1e309]}})");
    BOOST_TEST(infinite.at("status").to_number<int>() == static_cast<int>(status_code::invalid_argument));
    BOOST_TEST(contains(infinite.at("error").as_string(),
                        "the MCP client answered sampling/createMessage with /score/1: number out of range"),
               infinite);
}

BOOST_AUTO_TEST_CASE(calls_from_outside_mcp_have_no_client_to_ask) {
    env e;
    auto r = e.h->call("testkit_mt", "ask_client", json::object{{"method", "roots/list"}});
    BOOST_TEST_REQUIRE(r.has_value());
    auto out = json::parse(*r);
    BOOST_TEST(out.at("status").to_number<int>() == static_cast<int>(status_code::failed_precondition));
    BOOST_TEST(std::string(out.at("error").as_string()).find("no client") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tool_leaving_tells_sessions_the_list_changed) {
    env e;
    auto s = e.initialized();
    auto events = std::make_shared<stream>();
    s->set_standalone(events);
    const auto before = e.srv->tools().size();
    BOOST_TEST(e.h->unregister("testkit"));
    auto got = events->take();
    BOOST_TEST_REQUIRE(got.size() >= 1u);
    BOOST_TEST(got[0].at("method").as_string() == "notifications/tools/list_changed");
    auto tools = result_of(env::request(*s, 1, "tools/list")).at("tools").as_array();
    BOOST_TEST(tools.size() < before);
    for (const auto& t : tools) {
        const std::string name(t.at("name").as_string());
        BOOST_TEST((!name.starts_with("testkit_") || name.starts_with("testkit_mt_")), name);
    }
    // No change, no notification.
    e.srv->refresh();
    BOOST_TEST(events->take().empty());
}

BOOST_AUTO_TEST_CASE(a_plugin_dropped_into_the_folder_is_served_and_announced) {
    env e;
    auto s = e.initialized();
    auto events = std::make_shared<stream>();
    s->set_standalone(events);
    BOOST_TEST(!e.h->sync_plugins().changed());
    BOOST_TEST(events->take().empty());
    toolhost::test::copy_into(fs::path(TOOLHOST_TEST_PLUGIN_DIR) / "echo.so", e.dir / "plugins", "echo.so");
    BOOST_TEST(e.h->sync_plugins().added == std::vector<std::string>{"echo"});
    auto got = events->take();
    BOOST_TEST_REQUIRE(!got.empty());
    BOOST_TEST(got.back().at("method").as_string() == "notifications/tools/list_changed");
    auto r = result_of(env::request(*s, 1, "tools/call", call("echo_echo", {{"hello", "world"}})));
    BOOST_TEST(r.at("structuredContent") == (json::object{{"hello", "world"}}));
    // Nothing new: nothing loaded again.
    BOOST_TEST(!e.h->sync_plugins().changed());
    BOOST_TEST(events->take().empty());

    // Replaced by a new build: the same listing, so no announcement, and calls go on.
    toolhost::test::deploy(fs::path(TOOLHOST_TEST_PLUGIN_DIR) / "echo.so", e.dir / "plugins", "echo.so");
    BOOST_TEST(e.h->sync_plugins().replaced == std::vector<std::string>{"echo"});
    r = result_of(env::request(*s, 2, "tools/call", call("echo_echo", {{"again", true}})));
    BOOST_TEST(r.at("structuredContent") == (json::object{{"again", true}}));

    // Removed: announced at once, and gone from the list.
    fs::remove(e.dir / "plugins" / "echo.so");
    BOOST_TEST(e.h->sync_plugins().removed == std::vector<std::string>{"echo"});
    got = events->take();
    BOOST_TEST_REQUIRE(!got.empty());
    BOOST_TEST(got.back().at("method").as_string() == "notifications/tools/list_changed");
    const auto listed = result_of(env::request(*s, 3, "tools/list"));
    for (const auto& t : listed.at("tools").as_array()) BOOST_TEST(t.at("name").as_string() != "echo_echo");
}

BOOST_AUTO_TEST_CASE(names_follow_the_template_and_stay_valid_and_unique) {
    BOOST_TEST(mcp::apply_name_template("{tool}_{operation}", "crm", "get_customer") == "crm_get_customer");
    BOOST_TEST(mcp::apply_name_template("{tool}.{operation}", "crm", "get") == "crm_get");
    BOOST_TEST(mcp::apply_name_template("x {operation}!", "crm", "get") == "x_get_");

    mcp::server_options same;
    same.tool_name = "{operation}";  // testkit and testkit_mt have the same operations
    env e(same);
    BOOST_TEST(!e.srv->naming_problems().empty());
    BOOST_TEST(e.srv->naming_problems()[0].find("is taken by") != std::string::npos);
    BOOST_TEST(e.srv->resolve("echo").has_value());

    mcp::server_options longer;
    longer.tool_name = "a_very_long_prefix_that_makes_every_name_longer_than_sixty_four_{tool}_{operation}";
    env l(longer);
    BOOST_TEST(l.srv->naming_problems().empty());
    std::set<std::string> names;
    for (const auto& t : l.srv->tools()) {
        std::string n(t.at("name").as_string());
        BOOST_TEST(n.size() == 64u);
        names.insert(n);
    }
    BOOST_TEST(names.size() == l.srv->tools().size());
}

// ----------------------------------------------------------------------------- serve --stdio

BOOST_AUTO_TEST_CASE(serve_stdio_speaks_json_rpc_lines_and_keeps_plugin_output_off_stdout) {
    temp_dir dir;
    auto plugins = dir / "plugins";
    fs::create_directory(plugins);
    toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    std::string input;
    auto line = [&](const json::value& v) { input += json::serialize(v) + "\n"; };
    line(json::object{{"jsonrpc", "2.0"},
                      {"id", 1},
                      {"method", "initialize"},
                      {"params",
                       {{"protocolVersion", "2025-06-18"},
                        {"capabilities", json::object{}},
                        {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
    line(json::object{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    line(json::object{{"jsonrpc", "2.0"},
                      {"id", 2},
                      {"method", "tools/call"},
                      {"params", call("testkit_mt_print", {{"text", "PLUGIN NOISE"}})}});
    line(json::object{
        {"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"}, {"params", call("testkit_mt_sleep", {{"ms", 200}})}});
    input += "\r\n{broken\n";
    toolhost::test::write_file(dir / "toolhost.json", R"({"log_level": "info", "data_dir": "var"})");
    auto r = toolhost::test::run_process({TOOLHOST_TEST_EXE, "--no-default-plugins", "--plugin-dir", plugins.string(),
                                          "--config", (dir / "toolhost.json").string(), "serve", "--stdio"},
                                         input);
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("PLUGIN NOISE") != std::string::npos);
    std::map<int64_t, json::value> by_id;
    json::value parse_error;
    std::istringstream out(r.out);
    for (std::string l; std::getline(out, l);) {
        boost::system::error_code ec;
        auto v = json::parse(l, ec);
        BOOST_TEST_REQUIRE(!ec, "stdout carries only JSON-RPC lines, got: " + l);
        BOOST_TEST(v.at("jsonrpc").as_string() == "2.0");
        if (v.at("id").is_null())
            parse_error = v;
        else
            by_id[v.at("id").to_number<int64_t>()] = v;
    }
    BOOST_TEST(by_id.size() == 3u);
    BOOST_TEST(result_of(by_id[1]).at("protocolVersion").as_string() == "2025-06-18");
    BOOST_TEST(!result_of(by_id[2]).contains("isError"));
    // The call in flight at end of input finished before the host exited.
    BOOST_TEST(result_of(by_id[3]).at("structuredContent").at("slept_ms").to_number<int>() == 200);
    BOOST_TEST(error_code_of(parse_error) == mcp::parse_error);
}

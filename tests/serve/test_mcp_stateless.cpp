// The MCP engine's stateless era (revision 2026-07-28): requests that carry their revision, the
// client's capabilities and log level in _meta, answered without a handshake on any session,
// beside 2025 sessions; server/discover; the revision's errors.
#define BOOST_TEST_MODULE mcp_stateless
#include <boost/test/unit_test.hpp>

#include "mcp_engine_support.hpp"

namespace json = boost::json;
using namespace toolhost;
using namespace toolhost::test::mcp_engine;

namespace {

json::object meta(std::string_view version = "2026-07-28", json::object capabilities = {}) {
    return {{"io.modelcontextprotocol/protocolVersion", version},
            {"io.modelcontextprotocol/clientCapabilities", std::move(capabilities)},
            {"io.modelcontextprotocol/clientInfo", {{"name", "test"}, {"version", "1"}}}};
}

json::object with_meta(json::object params, json::object m = meta()) {
    params["_meta"] = std::move(m);
    return params;
}

const json::object& server_info_of(const json::object& result) {
    return result.at("_meta").at("io.modelcontextprotocol/serverInfo").as_object();
}

}  // namespace

BOOST_AUTO_TEST_CASE(discover_names_every_revision_and_the_server_without_a_handshake) {
    env e;
    auto s = e.srv->open_session("");  // as stdio: nothing initialized
    auto r = result_of(env::request(*s, 1, "server/discover", with_meta({})));
    BOOST_TEST(json::serialize(r.at("supportedVersions")) ==
               R"(["2026-07-28","2025-11-25","2025-06-18","2025-03-26"])");
    BOOST_TEST(r.at("capabilities").as_object().contains("tools"));
    BOOST_TEST(r.at("resultType").as_string() == "complete");
    BOOST_TEST(server_info_of(r).at("name").as_string() == "toolhost");
    BOOST_TEST(r.at("ttlMs").as_int64() == 0);
    BOOST_TEST(r.at("cacheScope").as_string() == "private");
    // The session itself stays uninitialized: a 2025 request still needs initialize first.
    BOOST_TEST(!s->initialized());
    BOOST_TEST(error_code_of(env::request(*s, 2, "tools/list")) == mcp::invalid_request);
}

BOOST_AUTO_TEST_CASE(tools_list_and_call_answer_in_the_revision_of_each_request) {
    mcp::server_options o;
    o.list_ttl = std::chrono::milliseconds(30000);
    o.list_cache_scope = "public";
    env e(o);
    auto s = e.initialized("2025-03-26");  // a 2025 session, no structured output
    auto list = result_of(env::request(*s, 1, "tools/list", with_meta({})));
    BOOST_TEST(list.at("resultType").as_string() == "complete");
    BOOST_TEST(list.at("ttlMs").as_int64() == 30000);
    BOOST_TEST(list.at("cacheScope").as_string() == "public");
    // 2026-07-28's listing (titles), not the session's 2025-03-26 one.
    for (const auto& t : list.at("tools").as_array()) BOOST_TEST(t.as_object().contains("title"));
    const auto session_list = result_of(env::request(*s, 9, "tools/list"));
    for (const auto& t : session_list.at("tools").as_array()) BOOST_TEST(!t.as_object().contains("title"));

    auto called = result_of(env::request(*s, 2, "tools/call", with_meta(call("testkit_mt_echo", {{"text", "hi"}}))));
    BOOST_TEST(json::serialize(called.at("structuredContent")) == R"({"text":"hi"})");
    BOOST_TEST(called.at("resultType").as_string() == "complete");
    BOOST_TEST(server_info_of(called).at("name").as_string() == "toolhost");
    // A tool's failure is a complete result too.
    auto failed = result_of(env::request(
        *s, 3, "tools/call",
        with_meta(call("testkit_mt_fail_unsafe", {{"code", "NOT_FOUND"}, {"message", "no such customer"}}))));
    BOOST_TEST(failed.at("isError").as_bool());
    BOOST_TEST(failed.at("resultType").as_string() == "complete");

    // The session's own requests are still answered in its revision, without the new members.
    auto legacy = result_of(env::request(*s, 4, "tools/call", call("testkit_mt_echo", {{"text", "hi"}})));
    BOOST_TEST(!legacy.contains("structuredContent"));
    BOOST_TEST(!legacy.contains("resultType"));
}

BOOST_AUTO_TEST_CASE(the_revision_errors_name_what_is_wrong) {
    env e;
    auto s = e.srv->open_session("");
    auto r = env::request(*s, 1, "tools/list", with_meta({}, meta("2099-01-01")));
    BOOST_TEST(error_code_of(r) == mcp::unsupported_protocol_version);
    BOOST_TEST(r.at("error").at("data").at("requested").as_string() == "2099-01-01");
    BOOST_TEST(json::serialize(r.at("error").at("data").at("supported")).starts_with(R"(["2026-07-28",)"));
    // A 2025 revision is not one a request can name in _meta: those need initialize.
    BOOST_TEST(error_code_of(env::request(*s, 2, "tools/list", with_meta({}, meta("2025-11-25")))) ==
               mcp::unsupported_protocol_version);
    // server/discover is of the stateless era only: without _meta it is refused the same way.
    BOOST_TEST(error_code_of(env::request(*s, 3, "server/discover")) == mcp::unsupported_protocol_version);

    json::object no_caps{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}};
    r = env::request(*s, 4, "tools/list", with_meta({}, no_caps));
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(r.at("error").at("data").at("envelope").at("key").as_string() ==
               "io.modelcontextprotocol/clientCapabilities");

    auto bad_level = meta();
    bad_level["io.modelcontextprotocol/logLevel"] = "loud";
    BOOST_TEST(error_code_of(env::request(*s, 5, "tools/list", with_meta({}, bad_level))) == mcp::invalid_params);

    // What the revision removed, and what it never had.
    for (const char* gone : {"ping", "logging/setLevel", "initialize", "no/such"})
        BOOST_TEST(error_code_of(env::request(*s, 6, gone, with_meta({}))) == mcp::method_not_found, gone);
}

BOOST_AUTO_TEST_CASE(log_messages_come_only_at_the_level_a_request_asks_for) {
    env e;
    auto s = e.srv->open_session("");
    auto log_call = [&](int id, std::string_view level, std::optional<std::string_view> wanted) {
        auto m = meta();
        if (wanted) m["io.modelcontextprotocol/logLevel"] = *wanted;
        auto r = std::make_shared<recorder>();
        s->handle(json::serialize(json::object{
                      {"jsonrpc", "2.0"},
                      {"id", id},
                      {"method", "tools/call"},
                      {"params", with_meta(call("testkit_mt_log", {{"level", level}, {"message", "note"}}), m)}}),
                  r);
        result_of(r->wait());
        return r->all_sent();
    };
    BOOST_TEST(log_call(1, "error", std::nullopt).empty());  // no logLevel: no notifications/message
    BOOST_TEST(log_call(2, "info", "warning").empty());
    auto sent = log_call(3, "info", "debug");
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    BOOST_TEST(sent[0].at("method").as_string() == "notifications/message");
    BOOST_TEST(sent[0].at("params").at("data").as_string() == "note");
}

// A tool that asks the client (ask_client) ends a 2026-07-28 call with input_required; the
// client's retry with inputResponses and the requestState gets the tool's result.
BOOST_AUTO_TEST_CASE(a_tool_asks_a_2026_client_through_input_required_and_a_retry) {
    env e;
    auto s = e.srv->open_session("");
    const json::object question{
        {"message", "What is your name?"},
        {"requestedSchema", {{"type", "object"}, {"properties", {{"name", {{"type", "string"}}}}}}}};
    const json::object arguments{{"method", "elicitation/create"}, {"params", question}};
    const auto caps = json::object{{"elicitation", json::object{}}};

    auto first = result_of(env::request(*s, 1, "tools/call",
                                        with_meta(call("testkit_mt_ask_client", arguments), meta("2026-07-28", caps))));
    BOOST_TEST(first.at("resultType").as_string() == "input_required");
    const auto& requests = first.at("inputRequests").as_object();
    BOOST_TEST_REQUIRE(requests.size() == 1u);
    const std::string key(requests.begin()->key());
    BOOST_TEST(requests.begin()->value().at("method").as_string() == "elicitation/create");
    BOOST_TEST(requests.begin()->value().at("params") == json::value(question));
    const json::value state = first.at("requestState");
    BOOST_TEST(state.is_string());
    BOOST_TEST(server_info_of(first).at("name").as_string() == "toolhost");

    // The retry: a new id, the same call, the answer and the state.
    const json::object answer{{"action", "accept"}, {"content", {{"name", "Ada"}}}};
    auto retry = call("testkit_mt_ask_client", arguments);
    retry["inputResponses"] = json::object{{key, answer}};
    retry["requestState"] = state;
    auto done = result_of(env::request(*s, 2, "tools/call", with_meta(retry, meta("2026-07-28", caps))));
    BOOST_TEST(done.at("resultType").as_string() == "complete");
    BOOST_TEST(done.at("structuredContent") == (json::object{{"status", 0}, {"result", answer}}));

    // The same question asked again later gets the same key: one answer serves every run.
    auto again = result_of(env::request(*s, 3, "tools/call",
                                        with_meta(call("testkit_mt_ask_client", arguments), meta("2026-07-28", caps))));
    BOOST_TEST(again.at("inputRequests").as_object().contains(key));

    // Without the capability, the request is refused for what it lacks.
    auto refused = env::request(*s, 4, "tools/call", with_meta(call("testkit_mt_ask_client", arguments)));
    BOOST_TEST(error_code_of(refused) == mcp::missing_required_client_capability);
    BOOST_TEST(refused.at("error").at("data").at("requiredCapabilities").as_object().contains("elicitation"));

    // A state that was tampered with, or that belongs to other arguments, is refused.
    auto forged = retry;
    std::string text(state.as_string());
    text[text.size() - 2] = text[text.size() - 2] == 'A' ? 'B' : 'A';
    forged["requestState"] = text;
    auto r = env::request(*s, 5, "tools/call", with_meta(forged, meta("2026-07-28", caps)));
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(r.at("error").at("data").at("reason").as_string() == "invalid_request_state");
    auto other = retry;
    other["arguments"].as_object()["params"].as_object()["message"] = "Something else?";
    r = env::request(*s, 6, "tools/call", with_meta(other, meta("2026-07-28", caps)));
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(std::string(r.at("error").at("message").as_string()).find("another call") != std::string::npos);
}

namespace {

// Opens subscriptions/listen `id` on `s`; the recorder gets the stream.
std::shared_ptr<recorder> listen(mcp::session& s, json::value id, json::object notifications) {
    auto r = std::make_shared<recorder>();
    s.handle(json::serialize(json::object{{"jsonrpc", "2.0"},
                                          {"id", std::move(id)},
                                          {"method", "subscriptions/listen"},
                                          {"params", with_meta({{"notifications", std::move(notifications)}})}}),
             r);
    return r;
}

json::value subscription_of(const json::value& message) {
    return message.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId");
}

void cancel(mcp::session& s, json::value id) {
    env::ask(s, json::object{{"jsonrpc", "2.0"},
                             {"method", "notifications/cancelled"},
                             {"params", {{"requestId", std::move(id)}, {"reason", "done"}}}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(listen_acknowledges_what_it_honours_then_tags_each_change_until_it_ends) {
    env e;
    auto s = e.srv->open_session("");
    auto discovered = result_of(env::request(*s, 1, "server/discover", with_meta({})));
    BOOST_TEST(discovered.at("capabilities").at("tools").at("listChanged").as_bool());

    // Updates of single resources are not sent: left out of the acknowledgement.
    auto tools = listen(*s, 7, {{"toolsListChanged", true}, {"resourceSubscriptions", json::array{"file:///x"}}});
    BOOST_TEST(tools->long_lived_called.load());
    const auto ack = tools->sent(0);
    BOOST_TEST(ack.at("method").as_string() == "notifications/subscriptions/acknowledged");
    BOOST_TEST(subscription_of(ack) == json::value(7));
    BOOST_TEST(json::serialize(ack.at("params").at("notifications")) == R"({"toolsListChanged":true})");
    auto quiet = listen(*s, "q", {{"toolsListChanged", false}});
    BOOST_TEST(json::serialize(quiet->sent(0).at("params").at("notifications")) == "{}");

    BOOST_TEST(e.h->unregister("testkit"));
    const auto change = tools->sent(1);
    BOOST_TEST(change.at("method").as_string() == "notifications/tools/list_changed");
    BOOST_TEST(subscription_of(change) == json::value(7));
    BOOST_TEST(!tools->finished());
    BOOST_TEST(quiet->all_sent().size() == 1u);  // only what it asked for: nothing

    // The client cancels one: it ends without a response; the other goes on.
    cancel(*s, "q");
    BOOST_TEST(quiet->wait().is_null());
    BOOST_TEST(!tools->finished());

    // The server ends the rest (the session closes): the graceful end, tagged too.
    s->close();
    const auto end = tools->wait();
    BOOST_TEST(end.at("id") == json::value(7));
    const auto& result = result_of(end);
    BOOST_TEST(result.at("resultType").as_string() == "complete");
    BOOST_TEST(result.at("_meta").at("io.modelcontextprotocol/subscriptionId") == json::value(7));
    BOOST_TEST(server_info_of(result).at("name").as_string() == "toolhost");
}

BOOST_AUTO_TEST_CASE(listen_refuses_a_bad_filter_a_reused_id_and_more_than_the_limit) {
    mcp::server_options o;
    o.max_subscriptions = 1;
    env e(o);
    auto s = e.srv->open_session("");
    auto refused = [&](json::value id, json::object params) {
        return env::ask(*s, json::object{{"jsonrpc", "2.0"},
                                         {"id", std::move(id)},
                                         {"method", "subscriptions/listen"},
                                         {"params", with_meta(std::move(params))}});
    };
    auto r = refused(1, {});
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(std::string(r.at("error").at("message").as_string()).find("\"notifications\" is required") !=
               std::string::npos);
    r = refused(2, {{"notifications", {{"toolsListChanged", "yes"}}}});
    BOOST_TEST(r.at("error").at("message").as_string() ==
               R"(invalid params: "notifications.toolsListChanged" must be a boolean, got "yes")");
    r = refused(3, {{"notifications", {{"resourceSubscriptions", json::array{1}}}}});
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);

    auto open = listen(*s, 4, {{"toolsListChanged", true}});
    BOOST_TEST(open->sent(0).at("method").as_string() == "notifications/subscriptions/acknowledged");
    r = listen(*s, 4, {{"toolsListChanged", true}})->wait();  // its id is taken while it is open
    BOOST_TEST(error_code_of(r) == mcp::invalid_request);
    auto other = e.srv->open_session("");  // the limit is the server's, over every client
    r = listen(*other, 5, {{"toolsListChanged", true}})->wait();
    BOOST_TEST(error_code_of(r) == mcp::internal_error);
    BOOST_TEST(r.at("error").at("message").as_string().starts_with("Subscription limit reached"));

    cancel(*s, 4);
    BOOST_TEST(open->wait().is_null());
    auto again = listen(*other, 5, {{"toolsListChanged", true}});
    BOOST_TEST(again->sent(0).at("method").as_string() == "notifications/subscriptions/acknowledged");
    other->close();
    BOOST_TEST(result_of(again->wait()).at("resultType").as_string() == "complete");
}

BOOST_AUTO_TEST_CASE(a_subscription_whose_client_is_gone_ends_at_the_next_change) {
    mcp::server_options o;
    o.max_subscriptions = 1;
    env e(o);
    auto s = e.srv->open_session("");
    auto first = listen(*s, 1, {{"toolsListChanged", true}});
    BOOST_TEST(first->sent(0).at("method").as_string() == "notifications/subscriptions/acknowledged");
    first->gone = true;
    BOOST_TEST(e.h->unregister("testkit"));
    BOOST_TEST(first->wait().is_null());  // ended, without a response to nobody
    // Its place is free again.
    auto second = listen(*s, 2, {{"toolsListChanged", true}});
    BOOST_TEST(second->sent(0).at("method").as_string() == "notifications/subscriptions/acknowledged");
}

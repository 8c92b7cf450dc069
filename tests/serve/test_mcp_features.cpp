// What plugins serve to MCP clients besides tools: resources, resource templates, prompts and
// completions, from operations with a role (ABI 1.1, toolhost/tool.h; the testkit fixture's
// testkit_mt has one of each), in a 2025 session and in the 2026-07-28 era: paging, routing by
// URI, the errors each era defines, results checked before a client sees them, and list changes.
#define BOOST_TEST_MODULE mcp_features
#include <boost/test/unit_test.hpp>

#include "mcp_engine_support.hpp"

namespace json = boost::json;
using namespace toolhost;
using namespace toolhost::test::mcp_engine;

namespace {

json::object stateless_meta() {
    return {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
            {"io.modelcontextprotocol/clientCapabilities", json::object{}}};
}

json::object in_2026(json::object params) {
    params["_meta"] = stateless_meta();
    return params;
}

std::string message_of(const json::value& response) {
    return std::string(response.at("error").at("message").as_string());
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(operations_with_a_role_are_not_tools_and_the_capabilities_say_what_is_served) {
    env e;
    auto s = e.srv->open_session("s-1");
    auto init = result_of(env::request(*s, 0, "initialize",
                                       {{"protocolVersion", "2025-11-25"},
                                        {"capabilities", json::object{}},
                                        {"clientInfo", {{"name", "test"}, {"version", "1"}}}}));
    const auto& caps = init.at("capabilities").as_object();
    BOOST_TEST(caps.at("resources").at("listChanged").as_bool());
    BOOST_TEST(caps.at("resources").at("subscribe").as_bool());
    BOOST_TEST(caps.at("prompts").at("listChanged").as_bool());
    BOOST_TEST(caps.contains("completions"));
    env::ask(*s, json::parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    const auto listed = env::request(*s, 1, "tools/list");
    for (const auto& t : result_of(listed).at("tools").as_array()) {
        const std::string name(t.at("name").as_string());
        for (const char* role_op : {"documents", "read", "greet", "broken_prompt", "complete"})
            BOOST_TEST(name != "testkit_mt_" + std::string(role_op));
    }
    BOOST_TEST(e.srv->resolve("testkit_mt_echo").has_value());
}

BOOST_AUTO_TEST_CASE(resources_are_listed_page_by_page_read_by_uri_and_templated) {
    env e;
    auto s = e.initialized();
    auto page = result_of(env::request(*s, 1, "resources/list"));
    BOOST_TEST(json::serialize(page.at("resources")) ==
               R"([{"uri":"testkit://docs/a","name":"a","mimeType":"text/plain"}])");
    const json::value cursor = page.at("nextCursor");
    page = result_of(env::request(*s, 2, "resources/list", {{"cursor", cursor}}));
    BOOST_TEST(page.at("resources").at(0).at("uri") == "testkit://docs/b");
    BOOST_TEST(!page.contains("nextCursor"));
    auto bad = env::request(*s, 3, "resources/list", {{"cursor", "res:9:x"}});
    BOOST_TEST(error_code_of(bad) == mcp::invalid_params);

    auto templates = result_of(env::request(*s, 4, "resources/templates/list"));
    BOOST_TEST(
        json::serialize(templates.at("resourceTemplates")) ==
        R"([{"uriTemplate":"testkit://items/{id}","name":"item","title":"An item","mimeType":"application/json"}])");

    auto read = result_of(env::request(*s, 5, "resources/read", {{"uri", "testkit://docs/a"}}));
    BOOST_TEST(read.at("contents").at(0).at("text") == "alpha");
    read = result_of(env::request(*s, 6, "resources/read", {{"uri", "testkit://items/7"}}));
    BOOST_TEST(read.at("contents").at(0).at("text") == R"({"id":"7"})");

    // 2025: Resource not found is -32002 with the URI, whether no tool serves it or the tool
    // that does has no such resource.
    auto missing = env::request(*s, 7, "resources/read", {{"uri", "testkit://nothing"}});
    BOOST_TEST(error_code_of(missing) == mcp::resource_not_found);
    BOOST_TEST(missing.at("error").at("data").at("uri") == "testkit://nothing");
    BOOST_TEST(contains(message_of(missing), "no resource testkit://nothing"));
    missing = env::request(*s, 8, "resources/read", {{"uri", "other://x"}});
    BOOST_TEST(error_code_of(missing) == mcp::resource_not_found);
    BOOST_TEST(contains(message_of(missing), "no tool serves this URI"));
    BOOST_TEST(error_code_of(env::request(*s, 9, "resources/read", {{"uri", 5}})) == mcp::invalid_params);
}

BOOST_AUTO_TEST_CASE(prompts_take_their_arguments_from_the_input_schema_and_results_are_checked) {
    env e;
    auto s = e.initialized();
    auto listed = result_of(env::request(*s, 1, "prompts/list")).at("prompts").as_array();
    BOOST_TEST_REQUIRE(listed.size() == 2u);
    const auto& greet = listed[0].as_object();
    BOOST_TEST(greet.at("name") == "testkit_mt_greet");
    BOOST_TEST(greet.at("title") == "Greeting");
    BOOST_TEST(greet.at("description") == "A greeting for someone, in a style.");
    BOOST_TEST(json::serialize(greet.at("arguments")) ==
               R"([{"name":"name","description":"who","required":true},)"
               R"({"name":"style","description":"formal or friendly","required":false}])");

    auto got = result_of(env::request(
        *s, 2, "prompts/get", {{"name", "testkit_mt_greet"}, {"arguments", {{"name", "Ada"}, {"style", "formal"}}}}));
    BOOST_TEST(got.at("description") == "A greeting");
    BOOST_TEST(got.at("messages").at(0).at("content").at("text") == "Good day, Ada!");

    // The arguments are validated like a tool's: a missing required one is the caller's error.
    auto r = env::request(*s, 3, "prompts/get", {{"name", "testkit_mt_greet"}, {"arguments", json::object{}}});
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(contains(message_of(r), "missing required property 'name'"), message_of(r));
    r = env::request(*s, 4, "prompts/get", {{"name", "testkit_mt_greet"}, {"arguments", {{"name", 5}}}});
    BOOST_TEST(contains(message_of(r), "an object of strings"));
    r = env::request(*s, 5, "prompts/get", {{"name", "nope"}});
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(message_of(r) == "unknown prompt: nope");
    // A prompt whose result is not one: an internal error that names it, nothing half-formed.
    r = env::request(*s, 6, "prompts/get", {{"name", "testkit_mt_broken_prompt"}});
    BOOST_TEST(error_code_of(r) == mcp::internal_error);
    BOOST_TEST(contains(message_of(r), "prompt testkit_mt_broken_prompt returned a malformed result"), message_of(r));
}

BOOST_AUTO_TEST_CASE(completion_goes_to_the_tool_of_the_prompt_or_template) {
    env e;
    auto s = e.initialized();
    auto complete = [&](int id, json::object ref, std::string_view name, std::string_view value) {
        return env::request(*s, id, "completion/complete",
                            {{"ref", std::move(ref)}, {"argument", {{"name", name}, {"value", value}}}});
    };
    auto c = result_of(complete(1, {{"type", "ref/prompt"}, {"name", "testkit_mt_greet"}}, "style", "f"));
    BOOST_TEST(json::serialize(c.at("completion")) ==
               R"({"values":["formal","friendly","funny"],"total":3,"hasMore":false})");
    c = result_of(complete(2, {{"type", "ref/resource"}, {"uri", "testkit://items/{id}"}}, "id", "1"));
    BOOST_TEST(json::serialize(c.at("completion").at("values")) == R"(["1","12"])");
    auto r = complete(3, {{"type", "ref/resource"}, {"uri", "testkit://other/{x}"}}, "x", "");
    BOOST_TEST(error_code_of(r) == mcp::resource_not_found);
    r = complete(4, {{"type", "ref/prompt"}, {"name", "nope"}}, "x", "");
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    r = complete(5, {{"type", "ref/tool"}}, "x", "");
    BOOST_TEST(error_code_of(r) == mcp::invalid_params);
    BOOST_TEST(error_code_of(env::request(*s, 6, "completion/complete", {{"ref", {{"type", "ref/prompt"}}}})) ==
               mcp::invalid_params);
}

BOOST_AUTO_TEST_CASE(the_2026_era_answers_with_its_members_and_its_resource_not_found) {
    env e;
    auto s = e.srv->open_session("");
    auto prompts = result_of(env::request(*s, 1, "prompts/list", in_2026({})));
    BOOST_TEST(prompts.at("resultType") == "complete");
    BOOST_TEST(prompts.contains("ttlMs"));
    auto read = result_of(env::request(*s, 2, "resources/read", in_2026({{"uri", "testkit://docs/b"}})));
    BOOST_TEST(read.at("resultType") == "complete");
    BOOST_TEST(read.at("cacheScope") == "private");  // a cacheable result, as the lists
    BOOST_TEST(read.at("contents").at(0).at("text") == "beta");
    auto missing = env::request(*s, 3, "resources/read", in_2026({{"uri", "testkit://nothing"}}));
    BOOST_TEST(error_code_of(missing) == mcp::invalid_params);
    BOOST_TEST(missing.at("error").at("data").at("uri") == "testkit://nothing");
    auto got = result_of(
        env::request(*s, 4, "prompts/get", in_2026({{"name", "testkit_mt_greet"}, {"arguments", {{"name", "Bo"}}}})));
    BOOST_TEST(got.at("messages").at(0).at("content").at("text") == "Hello, Bo!");
    auto templates = result_of(env::request(*s, 5, "resources/templates/list", in_2026({})));
    BOOST_TEST(templates.at("resourceTemplates").as_array().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_tool_leaving_changes_the_prompt_and_resource_lists_and_says_so) {
    env e;
    auto s = e.initialized();
    auto events = std::make_shared<stream>();
    s->set_standalone(events);
    auto listening = std::make_shared<recorder>();
    auto stateless = e.srv->open_session("");
    stateless->handle(
        json::serialize(json::object{
            {"jsonrpc", "2.0"},
            {"id", "sub"},
            {"method", "subscriptions/listen"},
            {"params", in_2026({{"notifications", {{"promptsListChanged", true}, {"resourcesListChanged", true}}}})}}),
        listening);
    BOOST_TEST(json::serialize(listening->sent(0).at("params").at("notifications")) ==
               R"({"promptsListChanged":true,"resourcesListChanged":true})");

    BOOST_TEST(e.h->unregister("testkit_mt"));
    std::vector<std::string> methods;
    for (const auto& m : events->take()) methods.emplace_back(m.at("method").as_string());
    BOOST_TEST(methods ==
               (std::vector<std::string>{"notifications/tools/list_changed", "notifications/prompts/list_changed",
                                         "notifications/resources/list_changed"}));
    BOOST_TEST(listening->sent(1).at("method") == "notifications/prompts/list_changed");
    BOOST_TEST(listening->sent(2).at("method") == "notifications/resources/list_changed");
    BOOST_TEST(listening->all_sent().size() == 3u);  // not the tools: it did not ask

    BOOST_TEST(result_of(env::request(*s, 1, "prompts/list")).at("prompts").as_array().empty());
    BOOST_TEST(result_of(env::request(*s, 2, "resources/list")).at("resources").as_array().empty());
    BOOST_TEST(error_code_of(env::request(*s, 3, "resources/read", {{"uri", "testkit://docs/a"}})) ==
               mcp::resource_not_found);
    stateless->close();
}

namespace {

// What the fixture's tool announces (toolhost.resource_events/1), through the host's pipeline.
void announce(host& h, json::object args) {
    auto r = h.call("testkit_mt", "announce", std::move(args));
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
}

std::string listen_request(const json::value& id, json::object notifications) {
    return json::serialize(json::object{{"jsonrpc", "2.0"},
                                        {"id", id},
                                        {"method", "subscriptions/listen"},
                                        {"params", in_2026({{"notifications", std::move(notifications)}})}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(resource_updates_reach_the_sessions_and_subscriptions_that_watch_the_resource) {
    env e;
    auto s = e.initialized();
    auto events = std::make_shared<stream>();
    s->set_standalone(events);

    // 2025: resources/subscribe for a URI a tool serves; others are not found.
    BOOST_TEST(result_of(env::request(*s, 1, "resources/subscribe", {{"uri", "testkit://docs/a"}})).empty());
    auto missing = env::request(*s, 2, "resources/subscribe", {{"uri", "nothing://x"}});
    BOOST_TEST(error_code_of(missing) == mcp::resource_not_found);
    BOOST_TEST(missing.at("error").at("data").at("uri") == "nothing://x");
    BOOST_TEST(error_code_of(env::request(*s, 3, "resources/subscribe", {{"uri", 7}})) == mcp::invalid_params);

    // 2026-07-28: subscriptions/listen with resourceSubscriptions; the acknowledgement names the
    // URIs served, once each.
    auto listening = std::make_shared<recorder>();
    auto stateless = e.srv->open_session("");
    stateless->handle(listen_request("sub", {{"resourceSubscriptions",
                                              json::array{"testkit://items/7", "nothing://x", "testkit://items/7"}}}),
                      listening);
    BOOST_TEST(json::serialize(listening->sent(0).at("params").at("notifications")) ==
               R"({"resourceSubscriptions":["testkit://items/7"]})");

    // Each hears of its own resources only.
    announce(*e.h, {{"uri", "testkit://docs/a"}});
    auto heard = events->take();
    BOOST_TEST_REQUIRE(heard.size() == 1u);
    BOOST_TEST(json::serialize(heard[0]) ==
               R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"testkit://docs/a"}})");
    BOOST_TEST(listening->all_sent().size() == 1u);

    announce(*e.h, {{"uri", "testkit://items/7"}, {"from_thread", true}});
    BOOST_TEST(events->take().empty());
    const auto update = listening->sent(1);
    BOOST_TEST(update.at("method") == "notifications/resources/updated");
    BOOST_TEST(update.at("params").at("uri") == "testkit://items/7");
    BOOST_TEST(update.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId") == "sub");

    // A list change reaches every 2025 session (the listChanged capability) and the subscriptions
    // that asked for it: not this one.
    announce(*e.h, {{"list", true}});
    heard = events->take();
    BOOST_TEST_REQUIRE(heard.size() == 1u);
    BOOST_TEST(heard[0].at("method") == "notifications/resources/list_changed");
    BOOST_TEST(listening->all_sent().size() == 2u);

    // Unsubscribed, or the session gone: nothing more.
    BOOST_TEST(result_of(env::request(*s, 4, "resources/unsubscribe", {{"uri", "testkit://docs/a"}})).empty());
    BOOST_TEST(result_of(env::request(*s, 5, "resources/unsubscribe", {{"uri", "testkit://docs/a"}})).empty());
    announce(*e.h, {{"uri", "testkit://docs/a"}});
    BOOST_TEST(events->take().empty());
    BOOST_TEST(result_of(env::request(*s, 6, "resources/subscribe", {{"uri", "testkit://docs/b"}})).empty());
    s->close();
    announce(*e.h, {{"uri", "testkit://docs/b"}});
    BOOST_TEST(events->take().empty());
    stateless->close();
    BOOST_TEST(listening->wait().at("result").is_object());  // the server's graceful end
}

BOOST_AUTO_TEST_CASE(a_client_watches_at_most_max_resource_subscriptions_resources) {
    mcp::server_options o;
    o.max_resource_subscriptions = 1;
    env e(o);
    auto s = e.initialized();
    BOOST_TEST(result_of(env::request(*s, 1, "resources/subscribe", {{"uri", "testkit://docs/a"}})).empty());
    BOOST_TEST(result_of(env::request(*s, 2, "resources/subscribe", {{"uri", "testkit://docs/a"}})).empty());
    auto refused = env::request(*s, 3, "resources/subscribe", {{"uri", "testkit://docs/b"}});
    BOOST_TEST(error_code_of(refused) == mcp::invalid_params);
    BOOST_TEST(contains(message_of(refused), "serve.mcp.max_resource_subscriptions"), message_of(refused));

    auto stateless = e.srv->open_session("");
    auto listening = std::make_shared<recorder>();
    stateless->handle(
        listen_request(1, {{"resourceSubscriptions", json::array{"testkit://docs/a", "testkit://docs/b"}}}), listening);
    const auto answer = listening->wait();
    BOOST_TEST(error_code_of(answer) == mcp::invalid_params);
    BOOST_TEST(contains(message_of(answer), "at most 1 per subscription"), message_of(answer));
}

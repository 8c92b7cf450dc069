// A tool tells the host that its resources changed (toolhost.resource_events/1,
// toolhost/resource_events.h): the host checks what it is told and turns it into resource_updated
// and resource_list_changed events, the same for a plugin in process, in a worker process, and a
// C++ tool of the embedding program; a URI the tool does not serve, or one that is not text, is
// dropped.
#define BOOST_TEST_MODULE resource_events
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/json_schema.hpp>

#include "test_support.hpp"

#include <boost/json.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using toolhost::host;
using toolhost::host_event;
using toolhost::host_event_kind;
using toolhost::test::eventually;
using toolhost::test::temp_dir;

namespace {

// The resource events a host delivers, as "updated <tool> <uri>" and "list <tool>".
class recorder {
public:
    void attach(host& h) {
        h.subscribe([this](const host_event& e) {
            std::string line;
            if (e.kind == host_event_kind::resource_updated)
                line = "updated " + std::string(e.tool) + " " + std::string(e.uri);
            else if (e.kind == host_event_kind::resource_list_changed)
                line = "list " + std::string(e.tool);
            else
                return;
            std::lock_guard lock(m_);
            seen_.push_back(std::move(line));
        });
    }
    std::vector<std::string> seen() const {
        std::lock_guard lock(m_);
        return seen_;
    }
    bool has(const std::string& line) const {
        auto s = seen();
        return std::find(s.begin(), s.end(), line) != s.end();
    }

private:
    mutable std::mutex m_;
    std::vector<std::string> seen_;
};

struct plugin_env {
    temp_dir dir;
    plugin_env() {
        fs::create_directory(dir / "plugins");
        toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, dir / "plugins", "testkit.so");
    }
};

bool offered(const toolhost::call_result& r) {
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    return json::parse(*r).at("offered").as_bool();
}

// What every kind of instance must show: announced changes arrive as events, from the call's
// thread and from a thread of the plugin's own, and what the tool may not say is dropped (a
// notice that follows it arrives, so the dropped one would have been seen before it).
void announces_its_resources(host& h, const recorder& events) {
    auto announce = [&](json::object args) { return offered(h.call("testkit_mt", "announce", std::move(args))); };
    BOOST_TEST(announce({{"uri", "testkit://docs/a"}}));
    BOOST_TEST(eventually([&] { return events.has("updated testkit_mt testkit://docs/a"); }, 10s));
    BOOST_TEST(announce({{"uri", "testkit://items/7"}, {"from_thread", true}}));
    BOOST_TEST(eventually([&] { return events.has("updated testkit_mt testkit://items/7"); }, 10s));
    BOOST_TEST(announce({{"list", true}}));
    BOOST_TEST(eventually([&] { return events.has("list testkit_mt"); }, 10s));

    const std::string too_long = "testkit://" + std::string(9000, 'x');
    for (const std::string& refused :
         {std::string("other://x"), std::string("testkit://a\nb"), std::string(), too_long})
        announce({{"uri", refused}});
    announce({{"uri", "testkit://items/8"}});
    BOOST_TEST_REQUIRE(eventually([&] { return events.has("updated testkit_mt testkit://items/8"); }, 10s));
    const auto seen = events.seen();
    BOOST_TEST(seen.size() == 4u);
    for (const auto& line : seen) BOOST_TEST(line.find("other://") == std::string::npos, line);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_plugin_in_process_announces_changes_of_its_resources) {
    plugin_env env;
    host h(toolhost::test::folder_config(env.dir.path(), "{}"));
    recorder events;
    events.attach(h);
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    announces_its_resources(h, events);
}

BOOST_AUTO_TEST_CASE(a_plugin_in_a_worker_process_announces_them_the_same_way) {
    plugin_env env;
    host h(toolhost::test::folder_config(env.dir.path(), R"({"tools": {"testkit_mt": {"isolation": "process"}}})"));
    recorder events;
    events.attach(h);
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    BOOST_TEST_REQUIRE(h.status("testkit_mt")->worker.has_value());
    announces_its_resources(h, events);
}

BOOST_AUTO_TEST_CASE(a_tool_of_the_embedding_program_announces_through_its_instance_context) {
    temp_dir dir;
    host h(toolhost::test::folder_config(dir.path(), "{}"));
    recorder events;
    events.attach(h);
    toolhost::tool_descriptor d;
    d.name = "notes";
    d.version = "1.0.0";
    d.thread_safe = true;
    d.operations.push_back(toolhost::operation_descriptor{
        "write", "", *toolhost::json_schema::compile_text(R"({"type":"object"})"), std::nullopt, 0});
    toolhost::operation_descriptor read{"read", "", *toolhost::json_schema::compile_text(R"({"type":"object"})"),
                                        std::nullopt, 0};
    read.role = toolhost::operation_role::resource_read;
    read.role_spec = {{"uris", json::array{"notes://"}}};
    d.operations.push_back(std::move(read));
    class notes final : public toolhost::tool_instance {
    public:
        explicit notes(std::shared_ptr<toolhost::instance_events> e) : events_(std::move(e)) {}
        toolhost::void_result initialize(std::string_view, const fs::path&) override { return {}; }
        toolhost::call_result invoke(const toolhost::invocation& i) noexcept override {
            if (i.operation == "write") events_->resource_updated("notes://today");
            return std::string("{}");
        }
        void cleanup() noexcept override {}

    private:
        std::shared_ptr<toolhost::instance_events> events_;
    };
    BOOST_TEST_REQUIRE(h.register_factory(toolhost::make_tool_factory(d, [](const toolhost::instance_context& c) {
                            BOOST_TEST_REQUIRE(c.events != nullptr);
                            return std::make_unique<notes>(c.events);
                        })).has_value());
    BOOST_TEST_REQUIRE(h.start({}).ok());
    BOOST_TEST_REQUIRE(h.call("notes", "write", json::object{}).has_value());
    BOOST_TEST(events.seen() == std::vector<std::string>{"updated notes notes://today"});
}

// The live plugin folder (host::sync_plugins): tools added, replaced by new builds and removed
// while calls run, in both isolation modes. A replace must cost no call, on the tool replaced and
// on the others; a broken build must leave the old one serving; a removed tool must answer as an
// unknown one; an in-process old generation must be unloaded once its calls ended.

#define BOOST_TEST_MODULE live_plugins
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <toolhost/host.hpp>

#include <boost/json/parse.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using toolhost::call_result;
using toolhost::host;
using toolhost::host_config;
using toolhost::status_code;
using toolhost::tool_state_name;
using toolhost::test::eventually;
using toolhost::test::temp_dir;

namespace {

struct live_env {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    live_env() {
        fs::create_directory(plugins);
        install(TOOLHOST_FIXTURE_STEADY, "steady.so");
    }
    void install(const fs::path& build, const std::string& name) const { toolhost::test::deploy(build, plugins, name); }
    host_config config(const std::string& isolation) const {
        return toolhost::test::folder_config(dir.path(), R"({"isolation": ")" + isolation + R"("})");
    }
};

std::string error_text(const call_result& r) { return r ? std::string("OK: ") + *r : r.error().to_string(); }

std::string build_of(const call_result& r) {
    if (!r) return "error: " + r.error().to_string();
    auto v = json::parse(*r);
    const auto* b = v.as_object().if_contains("build");
    return b ? std::string(b->as_string()) : std::string("none");
}

// Calls one operation from a few threads until told to stop, counting what failed (and keeping
// the first failures' text).
class load {
public:
    load(host& h, std::string tool, int threads, bool through_ref = false) : host_(h), tool_(std::move(tool)) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this, through_ref, i] { run(through_ref && i == 0); });
    }
    ~load() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    long calls() const { return calls_.load(); }
    long failures() const { return failures_.load(); }
    std::string first_failures() {
        std::lock_guard lock(m_);
        return text_;
    }

private:
    void run(bool through_ref) {
        // One thread holds a resolved operation across the replaces, as the MCP server does.
        auto ref = host_.resolve(tool_, "ping");
        while (!stop_) {
            call_result r = through_ref && ref ? host_.call_inline(*ref, json::object{})
                                               : host_.call(tool_, "ping", json::object{});
            ++calls_;
            if (!r) {
                ++failures_;
                std::lock_guard lock(m_);
                if (text_.size() < 2000) text_ += r.error().to_string() + "\n";
            }
        }
    }

    host& host_;
    std::string tool_;
    std::atomic<bool> stop_{false};
    std::atomic<long> calls_{0};
    std::atomic<long> failures_{0};
    std::mutex m_;
    std::string text_;
    std::vector<std::thread> threads_;
};

// The private copies of the "gen" builds this process has mapped (distinct memfd inodes).
std::set<std::string> gen_mappings() {
    std::ifstream maps("/proc/self/maps");
    std::set<std::string> inodes;
    for (std::string line; std::getline(maps, line);) {
        if (line.find("toolhost:gen.so") == std::string::npos) continue;
        // address perms offset dev inode path
        std::istringstream fields(line);
        std::string address, perms, offset, dev, inode;
        fields >> address >> perms >> offset >> dev >> inode;
        inodes.insert(inode);
    }
    return inodes;
}

void lifecycle_under_load(const std::string& isolation) {
    live_env env;
    host h(env.config(isolation));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    load steady(h, "steady", 2);

    // Add.
    env.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    auto added = h.sync_plugins();
    BOOST_TEST(added.added == std::vector<std::string>{"gen"});
    BOOST_TEST(added.failed.empty());
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v1");
    BOOST_TEST(h.status("gen")->generation == 1u);

    // Replace five times in a row under load; each new build answers as soon as the sync returns.
    {
        load gen(h, "gen", 3, true);
        const char* builds[] = {TOOLHOST_FIXTURE_GEN_V2, TOOLHOST_FIXTURE_GEN_V3, TOOLHOST_FIXTURE_GEN_V1,
                                TOOLHOST_FIXTURE_GEN_V2, TOOLHOST_FIXTURE_GEN_V3};
        const char* names[] = {"v2", "v3", "v1", "v2", "v3"};
        for (int i = 0; i < 5; ++i) {
            std::this_thread::sleep_for(50ms);  // calls running on the old generation
            env.install(builds[i], "gen.so");
            auto r = h.sync_plugins();
            BOOST_TEST(r.replaced == std::vector<std::string>{"gen"});
            BOOST_TEST(r.failed.empty(), (r.failed.empty() ? "" : r.failed.front().reason));
            BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == names[i]);
            BOOST_TEST(h.status("gen")->generation == static_cast<uint64_t>(i + 2));
        }
        std::this_thread::sleep_for(50ms);
        gen.stop();
        BOOST_TEST(gen.calls() > 0);
        BOOST_TEST(gen.failures() == 0, gen.first_failures());

        // A build that does not load, then one whose tool does not initialize: the old one serves on.
        load more(h, "gen", 2);
        env.install(TOOLHOST_FIXTURE_GEN_UNLOADABLE, "gen.so");
        auto broken = h.sync_plugins();
        BOOST_TEST(broken.replaced.empty());
        BOOST_TEST_REQUIRE(broken.failed.size() == 1u);
        BOOST_TEST(toolhost::test::contains(broken.failed.front().reason, "undefined symbol"),
                   broken.failed.front().reason);
        BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v3");
        env.install(TOOLHOST_FIXTURE_GEN_INIT_FAILS, "gen.so");
        auto failing = h.sync_plugins();
        BOOST_TEST(failing.replaced.empty());
        BOOST_TEST_REQUIRE(failing.failed.size() == 1u);
        BOOST_TEST(toolhost::test::contains(failing.failed.front().reason, "did not start"),
                   failing.failed.front().reason);
        BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v3");
        BOOST_TEST(h.status("gen")->generation == 6u);
        BOOST_TEST(tool_state_name(h.status("gen")->state) == "ready");
        more.stop();
        BOOST_TEST(more.failures() == 0, more.first_failures());
    }

    // The old in-process generations are unloaded once drained: one copy of gen.so stays mapped.
    if (isolation == "in_process")
        BOOST_TEST(eventually([] { return gen_mappings().size() == 1; }, 10s), gen_mappings().size() << " copies");

    // Remove: unknown tool from then on; the others serve on.
    fs::remove(env.plugins / "gen.so");
    auto removed = h.sync_plugins();
    BOOST_TEST(removed.removed == std::vector<std::string>{"gen"});
    auto gone = h.call("gen", "ping", json::object{});
    BOOST_TEST_REQUIRE(!gone);
    BOOST_TEST(static_cast<int>(gone.error().code) == static_cast<int>(status_code::not_found));
    BOOST_TEST(!h.status("gen").has_value());
    if (isolation == "in_process") BOOST_TEST(eventually([] { return gen_mappings().empty(); }, 10s));

    steady.stop();
    BOOST_TEST(steady.calls() > 0);
    BOOST_TEST(steady.failures() == 0, steady.first_failures());
    h.shutdown();
}

}  // namespace

BOOST_AUTO_TEST_CASE(add_replace_remove_under_load_in_process) { lifecycle_under_load("in_process"); }

BOOST_AUTO_TEST_CASE(add_replace_remove_under_load_isolated) { lifecycle_under_load("process"); }

BOOST_AUTO_TEST_CASE(a_tool_that_moves_to_another_file_is_replaced_not_removed) {
    live_env env;
    host h(env.config("in_process"));
    env.install(TOOLHOST_FIXTURE_GEN_V1, "gen-a.so");
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    load gen(h, "gen", 2);
    std::this_thread::sleep_for(20ms);
    // a.so -> b.so, with a new build: one rename out, one in.
    env.install(TOOLHOST_FIXTURE_GEN_V2, "gen-b.so");
    fs::remove(env.plugins / "gen-a.so");
    auto r = h.sync_plugins();
    BOOST_TEST(r.replaced == std::vector<std::string>{"gen"});
    BOOST_TEST(r.removed.empty());
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v2");
    BOOST_TEST(h.status("gen")->plugin == (env.plugins / "gen-b.so").string());
    gen.stop();
    BOOST_TEST(gen.failures() == 0, gen.first_failures());
}

BOOST_AUTO_TEST_CASE(a_duplicate_name_in_a_new_file_is_refused_and_the_first_serves_on) {
    live_env env;
    host h(env.config("in_process"));
    env.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    env.install(TOOLHOST_FIXTURE_GEN_V2, "other-gen.so");
    auto r = h.sync_plugins();
    BOOST_TEST(!r.changed());
    BOOST_TEST_REQUIRE(r.failed.size() == 1u);
    BOOST_TEST(toolhost::test::contains(r.failed.front().reason, "duplicate tool name 'gen'"), r.failed.front().reason);
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v1");
    // Nothing changed: the next sync looks at nothing and reports nothing.
    auto again = h.sync_plugins();
    BOOST_TEST(!again.changed());
    BOOST_TEST(again.failed.empty());
}

BOOST_AUTO_TEST_CASE(a_build_written_over_the_file_in_place_does_not_crash_the_running_one) {
    // The running generation runs a private copy: truncating and rewriting the file it came from
    // (cp over it, not a rename) cannot pull its pages away (SIGBUS).
    live_env env;
    host h(env.config("in_process"));
    env.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v1");
    fs::copy_file(TOOLHOST_FIXTURE_GEN_V2, env.plugins / "gen.so", fs::copy_options::overwrite_existing);
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v1");
    auto r = h.sync_plugins();
    BOOST_TEST(r.replaced == std::vector<std::string>{"gen"});
    BOOST_TEST(build_of(h.call("gen", "ping", json::object{})) == "v2");
}

BOOST_AUTO_TEST_CASE(a_removed_tool_answers_as_unknown_and_can_come_back) {
    live_env env;
    host h(env.config("in_process"));
    env.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto ref = h.resolve("gen", "ping");
    BOOST_TEST_REQUIRE(ref.has_value());
    fs::remove(env.plugins / "gen.so");
    auto r = h.sync_plugins();
    BOOST_TEST(r.removed == std::vector<std::string>{"gen"});
    // A caller that resolved the operation before gets what a new caller gets.
    auto stale = h.call_inline(*ref, json::object{});
    BOOST_TEST_REQUIRE(!stale);
    BOOST_TEST(static_cast<int>(stale.error().code) == static_cast<int>(status_code::not_found), error_text(stale));
    // The same name back: the stale reference finds it again.
    env.install(TOOLHOST_FIXTURE_GEN_V2, "gen.so");
    BOOST_TEST(h.sync_plugins().added == std::vector<std::string>{"gen"});
    BOOST_TEST(build_of(h.call_inline(*ref, json::object{})) == "v2");
}

// ------------------------------------------------------------------------------------- reload

namespace {

// How many times an instance of `tool` was initialized (testkit's lifecycle log).
int initializations(const fs::path& log, const std::string& tool, const std::string& label = {}) {
    std::ifstream in(log);
    int n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("initialize " + tool + " " + label)) ++n;
    return n;
}

std::string reload_config(const std::string& isolation, const std::string& tools) {
    return R"({"isolation": ")" + isolation + R"(", "tools": {)" + tools + "}}";
}

void reload_under_load(const std::string& isolation) {
    live_env env;
    toolhost::test::deploy(TOOLHOST_FIXTURE_TESTKIT, env.plugins, "testkit.so");
    const auto log = env.dir / "lifecycle.log";
    ::setenv("TOOLHOST_TEST_LIFECYCLE_LOG", log.c_str(), 1);
    const std::string mt_one = R"("testkit_mt": {"config": {"label": "one"}})";
    host h(toolhost::test::folder_config(env.dir.path(), reload_config(isolation, mt_one)));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    const auto pid_before = h.status("testkit_mt")->worker ? h.status("testkit_mt")->worker->pid : 0;
    load steady(h, "steady", 1);
    {
        // testkit_mt's echo under load through both paths; the breaker of testkit (no load) is
        // forced open to see that a policy change keeps it.
        class echo_load {
        public:
            explicit echo_load(host& h) : h_(h) {
                for (int i = 0; i < 3; ++i)
                    threads_.emplace_back([this, i] {
                        auto ref = h_.resolve("testkit_mt", "echo");
                        while (!stop_) {
                            auto r = i == 0 ? h_.call_inline(*ref, json::object{{"x", 1}})
                                            : h_.call("testkit_mt", "echo", json::object{{"x", 1}});
                            ++calls_;
                            if (!r) {
                                ++failures_;
                                std::lock_guard lock(m_);
                                if (first_.empty()) first_ = r.error().to_string();
                            }
                        }
                    });
            }
            ~echo_load() { stop(); }
            void stop() {
                stop_ = true;
                for (auto& t : threads_)
                    if (t.joinable()) t.join();
            }
            std::atomic<long> calls_{0};
            std::atomic<long> failures_{0};
            std::string first_;

        private:
            host& h_;
            std::atomic<bool> stop_{false};
            std::mutex m_;
            std::vector<std::thread> threads_;
        } echo(h);
        BOOST_TEST_REQUIRE(h.force_open_circuit_breaker("testkit"));
        std::this_thread::sleep_for(50ms);

        // A new policy: the same instance serves on, the breaker keeps its state.
        const std::string policy = R"("resilience": {"attempt_timeout_ms": 5000})";
        auto r = h.reload(toolhost::test::folder_config(
            env.dir.path(), reload_config(isolation, R"("testkit_mt": {"config": {"label": "one"}, )" + policy +
                                                         R"(}, "testkit": {)" + policy + "}")));
        BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().front()));
        BOOST_TEST(r->policies == (std::vector<std::string>{"testkit", "testkit_mt"}));
        BOOST_TEST(r->restarted.empty());
        BOOST_TEST(h.status("testkit_mt")->generation == 2u);
        BOOST_TEST(initializations(log, "testkit_mt") == 1);
        BOOST_TEST(breaker_state_name(h.circuit_breaker_state("testkit")->state) == "forced_open");
        if (pid_before != 0) BOOST_TEST(h.status("testkit_mt")->worker->pid == pid_before);
        std::this_thread::sleep_for(50ms);

        // New settings: a new generation, initialized next to the old one.
        r = h.reload(toolhost::test::folder_config(
            env.dir.path(), reload_config(isolation, R"("testkit_mt": {"config": {"label": "two"}, )" + policy + "}")));
        BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().front()));
        BOOST_TEST(r->restarted == std::vector<std::string>{"testkit_mt"});
        BOOST_TEST(r->policies == std::vector<std::string>{"testkit"});  // its policy is the default again
        BOOST_TEST(h.status("testkit_mt")->generation == 3u);
        BOOST_TEST(initializations(log, "testkit_mt", "two") == 1);
        if (pid_before != 0) BOOST_TEST(h.status("testkit_mt")->worker->pid != pid_before);
        std::this_thread::sleep_for(50ms);
        echo.stop();
        BOOST_TEST(echo.calls_ > 0);
        BOOST_TEST(echo.failures_ == 0, echo.first_);
    }

    // A configuration with a problem changes nothing, and says where the problem is.
    auto bad = h.reload(toolhost::test::folder_config(
        env.dir.path(), reload_config(isolation, R"("testkit_mt": {"config": {"label": 42}})")));
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST(toolhost::test::contains(bad.error().front(), "/tools/testkit_mt/config/label"), bad.error().front());
    BOOST_TEST(h.status("testkit_mt")->generation == 3u);

    // Disabled, then enabled again; a thread count is only reported.
    auto off = h.reload(
        toolhost::test::folder_config(env.dir.path(), reload_config(isolation, R"("testkit_mt": {"enabled": false})")));
    BOOST_TEST_REQUIRE(off.has_value());
    BOOST_TEST(off->disabled == std::vector<std::string>{"testkit_mt"});
    BOOST_TEST(!h.call("testkit_mt", "echo", json::object{}).has_value());
    auto cfg = toolhost::test::folder_config(env.dir.path(), reload_config(isolation, ""));
    cfg.threads = 7;
    auto on = h.reload(cfg);
    BOOST_TEST_REQUIRE(on.has_value());
    BOOST_TEST(on->enabled == std::vector<std::string>{"testkit_mt"});
    BOOST_TEST(on->needs_restart == std::vector<std::string>{"threads"});
    BOOST_TEST(h.call("testkit_mt", "echo", json::object{}).has_value());

    steady.stop();
    BOOST_TEST(steady.failures() == 0, steady.first_failures());
    h.shutdown();
    ::unsetenv("TOOLHOST_TEST_LIFECYCLE_LOG");
}

}  // namespace

BOOST_AUTO_TEST_CASE(reload_applies_settings_and_policies_under_load_in_process) { reload_under_load("in_process"); }

BOOST_AUTO_TEST_CASE(reload_applies_settings_and_policies_under_load_isolated) { reload_under_load("process"); }

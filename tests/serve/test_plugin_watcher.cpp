// The live plugin folder's watcher (serve::plugin_watcher): changes seen through inotify, a copy
// still being written waited for, polling where inotify is not used, a folder that appears later,
// a rescan on request. Real files in a temporary folder, a real host; the waits are generous and
// nothing asserts how fast.

#define BOOST_TEST_MODULE plugin_watcher
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <toolhost/host.hpp>
#include <toolhost/serve/plugin_watcher.hpp>

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using toolhost::host;
using toolhost::plugin_sync_report;
using toolhost::serve::plugin_watch_settings;
using toolhost::serve::plugin_watcher;
using toolhost::test::eventually;
using toolhost::test::temp_dir;

namespace {

struct folder {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    explicit folder(bool create = true) {
        if (create) fs::create_directory(plugins);
    }
    toolhost::host_config config() const { return toolhost::test::folder_config(dir.path(), "{}", 2); }
    void install(const fs::path& build, const std::string& name) const { toolhost::test::deploy(build, plugins, name); }
};

// What the watcher reported, for the test's thread.
struct reports {
    std::mutex m;
    std::vector<plugin_sync_report> all;
    plugin_watcher::sync_handler handler() {
        return [this](const plugin_sync_report& r) {
            std::lock_guard lock(m);
            all.push_back(r);
        };
    }
    std::vector<plugin_sync_report> taken() {
        std::lock_guard lock(m);
        return all;
    }
};

std::string build_of(host& h) {
    auto r = h.call("gen", "ping", json::object{});
    if (!r) return "error: " + r.error().to_string();
    return std::string(json::parse(*r).at("build").as_string());
}

plugin_watch_settings quick(bool inotify = true) {
    plugin_watch_settings s;
    s.quiet = 100ms;
    s.safety_scan = 0ms;
    s.poll = 100ms;
    s.use_inotify = inotify;
    return s;
}

void add_replace_remove(bool inotify) {
    folder f;
    host h(f.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    reports seen;
    plugin_watcher watcher(h, h.config().plugin_dirs, quick(inotify), seen.handler());
    BOOST_TEST(watcher.watching() == inotify);

    f.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    BOOST_TEST(eventually([&] { return h.status("gen").has_value(); }, 20s));
    BOOST_TEST(build_of(h) == "v1");
    f.install(TOOLHOST_FIXTURE_GEN_V2, "gen.so");
    BOOST_TEST(eventually([&] { return build_of(h) == "v2"; }, 20s), build_of(h));
    fs::remove(f.plugins / "gen.so");
    BOOST_TEST(eventually([&] { return !h.status("gen").has_value(); }, 20s));
    watcher.stop();

    std::vector<std::string> what;
    for (const auto& r : seen.taken()) {
        for (const auto& n : r.added) what.push_back("added " + n);
        for (const auto& n : r.replaced) what.push_back("replaced " + n);
        for (const auto& n : r.removed) what.push_back("removed " + n);
        for (const auto& x : r.failed) what.push_back("failed " + x.path + ": " + x.reason);
    }
    BOOST_TEST(what == (std::vector<std::string>{"added gen", "replaced gen", "removed gen"}));
}

}  // namespace

BOOST_AUTO_TEST_CASE(inotify_sees_a_file_added_replaced_and_removed) { add_replace_remove(true); }

BOOST_AUTO_TEST_CASE(polling_sees_them_where_inotify_is_not_used) { add_replace_remove(false); }

BOOST_AUTO_TEST_CASE(a_copy_still_being_written_is_waited_for) {
    folder f;
    host h(f.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    reports seen;
    auto s = quick();
    s.quiet = 400ms;
    plugin_watcher watcher(h, h.config().plugin_dirs, s, seen.handler());
    // Written in place under its final name, in two parts with a pause shorter than the quiet
    // period: the half-written file is never scanned.
    std::ifstream in(TOOLHOST_FIXTURE_GEN_V1, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const int fd = ::open((f.plugins / "gen.so").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    BOOST_TEST_REQUIRE(fd >= 0);
    const auto half = bytes.size() / 2;
    BOOST_TEST_REQUIRE(::write(fd, bytes.data(), half) == static_cast<ssize_t>(half));
    std::this_thread::sleep_for(100ms);
    BOOST_TEST_REQUIRE(::write(fd, bytes.data() + half, bytes.size() - half) ==
                       static_cast<ssize_t>(bytes.size() - half));
    ::close(fd);
    BOOST_TEST(eventually([&] { return h.status("gen").has_value(); }, 20s));
    BOOST_TEST(build_of(h) == "v1");
    watcher.stop();
    for (const auto& r : seen.taken())
        for (const auto& f : r.failed) BOOST_ERROR("refused: " << f.path << ": " << f.reason);
}

BOOST_AUTO_TEST_CASE(a_plugin_folder_that_appears_later_is_watched) {
    folder f(false);
    host h(f.config());
    h.load_plugins();  // the folder does not exist yet: reported, nothing loaded
    BOOST_TEST_REQUIRE(h.start({}).ok());
    plugin_watcher watcher(h, h.config().plugin_dirs, quick());
    BOOST_TEST(!watcher.watching());
    fs::create_directory(f.plugins);
    f.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    BOOST_TEST(eventually([&] { return h.status("gen").has_value(); }, 20s));
    BOOST_TEST(eventually([&] { return watcher.watching(); }, 20s));
    // Watched now: a new build is seen through inotify.
    f.install(TOOLHOST_FIXTURE_GEN_V3, "gen.so");
    BOOST_TEST(eventually([&] { return build_of(h) == "v3"; }, 20s), build_of(h));
}

BOOST_AUTO_TEST_CASE(a_rescan_can_be_asked_for) {
    // With neither inotify nor polling, only a requested rescan sees the new file.
    folder f;
    host h(f.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto s = quick(false);
    s.poll = 0ms;
    reports seen;
    plugin_watcher watcher(h, h.config().plugin_dirs, s, seen.handler());
    f.install(TOOLHOST_FIXTURE_GEN_V1, "gen.so");
    std::this_thread::sleep_for(300ms);
    BOOST_TEST(!h.status("gen").has_value());
    watcher.rescan();
    BOOST_TEST(eventually([&] { return h.status("gen").has_value(); }, 20s));
}

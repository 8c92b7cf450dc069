// Scanning plugin files in a child process (plugin_scanner.hpp): a library that crashes, exits,
// throws, hangs or prints while it loads is refused with the reason and costs nothing else;
// scanning runs no plugin code in this process; an unchanged file is answered by the scan cache.
#define BOOST_TEST_MODULE scanner
#include <boost/test/unit_test.hpp>

#include <toolhost/config.hpp>
#include <toolhost/plugin_loader.hpp>

#include "loading/sha256.hpp"

#include "test_support.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <csignal>
#include <iterator>
#include <thread>

namespace fs = std::filesystem;
using toolhost::plugin_loader;
using toolhost::test::contains;
using toolhost::test::copy_into;
using toolhost::test::temp_dir;
using toolhost::test::tool_names;

namespace {

std::map<std::string, std::string> reasons(const toolhost::load_report& r) {
    std::map<std::string, std::string> why;
    for (const auto& x : r.rejected) why[fs::path(x.path).filename().string()] += x.reason;
    return why;
}

// Whether this process has `file` mapped, i.e. loaded it.
// Whether this process maps the file, or the private copy the host loads of it
// (plugin_library::open_copy: "/memfd:toolhost:<name> (deleted)").
bool mapped_here(const fs::path& file) {
    std::ifstream maps("/proc/self/maps");
    const auto canon = fs::canonical(file).string();
    const auto copy = "/memfd:toolhost:" + file.filename().string() + " (deleted)";
    auto ends_with = [](const std::string& line, const std::string& tail) {
        return line.size() >= tail.size() && line.compare(line.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (std::string line; std::getline(maps, line);)
        if (ends_with(line, canon) || ends_with(line, copy)) return true;
    return false;
}

plugin_loader::options quick(const fs::path& cache = {}) {
    plugin_loader::options o;
    o.scan_timeout = std::chrono::milliseconds(1500);
    o.scan_cache = cache;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(libraries_that_misbehave_while_loading_cost_only_themselves) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_CTOR_ABORT, d.path(), "abort.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_EXIT, d.path(), "exit.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_SEGV, d.path(), "segv.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_THROW, d.path(), "throw.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_PRINT, d.path(), "print.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_HANG, d.path(), "hang.so");
    // Good files before, between (in name order) and after the bad ones.
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "a_multi.so");
    copy_into(TOOLHOST_FIXTURE_OLDER_MINOR, d.path(), "f_older.so");
    copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "z_testkit.so");

    const auto report = plugin_loader(quick()).scan({d.path()});
    BOOST_TEST(tool_names(report) ==
               (std::vector<std::string>{"multi_one", "multi_two", "older_minor_tool", "testkit", "testkit_mt"}));
    auto why = reasons(report);
    BOOST_TEST(why.size() == 6u);
    auto expect = [&](const std::string& file, const std::string& needle) {
        BOOST_TEST_CONTEXT(file) { BOOST_TEST(contains(why[file], needle), why[file]); }
    };
    expect("abort.so", "SIGABRT");
    expect("abort.so", "constructors or init()");
    expect("exit.so", "exited with code 3");
    expect("segv.so", "SEGV");  // SIGSEGV; under AddressSanitizer, its SEGV report (exit 1)
    expect("throw.so", "SIGABRT");
    expect("throw.so", "thrown from a static constructor");  // the child's stderr, quoted
    expect("print.so", "wrote to standard output");
    expect("print.so", "hello from a constructor");
    expect("hang.so", "did not finish within 1500 ms");
}

BOOST_AUTO_TEST_CASE(a_scan_runs_no_plugin_code_here_until_a_tool_is_created) {
    temp_dir d;
    const auto file = copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "testkit.so");
    auto report = plugin_loader(quick()).scan({d.path()});
    BOOST_TEST_REQUIRE(report.rejected.empty());
    BOOST_TEST_REQUIRE(report.plugins.size() == 1u);
    BOOST_TEST(report.plugins[0].plugin_name == "testkit");
    BOOST_TEST(!mapped_here(file));
    auto it = std::find_if(report.tools.begin(), report.tools.end(), [](auto& t) { return t.name == "testkit"; });
    BOOST_TEST_REQUIRE((it != report.tools.end()));
    BOOST_TEST(it->factory->descriptor().find_operation("echo") != nullptr);
    auto instance = it->factory->create({});
    BOOST_TEST_REQUIRE(instance.has_value(), (instance ? "" : instance.error().message));
    BOOST_TEST(mapped_here(file));
}

BOOST_AUTO_TEST_CASE(a_file_replaced_after_its_scan_is_not_loaded_unchecked) {
    temp_dir d;
    const auto file = copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "kit.so");
    auto report = plugin_loader(quick()).scan({d.path()});
    BOOST_TEST_REQUIRE(!report.tools.empty());
    // Another build renamed over it: a new inode, so the scanned descriptors no longer vouch for it.
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "kit.so.new");
    fs::rename(d.path() / "kit.so.new", file);
    auto instance = report.tools[0].factory->create({});
    BOOST_TEST_REQUIRE(!instance.has_value());
    BOOST_TEST(contains(instance.error().message, "changed after it was scanned"), instance.error().message);
    BOOST_TEST(!mapped_here(file));
}

BOOST_AUTO_TEST_CASE(the_scan_cache_answers_for_unchanged_files_and_not_for_changed_ones) {
    temp_dir d;
    const auto cache = d.path() / "var" / "scan-cache.json";
    const auto plugins = d.path() / "plugins";
    fs::create_directory(plugins);
    copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_ABORT, plugins, "abort.so");
    const auto first = plugin_loader(quick(cache)).scan({plugins});
    BOOST_TEST_REQUIRE(first.plugins.size() == 1u);
    BOOST_TEST(!first.plugins[0].from_cache);
    BOOST_TEST(fs::exists(cache));

    // Unchanged: answered from the cache, the loaded file and the refused one alike. With no
    // worker at all, a scan that needed one would refuse everything.
    auto no_worker = quick(cache);
    no_worker.worker = d.path() / "no-such-worker";
    const auto second = plugin_loader(no_worker).scan({plugins});
    BOOST_TEST_REQUIRE(second.plugins.size() == 1u);
    BOOST_TEST(second.plugins[0].from_cache);
    BOOST_TEST(tool_names(second) == tool_names(first));
    BOOST_TEST(reasons(second) == reasons(first));

    // Changed (a new copy: new inode and times): scanned again, and without a worker refused.
    fs::remove(plugins / "testkit.so");
    copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    const auto third = plugin_loader(no_worker).scan({plugins});
    BOOST_TEST(third.plugins.empty());
    BOOST_TEST(contains(reasons(third)["testkit.so"], "no-such-worker"), reasons(third)["testkit.so"]);
    BOOST_TEST(contains(reasons(third)["abort.so"], "SIGABRT"));  // still from the cache
}

BOOST_AUTO_TEST_CASE(a_damaged_scan_cache_is_ignored_and_rewritten) {
    temp_dir d;
    const auto cache = d.path() / "scan-cache.json";
    copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "testkit.so");
    for (const std::string& damage :
         {std::string("{not json"), std::string("[]"), std::string(R"({"made_by":"x","files":{}})"),
          std::string(R"({"made_by":)") + "\"" + "\"" + R"(,"files":7})"}) {
        toolhost::test::write_file(cache, damage);
        const auto r = plugin_loader(quick(cache)).scan({d.path()});
        BOOST_TEST_CONTEXT(damage) {
            BOOST_TEST(r.rejected.empty());
            BOOST_TEST_REQUIRE(r.plugins.size() == 1u);
            BOOST_TEST(!r.plugins[0].from_cache);
        }
    }
    // The last scan rewrote it: now it answers.
    const auto r = plugin_loader(quick(cache)).scan({d.path()});
    BOOST_TEST_REQUIRE(r.plugins.size() == 1u);
    BOOST_TEST(r.plugins[0].from_cache);
}

BOOST_AUTO_TEST_CASE(without_the_worker_every_file_is_refused_saying_where_it_looked) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "testkit.so");
    auto o = quick();
    o.worker = d.path() / "missing-worker";
    const auto r = plugin_loader(o).scan({d.path()});
    BOOST_TEST(r.tools.empty());
    BOOST_TEST_REQUIRE(r.rejected.size() == 1u);
    BOOST_TEST(contains(r.rejected[0].reason, "missing-worker"), r.rejected[0].reason);
    BOOST_TEST(contains(r.rejected[0].reason, "not an executable"), r.rejected[0].reason);
}

BOOST_AUTO_TEST_CASE(scans_from_several_threads_at_once_each_get_their_answers) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "testkit.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_SEGV, d.path(), "segv.so");
    std::vector<std::thread> threads;
    std::vector<std::size_t> found(4), refused(4);
    for (std::size_t i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            auto r = plugin_loader(quick()).scan({d.path()});
            found[i] = r.tools.size();
            refused[i] = r.rejected.size();
        });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST(found[i] == 2u);
        BOOST_TEST(refused[i] == 1u);
    }
}

namespace {

std::size_t open_descriptors() {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

// The pids of this process's children, from every thread's /proc children list.
std::vector<std::string> child_pids(const std::string& pid = "self") {
    std::vector<std::string> pids;
    for (const auto& task : fs::directory_iterator("/proc/" + pid + "/task")) {
        std::ifstream in(task.path() / "children");
        for (std::string p; in >> p;) pids.push_back(p);
    }
    return pids;
}

// Whether process `pid` has ended: gone, or a zombie waiting for whoever adopted it to reap it.
bool ended(const std::string& pid) {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

}  // namespace

BOOST_AUTO_TEST_CASE(scans_leave_no_descriptor_and_no_process_behind) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "a.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_SEGV, d.path(), "b.so");
    copy_into(TOOLHOST_FIXTURE_CTOR_HANG, d.path(), "c.so");
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "d.so");
    auto o = quick();
    o.scan_timeout = std::chrono::milliseconds(300);
    (void)plugin_loader(o).scan({d.path()});  // warm-up: whatever the first use opens for good
    const auto before = open_descriptors();
    for (int i = 0; i < 3; ++i) {
        const auto r = plugin_loader(o).scan({d.path()});
        BOOST_TEST(r.rejected.size() == 2u);
    }
    BOOST_TEST(open_descriptors() == before);
    BOOST_TEST(child_pids().empty());
}

BOOST_AUTO_TEST_CASE(a_scanner_child_dies_with_its_host) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_CTOR_HANG, d.path(), "hang.so");
    // A host (toolhost list) whose scanner child hangs in a constructor, killed outright.
    toolhost::test::background_process host(
        {TOOLHOST_TEST_EXE, "--no-default-plugins", "--plugin-dir", d.path().string(), "list"}, d.path(),
        {{"TOOLHOST_CONFIG", ""}, {"TOOLHOST_PLUGIN_PATH", ""}});
    std::vector<std::string> children;
    BOOST_TEST_REQUIRE(toolhost::test::eventually(
        [&] {
            children = child_pids(std::to_string(host.pid()));
            return !children.empty();
        },
        std::chrono::seconds(20)));
    BOOST_TEST(host.stop(SIGKILL) == 128 + SIGKILL);
    for (const auto& pid : children)
        BOOST_TEST(toolhost::test::eventually([&] { return ended(pid); }, std::chrono::seconds(10)),
                   "scanner child " << pid << " outlived its host");
}

BOOST_AUTO_TEST_CASE(with_a_trust_list_only_the_listed_builds_are_opened) {
    temp_dir d;
    const auto listed = copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "listed.so");
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "unlisted.so");
    auto o = quick(d / "cache.json");
    const auto listed_sha = *toolhost::detail::sha256::of_file(listed);
    const auto unlisted_sha = *toolhost::detail::sha256::of_file(d / "unlisted.so");
    o.trusted_sha256.emplace();
    o.trusted_sha256->insert(listed_sha);
    auto r = plugin_loader(o).scan({d.path()});
    BOOST_TEST(tool_names(r) == (std::vector<std::string>{"testkit", "testkit_mt"}));
    auto why = reasons(r);
    BOOST_TEST(contains(why["unlisted.so"], "its sha256 " + unlisted_sha + " is not in trust.sha256"),
               why["unlisted.so"]);

    // Rebuilt under the same name: another digest, refused, the scan cache notwithstanding.
    fs::remove(listed);
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "listed.so");
    r = plugin_loader(o).scan({d.path()});
    BOOST_TEST(r.tools.empty());
    why = reasons(r);
    BOOST_TEST(contains(why["listed.so"], "its sha256 " + unlisted_sha), why["listed.so"]);

    // Without a list, the permission checks alone decide, as before.
    o.trusted_sha256.reset();
    BOOST_TEST(plugin_loader(o).scan({d.path()}).rejected.empty());
}

BOOST_AUTO_TEST_CASE(the_trust_list_is_read_from_the_file_and_the_environment) {
    temp_dir d;
    const std::string a(64, 'a'), upper_b(64, 'B');
    toolhost::test::write_file(d / "c.json", R"({"trust": {"sha256": [")" + a + R"(", ")" + upper_b + R"("]}})");
    auto env = [&](std::string_view n) -> std::optional<std::string> {
        if (n == "TOOLHOST_TRUST_SHA256") return std::string(64, 'c') + "," + std::string(64, 'd');
        return std::nullopt;
    };
    auto c = toolhost::load_config(d / "c.json", env);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(*c->trust_sha256 ==
               (std::vector<std::string>{a, std::string(64, 'b'), std::string(64, 'c'), std::string(64, 'd')}));

    toolhost::test::write_file(d / "bad.json", R"({"trust": {"sha256": ["abc", 7], "md5": []}})");
    auto bad = toolhost::load_config(d / "bad.json", [](std::string_view) { return std::optional<std::string>(); });
    BOOST_TEST_REQUIRE(!bad.has_value());
    const auto all = toolhost::test::all(bad.error());
    BOOST_TEST(contains(all, "/trust/sha256/0: expected a SHA-256 digest (64 hex digits), got \"abc\""), all);
    BOOST_TEST(contains(all, "/trust/sha256/1: expected a SHA-256 digest"), all);
    BOOST_TEST(contains(all, "unknown key 'md5'"), all);

    // The list is only as safe as its file: one that others may write is refused.
    fs::permissions(d / "c.json", fs::perms::group_write | fs::perms::others_write, fs::perm_options::add);
    auto open = toolhost::load_config(d / "c.json", env);
    BOOST_TEST_REQUIRE(!open.has_value());
    const auto why = toolhost::test::all(open.error());
    BOOST_TEST(contains(why, "/trust: a trust list is only trusted in a protected file"), why);
    BOOST_TEST(contains(why, "chmod go-w"), why);
}

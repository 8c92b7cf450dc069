// Loading plugins: ABI negotiation, and every kind of bad file is reported with its path and a
// reason while the good plugins beside it still load.
#define BOOST_TEST_MODULE loader
#include <boost/test/unit_test.hpp>

#include <toolhost/plugin_loader.hpp>
#include <toolhost/tool_descriptor.hpp>

#include "test_support.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>

namespace fs = std::filesystem;
using toolhost::plugin_loader;
using toolhost::test::copy_into;
using toolhost::test::temp_dir;
using toolhost::test::tool_names;

namespace {

// The reason a single-file scan of `file` gives, or "" if it loaded.
std::string reason_for(const fs::path& dir, const std::string& file_name, plugin_loader::options o = {}) {
    auto report = plugin_loader(o).scan({dir});
    for (const auto& r : report.rejected)
        if (fs::path(r.path).filename() == file_name) return r.reason;
    return {};
}

using toolhost::test::contains;

}  // namespace

BOOST_AUTO_TEST_CASE(same_minor_loads) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_OLDER_MINOR, d.path(), "older.so");
    auto r = plugin_loader().scan({d.path()});
    BOOST_TEST(r.rejected.empty());
    BOOST_TEST(tool_names(r) == std::vector<std::string>{"older_minor_tool"});
}

BOOST_AUTO_TEST_CASE(older_minor_is_accepted_by_a_newer_host) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_OLDER_MINOR, d.path(), "older.so");
    plugin_loader::options o;
    o.abi = {TOOLHOST_ABI_VERSION_MAJOR, TOOLHOST_ABI_VERSION_MINOR + 1};
    auto r = plugin_loader(o).scan({d.path()});
    BOOST_TEST(r.rejected.empty());
    BOOST_TEST(tool_names(r) == std::vector<std::string>{"older_minor_tool"});
}

// This host's ABI as messages name it ("ABI 1.1").
const std::string host_abi = "ABI 1." + std::to_string(TOOLHOST_ABI_VERSION_MINOR);

BOOST_AUTO_TEST_CASE(newer_minor_is_rejected_naming_both_versions) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_NEWER_MINOR, d.path(), "newer.so");
    auto why = reason_for(d.path(), "newer.so");
    BOOST_TEST(contains(why, "ABI 1." + std::to_string(TOOLHOST_ABI_VERSION_MINOR + 1)), why);
    BOOST_TEST(contains(why, host_abi), why);
    BOOST_TEST(contains(why, "newer"), why);
}

BOOST_AUTO_TEST_CASE(other_major_is_rejected_naming_both_versions) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_ABI_MAJOR2, d.path(), "major2.so");
    auto why = reason_for(d.path(), "major2.so");
    BOOST_TEST(contains(why, "ABI 2.0"), why);
    BOOST_TEST(contains(why, host_abi), why);

    copy_into(TOOLHOST_FIXTURE_ENTRY_V2_ONLY, d.path(), "v2only.so");
    why = reason_for(d.path(), "v2only.so");
    BOOST_TEST(contains(why, "toolhost_plugin_entry_v2"), why);
    BOOST_TEST(contains(why, host_abi), why);
}

BOOST_AUTO_TEST_CASE(entry_struct_too_small) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_SMALL_ENTRY, d.path(), "small.so");
    auto why = reason_for(d.path(), "small.so");
    BOOST_TEST(contains(why, "too small"), why);
}

BOOST_AUTO_TEST_CASE(bad_files_are_reported_and_good_ones_load) {
    temp_dir d;
    const auto& dir = d.path();
    // good plugins
    copy_into(TOOLHOST_FIXTURE_TESTKIT, dir, "testkit.so");
    copy_into(TOOLHOST_FIXTURE_MULTI, dir, "multi.so");
    // bad ones, built by the test tree
    copy_into(TOOLHOST_FIXTURE_NO_ENTRY, dir, "no_entry.so");
    copy_into(TOOLHOST_FIXTURE_UNRESOLVED, dir, "unresolved.so");
    copy_into(TOOLHOST_FIXTURE_BAD_SCHEMA, dir, "bad_schema.so");
    copy_into(TOOLHOST_FIXTURE_BAD_NAME, dir, "bad_name.so");
    copy_into(TOOLHOST_FIXTURE_NO_OPS, dir, "no_ops.so");
    copy_into(TOOLHOST_FIXTURE_INIT_FAILS, dir, "init_fails.so");
    copy_into(TOOLHOST_FIXTURE_NEWER_MINOR, dir, "newer.so");
    // bad ones made here
    toolhost::test::write_file(dir / "empty.so", "");
    toolhost::test::write_file(dir / "text.so", "this is not a library\n");
    {
        auto whole = toolhost::test::read_file(TOOLHOST_FIXTURE_TESTKIT);
        toolhost::test::write_file(dir / "truncated.so", whole.substr(0, whole.size() / 3));
    }
    fs::create_directory(dir / "folder.so");
    fs::create_symlink(dir / "does-not-exist.so.real", dir / "broken.so");
    fs::create_symlink(dir / "loop_b.so", dir / "loop_a.so");
    fs::create_symlink(dir / "loop_a.so", dir / "loop_b.so");
    auto writable = copy_into(TOOLHOST_FIXTURE_OLDER_MINOR, dir, "world_writable.so");
    fs::permissions(writable, fs::perms::others_write, fs::perm_options::add);
    toolhost::test::write_file(dir / "ignored.txt", "not named like a plugin");

    auto report = plugin_loader().scan({dir});
    BOOST_TEST(tool_names(report) == (std::vector<std::string>{"multi_one", "multi_two", "testkit", "testkit_mt"}));

    std::map<std::string, std::string> why;
    for (const auto& r : report.rejected) why[fs::path(r.path).filename().string()] += r.reason;
    auto expect = [&](const std::string& file, const std::string& needle) {
        BOOST_TEST_CONTEXT(file) {
            BOOST_TEST_REQUIRE(why.count(file) == 1u);
            BOOST_TEST(contains(why[file], needle), why[file]);
        }
    };
    expect("no_entry.so", "no entry symbol");
    expect("unresolved.so", "undefined symbol");
    expect("unresolved.so", "toolhost_fixture_missing_function");
    expect("bad_schema.so", "not valid JSON");
    expect("bad_name.so", "invalid tool name");
    expect("no_ops.so", "no operations");
    expect("init_fails.so", "init() failed with UNAVAILABLE");
    expect("newer.so", "newer");
    expect("empty.so", "empty file");
    expect("text.so", "not a shared library");
    expect("truncated.so", "truncated ELF file");
    expect("folder.so", "is a directory");
    expect("broken.so", "broken symbolic link");
    expect("loop_a.so", "loop");
    expect("loop_b.so", "loop");
    expect("world_writable.so", "writable by others");
    expect("world_writable.so", "chmod go-w");
    BOOST_TEST(why.count("ignored.txt") == 0u);
    BOOST_TEST(report.rejected.size() == why.size());
}

BOOST_AUTO_TEST_CASE(group_writable_directory_is_refused) {
    temp_dir d;
    auto sub = d.path() / "plugins";
    fs::create_directory(sub);
    copy_into(TOOLHOST_FIXTURE_TESTKIT, sub, "testkit.so");
    fs::permissions(sub, fs::perms::group_write, fs::perm_options::add);
    auto report = plugin_loader().scan({sub});
    BOOST_TEST(report.tools.empty());
    BOOST_TEST_REQUIRE(report.rejected.size() == 1u);
    BOOST_TEST(contains(report.rejected[0].reason, "writable by its group"), report.rejected[0].reason);
}

BOOST_AUTO_TEST_CASE(missing_directory_is_reported_unless_optional) {
    temp_dir d;
    auto report = plugin_loader().scan({d.path() / "nope"});
    BOOST_TEST_REQUIRE(report.rejected.size() == 1u);
    BOOST_TEST(contains(report.rejected[0].reason, "does not exist"));
    BOOST_TEST(plugin_loader().scan({d.path() / "nope"}, true).rejected.empty());
}

BOOST_AUTO_TEST_CASE(same_file_twice_loads_once) {
    temp_dir d;
    copy_into(TOOLHOST_FIXTURE_MULTI, d.path(), "multi.so");
    fs::create_symlink(d.path() / "multi.so", d.path() / "alias.so");
    auto report = plugin_loader().scan({d.path(), d.path()});
    BOOST_TEST(report.rejected.empty());
    BOOST_TEST(tool_names(report) == (std::vector<std::string>{"multi_one", "multi_two"}));
}

BOOST_AUTO_TEST_CASE(file_the_process_cannot_read) {
    temp_dir d;
    auto f = copy_into(TOOLHOST_FIXTURE_TESTKIT, d.path(), "secret.so");
    fs::permissions(f, fs::perms::none);
    if (::geteuid() != 0) {
        auto why = reason_for(d.path(), "secret.so");
        BOOST_TEST(contains(why, "Permission denied"), why);
        return;
    }
    // Root reads anything, so as root the check runs in a child that drops to uid/gid 65534.
    // This test process is single-threaded, so fork() without exec is safe here.
    fs::permissions(d.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec |
                                  fs::perms::group_read | fs::perms::group_exec);
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
        auto r = plugin_loader::check_file(f);
        std::string why = r ? "" : r.error();
        (void)!::write(fds[1], why.data(), why.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string why;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) why.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    BOOST_TEST(contains(why, "cannot read"), why);
    BOOST_TEST(contains(why, "Permission denied"), why);
}

// ---- ABI 1.1: an operation's role (what it serves to MCP clients instead of being a tool)

namespace {

// A one-operation descriptor whose operation has `role` (NULL for none), `size` bytes long.
boost::system::result<toolhost::tool_descriptor, std::string> with_role(
    const char* role, uint32_t size = sizeof(toolhost_operation_descriptor_t),
    const char* schema = R"({"type":"object"})") {
    const toolhost_operation_descriptor_t op{size, "op", "", schema, nullptr, 0, role};
    const toolhost_operation_descriptor_t* ops[] = {&op};
    const toolhost_tool_descriptor_t d{sizeof d, "t", "1.0.0", "", nullptr, 0, 1, ops};
    return toolhost::descriptor_from_abi(&d, "test.so");
}

}  // namespace

BOOST_AUTO_TEST_CASE(operation_roles_are_read_checked_and_named_in_errors) {
    using toolhost::operation_role;
    auto d = with_role(R"({"role":"resource_read","uris":["crm://customers/"],)"
                       R"("templates":[{"uriTemplate":"crm://customers/{id}","name":"customer"}]})");
    BOOST_TEST_REQUIRE(d.has_value(), (d ? "" : d.error()));
    BOOST_TEST((d->operations[0].role == operation_role::resource_read));
    BOOST_TEST(d->operations[0].role_spec.at("uris").as_array().size() == 1u);
    BOOST_TEST(toolhost::to_json(*d).at("operations").at(0).at("role").at("role") == "resource_read");
    BOOST_TEST((with_role(R"({"role":"prompt","title":"T"})")->operations[0].role == operation_role::prompt));
    BOOST_TEST((with_role(nullptr)->operations[0].role == operation_role::tool));

    // An ABI 1.0 plugin's operation struct ends before `role`: whatever follows is not read.
    const auto v10 = with_role("not even JSON", static_cast<uint32_t>(offsetof(toolhost_operation_descriptor_t, role)));
    BOOST_TEST_REQUIRE(v10.has_value(), (v10 ? "" : v10.error()));
    BOOST_TEST((v10->operations[0].role == operation_role::tool));

    auto error = [](const char* role) {
        auto r = with_role(role);
        BOOST_TEST_REQUIRE(r.has_error(), role);
        return r.error();
    };
    BOOST_TEST(error("not json").starts_with("tool 't' operation 'op': role must be a JSON object"));
    BOOST_TEST(error(R"({"role":"widget"})") ==
               "tool 't' operation 'op': unknown role 'widget' (known: resource_list, resource_read, prompt, "
               "completion)");
    BOOST_TEST(error(R"({"role":"tool"})").find("unknown role 'tool'") != std::string::npos);
    BOOST_TEST(error(R"({"role":"resource_read"})") == "tool 't' operation 'op': role: \"uris\" is required");
    BOOST_TEST(error(R"({"role":"resource_read","uris":[""]})").find("\"uris\" must hold non-empty strings") !=
               std::string::npos);
    BOOST_TEST(
        error(R"({"role":"resource_read","uris":["a://"],"templates":[{"uriTemplate":"b://{x}","name":"n"}]})") ==
        "tool 't' operation 'op': role: template 'b://{x}' is not under any of \"uris\"");
    BOOST_TEST(error(R"({"role":"prompt","titel":"T"})") ==
               "tool 't' operation 'op': role: unknown member \"titel\" (a prompt role has role, title)");
    BOOST_TEST(error(R"({"role":"prompt","title":5})") == "tool 't' operation 'op': role: \"title\" must be a string");
}

BOOST_AUTO_TEST_CASE(a_tool_has_at_most_one_operation_of_each_role_but_prompt) {
    const toolhost_operation_descriptor_t a{sizeof a, "a", "", "{}", nullptr, 0, R"({"role":"completion"})"};
    const toolhost_operation_descriptor_t b{sizeof b, "b", "", "{}", nullptr, 0, R"({"role":"completion"})"};
    const toolhost_operation_descriptor_t* ops[] = {&a, &b};
    const toolhost_tool_descriptor_t d{sizeof d, "t", "1.0.0", "", nullptr, 0, 2, ops};
    auto r = toolhost::descriptor_from_abi(&d, "test.so");
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() == "tool 't': 2 operations have the role completion (at most one may)");
    const toolhost_operation_descriptor_t p{sizeof p, "p", "", "{}", nullptr, 0, R"({"role":"prompt"})"};
    const toolhost_operation_descriptor_t q{sizeof q, "q", "", "{}", nullptr, 0, R"({"role":"prompt"})"};
    const toolhost_operation_descriptor_t* prompts[] = {&p, &q};
    const toolhost_tool_descriptor_t two{sizeof two, "t", "1.0.0", "", nullptr, 0, 2, prompts};
    BOOST_TEST(toolhost::descriptor_from_abi(&two, "test.so").has_value());
}

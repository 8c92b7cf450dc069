// toolhost_plugin_paths: allowed folders, checked reads, small files.
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/paths.hpp>

#include <toolhost/plugin.hpp>

#include "test_support.hpp"

#include <filesystem>

namespace fs = std::filesystem;
namespace paths = toolhost::plugins::paths;
namespace sdk = toolhost::sdk;
using toolhost::test::temp_dir;
using toolhost::test::write_file;

namespace {

sdk::status status_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const sdk::error& e) {
        return e.code();
    }
    return sdk::status::ok;
}

bool same(sdk::status a, sdk::status b) { return static_cast<int>(a) == static_cast<int>(b); }

}  // namespace

BOOST_AUTO_TEST_SUITE(allowed_dirs)

BOOST_AUTO_TEST_CASE(reads_inside_and_refuses_outside_and_through_links) {
    temp_dir dir;
    const fs::path inside = dir.path() / "in";
    const fs::path outside = dir.path() / "out";
    fs::create_directories(inside);
    fs::create_directories(outside);
    write_file(inside / "a.txt", "hello");
    write_file(outside / "secret.txt", "no");
    fs::create_symlink(outside / "secret.txt", inside / "link.txt");

    const paths::allowed_dirs allowed({inside});
    const fs::path a = allowed.resolve_allowed("path", (inside / "a.txt").string());
    BOOST_TEST(allowed.read_file("path", a, 100) == "hello");
    BOOST_TEST(same(status_of([&] { allowed.read_file("path", a, 2); }), sdk::status::invalid_argument));
    BOOST_TEST(same(status_of([&] { allowed.resolve_allowed("path", (outside / "secret.txt").string()); }),
                    sdk::status::permission_denied));
    BOOST_TEST(same(status_of([&] { allowed.resolve_allowed("path", (inside / "link.txt").string()); }),
                    sdk::status::permission_denied));
    BOOST_TEST(same(status_of([&] { allowed.resolve_allowed("path", (inside / ".." / "out").string()); }),
                    sdk::status::permission_denied));
    BOOST_TEST(same(status_of([&] { allowed.resolve_allowed("path", (inside / "none.txt").string()); }),
                    sdk::status::not_found));
}

BOOST_AUTO_TEST_CASE(small_files_are_read_whole_or_named_in_the_error) {
    temp_dir dir;
    write_file(dir.path() / "s.json", "{}");
    BOOST_TEST(paths::read_small_file(dir.path() / "s.json", "sample_file") == "{}");
    BOOST_TEST(same(status_of([&] { paths::read_small_file(dir.path() / "none.json", "sample_file"); }),
                    sdk::status::invalid_argument));
    BOOST_TEST(paths::resolve("relative").is_absolute());
}

BOOST_AUTO_TEST_SUITE_END()

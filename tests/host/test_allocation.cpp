// The inline path allocates nothing on the heap for a successful call: counted by replacing the
// global operator new for this test program (the plugin's allocations are counted too).
#define BOOST_TEST_MODULE allocation
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>

#include "test_support.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// GCC pairs its built-in knowledge of operator new with free() and warns; these replacements
// allocate with malloc, so free is the right match.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
// Every delete that can meet these allocations frees with free(), so that a sanitizer's own
// operator new/delete never see half of a pair.
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace json = boost::json;
using namespace toolhost;

BOOST_AUTO_TEST_CASE(a_successful_inline_call_allocates_nothing) {
    toolhost::test::temp_dir dir;
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_TEST_PLUGIN_DIR};
    c.data_dir = dir / "var";
    c.threads = 2;
    c.log_level = "warning";  // call logs are at info: off
    host h(std::move(c));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto target = h.resolve("echo", "echo").value();
    const json::value args = json::object{};
    const call_options options;
    for (int i = 0; i < 100; ++i) BOOST_TEST_REQUIRE(h.call_inline(target, args, options).has_value());

    g_allocations.store(0);
    g_counting.store(true);
    int ok = 0;
    for (int i = 0; i < 1000; ++i) ok += h.call_inline(target, args, options).has_value() ? 1 : 0;
    g_counting.store(false);
    BOOST_TEST(ok == 1000);
    BOOST_TEST(g_allocations.load() == 0u);

    // The counter does count: a call with a large argument allocates (its text does not fit
    // the stack buffer), so the check above could fail.
    const json::value big = json::object{{"text", std::string(4000, 'x')}};
    g_counting.store(true);
    BOOST_TEST(h.call_inline(target, big, options).has_value());
    g_counting.store(false);
    BOOST_TEST(g_allocations.load() > 0u);
}

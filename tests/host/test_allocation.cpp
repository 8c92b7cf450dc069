// The inline path allocates nothing on the heap for a successful call, and the worker pool's
// recycled op memory does not leak: counted by replacing the global operator new and delete for
// this test program (the plugin's allocations are counted too).
#define BOOST_TEST_MODULE allocation
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/worker_pool.hpp>

#include <boost/asio/post.hpp>

#include "test_support.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
std::atomic<int64_t> g_frees{0};
void count_free(void* p) {
    if (p != nullptr && g_counting.load(std::memory_order_relaxed)) g_frees.fetch_add(1, std::memory_order_relaxed);
    std::free(p);
}
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
void operator delete(void* p) noexcept { count_free(p); }
void operator delete(void* p, std::size_t) noexcept { count_free(p); }
void operator delete[](void* p) noexcept { count_free(p); }
void operator delete[](void* p, std::size_t) noexcept { count_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { count_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { count_free(p); }

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

// The pool keeps freed op memory in per-thread caches that trade whole batches through a shared
// depot. A thread that only posts (it takes a batch from the depot and never frees an op, the
// workers do) used to exit with the rest of its batch, never to be seen again: about one op's
// memory per post (found as a LeakSanitizer report by fuzz_stdio). The depot is bounded, so
// with every block accounted for, what stays allocated after thousands of posting threads is
// small; leaking, it grows with them.
BOOST_AUTO_TEST_CASE(threads_that_only_post_return_their_op_memory_when_they_exit) {
    worker_pool pool(1, std::chrono::nanoseconds(0));
    constexpr int threads = 5000;
    std::atomic<int> ran{0};
    g_allocations.store(0);
    g_frees.store(0);
    g_counting.store(true);
    for (int i = 0; i < threads; ++i) {
        std::thread([&] { boost::asio::post(pool.get_executor(), [&] { ran.fetch_add(1); }); }).join();
        while (ran.load() <= i) std::this_thread::yield();
    }
    g_counting.store(false);
    BOOST_TEST(ran.load() == threads);
    const auto still_allocated = static_cast<int64_t>(g_allocations.load()) - g_frees.load();
    BOOST_TEST(still_allocated < 1000, still_allocated << " allocations outlived 5000 posting threads");
}

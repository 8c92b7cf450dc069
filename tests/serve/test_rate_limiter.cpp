// Per-client rate limits (host/serve/src/limits/rate_limiter): token buckets driven by a clock
// the test moves. Through the real server (429 and Retry-After): test_serve_http.
#define BOOST_TEST_MODULE rate_limiter
#include <boost/test/unit_test.hpp>

#include "limits/rate_limiter.hpp"

using toolhost::serve::detail::bucket_rate;
using toolhost::serve::detail::rate_limiter;
using namespace std::chrono;

namespace {
struct manual {
    steady_clock::time_point t{};
    rate_limiter::clock_fn fn() {
        return [this] { return t; };
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_client_gets_its_burst_then_the_rate) {
    manual clock;
    rate_limiter r({10, 3}, {}, clock.fn());
    BOOST_TEST(r.enabled());
    for (int i = 0; i < 3; ++i) BOOST_TEST(!r.request("a"));
    const auto wait = r.request("a");
    BOOST_REQUIRE(wait);
    BOOST_TEST(wait->count() == 100);  // one token every 100 ms
    clock.t += milliseconds(99);
    BOOST_TEST(r.request("a").has_value());
    clock.t += milliseconds(1);
    BOOST_TEST(!r.request("a"));
    // Another client has its own bucket.
    BOOST_TEST(!r.request("b"));
    // A long pause refills to the burst, not beyond.
    clock.t += seconds(60);
    for (int i = 0; i < 3; ++i) BOOST_TEST(!r.request("a"));
    BOOST_TEST(r.request("a").has_value());
}

BOOST_AUTO_TEST_CASE(tools_with_a_rate_of_their_own) {
    manual clock;
    rate_limiter r({}, {{"crm", {1, 2}}}, clock.fn());
    BOOST_TEST(r.enabled());
    BOOST_TEST(!r.request("a"));  // requests unlimited
    BOOST_TEST(!r.call("a", "crm"));
    BOOST_TEST(!r.call("a", "crm"));
    const auto wait = r.call("a", "crm");
    BOOST_REQUIRE(wait);
    BOOST_TEST(wait->count() == 1000);
    BOOST_TEST(!r.call("a", "rag"));  // no rate of its own
    BOOST_TEST(!r.call("b", "crm"));
}

BOOST_AUTO_TEST_CASE(unlimited_by_default) {
    rate_limiter r({}, {});
    BOOST_TEST(!r.enabled());
    for (int i = 0; i < 1000; ++i) BOOST_TEST(!r.request("a"));
    BOOST_TEST(r.tracked() == 0u);
}

BOOST_AUTO_TEST_CASE(many_clients_do_not_grow_it_without_bound) {
    manual clock;
    rate_limiter r({1000, 5}, {}, clock.fn(), 1600);
    for (int i = 0; i < 100000; ++i) {
        (void)r.request("client-" + std::to_string(i));
        clock.t += microseconds(10);
    }
    BOOST_TEST(r.tracked() <= 1600u);
    BOOST_TEST(r.tracked() > 0u);
}

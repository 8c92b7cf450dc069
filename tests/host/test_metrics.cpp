#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <toolhost/metrics.hpp>

#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;
using toolhost::metrics_registry;

namespace {

struct process_result {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

/// Runs `argv` with `input` on its standard input (through a temporary file, so a child that
/// writes before it has read everything cannot deadlock against us) and collects its output.
process_result run_with_input(std::vector<std::string> argv, const std::string& input) {
    char path[] = "/tmp/toolhost_metrics_XXXXXX";
    const int fd = ::mkstemp(path);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::write(fd, input.data(), input.size()) == static_cast<ssize_t>(input.size()));
    ::close(fd);

    int out[2];
    BOOST_TEST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    ::posix_spawn_file_actions_adddup2(&actions, out[1], 2);

    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);

    process_result r;
    if (rc == 0) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(out[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<std::size_t>(n));
        int status = 0;
        ::waitpid(pid, &status, 0);
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else {
        r.output = "cannot start " + argv[0] + ": " + std::strerror(rc) +
                   " (promtool comes with Debian's prometheus package; scripts/setup-deps.sh installs it)";
    }
    ::close(out[0]);
    ::unlink(path);
    return r;
}

/// "t0", "t1", ... (appended rather than operator+, which trips a GCC 12 -Wrestrict false positive at -O3).
std::string thread_label(int t) {
    std::string s = "t";
    s += std::to_string(t);
    return s;
}

process_result promtool_check(const std::string& text) {
    return run_with_input({"promtool", "check", "metrics"}, text);
}

}  // namespace

BOOST_AUTO_TEST_CASE(exact_exposition_of_a_small_registry) {
    metrics_registry r;
    auto& calls = r.counters("toolhost_calls_total", "Calls by tool and status.", {"tool", "status"});
    calls.with({"echo", "OK"}).inc(3);
    calls.with({"alpha", "UNAVAILABLE"}).inc();
    r.gauges("toolhost_in_flight", "Calls in flight.").with({}).set(2);
    auto& latency = r.histograms("toolhost_call_duration_seconds", "Call latency.", {"tool"}, {0.001, 0.01, 0.1});
    auto& h = latency.with({"echo"});
    h.observe(500us);
    h.observe(1ms);
    h.observe(5ms);
    h.observe(2s);
    // A family without samples is left out.
    r.counters("toolhost_unused_total", "Never touched.", {"tool"});

    BOOST_TEST(r.render_prometheus() ==
               "# HELP toolhost_call_duration_seconds Call latency.\n"
               "# TYPE toolhost_call_duration_seconds histogram\n"
               "toolhost_call_duration_seconds_bucket{tool=\"echo\",le=\"0.001\"} 2\n"
               "toolhost_call_duration_seconds_bucket{tool=\"echo\",le=\"0.01\"} 3\n"
               "toolhost_call_duration_seconds_bucket{tool=\"echo\",le=\"0.1\"} 3\n"
               "toolhost_call_duration_seconds_bucket{tool=\"echo\",le=\"+Inf\"} 4\n"
               "toolhost_call_duration_seconds_sum{tool=\"echo\"} 2.0065\n"
               "toolhost_call_duration_seconds_count{tool=\"echo\"} 4\n"
               "# HELP toolhost_calls_total Calls by tool and status.\n"
               "# TYPE toolhost_calls_total counter\n"
               "toolhost_calls_total{tool=\"alpha\",status=\"UNAVAILABLE\"} 1\n"
               "toolhost_calls_total{tool=\"echo\",status=\"OK\"} 3\n"
               "# HELP toolhost_in_flight Calls in flight.\n"
               "# TYPE toolhost_in_flight gauge\n"
               "toolhost_in_flight 2\n");
}

BOOST_AUTO_TEST_CASE(children_are_stable_and_families_are_get_or_create) {
    metrics_registry r;
    auto& f = r.counters("a_total", "A.", {"x"});
    auto& c = f.with({"1"});
    for (int i = 0; i < 100; ++i) f.with({std::to_string(i)});
    BOOST_TEST(&f.with({"1"}) == &c);
    const std::vector<std::string> values{"1"};
    BOOST_TEST(&f.with(values) == &c);
    BOOST_TEST(&r.counters("a_total", "Other help is ignored.", {"x"}) == &f);
    BOOST_TEST(f.size() == 100u);
}

BOOST_AUTO_TEST_CASE(programming_errors_throw) {
    metrics_registry r;
    BOOST_CHECK_THROW(r.counters("1abc", "h"), std::invalid_argument);
    BOOST_CHECK_THROW(r.counters("a-b", "h"), std::invalid_argument);
    BOOST_CHECK_THROW(r.counters("ok_total", "h", {"bad-label"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.counters("ok_total", "h", {"__reserved"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.counters("ok_total", "h", {"x", "x"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.histograms("h_seconds", "h", {"le"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.histograms("h_seconds", "h", {}, {0.1, 0.1}), std::invalid_argument);
    BOOST_CHECK_THROW(r.histograms("h_seconds", "h", {}, {-1.0}), std::invalid_argument);
    BOOST_CHECK_THROW(r.histograms("h_seconds", "h", {}, {std::nan("")}), std::invalid_argument);

    auto& f = r.counters("x_total", "h", {"a", "b"});
    BOOST_CHECK_THROW(f.with({"only one"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.gauges("x_total", "h", {"a", "b"}), std::invalid_argument);  // other type
    BOOST_CHECK_THROW(r.counters("x_total", "h", {"a"}), std::invalid_argument);     // other labels
    r.histograms("lat_seconds", "h", {}, {0.1, 1.0});
    BOOST_CHECK_THROW(r.histograms("lat_seconds", "h", {}, {0.1, 2.0}), std::invalid_argument);
    BOOST_CHECK_THROW(r.counters("lat_seconds_count", "h"), std::invalid_argument);  // sample clash
}

BOOST_AUTO_TEST_CASE(name_validation) {
    BOOST_TEST(metrics_registry::valid_metric_name("abc"));
    BOOST_TEST(metrics_registry::valid_metric_name("_a:b_c9"));
    BOOST_TEST(metrics_registry::valid_metric_name(":x"));
    BOOST_TEST(!metrics_registry::valid_metric_name(""));
    BOOST_TEST(!metrics_registry::valid_metric_name("9a"));
    BOOST_TEST(!metrics_registry::valid_metric_name("a.b"));
    BOOST_TEST(!metrics_registry::valid_metric_name("a b"));
    BOOST_TEST(metrics_registry::valid_label_name("tool"));
    BOOST_TEST(metrics_registry::valid_label_name("_x9"));
    BOOST_TEST(!metrics_registry::valid_label_name("a:b"));
    BOOST_TEST(!metrics_registry::valid_label_name("9a"));
    BOOST_TEST(!metrics_registry::valid_label_name("__name__"));
    BOOST_TEST(!metrics_registry::valid_label_name(""));
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
    metrics_registry r;
    r.counters("esc_total", "Back\\slash and\nnewline, \"quotes\" stay.", {"v"}).with({"a\\b\"c\nd"}).inc();
    // Invalid UTF-8 is replaced by U+FFFD; valid multi-byte text is kept.
    r.counters("utf_total", "h", {"v"}).with({"caf\xC3\xA9 \xFF\xC0\xAF"}).inc();
    const std::string text = r.render_prometheus();
    BOOST_TEST(text.find("# HELP esc_total Back\\\\slash and\\nnewline, \"quotes\" stay.\n") != std::string::npos,
               text);
    BOOST_TEST(text.find("esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n") != std::string::npos, text);
    BOOST_TEST(text.find("utf_total{v=\"caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 1\n") != std::string::npos,
               text);
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_with_le_inclusive) {
    metrics_registry r;
    auto& h = r.histograms("d_seconds", "h", {}, {0.001, 0.002, 0.004}).with({});
    h.observe(0ns);
    h.observe(-5ms);  // counts as 0
    h.observe(1ms);   // exactly on a bound: that bucket
    h.observe(1ms + 1ns);
    h.observe(3ms);
    h.observe(4ms);
    h.observe(10s);
    h.observe_seconds(0.0015);
    BOOST_TEST(h.bucket_counts() == (std::vector<std::uint64_t>{3, 2, 2, 1}), boost::test_tools::per_element());
    BOOST_TEST(h.count() == 8u);
    BOOST_TEST(h.sum_ns() == std::uint64_t{1'000'000 + 1'000'001 + 3'000'000 + 4'000'000 + 10'000'000'000 + 1'500'000});

    const std::string text = r.render_prometheus();
    BOOST_TEST(text.find("d_seconds_bucket{le=\"0.001\"} 3\n"
                         "d_seconds_bucket{le=\"0.002\"} 5\n"
                         "d_seconds_bucket{le=\"0.004\"} 7\n"
                         "d_seconds_bucket{le=\"+Inf\"} 8\n"
                         "d_seconds_sum 10.010500001\n"
                         "d_seconds_count 8\n") != std::string::npos,
               text);
}

BOOST_AUTO_TEST_CASE(default_latency_buckets_span_50us_to_30s) {
    const auto b = toolhost::default_latency_buckets();
    BOOST_TEST(b.front() == 50e-6);
    BOOST_TEST(b.back() == 30.0);
    for (std::size_t i = 1; i < b.size(); ++i) BOOST_TEST(b[i - 1] < b[i]);
    metrics_registry r;
    auto& h = r.histograms("lat_seconds", "h").with({});
    h.observe(50us);
    BOOST_TEST(h.bucket_counts().front() == 1u);
    BOOST_TEST(r.render_prometheus().find("lat_seconds_bucket{le=\"5e-05\"} 1\n") != std::string::npos);
    // %g style, as the Go client writes "le" (older Prometheus versions compare it as a string).
    BOOST_TEST(r.render_prometheus().find("lat_seconds_bucket{le=\"0.0001\"} 1\n") != std::string::npos);
    BOOST_TEST(r.render_prometheus().find("lat_seconds_bucket{le=\"30\"} 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gauges_set_add_and_callbacks) {
    metrics_registry r;
    auto& f = r.gauges("g", "h", {"k"});
    auto& g = f.with({"b"});
    g.set(1.5);
    g.inc();
    g.add(0.25);
    g.dec();
    BOOST_TEST(g.value() == 1.75);
    double source = 7;
    BOOST_TEST(f.set_callback({"a"}, [&] { return source; }));
    BOOST_TEST(f.set_callback({"c"}, [] { return std::numeric_limits<double>::infinity(); }));
    BOOST_CHECK_THROW(f.set_callback({"b"}, [] { return 0.0; }), std::invalid_argument);
    BOOST_CHECK_THROW(f.with({"a"}), std::invalid_argument);
    source = 8;
    BOOST_TEST(r.render_prometheus() == "# HELP g h\n# TYPE g gauge\ng{k=\"a\"} 8\ng{k=\"b\"} 1.75\ng{k=\"c\"} +Inf\n");
    BOOST_TEST(f.remove_callback({"a"}));
    BOOST_TEST(!f.remove_callback({"a"}));
    BOOST_TEST(r.render_prometheus().find("k=\"a\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(callbacks_may_use_the_registry) {
    metrics_registry r;
    auto& f = r.gauges("g", "h");
    f.set_callback({}, [&r] {
        r.counters("created_in_callback_total", "h").with({}).inc();
        return 1.0;
    });
    BOOST_TEST(r.render_prometheus().find("g 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(label_sets_past_the_limit_share_the_overflow_child) {
    metrics_registry r(toolhost::metrics_options{.max_children = 2});
    auto& f = r.counters("calls_total", "h", {"tool"});
    auto& a = f.with({"a"});
    auto& b = f.with({"b"});
    auto& c = f.with({"c"});
    auto& d = f.with({"d"});
    BOOST_TEST(&a != &b);
    BOOST_TEST(&c == &d);
    BOOST_TEST(&f.with({"a"}) == &a);  // existing children are still found
    BOOST_TEST(&f.with({"__overflow__"}) == &c);
    c.inc();
    d.inc();
    BOOST_TEST(f.size() == 3u);

    auto& g = r.gauges("g", "h", {"k"});
    g.with({"1"});
    g.with({"2"});
    BOOST_TEST(!g.set_callback({"3"}, [] { return 0.0; }));

    BOOST_TEST(r.render_prometheus() ==
               "# HELP calls_total h\n# TYPE calls_total counter\n"
               "calls_total{tool=\"__overflow__\"} 2\n"
               "calls_total{tool=\"a\"} 0\n"
               "calls_total{tool=\"b\"} 0\n"
               "# HELP g h\n# TYPE g gauge\ng{k=\"1\"} 0\ng{k=\"2\"} 0\n"
               "# HELP toolhost_metrics_label_overflow_total Label sets refused because their metric "
               "family was full; their updates went to the family's __overflow__ child.\n"
               "# TYPE toolhost_metrics_label_overflow_total counter\n"
               "toolhost_metrics_label_overflow_total{metric=\"calls_total\"} 2\n"
               "toolhost_metrics_label_overflow_total{metric=\"g\"} 1\n");
}

BOOST_AUTO_TEST_CASE(concurrent_updates_from_8_threads_add_up_exactly) {
    metrics_registry r;
    constexpr int threads = 8;
    constexpr int per_thread = 100'000;
    auto& family = r.counters("n_total", "h", {"t"});
    auto& shared = family.with({"shared"});
    auto& hist = r.histograms("d_seconds", "h", {}, {0.001}).with({});
    auto& level = r.gauges("level", "h").with({});
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            // Children are also created concurrently.
            auto& own = family.with({thread_label(t)});
            for (int i = 0; i < per_thread; ++i) {
                shared.inc();
                own.inc(2);
                hist.observe(std::chrono::nanoseconds(i % 2 == 0 ? 10 : 2'000'000));
                level.inc();
                level.dec();
            }
        });
    }
    // Rendering concurrently with the updates is safe.
    for (int i = 0; i < 5; ++i) BOOST_TEST(!r.render_prometheus().empty());
    for (auto& th : pool) th.join();

    BOOST_TEST(shared.value() == std::uint64_t{threads} * per_thread);
    for (int t = 0; t < threads; ++t) {
        BOOST_TEST(family.with({thread_label(t)}).value() == std::uint64_t{2} * per_thread);
    }
    BOOST_TEST(hist.count() == std::uint64_t{threads} * per_thread);
    BOOST_TEST(hist.bucket_counts()[0] == std::uint64_t{threads} * per_thread / 2);
    BOOST_TEST(hist.sum_ns() == std::uint64_t{threads} * (per_thread / 2) * (10 + 2'000'000));
    BOOST_TEST(level.value() == 0.0);
}

BOOST_AUTO_TEST_CASE(json_has_the_same_content) {
    metrics_registry r;
    r.counters("c_total", "C.", {"tool"}).with({"e\"cho"}).inc(4);
    r.gauges("g", "G.").with({}).set(std::nan(""));
    auto& h = r.histograms("h_seconds", "H.", {}, {0.5}).with({});
    h.observe(100ms);
    h.observe(1s);
    BOOST_TEST(
        boost::json::serialize(r.to_json()) ==
        R"({"c_total":{"type":"counter","help":"C.","labels":["tool"],"samples":[{"labels":{"tool":"e\"cho"},"value":4}]},)"
        R"("g":{"type":"gauge","help":"G.","labels":[],"samples":[{"labels":{},"value":"NaN"}]},)"
        R"("h_seconds":{"type":"histogram","help":"H.","labels":[],"samples":[{"labels":{},"count":2,"sum":1.1E0,)"
        R"("buckets":[{"le":5E-1,"count":1},{"le":"+Inf","count":2}]}]}})");
}

BOOST_AUTO_TEST_CASE(promtool_accepts_every_metric_type_with_awkward_labels) {
    metrics_registry r;
    auto& calls =
        r.counters("toolhost_calls_total", "Calls by tool, operation and status.", {"tool", "operation", "status"});
    calls.with({"echo", "say", "OK"}).inc(41);
    calls.with({"quote\"back\\slash\nnewline", "sp ace,comma=eq{}", "UNAVAILABLE"}).inc();
    calls.with({"", "empty tool", "INTERNAL"}).inc();
    calls.with({"\xE2\x9C\x93 unicode \xF0\x9F\x98\x80", "bad \xFF utf8", "OK"}).inc();
    auto& in_flight = r.gauges("toolhost_in_flight_calls", "Calls in flight.", {"tool"});
    in_flight.with({"echo"}).set(3);
    in_flight.with({"neg"}).set(-2.5);
    in_flight.with({"tiny"}).set(1e-300);
    r.gauges("toolhost_breaker_state", "Breaker state (0 closed, 1 open, 2 half-open).", {"tool"})
        .set_callback({"echo"}, [] { return 1.0; });
    r.gauges("toolhost_odd_values", "Non-finite values.", {"kind"}).with({"nan"}).set(std::nan(""));
    auto& lat = r.histograms("toolhost_call_duration_seconds", "Call latency.\nSecond \\ line.", {"tool", "operation"});
    for (std::chrono::nanoseconds d : {10us, 70us, 3000us, 40000us, 2000000us, 31000000us})
        lat.with({"echo", "say"}).observe(d);
    lat.with({"a\"b", "c\nd"}).observe(1ms);
    r.histograms("toolhost_unlabelled_seconds", "No labels.", {}, {0.1, 1}).with({}).observe(500ms);
    // A registry with an overflow, so that the overflow metric is checked too.
    {
        metrics_registry small(toolhost::metrics_options{.max_children = 1});
        auto& f = small.counters("toolhost_small_total", "Small.", {"k"});
        f.with({"a"}).inc();
        f.with({"b"}).inc();
        const auto res = promtool_check(small.render_prometheus());
        BOOST_TEST(res.exit_code == 0, res.output);
        BOOST_TEST(res.output.empty(), res.output);
    }

    const std::string text = r.render_prometheus();
    const auto res = promtool_check(text);
    BOOST_TEST(res.exit_code == 0, res.output << "\n--- input ---\n" << text);
    BOOST_TEST(res.output.empty(), res.output);
}

BOOST_AUTO_TEST_CASE(promtool_harness_reports_problems) {
    // The check above would pass vacuously if the harness could not see promtool's complaints.
    const auto lint = promtool_check("# HELP foo Foo.\n# TYPE foo counter\nfoo 1\n");
    BOOST_TEST(lint.exit_code != 0);
    BOOST_TEST(lint.output.find("_total") != std::string::npos, lint.output);
    const auto parse = promtool_check("bad{\n");
    BOOST_TEST(parse.exit_code != 0);
}

#pragma once
// What the operator's console (GET /admin) shows, as the JSON of GET /v1/admin/status
// (docs/operations.md): the host, every operation's rates, errors and latency percentiles over
// the last minute with a history of the last five, the breakers, the isolated workers, the
// plugin rejections and the last failed calls.
//
// The numbers are the host's own counters (host::operation_statistics(), what /metrics shows),
// read every sample_interval and kept for `history` intervals; a window's figure is the
// difference between the counters now and the sample from window ago. The last failed calls come
// from the host's call_failed events into a bounded ring. Clocks are injected: the tests drive
// the sampling and the ages by hand.

#include <toolhost/host.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace toolhost::serve::detail {

// The console's time (injected: tests move it by hand).
struct console_clocks {
    std::function<std::chrono::steady_clock::time_point()> steady = [] { return std::chrono::steady_clock::now(); };
    std::function<std::chrono::system_clock::time_point()> wall = [] { return std::chrono::system_clock::now(); };
};
struct console_options {
    std::chrono::seconds window{60};          // rates, error %, percentiles
    std::chrono::seconds sample_interval{5};  // one history point each
    std::size_t history = 60;                 // points kept (five minutes)
    std::size_t max_errors = 100;             // the last failed calls kept
};

class admin_console {
public:
    using clocks = console_clocks;
    using options = console_options;
    // What the header shows, fixed for the server's life (plugin folders and the configuration
    // file change only with a restart).
    struct identity {
        std::string node;                     // the host name ...
        std::function<std::uint16_t()> port;  // ... and the bound port, when given
        std::string config_file;
        std::vector<std::string> plugin_dirs;
        std::function<boost::json::array()> hosts;  // the hosts behind the same load balancer, when given
    };

    admin_console(toolhost::host& h, identity id, options o = {}, clocks c = {});
    ~admin_console();  // unsubscribes
    admin_console(const admin_console&) = delete;
    admin_console& operator=(const admin_console&) = delete;

    // Takes a sample of the counters (every sample_interval, from the server's timer).
    void sample();
    std::chrono::seconds sample_interval() const noexcept { return options_.sample_interval; }
    // The status document (docs/operations.md). [thread-safe]
    boost::json::object status() const;

private:
    struct counts {
        std::uint64_t calls = 0;
        std::uint64_t errors = 0;
        std::uint64_t retries = 0;
        std::uint64_t timeouts = 0;
        std::uint64_t short_circuited = 0;
        std::vector<std::uint64_t> buckets;  // call durations (not cumulative; the last is +Inf)
    };
    using key = std::pair<std::string, std::string>;  // tool, operation
    struct reading {
        std::chrono::steady_clock::time_point at;
        std::map<key, counts> ops;
    };
    struct failed_call {
        std::chrono::system_clock::time_point at;
        std::string tool, operation, status, message, request_id;
    };

    reading read() const;
    void on_event(const host_event& e);

    toolhost::host& host_;
    const identity identity_;
    const options options_;
    const clocks clocks_;
    const std::chrono::system_clock::time_point started_wall_;
    const std::chrono::steady_clock::time_point started_;
    const std::vector<double> bounds_;  // the duration buckets' upper bounds, seconds
    const std::size_t kept_;            // samples kept

    mutable std::mutex mutex_;
    std::deque<reading> samples_;  // oldest first; at most kept_
    // Apart, so that a failing call's event never waits for a status being built.
    mutable std::mutex errors_mutex_;
    std::deque<failed_call> errors_;  // newest first
    std::uint64_t subscription_ = 0;
};

// The q-quantile (0..1) of a histogram's bucket counts (not cumulative, the last +Inf) with
// these upper bounds, interpolated linearly inside the bucket as Prometheus' histogram_quantile
// does; the last bound when it falls in +Inf; negative when there is no observation.
double histogram_quantile(double q, const std::vector<std::uint64_t>& buckets, const std::vector<double>& bounds);

}  // namespace toolhost::serve::detail

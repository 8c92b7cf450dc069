// The OTLP/HTTP span exporter: a queue, a batching thread, and retries with backoff. The body
// is built in otlp_json.cpp, the HTTP request in http_post.hpp, trace ids in trace_context.cpp.

#include "telemetry/http_post.hpp"
#include <toolhost/version.hpp>
#include "telemetry/utf8.hpp"

#include <toolhost/clock.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/tracing.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace toolhost {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
namespace http = boost::beast::http;
using detail::http_endpoint;
using detail::http_post;
using detail::post_outcome;
using detail::post_result;
using steady = std::chrono::steady_clock;

constexpr std::string_view log_channel = "tracing";
/// The most of an error answer quoted in a log record.
constexpr std::size_t quoted_body_limit = 256;

// The number of spans a collector rejected, from an ExportTraceServiceResponse's
// partialSuccess.rejectedSpans (int64: a string, though some receivers send a number).
uint64_t rejected_spans(std::string_view body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return 0;
    const auto* partial = v.get_object().if_contains("partialSuccess");
    if (!partial || !partial->is_object()) return 0;
    const auto* rejected = partial->get_object().if_contains("rejectedSpans");
    if (!rejected) return 0;
    if (rejected->is_int64() && rejected->get_int64() > 0) return static_cast<uint64_t>(rejected->get_int64());
    if (rejected->is_uint64()) return rejected->get_uint64();
    if (rejected->is_string()) {
        uint64_t n = 0;
        const auto& s = rejected->get_string();
        auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (err == std::errc{} && end == s.data() + s.size()) return n;
    }
    return 0;
}

std::string quoted_body(std::string_view body) {
    std::string s(body.substr(0, quoted_body_limit));
    if (body.size() > quoted_body_limit) s += "...";
    return detail::sanitize_utf8(s);
}

}  // namespace

// ------------------------------------------------------------------------------ OTLP exporter

struct otlp_http_exporter::impl {
    impl(otlp_options o, http_endpoint e, metrics_registry& metrics)
        : options(std::move(o)), endpoint(std::move(e)), max_batch(std::min(options.max_batch, options.max_queue)),
          exported(
              metrics.counters("toolhost_trace_spans_exported_total", "Spans the OTLP collector accepted.").with({})),
          dropped_queue_full(dropped_family(metrics).with({"queue_full"})),
          dropped_export_failed(dropped_family(metrics).with({"export_failed"})),
          requests_ok(requests_family(metrics).with({"ok"})),
          requests_http_error(requests_family(metrics).with({"http_error"})),
          requests_network_error(requests_family(metrics).with({"network_error"})), ring(options.max_queue) {}

    static counter_family& dropped_family(metrics_registry& m) {
        return m.counters("toolhost_trace_spans_dropped_total",
                          "Spans that never reached the OTLP collector, by reason.", {"reason"});
    }
    static counter_family& requests_family(metrics_registry& m) {
        return m.counters("toolhost_trace_export_requests_total", "OTLP export requests, by result.", {"result"});
    }

    void run();
    void send(std::vector<span_data>& batch, steady::time_point deadline);
    void warn(std::string_view message, std::string_view error, uint64_t spans);

    const otlp_options options;
    const http_endpoint endpoint;
    const std::size_t max_batch;

    counter& exported;
    counter& dropped_queue_full;
    counter& dropped_export_failed;
    counter& requests_ok;
    counter& requests_http_error;
    counter& requests_network_error;

    // --- shared with callers, under mutex
    std::mutex mutex;
    std::condition_variable work;  // to the worker: a full batch, a flush, or stop
    std::condition_variable done;  // to flush(): a request finished
    // A ring of max_queue slots, allocated up front, so export_span() only moves a span in.
    std::vector<span_data> ring;
    std::size_t head = 0;
    std::size_t count = 0;
    uint64_t accepted = 0;       // spans ever queued
    uint64_t taken = 0;          // of those, taken by the worker
    uint64_t finished = 0;       // of those, whose request finished (or that were dropped)
    uint64_t flush_upto = 0;     // flush() wants every span before this one sent
    uint64_t full_unlogged = 0;  // queue-full drops not yet reported in the log
    bool stopping = false;
    bool worker_done = false;
    steady::time_point stop_deadline{};

    // --- the worker's own
    net::io_context io{1};
    steady::time_point next_warning{};
    uint64_t warnings_suppressed = 0;
    uint64_t failures_since_ok = 0;
    std::thread worker;
};

// At most one warning per error_log_interval: a dead collector costs a line a minute, not one
// per batch. The next warning written says how many were held back.
void otlp_http_exporter::impl::warn(std::string_view message, std::string_view error, uint64_t spans) {
    const auto now = steady::now();
    if (now < next_warning) {
        ++warnings_suppressed;
        return;
    }
    next_warning = now + options.error_log_interval;
    const uint64_t suppressed = std::exchange(warnings_suppressed, 0);
    logging::write(logging::level::warning, log_channel, message,
                   {{"endpoint", options.endpoint},
                    {"error", error},
                    {"spans", spans},
                    {"warnings_suppressed", suppressed > 0 ? json::value(suppressed) : json::value(nullptr)}});
}

void otlp_http_exporter::impl::send(std::vector<span_data>& batch, steady::time_point deadline) {
    const uint64_t n = batch.size();
    http::request<http::string_body> request{http::verb::post, endpoint.target, 11};
    request.set(http::field::host, endpoint.host_header);
    request.set(http::field::user_agent, "toolhost/" TOOLHOST_VERSION_STRING);
    request.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : options.headers) request.set(name, value);
    request.body() = to_otlp_json(batch, options.service_name);
    request.prepare_payload();
    batch.clear();  // the spans' memory goes back here, on the exporter's thread

    post_outcome outcome = http_post(io, endpoint, request, deadline).run();

    switch (outcome.result) {
    case post_result::ok: {
        requests_ok.inc();
        const uint64_t rejected = std::min(rejected_spans(outcome.body), n);
        exported.inc(n - rejected);
        if (rejected > 0) {
            dropped_export_failed.inc(rejected);
            warn("the OTLP collector rejected spans", quoted_body(outcome.body), rejected);
        }
        if (failures_since_ok > 0) {
            logging::write(logging::level::info, log_channel, "OTLP export works again",
                           {{"endpoint", options.endpoint}, {"failed_requests", failures_since_ok}});
            failures_since_ok = 0;
        }
        return;
    }
    case post_result::http_error:
        requests_http_error.inc();
        if (!outcome.body.empty()) outcome.error += ": " + quoted_body(outcome.body);
        break;
    case post_result::network_error: requests_network_error.inc(); break;
    }
    dropped_export_failed.inc(n);
    ++failures_since_ok;
    warn("OTLP export failed; dropped the batch", outcome.error, n);
}

void otlp_http_exporter::impl::run() {
    std::vector<span_data> batch;
    batch.reserve(max_batch);
    auto due = steady::now() + options.flush_interval;
    std::unique_lock lock(mutex);
    for (;;) {
        work.wait_until(lock, due, [&] { return stopping || count >= max_batch || flush_upto > taken; });
        if (full_unlogged > 0) {
            const uint64_t dropped = std::exchange(full_unlogged, 0);
            lock.unlock();
            warn("the span queue is full; dropped spans",
                 "more than max_queue (" + std::to_string(options.max_queue) + ") spans waiting", dropped);
            lock.lock();
        }
        const auto now = steady::now();
        if (count == 0) {
            if (stopping) break;
            if (now >= due) due = now + options.flush_interval;
            continue;
        }
        if (!(stopping || count >= max_batch || flush_upto > taken || now >= due)) continue;
        if (stopping && now >= stop_deadline) {
            // Out of time at shutdown: what is left is dropped, counted and said once.
            const uint64_t left = count;
            for (; count > 0; --count, head = (head + 1) % ring.size()) ring[head] = span_data{};
            taken += left;
            finished += left;
            dropped_export_failed.inc(left);
            lock.unlock();
            logging::write(logging::level::warning, log_channel, "shutting down; dropped spans not sent in time",
                           {{"endpoint", options.endpoint}, {"spans", left}});
            lock.lock();
            break;
        }

        const std::size_t n = std::min(count, max_batch);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(ring[head]));
            head = (head + 1) % ring.size();
        }
        count -= n;
        taken += n;
        const auto deadline =
            stopping ? std::min(now + options.request_timeout, stop_deadline) : now + options.request_timeout;
        lock.unlock();
        send(batch, deadline);
        lock.lock();
        finished += n;
        done.notify_all();
        due = steady::now() + options.flush_interval;
    }
    worker_done = true;
    done.notify_all();
}

std::unique_ptr<otlp_http_exporter> otlp_http_exporter::create(otlp_options options, metrics_registry& metrics,
                                                               std::string* error) {
    auto failed = [&](std::string message) -> std::unique_ptr<otlp_http_exporter> {
        if (error) *error = std::move(message);
        return nullptr;
    };
    http_endpoint endpoint;
    if (auto problem = detail::parse_endpoint(options.endpoint, endpoint); !problem.empty())
        return failed("OTLP endpoint \"" + options.endpoint + "\": " + problem);
    for (const auto& [name, value] : options.headers) {
        if (auto problem = check_http_header(name, value); !problem.empty()) return failed("OTLP header: " + problem);
    }
    if (options.max_queue == 0 || options.max_queue > otlp_options::queue_limit)
        return failed("max_queue must be from 1 to " + std::to_string(otlp_options::queue_limit));
    if (options.max_batch == 0) return failed("max_batch must be at least 1");
    if (options.flush_interval.count() <= 0) return failed("flush_interval must be positive");
    if (options.request_timeout.count() <= 0) return failed("request_timeout must be positive");
    if (options.error_log_interval.count() < 0) return failed("error_log_interval must not be negative");

    auto p = std::make_unique<impl>(std::move(options), std::move(endpoint), metrics);
    impl* raw = p.get();
    p->worker = std::thread([raw] { raw->run(); });
    return std::unique_ptr<otlp_http_exporter>(new otlp_http_exporter(std::move(p)));
}

otlp_http_exporter::otlp_http_exporter(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

otlp_http_exporter::~otlp_http_exporter() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
        impl_->stop_deadline = steady::now() + impl_->options.request_timeout;
    }
    impl_->work.notify_one();
    impl_->worker.join();
}

void otlp_http_exporter::export_span(span_data span) noexcept {
    bool wake = false;
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->count == impl_->ring.size() || impl_->worker_done) {
            impl_->dropped_queue_full.inc();
            ++impl_->full_unlogged;
            return;  // `span` is freed on return, here: dropping must not wait for anything
        }
        impl_->ring[(impl_->head + impl_->count) % impl_->ring.size()] = std::move(span);
        ++impl_->count;
        ++impl_->accepted;
        wake = impl_->count == impl_->max_batch;
    }
    if (wake) impl_->work.notify_one();
}

void otlp_http_exporter::flush(std::chrono::milliseconds timeout) noexcept {
    const auto deadline = steady::now() + timeout;
    std::unique_lock lock(impl_->mutex);
    const uint64_t target = impl_->accepted;
    if (impl_->finished >= target || impl_->worker_done) return;
    impl_->flush_upto = std::max(impl_->flush_upto, target);
    impl_->work.notify_one();
    impl_->done.wait_until(lock, deadline, [&] { return impl_->finished >= target || impl_->worker_done; });
}

}  // namespace toolhost

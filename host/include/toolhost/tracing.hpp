#pragma once
/// Traces: W3C trace context, the span the host records for every call, and the OTLP/HTTP JSON
/// exporter that ships spans to a collector from a background thread.
///
/// The host records one span per call, named `tool.{name}.{operation}`, with the attributes and
/// per-attempt events listed in docs/observability.md. A caller's `traceparent` makes the span a
/// child of the caller's; the plugin is handed a traceparent naming the call's own span, so what
/// the plugin calls downstream joins the same trace.

#include <toolhost/export.hpp>
#include <toolhost/metrics.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace toolhost {

class random_source;

// ------------------------------------------------------------------------------- trace context

/// A W3C trace context (https://www.w3.org/TR/trace-context/), version 00.
struct TOOLHOST_API trace_context {
    std::array<uint8_t, 16> trace_id{};
    std::array<uint8_t, 8> span_id{};
    uint8_t flags = 0;  ///< bit 0: sampled

    bool sampled() const noexcept { return (flags & 1u) != 0; }
    /// "00-<32 hex>-<16 hex>-<2 hex>", lower-case; flags other than sampled are sent as 0.
    std::string to_traceparent() const;
    std::string trace_id_hex() const;
    std::string span_id_hex() const;

    /// Parses a traceparent header value. Returns nullopt for anything the spec says to ignore:
    /// wrong length or separators, upper-case or non-hex digits, version ff, all-zero trace or
    /// span id, version 00 with anything after the flags. Versions above 00 are accepted by
    /// their first four fields when those are followed by the end or a '-', as the spec asks.
    /// Spaces and tabs around the value (HTTP's optional whitespace) are ignored. Only the
    /// sampled bit of the flags is kept: level 1 reserves the others and says to send them as 0.
    static std::optional<trace_context> parse(std::string_view traceparent) noexcept;
};

/// Fills `bytes` with random bits, never all zero (an all-zero id is invalid): 48 bits per
/// random_source::next_unit() draw, most significant first. Should the source keep returning
/// zeros, the last byte is set to 1 rather than loop.
TOOLHOST_API void random_id(random_source& random, uint8_t* bytes, std::size_t n) noexcept;

// ---------------------------------------------------------------------------------------- spans

/// A span attribute value: string, bool, int64 or double.
using attribute_value = std::variant<std::string, bool, int64_t, double>;
using attributes = std::vector<std::pair<std::string, attribute_value>>;

struct span_event {
    std::string name;
    std::chrono::system_clock::time_point time;
    toolhost::attributes attributes;
};

/// A finished span, as handed to an exporter.
struct span_data {
    std::array<uint8_t, 16> trace_id{};
    std::array<uint8_t, 8> span_id{};
    std::optional<std::array<uint8_t, 8>> parent_span_id;  ///< from the caller's traceparent
    std::string name;                                      ///< tool.{name}.{operation}
    std::chrono::system_clock::time_point start;
    std::chrono::system_clock::time_point end;
    toolhost::attributes attributes;
    std::vector<span_event> events;
    bool error = false;          ///< OTLP status code ERROR (else OK)
    std::string status_message;  ///< the error message when error
};

/// Receives finished spans. export_span() is called on the call path: it must never block
/// (queue and return). [thread-safe]
class TOOLHOST_API span_exporter {
public:
    virtual ~span_exporter() = default;
    virtual void export_span(span_data span) noexcept = 0;
    /// Sends what is queued and waits up to `timeout` for it. Called at shutdown.
    virtual void flush(std::chrono::milliseconds timeout) noexcept = 0;
};

// ------------------------------------------------------------------------------ OTLP exporter

struct otlp_options {
    /// Collector URL of the traces endpoint, e.g. "http://127.0.0.1:4318/v1/traces". Plain
    /// http only (a collector sidecar on loopback is the usual setup).
    std::string endpoint;
    std::string service_name = "toolhost";
    /// Extra HTTP headers (e.g. an API key).
    std::map<std::string, std::string> headers;
    std::size_t max_queue = 2048;                     ///< spans waiting; more are dropped (and counted)
    std::size_t max_batch = 512;                      ///< spans per request (at most max_queue)
    std::chrono::milliseconds flush_interval{1000};   ///< send at least this often when not empty
    std::chrono::milliseconds request_timeout{5000};  ///< connect + send + receive, per request
    /// At most one warning about failed exports per interval; the others are counted in the next.
    std::chrono::milliseconds error_log_interval{60000};

    /// The largest max_queue accepted: the queue's slots are allocated up front.
    static constexpr std::size_t queue_limit = 1'000'000;
};

/// What is wrong with `url` as an OTLP/HTTP endpoint, or an empty string when it is usable.
/// Accepted: "http://host[:port][/path][?query]" with a host name, an IPv4 address or an IPv6
/// address in brackets; the port defaults to 80 and an empty path means "/v1/traces".
TOOLHOST_API std::string check_otlp_endpoint(std::string_view url);

/// What is wrong with an extra request header, or an empty string when it can be sent: the name
/// must be an HTTP token and not one the exporter sets itself (Host, Content-Type,
/// Content-Length, Transfer-Encoding, Connection); the value must have no control characters
/// other than tab.
TOOLHOST_API std::string check_http_header(std::string_view name, std::string_view value);

/// Batches spans on a background thread and POSTs them as OTLP/HTTP JSON
/// (ExportTraceServiceRequest). export_span() only moves the span into a slot of a bounded
/// queue allocated up front (no I/O, no allocation); when the queue is full the span is dropped
/// and counted. A batch goes out when max_batch spans wait, when flush_interval has passed since
/// the last request, or on flush(). One HTTP/1.1 connection per request, from the exporter's own
/// thread, under one deadline (request_timeout) for connect, write and read. A request that
/// fails (network error, timeout, non-2xx status) drops its batch: counted, logged as a warning
/// at most once per error_log_interval, never retried, so a dead collector cannot grow memory
/// or flood the log. Metrics (in the registry given):
///   toolhost_trace_spans_exported_total,
///   toolhost_trace_spans_dropped_total{reason="queue_full"|"export_failed"},
///   toolhost_trace_export_requests_total{result="ok"|"http_error"|"network_error"}.
/// Spans a collector reports as rejected in a 2xx partial-success answer count as
/// export_failed drops. Host names are resolved by the system resolver, outside the deadline;
/// IP literals need no resolution.
class TOOLHOST_API otlp_http_exporter final : public span_exporter {
public:
    /// Starts the exporter's thread. Returns null and sets `*error` (when not null) to a message
    /// naming the problem for an endpoint that check_otlp_endpoint() rejects, a bad header,
    /// a zero or too large max_queue, a zero max_batch, or a zero interval or timeout.
    /// `metrics` must outlive the exporter.
    static std::unique_ptr<otlp_http_exporter> create(otlp_options options, metrics_registry& metrics,
                                                      std::string* error);
    /// Sends what is queued for up to request_timeout (each request ends by then), drops and
    /// counts what is left, then joins the thread.
    ~otlp_http_exporter() override;

    void export_span(span_data span) noexcept override;
    /// Sends every span queued before the call, in batches, and waits until each of those
    /// requests has finished (delivered or failed) or `timeout` has passed.
    void flush(std::chrono::milliseconds timeout) noexcept override;

    /// The JSON body for `spans` (exposed for tests and for `toolhost` diagnostics): one
    /// resourceSpans entry (service.name) with one scopeSpans entry (scope "toolhost" and its
    /// version). Ids are lower-case hex, times and intValue decimal strings, kind 1 (INTERNAL),
    /// status code 1 (OK) or 2 (ERROR); parentSpanId and an empty status message are left out.
    /// Invalid UTF-8 in names, keys and strings is replaced by U+FFFD, non-finite doubles are
    /// "NaN", "Infinity" or "-Infinity", as the protobuf JSON mapping asks.
    static std::string to_otlp_json(const std::vector<span_data>& spans, std::string_view service_name);

    struct impl;

private:
    explicit otlp_http_exporter(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace toolhost

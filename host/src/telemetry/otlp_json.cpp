// The OTLP/JSON body of an export request (otlp_http_exporter::to_otlp_json).

#include "telemetry/hex.hpp"
#include <toolhost/version.hpp>
#include "telemetry/utf8.hpp"

#include <toolhost/tracing.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <toolhost/json_text.hpp>
#include <boost/json/value.hpp>

#include <type_traits>

namespace toolhost {

namespace json = boost::json;

namespace {

using detail::hex;
// The protobuf JSON mapping (and so every OTLP/JSON receiver) needs valid UTF-8; strings from
// plugins may not be. Invalid sequences become U+FFFD instead of costing the whole batch.
using detail::sanitize_utf8;

// fixed64 in the protobuf JSON mapping: a decimal string. Times before 1970 become 0.
json::string unix_nanos(std::chrono::system_clock::time_point t) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return json::string(std::to_string(ns < 0 ? 0 : ns));
}

json::object any_value(const attribute_value& v) {
    json::object o;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                o["stringValue"] = sanitize_utf8(x);
            } else if constexpr (std::is_same_v<T, bool>) {
                o["boolValue"] = x;
            } else if constexpr (std::is_same_v<T, int64_t>) {
                o["intValue"] = std::to_string(x);  // int64: a decimal string
            } else {
                if (std::isnan(x)) {
                    o["doubleValue"] = "NaN";
                } else if (std::isinf(x)) {
                    o["doubleValue"] = x > 0 ? "Infinity" : "-Infinity";
                } else {
                    o["doubleValue"] = x;
                }
            }
        },
        v);
    return o;
}

json::array attributes_json(const attributes& attrs) {
    json::array a;
    a.reserve(attrs.size());
    for (const auto& [key, value] : attrs) {
        json::object kv;
        kv["key"] = sanitize_utf8(key);
        kv["value"] = any_value(value);
        a.emplace_back(std::move(kv));
    }
    return a;
}

json::object span_json(const span_data& span) {
    json::object o;
    o["traceId"] = hex(span.trace_id);
    o["spanId"] = hex(span.span_id);
    if (span.parent_span_id) o["parentSpanId"] = hex(*span.parent_span_id);
    o["name"] = sanitize_utf8(span.name);
    o["kind"] = 1;  // SPAN_KIND_INTERNAL
    o["startTimeUnixNano"] = unix_nanos(span.start);
    o["endTimeUnixNano"] = unix_nanos(span.end);
    o["attributes"] = attributes_json(span.attributes);
    json::array events;
    events.reserve(span.events.size());
    for (const auto& e : span.events) {
        json::object ev;
        ev["timeUnixNano"] = unix_nanos(e.time);
        ev["name"] = sanitize_utf8(e.name);
        ev["attributes"] = attributes_json(e.attributes);
        events.emplace_back(std::move(ev));
    }
    o["events"] = std::move(events);
    json::object status;
    status["code"] = span.error ? 2 : 1;  // STATUS_CODE_ERROR : STATUS_CODE_OK
    if (!span.status_message.empty()) status["message"] = sanitize_utf8(span.status_message);
    o["status"] = std::move(status);
    return o;
}

}  // namespace

std::string otlp_http_exporter::to_otlp_json(const std::vector<span_data>& spans, std::string_view service_name) {
    json::array span_array;
    span_array.reserve(spans.size());
    for (const auto& span : spans) span_array.emplace_back(span_json(span));

    json::object scope;
    scope["name"] = "toolhost";
    scope["version"] = TOOLHOST_VERSION_STRING;
    json::object scope_spans;
    scope_spans["scope"] = std::move(scope);
    scope_spans["spans"] = std::move(span_array);

    json::object resource;
    resource["attributes"] = attributes_json({{"service.name", std::string(service_name)}});
    // emplace_back, not an initializer list: that would copy every span.
    json::array scope_spans_array;
    scope_spans_array.emplace_back(std::move(scope_spans));
    json::object resource_spans;
    resource_spans["resource"] = std::move(resource);
    resource_spans["scopeSpans"] = std::move(scope_spans_array);

    json::array resource_spans_array;
    resource_spans_array.emplace_back(std::move(resource_spans));
    json::object request;
    request["resourceSpans"] = std::move(resource_spans_array);
    return toolhost::json_text(request);
}

}  // namespace toolhost

#include <toolhost/logging.hpp>

#include <toolhost/json_text.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/core.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/core/null_deleter.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>

namespace toolhost::logging {

namespace detail {
std::atomic<int> min_level{static_cast<int>(level::info)};
}

namespace {

namespace bl = boost::log;
namespace json = boost::json;

std::atomic<int> current_format{static_cast<int>(format::text)};

// The record's attributes, attached per record: the payload is one JSON object so both
// formatters read the same data and JSON output is valid whatever a message contains.
struct payload {
    json::object fields;
};

std::string utc_timestamp(std::chrono::system_clock::time_point tp) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return buf;
}

void format_record(const bl::record_view& rec, bl::formatting_ostream& out) {
    auto p = bl::extract<payload>("Payload", rec);
    if (!p) return;
    const json::object& o = p->fields;
    if (static_cast<format>(current_format.load(std::memory_order_relaxed)) == format::json) {
        out << toolhost::json_text(o);
        return;
    }
    // text: "<ts> <LEVEL> [channel] message key=value ..."
    auto str = [&](std::string_view k) -> std::string_view {
        auto it = o.find(k);
        return it != o.end() && it->value().is_string() ? std::string_view(it->value().get_string())
                                                        : std::string_view{};
    };
    out << str("ts") << ' ' << str("level") << " [" << str("channel") << "] " << str("message");
    for (const auto& kv : o) {
        auto k = kv.key();
        if (k == "ts" || k == "level" || k == "channel" || k == "message") continue;
        out << ' ' << std::string_view(k) << '=';
        if (kv.value().is_string())
            out << std::string_view(kv.value().get_string());
        else
            out << toolhost::json_text(kv.value());
    }
}

using sink_t = bl::sinks::synchronous_sink<bl::sinks::text_ostream_backend>;
std::mutex sink_mutex;
boost::shared_ptr<sink_t> installed_sink;

}  // namespace

std::optional<level> parse_level(std::string_view name) noexcept {
    static constexpr std::pair<std::string_view, level> table[] = {
        {"trace", level::trace},  {"debug", level::debug}, {"info", level::info}, {"warning", level::warning},
        {"warn", level::warning}, {"error", level::error}, {"off", level::off}};
    for (auto& [n, l] : table)
        if (n == name) return l;
    return std::nullopt;
}

std::string_view level_name(level l) noexcept {
    switch (l) {
    case level::trace: return "trace";
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warning: return "warning";
    case level::error: return "error";
    case level::off: return "off";
    }
    return "info";
}

std::optional<format> parse_format(std::string_view name) noexcept {
    if (name == "text") return format::text;
    if (name == "json") return format::json;
    return std::nullopt;
}

namespace {
std::atomic<bool> sink_ready{false};

// Installs the one stderr sink. Boost.Log's default sink (used when none is installed) would
// print records without our payload, so every write path goes through here first.
void ensure_sink() {
    if (sink_ready.load(std::memory_order_acquire)) return;
    std::lock_guard lock(sink_mutex);
    if (installed_sink) return;
    auto backend = boost::make_shared<bl::sinks::text_ostream_backend>();
    backend->add_stream(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()));
    backend->auto_flush(true);
    installed_sink = boost::make_shared<sink_t>(backend);
    installed_sink->set_formatter(&format_record);
    bl::core::get()->add_sink(installed_sink);
    sink_ready.store(true, std::memory_order_release);
}
}  // namespace

void init(level min_level, format fmt) {
    detail::min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
    current_format.store(static_cast<int>(fmt), std::memory_order_relaxed);
    ensure_sink();
}

namespace {
payload record_head(level l, std::string_view channel, std::string_view message, std::size_t extra) {
    payload p;
    auto& o = p.fields;
    o.reserve(4 + extra);
    o.emplace("ts", utc_timestamp(std::chrono::system_clock::now()));
    o.emplace("level", level_name(l));
    o.emplace("channel", channel);
    o.emplace("message", message);
    return p;
}

void push(payload&& p) {
    auto core = bl::core::get();
    bl::attribute_set attrs;
    attrs.insert("Payload", bl::attributes::constant<payload>(std::move(p)));
    if (bl::record rec = core->open_record(attrs)) {
        core->push_record(std::move(rec));
    }
}
}  // namespace

void write(level l, std::string_view channel, std::string_view message, std::initializer_list<field> fields) {
    if (!enabled(l)) return;
    ensure_sink();
    payload p = record_head(l, channel, message, fields.size());
    for (const auto& f : fields)
        if (!f.value.is_null()) p.fields.emplace(f.key, f.value);
    push(std::move(p));
}

void write_fields(level l, std::string_view channel, std::string_view message, const boost::json::object& fields) {
    if (!enabled(l)) return;
    ensure_sink();
    payload p = record_head(l, channel, message, fields.size());
    for (const auto& f : fields)
        if (!f.value().is_null()) p.fields.emplace(f.key(), f.value());  // emplace keeps the head's keys
    push(std::move(p));
}

}  // namespace toolhost::logging

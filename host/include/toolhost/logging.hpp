#pragma once
/// Host logging: Boost.Log to stderr as text or JSON lines. Plugins never link this; their log
/// calls arrive through the host services and land on channel "plugin.<tool>".

#include <toolhost/export.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

namespace toolhost::logging {

enum class level : int { trace = 0, debug = 1, info = 2, warning = 3, error = 4, off = 5 };
enum class format { text, json };

/// "trace", "debug", "info", "warning", "error", "off".
TOOLHOST_API std::optional<level> parse_level(std::string_view name) noexcept;
TOOLHOST_API std::string_view level_name(level l) noexcept;
TOOLHOST_API std::optional<format> parse_format(std::string_view name) noexcept;

/// Installs the stderr sink (replacing any earlier one). Safe to call again to change level or
/// format at run time.
TOOLHOST_API void init(level min_level, format fmt);

namespace detail {
extern TOOLHOST_API std::atomic<int> min_level;
}

/// True when a record at `l` would be written. One relaxed atomic load: the call path checks it
/// before building any message.
inline bool enabled(level l) noexcept {
    return static_cast<int>(l) >= detail::min_level.load(std::memory_order_relaxed);
}

/// One structured field of a record (tool, operation, request_id, ...).
struct field {
    template <class T>
    field(std::string_view k, T&& v) : key(k), value(std::forward<T>(v)) {}
    std::string_view key;
    boost::json::value value;
};

/// Writes one record. `channel` is e.g. "host", "loader", "plugin.echo". Fields with null
/// values are left out. Thread-safe.
TOOLHOST_API void write(level l, std::string_view channel, std::string_view message,
                        std::initializer_list<field> fields = {});
/// write() with fields made at run time (a record that came from a worker process). The keys
/// ts, level, channel and message are this record's own and are not taken from `fields`.
TOOLHOST_API void write_fields(level l, std::string_view channel, std::string_view message,
                               const boost::json::object& fields);

}  // namespace toolhost::logging

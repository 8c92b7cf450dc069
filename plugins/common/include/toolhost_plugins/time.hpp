// Time for the bundled plugins: milliseconds since the Unix epoch (UTC) inside, RFC 3339 text
// outside. Milliseconds are what SQLite stores and compares cheaply as INTEGER, and finer than
// anything a conversation or a ticket needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost::plugins::time {

/// Milliseconds since 1970-01-01T00:00:00Z.
using unix_ms = int64_t;

/// The earliest and latest instants format_rfc3339() can write (years 0000 to 9999).
inline constexpr unix_ms min_rfc3339_ms = -62167219200000;  // 0000-01-01T00:00:00.000Z
inline constexpr unix_ms max_rfc3339_ms = 253402300799999;  // 9999-12-31T23:59:59.999Z

/// Parses an RFC 3339 date-time: "2024-05-01T12:00:00Z", "2024-05-01t12:00:00.5+02:00", or with a
/// space instead of the "T" (RFC 3339 section 5.6 allows it). The offset is required: a time
/// without one is ambiguous. Fractions finer than a millisecond are truncated; a leap second
/// (":60") counts as the first millisecond after :59.999. nullopt when `text` is not valid or
/// lies outside years 0000 to 9999 in UTC; then `problem`, when given, says what is wrong in
/// words that follow a field name ("needs a zone: Z or +HH:MM").
std::optional<unix_ms> parse_rfc3339(std::string_view text, std::string_view* problem = nullptr);

/// Writes "2024-05-01T10:00:00.000Z" (UTC, always milliseconds). `t` must lie within
/// [min_rfc3339_ms, max_rfc3339_ms]; values outside are clamped.
std::string format_rfc3339(unix_ms t);

/// Writes "2024-05-01T10:00:00Z" (UTC, whole seconds; a fraction is dropped), clamped like
/// format_rfc3339().
std::string format_rfc3339_seconds(unix_ms t);

/// The real clock (std::chrono::system_clock) in milliseconds.
unix_ms now_ms() noexcept;

/// Now as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

}  // namespace toolhost::plugins::time

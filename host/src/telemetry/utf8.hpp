#pragma once
// UTF-8 checks for text the host writes out: the Prometheus format, OTLP/JSON and JSON output
// need valid UTF-8, and strings from plugins may not be.

#include <cstddef>
#include <string>
#include <string_view>

namespace toolhost::detail {

/// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
/// nothing above U+10FFFF), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;
/// `s` with every invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

}  // namespace toolhost::detail

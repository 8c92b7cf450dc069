#pragma once
/// JSON that comes from outside the process: a client's MCP message, a REST body, the arguments
/// of `toolhost call`, a plugin's nested call. Read in one pass with a nesting limit, and every
/// number either kept exactly or marked so that it is refused where its meaning is known.

#include <toolhost/export.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace toolhost {

/// The nesting limit of JSON input when nothing else is configured (serve.json_max_depth).
inline constexpr std::size_t default_json_max_depth = 64;

/// Why JSON input was refused.
struct TOOLHOST_API json_input_error {
    std::string reason;      ///< what is wrong ("syntax error", "nesting deeper than 64 levels", ...)
    std::size_t offset = 0;  ///< the byte where the text stops being acceptable (its length when it ends too early)

    /// "<reason> at offset <offset>"
    std::string to_string() const;
};

/// Parses one JSON value (whitespace around it allowed) in a single linear pass, however and
/// wherever the text is wrong: the error says where parsing stopped. Arrays and objects may nest
/// `max_depth` levels. Numbers are kept as Boost.JSON keeps them (64-bit integers exactly, the
/// rest as doubles), except that an integer beyond 64 bits that no double holds exactly
/// (123456789012345678901234567890) becomes ±infinity instead of a rounded double, like 1e309,
/// so that find_out_of_range_number() finds both where the value is used. (An integer beyond 64
/// bits that a double holds exactly, 100000000000000000000 or 2^64, is that double.)
TOOLHOST_API boost::system::result<boost::json::value, json_input_error> parse_json_input(std::string_view text,
                                                                                          std::size_t max_depth);

/// The first number in `v` (in document order) that is not finite (NaN, ±infinity: 1e309, or an
/// inexact integer beyond 64 bits read by parse_json_input), as a JSON pointer from `v` ("" for
/// `v` itself); nullopt when there is none. JSON cannot carry such a number, so a caller refuses
/// it.
TOOLHOST_API std::optional<std::string> find_out_of_range_number(const boost::json::value& v);

/// What is wrong with the number find_out_of_range_number() found, for messages.
inline constexpr std::string_view out_of_range_number_message =
    "number out of range: beyond what a 64-bit integer or a double holds (an integer beyond 64 bits must be "
    "exactly a double, any number at most about 1.8e308); send such a value as a string";

}  // namespace toolhost

#pragma once
// What the schema keywords "pattern" and "format" check in a string, without valijson.
//
// valijson 1.0 matches both with std::regex, whose libstdc++ matcher recurses once per character:
// a 50,000-character string against "^[a-z]+$" overflows an 8 MiB thread stack, so one argument
// from a client could end the process. Patterns here run on Boost.Regex, whose matcher keeps its
// backtracking state on the heap within fixed bounds and gives up (too_complex) instead of
// recursing or running for minutes; the formats are parsed by hand.

#include <boost/system/result.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace toolhost::detail {

// RFC 3339 section 5.6, as JSON Schema's "date", "time" and "date-time" formats mean them:
// full-date (a four-digit year, a day that exists in its month, leap years counted), full-time
// (seconds 00-60, an optional fraction, "Z" or a numeric offset) and the two joined by "T";
// "T" and "Z" may be lower case.
bool is_rfc3339_date(std::string_view s) noexcept;
bool is_rfc3339_time(std::string_view s) noexcept;
bool is_rfc3339_date_time(std::string_view s) noexcept;

// An ECMAScript-syntax regular expression as JSON Schema's "pattern" uses it: unanchored search,
// "^" and "$" only at the ends of the string, "." not matching line breaks. It works on bytes
// (as valijson's std::regex did), so "." matches one byte of a multi-byte UTF-8 character.
class ecma_regex {
public:
    enum class outcome { match, no_match, too_complex };

    static boost::system::result<ecma_regex, std::string> compile(std::string_view pattern);

    // too_complex when the matcher reached Boost.Regex's bound on backtracking states or memory
    // (BOOST_REGEX_MAX_STATE_COUNT, BOOST_REGEX_MAX_BLOCKS) before it knew.
    outcome search(std::string_view s) const;

    const std::string& pattern() const noexcept;

private:
    struct impl;
    explicit ecma_regex(std::shared_ptr<const impl> p) noexcept : impl_(std::move(p)) {}
    std::shared_ptr<const impl> impl_;  // shared by copies; Boost.Regex matches are const-safe
};

}  // namespace toolhost::detail

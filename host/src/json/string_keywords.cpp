#include "json/string_keywords.hpp"

#include <boost/regex.hpp>

#include <stdexcept>

namespace toolhost::detail {
namespace {

// Reads exactly `digits` ASCII digits at s[pos...] into `out`.
bool read_number(std::string_view s, std::size_t pos, std::size_t digits, int& out) noexcept {
    if (pos + digits > s.size()) return false;
    int n = 0;
    for (std::size_t i = pos; i < pos + digits; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        n = n * 10 + (s[i] - '0');
    }
    out = n;
    return true;
}

bool is_leap_year(int year) noexcept { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// full-date = date-fullyear "-" date-month "-" date-mday, 10 characters.
bool date_part(std::string_view s) noexcept {
    int year = 0, month = 0, day = 0;
    return s.size() == 10 && read_number(s, 0, 4, year) && s[4] == '-' && read_number(s, 5, 2, month) && s[7] == '-' &&
           read_number(s, 8, 2, day) && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

}  // namespace

bool is_rfc3339_date(std::string_view s) noexcept { return date_part(s); }

bool is_rfc3339_time(std::string_view s) noexcept {
    // partial-time = HH ":" MM ":" SS [ "." 1*DIGIT ]
    int hour = 0, minute = 0, second = 0;
    if (!(s.size() >= 8 && read_number(s, 0, 2, hour) && s[2] == ':' && read_number(s, 3, 2, minute) && s[5] == ':' &&
          read_number(s, 6, 2, second) && hour <= 23 && minute <= 59 && second <= 60))
        return false;
    std::size_t pos = 8;
    if (pos < s.size() && s[pos] == '.') {
        const std::size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        if (pos == start) return false;
    }
    // time-offset = "Z" / ("+" / "-") HH ":" MM
    std::string_view offset = s.substr(pos);
    if (offset == "Z" || offset == "z") return true;
    int offset_hour = 0, offset_minute = 0;
    return offset.size() == 6 && (offset[0] == '+' || offset[0] == '-') && read_number(offset, 1, 2, offset_hour) &&
           offset[3] == ':' && read_number(offset, 4, 2, offset_minute) && offset_hour <= 23 && offset_minute <= 59;
}

bool is_rfc3339_date_time(std::string_view s) noexcept {
    return s.size() > 11 && date_part(s.substr(0, 10)) && (s[10] == 'T' || s[10] == 't') &&
           is_rfc3339_time(s.substr(11));
}

struct ecma_regex::impl {
    std::string pattern;
    boost::regex re;
};

boost::system::result<ecma_regex, std::string> ecma_regex::compile(std::string_view pattern) {
    try {
        // no_mod_m: "^" and "$" at the ends of the string only (Boost's Perl default is per line).
        auto p = std::make_shared<impl>(
            impl{std::string(pattern),
                 boost::regex(pattern.begin(), pattern.end(), boost::regex::ECMAScript | boost::regex::no_mod_m)});
        return ecma_regex(std::move(p));
    } catch (const boost::regex_error& e) {
        return std::string(e.what());
    } catch (const std::runtime_error& e) {  // e.g. a pattern too large for the engine
        return std::string(e.what());
    }
}

ecma_regex::outcome ecma_regex::search(std::string_view s) const {
    try {
        return boost::regex_search(s.begin(), s.end(), impl_->re, boost::match_not_dot_newline) ? outcome::match
                                                                                                : outcome::no_match;
    } catch (const std::runtime_error&) {
        // Boost.Regex's bounds: "complexity of matching ... exceeded" or "ran out of stack space".
        return outcome::too_complex;
    }
}

const std::string& ecma_regex::pattern() const noexcept { return impl_->pattern; }

}  // namespace toolhost::detail

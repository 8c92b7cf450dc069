#include "toolhost_plugins/time.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace toolhost::plugins::time {

namespace chr = std::chrono;

namespace {

// Reads exactly `count` digits at `pos` (advancing it); nullopt if any is not a digit.
std::optional<int> digits(std::string_view s, size_t& pos, size_t count) {
    if (pos + count > s.size()) return std::nullopt;
    int v = 0;
    for (size_t i = 0; i < count; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    pos += count;
    return v;
}

bool expect(std::string_view s, size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}

struct fields {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0, offset_minutes = 0;
};

// "YYYY-MM-DDTHH:MM:SS" at the start of `s`.
bool read_date_time(std::string_view s, size_t& p, fields& f) {
    const auto year = digits(s, p, 4);
    if (!year || !expect(s, p, '-')) return false;
    const auto month = digits(s, p, 2);
    if (!month || !expect(s, p, '-')) return false;
    const auto day = digits(s, p, 2);
    if (!day || p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return false;
    ++p;
    const auto hour = digits(s, p, 2);
    if (!hour || !expect(s, p, ':')) return false;
    const auto minute = digits(s, p, 2);
    if (!minute || !expect(s, p, ':')) return false;
    const auto second = digits(s, p, 2);
    if (!second) return false;
    f.year = *year, f.month = *month, f.day = *day, f.hour = *hour, f.minute = *minute, f.second = *second;
    return true;
}

// The fraction and the zone after the seconds; the problem in words, or "" when they are fine.
std::string_view read_fraction_and_zone(std::string_view s, size_t& p, fields& f) {
    if (p < s.size() && s[p] == '.') {
        ++p;
        const size_t first = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
            if (p - first < 3) f.millis = f.millis * 10 + (s[p] - '0');
            ++p;
        }
        if (p == first) return "has a '.' without fraction digits";
        for (size_t n = p - first; n < 3; ++n) f.millis *= 10;
    }
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
        ++p;
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        const int sign = s[p] == '-' ? -1 : 1;
        ++p;
        const auto oh = digits(s, p, 2);
        const bool colon = oh && expect(s, p, ':');
        const auto om = colon ? digits(s, p, 2) : std::nullopt;
        if (!om || *oh > 23 || *om > 59) return "has an invalid zone offset (expected +HH:MM)";
        f.offset_minutes = sign * (*oh * 60 + *om);
    } else {
        return "needs a zone: Z or +HH:MM";
    }
    if (p != s.size()) return "has extra text after the date-time";
    return {};
}

std::string format(unix_ms t, bool with_millis) {
    t = std::clamp(t, min_rfc3339_ms, max_rfc3339_ms);
    const chr::sys_time<chr::milliseconds> tp{chr::milliseconds{t}};
    const auto day = chr::floor<chr::days>(tp);
    const chr::year_month_day date{day};
    const chr::hh_mm_ss<chr::milliseconds> time{tp - day};
    char buf[48];  // 24 characters for years 0000-9999; room for what the compiler cannot prove
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    std::string out(buf);
    if (with_millis) {
        std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(time.subseconds().count()));
        out += buf;
    }
    out += 'Z';
    return out;
}

}  // namespace

std::optional<unix_ms> parse_rfc3339(std::string_view s, std::string_view* problem) {
    std::string_view ignored;
    std::string_view& why = problem != nullptr ? *problem : ignored;
    size_t p = 0;
    fields f;
    if (!read_date_time(s, p, f)) {
        why = "must be a date-time like 2025-03-01T10:00:00Z";
        return std::nullopt;
    }
    why = read_fraction_and_zone(s, p, f);
    if (!why.empty()) return std::nullopt;

    const chr::year_month_day date{chr::year{f.year}, chr::month{static_cast<unsigned>(f.month)},
                                   chr::day{static_cast<unsigned>(f.day)}};
    why = "is not a valid date-time";
    if (!date.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
    const auto midnight = chr::sys_days{date}.time_since_epoch();
    const auto t = chr::duration_cast<chr::milliseconds>(midnight) + chr::hours{f.hour} +
                   chr::minutes{f.minute - f.offset_minutes} + chr::seconds{f.second} + chr::milliseconds{f.millis};
    // An offset can push the first and last days of the range out of it.
    if (t.count() < min_rfc3339_ms || t.count() > max_rfc3339_ms) return std::nullopt;
    why = {};
    return t.count();
}

std::string format_rfc3339(unix_ms t) { return format(t, true); }

std::string format_rfc3339_seconds(unix_ms t) { return format(t, false); }

unix_ms now_ms() noexcept {
    return chr::duration_cast<chr::milliseconds>(chr::system_clock::now().time_since_epoch()).count();
}

std::string utc_now() { return format_rfc3339_seconds(now_ms()); }

}  // namespace toolhost::plugins::time

#include "rfc3339.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace toolhost::plugins::memory {

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

}  // namespace

std::optional<unix_ms> parse_rfc3339(std::string_view s) {
    size_t p = 0;
    const auto year = digits(s, p, 4);
    if (!year || !expect(s, p, '-')) return std::nullopt;
    const auto month = digits(s, p, 2);
    if (!month || !expect(s, p, '-')) return std::nullopt;
    const auto day = digits(s, p, 2);
    if (!day || p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return std::nullopt;
    ++p;
    const auto hour = digits(s, p, 2);
    if (!hour || !expect(s, p, ':')) return std::nullopt;
    const auto minute = digits(s, p, 2);
    if (!minute || !expect(s, p, ':')) return std::nullopt;
    const auto second = digits(s, p, 2);
    if (!second) return std::nullopt;

    int millis = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        const size_t first = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
            if (p - first < 3) millis = millis * 10 + (s[p] - '0');
            ++p;
        }
        if (p == first) return std::nullopt;  // "." must be followed by at least one digit
        for (size_t n = p - first; n < 3; ++n) millis *= 10;
    }

    int offset_minutes = 0;
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
        ++p;
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        const int sign = s[p] == '-' ? -1 : 1;
        ++p;
        const auto oh = digits(s, p, 2);
        if (!oh || !expect(s, p, ':')) return std::nullopt;
        const auto om = digits(s, p, 2);
        if (!om || *oh > 23 || *om > 59) return std::nullopt;
        offset_minutes = sign * (*oh * 60 + *om);
    } else {
        return std::nullopt;
    }
    if (p != s.size()) return std::nullopt;

    const chr::year_month_day date{chr::year{*year}, chr::month{static_cast<unsigned>(*month)},
                                   chr::day{static_cast<unsigned>(*day)}};
    if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;

    const auto midnight = chr::sys_days{date}.time_since_epoch();
    const auto t = chr::duration_cast<chr::milliseconds>(midnight) + chr::hours{*hour} +
                   chr::minutes{*minute - offset_minutes} + chr::seconds{*second} + chr::milliseconds{millis};
    // An offset can push the first and last days of the range out of it.
    if (t.count() < min_rfc3339_ms || t.count() > max_rfc3339_ms) return std::nullopt;
    return t.count();
}

std::string format_rfc3339(unix_ms t) {
    t = std::clamp(t, min_rfc3339_ms, max_rfc3339_ms);
    const chr::sys_time<chr::milliseconds> tp{chr::milliseconds{t}};
    const auto day = chr::floor<chr::days>(tp);
    const chr::year_month_day date{day};
    const chr::hh_mm_ss<chr::milliseconds> time{tp - day};
    char buf[48];  // 24 characters for years 0000-9999; room for what the compiler cannot prove
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
    return buf;
}

unix_ms now_ms() noexcept {
    return chr::duration_cast<chr::milliseconds>(chr::system_clock::now().time_since_epoch()).count();
}

}  // namespace toolhost::plugins::memory

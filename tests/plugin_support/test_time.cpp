// The plugins' time support (plugins/common time): RFC 3339 parsing and formatting, utc_now.
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/time.hpp>

#include <string_view>

namespace ptime = toolhost::plugins::time;

namespace {
constexpr ptime::unix_ms t0 = 1714564800000;
constexpr ptime::unix_ms hour = 3600 * 1000;
constexpr ptime::unix_ms day = 24 * hour;
}  // namespace

BOOST_AUTO_TEST_SUITE(rfc3339)

BOOST_AUTO_TEST_CASE(parses_the_forms_rfc3339_allows) {
    BOOST_TEST(*ptime::parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    BOOST_TEST(*ptime::parse_rfc3339("2024-05-01T12:00:00Z") == t0);
    BOOST_TEST(*ptime::parse_rfc3339("2024-05-01T14:30:00+02:30") == t0);
    BOOST_TEST(*ptime::parse_rfc3339("2024-05-01T09:00:00-03:00") == t0);
    BOOST_TEST(*ptime::parse_rfc3339("2024-05-01t12:00:00.5z") == t0 + 500);
    BOOST_TEST(*ptime::parse_rfc3339("2024-05-01 12:00:00.123987Z") == t0 + 123);  // truncated to ms
    BOOST_TEST(*ptime::parse_rfc3339("2024-02-29T00:00:00Z") == *ptime::parse_rfc3339("2024-03-01T00:00:00Z") - day);
    BOOST_TEST(*ptime::parse_rfc3339("2016-12-31T23:59:60Z") == *ptime::parse_rfc3339("2017-01-01T00:00:00Z"));
    BOOST_TEST(*ptime::parse_rfc3339("0000-01-01T00:00:00Z") == ptime::min_rfc3339_ms);
    BOOST_TEST(*ptime::parse_rfc3339("9999-12-31T23:59:59.999Z") == ptime::max_rfc3339_ms);
}

BOOST_AUTO_TEST_CASE(rejects_everything_else) {
    for (const char* bad :
         {"", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00Z", "2024-5-01T12:00:00Z", "2024-05-01T12:00:00.Z",
          "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00+24:00", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
          "2024-05-01T12:00:61Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-00T00:00:00Z",
          "2024-05-01T12:00:00Z ", "2024-05-01X12:00:00Z", "yesterday", "0000-01-01T00:00:00+00:01",
          "9999-12-31T23:59:59-00:01"}) {
        BOOST_TEST(!ptime::parse_rfc3339(bad).has_value(), "accepted \"" << bad << "\"");
    }
}

BOOST_AUTO_TEST_CASE(formats_utc_with_milliseconds_and_round_trips) {
    BOOST_TEST(ptime::format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
    BOOST_TEST(ptime::format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    BOOST_TEST(ptime::format_rfc3339(t0 + 7) == "2024-05-01T12:00:00.007Z");
    BOOST_TEST(ptime::format_rfc3339(ptime::min_rfc3339_ms) == "0000-01-01T00:00:00.000Z");
    BOOST_TEST(ptime::format_rfc3339(ptime::max_rfc3339_ms) == "9999-12-31T23:59:59.999Z");
    for (ptime::unix_ms t : {ptime::unix_ms{0}, t0, t0 + 999, -day - 1, ptime::min_rfc3339_ms, ptime::max_rfc3339_ms})
        BOOST_TEST(*ptime::parse_rfc3339(ptime::format_rfc3339(t)) == t);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rfc3339_problems)

BOOST_AUTO_TEST_CASE(say_what_is_wrong) {
    const auto problem = [](std::string_view text) {
        std::string_view why;
        BOOST_TEST(!ptime::parse_rfc3339(text, &why).has_value(), text);
        return std::string(why);
    };
    BOOST_TEST(problem("yesterday") == "must be a date-time like 2025-03-01T10:00:00Z");
    BOOST_TEST(problem("2025-02-03T10:00:00") == "needs a zone: Z or +HH:MM");
    BOOST_TEST(problem("2025-02-03T10:00:00+0100") == "has an invalid zone offset (expected +HH:MM)");
    BOOST_TEST(problem("2025-02-03T10:00:00.Z") == "has a '.' without fraction digits");
    BOOST_TEST(problem("2025-02-03T10:00:00Z!") == "has extra text after the date-time");
    BOOST_TEST(problem("2025-02-30T10:00:00Z") == "is not a valid date-time");
    std::string_view why = "unchanged?";
    BOOST_TEST(ptime::parse_rfc3339("2025-02-03T10:00:00Z", &why).has_value());
    BOOST_TEST(why.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seconds_and_now)

BOOST_AUTO_TEST_CASE(whole_seconds_drop_the_fraction) {
    BOOST_TEST(ptime::format_rfc3339_seconds(t0 + 999) == "2024-05-01T12:00:00Z");
    BOOST_TEST(ptime::format_rfc3339_seconds(0) == "1970-01-01T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(utc_now_is_now_in_whole_seconds) {
    const ptime::unix_ms before = ptime::now_ms() / 1000 * 1000;
    const std::string now = ptime::utc_now();
    const ptime::unix_ms after = ptime::now_ms();
    BOOST_TEST(now.size() == 20u);
    const auto parsed = ptime::parse_rfc3339(now);
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST(*parsed >= before);
    BOOST_TEST(*parsed <= after);
}

BOOST_AUTO_TEST_SUITE_END()

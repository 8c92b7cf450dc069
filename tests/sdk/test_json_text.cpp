// toolhost/json_text.hpp, the project's one JSON serializer: byte for byte what Boost.JSON writes
// but for doubles, which come out in the shortest form that reads back to the same value.
#define BOOST_TEST_MODULE json_text
#include <boost/test/unit_test.hpp>

#include <toolhost/json_text.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace json = boost::json;
using toolhost::json_text;

BOOST_AUTO_TEST_CASE(doubles_are_written_as_people_write_them) {
    BOOST_TEST(json_text(json::value(0.6)) == "0.6");
    BOOST_TEST(json_text(json::value(1.4)) == "1.4");
    BOOST_TEST(json_text(json::value(3.2010905023064775)) == "3.2010905023064775");
    BOOST_TEST(json_text(json::value(0.0)) == "0");
    BOOST_TEST(json_text(json::value(-0.0)) == "-0");
    BOOST_TEST(json_text(json::value(3.0)) == "3");
    BOOST_TEST(json_text(json::value(-2.5)) == "-2.5");
    BOOST_TEST(json_text(json::value(1e21)) == "1e+21");
    BOOST_TEST(json_text(json::value(123456.789)) == "123456.789");
    BOOST_TEST(json_text(json::value(0.1 + 0.2)) == "0.30000000000000004");
    BOOST_TEST(json_text(json::value(std::numeric_limits<double>::quiet_NaN())) == "null");
    BOOST_TEST(json_text(json::value(std::numeric_limits<double>::infinity())) == "null");
    BOOST_TEST(json_text(json::value(-std::numeric_limits<double>::infinity())) == "null");
    BOOST_TEST(json_text(json::object{{"score", 0.25}, {"items", json::array{1.5, 2, -0.125}}}) ==
               R"({"score":0.25,"items":[1.5,2,-0.125]})");
}

BOOST_AUTO_TEST_CASE(every_finite_double_reads_back_the_same) {
    std::mt19937_64 rng(20261203);  // fixed seed: the same doubles every run
    const double specials[] = {std::numeric_limits<double>::min(),
                               std::numeric_limits<double>::max(),
                               std::numeric_limits<double>::denorm_min(),
                               std::numeric_limits<double>::epsilon(),
                               -std::numeric_limits<double>::max(),
                               1e-7,
                               9007199254740993.0};
    // Read back with a correctly rounded reader (as JavaScript's and Python's are); Boost.JSON
    // 1.81's own parser trades the last bit for speed on long mantissas, whatever wrote them.
    auto check = [](double d) {
        const std::string text = json_text(json::value(d));
        BOOST_TEST_REQUIRE(json::parse(text).is_number(), text);
        double back = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), back);
        BOOST_TEST_REQUIRE((r.ec == std::errc() && r.ptr == text.data() + text.size()), text);
        BOOST_TEST(back == d, text);
    };
    for (double d : specials) check(d);
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t bits = rng();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        if (std::isfinite(d)) check(d);
    }
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int i = 0; i < 10000; ++i) check(unit(rng));
}

BOOST_AUTO_TEST_CASE(everything_but_doubles_is_what_boost_json_writes) {
    std::string every_byte;
    for (int c = 1; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
    every_byte.push_back('\0');
    const json::value values[] = {
        nullptr,
        true,
        false,
        0,
        -1,
        std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::int64_t>::max(),
        std::numeric_limits<std::uint64_t>::max(),
        "",
        "plain",
        "quote \" backslash \\ slash / tab \t newline \n nul",
        json::string(every_byte),
        "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",
        json::array{},
        json::object{},
        json::parse(R"({"a":[1,{"b":null,"c":[true,false]},"x"],"":{"nested":{"deeper":[[],{}]}}})"),
    };
    for (const auto& v : values) BOOST_TEST(json_text(v) == json::serialize(v));
    BOOST_TEST(json_text(std::string_view("a\"b")) == R"("a\"b")");
}

BOOST_AUTO_TEST_CASE(writes_into_any_sink_with_append_and_push_back) {
    struct counting_sink {
        std::string text;
        int appends = 0;
        void append(const char* p, std::size_t n) { text.append(p, n), ++appends; }
        void push_back(char c) { text.push_back(c); }
    } sink;
    toolhost::write_json(sink, json::value{{"k", 0.5}});
    BOOST_TEST(sink.text == R"({"k":0.5})");
    BOOST_TEST(sink.appends > 0);
}

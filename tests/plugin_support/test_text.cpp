// toolhost_plugin_text: UTF-8 clean-up and HTML to text.
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/text.hpp>

#include "test_support.hpp"

namespace text = toolhost::plugins::text;
using toolhost::test::contains;

BOOST_AUTO_TEST_SUITE(utf8)

BOOST_AUTO_TEST_CASE(validates_counts_and_cuts_on_character_boundaries) {
    BOOST_TEST(text::is_valid_utf8("h\xC3\xA9llo"));
    BOOST_TEST(!text::is_valid_utf8("h\xC3llo"));
    BOOST_TEST(text::is_valid_utf8(text::sanitize_utf8("h\xC3llo\xFF")));
    BOOST_TEST(text::count_chars("h\xC3\xA9llo") == 5u);
    BOOST_TEST(text::truncate_chars("h\xC3\xA9llo", 2) == "h\xC3\xA9");
    std::string out;
    text::append_utf8(out, U'\u20AC');
    BOOST_TEST(out == "\xE2\x82\xAC");
}

BOOST_AUTO_TEST_CASE(words_are_split_on_white_space) {
    const auto w = text::words(" \tcharged\ntwice\f\v  again ");
    BOOST_TEST(w.size() == 3u);
    BOOST_TEST(w[0] == "charged");
    BOOST_TEST(w[2] == "again");
    BOOST_TEST(text::words(" \r\n ").empty());
}

BOOST_AUTO_TEST_CASE(search_words_are_split_again_at_control_characters) {
    const auto w = text::search_words(std::string("refund\x01policy  caf\xc3\xa9\0x \x7f", 24));
    BOOST_TEST(w == (std::vector<std::string>{"refund", "policy", "caf\xc3\xa9", "x"}),
               boost::test_tools::per_element());
    BOOST_TEST(text::search_words("\x02\x03 ").empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(html)

BOOST_AUTO_TEST_CASE(keeps_the_words_and_drops_markup_and_scripts) {
    const std::string t =
        text::html_to_text("<html><head><script>var x = 1;</script></head><body><p>Fish &amp; chips</p></body></html>");
    BOOST_TEST(contains(t, "Fish & chips"), t);
    BOOST_TEST(!contains(t, "var x"), t);
    BOOST_TEST(!contains(t, "<p>"), t);
}

BOOST_AUTO_TEST_SUITE_END()

// Text helpers shared by the plugins that turn documents into text (rag, attachment).
//
// Everything here works on UTF-8 and never throws on malformed input: invalid bytes become
// U+FFFD, because text extracted from arbitrary files must still be valid in a JSON result and
// in an FTS5 index. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::text {

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// `s` with every malformed UTF-8 sequence replaced by U+FFFD, and NUL bytes dropped (they end
/// C strings in many consumers and carry no meaning in text).
std::string sanitize_utf8(std::string_view s);

/// Number of code points in well-formed UTF-8 (counts lead bytes).
size_t count_chars(std::string_view utf8) noexcept;

/// The longest prefix of `utf8` with at most `max_chars` code points; never splits a code point.
std::string_view truncate_chars(std::string_view utf8, size_t max_chars) noexcept;

/// The white-space separated words of `text` (white space as std::isspace in the C locale),
/// pointing into `text`.
std::vector<std::string_view> words(std::string_view text);

/// The words a full-text search looks for, each to be matched as a literal: the white-space
/// separated words of `query`, split again at control characters (full-text tokenizers separate
/// tokens there anyway, and FTS5 reads its query as C text, which a NUL would end).
std::vector<std::string> search_words(std::string_view query);

/// Appends the UTF-8 encoding of `cp` (U+FFFD for surrogates and values above U+10FFFF).
void append_utf8(std::string& out, char32_t cp);

/// Reduces an HTML document to readable text: tags, comments and the contents of script, style
/// and template elements are dropped; block elements (p, div, li, h1-h6, tr, br, ...) become
/// line breaks; character references (&amp;, &#233;, &#x20AC;, common named ones) are decoded;
/// runs of white space collapse to one space except inside <pre>. Tolerates broken markup: an
/// unterminated tag or comment swallows the rest, as a browser would. The result is valid
/// UTF-8 (the input is sanitized first).
std::string html_to_text(std::string_view html);

}  // namespace toolhost::plugins::text

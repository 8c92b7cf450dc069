#include "toolhost_plugins/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <utility>

namespace toolhost::plugins::text {

namespace {

constexpr char32_t replacement = 0xFFFD;

// Decodes one code point at s[i]. Returns its length in bytes, or 0 when the bytes there are
// not a well-formed sequence (the caller then consumes one byte as U+FFFD, as the WHATWG
// decoder does for the first byte of a bad sequence).
size_t decode(std::string_view s, size_t i, char32_t& cp) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    size_t len = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    char32_t cp = 0;
    for (size_t i = 0; i < s.size();) {
        const size_t n = decode(s, i, cp);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = replacement;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    char32_t cp = 0;
    for (size_t i = 0; i < s.size();) {
        const size_t n = decode(s, i, cp);
        if (n == 0) {
            append_utf8(out, replacement);
            ++i;
        } else {
            if (cp != 0) out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

size_t count_chars(std::string_view utf8) noexcept {
    return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) { return !is_continuation(c); }));
}

std::string_view truncate_chars(std::string_view utf8, size_t max_chars) noexcept {
    size_t chars = 0;
    for (size_t i = 0; i < utf8.size(); ++i) {
        if (is_continuation(utf8[i])) continue;
        if (chars == max_chars) return utf8.substr(0, i);
        ++chars;
    }
    return utf8;
}

// ------------------------------------------------------------------------------------- HTML

namespace {

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// How a tag breaks the flow of text.
enum class brk { none = 0, space = 1, line = 2, paragraph = 3 };

brk break_of(std::string_view tag) noexcept {
    static constexpr std::array<std::string_view, 6> line{"br", "li", "tr", "dt", "dd", "option"};
    static constexpr std::array<std::string_view, 33> paragraph{
        "p",          "div",  "h1",       "h2",    "h3",         "h4",     "h5",      "h6",      "ul",
        "ol",         "dl",   "table",    "thead", "tbody",      "tfoot",  "section", "article", "header",
        "footer",     "nav",  "main",     "aside", "blockquote", "pre",    "hr",      "address", "figure",
        "figcaption", "form", "fieldset", "title", "caption",    "details"};
    static constexpr std::array<std::string_view, 3> space{"td", "th", "img"};
    auto in = [&](const auto& list) {
        return std::any_of(list.begin(), list.end(), [&](std::string_view t) { return ascii_iequals(t, tag); });
    };
    if (in(line)) return brk::line;
    if (in(paragraph)) return brk::paragraph;
    if (in(space)) return brk::space;
    return brk::none;
}

// Elements whose content is not text for a reader.
bool is_raw_text_element(std::string_view tag) noexcept {
    return ascii_iequals(tag, "script") || ascii_iequals(tag, "style") || ascii_iequals(tag, "template") ||
           ascii_iequals(tag, "noscript");
}

char32_t named_entity(std::string_view name) noexcept {
    static constexpr std::pair<std::string_view, char32_t> table[] = {
        {"amp", U'&'},     {"lt", U'<'},      {"gt", U'>'},      {"quot", U'"'},    {"apos", U'\''},
        {"nbsp", U' '},    {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
        {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
        {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"euro", 0x20AC},  {"pound", 0xA3},
        {"yen", 0xA5},     {"cent", 0xA2},    {"deg", 0xB0},     {"middot", 0xB7},  {"bull", 0x2022},
        {"times", 0xD7},   {"divide", 0xF7},  {"para", 0xB6},    {"sect", 0xA7},    {"eacute", 0xE9},
        {"egrave", 0xE8},  {"agrave", 0xE0},  {"ccedil", 0xE7},  {"uuml", 0xFC},    {"ouml", 0xF6},
        {"auml", 0xE4},    {"szlig", 0xDF},   {"rarr", 0x2192},  {"larr", 0x2190},  {"check", 0x2713},
    };
    for (const auto& [n, cp] : table)
        if (n == name) return cp;
    return 0;
}

// Decodes the character reference starting at html[i] == '&'. On success appends it to `out`
// and returns the number of bytes consumed; returns 0 when it is not a reference we know (the
// '&' is then kept as text, as browsers do).
size_t decode_entity(std::string_view html, size_t i, std::string& out) {
    const size_t semi = html.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 12) return 0;
    const std::string_view body = html.substr(i + 1, semi - i - 1);
    if (body.empty()) return 0;
    char32_t cp = 0;
    if (body[0] == '#') {
        const bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
        const std::string_view digits = body.substr(hex ? 2 : 1);
        if (digits.empty()) return 0;
        for (char c : digits) {
            const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                          : hex && std::isxdigit(static_cast<unsigned char>(c))
                              ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                              : -1;
            if (d < 0) return 0;
            cp = cp * (hex ? 16 : 10) + static_cast<char32_t>(d);
            if (cp > 0x10FFFF) cp = 0x110000;  // saturate; encoded as U+FFFD
        }
        if (cp == 0) cp = replacement;
    } else {
        cp = named_entity(body);
        if (cp == 0) return 0;
    }
    append_utf8(out, cp);
    return semi - i + 1;
}

// Builds the text: collapses white space and turns pending breaks into at most one blank line.
class text_builder {
public:
    void add_break(brk b) noexcept { pending_ = std::max(pending_, b); }
    void add_text(std::string_view s, bool preformatted) {
        for (char c : s) {
            if (!preformatted && is_space(c)) {
                add_break(brk::space);
                continue;
            }
            if (c == '\r') continue;  // CR LF and lone CR in <pre>: LF is the line break we keep
            flush();
            out_ += c;
        }
    }
    std::string take() && { return std::move(out_); }

private:
    void flush() {
        if (!out_.empty()) {
            switch (pending_) {
            case brk::none: break;
            case brk::space: out_ += ' '; break;
            case brk::line: out_ += '\n'; break;
            case brk::paragraph: out_ += "\n\n"; break;
            }
        }
        pending_ = brk::none;
    }
    std::string out_;
    brk pending_ = brk::none;
};

// Index just past the '>' that closes the tag opened at html[i] == '<', honouring quoted
// attribute values (which may contain '>'); html.size() when unterminated.
size_t tag_end(std::string_view html, size_t i) noexcept {
    char quote = 0;
    for (size_t k = i + 1; k < html.size(); ++k) {
        const char c = html[k];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return k + 1;
        }
    }
    return html.size();
}

// Index of the "</name" that closes a raw-text element, or html.size().
size_t raw_text_end(std::string_view html, size_t from, std::string_view name) noexcept {
    for (size_t k = html.find("</", from); k != std::string_view::npos; k = html.find("</", k + 2)) {
        if (k + 2 + name.size() <= html.size() && ascii_iequals(html.substr(k + 2, name.size()), name)) return k;
    }
    return html.size();
}

}  // namespace

std::string html_to_text(std::string_view raw) {
    const std::string clean = sanitize_utf8(raw);
    const std::string_view html = clean;
    text_builder out;
    int pre_depth = 0;
    std::string decoded;
    size_t i = 0;
    while (i < html.size()) {
        const char c = html[i];
        if (c == '&') {
            decoded.clear();
            if (const size_t n = decode_entity(html, i, decoded)) {
                out.add_text(decoded, pre_depth > 0);
                i += n;
            } else {
                out.add_text("&", pre_depth > 0);
                ++i;
            }
            continue;
        }
        if (c != '<') {
            const size_t next = html.find_first_of("<&", i);
            const size_t end = next == std::string_view::npos ? html.size() : next;
            out.add_text(html.substr(i, end - i), pre_depth > 0);
            i = end;
            continue;
        }
        if (html.substr(i, 4) == "<!--") {
            const size_t end = html.find("-->", i + 4);
            i = end == std::string_view::npos ? html.size() : end + 3;
            continue;
        }
        const bool closing = i + 1 < html.size() && html[i + 1] == '/';
        const size_t name_begin = i + (closing ? 2 : 1);
        if (name_begin < html.size() && (html[name_begin] == '!' || html[name_begin] == '?')) {
            i = tag_end(html, i);  // doctype, CDATA-ish, processing instruction
            continue;
        }
        if (name_begin >= html.size() || !std::isalpha(static_cast<unsigned char>(html[name_begin]))) {
            out.add_text("<", pre_depth > 0);  // a lone '<' in text, e.g. "a < b"
            ++i;
            continue;
        }
        size_t name_end = name_begin;
        while (name_end < html.size() &&
               (std::isalnum(static_cast<unsigned char>(html[name_end])) || html[name_end] == '-'))
            ++name_end;
        const std::string_view name = html.substr(name_begin, name_end - name_begin);
        i = tag_end(html, i);
        out.add_break(break_of(name));
        if (ascii_iequals(name, "pre")) pre_depth = std::max(0, pre_depth + (closing ? -1 : 1));
        if (!closing && is_raw_text_element(name)) {
            const size_t close = raw_text_end(html, i, name);
            i = close == html.size() ? close : tag_end(html, close);
        }
    }
    return std::move(out).take();
}

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        if (j > i) out.push_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

std::vector<std::string> search_words(std::string_view query) {
    std::vector<std::string> out;
    for (std::string_view word : words(query)) {
        std::size_t start = 0;
        for (std::size_t i = 0; i <= word.size(); ++i) {
            const bool control = i < word.size() && (static_cast<unsigned char>(word[i]) < 0x20 || word[i] == 0x7f);
            if (i < word.size() && !control) continue;
            if (i > start) out.emplace_back(word.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

}  // namespace toolhost::plugins::text

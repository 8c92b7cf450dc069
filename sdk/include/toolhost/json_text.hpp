// toolhost JSON text — header-only, C++20, needs the Boost.JSON (1.81) headers.
//
// The one JSON serializer of the project: the host, serving, the command line and the bundled
// plugins write every JSON value they print or send with it, and plugin authors who build their
// results with Boost.JSON may use it too.
//
// It writes what boost::json::serialize writes, byte for byte, except numbers of type double:
// those are written in the shortest form that reads back to the same double (`0.6`, `1.4`,
// `3.2010905023064775`, `0`, `1e+21`), as JavaScript's JSON.stringify does, where Boost.JSON 1.81
// writes `6E-1`, `1.4E0`, `3.2010905023064775E0`, `0E0`. Valid JSON either way, but people and
// language models read these results. A double with an integral value is written without a
// fraction (`3`), so it reads back as an integer: read numbers with `to_number<double>()`, not
// `as_double()`. JSON has no NaN or infinity; they are written as `null`.
#ifndef TOOLHOST_JSON_TEXT_HPP
#define TOOLHOST_JSON_TEXT_HPP

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace toolhost {

namespace detail::json_text {

// Characters that JSON strings cannot hold as they are: '"', '\\' and the controls below 0x20.
// The table is indexed by the byte; 0 means "copy".
inline constexpr char escape_of(unsigned char c) noexcept {
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\f': return 'f';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    default: return c < 0x20 ? 'u' : 0;
    }
}

template <class Out>
void append_string(Out& out, std::string_view s) {
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const char e = escape_of(c);
        if (e == 0) continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        out.push_back('\\');
        out.push_back(e);
        if (e == 'u') {
            static constexpr char hex[] = "0123456789abcdef";
            out.append("00", 2);
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

template <class Out, class Number>
void append_integer(Out& out, Number n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

template <class Out>
void append_double(Out& out, double d) {
    if (!std::isfinite(d)) {
        out.append("null", 4);
        return;
    }
    // std::to_chars without a format gives the shortest text that round-trips, choosing fixed
    // or scientific notation by length: exactly the JSON.stringify form but for its exponent
    // ("1e+21" either way, "1e-07" where JavaScript writes "1e-7"; both are valid JSON).
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace detail::json_text

// `Out` is anything with append(const char*, std::size_t) and push_back(char): std::string, or a
// fixed buffer for a path that must not allocate.
template <class Out>
void write_json(Out& out, const boost::json::value& v);

/// Appends the JSON text of an array to `out`.
template <class Out>
void write_json(Out& out, const boost::json::array& a) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : a) {
        if (!first) out.push_back(',');
        first = false;
        write_json(out, e);
    }
    out.push_back(']');
}

/// Appends the JSON text of an object to `out`, members in their order.
template <class Out>
void write_json(Out& out, const boost::json::object& o) {
    out.push_back('{');
    bool first = true;
    for (const auto& m : o) {
        if (!first) out.push_back(',');
        first = false;
        detail::json_text::append_string(out, m.key());
        out.push_back(':');
        write_json(out, m.value());
    }
    out.push_back('}');
}

/// Appends a string as a JSON string literal (quoted and escaped) to `out`.
template <class Out>
void write_json(Out& out, std::string_view s) {
    detail::json_text::append_string(out, s);
}
template <class Out>
void write_json(Out& out, const boost::json::string& s) {
    detail::json_text::append_string(out, std::string_view(s.data(), s.size()));
}

/// Appends the JSON text of a value to `out`.
template <class Out>
void write_json(Out& out, const boost::json::value& v) {
    switch (v.kind()) {
    case boost::json::kind::null: out.append("null", 4); return;
    case boost::json::kind::bool_: v.get_bool() ? out.append("true", 4) : out.append("false", 5); return;
    case boost::json::kind::int64: detail::json_text::append_integer(out, v.get_int64()); return;
    case boost::json::kind::uint64: detail::json_text::append_integer(out, v.get_uint64()); return;
    case boost::json::kind::double_: detail::json_text::append_double(out, v.get_double()); return;
    case boost::json::kind::string: write_json(out, v.get_string()); return;
    case boost::json::kind::array: write_json(out, v.get_array()); return;
    case boost::json::kind::object: write_json(out, v.get_object()); return;
    }
}

/// The JSON text of a value, an object, an array or a string.
template <class Json>
std::string json_text(const Json& v) {
    std::string out;
    write_json(out, v);
    return out;
}

}  // namespace toolhost

#endif  // TOOLHOST_JSON_TEXT_HPP

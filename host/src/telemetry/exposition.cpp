#include "telemetry/exposition.hpp"

#include "telemetry/utf8.hpp"

#include <boost/json/string.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace toolhost::detail {

/// Appends `s` escaped for the exposition format. Label values escape backslash, double quote
/// and newline; help text escapes backslash and newline. Bytes that are not UTF-8 become U+FFFD,
/// because the format (and Prometheus) require UTF-8.
void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && escape_quote) {
            out += "\\\"";
        } else {
            const std::size_t len = utf8_sequence_length(s, i);
            if (len == 0) {
                out += "\xEF\xBF\xBD";
                ++i;
                continue;
            }
            out.append(s.substr(i, len));
            i += len;
            continue;
        }
        ++i;
    }
}

/// Shortest text that reads back as the same double, %g style (0.0001, 5e-05, 30: as the Go
/// client writes them, which matters for "le", a label that older Prometheus versions compare
/// as a string); Prometheus spellings for non-finite values.
void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
        out.append(buf, r.ptr);
    }
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

boost::json::value json_double(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return v;
}

/// `{a="x",b="y"` with the closing brace left to the caller (histograms add le), or nothing
/// for an unlabelled sample without extra labels.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name, std::string_view extra_value) {
    if (names.empty() && extra_name.empty()) return;
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        append_escaped(out, values[i], true);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void append_header(std::string& out, const metric_family& f, std::string_view type) {
    if (!f.help().empty()) {
        out += "# HELP ";
        out += f.name();
        out += ' ';
        append_escaped(out, f.help(), false);
        out += '\n';
    }
    out += "# TYPE ";
    out += f.name();
    out += ' ';
    out += type;
    out += '\n';
}

boost::json::object json_labels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
    boost::json::object o;
    for (std::size_t i = 0; i < names.size(); ++i) o[names[i]] = sanitize_utf8(values[i]);
    return o;
}

}  // namespace toolhost::detail

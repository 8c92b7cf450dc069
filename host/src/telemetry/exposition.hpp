#pragma once
// Writing metrics out: the Prometheus text format's escaping, numbers and label sets, and the
// JSON form's labels. Internal to the host library (metrics.cpp, metric_families.cpp).

#include <toolhost/metrics.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::detail {

/// Appends `s` escaped for a label value (`escape_quote`) or a HELP text.
void append_escaped(std::string& out, std::string_view s, bool escape_quote);
/// Shortest text that reads back as the same double, %g style; Prometheus spellings for
/// non-finite values.
void append_double(std::string& out, double v);
void append_uint(std::string& out, std::uint64_t v);
/// A double for the JSON form (non-finite values as strings).
boost::json::value json_double(double v);
inline double ns_to_seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }
/// `{a="x",b="y"}`, with an extra label when given, or nothing for an unlabelled sample.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {});
/// The `# HELP` and `# TYPE` lines of a family.
void append_header(std::string& out, const metric_family& f, std::string_view type);
boost::json::object json_labels(const std::vector<std::string>& names, const std::vector<std::string>& values);

}  // namespace toolhost::detail

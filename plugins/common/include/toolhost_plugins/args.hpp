// Reading a call's JSON arguments (and a tool's JSON configuration) with Boost.JSON, with errors
// that name the field: every accessor throws toolhost::sdk::error(INVALID_ARGUMENT, "<field>: ...").
// The host has already validated the arguments against the operation's input schema, so these
// checks are the second line of defence (and the first for rules a schema cannot express).
#pragma once

#include <boost/json.hpp>
#include <toolhost/json_text.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toolhost/plugin.hpp>

namespace toolhost::plugins {

/// Throws INVALID_ARGUMENT "<field>: <message>".
[[noreturn]] void invalid_argument(std::string_view field, std::string_view message);

class args {
public:
    /// Parses `json`, which must be an object; `what` names it in errors ("arguments", "config").
    explicit args(std::string_view json, std::string_view what = "arguments");
    explicit args(boost::json::object obj) : obj_(std::move(obj)) {}

    const boost::json::object& object() const noexcept { return obj_; }
    bool has(std::string_view field) const noexcept;

    std::string required_string(std::string_view field) const;
    std::optional<std::string> optional_string(std::string_view field) const;
    std::string string_or(std::string_view field, std::string_view fallback) const;

    int64_t required_int(std::string_view field) const;
    std::optional<int64_t> optional_int(std::string_view field) const;
    /// Also checks min <= value <= max.
    int64_t int_or(std::string_view field, int64_t fallback, int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;

    std::optional<double> optional_number(std::string_view field) const;
    double number_or(std::string_view field, double fallback) const;

    std::optional<bool> optional_bool(std::string_view field) const;
    bool bool_or(std::string_view field, bool fallback) const;

    /// An array of strings (absent → empty).
    std::vector<std::string> string_list(std::string_view field) const;
    /// An array of strings as paths; `fallback` when the field is absent (an empty array stays
    /// empty: it means "none", not "the default").
    std::vector<std::filesystem::path> path_list(std::string_view field,
                                                 std::vector<std::filesystem::path> fallback) const;
    /// A nested object (absent → nullopt).
    std::optional<boost::json::object> optional_object(std::string_view field) const;

private:
    const boost::json::value* find(std::string_view field) const noexcept;
    boost::json::object obj_;
};

/// Serializes a JSON value to text (the form a result is returned in).
inline std::string to_json(const boost::json::value& v) { return toolhost::json_text(v); }

}  // namespace toolhost::plugins

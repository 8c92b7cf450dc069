#include "toolhost_plugins/args.hpp"

#include <cmath>
#include <limits>

namespace toolhost::plugins {

namespace json = boost::json;

void invalid_argument(std::string_view field, std::string_view message) {
    std::string msg(field);
    msg += ": ";
    msg += message;
    throw sdk::error(sdk::status::invalid_argument, msg);
}

args::args(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) invalid_argument(what, "not valid JSON: " + ec.message());
    if (!v.is_object()) invalid_argument(what, "must be a JSON object");
    obj_ = std::move(v.as_object());
}

const json::value* args::find(std::string_view field) const noexcept {
    const auto* v = obj_.if_contains(field);
    if (!v || v->is_null()) return nullptr;
    return v;
}

bool args::has(std::string_view field) const noexcept { return find(field) != nullptr; }

std::optional<std::string> args::optional_string(std::string_view field) const {
    const auto* v = find(field);
    if (!v) return std::nullopt;
    if (!v->is_string()) invalid_argument(field, "must be a string");
    return std::string(v->as_string());
}

std::string args::required_string(std::string_view field) const {
    auto s = optional_string(field);
    if (!s) invalid_argument(field, "is required");
    return *s;
}

std::string args::string_or(std::string_view field, std::string_view fallback) const {
    auto s = optional_string(field);
    return s ? *s : std::string(fallback);
}

std::optional<int64_t> args::optional_int(std::string_view field) const {
    const auto* v = find(field);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) {
        if (v->as_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            invalid_argument(field, "is too large");
        return static_cast<int64_t>(v->as_uint64());
    }
    if (v->is_double()) {
        const double d = v->as_double();
        if (std::trunc(d) == d && std::abs(d) < 9.2e18) return static_cast<int64_t>(d);
    }
    invalid_argument(field, "must be an integer");
}

int64_t args::required_int(std::string_view field) const {
    auto i = optional_int(field);
    if (!i) invalid_argument(field, "is required");
    return *i;
}

int64_t args::int_or(std::string_view field, int64_t fallback, int64_t min, int64_t max) const {
    const int64_t v = optional_int(field).value_or(fallback);
    if (v < min || v > max)
        invalid_argument(field, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                                    std::to_string(v));
    return v;
}

std::optional<double> args::optional_number(std::string_view field) const {
    const auto* v = find(field);
    if (!v) return std::nullopt;
    if (v->is_double()) return v->as_double();
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    invalid_argument(field, "must be a number");
}

double args::number_or(std::string_view field, double fallback) const {
    return optional_number(field).value_or(fallback);
}

std::optional<bool> args::optional_bool(std::string_view field) const {
    const auto* v = find(field);
    if (!v) return std::nullopt;
    if (!v->is_bool()) invalid_argument(field, "must be true or false");
    return v->as_bool();
}

bool args::bool_or(std::string_view field, bool fallback) const { return optional_bool(field).value_or(fallback); }

std::vector<std::string> args::string_list(std::string_view field) const {
    std::vector<std::string> out;
    const auto* v = find(field);
    if (!v) return out;
    if (!v->is_array()) invalid_argument(field, "must be an array of strings");
    const auto& arr = v->as_array();
    out.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_string()) invalid_argument(std::string(field) + "/" + std::to_string(i), "must be a string");
        out.emplace_back(arr[i].as_string());
    }
    return out;
}

std::vector<std::filesystem::path> args::path_list(std::string_view field,
                                                   std::vector<std::filesystem::path> fallback) const {
    if (!has(field)) return fallback;
    std::vector<std::filesystem::path> out;
    for (auto& s : string_list(field)) out.emplace_back(std::move(s));
    return out;
}

std::optional<json::object> args::optional_object(std::string_view field) const {
    const auto* v = find(field);
    if (!v) return std::nullopt;
    if (!v->is_object()) invalid_argument(field, "must be an object");
    return v->as_object();
}

}  // namespace toolhost::plugins

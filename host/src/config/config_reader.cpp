#include <toolhost/config_reader.hpp>
#include <toolhost/json_text.hpp>

#include <algorithm>
#include <tuple>

namespace toolhost {
std::string config_reader::join(words words) {
    std::string s;
    for (auto w : words) {
        if (!s.empty()) s += ", ";
        s += w;
    }
    return s;
}

bool config_reader::one_of(std::string_view word, words words) {
    return std::find(words.begin(), words.end(), word) != words.end();
}

std::string describe_json(const boost::json::value& v) {
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    return toolhost::json_text(v);
}

void config_reader::error(std::string_view pointer, std::string message) {
    if (doc_)
        errors_.push_back(doc_->error_at(pointer, std::move(message)));
    else
        errors_.push_back(json_diagnostic{"<defaults>", 1, 1, std::string(pointer), std::move(message)});
}

void config_reader::key_error(std::string_view pointer, std::string message) {
    if (doc_)
        errors_.push_back(doc_->error_at_key(pointer, std::move(message)));
    else
        error(pointer, std::move(message));
}

void config_reader::check_keys(const std::string& pointer, const boost::json::object& obj,
                               std::initializer_list<std::string_view> allowed_list) {
    words allowed(allowed_list.begin(), allowed_list.size());
    for (const auto& member : obj) {
        if (!one_of(member.key(), allowed)) {
            key_error(pointer + "/" + json_pointer_escape(member.key()),
                      "unknown key '" + std::string(member.key()) + "' (expected one of: " + join(allowed) + ")");
        }
    }
}

const boost::json::object* config_reader::object(const std::string& pointer, const boost::json::value& v) {
    if (v.is_object()) return &v.get_object();
    error(pointer, "expected an object, got " + describe_json(v));
    return nullptr;
}

void config_reader::read_bool(const std::string& pointer, const boost::json::value& v, bool& out) {
    if (v.is_bool()) {
        out = v.get_bool();
    } else {
        error(pointer, "expected true or false, got " + describe_json(v));
    }
}

void config_reader::read_word(const std::string& pointer, const boost::json::value& v, words allowed_words,
                              std::string& out) {
    if (v.is_string() && one_of(v.get_string(), allowed_words)) {
        out = v.get_string();
    } else {
        error(pointer, "expected one of " + join(allowed_words) + ", got " + describe_json(v));
    }
}

std::optional<std::filesystem::path> config_reader::read_path(const std::string& pointer, const boost::json::value& v) {
    if (v.is_string() && !v.get_string().empty()) return std::filesystem::path(std::string(v.get_string()));
    error(pointer, "expected a non-empty path string, got " + describe_json(v));
    return std::nullopt;
}

std::optional<std::uint64_t> config_reader::read_integer(const std::string& pointer, const boost::json::value& v,
                                                         std::uint64_t min, std::uint64_t max) {
    std::optional<std::uint64_t> n;
    if (v.is_int64() && v.get_int64() >= 0) n = static_cast<std::uint64_t>(v.get_int64());
    if (v.is_uint64()) n = v.get_uint64();
    if (n && *n >= min && *n <= max) return n;
    error(pointer, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                       describe_json(v));
    return std::nullopt;
}

void config_reader::read_string(const std::string& pointer, const boost::json::value& v, std::string& out,
                                bool allow_empty) {
    if (v.is_string() && (allow_empty || !v.get_string().empty())) {
        out = v.get_string();
    } else {
        error(pointer, std::string(allow_empty ? "expected a string" : "expected a non-empty string") + ", got " +
                           describe_json(v));
    }
}

void config_reader::read_strings(const std::string& pointer, const boost::json::value& v,
                                 std::vector<std::string>& out) {
    if (!v.is_array()) {
        error(pointer, "expected an array of strings, got " + describe_json(v));
        return;
    }
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::string item;
        read_string(pointer + "/" + std::to_string(i), a[i], item, false);
        if (!item.empty()) out.push_back(std::move(item));
    }
}

void config_reader::sort(std::vector<json_diagnostic>& errors) {
    std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
}

}  // namespace toolhost

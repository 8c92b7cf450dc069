#pragma once
/// Checking one section of a config file: what the host's own sections use, and what a component
/// that keeps its settings in the file (serving: "serve") uses to parse its raw section with the
/// same messages. Every problem is recorded at its place in the file and checking goes on, so
/// one run shows everything to fix.

#include <toolhost/export.hpp>
#include <toolhost/json_source.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

/// What a person wrote, for "got ..." in messages; containers are named, not dumped.
TOOLHOST_API std::string describe_json(const boost::json::value& v);

class TOOLHOST_API config_reader {
public:
    using words = std::span<const std::string_view>;

    /// Problems found in `doc` are appended to `errors`; `doc` null: "<defaults>" positions.
    config_reader(const json_document* doc, std::vector<json_diagnostic>& errors) : doc_(doc), errors_(errors) {}

    /// A problem with the value at `pointer`, or with the key that names it.
    void error(std::string_view pointer, std::string message);
    void key_error(std::string_view pointer, std::string message);

    /// Each key of `obj` (at `pointer`) that is not in `allowed` is an error at the key.
    void check_keys(const std::string& pointer, const boost::json::object& obj,
                    std::initializer_list<std::string_view> allowed);
    /// An object, else an error; null then.
    const boost::json::object* object(const std::string& pointer, const boost::json::value& v);

    void read_bool(const std::string& pointer, const boost::json::value& v, bool& out);
    void read_word(const std::string& pointer, const boost::json::value& v, words allowed, std::string& out);
    std::optional<std::filesystem::path> read_path(const std::string& pointer, const boost::json::value& v);
    /// An integer from `min` to `max` (JSON numbers with a fraction are not integers here).
    std::optional<std::uint64_t> read_integer(const std::string& pointer, const boost::json::value& v,
                                              std::uint64_t min, std::uint64_t max);
    void read_string(const std::string& pointer, const boost::json::value& v, std::string& out, bool allow_empty);
    /// An array of non-empty strings.
    void read_strings(const std::string& pointer, const boost::json::value& v, std::vector<std::string>& out);

    static bool one_of(std::string_view word, words words);
    static std::string join(words words);  ///< "a, b, c"

    /// Sorts problems by their place in the file: people fix files top to bottom.
    static void sort(std::vector<json_diagnostic>& errors);

private:
    const json_document* doc_;
    std::vector<json_diagnostic>& errors_;
};

}  // namespace toolhost
